//! Format detection for `format = "auto"`, per file, from its first records
//! and without buffering anything.
//!
//! Owns: the decision. Does not own: parsing (the detector only says which
//! parser a line goes to).
//!
//! Rules: a line containing `<![LOG[` decides CMTrace; a line with an SMS
//! trailer decides SMS. Until then lines are parsed as SMS (which keeps a
//! trailer-less line as a plain record, exactly what `plain` would give),
//! so nothing is held back while undecided. Decisions where the contract is
//! silent: a decision is final for the file incarnation (a parser is made
//! per incarnation, so a log that is replaced by one of another format is
//! detected again); after [`UNDECIDED_LIMIT`] lines with neither marker the
//! file is decided `plain`, which stops looking for markers in a log that
//! has none.

use memchr::memmem::Finder;

use crate::rule::Format;

/// Lines without any marker after which a file is decided `plain`.
pub const UNDECIDED_LIMIT: u32 = 64;

/// The CMTrace record opener.
pub(crate) const CMTRACE_MARKER: &str = "<![LOG[";

/// The detection state of one file.
#[derive(Debug)]
pub(crate) struct Detector {
    decided: Format,
    undecided_lines: u32,
    marker: Finder<'static>,
}

impl Default for Detector {
    fn default() -> Detector {
        Detector {
            decided: Format::Auto,
            undecided_lines: 0,
            marker: Finder::new(CMTRACE_MARKER),
        }
    }
}

impl Detector {
    /// The decided format, `Auto` while undecided.
    pub(crate) fn decided(&self) -> Format {
        self.decided
    }

    /// The format to parse `line` with; decides CMTrace on its marker.
    pub(crate) fn route(&mut self, line: &str) -> Format {
        if self.decided == Format::Auto && self.marker.find(line.as_bytes()).is_some() {
            self.decided = Format::Cmtrace;
        }
        match self.decided {
            Format::Auto => Format::Sms,
            decided => decided,
        }
    }

    /// Records what an undecided line parsed as SMS showed.
    pub(crate) fn saw_sms_line(&mut self, had_trailer: bool) {
        if self.decided != Format::Auto {
            return;
        }
        if had_trailer {
            self.decided = Format::Sms;
        } else {
            self.undecided_lines += 1;
            if self.undecided_lines >= UNDECIDED_LIMIT {
                self.decided = Format::Plain;
            }
        }
    }
}
