//! Record framing and decoding: raw bytes → physical lines → records.
//!
//! [`lines::LineBuffer`] splits bytes read from a file into physical lines
//! (encoding-aware, partial last line held, long lines cut);
//! [`encoding::Decoder`] turns a line's bytes into text; [`RecordParser`]
//! turns text lines into [`Record`]s for the file's [`Format`] (SPEC §4):
//! `sms` (one record per line, trailer read from the right), `cmtrace`
//! (framed on its markers, across and within lines), `plain`, and `auto`
//! (decided per file from its first records). Timestamps are parsed by hand
//! and converted to UTC here (module `timestamp`, with the Windows zone-name
//! table in module `winzone`).
//!
//! No I/O, no clock: the caller supplies bytes and offsets. Bad input of any
//! kind never fails and never panics: what cannot be structured is a plain
//! record, an unreadable timestamp is `time: None`.
//!
//! **Architecture invariant:** a record of a single physical line borrows
//! from that line: a line that matches no rule is never copied. The only
//! owned record text is a CMTrace record spanning lines.
//!
//! Each submodule's docs list the decisions taken where the contract is
//! silent.

pub mod auto;
pub mod cmtrace;
pub mod encoding;
pub mod lines;
mod plain;
mod sms;
mod timestamp;
mod winzone;

use crate::event::Record;
use crate::rule::Format;
use crate::time::TimeZoneSpec;

/// Where a record held by a [`RecordParser`] starts (see
/// [`RecordParser::pending_start`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PendingStart {
    /// File offset of the physical line the record starts in.
    pub line: u64,
    /// The record's offset (as [`Record::offset`] will report it).
    pub record: u64,
}

/// Per-file record parser. Push decoded physical lines in file order; it
/// calls `sink` with every complete record.
///
/// # Example
/// ```
/// use logwarden::parse::RecordParser;
/// use logwarden::rule::Format;
/// use logwarden::time::TimeZoneSpec;
///
/// let mut parser = RecordParser::new(Format::Auto, TimeZoneSpec::Utc);
/// let line = "Waiting for an available despooling thread  $$<SMS_DESPOOLER>\
///             <01-15-2009 10:35:27.046+300><thread=4844 (0x12EC)>";
/// let mut seen = Vec::new();
/// parser.push_line(line, 0, false, &mut |r| {
///     seen.push((r.message.to_owned(), r.component.map(str::to_owned), r.thread));
///     assert_eq!(r.time.unwrap().to_rfc3339(), "2009-01-15T15:35:27.046Z");
/// });
/// assert_eq!(seen, vec![(
///     "Waiting for an available despooling thread".to_owned(),
///     Some("SMS_DESPOOLER".to_owned()),
///     Some(4844),
/// )]);
/// assert_eq!(parser.format(), Format::Sms);
/// ```
///
/// # Performance
/// Single-line records are handed out borrowed from the pushed line; only a
/// CMTrace record that spans physical lines is assembled in an owned buffer.
/// Timestamps are parsed by hand; zone offsets that need the time-zone
/// database are cached per civil hour.
#[derive(Debug)]
pub struct RecordParser {
    format: Format,
    detector: auto::Detector,
    times: timestamp::TimeResolver,
    framer: cmtrace::Framer,
}

impl RecordParser {
    /// A parser for one file of this format, with `timezone` for timestamps
    /// that carry no offset.
    pub fn new(format: Format, timezone: TimeZoneSpec) -> RecordParser {
        RecordParser {
            format,
            detector: auto::Detector::default(),
            times: timestamp::TimeResolver::new(timezone),
            framer: cmtrace::Framer::default(),
        }
    }

    /// Sets the cap on a CMTrace record assembled from several lines, in
    /// bytes of message (default [`cmtrace::DEFAULT_MAX_RECORD`]). A longer
    /// record keeps its first `bytes` of message and its attributes, and is
    /// flagged `cut`.
    pub fn with_max_record(mut self, bytes: usize) -> RecordParser {
        self.framer = cmtrace::Framer::new(bytes);
        self
    }

    /// The format in use: the configured one, or for `auto` the detected one
    /// (`Auto` until detection has decided).
    pub fn format(&self) -> Format {
        match self.format {
            Format::Auto => self.detector.decided(),
            configured => configured,
        }
    }

    /// Whether a CMTrace record is waiting for its end (see
    /// [`RecordParser::flush`]).
    pub fn has_pending(&self) -> bool {
        self.framer.has_pending()
    }

    /// Where the record it holds starts, while it holds one (a CMTrace
    /// record whose end has not been pushed yet).
    ///
    /// A restart that must hand out that record whole resumes at
    /// [`PendingStart::line`] and drops the records that start before
    /// [`PendingStart::record`]: they came before the held one on its first
    /// line and were handed out already. Re-reading from the line start
    /// gives every record the same offset as the first time, so `event.id`s
    /// do not change; resuming at the record itself would not (a record's
    /// offset counts characters, not bytes, within its line).
    ///
    /// # Example
    /// ```
    /// use logwarden::parse::{PendingStart, RecordParser};
    /// use logwarden::rule::Format;
    /// use logwarden::time::TimeZoneSpec;
    ///
    /// let mut parser = RecordParser::new(Format::Cmtrace, TimeZoneSpec::Utc);
    /// let mut offsets = Vec::new();
    /// parser.push_line("<![LOG[a]LOG]!><type=\"1\"><![LOG[b starts", 100, false, &mut |r| {
    ///     offsets.push(r.offset)
    /// });
    /// assert_eq!(offsets, [100]);
    /// assert_eq!(parser.pending_start(), Some(PendingStart { line: 100, record: 125 }));
    /// parser.push_line("b ends]LOG]!><type=\"1\">", 140, false, &mut |r| {
    ///     offsets.push(r.offset)
    /// });
    /// assert_eq!(offsets, [100, 125]);
    /// assert_eq!(parser.pending_start(), None);
    /// ```
    pub fn pending_start(&self) -> Option<PendingStart> {
        self.framer
            .pending_start()
            .map(|(record, line)| PendingStart { line, record })
    }

    /// Pushes one physical line (line ending removed) that starts at byte
    /// `offset` of the file; `cut` when the line was cut at the line cap.
    pub fn push_line<F: FnMut(&Record<'_>)>(
        &mut self,
        line: &str,
        offset: u64,
        cut: bool,
        sink: &mut F,
    ) {
        let format = match self.format {
            Format::Auto => self.detector.route(line),
            configured => configured,
        };
        match format {
            Format::Sms | Format::Auto => {
                let (record, had_trailer) = sms::record(line, offset, cut, &mut self.times);
                if self.format == Format::Auto {
                    self.detector.saw_sms_line(had_trailer);
                }
                sink(&record);
            }
            Format::Cmtrace => self
                .framer
                .push_line(line, offset, cut, &mut self.times, sink),
            Format::Plain => sink(&plain::record(line, offset, cut)),
        }
    }

    /// Hands out whatever is pending (a CMTrace record whose end never came)
    /// as a record. Called when a file incarnation is finished (rotated away
    /// and drained, deleted) — never merely because the writer paused.
    pub fn flush<F: FnMut(&Record<'_>)>(&mut self, sink: &mut F) {
        self.framer.flush(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::encoding::{Decoder, Encoding};
    use crate::parse::lines::LineBuffer;

    /// Runs `lines` through a parser of `format` (LF line ends, offsets
    /// counted) and flushes; returns (offset, message, component) per
    /// record and the format reported at the end.
    fn check(
        format: Format,
        lines: &[&str],
        expected: &[(u64, &str, Option<&str>)],
        decided: Format,
    ) {
        let mut parser = RecordParser::new(format, TimeZoneSpec::Utc);
        let mut got = Vec::new();
        let mut offset = 0;
        let mut sink = |r: &Record<'_>| {
            got.push((
                r.offset,
                r.message.to_owned(),
                r.component.map(str::to_owned),
            ));
        };
        for line in lines {
            parser.push_line(line, offset, false, &mut sink);
            offset += line.len() as u64 + 1;
        }
        parser.flush(&mut sink);
        let expected: Vec<_> = expected
            .iter()
            .map(|(o, m, c)| (*o, (*m).to_owned(), c.map(str::to_owned)))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(parser.format(), decided);
    }

    const SMS: &str =
        "Waiting  $$<SMS_DESPOOLER><01-15-2009 10:35:27.046+300><thread=4844 (0x12EC)>";
    const CMT: &str = "<![LOG[Waiting]LOG]!><time=\"10:35:27.046+300\" date=\"01-15-2009\" component=\"SMS_DESPOOLER\" type=\"1\" thread=\"4844\">";

    #[test]
    fn configured_formats() {
        check(
            Format::Sms,
            &["a", SMS],
            &[(0, "a", None), (2, "Waiting", Some("SMS_DESPOOLER"))],
            Format::Sms,
        );
        check(
            Format::Plain,
            &[SMS, ""],
            &[(0, SMS, None), (SMS.len() as u64 + 1, "", None)],
            Format::Plain,
        );
        check(
            Format::Cmtrace,
            &[CMT, "", "x"],
            &[
                (0, "Waiting", Some("SMS_DESPOOLER")),
                (CMT.len() as u64 + 2, "x", None),
            ],
            Format::Cmtrace,
        );
    }

    #[test]
    fn auto_detects_sms() {
        check(
            Format::Auto,
            &["header", SMS, CMT],
            &[
                (0, "header", None),
                (7, "Waiting", Some("SMS_DESPOOLER")),
                (8 + SMS.len() as u64, CMT, None),
            ],
            Format::Sms,
        );
    }

    #[test]
    fn auto_detects_cmtrace() {
        check(
            Format::Auto,
            &["header", CMT, SMS],
            &[
                (0, "header", None),
                (7, "Waiting", Some("SMS_DESPOOLER")),
                (8 + CMT.len() as u64, SMS, None),
            ],
            Format::Cmtrace,
        );
        // Undecided so far.
        check(
            Format::Auto,
            &["a", "b"],
            &[(0, "a", None), (2, "b", None)],
            Format::Auto,
        );
    }

    #[test]
    fn auto_gives_up_on_plain_logs() {
        let lines: Vec<String> = (0..auto::UNDECIDED_LIMIT)
            .map(|i| format!("line {i}"))
            .collect();
        let mut refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        refs.push(SMS);
        let mut parser = RecordParser::new(Format::Auto, TimeZoneSpec::Utc);
        let mut components = 0;
        for line in &refs {
            parser.push_line(line, 0, false, &mut |r| {
                components += usize::from(r.component.is_some())
            });
        }
        assert_eq!((parser.format(), components), (Format::Plain, 0));
    }

    proptest::proptest! {
        /// Any lines in any format: no panic, record offsets strictly
        /// increase, and single-line formats give one record per line at
        /// the line's offset.
        #[test]
        fn any_lines_any_format(
            lines in proptest::collection::vec("(\\PC|\\$\\$<|<!\\[LOG\\[|\\]LOG\\]!>|<|>|thread=|~){0,20}", 0..8),
            format in proptest::sample::select(vec![Format::Auto, Format::Sms, Format::Cmtrace, Format::Plain]),
        ) {
            let mut parser = RecordParser::new(format, TimeZoneSpec::Local);
            let mut offsets = Vec::new();
            let mut line_offsets = Vec::new();
            let mut offset = 0;
            for line in &lines {
                line_offsets.push(offset);
                parser.push_line(line, offset, false, &mut |r| offsets.push(r.offset));
                offset += line.len() as u64 + 1;
            }
            parser.flush(&mut |r| offsets.push(r.offset));
            proptest::prop_assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{:?}", offsets);
            if matches!(parser.format(), Format::Sms | Format::Plain) && format != Format::Auto {
                proptest::prop_assert_eq!(offsets, line_offsets);
            }
        }
    }

    /// Runs `lines` (LF line ends, offsets counted) through a CMTrace parser
    /// from line `from` on, dropping records that start before `skip`;
    /// flushes at the end when `flush`. Returns (offset, message, raw) per
    /// record and the parser.
    fn frame_from(
        lines: &[String],
        from: usize,
        skip: u64,
        flush: bool,
    ) -> (Vec<(u64, String, String)>, RecordParser) {
        let mut parser = RecordParser::new(Format::Cmtrace, TimeZoneSpec::Utc);
        let mut got = Vec::new();
        let mut sink = |r: &Record<'_>| {
            if r.offset >= skip {
                got.push((r.offset, r.message.to_owned(), r.raw.to_owned()));
            }
        };
        let mut offset: u64 = lines[..from].iter().map(|l| l.len() as u64 + 1).sum();
        for line in &lines[from..] {
            parser.push_line(line, offset, false, &mut sink);
            offset += line.len() as u64 + 1;
        }
        if flush {
            parser.flush(&mut sink);
        }
        (got, parser)
    }

    proptest::proptest! {
        /// Stopping after any line and resuming where `pending_start` says
        /// (its line, dropping records before the held one) gives exactly
        /// the records of an uninterrupted read, with the same offsets: a
        /// record held across a restart is neither cut nor handed out twice,
        /// and the records before it on its line are not repeated.
        #[test]
        fn resuming_at_the_pending_start_loses_and_repeats_nothing(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "<![LOG[", "]LOG]!>", "<type=\"2\">", "<>", "msg", "é€", " ", "\n",
                ]),
                0..24,
            ),
            stop in 0usize..12,
        ) {
            let text: String = pieces.concat();
            let lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
            let stop = stop.min(lines.len());
            let (all, _) = frame_from(&lines, 0, 0, true);
            let (mut first, parser) = frame_from(&lines[..stop], 0, 0, false);
            let (from, skip) = match parser.pending_start() {
                Some(p) => {
                    let mut offset = 0;
                    let index = lines
                        .iter()
                        .position(|l| {
                            let here = offset;
                            offset += l.len() as u64 + 1;
                            here == p.line
                        })
                        .unwrap_or(lines.len());
                    (index, p.record)
                }
                None => (stop, 0),
            };
            proptest::prop_assert!(skip == 0 || first.iter().all(|r| r.0 < skip));
            let (rest, _) = frame_from(&lines, from, skip, true);
            first.extend(rest);
            proptest::prop_assert_eq!(first, all);
        }
    }

    /// Bytes → lines → text → records, the way the tailer chains them.
    #[test]
    fn utf16_cmtrace_end_to_end() {
        let text = format!("{CMT}\r\n<![LOG[two\r\nlines]LOG]!><type=\"3\">\r\n");
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let (encoding, bom) = Encoding::sniff(&bytes);
        let mut lines = LineBuffer::new(encoding, bom as u64, 4096);
        let mut decoder = Decoder::new(encoding);
        let mut parser = RecordParser::new(Format::Auto, TimeZoneSpec::Utc);
        let mut got = Vec::new();
        for chunk in bytes[bom..].chunks(7) {
            lines.extend(chunk);
            lines.drain_lines(|l| {
                let text = decoder.decode(l.bytes);
                parser.push_line(text, l.offset, l.cut, &mut |r| {
                    got.push((r.offset, r.message.to_owned(), r.severity));
                });
            });
        }
        let second = 2 + 2 * (CMT.len() as u64 + 2);
        assert_eq!(
            got,
            vec![
                (2, "Waiting".to_owned(), Some(crate::event::Severity::Info)),
                (
                    second,
                    "two\nlines".to_owned(),
                    Some(crate::event::Severity::Error)
                ),
            ]
        );
        assert_eq!(lines.consumed_offset(), bytes.len() as u64);
    }
}
