//! The CMTrace log format: `<![LOG[message]LOG]!><time="…" date="…"
//! component="…" context="…" type="1|2|3" thread="N" file="…">`.
//!
//! Owns: framing records on their markers across and within physical lines,
//! and reading their attributes. Does not own: the timestamp forms
//! (module `timestamp`) or line splitting.
//!
//! A record starts at `<![LOG[`, its message ends at `]LOG]!>`, and the
//! attribute block `<…>` that follows closes it. A message may span physical
//! lines (joined with `\n` in an owned buffer, the only copy the parsers
//! make) and several records may share a line.
//!
//! A record's `offset` is the line's offset plus the number of characters
//! before its `<![LOG[` in that line (text outside markers likewise). That is
//! the exact file offset of the marker for ASCII text in UTF-8 and for
//! Windows-1252, and in every encoding it is stable and unique within a file
//! (every character takes at least one byte, so it never reaches the next
//! line's offset) — the parser sees decoded text, not the file's bytes, so a
//! byte index of the decoded text would not be.
//!
//! Decisions where the contract is silent:
//! - Text outside the markers that is not blank (garbage, the tail of a
//!   record whose start was cut off, a header) is handed out as a plain
//!   record at its own offset; blank text (the newline between records,
//!   indentation) is not a record.
//! - The attribute block must close on the line where `]LOG]!>` is (a `>`
//!   outside quotes); when it does not, the record ends at that line's end
//!   with whatever attributes were readable.
//! - A `<![LOG[` inside an unfinished record means the writer never finished
//!   it: the unfinished record is handed out as a plain record (message: its
//!   text after `<![LOG[`, raw: all of it) and the new record starts. The
//!   same happens on [`crate::parse::RecordParser::flush`].
//! - A record longer than the record cap keeps the start of its message
//!   (up to the cap) and its attributes, and is flagged `cut`; memory stays
//!   bounded by the cap.
//! - `type` other than 1, 2, 3 gives no severity; an empty `component` gives
//!   none; `thread` is read as the decimal number it starts with.

use memchr::memmem::Finder;

use crate::event::{Record, Severity};
use crate::parse::auto::CMTRACE_MARKER as START;
use crate::parse::plain;
use crate::parse::timestamp::{self, TimeResolver};

/// The end of a CMTrace message.
const END: &str = "]LOG]!>";

/// The default record cap in bytes.
pub const DEFAULT_MAX_RECORD: usize = 1 << 20;

/// The framing state of one file: the record being assembled, if any.
#[derive(Debug)]
pub(crate) struct Framer {
    /// The unfinished record, from its `<![LOG[` on.
    buf: String,
    /// Whether `buf` holds an unfinished record.
    pending: bool,
    /// File offset of the unfinished record's `<![LOG[`.
    start: u64,
    /// File offset of the physical line that `<![LOG[` is in.
    start_line: u64,
    /// Whether any of its lines was cut, or its message was capped.
    cut: bool,
    /// Cap on `buf`, in bytes.
    max_record: usize,
    /// Searchers for the markers, built once (building one per search
    /// costs more than searching a short line).
    starts: Finder<'static>,
    ends: Finder<'static>,
}

impl Default for Framer {
    fn default() -> Framer {
        Framer::new(DEFAULT_MAX_RECORD)
    }
}

impl Framer {
    /// A framer whose assembled records hold at most `max_record` bytes of
    /// message.
    pub(crate) fn new(max_record: usize) -> Framer {
        Framer {
            buf: String::new(),
            pending: false,
            start: 0,
            start_line: 0,
            cut: false,
            max_record,
            starts: Finder::new(START),
            ends: Finder::new(END),
        }
    }

    /// Whether a record is being assembled.
    pub(crate) fn has_pending(&self) -> bool {
        self.pending
    }

    /// The unfinished record's offset and the offset of the line it starts
    /// in, while there is one.
    pub(crate) fn pending_start(&self) -> Option<(u64, u64)> {
        self.pending.then_some((self.start, self.start_line))
    }

    /// Frames one physical line starting at file `offset`.
    pub(crate) fn push_line<F: FnMut(&Record<'_>)>(
        &mut self,
        line: &str,
        offset: u64,
        cut: bool,
        times: &mut TimeResolver,
        sink: &mut F,
    ) {
        let mut pos = 0;
        let mut at = Position::new(line, offset);
        if self.pending {
            let bytes = line.as_bytes();
            let end = self.ends.find(bytes);
            let next = self.starts.find(bytes);
            self.cut |= cut;
            match (end, next) {
                (Some(e), next) if next.is_none_or(|s| e < s) => {
                    pos = self.finish(line, e, times, sink);
                }
                (_, Some(s)) => {
                    if s > 0 {
                        self.append_message(&line[..s]);
                    }
                    self.flush(sink);
                    pos = s;
                }
                (_, None) => {
                    // Only `(None, None)`: an end without a start was the first arm.
                    self.append_message(line);
                    return;
                }
            }
        }
        while pos < line.len() {
            let rest = &line[pos..];
            let Some(i) = self.starts.find(rest.as_bytes()) else {
                text(rest, at.of(pos), cut, sink);
                return;
            };
            text(&rest[..i], at.of(pos), cut, sink);
            let s = pos + i;
            let body = s + START.len();
            let end = self.ends.find(&line.as_bytes()[body..]).map(|e| body + e);
            // A new record starting before this one's end means this one was
            // never finished.
            let searched = end.unwrap_or(line.len());
            let next = self
                .starts
                .find(&line.as_bytes()[body..searched])
                .map(|n| body + n);
            match (end, next) {
                (_, Some(n)) => {
                    let raw = line[s..n].trim_end();
                    let mut record = plain::record(raw, at.of(s), cut);
                    record.message = &raw[START.len()..];
                    sink(&record);
                    pos = n;
                }
                (Some(e), None) => {
                    let (attributes, close) = Attributes::block(line, e + END.len());
                    let record = structured(
                        &line[s..close],
                        START.len(),
                        e - s,
                        attributes,
                        at.of(s),
                        cut,
                        times,
                    );
                    sink(&record);
                    pos = close;
                }
                (None, None) => {
                    self.pending = true;
                    self.start = at.of(s);
                    self.start_line = offset;
                    self.cut = cut;
                    self.buf.clear();
                    self.buf.push_str(START);
                    self.append_text(&line[body..]);
                    return;
                }
            }
        }
    }

    /// Ends the unfinished record with `line`, whose `]LOG]!>` is at `e`;
    /// returns where the record ends in `line`.
    fn finish<F: FnMut(&Record<'_>)>(
        &mut self,
        line: &str,
        e: usize,
        times: &mut TimeResolver,
        sink: &mut F,
    ) -> usize {
        self.append_message(&line[..e]);
        let (attributes, close) = Attributes::block(line, e + END.len());
        let message_end = self.buf.len();
        self.buf.push_str(&line[e..close]);
        let record = structured(
            &self.buf,
            START.len(),
            message_end,
            attributes,
            self.start,
            self.cut,
            times,
        );
        sink(&record);
        self.reset();
        close
    }

    /// Hands out the unfinished record, if any, as a plain record.
    pub(crate) fn flush<F: FnMut(&Record<'_>)>(&mut self, sink: &mut F) {
        if !self.pending {
            return;
        }
        let mut record = plain::record(&self.buf, self.start, self.cut);
        record.message = &self.buf[START.len()..];
        sink(&record);
        self.reset();
    }

    fn reset(&mut self) {
        self.pending = false;
        self.cut = false;
        self.buf.clear();
        // One huge record should not pin its memory for the file's life.
        if self.buf.capacity() > 64 * 1024 {
            self.buf.shrink_to(64 * 1024);
        }
    }

    /// Appends a line break and the next physical line of the message.
    fn append_message(&mut self, text: &str) {
        self.append_text("\n");
        self.append_text(text);
    }

    /// Appends message text up to the cap (on a character boundary).
    fn append_text(&mut self, text: &str) {
        let room = self.max_record.saturating_sub(self.buf.len() - START.len());
        if text.len() <= room {
            self.buf.push_str(text);
        } else {
            let mut n = room;
            while !text.is_char_boundary(n) {
                n -= 1;
            }
            self.buf.push_str(&text[..n]);
            self.cut = true;
        }
    }
}

/// The record offsets of positions in one line: the line's offset plus the
/// characters before the position (see the module docs).
struct Position<'a> {
    line: &'a str,
    offset: u64,
    /// The last position asked for, and its character count.
    pos: usize,
    chars: u64,
}

impl<'a> Position<'a> {
    fn new(line: &'a str, offset: u64) -> Position<'a> {
        Position {
            line,
            offset,
            pos: 0,
            chars: 0,
        }
    }

    /// The offset of byte position `pos`; positions asked for only grow, so
    /// each character is counted once.
    fn of(&mut self, pos: usize) -> u64 {
        if pos > self.pos {
            self.chars += self
                .line
                .get(self.pos..pos)
                .map_or(0, |s| s.chars().count()) as u64;
            self.pos = pos;
        }
        self.offset + self.chars
    }
}

/// Hands out non-blank text outside the markers as a plain record.
fn text<F: FnMut(&Record<'_>)>(text: &str, offset: u64, cut: bool, sink: &mut F) {
    let text = text.trim_end();
    if !text.trim_start().is_empty() {
        sink(&plain::record(text, offset, cut));
    }
}

/// The record for a whole unit `raw` = `<![LOG[` message `]LOG]!>` attributes,
/// whose message is `raw[message_start..message_end]`.
fn structured<'a>(
    raw: &'a str,
    message_start: usize,
    message_end: usize,
    attributes: Attributes<'a>,
    offset: u64,
    cut: bool,
    times: &mut TimeResolver,
) -> Record<'a> {
    let time = match (attributes.time, attributes.date) {
        (Some(t), Some(d)) => timestamp::parse_cmtrace(t, d).and_then(|s| times.resolve(s)),
        _ => None,
    };
    Record {
        raw,
        message: &raw[message_start..message_end],
        component: attributes.component.filter(|c| !c.is_empty()),
        thread: attributes.thread.and_then(leading_decimal),
        severity: match attributes.kind.map(str::trim) {
            Some("1") => Some(Severity::Info),
            Some("2") => Some(Severity::Warning),
            Some("3") => Some(Severity::Error),
            _ => None,
        },
        time,
        offset,
        cut,
    }
}

/// The decimal number `text` starts with, if it fits `u32`.
fn leading_decimal(text: &str) -> Option<u32> {
    let text = text.trim_start();
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..end].parse().ok()
}

/// The attributes a record's block carries (values unquoted, not unescaped).
#[derive(Debug, Default, PartialEq, Eq)]
struct Attributes<'a> {
    time: Option<&'a str>,
    date: Option<&'a str>,
    component: Option<&'a str>,
    kind: Option<&'a str>,
    thread: Option<&'a str>,
}

impl<'a> Attributes<'a> {
    /// Reads the attribute block that starts at byte `from` of `line` and
    /// returns its attributes and where it ends (just past its `>`).
    ///
    /// Pairs are `name="value"` (or `'value'`, or a bare value up to a space
    /// or `>`) in any order; unknown names and stray text are skipped. No
    /// block (no `<` at `from`): nothing, ending at `from`. A block that
    /// never closes ends at the line's end, or before a `<![LOG[` (a new
    /// record cannot start inside a block); an unclosed quote's value ends
    /// at the next `>`.
    ///
    /// # Performance
    /// One scalar pass over the block's bytes: blocks are short, and a
    /// `memchr` call per quote costs more than it saves.
    fn block(line: &'a str, from: usize) -> (Attributes<'a>, usize) {
        let mut out = Attributes::default();
        let b = line.as_bytes();
        if b.get(from) != Some(&b'<') {
            return (out, from);
        }
        let new_record = |i: usize| b[i] == b'<' && b[i..].starts_with(START.as_bytes());
        // `]LOG]!><![LOG[`: a record without attributes, then the next one
        // (read as an attribute block, the next record's framing would
        // depend on where reading started: found by the restart property
        // test in `parse/mod.rs`).
        if new_record(from) {
            return (out, from);
        }
        let mut i = from + 1;
        while i < b.len() {
            let c = b[i];
            if c == b'>' {
                return (out, i + 1);
            }
            if new_record(i) {
                return (out, i);
            }
            if !c.is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let name_start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            let name = &line[name_start..i];
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if b.get(i) != Some(&b'=') {
                continue;
            }
            i += 1;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            let value = match b.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let start = i + 1;
                    i = start;
                    loop {
                        // `position` compiles to a tight loop without bounds checks.
                        i += b[i..]
                            .iter()
                            .position(|&x| x == q || x == b'<')
                            .unwrap_or(b.len() - i);
                        if i >= b.len() || b[i] == q || new_record(i) {
                            break;
                        }
                        i += 1;
                    }
                    if b.get(i) == Some(&q) {
                        i += 1;
                        &line[start..i - 1]
                    } else {
                        // Unclosed: the value ends at the next `>`, which
                        // then closes the block.
                        i = start
                            + b[start..i]
                                .iter()
                                .position(|&x| x == b'>')
                                .unwrap_or(i - start);
                        &line[start..i]
                    }
                }
                _ => {
                    let start = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    &line[start..i]
                }
            };
            match name {
                "time" => out.time = Some(value),
                "date" => out.date = Some(value),
                "component" => out.component = Some(value),
                "type" => out.kind = Some(value),
                "thread" => out.thread = Some(value),
                _ => {}
            }
        }
        (out, b.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{TimeZoneSpec, Timestamp};
    use proptest::prelude::*;

    /// What a record looks like in a test: (offset, message, component,
    /// thread, severity, time as RFC 3339, cut, raw).
    type Seen = (
        u64,
        String,
        Option<String>,
        Option<u32>,
        Option<Severity>,
        Option<String>,
        bool,
        String,
    );

    fn seen(r: &Record<'_>) -> Seen {
        (
            r.offset,
            r.message.to_owned(),
            r.component.map(str::to_owned),
            r.thread,
            r.severity,
            r.time.map(Timestamp::to_rfc3339),
            r.cut,
            r.raw.to_owned(),
        )
    }

    /// Frames `lines` (each `line_len + 1` bytes apart, like LF lines) in
    /// a UTC source and flushes at the end.
    fn frame(lines: &[&str], max_record: usize) -> Vec<Seen> {
        let mut framer = Framer::new(max_record);
        let mut times = TimeResolver::new(TimeZoneSpec::Utc);
        let mut out = Vec::new();
        let mut offset = 0;
        for line in lines {
            framer.push_line(line, offset, false, &mut times, &mut |r| out.push(seen(r)));
            offset += line.len() as u64 + 1;
        }
        framer.flush(&mut |r| out.push(seen(r)));
        out
    }

    /// Checks (offset, message, component, thread, severity, time) of every
    /// record framed from `lines`.
    #[allow(clippy::type_complexity)]
    fn check(
        lines: &[&str],
        expected: &[(
            u64,
            &str,
            Option<&str>,
            Option<u32>,
            Option<Severity>,
            Option<&str>,
        )],
    ) {
        let got: Vec<_> = frame(lines, DEFAULT_MAX_RECORD)
            .into_iter()
            .map(|(o, m, c, t, s, time, _, _)| (o, m, c, t, s, time))
            .collect();
        let expected: Vec<_> = expected
            .iter()
            .map(|(o, m, c, t, s, time)| {
                (
                    *o,
                    (*m).to_owned(),
                    c.map(str::to_owned),
                    *t,
                    *s,
                    time.map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(got, expected, "{lines:#?}");
    }

    const ONE: &str = r#"<![LOG[Waiting for an available despooling thread]LOG]!><time="10:35:27.046+300" date="01-15-2009" component="SMS_DESPOOLER" context="" type="1" thread="4844" file="despool.cpp:123">"#;

    #[test]
    fn one_record_per_line() {
        check(
            &[ONE],
            &[(
                0,
                "Waiting for an available despooling thread",
                Some("SMS_DESPOOLER"),
                Some(4844),
                Some(Severity::Info),
                Some("2009-01-15T15:35:27.046Z"),
            )],
        );
        let out = frame(&[ONE], DEFAULT_MAX_RECORD);
        assert_eq!(out[0].7, ONE);
    }

    #[test]
    fn attributes_in_any_order_and_odd_values() {
        check(
            &[
                r#"<![LOG[x]LOG]!><thread="12 (0xC)" type="3" file="a>b.cpp" component='C' date="1-2-2020" time="03:04:05.1234567">"#,
            ],
            &[(
                0,
                "x",
                Some("C"),
                Some(12),
                Some(Severity::Error),
                Some("2020-01-02T03:04:05.123Z"),
            )],
        );
        check(
            &[r#"<![LOG[]LOG]!><time="03:04:05.1-60" date="12-31-2020" type="2" component="">"#],
            &[(
                0,
                "",
                None,
                None,
                Some(Severity::Warning),
                Some("2020-12-31T02:04:05.100Z"),
            )],
        );
        check(
            &[
                r#"<![LOG[x]LOG]!><type="0" time="bad" date="1-2-2020">"#,
                r#"<![LOG[y]LOG]!>"#,
            ],
            &[
                (0, "x", None, None, None, None),
                (53, "y", None, None, None, None),
            ],
        );
    }

    /// Reads the block at the start of `block`: its attributes and end.
    fn read(block: &str) -> (Attributes<'_>, usize) {
        Attributes::block(block, 0)
    }

    #[test]
    fn attribute_syntax() {
        let block = r#"<time = "1:2:3" date=1-2-2003 x="type=9" type='2' thread="4844" component="a>b">tail"#;
        let expected = Attributes {
            time: Some("1:2:3"),
            date: Some("1-2-2003"),
            component: Some("a>b"),
            kind: Some("2"),
            thread: Some("4844"),
        };
        assert_eq!(read(block), (expected, block.len() - 4));
        assert_eq!(read(""), (Attributes::default(), 0));
        assert_eq!(read("no block"), (Attributes::default(), 0));
        let kind = |k| Attributes {
            kind: Some(k),
            ..Attributes::default()
        };
        // Unclosed: the line's end; an unclosed quote ends at `>`.
        assert_eq!(read("<type=\"3"), (kind("3"), 8));
        assert_eq!(read("<type=\"3> x"), (kind("3"), 9));
        assert_eq!(read("<é=1 type=>"), (kind(""), 12));
        // A new record ends the block, even inside a quote.
        assert_eq!(read("<type=\"2<![LOG[x"), (kind("2"), 8));
        assert_eq!(read("<type=2 <![LOG[x"), (kind("2"), 8));
    }

    #[test]
    fn two_records_on_one_line_and_text_between() {
        let line = format!("{ONE}{ONE} junk <![LOG[b]LOG]!><type=\"2\">trailing");
        let second = ONE.len() as u64;
        check(
            &[&line],
            &[
                (
                    0,
                    "Waiting for an available despooling thread",
                    Some("SMS_DESPOOLER"),
                    Some(4844),
                    Some(Severity::Info),
                    Some("2009-01-15T15:35:27.046Z"),
                ),
                (
                    second,
                    "Waiting for an available despooling thread",
                    Some("SMS_DESPOOLER"),
                    Some(4844),
                    Some(Severity::Info),
                    Some("2009-01-15T15:35:27.046Z"),
                ),
                (2 * second, " junk", None, None, None, None),
                (
                    2 * second + 6,
                    "b",
                    None,
                    None,
                    Some(Severity::Warning),
                    None,
                ),
                (2 * second + 6 + 25, "trailing", None, None, None, None),
            ],
        );
    }

    #[test]
    fn record_spanning_lines() {
        let lines = [
            "<![LOG[first line",
            "",
            "  third line]LOG]!><time=\"10:35:27.046+300\" date=\"01-15-2009\" type=\"3\" thread=\"1\"><![LOG[next]LOG]!><>",
        ];
        let out = frame(&lines, DEFAULT_MAX_RECORD);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, 0);
        assert_eq!(out[0].1, "first line\n\n  third line");
        assert_eq!(out[0].4, Some(Severity::Error));
        assert_eq!(out[0].5.as_deref(), Some("2009-01-15T15:35:27.046Z"));
        assert_eq!(
            out[0].7,
            "<![LOG[first line\n\n  third line]LOG]!><time=\"10:35:27.046+300\" date=\"01-15-2009\" type=\"3\" thread=\"1\">"
        );
        // The second record starts on line 3 (offset 18 + 1 = 19).
        let index = lines[2].find("<![LOG[next").unwrap() as u64;
        assert_eq!((out[1].0, out[1].1.as_str()), (19 + index, "next"));
    }

    #[test]
    fn text_outside_markers_is_kept() {
        let tail = r#"tail of a record cut off]LOG]!><time="1:2:3.000" date="1-1-2001">"#;
        let header = tail.len() as u64 + 1 + 1 + 4;
        check(
            &[tail, "", "   ", "header line"],
            &[
                (0, tail, None, None, None, None),
                (header, "header line", None, None, None, None),
            ],
        );
        // Offsets count characters, so they stay below the next line's
        // offset whatever the encoding was (here: 2-byte characters).
        let line = "ééé <![LOG[a]LOG]!><>";
        check(
            &[line, "x"],
            &[
                (0, "ééé", None, None, None, None),
                (4, "a", None, None, None, None),
                (line.len() as u64 + 1, "x", None, None, None, None),
            ],
        );
    }

    #[test]
    fn unfinished_records() {
        // A record that never ends, then a new one: the first is plain.
        check(
            &["<![LOG[never ends", "still <![LOG[ok]LOG]!><>"],
            &[
                (0, "never ends\nstill ", None, None, None, None),
                (24, "ok", None, None, None, None),
            ],
        );
        // The same within one line.
        check(
            &["<![LOG[never ends <![LOG[ok]LOG]!><>"],
            &[
                (0, "never ends", None, None, None, None),
                (18, "ok", None, None, None, None),
            ],
        );
        // Flush hands out an unfinished record.
        let out = frame(&["x <![LOG[half"], DEFAULT_MAX_RECORD);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].0, out[0].1.as_str()), (0, "x"));
        assert_eq!(
            (out[1].0, out[1].1.as_str(), out[1].7.as_str()),
            (2, "half", "<![LOG[half")
        );
        // An attribute block that never closes ends at the line's end.
        check(
            &["<![LOG[a]LOG]!><type=\"2\" thread=\"7", "next"],
            &[
                (0, "a", None, Some(7), Some(Severity::Warning), None),
                (35, "next", None, None, None, None),
            ],
        );
    }

    #[test]
    fn long_records_are_capped() {
        let lines = ["<![LOG[0123456789", "abcdefghij", "end]LOG]!><type=\"1\">"];
        let out = frame(&lines, 12);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "0123456789\na");
        assert!(out[0].6, "flagged cut");
        assert_eq!(out[0].4, Some(Severity::Info));
        assert_eq!(out[0].7, "<![LOG[0123456789\na]LOG]!><type=\"1\">");
    }

    #[test]
    fn cut_lines_flag_their_record() {
        let mut framer = Framer::default();
        let mut times = TimeResolver::new(TimeZoneSpec::Utc);
        let mut cuts = Vec::new();
        framer.push_line("<![LOG[a", 0, true, &mut times, &mut |r| cuts.push(r.cut));
        framer.push_line("b]LOG]!><>", 9, false, &mut times, &mut |r| {
            cuts.push(r.cut)
        });
        framer.push_line("<![LOG[c]LOG]!><>", 20, false, &mut times, &mut |r| {
            cuts.push(r.cut)
        });
        assert_eq!(cuts, vec![true, false]);
    }

    proptest! {
        /// Any text: no panic, offsets strictly increase, nothing but blanks
        /// is lost (every non-blank byte shows up in some record's raw).
        #[test]
        fn never_panics_and_keeps_text(
            lines in proptest::collection::vec(
                "(\\PC|<!\\[LOG\\[|\\]LOG\\]!>|<|>|\"|=| ){0,30}", 0..6),
            max in 1usize..64,
        ) {
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let out = frame(&refs, max);
            for pair in out.windows(2) {
                prop_assert!(pair[0].0 < pair[1].0, "offsets {} then {}", pair[0].0, pair[1].0);
            }
            let kept: usize = out.iter().map(|r| r.7.split_whitespace().map(str::len).sum::<usize>()).sum();
            let written: usize = lines.iter().map(|l| l.split_whitespace().map(str::len).sum::<usize>()).sum();
            if out.iter().all(|r| !r.6) {
                prop_assert_eq!(kept, written);
            }
        }

        /// Generated records framed from one string, split into lines at any
        /// points, give the same records (modulo the split line breaks).
        #[test]
        fn records_survive_any_line_split(
            messages in proptest::collection::vec("[a-z ]{0,12}", 1..5),
            splits in proptest::collection::vec(0usize..400, 0..4),
        ) {
            let mut text = String::new();
            for (i, m) in messages.iter().enumerate() {
                text.push_str(&format!("<![LOG[{m}]LOG]!><time=\"01:02:03.{i}\" date=\"1-2-2003\" type=\"2\" thread=\"{i}\">"));
            }
            let mut points: Vec<usize> = splits.iter().map(|s| s % (text.len() + 1)).collect();
            points.sort_unstable();
            points.dedup();
            let mut lines = Vec::new();
            let mut last = 0;
            for p in points {
                lines.push(&text[last..p]);
                last = p;
            }
            lines.push(&text[last..]);
            let out = frame(&lines, DEFAULT_MAX_RECORD);
            // Splits inside a marker or an attribute block break structure
            // (and the broken part shows up as text); splits inside
            // messages must not.
            let intact: Vec<_> = out
                .iter()
                .filter(|r| r.4 == Some(Severity::Warning) && r.3.is_some())
                .collect();
            if intact.len() == messages.len() {
                for (i, (r, m)) in intact.iter().zip(&messages).enumerate() {
                    prop_assert_eq!(r.1.replace('\n', ""), m.clone());
                    prop_assert_eq!(r.3, Some(i as u32));
                }
            } else {
                // Broken structure loses no text (but blanks).
                let squeeze = |s: &str| s.split_whitespace().collect::<String>();
                let kept: String = out.iter().map(|r| squeeze(&r.7)).collect();
                prop_assert_eq!(kept, squeeze(&text));
            }
        }
    }
}
