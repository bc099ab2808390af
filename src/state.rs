//! The state folder (`--state DIR`): an exclusive lock so that two agents
//! never share it, and the paths of what lives in it (tail checkpoints,
//! engine state).
//!
//! The lock is an OS file lock on `logwarden.lock` (`File::try_lock`), so it
//! disappears with the process, even after `kill -9`: a stale lock file never
//! blocks a restart.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Errors opening the state folder.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The folder could not be created or the lock file opened.
    #[error("cannot use state folder {path}: {source}; pass --state with a writable folder")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The folder cannot be written: an agent that cannot save its place
    /// would lose it at every restart, so it refuses to start.
    #[error(
        "cannot write to state folder {path}: {source}; make it writable for this account or pass --state with a writable folder"
    )]
    NotWritable {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another agent holds the lock.
    #[error(
        "state folder {path} is in use by another logwarden agent{pid}; stop it or pass a different --state folder"
    )]
    Locked {
        /// The folder.
        path: PathBuf,
        /// `" (pid N)"` when the other agent recorded it.
        pid: String,
    },
}

/// An open, locked state folder. The lock is released on drop.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: File,
}

impl StateDir {
    /// Creates (if needed) and locks `path`, and checks that the state can
    /// be written there.
    ///
    /// # Errors
    /// [`StateError::Locked`] when another agent holds it; [`StateError::Folder`]
    /// when it cannot be created or opened; [`StateError::NotWritable`] when
    /// the state's temporary file cannot be created in it (a read-only
    /// folder or file system).
    pub fn open(path: &Path) -> Result<StateDir, StateError> {
        let folder = |source| StateError::Folder {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(folder)?;
        let lock_path = path.join("logwarden.lock");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(folder)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let pid = std::fs::read_to_string(&lock_path)
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default();
                return Err(StateError::Locked {
                    path: path.to_path_buf(),
                    pid,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(folder(e)),
        }
        // Record our pid for the message another agent would print; the lock
        // itself is what counts.
        let _ = lock
            .set_len(0)
            .and_then(|()| write!(lock, "{}", std::process::id()));
        let dir = StateDir {
            path: path.to_path_buf(),
            _lock: lock,
        };
        // The lock file may be writable in a folder that is not (or may have
        // been opened on a read-only mount before): try what a save does.
        let probe = temp_path(&dir.file());
        File::create(&probe)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|source| StateError::NotWritable {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the agent's state lives: tail positions and the correlator's
    /// state, in one file so that they always agree.
    pub fn file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    /// Loads the saved state. A missing file is a first start; an unreadable
    /// or foreign one is reported, set aside as `state.json.corrupt`, and
    /// the agent starts afresh (files without a checkpoint then start per
    /// `--read-from`).
    pub fn load(&self) -> AgentState {
        let path = self.file();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return AgentState::default(),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "cannot read the saved state; starting afresh");
                return AgentState::default();
            }
        };
        match serde_json::from_slice::<AgentState>(&bytes) {
            Ok(s) if s.version == STATE_VERSION => s,
            Ok(s) => {
                self.set_aside(
                    &path,
                    &format!(
                        "it is version {}, this agent reads version {STATE_VERSION}",
                        s.version
                    ),
                );
                AgentState::default()
            }
            Err(e) => {
                self.set_aside(&path, &e.to_string());
                AgentState::default()
            }
        }
    }

    fn set_aside(&self, path: &Path, why: &str) {
        let aside = path.with_extension("json.corrupt");
        let moved = std::fs::rename(path, &aside).is_ok();
        tracing::error!(
            path = %path.display(),
            moved_to = %if moved { aside.display().to_string() } else { "(could not move it)".into() },
            reason = why,
            "the saved state is unreadable; starting afresh"
        );
    }

    /// Saves the state atomically.
    ///
    /// # Errors
    /// When it cannot be written (the previous state stays).
    pub fn save(&self, state: &AgentState) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(state).map_err(std::io::Error::other)?;
        write_atomic(&self.file(), &bytes)
    }
}

/// Version of `state.json`.
pub const STATE_VERSION: u32 = 1;

/// What the agent persists.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct AgentState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Tail positions.
    pub checkpoints: crate::source::Checkpoints,
    /// The correlator's state, consistent with the positions.
    pub engine: Option<crate::correlate::Snapshot>,
}

impl Default for AgentState {
    fn default() -> AgentState {
        AgentState {
            version: STATE_VERSION,
            checkpoints: crate::source::Checkpoints::default(),
            engine: None,
        }
    }
}

/// The default state folder of this platform: `%ProgramData%\logwarden` on
/// Windows; `$XDG_STATE_HOME/logwarden`, else `~/.local/state/logwarden`
/// elsewhere (and `./logwarden-state` when none of those is known).
pub fn default_dir() -> PathBuf {
    if cfg!(windows)
        && let Some(p) = std::env::var_os("ProgramData")
    {
        return PathBuf::from(p).join("logwarden");
    }
    if let Some(p) = std::env::var_os("XDG_STATE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("logwarden");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(home)
            .join(".local")
            .join("state")
            .join("logwarden");
    }
    PathBuf::from("logwarden-state")
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename (and, on
/// Unix, fsync of the folder so the rename itself survives a crash).
///
/// # Errors
/// Any I/O error; `path` then still holds its previous content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    #[cfg(unix)]
    {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The temporary file [`write_atomic`] writes before renaming it to `path`.
fn temp_path(path: &Path) -> PathBuf {
    path.with_extension("tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_open_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateDir::open(dir.path()).unwrap();
        let err = StateDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("in use by another logwarden agent")
        );
        drop(first);
        StateDir::open(dir.path()).unwrap();
    }

    #[test]
    fn corrupt_or_foreign_state_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        assert!(state.load().engine.is_none());
        for bad in [
            &b""[..],
            b"{\"version\": 1, \"checkpoints\"",
            b"{\"version\": 99, \"checkpoints\": {\"files\": []}}",
            b"\x00\xff",
        ] {
            std::fs::write(state.file(), bad).unwrap();
            let loaded = state.load();
            assert!(loaded.checkpoints.files.is_empty());
            assert!(!state.file().exists());
            assert_eq!(
                std::fs::read(dir.path().join("state.json.corrupt")).unwrap(),
                bad
            );
        }
        state.save(&AgentState::default()).unwrap();
        assert_eq!(state.load().version, STATE_VERSION);
    }

    #[test]
    fn a_folder_where_the_state_cannot_be_written_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // Root ignores permission bits; a folder squatting on the temporary
        // file's name makes the same write fail for everyone.
        std::fs::create_dir_all(dir.path().join("state.tmp/x")).unwrap();
        let err = StateDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, StateError::NotWritable { .. }), "{err}");
        assert!(
            err.to_string().contains("cannot write to state folder"),
            "{err}"
        );
        std::fs::remove_dir_all(dir.path().join("state.tmp")).unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        assert!(!dir.path().join("state.tmp").exists());
        state.save(&AgentState::default()).unwrap();
    }

    #[test]
    fn atomic_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert!(!dir.path().join("x.tmp").exists());
    }
}
