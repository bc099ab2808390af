//! Diagnostics: located problems in rule, test and config files, rendered as
//! `file:line:col: message` with the offending source line and a caret.
//!
//! Owns spans and rendering only; what counts as a problem is decided by the
//! loaders ([`crate::rule`], the agent config), which return *every* problem
//! they find as a list of [`Diagnostic`]s. Nothing here reads files.
//!
//! Rendering follows rustc's layout:
//!
//! ```text
//! rules/a.toml:3:6: duplicate id "despool" (first defined at rules/a.toml:1:6)
//!   |
//! 3 | id = "despool"
//!   |      ^^^^^^^^^
//! ```
//!
//! Columns count characters, not bytes, so a line with `é` or `→` before the
//! problem still gets the caret under the right character. Tabs before the
//! problem are echoed as tabs in the caret line so that the terminal expands
//! both lines alike. A span that runs past the end of its line (a multi-line
//! string, an unclosed array) is underlined to the end of the first line.
//! Wide (east Asian) characters are counted as one column; nothing in the
//! rule language needs them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One located problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Byte span in the file (empty when the problem has no extent).
    pub span: Range<usize>,
    /// One sentence saying what is wrong and, where it helps, what to write instead.
    pub message: String,
    /// The text of the offending line (without line ending), for the caret display.
    pub source_line: String,
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
///
/// An offset past the end is clamped to the end; an offset inside a
/// multi-byte character counts as that character.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let start = floor_char_boundary(text, offset);
    let before = &text.as_bytes()[..start];
    // memchr: a rule file's every rule is located, so this runs once per
    // rule over the text before it.
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    (saturate(line), saturate(column))
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The largest char boundary of `text` at or before `offset` (clamped to the end).
fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Diagnostic {
    /// Builds a diagnostic for `span` (byte offsets) in `text`, the contents of `file`.
    ///
    /// Never panics: a span past the end of `text` or inside a multi-byte
    /// character is moved to the nearest character boundary before it.
    pub fn new(
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(start));
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let (line, column) = line_column(text, start);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            span: start..end,
            message: message.into(),
            source_line: text[line_start..line_end].trim_end_matches('\r').to_owned(),
        }
    }

    /// A problem with a whole file (cannot be read, …): reported at 1:1.
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            span: 0..0,
            message: message.into(),
            source_line: String::new(),
        }
    }

    /// The caret line under [`Diagnostic::source_line`]: the padding before
    /// the span (tabs kept) and one `^` per character of the span on this line.
    fn caret(&self) -> String {
        let skip = self.column.saturating_sub(1) as usize;
        let mut out: String = self
            .source_line
            .chars()
            .take(skip)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        // A column past the end of the line (a problem at the line break).
        let short = skip.saturating_sub(self.source_line.chars().count());
        out.extend(std::iter::repeat_n(' ', short));
        let start = self
            .source_line
            .char_indices()
            .nth(skip)
            .map_or(self.source_line.len(), |(i, _)| i);
        let rest = &self.source_line[start..];
        let end = floor_char_boundary(rest, self.span.len());
        let width = rest[..end].chars().count().max(1);
        out.extend(std::iter::repeat_n('^', width));
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )?;
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", self.line, self.source_line)?;
            writeln!(f, "{:gutter$} | {}", "", self.caret())?;
        }
        Ok(())
    }
}

/// Every problem found in one load, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True when there is no problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a diagnostic for the first occurrence of `needle` in `text`.
    fn check(text: &str, needle: &str, expected: &str) {
        let start = text.find(needle).unwrap();
        let d = Diagnostic::new(
            Path::new("a.toml"),
            text,
            start..start + needle.len(),
            "oops",
        );
        assert_eq!(d.to_string(), expected);
    }

    #[test]
    fn caret_under_span() {
        check(
            "schema = 1\nid = \"despool\"\n",
            "\"despool\"",
            "a.toml:2:6: oops\n  |\n2 | id = \"despool\"\n  |      ^^^^^^^^^\n",
        );
    }

    #[test]
    fn multibyte_characters_count_as_one_column() {
        check(
            "name = \"Déspool→\" x\n",
            "x",
            "a.toml:1:19: oops\n  |\n1 | name = \"Déspool→\" x\n  |                   ^\n",
        );
        check(
            "name = \"é→\"\n",
            "\"é→\"",
            "a.toml:1:8: oops\n  |\n1 | name = \"é→\"\n  |        ^^^^\n",
        );
    }

    #[test]
    fn tabs_are_kept_in_the_padding() {
        check(
            "\tid =\t\"x\"\n",
            "\"x\"",
            "a.toml:1:7: oops\n  |\n1 | \tid =\t\"x\"\n  | \t    \t^^^\n",
        );
    }

    #[test]
    fn span_past_the_line_is_cut_at_the_line_end() {
        check(
            "x = [1,\n  2]\n",
            "[1,\n  2]",
            "a.toml:1:5: oops\n  |\n1 | x = [1,\n  |     ^^^\n",
        );
    }

    #[test]
    fn crlf_and_empty_span_and_wide_gutter() {
        let text = format!("{}id = \r\n", "\n".repeat(9));
        let d = Diagnostic::new(Path::new("a.toml"), &text, 14..14, "value missing");
        assert_eq!(
            d.to_string(),
            "a.toml:10:6: value missing\n   |\n10 | id = \n   |      ^\n"
        );
    }

    #[test]
    fn bad_offsets_do_not_panic() {
        let d = Diagnostic::new(Path::new("a.toml"), "é", 1..99, "inside a character");
        assert_eq!((d.line, d.column, d.span.clone()), (1, 1, 0..2));
        #[allow(clippy::reversed_empty_ranges)] // a backwards span must not panic either
        let backwards = 7..3;
        let d = Diagnostic::new(Path::new("a.toml"), "ab", backwards, "past the end");
        assert_eq!((d.line, d.column, d.span.clone()), (1, 3, 2..2));
        assert_eq!(
            d.to_string(),
            "a.toml:1:3: past the end\n  |\n1 | ab\n  |   ^\n"
        );
        assert_eq!(
            Diagnostic::whole_file(Path::new("b.toml"), "cannot read").to_string(),
            "b.toml:1:1: cannot read\n"
        );
    }
}
