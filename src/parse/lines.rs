//! Splitting bytes read from a file into physical lines.
//!
//! Owns: newline search (UTF-8 and 2-byte-aligned UTF-16), line-ending
//! removal, the line cap, and the resume offset of a file. Does not own:
//! decoding text ([`crate::parse::encoding`]), records ([`crate::parse`]), or
//! reading files (the tailer in [`crate::source`] feeds the bytes).
//!
//! Decisions where the contract is silent:
//! - A cut line is cut at most `max_line` bytes in, moved back to a character
//!   boundary (at most 3 bytes for UTF-8, one unit for a UTF-16 surrogate
//!   pair) so that a valid UTF-8 line stays valid UTF-8 after the cut instead
//!   of falling back to Windows-1252 as a whole.
//! - A cut line counts as consumed only once its newline has been read: see
//!   [`LineBuffer::consumed_offset`].
//! - `max_line` below one code unit is raised to one code unit; for UTF-16 it
//!   is rounded down to whole units.
//! - [`LineBuffer::flush_partial`] strips a trailing `\r` (a writer that died
//!   between `\r` and `\n`).

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
/// Feed it bytes as they are read ([`LineBuffer::extend`]), in any chunking,
/// then take the complete lines ([`LineBuffer::drain_lines`]). Lines end at
/// `\n` or `\r\n` (for UTF-16, at the code unit `U+000A` found at an even
/// distance from the text start, and `U+000D` before it is removed too).
///
/// Memory is bounded by `max_line` plus one read: a line longer than the cap
/// is handed out cut (flagged) as soon as that is certain, and the rest of it
/// is skipped without being buffered. Call `drain_lines` after every
/// `extend` to keep that bound.
///
/// # Example
/// ```
/// use logwarden::parse::encoding::Encoding;
/// use logwarden::parse::lines::LineBuffer;
///
/// let mut buf = LineBuffer::new(Encoding::Utf8, 0, 1024);
/// buf.extend(b"first\r\nsec");
/// let mut lines = Vec::new();
/// buf.drain_lines(|l| lines.push((l.bytes.to_vec(), l.offset)));
/// assert_eq!(lines, vec![(b"first".to_vec(), 0)]);
/// assert_eq!(buf.consumed_offset(), 7);
/// buf.extend(b"ond\n");
/// buf.drain_lines(|l| lines.push((l.bytes.to_vec(), l.offset)));
/// assert_eq!(lines[1], (b"second".to_vec(), 7));
/// ```
///
/// # Performance
/// The newline search is `memchr`; already searched bytes of a partial line
/// are not searched again; complete lines are handed out borrowed from the
/// buffer.
#[derive(Debug)]
pub struct LineBuffer {
    encoding: Encoding,
    /// Unread bytes: the partial last line (or, while skipping, at most one
    /// byte of an unfinished UTF-16 code unit).
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: u64,
    /// `buf[..scanned]` holds no line end (so the search resumes there).
    scanned: usize,
    /// The line cap in bytes, at least one code unit, whole code units.
    max_line: usize,
    /// File offset where the text starts (UTF-16 code units are aligned to it).
    origin: u64,
    /// Skipping the rest of a cut line up to its newline.
    skipping: bool,
    /// File offset of the line being skipped (the resume point meanwhile).
    cut_start: u64,
}

impl LineBuffer {
    /// A buffer for a file in `encoding` whose next unread byte is at `offset`.
    ///
    /// `offset` must be at a line start (after the BOM, or a checkpoint from
    /// [`LineBuffer::consumed_offset`]): UTF-16 code units are counted from it.
    pub fn new(encoding: Encoding, offset: u64, max_line: usize) -> LineBuffer {
        let unit = unit_len(encoding);
        let max_line = (max_line - max_line % unit).max(unit);
        LineBuffer {
            encoding,
            buf: Vec::new(),
            base: offset,
            scanned: 0,
            max_line,
            origin: offset,
            skipping: false,
            cut_start: offset,
        }
    }

    /// Appends bytes read from the file.
    ///
    /// While the rest of a cut line is being skipped, the skipped bytes are
    /// dropped here and never buffered.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.skipping {
            self.skip_from(0);
        }
    }

    /// Hands out every complete line, keeping the partial tail. A partial
    /// line that is already certain to exceed the cap is handed out cut.
    pub fn drain_lines<F: FnMut(RawLine<'_>)>(&mut self, mut f: F) {
        let unit = unit_len(self.encoding);
        let mut start = 0;
        loop {
            if self.skipping {
                // Only reached after a cut in this call: `extend` already
                // handled skipping for bytes that were buffered before.
                self.compact(start);
                self.skip_from(0);
                start = 0;
                if self.skipping {
                    return;
                }
                continue;
            }
            let from = self.scanned.max(start);
            match self.find_newline(from) {
                Some(nl) => {
                    let line = strip_cr(self.encoding, &self.buf[start..nl]);
                    let offset = self.base + start as u64;
                    if line.len() > self.max_line {
                        let cut = cut_len(self.encoding, line, self.max_line);
                        f(RawLine {
                            bytes: &line[..cut],
                            offset,
                            cut: true,
                        });
                    } else {
                        f(RawLine {
                            bytes: line,
                            offset,
                            cut: false,
                        });
                    }
                    start = nl + unit;
                    self.scanned = start;
                }
                None => {
                    self.scanned = self.buf.len().saturating_sub(unit - 1).max(start);
                    let pending = self.buf.len() - start;
                    // Even if a `\r\n` followed right now, the content would
                    // still be longer than the cap: cut now, skip the rest.
                    if pending >= self.max_line.saturating_add(2 * unit) {
                        let line = &self.buf[start..];
                        let cut = cut_len(self.encoding, line, self.max_line);
                        let offset = self.base + start as u64;
                        f(RawLine {
                            bytes: &line[..cut],
                            offset,
                            cut: true,
                        });
                        self.skipping = true;
                        self.cut_start = offset;
                        start += cut;
                        continue;
                    }
                    break;
                }
            }
        }
        self.compact(start);
    }

    /// Hands out the partial tail as a line (the file is finished). The tail
    /// of a cut line that never got its newline is dropped.
    pub fn flush_partial<F: FnMut(RawLine<'_>)>(&mut self, mut f: F) {
        if self.skipping {
            self.skipping = false;
        } else if !self.buf.is_empty() {
            let line = strip_cr(self.encoding, &self.buf);
            let cut = line.len() > self.max_line;
            let len = if cut {
                cut_len(self.encoding, line, self.max_line)
            } else {
                line.len()
            };
            f(RawLine {
                bytes: &line[..len],
                offset: self.base,
                cut,
            });
        }
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.scanned = 0;
    }

    /// File offset just past the last line handed out: where a restart
    /// resumes (the checkpoint position).
    ///
    /// A cut line counts as handed out only once its newline has been read.
    /// While its rest is still being skipped this is the cut line's own
    /// offset, so a restart at that moment re-reads it and hands out the same
    /// cut line with the same offset (hence the same `event.id`) instead of
    /// handing out its tail as a bogus line of its own; resuming mid-line
    /// would need a "skip to the newline" flag the checkpoint does not carry.
    pub fn consumed_offset(&self) -> u64 {
        if self.skipping {
            self.cut_start
        } else {
            self.base
        }
    }

    /// Takes the unfinished line held (bytes and file offset), leaving the
    /// buffer empty at the offset after it, so that a reader can frame the
    /// rest of the file itself. `None`, taking nothing, while the rest of a
    /// cut line is being skipped or for UTF-16 text (whose line ends are
    /// not plain bytes).
    pub fn take_partial(&mut self) -> Option<(Vec<u8>, u64)> {
        if self.skipping || self.encoding != Encoding::Utf8 {
            return None;
        }
        let at = self.base;
        let bytes = std::mem::take(&mut self.buf);
        self.base += bytes.len() as u64;
        self.scanned = 0;
        Some((bytes, at))
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The encoding lines are split in.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Drops `buf[..start]`, moving `base` and `scanned` along.
    fn compact(&mut self, start: usize) {
        if start > 0 {
            self.buf.drain(..start);
            self.base += start as u64;
            self.scanned = self.scanned.saturating_sub(start);
        }
    }

    /// While skipping: drops bytes from `from` up to and including the next
    /// newline and ends the skip, or drops all but an unfinished code unit.
    fn skip_from(&mut self, from: usize) {
        let unit = unit_len(self.encoding);
        match self.find_newline(from) {
            Some(nl) => {
                self.skipping = false;
                self.compact(nl + unit);
                self.scanned = 0;
            }
            None => {
                let keep = unit - 1;
                let drop = self.buf.len().saturating_sub(keep);
                self.compact(drop);
                self.scanned = 0;
            }
        }
    }

    /// Index in `buf` of the first line end at or after `from`: the `\n`
    /// byte, or the first byte of the UTF-16 `U+000A` unit.
    fn find_newline(&self, from: usize) -> Option<usize> {
        let hay = self.buf.get(from..)?;
        match self.encoding {
            Encoding::Utf8 => memchr::memchr(b'\n', hay).map(|i| from + i),
            Encoding::Utf16Le => memchr::memchr_iter(b'\n', hay)
                .map(|i| from + i)
                .find(|&i| self.aligned(i) && self.buf.get(i + 1) == Some(&0)),
            Encoding::Utf16Be => memchr::memchr_iter(b'\n', hay)
                .map(|i| from + i)
                .find(|&i| i >= 1 && self.aligned(i - 1) && self.buf[i - 1] == 0)
                .map(|i| i - 1),
        }
    }

    /// Whether `buf[i]` starts a UTF-16 code unit.
    fn aligned(&self, i: usize) -> bool {
        (self.base + i as u64)
            .wrapping_sub(self.origin)
            .is_multiple_of(2)
    }
}

fn unit_len(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Utf8 => 1,
        Encoding::Utf16Le | Encoding::Utf16Be => 2,
    }
}

/// The line without a trailing carriage return (`\r`, or UTF-16 `U+000D`).
fn strip_cr(encoding: Encoding, line: &[u8]) -> &[u8] {
    let cr: &[u8] = match encoding {
        Encoding::Utf8 => b"\r",
        Encoding::Utf16Le => &[0x0D, 0x00],
        Encoding::Utf16Be => &[0x00, 0x0D],
    };
    if line.len().is_multiple_of(cr.len()) {
        line.strip_suffix(cr).unwrap_or(line)
    } else {
        line
    }
}

/// Where to cut `line` (longer than `max`): at most `max` bytes, moved back
/// so that no character is split.
fn cut_len(encoding: Encoding, line: &[u8], max: usize) -> usize {
    let mut n = max.min(line.len());
    match encoding {
        Encoding::Utf8 => {
            // Back up over continuation bytes (10xxxxxx) to the lead byte.
            let mut back = 0;
            while n > 0 && back < 3 && line.get(n).is_some_and(|b| b & 0xC0 == 0x80) {
                n -= 1;
                back += 1;
            }
            if line.get(n).is_some_and(|b| b & 0xC0 == 0x80) {
                // No lead byte within reach: not UTF-8 after all (Windows-1252),
                // so cut where the cap says.
                n = max.min(line.len());
            }
        }
        Encoding::Utf16Le | Encoding::Utf16Be => {
            n -= n % 2;
            if n >= 2 {
                let unit = match encoding {
                    Encoding::Utf16Le => u16::from_le_bytes([line[n - 2], line[n - 1]]),
                    _ => u16::from_be_bytes([line[n - 2], line[n - 1]]),
                };
                // A high surrogate whose low half lies beyond the cut.
                if (0xD800..0xDC00).contains(&unit) {
                    n -= 2;
                }
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a buffer handed out: (bytes, offset, cut) per line, the resume
    /// offset after each drain, and the final consumed offset.
    type Out = Vec<(Vec<u8>, u64, bool)>;

    /// Feeds `chunks` (draining after each), then optionally flushes.
    fn run(enc: Encoding, start: u64, max: usize, chunks: &[&[u8]], flush: bool) -> (Out, u64) {
        let mut b = LineBuffer::new(enc, start, max);
        let mut out = Vec::new();
        for c in chunks {
            b.extend(c);
            b.drain_lines(|l| out.push((l.bytes.to_vec(), l.offset, l.cut)));
            assert!(
                b.pending() <= max.max(2) + 4 + c.len(),
                "memory bound exceeded: {} pending",
                b.pending()
            );
        }
        if flush {
            b.flush_partial(|l| out.push((l.bytes.to_vec(), l.offset, l.cut)));
        }
        (out, b.consumed_offset())
    }

    /// UTF-8 check: every chunking of `input` (split at each single point
    /// and byte by byte) gives `expected` lines and `consumed` offset.
    fn check(max: usize, input: &[u8], expected: &[(&str, u64, bool)], consumed: u64) {
        let expected: Out = expected
            .iter()
            .map(|(s, o, c)| (s.as_bytes().to_vec(), *o, *c))
            .collect();
        let whole = run(Encoding::Utf8, 0, max, &[input], false);
        assert_eq!(whole, (expected.clone(), consumed), "one chunk");
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            let got = run(Encoding::Utf8, 0, max, &[a, b], false);
            assert_eq!(got, (expected.clone(), consumed), "split at {split}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let got = run(Encoding::Utf8, 0, max, &bytes, false);
        assert_eq!(got, (expected, consumed), "byte by byte");
    }

    #[test]
    fn lf_crlf_empty_and_partial() {
        check(
            100,
            b"a\r\nbb\n\n\r\nccc",
            &[
                ("a", 0, false),
                ("bb", 3, false),
                ("", 6, false),
                ("", 7, false),
            ],
            9,
        );
        check(100, b"", &[], 0);
        check(100, b"no newline", &[], 0);
        // A lone \r inside a line is text.
        check(100, b"a\rb\n", &[("a\rb", 0, false)], 4);
    }

    #[test]
    fn starting_offset_is_added() {
        let (out, consumed) = run(Encoding::Utf8, 3, 100, &[b"x\ny"], false);
        assert_eq!(out, vec![(b"x".to_vec(), 3, false)]);
        assert_eq!(consumed, 5);
    }

    #[test]
    fn long_lines_are_cut_and_skipped() {
        // Cut with the newline in the same chunk.
        check(
            4,
            b"abcdefgh\nxy\n",
            &[("abcd", 0, true), ("xy", 9, false)],
            12,
        );
        // Exactly the cap is not cut, with LF or CRLF.
        check(
            4,
            b"abcd\r\nabcd\n",
            &[("abcd", 0, false), ("abcd", 6, false)],
            11,
        );
        // A cut line whose newline never came: consumed stays at its start.
        check(
            4,
            b"ok\nabcdefghij",
            &[("ok", 0, false), ("abcd", 3, true)],
            3,
        );
    }

    #[test]
    fn cut_respects_utf8_characters() {
        // "aé" is 61 C3 A9: a cap of 2 would split é.
        check(2, "aéxyz\n".as_bytes(), &[("a", 0, true)], 7);
        // Not UTF-8 (Windows-1252 bytes): cut at the cap.
        let (out, _) = run(Encoding::Utf8, 0, 2, &[b"\x92\x92\x92\x92\x92\n"], false);
        assert_eq!(out, vec![(b"\x92\x92".to_vec(), 0, true)]);
    }

    #[test]
    fn skipped_bytes_are_not_buffered() {
        let mut b = LineBuffer::new(Encoding::Utf8, 0, 8);
        let mut n = 0;
        b.extend(&[b'x'; 20]);
        b.drain_lines(|l| {
            assert!(l.cut);
            n += 1;
        });
        for _ in 0..100 {
            b.extend(&[b'y'; 1000]);
            assert_eq!(b.pending(), 0);
            b.drain_lines(|_| n += 1);
        }
        assert_eq!(b.consumed_offset(), 0);
        b.extend(b"yy\nnext\n");
        b.drain_lines(|l| {
            assert_eq!((l.bytes, l.offset, l.cut), (&b"next"[..], 100_023, false));
            n += 1;
        });
        assert_eq!(n, 2);
        assert_eq!(b.consumed_offset(), 100_028);
    }

    #[test]
    fn odd_caps() {
        // No cap to speak of: no overflow.
        let mut b = LineBuffer::new(Encoding::Utf8, 0, usize::MAX);
        let mut out = Vec::new();
        b.extend(b"a\nb");
        b.drain_lines(|l| out.push((l.bytes.to_vec(), l.cut)));
        b.flush_partial(|l| out.push((l.bytes.to_vec(), l.cut)));
        assert_eq!(out, vec![(b"a".to_vec(), false), (b"b".to_vec(), false)]);
        // A zero cap is one code unit.
        check(0, b"ab\n\n", &[("a", 0, true), ("", 3, false)], 4);
    }

    #[test]
    fn flush_partial_hands_out_the_tail() {
        let (out, consumed) = run(Encoding::Utf8, 0, 100, &[b"a\nlast\r"], true);
        assert_eq!(
            out,
            vec![(b"a".to_vec(), 0, false), (b"last".to_vec(), 2, false)]
        );
        assert_eq!(consumed, 7);
        // The tail of a cut line is dropped; consumed moves to the end.
        let (out, consumed) = run(Encoding::Utf8, 0, 4, &[b"abcdefgh"], true);
        assert_eq!(out, vec![(b"abcd".to_vec(), 0, true)]);
        assert_eq!(consumed, 8);
    }

    fn utf16(enc: Encoding, s: &str) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| match enc {
                Encoding::Utf16Be => u.to_be_bytes(),
                _ => u.to_le_bytes(),
            })
            .collect()
    }

    #[test]
    fn utf16_newlines_are_aligned_units() {
        for enc in [Encoding::Utf16Le, Encoding::Utf16Be] {
            // U+0A41 is 41 0A (LE) and U+000A is 0A 00: neither contains a
            // newline unit at an aligned position except the real ones.
            let text = "a\u{0A41}\u{0A00}\u{410A}b\r\nc\nd";
            let bytes = utf16(enc, text);
            let (out, consumed) = run(enc, 2, 100, &[&bytes], false);
            let line1 = utf16(enc, "a\u{0A41}\u{0A00}\u{410A}b");
            assert_eq!(
                out,
                vec![
                    (line1.clone(), 2, false),
                    (utf16(enc, "c"), 2 + line1.len() as u64 + 4, false)
                ],
                "{enc:?}"
            );
            assert_eq!(consumed, 2 + bytes.len() as u64 - 2);
            // Byte by byte gives the same.
            let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(run(enc, 2, 100, &chunks, false), (out, consumed));
        }
    }

    #[test]
    fn utf16_cut_keeps_surrogate_pairs() {
        let enc = Encoding::Utf16Le;
        // "a😀bcd": a cap of 4 bytes would split the pair after 'a'.
        let bytes = utf16(enc, "a\u{1F600}bcdefg\n");
        let (out, _) = run(enc, 0, 4, &[&bytes], false);
        assert_eq!(out, vec![(utf16(enc, "a"), 0, true)]);
        // An odd cap is rounded down to whole units.
        let (out, _) = run(enc, 0, 5, &[&utf16(enc, "abcdef\n")], false);
        assert_eq!(out, vec![(utf16(enc, "ab"), 0, true)]);
    }

    /// The naive model: split on `\n`, strip `\r`, cut at the cap (UTF-8
    /// boundary rule), hand out the unterminated tail only on flush.
    fn model(input: &[u8], max: usize, flush: bool) -> Out {
        let mut out = Vec::new();
        let mut start = 0;
        let mut push = |line: &[u8], at: usize| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > max {
                let n = cut_len(Encoding::Utf8, line, max);
                out.push((line[..n].to_vec(), at as u64, true));
            } else {
                out.push((line.to_vec(), at as u64, false));
            }
        };
        for (i, &b) in input.iter().enumerate() {
            if b == b'\n' {
                push(&input[start..i], start);
                start = i + 1;
            }
        }
        if flush && start < input.len() {
            push(&input[start..], start);
        }
        out
    }

    fn chunked(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(input[last..p].to_vec());
            last = p;
        }
        chunks.push(input[last..].to_vec());
        chunks
    }

    proptest! {
        #[test]
        fn any_chunking_matches_the_model(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), Just(0xC3u8), Just(0xA9u8)], 0..200),
            cuts in proptest::collection::vec(0usize..1000, 0..8),
            max in 1usize..20,
            flush in any::<bool>(),
        ) {
            let chunks = chunked(&input, &cuts);
            let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            let (out, _) = run(Encoding::Utf8, 0, max, &refs, flush);
            let expected = model(&input, max, flush);
            // An unterminated line already certain to be too long is handed
            // out cut before its newline (or the flush) comes; the model
            // only sees it on flush.
            let mut out = out;
            if !flush && out.len() == expected.len() + 1 {
                let last = out.pop();
                prop_assert!(last.is_some_and(|l| l.2));
            }
            prop_assert_eq!(out, expected);
        }

        #[test]
        fn restart_at_consumed_offset_loses_and_duplicates_nothing(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'b')], 0..200),
            stop in 0usize..200,
            max in 1usize..12,
        ) {
            let stop = stop.min(input.len());
            // First run: reads input[..stop], then "restarts".
            let (first, consumed) = run(Encoding::Utf8, 0, max, &[&input[..stop]], false);
            let resume = consumed as usize;
            let (second, _) = run(Encoding::Utf8, consumed, max, &[&input[resume..]], true);
            // A line handed out before the checkpoint and again after it is
            // the same cut line (same offset): that is the documented choice.
            let mut all: Out = first.iter().filter(|l| l.1 < consumed).cloned().collect();
            all.extend(second);
            prop_assert_eq!(all, model(&input, max, true));
        }

        #[test]
        fn utf16_any_chunking_matches_the_text(
            text in "[a\n\r\u{0A41}\u{0A00}\u{410A}\u{1F600}]{0,40}",
            cuts in proptest::collection::vec(0usize..200, 0..8),
            be in any::<bool>(),
            max in 2usize..16,
        ) {
            let enc = if be { Encoding::Utf16Be } else { Encoding::Utf16Le };
            let bytes = utf16(enc, &text);
            let whole = run(enc, 2, max, &[&bytes], true);
            let chunks = chunked(&bytes, &cuts);
            let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
            prop_assert_eq!(run(enc, 2, max, &refs, true), whole.clone());
            let mut segments: Vec<&str> = text.split('\n').collect();
            if segments.last() == Some(&"") {
                segments.pop();
            }
            prop_assert_eq!(whole.0.len(), segments.len());
            for ((b, _, cut), seg) in whole.0.iter().zip(segments) {
                let seg = seg.strip_suffix('\r').unwrap_or(seg);
                let units: Vec<u16> = b
                    .chunks(2)
                    .map(|u| if be { u16::from_be_bytes([u[0], u[1]]) } else { u16::from_le_bytes([u[0], u[1]]) })
                    .collect();
                let got = String::from_utf16_lossy(&units);
                if *cut {
                    prop_assert!(seg.starts_with(&got) && got.len() < seg.len(), "{:?} {:?}", got, seg);
                } else {
                    prop_assert_eq!(got, seg);
                }
            }
        }
    }
}
