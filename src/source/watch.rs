//! File-system notifications as a wake-up hint. Never the ground truth: the
//! reader's periodic check decides what changed.
//!
//! Owns the `notify` watcher. Any event that may mean new data (a file
//! created, written, renamed or removed), error or queue overflow sends one
//! `()` on the wake channel without blocking, and notes what changed in
//! [`Changes`]: the names of files whose content changed, or "anything"
//! for every other event (a file created, renamed, removed; an error; a
//! queue overflow; too many names). The reader then checks just the files
//! named (a write to one log among 500 costs one `stat`, not a rescan of
//! every folder and file) or rescans everything. Does not choose the roots:
//! the caller passes the site root or the nearest existing ancestors of the
//! watched folders.
//!
//! Access events (a file or folder opened, read, closed) never wake: the
//! agent's own reads and folder listings cause them, and waking on them
//! made every rescan cause the next one (a busy loop: with 200 followed
//! files an idle debug agent used a fifth of a core).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crossbeam_channel::Sender;
use notify::{RecursiveMode, Watcher};

/// Names noted before the changes count as "anything" (a burst of writes to
/// many files is cheaper to meet with one rescan).
const MAX_NAMES: usize = 256;

/// What the notifications said since [`Watch::take`] was last called.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Something happened that calls for a full rescan.
    pub anything: bool,
    /// File names (ASCII-lower-cased, as path matching is case-insensitive)
    /// whose content or metadata changed.
    pub names: HashSet<OsString>,
}

impl Changes {
    /// Notes one event.
    fn note(&mut self, event: &notify::Result<notify::Event>) {
        use notify::EventKind;
        use notify::event::ModifyKind;
        match event {
            Ok(e)
                if matches!(
                    e.kind,
                    EventKind::Modify(
                        ModifyKind::Data(_) | ModifyKind::Metadata(_) | ModifyKind::Any
                    )
                ) && !e.paths.is_empty() =>
            {
                for p in &e.paths {
                    match p.file_name() {
                        Some(name) if self.names.len() < MAX_NAMES => {
                            self.names.insert(name.to_ascii_lowercase());
                        }
                        _ => self.anything = true,
                    }
                }
            }
            _ => self.anything = true,
        }
    }
}

/// Keeps a notification watcher alive; dropping it stops the notifications.
#[derive(Debug)]
pub struct Watch {
    _watcher: Option<notify::RecommendedWatcher>,
    roots: Vec<PathBuf>,
    changes: Arc<Mutex<Changes>>,
}

impl Watch {
    /// Watches `roots` recursively and sends `()` on `wake` (without
    /// blocking; a full channel means a wake-up is already pending) whenever
    /// something changes. When notifications are unavailable this logs a
    /// warning and returns a watch that never wakes: the periodic check still
    /// covers everything.
    pub fn new(roots: Vec<PathBuf>, wake: Sender<()>) -> Watch {
        let changes = Arc::new(Mutex::new(Changes::default()));
        let noted = Arc::clone(&changes);
        let handler = move |event: notify::Result<notify::Event>| {
            match &event {
                Ok(e) if !wakes(&e.kind) => return,
                Ok(_) => {}
                // Overflow and backend errors also wake: the rescan that
                // follows is the ground truth.
                Err(e) => tracing::debug!(error = %e, "file notification error"),
            }
            noted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .note(&event);
            let _ = wake.try_send(());
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "file notifications unavailable; relying on periodic rescans");
                return Watch {
                    _watcher: None,
                    roots: Vec::new(),
                    changes,
                };
            }
        };
        let mut watched = Vec::new();
        for root in roots {
            match watcher.watch(&root, RecursiveMode::Recursive) {
                Ok(()) => watched.push(root),
                Err(e) => tracing::warn!(
                    root = %root.display(),
                    error = %e,
                    "cannot watch folder; relying on periodic rescans for it"
                ),
            }
        }
        Watch {
            _watcher: Some(watcher),
            roots: watched,
            changes,
        }
    }

    /// What changed since the last call (and forgets it).
    pub fn take(&self) -> Changes {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The roots actually being watched.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }
}

/// Whether an event of this kind may mean new data to read.
fn wakes(kind: &notify::EventKind) -> bool {
    !matches!(kind, notify::EventKind::Access(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_change_wakes_and_a_missing_root_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let missing = dir.path().join("missing");
        let watch = Watch::new(vec![dir.path().to_path_buf(), missing], tx);
        assert_eq!(watch.roots(), [dir.path().to_path_buf()]);
        std::fs::create_dir(dir.path().join("Logs")).unwrap();
        std::fs::write(dir.path().join("Logs/x.log"), b"line\n").unwrap();
        // Blocks until the wake-up arrives; the deadline only bounds a broken run.
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(()));
        drop(watch);
    }

    #[test]
    fn a_write_names_its_file_and_anything_else_asks_for_a_rescan() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("Despool.LOG");
        std::fs::write(&log, b"line\n").unwrap();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let watch = Watch::new(vec![dir.path().to_path_buf()], tx);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, b"more\n").unwrap();
        // Blocks until the wake-up arrives; the deadline only bounds a broken run.
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(()));
        let changes = watch.take();
        assert!(!changes.anything, "{changes:?}");
        assert!(changes.names.contains(&OsString::from("despool.log")));
        assert_eq!(watch.take(), Changes::default());
        std::fs::write(dir.path().join("new.log"), b"x\n").unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(()));
        assert!(watch.take().anything, "a file created calls for a rescan");
    }

    #[test]
    fn reading_and_listing_do_not_wake() {
        use notify::EventKind;
        use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
        assert!(!wakes(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!wakes(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(wakes(&EventKind::Create(CreateKind::File)));
        assert!(wakes(&EventKind::Modify(ModifyKind::Any)));
        assert!(wakes(&EventKind::Any));
        // What the real backend reports for opening, reading and listing
        // watched files, up to a file created afterwards: none of it wakes.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.log"), b"line\n").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut watcher = notify::recommended_watcher(tx).unwrap();
        watcher.watch(dir.path(), RecursiveMode::Recursive).unwrap();
        for _ in 0..5 {
            std::fs::read(dir.path().join("x.log")).unwrap();
            std::fs::read_dir(dir.path()).unwrap().for_each(drop);
        }
        let marker = dir.path().join("marker");
        std::fs::write(&marker, b"").unwrap();
        let mut before = Vec::new();
        loop {
            // Blocks until the marker's event; the deadline only bounds a broken run.
            let event = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
            if event.paths.contains(&marker) && wakes(&event.kind) {
                break;
            }
            before.push(event.kind);
        }
        assert!(before.iter().all(|k| !wakes(k)), "{before:?}");
    }
}
