//! Outputs: where alert documents go. One file per output kind; each takes
//! finished NDJSON lines and makes them durable (or reports why not).
//!
//! What it does not do: build documents ([`crate::alert`]) or decide which
//! transitions become documents ([`crate::correlate`]).

pub mod file;

use std::io::Write;
use std::path::PathBuf;

/// Errors of an output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output file could not be opened or prepared.
    #[error("cannot open output file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("cannot write to {target}: {source}")]
    Write {
        /// The output's name.
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Where an output writes, as given on the command line or in the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
}

impl Target {
    /// `-` is stdout; anything else is a file path.
    pub fn parse(s: &str) -> Target {
        if s == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(s))
        }
    }
}

/// An output that takes NDJSON lines.
pub trait Output: Send {
    /// Writes one document line (ending in `\n`) and flushes it.
    ///
    /// # Errors
    /// When the line could not be written.
    fn send(&mut self, line: &str) -> Result<(), OutputError>;

    /// A name for messages (`stdout`, the file path, …).
    fn name(&self) -> String;
}

/// Standard output, flushed per document.
#[derive(Debug, Default)]
pub struct Stdout;

impl Output for Stdout {
    fn send(&mut self, line: &str) -> Result<(), OutputError> {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|source| OutputError::Write {
                target: "stdout".into(),
                source,
            })
    }

    fn name(&self) -> String {
        "stdout".into()
    }
}

/// Opens the output for `target`.
///
/// # Errors
/// When a file output cannot be opened.
pub fn open(target: &Target) -> Result<Box<dyn Output>, OutputError> {
    match target {
        Target::Stdout => Ok(Box::new(Stdout)),
        Target::File(path) => Ok(Box::new(file::FileOutput::open(path)?)),
    }
}
