//! Sources: followed log files ([`Tailer`]) and sampled folders
//! ([`gauge`]). Owns all file-system reading; hands out parsed records.
//!
//! Notifications ([`watch`]) only wake the reader; the state of each file
//! (identity, size, checkpointed offset) decides what is read.

pub mod checkpoint;
pub mod gauge;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::event::{FileKey, Record, SourceId};
use crate::rule::SourceDef;
use crate::time::Timestamp;

pub use checkpoint::Checkpoints;

/// Where to start in a file that has no checkpoint yet, at first start.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum ReadFrom {
    /// Read the whole file.
    Beginning,
    /// Skip what is there now (the default: history is not alerted on).
    #[default]
    End,
}

/// Tuning of the [`Tailer`].
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// The site root: relative source paths resolve against it.
    pub site: PathBuf,
    /// For files without a checkpoint present at the first scan.
    pub read_from: ReadFrom,
    /// Lines longer than this are cut, flagged and counted.
    pub max_line_bytes: usize,
    /// How long a rotated, drained file stays open for late writes.
    pub rotated_grace: Duration,
}

impl Default for TailOptions {
    fn default() -> TailOptions {
        TailOptions {
            site: PathBuf::from("."),
            read_from: ReadFrom::End,
            max_line_bytes: 1 << 20,
            rotated_grace: Duration::from_secs(5),
        }
    }
}

/// What a record's sink learns about the file it came from.
#[derive(Copy, Clone, Debug)]
pub struct FileView<'a> {
    /// The source whose path matched the file.
    pub source: SourceId,
    /// The file incarnation's identity.
    pub key: FileKey,
    /// The path the file was found at.
    pub path: &'a Arc<str>,
}

/// The result of one [`Tailer::read`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStatus {
    /// Bytes read from the file.
    pub bytes: usize,
    /// True when the file had no more bytes to read.
    pub eof: bool,
}

/// Follows every file matched by the sources' paths.
#[derive(Debug)]
pub struct Tailer {
    sources: Vec<SourceDef>,
    options: TailOptions,
}

impl Tailer {
    /// A tailer for `sources`, resuming from `checkpoints`.
    pub fn new(sources: Vec<SourceDef>, options: TailOptions, checkpoints: Checkpoints) -> Tailer {
        let _ = checkpoints;
        Tailer { sources, options }
    }

    /// Resolves every source path and checks every followed file: new
    /// files, rotations, truncations, deletions. `now` drives time-based
    /// decisions such as the grace period of rotated files.
    pub fn rescan(&mut self, now: Timestamp) {
        let _ = (&self.sources, &self.options, now);
    }

    /// Indices of followed files that may have unread bytes.
    pub fn ready(&self) -> Vec<usize> {
        Vec::new()
    }

    /// Reads up to `max_bytes` from file `index` and calls `sink` with every
    /// complete record.
    ///
    /// # Errors
    /// I/O errors reading the file (the file stays followed).
    pub fn read<F: FnMut(FileView<'_>, &Record<'_>)>(
        &mut self,
        index: usize,
        max_bytes: usize,
        sink: F,
    ) -> std::io::Result<ReadStatus> {
        let _ = (index, max_bytes, sink);
        Ok(ReadStatus::default())
    }

    /// The position of every followed file: what to persist so that a
    /// restart reads nothing twice.
    pub fn checkpoints(&self) -> Checkpoints {
        Checkpoints::default()
    }
}
