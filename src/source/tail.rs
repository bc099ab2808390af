//! One followed file incarnation: the per-file state machine of the
//! [`crate::source::Tailer`].
//!
//! Owns an open handle, the read position, the position just past the last
//! record handed out (the checkpoint), the fingerprints that recognise the
//! incarnation, and the line buffer, decoder and record parser of the file.
//! A file is `Live` at its path, `Rotated` (renamed away: drained, then kept
//! for a grace period for late writes), `Deleted` (drained, then closed at
//! once), `Finishing` (closed; buffered partial content still to hand out)
//! or `Closed`. A live file read to its end may be *parked* (its handle
//! closed to keep open handles under the cap) and is reopened by identity
//! when its path shows a change.
//!
//! Does not look at paths or other files: recognising rotations by path,
//! copies and checkpoints is the tailer's job. A truncation is noticed here
//! (the bytes before the read position changed) and reported to the tailer,
//! which looks for a copy before the incarnation is reset.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::event::{FileKey, Record, SourceId};
use crate::parse::RecordParser;
use crate::parse::encoding::{Decoder, Encoding};
use crate::parse::lines::LineBuffer;
use crate::rule::Format;
use crate::source::checkpoint::FileCheckpoint;
use crate::source::identity::{
    self, FileId, Fingerprint, HEAD_BYTES, Stat, TAIL_BYTES, derive_key, key_prefix_len, read_at,
};
use crate::source::{FileView, ReadStatus, TailStats};
use crate::time::{TimeZoneSpec, Timestamp};

/// The most bytes one read takes, whatever the caller asks for.
const MAX_READ: usize = 8 << 20;

/// How far back from the end a `read_from = end` start looks for the start of
/// the last line.
const END_LOOKBACK: usize = 64 * 1024;

/// Where a file's state machine stands.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// At its path, followed.
    Live,
    /// Renamed away or replaced at its path: drained, then closed once it has
    /// been quiet for the grace period.
    Rotated,
    /// Deleted while open: drained, then closed.
    Deleted,
    /// The handle is closed; buffered content is handed out at the next read.
    Finishing,
    /// Done; removed at the next rescan.
    Closed,
}

/// Where reading starts in a newly opened file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// The first byte after the BOM.
    Beginning,
    /// The start of the last (possibly partial) line: history is skipped.
    End,
    /// A checkpointed offset.
    At(u64),
}

/// What a read found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Bytes were read (or none were there).
    Read(ReadStatus),
    /// The bytes before the read position changed: the file was truncated
    /// (and perhaps regrown). Nothing was handed out.
    Truncated,
}

/// What the tailer needs to know about an incarnation that ended by
/// truncation, to find its copy.
#[derive(Clone, Debug)]
pub struct Retired {
    /// The handle identity (the copy has another one).
    pub id: FileId,
    /// The incarnation's key, carried over to the copy.
    pub key: Option<FileKey>,
    /// The incarnation's head.
    pub head: Fingerprint,
    /// Position just past its last record handed out.
    pub safe: u64,
    /// Records before this offset in the line at `safe` were handed out
    /// (see [`FileCheckpoint::skip_before`]).
    pub safe_skip: u64,
    /// Fingerprint before `safe`.
    pub safe_tail: Fingerprint,
    /// Bytes known to exist but never read (lost unless a copy has them).
    pub unread: u64,
    /// Its order in its lineage.
    pub order: u64,
}

/// Everything needed to open a file incarnation.
#[derive(Debug)]
pub struct Opening {
    /// The source whose path matched.
    pub source: SourceId,
    /// The path the file was found at.
    pub path: PathBuf,
    /// The path its lineage is followed at (differs for a rotated file found
    /// under its rotated name); checkpoints record this one.
    pub origin: PathBuf,
    /// Files at one path across rotations share a lineage.
    pub lineage: u64,
    /// Position in the lineage: older incarnations are drained first.
    pub order: u64,
    /// The open handle.
    pub handle: File,
    /// Its stat.
    pub stat: Stat,
    /// Where to start.
    pub start: Start,
    /// With [`Start::At`]: records that start before this offset were
    /// handed out before the checkpoint (see
    /// [`FileCheckpoint::skip_before`]); 0 for none.
    pub skip_before: u64,
    /// The key, when already known (checkpoint, copy of an incarnation).
    pub key: Option<FileKey>,
    /// The key of an earlier incarnation on the same handle (a file found
    /// truncated at start), so that a rewrite with the same header gets a
    /// different key.
    pub previous_key: Option<FileKey>,
    /// The initial state (`Live`, or `Rotated` for a file found renamed).
    pub state: State,
    /// The line cap.
    pub max_line: usize,
    /// The time of the scan that found the file.
    pub now: Timestamp,
}

/// One followed file incarnation.
#[derive(Debug)]
pub struct TailedFile {
    /// The source whose path matched.
    pub source: SourceId,
    /// The path the file was found at (for `log.file.path`).
    pub path: Arc<str>,
    /// The same path, for `stat`.
    pub path_buf: PathBuf,
    /// The path of the lineage (see [`Opening::origin`]).
    pub origin: PathBuf,
    /// Files at one path across rotations share a lineage.
    pub lineage: u64,
    /// Position in the lineage.
    pub order: u64,
    /// The state.
    pub state: State,
    /// The file was found deleted (not merely renamed away).
    pub was_deleted: bool,
    /// The handle identity.
    pub id: FileId,
    handle: Option<File>,
    key: Option<FileKey>,
    /// The key of the incarnation this one replaced on the same handle.
    previous_key: Option<FileKey>,
    head: Fingerprint,
    /// Next byte to read.
    read_pos: u64,
    /// Where a restart resumes (the checkpoint offset): a line start, just
    /// past the last record handed out, or the start of the line holding
    /// the start of a record not handed out yet.
    safe: u64,
    /// Records before this offset in the line at `safe` were handed out.
    safe_skip: u64,
    safe_tail: Fingerprint,
    /// Records that start before this offset are not handed out: they were
    /// handed out before the checkpoint this incarnation resumed from.
    skip_before: u64,
    /// The offset of the last record handed out.
    last_record: Option<u64>,
    /// The (up to `TAIL_BYTES`) bytes just before `read_pos`, re-checked at
    /// every read: when they changed, the file was truncated.
    window: Vec<u8>,
    encoding: Option<Encoding>,
    lines: LineBuffer,
    decoder: Decoder,
    parser: RecordParser,
    format: Format,
    timezone: TimeZoneSpec,
    max_line: usize,
    /// Size and modification time at the last stat.
    known_len: u64,
    modified: Option<SystemTime>,
    /// Set when the last stat saw a change the reads have not caught up with.
    dirty: bool,
    /// The last read reached the end of the file.
    eof: bool,
    /// When the file last changed (rotated files close after a quiet grace).
    pub last_change: Timestamp,
    /// Set while the handle is closed to keep open handles under the cap:
    /// the size and modification time at parking; a change reopens it.
    parked: Option<(u64, Option<SystemTime>)>,
}

impl TailedFile {
    /// Opens an incarnation of a source of `format` and `timezone`: sniffs
    /// the encoding, fingerprints the head and places the read position.
    ///
    /// # Errors
    /// When the head or the bytes before the start cannot be read.
    pub fn open(o: Opening, format: Format, timezone: TimeZoneSpec) -> io::Result<TailedFile> {
        let mut head = [0u8; HEAD_BYTES];
        let n = read_at(&o.handle, &mut head, 0)?;
        let head = &head[..n];
        let encoding = (!head.is_empty()).then(|| Encoding::sniff(head));
        let (enc, bom) = encoding.unwrap_or((Encoding::Utf8, 0));
        let start = match o.start {
            Start::Beginning => bom as u64,
            Start::At(off) => off.max(bom as u64),
            Start::End => line_start_before(&o.handle, enc, bom as u64, o.stat.len)?,
        };
        let skip_before = match o.start {
            Start::At(_) => o.skip_before,
            Start::Beginning | Start::End => 0,
        };
        let mut file = TailedFile {
            source: o.source,
            path: Arc::from(o.path.display().to_string()),
            path_buf: o.path,
            origin: o.origin,
            lineage: o.lineage,
            order: o.order,
            state: o.state,
            was_deleted: false,
            id: o.stat.id,
            key: o.key,
            previous_key: o.previous_key,
            head: Fingerprint::of(head),
            read_pos: start,
            safe: start,
            safe_skip: skip_before,
            safe_tail: Fingerprint::default(),
            skip_before,
            last_record: None,
            window: Vec::new(),
            encoding: encoding.map(|(e, _)| e),
            lines: LineBuffer::new(enc, start, o.max_line),
            decoder: Decoder::new(enc),
            parser: RecordParser::new(format, timezone.clone()),
            format,
            timezone,
            max_line: o.max_line,
            known_len: o.stat.len,
            modified: o.stat.modified,
            dirty: false,
            eof: false,
            last_change: o.now,
            parked: None,
            handle: Some(o.handle),
        };
        file.load_window()?;
        file.safe_tail = Fingerprint::of(&file.window);
        Ok(file)
    }

    /// Reads the bytes before `read_pos` into `window`.
    fn load_window(&mut self) -> io::Result<()> {
        let Some(h) = &self.handle else {
            return Ok(());
        };
        let len = self.read_pos.min(TAIL_BYTES as u64) as usize;
        self.window.resize(len, 0);
        let n = read_at(h, &mut self.window, self.read_pos - len as u64)?;
        self.window.truncate(n);
        Ok(())
    }

    /// The key handed to sinks: derived once the first line is complete.
    pub fn key(&self) -> FileKey {
        self.key.unwrap_or_default()
    }

    /// True once the key is known (a record has been or can be handed out).
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The checkpoint of this incarnation under `source` (the source's id).
    pub fn checkpoint(&self, source: &str) -> FileCheckpoint {
        FileCheckpoint {
            source: source.to_owned(),
            path: self.origin.display().to_string(),
            key: self.key.map_or(0, |k| k.0),
            offset: self.safe,
            skip_before: self.safe_skip,
            id: self.id,
            head: self.head,
            tail: self.safe_tail,
            finished: self.state == State::Closed,
            rotated: self.state != State::Live,
        }
    }

    /// True when nothing is left to hand out (or the file is done).
    pub fn drained(&self) -> bool {
        match self.state {
            State::Closed => true,
            State::Finishing => false,
            _ => self.eof && !self.dirty && self.known_len <= self.read_pos,
        }
    }

    /// True when a read may hand something out.
    pub fn has_work(&self) -> bool {
        match self.state {
            State::Closed => false,
            State::Finishing => true,
            _ => self.dirty || self.known_len != self.read_pos || !self.eof,
        }
    }

    /// Checks the handle (size, links) and the path (still this file?).
    /// Returns true when the file was found rotated away or deleted by this
    /// check.
    pub fn check(&mut self, now: Timestamp, grace: Duration, stats: &mut TailStats) -> bool {
        if self.parked.is_some() {
            return self.check_parked(now, stats);
        }
        let Some(h) = &self.handle else {
            return false;
        };
        if !matches!(self.state, State::Live | State::Rotated | State::Deleted) {
            return false;
        }
        let st = match identity::stat_handle(h) {
            Ok(st) => st,
            Err(e) => {
                tracing::warn!(path = %self.path, error = %e, "cannot stat followed file");
                return false;
            }
        };
        self.saw(&st, now);
        let mut moved = false;
        if self.state == State::Live {
            // (gone from the path, deleted)
            let (gone, deleted) = match identity::stat_path(&self.path_buf) {
                Ok(p) => (p.id != self.id, st.links == 0),
                Err(e) if e.kind() == io::ErrorKind::NotFound => (true, st.links == 0),
                // Windows refuses to open a file whose deletion is pending,
                // and the name stays taken until this handle is closed: close
                // it as soon as it is drained so the writer can recreate it.
                Err(e) if cfg!(windows) && e.kind() == io::ErrorKind::PermissionDenied => {
                    (true, true)
                }
                Err(e) => {
                    tracing::debug!(path = %self.path, error = %e, "cannot stat path");
                    (false, false)
                }
            };
            if gone {
                moved = true;
                self.last_change = now;
                if deleted {
                    self.state = State::Deleted;
                    self.was_deleted = true;
                    tracing::debug!(path = %self.path, "followed file deleted; draining it");
                } else {
                    self.state = State::Rotated;
                    stats.rotations += 1;
                    tracing::debug!(path = %self.path, "followed file rotated away; draining it");
                }
            }
        } else if self.state == State::Rotated && st.links == 0 {
            self.state = State::Deleted;
            self.was_deleted = true;
        }
        let quiet = now.saturating_since(self.last_change) >= grace;
        if matches!(self.state, State::Rotated | State::Deleted)
            && self.drained()
            && (self.state == State::Deleted || quiet)
        {
            self.close(stats);
        }
        moved
    }

    /// Notes the size and modification time of a fresh `stat`.
    fn saw(&mut self, st: &Stat, now: Timestamp) {
        if st.len != self.known_len || st.modified != self.modified {
            self.known_len = st.len;
            self.modified = st.modified;
            self.dirty = true;
            self.last_change = now;
        }
    }

    /// Re-reads the size of an open file, without any other check. Called
    /// for a rotated file when its successor is found: the successor was
    /// created after the rename, so this `stat` sees every byte written to
    /// the old file before it, which is then read first (an earlier `stat`
    /// of the same scan may predate those writes).
    pub fn refresh(&mut self, now: Timestamp) {
        if !matches!(self.state, State::Live | State::Rotated | State::Deleted) {
            return;
        }
        if let Some(st) = self
            .handle
            .as_ref()
            .and_then(|h| identity::stat_handle(h).ok())
        {
            self.saw(&st, now);
        }
    }

    /// True for a live file with nothing left to read: its handle may be
    /// parked.
    pub fn parkable(&self) -> bool {
        self.state == State::Live && self.handle.is_some() && self.drained()
    }

    /// True while the handle is parked.
    pub fn is_parked(&self) -> bool {
        self.parked.is_some()
    }

    /// Closes the handle of a drained live file to keep open handles under
    /// the cap; [`TailedFile::check`] reopens it when its path shows a change.
    pub fn park(&mut self, stats: &mut TailStats) {
        if self.handle.take().is_some() {
            self.parked = Some((self.known_len, self.modified));
            stats.files_closed += 1;
        }
    }

    /// The check of a parked file: reopened when it changed, found again by
    /// identity under its rotated name when it moved.
    fn check_parked(&mut self, now: Timestamp, stats: &mut TailStats) -> bool {
        if let Ok(p) = identity::stat_path(&self.path_buf)
            && p.id == self.id
        {
            if self.parked == Some((p.len, p.modified)) {
                return false;
            }
            if let Some(h) = reopen(&self.path_buf, self.id) {
                self.unpark(h, now, stats);
            }
            return false;
        }
        // Rotated or deleted while parked: reopen it by identity.
        let mut listing = crate::source::path::Listing::new();
        for sib in listing.rotated_siblings(&self.path_buf) {
            if let Some(h) = reopen(&sib, self.id) {
                self.unpark(h, now, stats);
                self.state = State::Rotated;
                stats.rotations += 1;
                return true;
            }
        }
        stats.gaps += 1;
        tracing::warn!(
            path = %self.path,
            "a file whose handle was parked (open-file cap) was rotated or deleted and is gone; lines appended to it since, if any, were lost"
        );
        self.parked = None;
        self.was_deleted = true;
        self.state = State::Finishing;
        true
    }

    fn unpark(&mut self, h: File, now: Timestamp, stats: &mut TailStats) {
        if let Ok(st) = identity::stat_handle(&h) {
            self.known_len = st.len;
            self.modified = st.modified;
        }
        self.handle = Some(h);
        self.parked = None;
        self.dirty = true;
        self.eof = false;
        self.last_change = now;
        stats.files_opened += 1;
    }

    /// Closes the handle; buffered content is handed out at the next read.
    pub fn close(&mut self, stats: &mut TailStats) {
        if self.handle.take().is_some() {
            stats.files_closed += 1;
        }
        self.state = State::Finishing;
    }

    /// Reads up to `max_bytes` and hands every complete record to `sink`.
    ///
    /// # Errors
    /// I/O errors reading the file.
    pub fn read<F: FnMut(FileView<'_>, &Record<'_>)>(
        &mut self,
        max_bytes: usize,
        scratch: &mut Vec<u8>,
        stats: &mut TailStats,
        sink: &mut F,
    ) -> io::Result<Outcome> {
        match self.state {
            State::Closed => {
                return Ok(Outcome::Read(ReadStatus {
                    bytes: 0,
                    eof: true,
                }));
            }
            State::Finishing => {
                self.finish(stats, sink);
                return Ok(Outcome::Read(ReadStatus {
                    bytes: 0,
                    eof: true,
                }));
            }
            _ => {}
        }
        if max_bytes == 0 {
            return Ok(Outcome::Read(ReadStatus::default()));
        }
        // The read buffer is sized by the request: bound it.
        let max_bytes = max_bytes.min(MAX_READ);
        let Some(h) = &self.handle else {
            return Ok(Outcome::Read(ReadStatus {
                bytes: 0,
                eof: true,
            }));
        };
        let prefix = self.window.len();
        let chunk_start = self.read_pos - prefix as u64;
        scratch.clear();
        scratch.resize(prefix + max_bytes, 0);
        let n = read_at(h, scratch, chunk_start)?;
        if n < prefix || scratch[..prefix] != self.window[..] {
            return Ok(Outcome::Truncated);
        }
        let data_len = n - prefix;
        let eof = data_len < max_bytes;
        if data_len == 0 {
            self.eof = true;
            self.dirty = false;
            self.known_len = self.read_pos;
            return Ok(Outcome::Read(ReadStatus {
                bytes: 0,
                eof: true,
            }));
        }
        if self.encoding.is_none() {
            // The file was empty when opened: the first bytes decide now.
            let (enc, bom) = Encoding::sniff(&scratch[prefix..n]);
            self.encoding = Some(enc);
            let start = self.read_pos.max(bom as u64);
            self.lines = LineBuffer::new(enc, start, self.max_line);
            self.decoder = Decoder::new(enc);
            if self.read_pos == self.safe {
                self.safe = start;
            }
            let skip = (start - self.read_pos) as usize;
            let data = &scratch[prefix + skip.min(data_len)..n];
            self.lines.extend(data);
        } else {
            self.lines.extend(&scratch[prefix..n]);
        }
        self.read_pos += data_len as u64;
        self.known_len = self.known_len.max(self.read_pos);
        self.eof = eof;
        if eof {
            self.dirty = false;
        }
        stats.bytes_read += data_len as u64;
        let keep = n.min(TAIL_BYTES);
        self.window.clear();
        self.window.extend_from_slice(&scratch[n - keep..n]);
        if (self.head.len as usize) < HEAD_BYTES && self.read_pos > u64::from(self.head.len) {
            self.head = Fingerprint::head(h)?;
        }
        if self.key.is_none() {
            self.key = self.derive_key(h)?;
        }
        let before = self.safe;
        self.drain(stats, sink);
        if self.safe != before {
            self.safe_tail = self.fingerprint_before(self.safe, chunk_start, &scratch[..n])?;
        }
        Ok(Outcome::Read(ReadStatus {
            bytes: data_len,
            eof,
        }))
    }

    /// The key from the handle and the first line, once that is complete.
    fn derive_key(&self, h: &File) -> io::Result<Option<FileKey>> {
        let mut head = [0u8; HEAD_BYTES];
        let n = read_at(h, &mut head, 0)?;
        let cap = self.max_line.saturating_add(2);
        Ok(key_prefix_len(&head[..n], cap)
            .map(|l| derive_key(self.id, &head[..l], self.previous_key)))
    }

    /// The fingerprint of the bytes before `end`, from `chunk` (which starts
    /// at file offset `chunk_start`) when it holds them, else from the file.
    fn fingerprint_before(
        &self,
        end: u64,
        chunk_start: u64,
        chunk: &[u8],
    ) -> io::Result<Fingerprint> {
        let len = end.min(TAIL_BYTES as u64);
        let from = end - len;
        let chunk_end = chunk_start + chunk.len() as u64;
        if from >= chunk_start && end <= chunk_end {
            let a = (from - chunk_start) as usize;
            let b = (end - chunk_start) as usize;
            return Ok(Fingerprint::of(&chunk[a..b]));
        }
        match &self.handle {
            Some(h) => Ok(Fingerprint::before(h, end)?.unwrap_or_default()),
            None => Ok(self.safe_tail),
        }
    }

    /// Hands out the complete lines in the line buffer as records and moves
    /// the checkpoint (see [`TailedFile::resume_point`]).
    fn drain<F: FnMut(FileView<'_>, &Record<'_>)>(&mut self, stats: &mut TailStats, sink: &mut F) {
        let view = FileView {
            source: self.source,
            key: self.key(),
            path: &self.path,
        };
        let skip = self.skip_before;
        let mut last = self.last_record;
        let decoder = &mut self.decoder;
        let parser = &mut self.parser;
        self.lines.drain_lines(|raw| {
            stats.lines_read += 1;
            if raw.cut {
                stats.lines_cut += 1;
            }
            let text = decoder.decode(raw.bytes);
            parser.push_line(text, raw.offset, raw.cut, &mut |rec: &Record<'_>| {
                // Handed out before the checkpoint this file resumed from.
                if rec.offset < skip {
                    return;
                }
                last = Some(rec.offset);
                sink(view, rec);
            });
        });
        self.last_record = last;
        (self.safe, self.safe_skip) = self.resume_point();
    }

    /// Where a restart must resume so that it hands out every record not
    /// handed out yet exactly once, with the offsets it would have had:
    /// `(line offset, skip records before this offset)`.
    ///
    /// Normally just past the last complete line. A record the parser holds
    /// (a CMTrace record whose end has not been read) resumes at the line it
    /// starts in, past the records before it on that line. A cut line whose
    /// rest is still being skipped resumes at the cut line, past its
    /// records, so that its tail is not taken for a line of its own.
    fn resume_point(&self) -> (u64, u64) {
        if let Some(held) = self.parser.pending_start() {
            return (held.line, held.record);
        }
        let consumed = self.lines.consumed_offset();
        match self.last_record {
            Some(r) if r >= consumed => (consumed, r + 1),
            _ => (consumed, 0),
        }
    }

    /// Hands out what is buffered (a partial last line, a pending record)
    /// and marks the file closed.
    fn finish<F: FnMut(FileView<'_>, &Record<'_>)>(&mut self, stats: &mut TailStats, sink: &mut F) {
        let view = FileView {
            source: self.source,
            key: self.key(),
            path: &self.path,
        };
        let skip = self.skip_before;
        let mut handed = |rec: &Record<'_>| {
            if rec.offset >= skip {
                sink(view, rec);
            }
        };
        let decoder = &mut self.decoder;
        let parser = &mut self.parser;
        self.lines.flush_partial(|raw| {
            stats.lines_read += 1;
            if raw.cut {
                stats.lines_cut += 1;
            }
            let text = decoder.decode(raw.bytes);
            parser.push_line(text, raw.offset, raw.cut, &mut handed);
        });
        self.parser.flush(&mut handed);
        self.safe = self.lines.consumed_offset().max(self.safe);
        self.safe_skip = 0;
        self.state = State::Closed;
    }

    /// Ends the current incarnation after a truncation and describes it.
    /// `flush` hands its buffered content out first (when no copy of the
    /// file will hand it out again). The file then starts over at offset 0
    /// as a new incarnation with a new order in the lineage.
    pub fn restart<F: FnMut(FileView<'_>, &Record<'_>)>(
        &mut self,
        order: u64,
        flush: bool,
        stats: &mut TailStats,
        sink: &mut F,
    ) -> io::Result<()> {
        let state = self.state;
        if flush {
            self.finish(stats, sink);
        }
        self.state = state;
        self.previous_key = self.key.or(self.previous_key);
        self.key = None;
        self.order = order;
        self.read_pos = 0;
        self.safe = 0;
        self.safe_skip = 0;
        self.skip_before = 0;
        self.last_record = None;
        self.safe_tail = Fingerprint::of(&[]);
        self.window.clear();
        self.encoding = None;
        self.lines = LineBuffer::new(Encoding::Utf8, 0, self.max_line);
        self.decoder = Decoder::new(Encoding::Utf8);
        self.parser = RecordParser::new(self.format, self.timezone.clone());
        self.head = match &self.handle {
            Some(h) => Fingerprint::head(h)?,
            None => Fingerprint::default(),
        };
        self.eof = false;
        self.dirty = true;
        stats.truncations += 1;
        Ok(())
    }

    /// The description of the current incarnation, for finding its copy.
    pub fn retired(&self) -> Retired {
        Retired {
            id: self.id,
            key: self.key,
            head: self.head,
            safe: self.safe,
            safe_skip: self.safe_skip,
            safe_tail: self.safe_tail,
            unread: self.known_len.saturating_sub(self.read_pos) + self.lines.pending() as u64,
            order: self.order,
        }
    }

    /// The handle, while open.
    pub fn handle(&self) -> Option<&File> {
        self.handle.as_ref()
    }
}

/// Opens `path` when it is the file `id`.
fn reopen(path: &std::path::Path, id: FileId) -> Option<File> {
    let h = identity::open_shared(path).ok()?;
    (identity::stat_handle(&h).ok()?.id == id).then_some(h)
}

/// The offset of the start of the last line of a file of `len` bytes: just
/// past the last line end found within [`END_LOOKBACK`] bytes of the end; the
/// text start when the whole file is one unfinished line; `len` when no line
/// end is that close.
fn line_start_before(file: &File, enc: Encoding, text_start: u64, len: u64) -> io::Result<u64> {
    if len <= text_start {
        return Ok(text_start);
    }
    let from = len.saturating_sub(END_LOOKBACK as u64).max(text_start);
    let mut buf = vec![0u8; (len - from) as usize];
    let n = read_at(file, &mut buf, from)?;
    buf.truncate(n);
    let found = match enc {
        Encoding::Utf8 => memchr::memrchr(b'\n', &buf).map(|i| i + 1),
        Encoding::Utf16Le | Encoding::Utf16Be => {
            let unit: [u8; 2] = if enc == Encoding::Utf16Le {
                [b'\n', 0]
            } else {
                [0, b'\n']
            };
            // Code units are aligned to the text start.
            let skew = ((from - text_start) % 2) as usize;
            (skew..buf.len().saturating_sub(1))
                .step_by(2)
                .rev()
                .find(|&i| buf[i..i + 2] == unit)
                .map(|i| i + 2)
        }
    };
    Ok(match found {
        Some(i) => from + i as u64,
        None if from == text_start => text_start,
        None => len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `bytes` to a file and checks where a `read_from = end` start
    /// lands for it.
    fn check(bytes: &[u8], want: u64) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log");
        std::fs::write(&p, bytes).unwrap();
        let f = File::open(&p).unwrap();
        let (enc, bom) = Encoding::sniff(bytes);
        let got = line_start_before(&f, enc, bom as u64, bytes.len() as u64).unwrap();
        assert_eq!(got, want, "{bytes:?}");
    }

    fn utf16le(s: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for u in s.encode_utf16() {
            out.extend_from_slice(&u.to_le_bytes());
        }
        out
    }

    #[test]
    fn end_starts_at_the_last_line() {
        check(b"", 0);
        check(b"a\nb\n", 4);
        check(b"a\nb\npartial", 4);
        check(b"only partial", 0);
        check(b"\xEF\xBB\xBFa\nb", 5);
        check(b"\xEF\xBB\xBFno newline", 3);
        // UTF-16LE: "\n" is 0A 00 at an even distance from the text start;
        // a 0A byte inside another code unit (U+010A) is not a line end.
        check(&utf16le("a\nb\u{10A}c"), 2 + 4);
        check(&utf16le("a\nb\n"), 2 + 8);
        let mut long = vec![b'x'; END_LOOKBACK + 10];
        long.insert(0, b'\n');
        check(&long, long.len() as u64);
    }
}
