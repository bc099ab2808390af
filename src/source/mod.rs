//! Sources: followed log files ([`Tailer`]) and sampled folders
//! ([`gauge`]). Owns all file-system reading; hands out parsed records.
//!
//! Notifications ([`watch`]) only wake the reader; the state of each file
//! (identity, size, checkpointed offset) decides what is read.
//!
//! The tailer follows file *incarnations*, not paths: a file is known by its
//! handle identity and content fingerprints ([`identity`]), so a log renamed
//! to `.lo_` is drained through the handle already open, a copy made by
//! copy-then-truncate rotation is recognised as already-read content, and a
//! truncation is seen by content even when the file regrew past its old size
//! between two scans. Paths ([`path`]) are resolved case-insensitively on
//! every platform. [`checkpoint`] stores positions durably.
//!
//! **Architecture invariant:** the tailer never reads the clock; time comes
//! in through [`Tailer::rescan`]. Records are handed to a sink borrowed from
//! the read buffer (push model): nothing is copied per line here.
//!
//! Decisions where the contract is silent:
//! - `read_from = end` starts at the beginning of the last line (a partial
//!   last line is delivered whole once its newline arrives).
//! - `read_from = end` applies at the first scan to files of sources that
//!   were never scanned (a first start, or a source new to the rules): the
//!   checkpoints record the sources scanned ([`Checkpoints::scanned`]), so
//!   a file without a checkpoint whose source was scanned before (created or
//!   rotated in while the agent was stopped, even as the source's first
//!   file) is read from its beginning.
//! - Several sources matching one file follow it independently.
//! - A checkpointed file that cannot be found at start is reported as a
//!   possible gap (warning) unless its folder is missing, in which case the
//!   checkpoint is kept until the folder comes back.
//! - A rotated file is drained before its successor at the same path is read
//!   ([`Tailer::read`] reads the older incarnation first, and its size is
//!   looked at again when the successor is found, since a `stat` earlier in
//!   the same scan may predate the writes before the rename); late writes
//!   that arrive during the grace period come after the successor's lines.
//! - A partial last line of a rotated or deleted file is handed out when the
//!   file is closed (after the grace period); of a live file, never.
//! - A copy (`X.lo_`) is recognised by name (the rotated name of a followed
//!   file), head fingerprint and the bytes before the original's checkpoint;
//!   a file that merely shares a header line with another is a new file. A
//!   file at that name shorter than the checkpoint whose bytes so far are
//!   the followed file's (a copy still being written) is left alone until
//!   a later scan finds it complete.
//! - A checkpoint is always at a line start. When a CMTrace record not
//!   handed out yet starts mid-line after other records, the checkpoint is
//!   that line's start, and [`FileCheckpoint::skip_before`] says which of
//!   its records were handed out (likewise while the rest of a cut line is
//!   skipped): a restart reads the line again and hands out only the rest,
//!   with the offsets (hence ids) it would have had.
//! - A file found on the handle identity of a file that had left its path
//!   (rotated, deleted) is a new file on a reused inode; its key is chained
//!   from the old one so `event.id`s never repeat across incarnations.
//! - Known limit: a file truncated and rewritten between two scans byte for
//!   byte identical up to where it had been read (a header-only file
//!   rewritten with the same header) cannot be told from an unchanged one.

pub mod checkpoint;
pub mod gauge;
pub mod identity;
pub mod path;
mod tail;
pub mod watch;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::event::{FileKey, Record, SourceId};
use crate::rule::SourceDef;
use crate::time::Timestamp;

pub use checkpoint::{CheckpointError, Checkpoints, FileCheckpoint};

use identity::{FileId, Stat};
use path::{Listing, PathPattern, Want};
use tail::{Opening, Outcome, Start, State, TailedFile};

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
    /// Open handles above this are closed ("parked"), idlest first, for live
    /// files that are read to their end; a parked file is reopened by
    /// identity when its size or modification time changes. Files with
    /// unread bytes and rotated files keep their handles, so the count may
    /// exceed the cap while they do.
    pub max_open_files: usize,
}

impl Default for TailOptions {
    fn default() -> TailOptions {
        TailOptions {
            site: PathBuf::from("."),
            read_from: ReadFrom::End,
            max_line_bytes: 1 << 20,
            rotated_grace: Duration::from_secs(5),
            max_open_files: 512,
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

/// Counters of the [`Tailer`] since it was created (SPEC §10 health).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TailStats {
    /// Physical lines handed to the parser.
    pub lines_read: u64,
    /// Lines longer than the cap, cut.
    pub lines_cut: u64,
    /// Bytes read from files.
    pub bytes_read: u64,
    /// Files found renamed away from their path.
    pub rotations: u64,
    /// Files found truncated (in place, or truncated and regrown).
    pub truncations: u64,
    /// File handles opened.
    pub files_opened: u64,
    /// File handles closed.
    pub files_closed: u64,
    /// Files open now.
    pub files_open: u64,
    /// Live files whose handle is parked now (see
    /// [`TailOptions::max_open_files`]).
    pub files_parked: u64,
    /// Times content was lost before it could be read (a file truncated or
    /// gone with unread bytes).
    pub gaps: u64,
    /// Bytes known to be lost in those gaps.
    pub gap_bytes: u64,
}

/// A file that was followed and is finished (drained and closed, or a copy
/// of content already read): remembered while a path pattern still matches
/// it, so that it is not read again.
#[derive(Clone, Debug)]
struct Done {
    checkpoint: FileCheckpoint,
    /// Size and modification time when last found unchanged; `None` until
    /// the content has been verified once.
    seen: Option<(u64, Option<SystemTime>)>,
}

/// Follows every file matched by the sources' paths.
///
/// Call [`Tailer::rescan`] periodically (and on notifications), then
/// [`Tailer::read`] the indices [`Tailer::ready`] returns until each reports
/// `eof`. Save [`Tailer::checkpoints`] after the pipeline has taken the
/// records handed out.
///
/// # Example
/// ```
/// use logwarden::source::{Checkpoints, ReadFrom, TailOptions, Tailer};
/// use logwarden::rule::{Format, Location, SourceDef};
/// use logwarden::time::{TimeZoneSpec, Timestamp};
///
/// let site = tempfile::tempdir().unwrap();
/// std::fs::create_dir(site.path().join("Logs")).unwrap();
/// std::fs::write(site.path().join("Logs/Despool.log"), "one\ntwo\npart").unwrap();
/// let source = SourceDef {
///     id: "despool".into(),
///     path: r"logs\despool.log".into(),
///     format: Format::Plain,
///     timezone: TimeZoneSpec::Utc,
///     clock_tolerance: logwarden::rule::DEFAULT_CLOCK_TOLERANCE,
///     location: Location::default(),
/// };
/// let options = TailOptions {
///     site: site.path().into(),
///     read_from: ReadFrom::Beginning,
///     ..TailOptions::default()
/// };
/// let mut tailer = Tailer::new(vec![source], options, Checkpoints::default());
/// tailer.rescan(Timestamp::EPOCH);
/// let mut lines = Vec::new();
/// for i in tailer.ready() {
///     while !tailer.read(i, 4096, |_, r| lines.push(r.message.to_owned())).unwrap().eof {}
/// }
/// assert_eq!(lines, ["one", "two"]); // "part" waits for its newline
/// ```
#[derive(Debug)]
pub struct Tailer {
    sources: Vec<SourceDef>,
    patterns: Vec<Option<PathPattern>>,
    options: TailOptions,
    files: Vec<TailedFile>,
    done: HashMap<(SourceId, FileId), Done>,
    /// Finished incarnations by lineage and handle identity: a new file on
    /// the same identity at the same path (a reused inode) chains its key.
    retired: HashMap<(u64, FileId), FileCheckpoint>,
    /// Checkpoints not matched to a file yet.
    pending: Vec<FileCheckpoint>,
    /// Sources that had checkpoints at start, or had been scanned before:
    /// their new files are read from the beginning even at the first scan.
    checkpointed: HashSet<String>,
    scanned: bool,
    next_order: u64,
    scratch: Vec<u8>,
    stats: TailStats,
}

impl Tailer {
    /// A tailer for `sources`, resuming from `checkpoints`. Nothing is
    /// opened until the first [`Tailer::rescan`]. A source whose path is not
    /// a valid pattern is reported (warning) and follows nothing.
    pub fn new(sources: Vec<SourceDef>, options: TailOptions, checkpoints: Checkpoints) -> Tailer {
        let patterns = sources
            .iter()
            .map(|s| match PathPattern::new(&options.site, &s.path) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(source = %s.id, error = %e, "source path is not usable; it follows nothing");
                    None
                }
            })
            .collect();
        let checkpointed = checkpoints
            .files
            .iter()
            .map(|c| c.source.clone())
            .chain(checkpoints.scanned)
            .collect();
        Tailer {
            sources,
            patterns,
            options,
            files: Vec::new(),
            done: HashMap::new(),
            retired: HashMap::new(),
            pending: checkpoints.files,
            checkpointed,
            scanned: false,
            next_order: 0,
            scratch: Vec::new(),
            stats: TailStats::default(),
        }
    }

    /// Resolves every source path and checks every followed file: new
    /// files, rotations, truncations, deletions. `now` drives time-based
    /// decisions such as the grace period of rotated files.
    ///
    /// # Performance
    /// When nothing changed this lists the folders involved and `stat`s each
    /// followed file and path; it reads no file content.
    pub fn rescan(&mut self, now: Timestamp) {
        let grace = self.options.rotated_grace;
        for f in &mut self.files {
            f.check(now, grace, &mut self.stats);
        }
        self.compact();

        let mut listing = Listing::new();
        let open: HashSet<(SourceId, FileId)> =
            self.files.iter().map(|f| (f.source, f.id)).collect();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for (si, pattern) in self.patterns.iter().enumerate() {
            let Some(pattern) = pattern else { continue };
            let source = SourceId(si as u32);
            for path in pattern.resolve(Want::Files, &mut listing) {
                let Ok(st) = identity::stat_path(&path) else {
                    continue;
                };
                if !st.is_file {
                    continue;
                }
                seen.insert((source, st.id));
                if open.contains(&(source, st.id)) {
                    continue;
                }
                let mut resume = None;
                let mut previous = None;
                if let Some(d) = self.done.get_mut(&(source, st.id)) {
                    if d.seen == Some((st.len, st.modified)) {
                        continue;
                    }
                    // Changed, or not verified yet: the same content up to
                    // where it was read? Back at the path it had left, it
                    // is a new file on a reused inode.
                    let at_own_path =
                        lineage(source, Path::new(&d.checkpoint.path)) == lineage(source, &path);
                    let same = if at_own_path {
                        None
                    } else {
                        verify(&path, &d.checkpoint)
                    };
                    match same {
                        Some((_, v)) if v.len == d.checkpoint.offset => {
                            d.seen = Some((st.len, st.modified));
                            continue;
                        }
                        // Written to since it was closed: follow it again.
                        Some(_) => resume = Some(d.checkpoint.clone()),
                        // Another file on a reused inode.
                        None => {
                            previous = (d.checkpoint.key != 0).then_some(FileKey(d.checkpoint.key))
                        }
                    }
                    self.done.remove(&(source, st.id));
                }
                found.push(Candidate {
                    source,
                    path,
                    stat: st,
                    previous,
                    resume,
                });
            }
        }
        if !self.pending.is_empty() {
            self.restore(&mut found, &mut listing, now);
        }
        for c in found {
            self.follow_new(c, now);
        }
        let open: HashSet<(SourceId, FileId)> =
            self.files.iter().map(|f| (f.source, f.id)).collect();
        let gone: Vec<(SourceId, FileId)> = self
            .done
            .keys()
            .filter(|k| !seen.contains(k) || open.contains(k))
            .copied()
            .collect();
        for k in gone {
            if let Some(d) = self.done.remove(&k) {
                let lineage = lineage(k.0, Path::new(&d.checkpoint.path));
                self.retire(lineage, d.checkpoint);
            }
        }
        self.scanned = true;
        self.park_idle();
        self.update_counts();
    }

    /// Parks the handles of the idlest drained live files above the cap.
    fn park_idle(&mut self) {
        let open = self.files.iter().filter(|f| f.handle().is_some()).count();
        let cap = self.options.max_open_files.max(1);
        if open <= cap {
            return;
        }
        let mut idle: Vec<usize> = (0..self.files.len())
            .filter(|&i| self.files[i].parkable())
            .collect();
        idle.sort_by_key(|&i| self.files[i].last_change);
        for i in idle.into_iter().take(open - cap) {
            self.files[i].park(&mut self.stats);
        }
    }

    fn update_counts(&mut self) {
        self.stats.files_open = self.files.iter().filter(|f| f.handle().is_some()).count() as u64;
        self.stats.files_parked = self.files.iter().filter(|f| f.is_parked()).count() as u64;
    }

    /// [`Tailer::poll`] for the followed files whose name (ASCII case
    /// folded) is in `names`, as file notifications report them.
    pub fn poll_named(&mut self, names: &HashSet<std::ffi::OsString>, now: Timestamp) {
        let grace = self.options.rotated_grace;
        for f in &mut self.files {
            let named = std::path::Path::new(&*f.path)
                .file_name()
                .is_some_and(|n| names.contains(&n.to_ascii_lowercase()));
            if named {
                f.check(now, grace, &mut self.stats);
            }
        }
        self.update_counts();
    }

    /// Checks the files already followed (size, rotation, deletion, the
    /// grace period of rotated files) without looking for new files: a
    /// cheaper check for a short poll interval between rescans. Indices from
    /// [`Tailer::ready`] stay valid across it.
    pub fn poll(&mut self, now: Timestamp) {
        let grace = self.options.rotated_grace;
        for f in &mut self.files {
            f.check(now, grace, &mut self.stats);
        }
        self.update_counts();
    }

    /// Drops closed files, remembering them as done.
    fn compact(&mut self) {
        let mut kept = Vec::with_capacity(self.files.len());
        for f in std::mem::take(&mut self.files) {
            if f.state != State::Closed {
                kept.push(f);
                continue;
            }
            let Some(def) = self.sources.get(f.source.index()) else {
                continue;
            };
            let checkpoint = f.checkpoint(&def.id);
            self.retire(f.lineage, checkpoint.clone());
            // A rotated file may still sit where a pattern matches it (`X.lo_`
            // under a `*` glob): remember it so it is not read again. A
            // deleted one is gone; its inode may be reused by a new file.
            if !f.was_deleted {
                self.done.insert(
                    (f.source, f.id),
                    Done {
                        checkpoint,
                        seen: None,
                    },
                );
            }
        }
        self.files = kept;
    }

    /// Matches pending checkpoints to files found (or to their rotated
    /// siblings) and resumes them.
    fn restore(&mut self, found: &mut Vec<Candidate>, listing: &mut Listing, now: Timestamp) {
        let mut pending = std::mem::take(&mut self.pending);
        // Files still followed at the stop first: a finished file that shared
        // a handle identity (a reused inode) must not decide the chaining.
        pending.sort_by_key(|cp| cp.finished);
        // (A finished file's inode may have been reused by a copy.)
        let claimed: HashSet<FileId> = pending
            .iter()
            .filter(|cp| !cp.finished)
            .map(|cp| cp.id)
            .collect();
        for cp in pending {
            let Some(si) = self.sources.iter().position(|s| s.id == cp.source) else {
                tracing::debug!(source = %cp.source, "checkpoint of a source no longer configured dropped");
                continue;
            };
            let source = SourceId(si as u32);
            if self
                .files
                .iter()
                .any(|f| f.source == source && f.id == cp.id)
            {
                continue;
            }
            let cp_path = PathBuf::from(&cp.path);
            let lineage = lineage(source, &cp_path);
            let key = (cp.key != 0).then_some(FileKey(cp.key));
            if cp.finished {
                // Entries of files still followed at the stop (processed
                // first) are newer than finished ones on the same identity.
                if !self.retired.contains_key(&(lineage, cp.id)) {
                    self.retire(lineage, cp.clone());
                }
            }
            // At a followed path, unchanged up to the checkpoint.
            let mut truncated = false;
            if let Some(pos) = found
                .iter()
                .position(|c| c.source == source && c.stat.id == cp.id)
            {
                // A file that had left its path (rotated, finished) is
                // recognised again only under another name (`X.lo_` under a
                // glob): back at its own path, a file on its handle identity
                // is a new file on a reused inode.
                let at_own_path = lineage == self::lineage(source, &found[pos].path);
                let usable = !(at_own_path && (cp.finished || cp.rotated));
                if usable && let Some((h, st)) = verify(&found[pos].path, &cp) {
                    let c = found.remove(pos);
                    // Found under another name a pattern also matches: it was
                    // rotated while the agent was stopped.
                    let moved = lineage != self::lineage(source, &c.path);
                    if is_rotated_name(&c.path) && st.len == cp.offset {
                        self.remember_done(source, &cp, &st);
                    } else {
                        let state = if moved { State::Rotated } else { State::Live };
                        self.resume(source, lineage, c.path, h, st, &cp, key, state, now);
                    }
                    continue;
                }
                // Same handle, other content: truncated (or the inode was
                // reused) while stopped. It is read as a new incarnation;
                // its old content may survive in a copy, looked for below.
                if found[pos].previous.is_none() {
                    found[pos].previous = key;
                }
                truncated = true;
            }
            if cp.finished {
                // Nothing more is expected from it; only an exact handle
                // match (above) may stand for it.
                continue;
            }
            // Renamed (same handle identity) or copied before a truncation
            // (another identity) to the rotated name. A copy is believed only
            // when the original was found truncated at its path, and never
            // when another checkpoint names the file: files may share a
            // header line, and a checkpoint may cover no more than that.
            let mut matched = false;
            for sib in listing.rotated_siblings(&cp_path) {
                let Some((h, st)) = verify(&sib, &cp) else {
                    continue;
                };
                if st.id != cp.id && (!truncated || claimed.contains(&st.id)) {
                    continue;
                }
                found.retain(|c| !(c.source == source && c.stat.id == st.id));
                if st.len == cp.offset {
                    self.remember_done(source, &cp, &st);
                } else {
                    self.resume(source, lineage, sib, h, st, &cp, key, State::Rotated, now);
                }
                matched = true;
                break;
            }
            if matched {
                continue;
            }
            if cp_path.parent().is_some_and(|d| !d.is_dir()) {
                // The folder is gone (a network share down?): keep the
                // checkpoint until it is back.
                self.pending.push(cp);
                continue;
            }
            self.retire(lineage, cp.clone());
            self.stats.gaps += 1;
            tracing::warn!(
                path = %cp.path,
                offset = cp.offset,
                "a checkpointed file is gone; lines written to it after the checkpoint, if any, were lost"
            );
        }
    }

    fn remember_done(&mut self, source: SourceId, cp: &FileCheckpoint, st: &Stat) {
        self.done.insert(
            (source, st.id),
            Done {
                checkpoint: FileCheckpoint {
                    id: st.id,
                    finished: true,
                    ..cp.clone()
                },
                seen: Some((st.len, st.modified)),
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn resume(
        &mut self,
        source: SourceId,
        lineage: u64,
        path: PathBuf,
        handle: File,
        stat: Stat,
        cp: &FileCheckpoint,
        key: Option<FileKey>,
        state: State,
        now: Timestamp,
    ) {
        let order = self.order();
        self.open(Opening {
            source,
            path,
            origin: PathBuf::from(&cp.path),
            lineage,
            order,
            handle,
            stat,
            start: Start::At(cp.offset),
            skip_before: cp.skip_before,
            key,
            previous_key: None,
            state,
            max_line: self.options.max_line_bytes,
            now,
        });
    }

    /// Opens a file no one follows yet.
    fn follow_new(&mut self, c: Candidate, now: Timestamp) {
        let handle = match identity::open_shared(&c.path) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(path = %c.path.display(), error = %e, "cannot open log file; will retry");
                return;
            }
        };
        // The path may have been replaced between the stat and the open.
        let stat = match identity::stat_handle(&handle) {
            Ok(st) if st.id == c.stat.id => st,
            _ => return,
        };
        match self.copy_of_open(c.source, &c.path, &handle, &stat) {
            // A rotated copy (`X.lo_`) of a file being followed: its content
            // is read through the original (or, after the original is
            // truncated, from this copy at the original's checkpoint).
            Copy::Of(copied) => {
                self.remember_done(c.source, &copied, &stat);
                return;
            }
            Copy::InProgress => return,
            Copy::No => {}
        }
        let Some(def) = self.sources.get(c.source.index()) else {
            return;
        };
        let first_start = !self.scanned
            && self.options.read_from == ReadFrom::End
            && !self.checkpointed.contains(&def.id);
        let order = self.order();
        let lineage = lineage(c.source, &c.path);
        let previous = c.previous.or_else(|| self.previous_key(lineage, stat.id));
        let (start, key) = match &c.resume {
            Some(cp) => (
                Start::At(cp.offset),
                (cp.key != 0).then_some(FileKey(cp.key)),
            ),
            None if first_start => (Start::End, None),
            None => (Start::Beginning, None),
        };
        let skip_before = c.resume.as_ref().map_or(0, |cp| cp.skip_before);
        let origin = match &c.resume {
            Some(cp) => PathBuf::from(&cp.path),
            None => c.path.clone(),
        };
        self.open(Opening {
            source: c.source,
            lineage,
            origin,
            path: c.path,
            order,
            handle,
            stat,
            start,
            skip_before,
            key,
            previous_key: previous,
            state: State::Live,
            max_line: self.options.max_line_bytes,
            now,
        });
    }

    /// Opens a file with its source's format and time zone.
    fn open(&mut self, o: Opening) {
        let Some(def) = self.sources.get(o.source.index()) else {
            return;
        };
        let path = o.path.clone();
        let now = o.now;
        match TailedFile::open(o, def.format, def.timezone.clone()) {
            Ok(f) => {
                self.stats.files_opened += 1;
                tracing::debug!(path = %f.path, "following file");
                // Older incarnations at this path: bytes written to them
                // before they were rotated come first, so look again now.
                for g in &mut self.files {
                    if g.lineage == f.lineage && g.order < f.order {
                        g.refresh(now);
                    }
                }
                self.files.push(f);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read log file; will retry");
            }
        }
    }

    /// The key of the latest incarnation of `lineage` on the handle `id`.
    fn previous_key(&self, lineage: u64, id: FileId) -> Option<FileKey> {
        let live = self
            .files
            .iter()
            .filter(|f| f.lineage == lineage && f.id == id && f.has_key())
            .max_by_key(|f| f.order)
            .map(|f| f.key());
        live.or_else(|| {
            self.retired
                .get(&(lineage, id))
                .filter(|cp| cp.key != 0)
                .map(|cp| FileKey(cp.key))
        })
    }

    /// Remembers a finished incarnation for key chaining.
    fn retire(&mut self, lineage: u64, cp: FileCheckpoint) {
        if cp.key == 0 {
            return;
        }
        if self.retired.len() >= MAX_RETIRED {
            // Bounded memory; only chaining for long-gone paths is lost.
            self.retired.clear();
        }
        self.retired.insert(
            (lineage, cp.id),
            FileCheckpoint {
                finished: true,
                ..cp
            },
        );
    }

    fn order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    /// Compares a file at `path` with the files this source follows: is
    /// it a copy (`X.lo_`, copy-then-truncate rotation) of one of them?
    ///
    /// A copy holds the followed file's content up to the file's checkpoint
    /// (then its whole length is accounted for: the checkpoint it stands at
    /// is returned), or is still being written: shorter than that, but
    /// byte for byte the followed file's start so far. A copy in progress
    /// is neither read nor remembered; the next scan looks at it again.
    fn copy_of_open(&self, source: SourceId, path: &Path, handle: &File, stat: &Stat) -> Copy {
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_lowercase()) else {
            return Copy::No;
        };
        let Some(def) = self.sources.get(source.index()) else {
            return Copy::No;
        };
        for f in &self.files {
            if f.source != source || f.path_buf.parent() != path.parent() {
                continue;
            }
            let Some(rotated) = f
                .path_buf
                .file_name()
                .and_then(|n| path::rotated_name(&n.to_string_lossy()))
            else {
                continue;
            };
            if rotated.to_lowercase() != name {
                continue;
            }
            let cp = f.checkpoint(&def.id);
            let whole = stat.len >= cp.offset
                && cp.head.matches_head(handle).unwrap_or(false)
                && cp.tail.matches_before(handle, cp.offset).unwrap_or(false);
            if whole {
                return Copy::Of(FileCheckpoint {
                    offset: stat.len,
                    skip_before: 0,
                    ..cp
                });
            }
            if stat.len < cp.offset
                && f.handle()
                    .is_some_and(|original| identity::same_start(original, handle, stat.len))
            {
                return Copy::InProgress;
            }
        }
        Copy::No
    }

    /// Indices of followed files that may have unread bytes, oldest
    /// incarnation first. Valid until the next [`Tailer::rescan`].
    pub fn ready(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.files.len())
            .filter(|&i| self.files[i].has_work())
            .collect();
        out.sort_by_key(|&i| self.files[i].order);
        out
    }

    /// The file at `index` (from [`Tailer::ready`]), if any.
    pub fn file(&self, index: usize) -> Option<FileView<'_>> {
        self.files.get(index).map(|f| FileView {
            source: f.source,
            key: f.key(),
            path: &f.path,
        })
    }

    /// Counters since the tailer was created.
    pub fn stats(&self) -> TailStats {
        self.stats
    }

    /// Reads up to `max_bytes` from file `index` and calls `sink` with every
    /// complete record.
    ///
    /// When an older incarnation at the same path (a file rotated away, a
    /// copy of a truncated file) still has unread content, that content is
    /// read first, so a path's lines come out in the order they were written;
    /// `eof` is then false.
    ///
    /// # Errors
    /// I/O errors reading the file (the file stays followed), and an index
    /// that names no followed file (`InvalidInput`).
    pub fn read<F: FnMut(FileView<'_>, &Record<'_>)>(
        &mut self,
        index: usize,
        max_bytes: usize,
        mut sink: F,
    ) -> std::io::Result<ReadStatus> {
        if index >= self.files.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("no followed file at index {index}"),
            ));
        }
        // A truncation found on the first try is handled (copy looked for,
        // incarnation restarted) and the read is tried once more.
        for _ in 0..2 {
            let file = &self.files[index];
            let target = self
                .files
                .iter()
                .enumerate()
                .filter(|(_, g)| g.lineage == file.lineage && g.order < file.order && !g.drained())
                .min_by_key(|(_, g)| g.order)
                .map_or(index, |(j, _)| j);
            let outcome = self.files[target].read(
                max_bytes,
                &mut self.scratch,
                &mut self.stats,
                &mut sink,
            )?;
            match outcome {
                Outcome::Read(st) if target == index => return Ok(st),
                Outcome::Read(st) => {
                    return Ok(ReadStatus {
                        bytes: st.bytes,
                        eof: false,
                    });
                }
                Outcome::Truncated => self.truncated(target, &mut sink)?,
            }
        }
        Ok(ReadStatus {
            bytes: 0,
            eof: false,
        })
    }

    /// File `index` was truncated: its unread content is looked for in a
    /// rotated copy (copy-then-truncate), else flushed and counted as a gap;
    /// then the file starts over as a new incarnation.
    fn truncated<F: FnMut(FileView<'_>, &Record<'_>)>(
        &mut self,
        index: usize,
        sink: &mut F,
    ) -> std::io::Result<()> {
        let retired = self.files[index].retired();
        let f = &self.files[index];
        let (source, lineage, now, origin) = (f.source, f.lineage, f.last_change, f.origin.clone());
        let mut copy = None;
        for sib in Listing::new().rotated_siblings(&f.path_buf) {
            let Ok(h) = identity::open_shared(&sib) else {
                continue;
            };
            let Ok(st) = identity::stat_handle(&h) else {
                continue;
            };
            // A copy holding no more than what was handed out is still
            // recognised: it must not be read later as a new file.
            // (A file of this source that is closed, or closing, no longer
            // holds its identity: a deleted one's inode may be the copy's.)
            let is_copy = st.id != retired.id
                && st.len >= retired.safe
                && !self.files.iter().any(|g| {
                    g.source == source
                        && g.id == st.id
                        && !matches!(g.state, State::Closed | State::Finishing)
                })
                && retired.head.matches_head(&h).unwrap_or(false)
                && retired
                    .safe_tail
                    .matches_before(&h, retired.safe)
                    .unwrap_or(false);
            if is_copy {
                copy = Some((sib, h, st));
                break;
            }
        }
        let order = self.order();
        // Whether the copy holds more than was handed out: then the rest is
        // read from it (and the truncated incarnation's buffered partial
        // line with it).
        let has_copy = copy
            .as_ref()
            .is_some_and(|(_, _, st): &(PathBuf, File, Stat)| st.len > retired.safe);
        if !has_copy && retired.unread > 0 {
            self.stats.gaps += 1;
            self.stats.gap_bytes += retired.unread;
            tracing::warn!(
                path = %self.files[index].path,
                bytes = retired.unread,
                "file truncated before it was read to the end; the unread lines are lost"
            );
        }
        tracing::debug!(path = %self.files[index].path, "followed file truncated; reading it from the start");
        self.files[index].restart(order, !has_copy, &mut self.stats, sink)?;
        if let Some((path, _, stat)) = copy.as_ref().filter(|_| !has_copy) {
            let Some(def) = self.sources.get(source.index()) else {
                return Ok(());
            };
            let cp = FileCheckpoint {
                source: def.id.clone(),
                path: origin.display().to_string(),
                key: retired.key.map_or(0, |k| k.0),
                offset: stat.len,
                skip_before: 0,
                id: stat.id,
                head: retired.head,
                tail: retired.safe_tail,
                finished: true,
                rotated: true,
            };
            tracing::debug!(path = %path.display(), "copy of a truncated file found, already read");
            self.remember_done(source, &cp, stat);
            return Ok(());
        }
        if let Some((path, handle, stat)) = copy {
            self.done.remove(&(source, stat.id));
            self.open(Opening {
                source,
                path,
                origin,
                lineage,
                order: retired.order,
                handle,
                stat,
                start: Start::At(retired.safe),
                skip_before: retired.safe_skip,
                key: retired.key,
                previous_key: None,
                state: State::Rotated,
                max_line: self.options.max_line_bytes,
                now,
            });
        }
        Ok(())
    }

    /// The position of every followed file: what to persist so that a
    /// restart reads nothing twice. Each position is just past the last
    /// record handed to a sink.
    pub fn checkpoints(&self) -> Checkpoints {
        let mut files: Vec<FileCheckpoint> = self
            .files
            .iter()
            .filter_map(|f| Some(f.checkpoint(&self.sources.get(f.source.index())?.id)))
            .collect();
        files.extend(self.done.values().map(|d| d.checkpoint.clone()));
        files.extend(self.pending.iter().cloned());
        for cp in self.retired.values() {
            if !files
                .iter()
                .any(|f| f.source == cp.source && f.id == cp.id && f.key == cp.key)
            {
                files.push(cp.clone());
            }
        }
        // After the first scan every source has been scanned; before it,
        // what the checkpoints loaded said.
        let scanned = self
            .sources
            .iter()
            .filter(|s| self.scanned || self.checkpointed.contains(&s.id))
            .map(|s| s.id.clone())
            .collect();
        Checkpoints { files, scanned }
    }
}

/// How many finished lineages are remembered for key chaining.
const MAX_RETIRED: usize = 4096;

/// What [`Tailer::copy_of_open`] makes of a file at a rotated name.
#[derive(Debug)]
enum Copy {
    /// A whole copy of a followed file's content up to its checkpoint:
    /// the checkpoint it stands at (its whole length).
    Of(FileCheckpoint),
    /// The start of a followed file's content, still being copied.
    InProgress,
    /// Not a copy of a followed file.
    No,
}

/// A file found by a scan that no one follows yet.
#[derive(Debug)]
struct Candidate {
    source: SourceId,
    path: PathBuf,
    stat: Stat,
    /// The key of the incarnation a checkpoint knew on this handle.
    previous: Option<FileKey>,
    /// A finished file found written to again: where to resume it.
    resume: Option<FileCheckpoint>,
}

/// Files at one path (compared case-insensitively) of one source share a
/// lineage across rotations.
fn lineage(source: SourceId, path: &Path) -> u64 {
    let text = path.to_string_lossy().to_lowercase();
    let mut bytes = source.0.to_le_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// `X.lo_`-style names: rotated copies.
fn is_rotated_name(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with('_'))
}

/// Opens `path` and checks it holds the checkpointed content: the same head
/// and the same bytes before the offset.
fn verify(path: &Path, cp: &FileCheckpoint) -> Option<(File, Stat)> {
    let h = identity::open_shared(path).ok()?;
    let st = identity::stat_handle(&h).ok()?;
    let ok = st.len >= cp.offset
        && cp.head.matches_head(&h).ok()?
        && cp.tail.matches_before(&h, cp.offset).ok()?;
    ok.then_some((h, st))
}
