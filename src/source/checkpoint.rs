//! Checkpoints: how far each followed file has been read, and how to
//! recognise the file again after a restart.

use serde::{Deserialize, Serialize};

/// The read position of every followed file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// One entry per followed file.
    pub files: Vec<FileCheckpoint>,
}

/// One file's position and identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// Source id (the rule's `id`, so that rule reordering does not matter).
    pub source: String,
    /// The path the file was last seen at.
    pub path: String,
    /// Identity used for `event.id`.
    pub key: u64,
    /// Offset just past the last line taken by the pipeline.
    pub offset: u64,
}
