//! Replay: historical logs, start to end, through the same ingest and engine
//! as the live agent, merged across files by record time.
//!
//! Records without a timestamp of their own take the time of the previous
//! record of their file (or the file's modification time), never the wall
//! clock, so two replays of the same files give the same documents apart
//! from `event.created`. A file's identity (for `event.id`) is a hash of its
//! path as given.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, bounded};
use globset::GlobBuilder;

use super::{BATCH, Batch, CHANNEL_DEPTH, PipelineError};
use crate::alert::Context;
use crate::correlate::Options;
use crate::engine::{Engine, NoteObserver};
use crate::event::{FileKey, Input, RecordBatch, RuleId, SourceId};
use crate::ingest::{Ingest, IngestStats};
use crate::matcher::Matcher;
use crate::output::Output;
use crate::parse::RecordParser;
use crate::parse::encoding::{Decoder, Encoding};
use crate::parse::lines::LineBuffer;
use crate::rule::{Format, RuleSet};
use crate::source::identity;
use crate::source::path::{Listing, PathPattern, Want};
use crate::time::{Clock, Timestamp};

/// Bytes read per `read`. Reads that fit the L2 cache with room to spare
/// are the fastest: measured on the bench machine (512 KiB L2), a 256 KiB
/// read made the line-split floor 3× slower than 128 KiB.
const CHUNK: usize = 64 * 1024;

/// Reads per batch of raw lines handed to the match pool. Each batch costs
/// a few channel hand-offs and thread wake-ups: four reads per batch took a
/// fifth less CPU than one (measured with `benches/e2e/ab.sh 9`, 10 rules:
/// least CPU 0.26 s at 1 read, 0.21 s at 4, 0.22 s at 8, 0.24 s at 16; 100
/// rules 0.74 → 0.72 s at 4).
const READS_PER_BATCH: usize = 4;

/// The most bytes read into one batch of raw lines.
const BATCH_BYTES: usize = READS_PER_BATCH * CHUNK;

/// One file to replay and the source it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayFile {
    /// The file.
    pub path: PathBuf,
    /// Its source.
    pub source: SourceId,
}

/// What a replay did.
#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    /// Ingest counters.
    pub ingest: IngestStats,
    /// Documents sent.
    pub sent: u64,
    /// Late inputs.
    pub late: u64,
}

/// Assigns each of `files` to the source whose path's file-name part
/// matches its name (case-insensitive; a rotated `X.lo_` counts as `X.log`);
/// a rule set with a single source takes every file.
///
/// # Errors
/// [`PipelineError::NoSource`] for a file no source claims.
pub fn assign_sources(
    rules: &RuleSet,
    files: &[PathBuf],
) -> Result<Vec<ReplayFile>, PipelineError> {
    let matchers: Vec<Option<globset::GlobMatcher>> = rules
        .sources
        .iter()
        .map(|s| {
            let name = s.path.rsplit(['/', '\\']).next().unwrap_or(&s.path);
            GlobBuilder::new(name)
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .ok()
                .map(|g| g.compile_matcher())
        })
        .collect();
    let mut out = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let unrotated = match name.len().checked_sub(4) {
            Some(i) if name.is_char_boundary(i) && name[i..].eq_ignore_ascii_case(".lo_") => {
                format!("{}.log", &name[..i])
            }
            _ => name.clone(),
        };
        let found = matchers.iter().position(|m| {
            m.as_ref()
                .is_some_and(|m| m.is_match(&name) || m.is_match(&unrotated))
        });
        let source = match (found, rules.sources.len()) {
            (Some(i), _) => SourceId(i as u32),
            (None, 1) => SourceId(0),
            (None, _) => {
                return Err(PipelineError::NoSource {
                    path: f.display().to_string(),
                });
            }
        };
        out.push(ReplayFile {
            path: f.clone(),
            source,
        });
    }
    Ok(out)
}

/// The line cap of replayed files: a longer line is cut (and flagged).
const MAX_LINE: usize = 1 << 20;

/// Batches parsed ahead per file (the parse thread's lead over the merge).
const PARSED_AHEAD: usize = 4;
/// Most match workers, whatever the machine.
const MAX_WORKERS: usize = 8;

/// A batch of records of one file and, once matched, the rules each record
/// matched. The records are parsed by the parse stage, or, for a file whose
/// records are single lines of UTF-8 (`sms`, `plain`, `auto` once it has
/// decided one of those), only framed there and parsed by the match worker:
/// parsing is half the work at few rules, and a file's lines then parse on
/// every core.
#[derive(Debug, Default)]
struct Parsed {
    records: RecordBatch,
    /// Lines framed for the worker to parse, when `records` is empty.
    lines: LineBlock,
    /// Runs of lines that no rule can match, counted but not parsed
    /// ([`Matcher::candidate_lines`]), in order among the records.
    gaps: Vec<Gap>,
    /// The matching rules of every record, record after record.
    found: Vec<RuleId>,
    /// Per record: where its rules end in `found`.
    ends: Vec<u32>,
}

impl Parsed {
    /// The records with the rules each matched.
    fn iter(&self) -> impl Iterator<Item = (crate::event::Record<'_>, &[RuleId])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        self.records
            .iter()
            .zip(starts.zip(self.ends.iter().copied()))
            .map(|(r, (a, b))| (r, self.found.get(a as usize..b as usize).unwrap_or(&[])))
    }
}

/// A run of lines that match no rule, left unparsed.
#[derive(Clone, Copy, Debug)]
struct Gap {
    /// The index of the record the run comes before (the batch's record
    /// count for a run at its end).
    before: usize,
    /// Lines in the run.
    lines: u64,
    /// Of them, lines cut at the line cap.
    cut: u64,
    /// The timestamp of the run's last line that has one: what a later
    /// record without its own takes.
    time: Option<Timestamp>,
}

/// Physical lines of UTF-8 waiting to be parsed.
#[derive(Debug, Default)]
struct LineBlock {
    bytes: Vec<u8>,
    /// Per line: its start and end in `bytes` (line end removed), its file
    /// offset, whether it was cut at the line cap.
    lines: Vec<(usize, usize, u64, bool)>,
    /// Set when `bytes` are whole lines as read from the file, line ends
    /// and all, starting at this offset (the last line may lack its end at
    /// the end of the file): the worker frames them ([`LineBlock::frame`]).
    raw_at: Option<u64>,
}

impl LineBlock {
    fn clear(&mut self) {
        self.bytes.clear();
        self.lines.clear();
        self.raw_at = None;
    }

    /// Adds a framed line, ended by `\n` in `bytes` (outside its span) so
    /// that the block reads as lines to [`Matcher::candidate_lines`].
    fn push(&mut self, line: &crate::parse::lines::RawLine<'_>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(line.bytes);
        self.lines
            .push((start, self.bytes.len(), line.offset, line.cut));
        self.bytes.push(b'\n');
    }

    /// Sets `marks[k]` for each framed line `k` that starts at one of
    /// `starts` (increasing: [`Matcher::candidate_lines`]).
    fn marks(&self, starts: &[usize], marks: &mut Vec<bool>) {
        marks.clear();
        let mut starts = starts.iter().copied().peekable();
        marks.extend(self.lines.iter().map(|&(start, ..)| {
            while starts.next_if(|&s| s < start).is_some() {}
            starts.next_if_eq(&start).is_some()
        }));
    }

    /// Splits raw bytes into lines as [`LineBuffer`] does: a line ends at
    /// `\n` or `\r\n`; a last line without its end loses a trailing `\r`.
    /// No line is cut: the parse stage sends none longer than the cap.
    fn frame(&mut self) {
        let Some(base) = self.raw_at else { return };
        let bytes = &self.bytes;
        let line = |start: usize, end: usize| {
            let end = if end > start && bytes[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            (start, end, base + start as u64, false)
        };
        self.lines.clear();
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', bytes) {
            self.lines.push(line(start, nl));
            start = nl + 1;
        }
        if start < bytes.len() {
            self.lines.push(line(start, bytes.len()));
        }
    }
}

/// Work for the match pool: a batch of `source`, matched and sent back on
/// `reply` (a channel of its own, so each file gets its batches in order).
/// `format` is set when the batch holds [`LineBlock`] lines to parse first.
struct Job {
    parsed: Parsed,
    source: SourceId,
    format: Option<Format>,
    /// Lines that no rule can match may be left unparsed (see [`Gap`]).
    sparse: bool,
    reply: Sender<Parsed>,
}

/// A match worker's parsers, one per source and format (a parser keeps the
/// last timestamp's minute, which consecutive lines of a file share).
struct Parsers {
    rules: Arc<RuleSet>,
    parsers: Vec<(SourceId, Format, RecordParser)>,
    decoder: Decoder,
}

impl Parsers {
    /// The parser of `source`'s `format` lines, made on first use, and the
    /// decoder of lines that are not UTF-8.
    fn parser(&mut self, source: SourceId, format: Format) -> (&mut RecordParser, &mut Decoder) {
        let at = match self
            .parsers
            .iter()
            .position(|(s, f, _)| *s == source && *f == format)
        {
            Some(at) => at,
            None => {
                let timezone = self.rules.sources[source.index()].timezone.clone();
                self.parsers
                    .push((source, format, RecordParser::new(format, timezone)));
                self.parsers.len() - 1
            }
        };
        (&mut self.parsers[at].2, &mut self.decoder)
    }

    /// Parses the lines of a raw `block` (bytes as read from `base` on, see
    /// [`LineBlock::raw_at`]) that start at `starts` (increasing) into
    /// `records`; the runs of other lines become `gaps`, counted by their
    /// line ends without being split. Lines end as [`LineBlock::frame`]
    /// ends them.
    fn parse_raw(
        &mut self,
        source: SourceId,
        format: Format,
        (bytes, base): (&[u8], u64),
        starts: &[usize],
        records: &mut RecordBatch,
        gaps: &mut Vec<Gap>,
    ) {
        let (parser, decoder) = self.parser(source, format);
        // Parses the line from `start` to its end `nl` (a line end or the
        // end of the block), a `\r` before it removed.
        let mut parse =
            |start: usize, nl: usize, sink: &mut dyn FnMut(&crate::event::Record<'_>)| {
                let end = if nl > start && bytes[nl - 1] == b'\r' {
                    nl - 1
                } else {
                    nl
                };
                let line = decoder.decode(&bytes[start..end]);
                parser.push_line(line, base + start as u64, false, &mut |r| sink(r));
            };
        let mut at = 0;
        for &next in starts.iter().chain(std::iter::once(&bytes.len())) {
            if next > at {
                let run = &bytes[at..next];
                let ended = run.last() == Some(&b'\n');
                let lines = memchr::memchr_iter(b'\n', run).count() + usize::from(!ended);
                // The run's time: its last line that has a timestamp, found
                // from its end (in SMS logs, its last line).
                let mut time = None;
                if format != Format::Plain {
                    let mut nl = if ended { next - 1 } else { next };
                    loop {
                        let start =
                            memchr::memrchr(b'\n', &bytes[at..nl]).map_or(at, |i| at + i + 1);
                        parse(start, nl, &mut |r| time = time.or(r.time));
                        if time.is_some() || start == at {
                            break;
                        }
                        nl = start - 1;
                    }
                }
                gaps.push(Gap {
                    before: records.len(),
                    lines: lines as u64,
                    cut: 0,
                    time,
                });
            }
            if next < bytes.len() {
                let nl = memchr::memchr(b'\n', &bytes[next..]).map_or(bytes.len(), |i| next + i);
                parse(next, nl, &mut |r| records.push(r));
                at = (nl + 1).min(bytes.len());
            }
        }
    }

    /// Parses `block`'s lines of `source` into `records`: every line, or
    /// with `marks` only the marked ones, the runs of others becoming
    /// `gaps`.
    fn parse(
        &mut self,
        source: SourceId,
        format: Format,
        block: &LineBlock,
        marks: Option<&[bool]>,
        records: &mut RecordBatch,
        gaps: &mut Vec<Gap>,
    ) {
        let (parser, decoder) = self.parser(source, format);
        // One UTF-8 check for the block instead of one per line; a line
        // whose ends are not character boundaries of the block's text (or
        // a block that is not UTF-8) is decoded on its own.
        let text = simdutf8::basic::from_utf8(&block.bytes).ok();
        let mut parse = |k: usize, sink: &mut dyn FnMut(&crate::event::Record<'_>)| {
            let (start, end, offset, cut) = block.lines[k];
            let line = match text.and_then(|t| t.get(start..end)) {
                Some(line) => line,
                None => decoder.decode(block.bytes.get(start..end).unwrap_or_default()),
            };
            parser.push_line(line, offset, cut, &mut |r| sink(r));
        };
        let Some(marks) = marks else {
            for k in 0..block.lines.len() {
                parse(k, &mut |r| records.push(r));
            }
            return;
        };
        let mut run = 0..0;
        for k in 0..=block.lines.len() {
            if !marks.get(k).copied().unwrap_or(true) {
                if run.is_empty() {
                    run = k..k;
                }
                run.end = k + 1;
                continue;
            }
            if !run.is_empty() {
                // The run's time: its last line that has a timestamp, found
                // from its end (in SMS logs, its last line).
                let mut time = None;
                if format != Format::Plain {
                    for j in run.clone().rev() {
                        parse(j, &mut |r| time = time.or(r.time));
                        if time.is_some() {
                            break;
                        }
                    }
                }
                let lines = &block.lines[run.clone()];
                gaps.push(Gap {
                    before: records.len(),
                    lines: lines.len() as u64,
                    cut: lines.iter().filter(|l| l.3).count() as u64,
                    time,
                });
                run = 0..0;
            }
            if k < block.lines.len() {
                parse(k, &mut |r| records.push(r));
            }
        }
    }
}

/// The match stage: worker threads, one per core, each with its own clone of
/// the matcher, match batches from every file's parse thread. Parsing and
/// the merge take a core's share too, but matching is what grows with the
/// rules, so it gets every core (measured on 2 cores: one worker was slower
/// at 10 and 1,000 rules, as fast at 100).
struct MatchPool {
    jobs: Sender<Job>,
}

impl MatchPool {
    fn start(rules: &Arc<RuleSet>, matcher: &Matcher) -> Result<MatchPool, PipelineError> {
        let workers = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_WORKERS);
        let (jobs, queue) = bounded::<Job>(2 * workers);
        for _ in 0..workers {
            let matcher = matcher.clone();
            let queue = queue.clone();
            let mut parsers = Parsers {
                rules: Arc::clone(rules),
                parsers: Vec::new(),
                decoder: Decoder::new(Encoding::Utf8),
            };
            let mut starts: Vec<usize> = Vec::new();
            let mut marks: Vec<bool> = Vec::new();
            std::thread::Builder::new()
                .name("match".into())
                .spawn(move || {
                    for mut job in queue {
                        let Parsed {
                            records,
                            lines,
                            gaps,
                            found,
                            ends,
                        } = &mut job.parsed;
                        if let Some(format) = job.format {
                            records.clear();
                            gaps.clear();
                            let source = job.source;
                            let sparse = job.sparse
                                && matcher.candidate_lines(source, &lines.bytes, &mut starts);
                            match (sparse, lines.raw_at) {
                                (true, Some(base)) => parsers.parse_raw(
                                    source,
                                    format,
                                    (&lines.bytes, base),
                                    &starts,
                                    records,
                                    gaps,
                                ),
                                (true, None) => {
                                    lines.marks(&starts, &mut marks);
                                    let marks = Some(&marks[..]);
                                    parsers.parse(source, format, lines, marks, records, gaps);
                                }
                                (false, _) => {
                                    lines.frame();
                                    parsers.parse(source, format, lines, None, records, gaps);
                                }
                            }
                        }
                        found.clear();
                        ends.clear();
                        for record in records.iter() {
                            matcher.find(job.source, &record, found);
                            ends.push(u32::try_from(found.len()).unwrap_or(u32::MAX));
                        }
                        let _ = job.reply.send(job.parsed);
                    }
                })
                .map_err(|_| PipelineError::Thread("match"))?;
        }
        Ok(MatchPool { jobs })
    }
}

/// One file being replayed. Its bytes are read, decoded and parsed on a
/// thread of its own (the parse stage), which hands batches of records to
/// the [`MatchPool`]; the merging thread takes them back matched, in file
/// order, and turns them into inputs (ingest).
struct Cursor {
    source: SourceId,
    key: FileKey,
    path: Arc<str>,
    /// Per parsed batch, in file order: where it comes back matched.
    batches: Receiver<Result<Receiver<Parsed>, PipelineError>>,
    /// Spent batches go back to the parse thread (their buffers are reused).
    spent: Sender<Parsed>,
    queue: VecDeque<Input>,
    eof: bool,
    /// Time of the previous record (for records without one).
    last_time: Timestamp,
    /// Whether the file had any record (an empty file says nothing of time).
    any_record: bool,
}

impl Cursor {
    /// `sparse`: the file's lines that match no rule may be counted
    /// without being parsed ([`Ingest::needs_every_record`]).
    fn open(
        rules: &RuleSet,
        f: &ReplayFile,
        pool: &MatchPool,
        sparse: bool,
    ) -> Result<Cursor, PipelineError> {
        let err = |source| PipelineError::Read {
            path: f.path.display().to_string(),
            source,
        };
        let file = File::open(&f.path).map_err(err)?;
        let meta = file.metadata().map_err(err)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(Timestamp::EPOCH, |d| {
                Timestamp::from_unix_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            });
        let def = &rules.sources[f.source.index()];
        let path_text = f.path.display().to_string();
        let path: Arc<str> = Arc::from(path_text.as_str());
        let parser = RecordParser::new(def.format, def.timezone.clone());
        let (tx, batches) = bounded(PARSED_AHEAD);
        let (spent, returned) = bounded(PARSED_AHEAD + 2);
        let thread_path = Arc::clone(&path);
        let (jobs, source) = (pool.jobs.clone(), f.source);
        std::thread::Builder::new()
            .name("parse".into())
            .spawn(move || {
                let stage = ParseStage {
                    source,
                    sparse,
                    batches: tx,
                    spent: returned,
                    jobs,
                };
                stage.run(file, &thread_path, parser);
            })
            .map_err(|_| PipelineError::Thread("parse"))?;
        Ok(Cursor {
            source: f.source,
            key: FileKey(xxhash_rust::xxh3::xxh3_64(path_text.as_bytes())),
            path,
            batches,
            spent,
            queue: VecDeque::new(),
            eof: false,
            last_time: mtime,
            any_record: false,
        })
    }

    /// Matches parsed records until an input is queued or the file ends.
    fn fill(&mut self, ingest: &mut Ingest) -> Result<(), PipelineError> {
        let mut inputs = Vec::new();
        while self.queue.is_empty() && !self.eof {
            let matched = match self.batches.recv() {
                Ok(matched) => matched?,
                Err(_) => {
                    self.eof = true;
                    break;
                }
            };
            // The pool drops a job only when its workers are gone.
            let batch = matched.recv().map_err(|_| PipelineError::Thread("match"))?;
            let mut gaps = batch.gaps.iter().peekable();
            for (i, (record, found)) in batch.iter().enumerate() {
                while let Some(gap) = gaps.next_if(|g| g.before <= i) {
                    self.skip(ingest, gap);
                }
                self.last_time = ingest.record_matched(
                    self.source,
                    self.key,
                    &self.path,
                    &record,
                    found,
                    self.last_time,
                    None,
                    &mut inputs,
                );
                self.any_record = true;
            }
            for gap in gaps {
                self.skip(ingest, gap);
            }
            self.queue.extend(inputs.drain(..));
            let _ = self.spent.try_send(batch);
        }
        Ok(())
    }

    /// Counts a run of lines that match no rule.
    fn skip(&mut self, ingest: &mut Ingest, gap: &Gap) {
        ingest.skipped(gap.lines, gap.cut);
        if let Some(time) = gap.time {
            self.last_time = time;
        }
        self.any_record |= gap.lines > 0;
    }
}

/// The parse stage of one file: reads it start to end and hands its records
/// to the match pool in batches (one read each while it frames lines,
/// [`READS_PER_BATCH`] once the workers do), sending the merge
/// where each batch will come back, in order. Ends when the file does, on a
/// read error (sent), or when the merge stops listening.
struct ParseStage {
    source: SourceId,
    /// Lines that match no rule may be left unparsed.
    sparse: bool,
    batches: Sender<Result<Receiver<Parsed>, PipelineError>>,
    spent: Receiver<Parsed>,
    jobs: Sender<Job>,
}

impl ParseStage {
    fn run(&self, mut file: File, path: &str, mut parser: RecordParser) {
        let mut buf = vec![0u8; CHUNK];
        let mut lines: Option<LineBuffer> = None;
        let mut decoder = Decoder::new(Encoding::Utf8);
        // Once the workers parse the lines (see `Parsed`), the reads are
        // handed to them as they are, cut after their last line end: the
        // unfinished line and its file offset.
        let mut raw: Option<(Vec<u8>, u64)> = None;
        let mut eof = false;
        while !eof {
            if let Some((carry, at)) = &mut raw {
                let mut parsed = self.spent.try_recv().unwrap_or_default();
                parsed.records.clear();
                parsed.lines.lines.clear();
                // The spent buffer's bytes are overwritten, not cleared: it
                // is zeroed only where it grows (zeroing a whole read each
                // time was 5% of a 1-rule replay's CPU).
                let data = &mut parsed.lines.bytes;
                let mut have = carry.len();
                if data.len() < have + BATCH_BYTES {
                    data.resize(have + BATCH_BYTES, 0);
                }
                data[..have].copy_from_slice(carry);
                for _ in 0..READS_PER_BATCH {
                    let Some(n) = self.read(&mut file, &mut data[have..have + CHUNK], path) else {
                        return;
                    };
                    have += n;
                    eof = n == 0;
                    if eof {
                        break;
                    }
                }
                data.truncate(have);
                let whole = match eof {
                    true => data.len(),
                    false => memchr::memrchr(b'\n', data).map_or(0, |nl| nl + 1),
                };
                carry.clear();
                carry.extend_from_slice(&data[whole..]);
                data.truncate(whole);
                parsed.lines.raw_at = Some(*at);
                *at += whole as u64;
                if carry.len() + BATCH_BYTES > MAX_LINE {
                    // A line near the cap: the line buffer cuts it.
                    let mut buffer = LineBuffer::new(Encoding::Utf8, *at, MAX_LINE);
                    buffer.extend(carry);
                    lines = Some(buffer);
                    raw = None;
                }
                if parsed.lines.bytes.is_empty() {
                    continue;
                }
                if !self.send(parsed, Some(parser.format())) {
                    return;
                }
                continue;
            }
            let Some(n) = self.read(&mut file, &mut buf, path) else {
                return;
            };
            eof = n == 0;
            let lines = match &mut lines {
                Some(lines) => {
                    lines.extend(&buf[..n]);
                    lines
                }
                None => {
                    // The encoding is sniffed from the first read (a BOM is at
                    // most 3 bytes; a shorter first read is the whole file).
                    let (encoding, bom) = Encoding::sniff(&buf[..n]);
                    decoder = Decoder::new(encoding);
                    let mut first = LineBuffer::new(encoding, bom as u64, MAX_LINE);
                    first.extend(&buf[bom..n]);
                    lines.insert(first)
                }
            };
            let mut parsed = self.spent.try_recv().unwrap_or_default();
            parsed.records.clear();
            parsed.lines.clear();
            // Lines whose records are the lines themselves, in UTF-8, are
            // parsed by the match worker (see `Parsed`).
            let format = match parser.format() {
                f @ (Format::Sms | Format::Plain) if decoder.encoding() == Encoding::Utf8 => {
                    Some(f)
                }
                _ => None,
            };
            let Parsed {
                records,
                lines: block,
                ..
            } = &mut parsed;
            let mut sink = |record: &crate::event::Record<'_>| records.push(record);
            let mut on_line = |raw: crate::parse::lines::RawLine<'_>| match format {
                Some(_) => block.push(&raw),
                None => {
                    let text = decoder.decode(raw.bytes);
                    parser.push_line(text, raw.offset, raw.cut, &mut sink);
                }
            };
            lines.drain_lines(&mut on_line);
            if eof {
                lines.flush_partial(&mut on_line);
                parser.flush(&mut sink);
            } else if format.is_some() && lines.pending() + BATCH_BYTES <= MAX_LINE {
                // (A line nearer the cap than one batch stays with the line
                // buffer, which may have to cut it.)
                raw = lines.take_partial();
            }
            if parsed.records.is_empty() && parsed.lines.lines.is_empty() {
                continue;
            }
            if !self.send(parsed, format) {
                return;
            }
        }
    }

    /// One read of `file` (`path`), retried when interrupted; `None` after
    /// sending the merge a read error.
    fn read(&self, file: &mut File, buf: &mut [u8], path: &str) -> Option<usize> {
        loop {
            match file.read(buf) {
                Ok(n) => return Some(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    let _ = self.batches.send(Err(PipelineError::Read {
                        path: path.to_owned(),
                        source,
                    }));
                    return None;
                }
            }
        }
    }

    /// Hands a batch to the match pool (`format`: its lines are to be
    /// parsed there); false when the merge or the pool is gone.
    fn send(&self, parsed: Parsed, format: Option<Format>) -> bool {
        let (reply, matched) = bounded(1);
        let job = Job {
            parsed,
            source: self.source,
            format,
            sparse: self.sparse,
            reply,
        };
        self.batches.send(Ok(matched)).is_ok() && self.jobs.send(job).is_ok()
    }
}

/// Replays `files` through the rules, sending documents to `outputs`.
///
/// # Errors
/// When a file cannot be read or the matcher cannot be built.
pub fn run(
    rules: Arc<RuleSet>,
    ctx: Context,
    files: &[ReplayFile],
    outputs: Vec<Box<dyn Output>>,
    clock: Arc<dyn Clock>,
    explain: Option<(RuleId, NoteObserver)>,
) -> Result<ReplayReport, PipelineError> {
    let mut matcher = Matcher::new(&rules)?;
    tune(&mut matcher, files);
    let pool = MatchPool::start(&rules, &matcher)?;
    let mut ingest = Ingest::new(Arc::clone(&rules), matcher, ctx.host.clone());
    if let Some((rule, _)) = &explain {
        ingest.set_explain(Some(*rule));
    }
    let mut cursors = files
        .iter()
        .map(|f| Cursor::open(&rules, f, &pool, !ingest.needs_every_record(f.source)))
        .collect::<Result<Vec<_>, _>>()?;
    // The workers stop once every parse thread (holding the other senders)
    // has finished.
    drop(pool);
    let (tx, rx) = bounded::<Batch>(CHANNEL_DEPTH);
    let mut engine = Engine::new(Arc::clone(&rules), ctx, Options::default(), outputs, clock);
    if let Some((rule, observer)) = explain {
        engine.explain(rule, observer);
    }
    let engine_thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            for batch in rx {
                for input in batch.inputs {
                    engine.apply(input);
                }
                if let Some(w) = batch.watermark {
                    engine.advance_to(w);
                }
            }
            engine
        })
        .map_err(|_| PipelineError::Thread("engine"))?;

    // k-way merge on each file's next input time; ties by file order.
    let mut heap = BinaryHeap::new();
    for (i, c) in cursors.iter_mut().enumerate() {
        c.fill(&mut ingest)?;
        if let Some(t) = c.queue.front().map(Input::time) {
            heap.push(Reverse((t, i)));
        }
    }
    let mut batch = Vec::with_capacity(BATCH);
    let mut result = Ok(());
    while let Some(Reverse((_, i))) = heap.pop() {
        let c = &mut cursors[i];
        if let Some(input) = c.queue.pop_front() {
            batch.push(input);
        }
        if let Err(e) = c.fill(&mut ingest) {
            result = Err(e);
            break;
        }
        if let Some(t) = c.queue.front().map(Input::time) {
            heap.push(Reverse((t, i)));
        }
        if batch.len() >= BATCH
            && tx
                .send(Batch {
                    inputs: std::mem::take(&mut batch),
                    ..Batch::default()
                })
                .is_err()
        {
            break;
        }
    }
    // Time ends where the logs end: what is due by the last record's time
    // (a resolution, a lapse) happens; nothing later is extrapolated.
    let end = cursors
        .iter()
        .filter(|c| c.any_record)
        .map(|c| c.last_time)
        .max();
    let _ = tx.send(Batch {
        inputs: batch,
        watermark: end,
        ..Batch::default()
    });
    drop(tx);
    let engine = engine_thread
        .join()
        .map_err(|_| PipelineError::Thread("engine"))?;
    result?;
    Ok(ReplayReport {
        ingest: ingest.stats().clone(),
        sent: engine.stats().sent,
        late: engine.correlator().stats().late,
    })
}

/// Tunes the matcher's search for candidate lines of each source to the
/// start of the source's first file (see [`Matcher::tune_candidate_lines`]).
/// A file that cannot be read is left to the parse stage to report.
fn tune(matcher: &mut Matcher, files: &[ReplayFile]) {
    let mut sample = vec![0u8; CHUNK];
    let mut tuned = Vec::new();
    for f in files {
        if tuned.contains(&f.source) {
            continue;
        }
        tuned.push(f.source);
        let Ok(file) = File::open(&f.path) else {
            continue;
        };
        if let Ok(n) = identity::read_at(&file, &mut sample, 0) {
            matcher.tune_candidate_lines(f.source, &sample[..n]);
        }
    }
}

/// The files a site holds for the rules' sources: every file a source path
/// matches (resolved as the tailer does: `/` or `\\`, globs,
/// case-insensitive), plus its rotated `.lo_` sibling when there is one,
/// which comes first (it holds the older lines).
pub fn site_files(rules: &RuleSet, site: &Path) -> Vec<ReplayFile> {
    let mut out = Vec::new();
    let mut listing = Listing::new();
    for (i, s) in rules.sources.iter().enumerate() {
        let Ok(pattern) = PathPattern::new(site, &s.path) else {
            continue;
        };
        let source = SourceId(i as u32);
        for path in pattern.resolve(Want::Files, &mut listing) {
            for rotated in listing.rotated_siblings(&path) {
                out.push(ReplayFile {
                    path: rotated,
                    source,
                });
            }
            out.push(ReplayFile { path, source });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{RuleText, compile};

    /// The records of `bytes` (of a file with the rules' only source) as
    /// replay hands them to ingest: (offset, raw, message, component,
    /// thread, time, cut).
    type Seen = (
        u64,
        String,
        String,
        Option<String>,
        Option<u32>,
        Option<i64>,
        bool,
    );

    fn seen(r: &crate::event::Record<'_>) -> Seen {
        (
            r.offset,
            r.raw.to_owned(),
            r.message.to_owned(),
            r.component.map(str::to_owned),
            r.thread,
            r.time.map(Timestamp::as_unix_nanos),
            r.cut,
        )
    }

    /// What the merge gets from replay's parse and match stages.
    #[derive(Debug)]
    enum Item {
        /// A record, and whether it matched a rule.
        Record(Seen, bool),
        /// A run of lines left unparsed: lines, cut, time.
        Gap(u64, u64, Option<i64>),
    }

    /// Replays `bytes` as a file of a source in `format` with one rule
    /// (`rule`: its text test), lines matching no rule left unparsed when
    /// `sparse`.
    fn items(format: &str, rule: &str, bytes: &[u8], sparse: bool) -> Vec<Item> {
        let text = format!(
            "schema = 1\n[[source]]\nid = \"s\"\npath = 'x.log'\nformat = \"{format}\"\ntimezone = \"utc\"\n\
             [[match]]\nid = \"m\"\nsource = \"s\"\n{rule}\n"
        );
        let rules = Arc::new(
            compile(&[RuleText {
                path: "r.toml".into(),
                text,
            }])
            .unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, bytes).unwrap();
        let file = ReplayFile {
            path,
            source: SourceId(0),
        };
        let mut matcher = Matcher::new(&rules).unwrap();
        tune(&mut matcher, std::slice::from_ref(&file));
        let pool = MatchPool::start(&rules, &matcher).unwrap();
        let cursor = Cursor::open(&rules, &file, &pool, sparse).unwrap();
        drop(pool);
        let mut out = Vec::new();
        for matched in cursor.batches.iter() {
            let batch = matched.unwrap().recv().unwrap();
            let mut gaps = batch.gaps.iter().peekable();
            let gap = |g: &Gap| Item::Gap(g.lines, g.cut, g.time.map(Timestamp::as_unix_nanos));
            for (i, (record, found)) in batch.iter().enumerate() {
                while let Some(g) = gaps.next_if(|g| g.before <= i) {
                    out.push(gap(g));
                }
                out.push(Item::Record(seen(&record), !found.is_empty()));
            }
            out.extend(gaps.map(gap));
        }
        out
    }

    fn replayed(format: &str, bytes: &[u8]) -> Vec<Seen> {
        items(format, "contains = \"NEEDLE\"", bytes, false)
            .into_iter()
            .map(|item| match item {
                Item::Record(seen, matched) => {
                    assert_eq!(matched, seen.2.contains("NEEDLE"));
                    seen
                }
                Item::Gap(..) => panic!("a gap without sparse replay"),
            })
            .collect()
    }

    /// What ingest makes of `items`: each matching record with the time it
    /// counts at (its own, else the last one before it), the lines and cut
    /// lines counted, and the time replay ends at.
    #[allow(clippy::type_complexity)]
    fn outcome(items: &[Item]) -> (Vec<(Seen, Option<i64>)>, u64, u64, Option<i64>) {
        let (mut hits, mut lines, mut cut, mut last) = (Vec::new(), 0, 0, None);
        for item in items {
            match item {
                Item::Record(seen, matched) => {
                    lines += 1;
                    cut += u64::from(seen.6);
                    last = seen.5.or(last);
                    if *matched {
                        hits.push((seen.clone(), last));
                    }
                }
                Item::Gap(n, c, time) => {
                    lines += n;
                    cut += c;
                    last = time.or(last);
                }
            }
        }
        (hits, lines, cut, last)
    }

    /// What one parser on one thread makes of `bytes`.
    fn sequential(format: Format, bytes: &[u8]) -> Vec<Seen> {
        let (encoding, bom) = Encoding::sniff(bytes);
        let mut lines = LineBuffer::new(encoding, bom as u64, 1 << 20);
        let mut decoder = Decoder::new(encoding);
        let mut parser = RecordParser::new(format, crate::time::TimeZoneSpec::Utc);
        let mut out = Vec::new();
        lines.extend(&bytes[bom..]);
        let mut sink = |r: &crate::event::Record<'_>| out.push(seen(r));
        let mut on_line = |raw: crate::parse::lines::RawLine<'_>| {
            parser.push_line(decoder.decode(raw.bytes), raw.offset, raw.cut, &mut sink);
        };
        lines.drain_lines(&mut on_line);
        lines.flush_partial(&mut on_line);
        parser.flush(&mut sink);
        out
    }

    /// Lines `line(0)`, `line(1)`, … until they fill `size` bytes, and how
    /// many there are.
    fn log_of(size: usize, line: impl Fn(usize) -> Vec<u8>) -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        let mut i = 0;
        while bytes.len() < size {
            bytes.extend_from_slice(&line(i));
            i += 1;
        }
        (bytes, i)
    }

    /// A log several batches long, with lines in Windows-1252, multi-byte
    /// UTF-8, CRLF ends, lines without a trailer and a last line without
    /// its newline: the lines parsed on the match workers (every read after
    /// `auto` has decided) are the records one parser would make.
    #[test]
    fn lines_parsed_on_the_match_workers_are_the_records_one_parser_makes() {
        let (mut bytes, i) = log_of(3 * BATCH_BYTES, |i| {
            match i % 7 {
                0 => format!("plain line {i} without a trailer\n").into_bytes(),
                1 => [&b"caf\xe9 in Windows-1252 "[..], format!("{i}  $$<SMS_X><01-15-2009 10:35:{:02}.046+300><thread=7 (0x7)>\n", i % 60).as_bytes()].concat(),
                2 => format!("café NEEDLE {i}  $$<SMS_DESPOOLER><01-15-2009 10:{:02}:27.046+300><thread=4844 (0x12EC)>\r\n", i % 60).into_bytes(),
                _ => format!("line {i}  $$<SMS_DESPOOLER><01-15-2009 10:35:27.{:03}+300><thread={i} (0x1)>\n", i % 1000).into_bytes(),
        }
        });
        bytes.extend_from_slice(
            b"last NEEDLE without newline  $$<SMS_Y><01-15-2009 10:35:27.046+300><thread=1 (0x1)>",
        );
        for format in [Format::Auto, Format::Sms, Format::Plain] {
            let name = match format {
                Format::Auto => "auto",
                Format::Sms => "sms",
                _ => "plain",
            };
            let want = sequential(format, &bytes);
            assert_eq!(want.len(), i + 1);
            assert_eq!(replayed(name, &bytes), want, "format {name}");
        }
    }

    /// Lines that no rule can match (CRLF and empty lines among them) are
    /// counted without being parsed: the matching records, the time each
    /// counts at (an untimed record takes the last time before it, here
    /// often on a skipped line), the line counts and the end time are those
    /// of parsing every line. A rule that needs no literal (`\\d{3}`) makes
    /// every line parsed.
    #[test]
    fn lines_no_rule_can_match_are_counted_unparsed_with_the_same_outcome() {
        let (mut bytes, i) = log_of(3 * BATCH_BYTES, |i| match i % 11 {
            0 => format!("NEEDLE without a trailer {i}\r\n").into_bytes(),
            3 => format!("plain {i}\r\n").into_bytes(),
            9 => b"\n".to_vec(),
            10 => b"\r\n".to_vec(),
            4 => format!(
                "NEEDLE {i}  $$<SMS_X><01-15-2009 10:{:02}:27.046+300><thread=7 (0x7)>\n",
                i % 60
            )
            .into_bytes(),
            7 => [&b"caf\xe9 NEEDLE "[..], format!("{i}\n").as_bytes()].concat(),
            _ => format!(
                "line {i}  $$<SMS_X><01-15-2009 11:{:02}:{:02}.046+300><thread=7 (0x7)>\n",
                i / 60 % 60,
                i % 60
            )
            .into_bytes(),
        });
        bytes.extend_from_slice(
            b"last line  $$<SMS_Y><01-15-2009 12:00:00.000+300><thread=1 (0x1)>",
        );
        for format in ["sms", "auto", "plain"] {
            for (rule, gated) in [
                ("contains = \"NEEDLE\"", true),
                ("regex = 'NEE(D)LE \\d+'", true),
                ("regex = '\\d{3}'", false),
            ] {
                let full = items(format, rule, &bytes, false);
                let sparse = items(format, rule, &bytes, true);
                let gaps = sparse.iter().filter(|i| matches!(i, Item::Gap(..))).count();
                assert_eq!(gaps > 0, gated, "{format}, {rule}");
                let (hits, lines, cut, last) = outcome(&full);
                assert!(!hits.is_empty());
                assert_eq!(lines, i as u64 + 1);
                assert_eq!(
                    outcome(&sparse),
                    (hits, lines, cut, last),
                    "{format}, {rule}"
                );
            }
        }
    }

    /// A line longer than the cap in the middle of a file read in raw
    /// blocks is cut as the line buffer cuts it, and the lines after it
    /// keep their offsets.
    #[test]
    fn a_line_over_the_cap_is_cut_and_the_rest_read_alike() {
        let mut bytes = Vec::new();
        let mut i = 0;
        let mut push = |bytes: &mut Vec<u8>, n: usize| {
            for _ in 0..n {
                bytes.extend_from_slice(
                    format!(
                        "line {i} NEEDLE  $$<SMS_X><01-15-2009 10:35:27.046+300><thread=7 (0x7)>\n"
                    )
                    .as_bytes(),
                );
                i += 1;
            }
        };
        push(&mut bytes, 2_000);
        bytes.extend(std::iter::repeat_n(b'x', MAX_LINE + MAX_LINE / 2));
        bytes.extend_from_slice(b" NEEDLE\r\n");
        push(&mut bytes, 2_000);
        bytes.extend(std::iter::repeat_n(b'y', MAX_LINE - 10));
        bytes.extend_from_slice(b"\n");
        push(&mut bytes, 10);
        let want = sequential(Format::Sms, &bytes);
        assert_eq!(want.iter().filter(|r| r.6).count(), 1);
        assert_eq!(replayed("sms", &bytes), want);
    }
}
