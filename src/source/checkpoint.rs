//! Checkpoints: how far each followed file has been read, and how to
//! recognise the file again after a restart.
//!
//! Owns the checkpoint document (versioned JSON) and its durable storage:
//! [`Checkpoints::save`] writes a temporary file, syncs it and renames it over
//! the old one, so a crash leaves either the old or the new document, never a
//! torn one. [`Checkpoints::load`] turns anything unreadable (empty, torn,
//! foreign, a newer version) into a [`CheckpointError`] for the caller to log;
//! it never panics.
//!
//! Does not decide what a checkpoint means for a file: that is
//! [`crate::source::Tailer`]'s job.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::source::identity::{FileId, Fingerprint};

/// The version of the checkpoint document this build writes and reads.
pub const VERSION: u32 = 1;

/// The read position of every followed file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    /// One entry per followed file.
    pub files: Vec<FileCheckpoint>,
    /// Ids of the sources whose paths have been scanned: files found for
    /// them from then on, even at a later start, appeared after the first
    /// start and are read from their beginning (`read_from = end` is for
    /// the first start only). Without it, an agent stopped before any file
    /// of a source existed would skip the files created while it was down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scanned: Vec<String>,
}

/// One file's position and identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// Source id (the rule's `id`, so that rule reordering does not matter).
    pub source: String,
    /// The path the file is followed at (for a rotated file: the path it
    /// was rotated away from).
    pub path: String,
    /// Identity used for `event.id`; 0 while the file has handed out no record.
    pub key: u64,
    /// Where a restart resumes: a line start, just past the last line
    /// taken by the pipeline (or the start of the line where a record not
    /// taken yet begins).
    pub offset: u64,
    /// Records that start before this offset, inside the line at `offset`,
    /// were taken already and are not handed out again; 0 for none. Set
    /// when a CMTrace record held across the checkpoint starts mid-line
    /// after other records, and while the rest of a cut line is skipped.
    /// (A record's offset is not always a byte offset, so reading cannot
    /// resume at the record itself; see
    /// [`crate::parse::RecordParser::pending_start`].)
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip_before: u64,
    /// The file's handle identity (device/volume and inode/file index).
    #[serde(default)]
    pub id: FileId,
    /// Fingerprint of the file's head.
    #[serde(default)]
    pub head: Fingerprint,
    /// Fingerprint of the bytes just before `offset`.
    #[serde(default)]
    pub tail: Fingerprint,
    /// The file was drained and closed (a rotated file): nothing more is
    /// expected from it, so not finding it again is no loss.
    #[serde(default)]
    pub finished: bool,
    /// The file had already been rotated away from `path` (it was being
    /// drained): a file on its handle identity back at `path` is a new file
    /// on a reused inode.
    #[serde(default)]
    pub rotated: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why a checkpoint document could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed.
    #[error("cannot {action} checkpoint file {path}: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a checkpoint document (empty, torn, foreign).
    #[error(
        "checkpoint file {path} is unreadable ({reason}); files will be read as on a first start"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Written by a newer logwarden.
    #[error(
        "checkpoint file {path} has version {found}, this build reads version {VERSION}; upgrade logwarden or remove the file"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
}

/// The stored form: the entries with a version in front.
#[derive(Serialize)]
struct Document {
    version: u32,
    files: Vec<FileCheckpoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scanned: Vec<String>,
}

impl Checkpoints {
    /// Reads the checkpoint document at `path`. A missing file is an empty
    /// set of checkpoints (a first start), not an error.
    ///
    /// # Errors
    /// [`CheckpointError`] when the file cannot be read or is not a
    /// checkpoint document of a known version.
    pub fn load(path: &Path) -> Result<Checkpoints, CheckpointError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Checkpoints::default());
            }
            Err(source) => {
                return Err(CheckpointError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt("it is empty".to_owned()));
        }
        // Look at the version first, so that a newer document is reported as
        // such rather than as a shape error.
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        // A document without a version but with a `files` list is the
        // unversioned first form: read it as version 1.
        let found = match value.get("version") {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| corrupt("its version is not a number".to_owned()))?,
            None if value.get("files").is_some_and(serde_json::Value::is_array) => {
                u64::from(VERSION)
            }
            None => return Err(corrupt("it has no version".to_owned())),
        };
        if found != u64::from(VERSION) {
            return Err(CheckpointError::Version {
                path: path.to_path_buf(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
    }

    /// Writes the document to `path` durably: a temporary file beside it,
    /// synced, renamed over `path`, and (on Unix) the folder synced.
    ///
    /// # Errors
    /// [`CheckpointError::Io`] when any step fails; `path` then still holds
    /// the previous document.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |source| CheckpointError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        };
        let doc = Document {
            version: VERSION,
            files: self.files.clone(),
            scanned: self.scanned.clone(),
        };
        let json = serde_json::to_vec_pretty(&doc)
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&json).map_err(io)?;
            f.write_all(b"\n").map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        #[cfg(unix)]
        {
            // The rename is durable only once the folder entry is.
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoints {
        Checkpoints {
            files: vec![FileCheckpoint {
                source: "despool".to_owned(),
                path: "/site/Logs/despool.log".to_owned(),
                key: 42,
                offset: 1234,
                skip_before: 0,
                id: FileId {
                    device: 1,
                    index: 99,
                },
                head: Fingerprint { len: 512, hash: 7 },
                tail: Fingerprint { len: 64, hash: 8 },
                finished: false,
                rotated: false,
            }],
            scanned: vec!["despool".to_owned()],
        }
    }

    /// Writes `content` as a checkpoint file and checks what `load` makes of it.
    fn check(content: &[u8], expected: Result<Checkpoints, &str>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoints.json");
        std::fs::write(&p, content).unwrap();
        match (Checkpoints::load(&p), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want),
            (Err(e), Err(want)) => {
                let msg = e.to_string();
                assert!(msg.contains(want), "{msg:?} should contain {want:?}");
            }
            (got, want) => panic!("got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn save_then_load_roundtrips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("checkpoints.json");
        assert_eq!(Checkpoints::load(&p).unwrap(), Checkpoints::default());
        sample().save(&p).unwrap();
        assert_eq!(Checkpoints::load(&p).unwrap(), sample());
        // Saving again replaces the document and leaves no temp file behind.
        Checkpoints::default().save(&p).unwrap();
        assert_eq!(Checkpoints::load(&p).unwrap(), Checkpoints::default());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("checkpoints.json")]);
    }

    #[test]
    fn unreadable_documents_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        sample().save(&p).unwrap();
        let good = std::fs::read(&p).unwrap();
        check(&good, Ok(sample()));
        check(b"", Err("it is empty"));
        check(b"  \n", Err("it is empty"));
        check(&good[..good.len() / 2], Err("is unreadable"));
        check(b"\xff\xfe garbage", Err("is unreadable"));
        check(b"[1, 2, 3]", Err("it has no version"));
        check(br#"{"hello": "world"}"#, Err("it has no version"));
        check(br#"{"version": 99, "files": []}"#, Err("has version 99"));
        check(br#"{"version": "1", "files": []}"#, Err("not a number"));
        check(br#"{"files": []}"#, Ok(Checkpoints::default()));
        check(
            br#"{"version": 1, "files": [{"source": 3}]}"#,
            Err("is unreadable"),
        );
        check(
            br#"{"version": 1, "files": [], "extra": true}"#,
            Ok(Checkpoints::default()),
        );
    }
}
