//! Diagnostics: located problems in rule, test and config files, rendered as
//! `file:line:col: message` with the offending source line and a caret.
//!
//! Owns spans and rendering only; what counts as a problem is decided by the
//! loaders ([`crate::rule`], [`crate::config`]), which return *every* problem
//! they find as a list of [`Diagnostic`]s.

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

impl Diagnostic {
    /// Builds a diagnostic for `span` (byte offsets) in `text`, the contents of `file`.
    pub fn new(
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() as u32 + 1;
        let column = text[line_start..start].chars().count() as u32 + 1;
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            span,
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
            let pad: String = self
                .source_line
                .chars()
                .take(self.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let width = self.source_line[self
                .source_line
                .char_indices()
                .nth(self.column.saturating_sub(1) as usize)
                .map_or(self.source_line.len(), |(i, _)| i)..]
                .chars()
                .count()
                .min(self.span.len())
                .max(1);
            writeln!(f, "{:gutter$} | {}{}", "", pad, "^".repeat(width))?;
        }
        Ok(())
    }
}

/// Every problem found in one load, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
