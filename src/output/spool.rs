//! The spool: a bounded, crash-safe, on-disk FIFO of documents for one
//! network output, in `STATE/spool/<output name>/`.
//!
//! The engine thread appends ([`Spool::append`], through [`SpooledOutput`]);
//! the output's delivery thread takes batches in order
//! ([`Spool::next_batch`]) and acknowledges them once the receiver has them
//! ([`Spool::ack`]). Owns the file format, bounds and overflow; does not
//! talk to receivers ([`super::delivery`]).
//!
//! # Files
//!
//! - `NNNNNNNNNNNNNNNNNNNN.seg`: segments, numbered in order, each a run of
//!   records `[length: u32 LE][xxh3-64 of the payload: u64 LE][payload]`,
//!   the payload being one document without its newline. A segment is
//!   closed at 8 MiB and a new one started; a restarted agent always starts
//!   a new segment, so nothing is ever appended after a damaged tail.
//! - `cursor`: `SEGMENT OFFSET`, the first record not yet acknowledged,
//!   replaced atomically (temp, fsync, rename) after every delivered batch.
//!   Segments wholly before it are deleted.
//!
//! # Durability
//!
//! An append is a `write` to the OS: it survives the agent being killed. It
//! is made to survive a power loss by [`Spool::sync`] (`fsync`), which the
//! agent calls before every state checkpoint, so a document is on stable
//! storage before the tail position that produced it is: after a power loss
//! at worst lines are re-read and their documents spooled again with the
//! same `event.id`. Delivery is at-least-once: a crash between a delivery
//! and its cursor update sends that batch again.
//!
//! # Damage
//!
//! Opening checks every record from the cursor on. A record that is torn (a
//! crash mid-append) or fails its hash cuts its segment there: the rest of
//! that segment is counted as dropped and logged, never a panic. A cursor
//! that is missing or unreadable starts at the oldest segment (documents
//! may be sent again, never lost).
//!
//! # Bounds and overflow
//!
//! `spool_max_bytes` (record bytes) and `spool_max_documents` bound what is
//! waiting, including the batch being delivered. When an append would
//! exceed them: with `overflow = "drop_oldest"` the oldest waiting
//! documents not already handed to the delivery thread are dropped (counted
//! in `dropped`, logged); with `"block"` (the default) the append waits for
//! room. The engine thread then stops taking batches, the reader's channel
//! fills and reading pauses: the lines stay in the logs, on disk, and are
//! read when the receiver is back. A stopping agent does not wait: it
//! writes past the bound (logged) so that shutdown never hangs and nothing
//! read is lost.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::{Output, OutputError};
use crate::config::Overflow;
use crate::health::OutputCounters;
use crate::time::Stopwatch;

/// A segment is closed once it holds this many bytes.
const SEGMENT_BYTES: u64 = 8 * 1024 * 1024;
/// Record header: length (u32) and hash (u64).
const HEADER: u64 = 12;
/// A record longer than this is damage, not a document (documents are
/// bounded by the line cap and evidence count).
const MAX_RECORD: u32 = 64 * 1024 * 1024;

/// Errors opening a spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool folder or one of its files could not be used.
    #[error("cannot use spool folder {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// How big a spool may grow and what happens then.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SpoolLimits {
    /// Bytes of records waiting.
    pub max_bytes: u64,
    /// Documents waiting.
    pub max_documents: Option<u64>,
    /// What a full spool does.
    pub overflow: Overflow,
}

/// A position: segment number and byte offset.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    seq: u64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    /// Bytes of valid records.
    len: u64,
}

#[derive(Debug)]
struct Inner {
    segments: VecDeque<Segment>,
    writer: File,
    /// Appends not yet fsynced.
    dirty: bool,
    /// Segments created (or deleted) since the folder was last fsynced.
    dir_dirty: bool,
    /// First record not acknowledged (persisted in `cursor`).
    read: Pos,
    /// Next record to hand out; `read..head` is in flight.
    head: Pos,
    /// Read handle: segment number and file.
    reader: Option<(u64, File)>,
    inflight_docs: u64,
    inflight_bytes: u64,
    pending_docs: u64,
    pending_bytes: u64,
    /// Throttles the "spool full" log lines.
    last_full_log: Option<Stopwatch>,
}

/// One output's spool. Shared by the engine thread (appends) and the
/// delivery thread (batches, acks).
#[derive(Debug)]
pub struct Spool {
    name: String,
    dir: PathBuf,
    limits: SpoolLimits,
    inner: Mutex<Inner>,
    /// Signalled when documents arrive.
    data: Condvar,
    /// Signalled when room is made.
    room: Condvar,
    counters: Arc<OutputCounters>,
    /// Set when the agent stops: appends no longer wait for room.
    stopping: Arc<AtomicBool>,
}

fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

impl Spool {
    /// Opens (creating) the spool in `dir`, checking every waiting record.
    /// `stopping` is the agent's stop flag (see the module docs on `block`).
    ///
    /// # Errors
    /// When the folder or a segment cannot be created, listed or read.
    pub fn open(
        name: &str,
        dir: &Path,
        limits: SpoolLimits,
        counters: Arc<OutputCounters>,
        stopping: Arc<AtomicBool>,
    ) -> Result<Spool, SpoolError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SpoolError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut seqs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let file_name = entry.file_name();
            let n = file_name.to_string_lossy();
            if let Some(seq) = n.strip_suffix(".seg").and_then(|s| s.parse::<u64>().ok()) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let cursor = read_cursor(&dir.join("cursor"));
        let mut read = match (cursor, seqs.first()) {
            (Some(c), _) => c,
            (None, Some(&first)) => Pos {
                seq: first,
                offset: 0,
            },
            (None, None) => Pos { seq: 1, offset: 0 },
        };
        let mut segments = VecDeque::new();
        let mut docs = 0;
        let mut bytes = 0;
        let mut lost = 0;
        for &seq in &seqs {
            let path = seg_path(dir, seq);
            if seq < read.seq {
                // Delivered before the cursor was written last.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let from = if seq == read.seq { read.offset } else { 0 };
            let scan = scan_segment(&path, from).map_err(io(&path))?;
            if scan.damaged_bytes > 0 {
                lost += scan.damaged_bytes;
                tracing::warn!(
                    output = name,
                    path = %path.display(),
                    at = scan.valid_end,
                    bytes = scan.damaged_bytes,
                    "spool segment has a torn or damaged record (a crash mid-write?); cut there"
                );
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                f.set_len(scan.valid_end).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            if seq == read.seq && scan.start > read.offset {
                read.offset = scan.start;
            }
            docs += scan.docs;
            bytes += scan.bytes;
            segments.push_back(Segment {
                seq,
                len: scan.valid_end,
            });
        }
        if lost > 0 {
            // Bytes, not documents: a torn record has no count of its own.
            OutputCounters::add(&counters.dropped, 1);
        }
        // Segments read to their end need not wait for the next ack: the
        // writer is always a new segment.
        while let Some(front) = segments.front()
            && front.seq == read.seq
            && read.offset >= front.len
        {
            let _ = std::fs::remove_file(seg_path(dir, front.seq));
            segments.pop_front();
            read = Pos {
                seq: read.seq + 1,
                offset: 0,
            };
        }
        if segments.front().is_none_or(|s| s.seq != read.seq) {
            read = Pos {
                seq: segments.front().map_or(read.seq.max(1), |s| s.seq),
                offset: 0,
            };
        }
        let next = seqs.last().map_or(read.seq, |&l| l + 1).max(read.seq);
        let writer = create_segment(dir, next).map_err(io(dir))?;
        segments.push_back(Segment { seq: next, len: 0 });
        if docs > 0 {
            tracing::info!(
                output = name,
                documents = docs,
                bytes,
                "spooled documents from an earlier run will be delivered first"
            );
        }
        OutputCounters::add(&counters.spool_documents, docs);
        OutputCounters::add(&counters.spool_bytes, bytes);
        Ok(Spool {
            name: name.to_owned(),
            dir: dir.to_path_buf(),
            limits,
            inner: Mutex::new(Inner {
                segments,
                writer,
                dirty: false,
                dir_dirty: true,
                read,
                head: read,
                reader: None,
                inflight_docs: 0,
                inflight_bytes: 0,
                pending_docs: docs,
                pending_bytes: bytes,
                last_full_log: None,
            }),
            data: Condvar::new(),
            room: Condvar::new(),
            counters,
            stopping,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock means a thread panicked mid-update; the data on
        // disk is still the truth, so carry on with what is in memory.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Documents and bytes waiting (in flight included).
    pub fn depth(&self) -> (u64, u64) {
        let g = self.lock();
        (
            g.pending_docs + g.inflight_docs,
            g.pending_bytes + g.inflight_bytes,
        )
    }

    /// Appends one document (a line; its trailing newline is not stored).
    ///
    /// # Errors
    /// When the record cannot be written (disk full, …).
    pub fn append(&self, line: &str) -> Result<(), std::io::Error> {
        let payload = line.strip_suffix('\n').unwrap_or(line).as_bytes();
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|&l| l <= MAX_RECORD)
            .ok_or_else(|| std::io::Error::other("document too large for the spool"))?;
        let size = HEADER + u64::from(len);
        let mut g = self.lock();
        g = self.make_room(g, size);
        let mut rec = Vec::with_capacity(size as usize);
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes());
        rec.extend_from_slice(payload);
        let roll = g.segments.back().is_some_and(|s| s.len >= SEGMENT_BYTES);
        if roll {
            let seq = g.segments.back().map_or(1, |s| s.seq + 1);
            g.writer.sync_data()?;
            g.writer = create_segment(&self.dir, seq)?;
            g.segments.push_back(Segment { seq, len: 0 });
            g.dir_dirty = true;
        }
        if let Err(e) = g.writer.write_all(&rec) {
            // A partial record may be on disk: cut it so the next append
            // starts clean (the next open would cut it anyway).
            let keep = g.segments.back().map_or(0, |s| s.len);
            let _ = g.writer.set_len(keep);
            let _ = g.writer.seek(SeekFrom::Start(keep));
            return Err(e);
        }
        if let Some(s) = g.segments.back_mut() {
            s.len += size;
        }
        g.dirty = true;
        g.pending_docs += 1;
        g.pending_bytes += size;
        OutputCounters::add(&self.counters.spooled, 1);
        OutputCounters::add(&self.counters.spool_documents, 1);
        OutputCounters::add(&self.counters.spool_bytes, size);
        drop(g);
        self.data.notify_all();
        Ok(())
    }

    /// Waits or drops until a record of `size` bytes fits (see the module
    /// docs); returns the guard.
    fn make_room<'a>(&'a self, mut g: MutexGuard<'a, Inner>, size: u64) -> MutexGuard<'a, Inner> {
        let full = |g: &Inner| {
            let docs = g.pending_docs + g.inflight_docs;
            let bytes = g.pending_bytes + g.inflight_bytes;
            docs > 0
                && (bytes + size > self.limits.max_bytes
                    || self.limits.max_documents.is_some_and(|m| docs + 1 > m))
        };
        let mut dropped = 0u64;
        while full(&g) {
            match self.limits.overflow {
                Overflow::DropOldest => {
                    if g.pending_docs == 0 || !self.drop_one(&mut g) {
                        // Only the batch in flight is left: it cannot be
                        // taken back, so the bound is exceeded briefly.
                        break;
                    }
                    dropped += 1;
                }
                Overflow::Block => {
                    if self.stopping.load(Ordering::SeqCst) {
                        tracing::warn!(output = %self.name, "spool full while stopping; writing past its bound so that nothing read is lost");
                        break;
                    }
                    if g.last_full_log
                        .is_none_or(|s| s.elapsed() >= Duration::from_secs(30))
                    {
                        g.last_full_log = Some(Stopwatch::start());
                        tracing::warn!(output = %self.name, "spool full (overflow = \"block\"): reading pauses until the receiver takes documents again; nothing is dropped");
                    }
                    g = self
                        .room
                        .wait_timeout(g, Duration::from_millis(500))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            }
        }
        if dropped > 0 {
            OutputCounters::add(&self.counters.dropped, dropped);
            if g.last_full_log
                .is_none_or(|s| s.elapsed() >= Duration::from_secs(10))
            {
                g.last_full_log = Some(Stopwatch::start());
                tracing::warn!(output = %self.name, dropped, total_dropped = self.counters.dropped.load(Ordering::Relaxed), "spool full (overflow = \"drop_oldest\"): oldest documents dropped");
            }
        }
        g
    }

    /// Skips the oldest pending record (moves `head`). False when it cannot
    /// be read (then nothing is dropped).
    fn drop_one(&self, g: &mut Inner) -> bool {
        match self.read_record(g, false) {
            Ok(Some((_, size))) => {
                g.pending_docs = g.pending_docs.saturating_sub(1);
                g.pending_bytes = g.pending_bytes.saturating_sub(size);
                self.counters
                    .spool_documents
                    .fetch_sub(1, Ordering::Relaxed);
                self.counters.spool_bytes.fetch_sub(
                    size.min(self.counters.spool_bytes.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                if g.inflight_docs == 0 {
                    g.read = g.head;
                }
                true
            }
            _ => false,
        }
    }

    /// Makes every append so far durable (fsync). Called before the agent
    /// saves its state.
    ///
    /// # Errors
    /// The fsync error.
    pub fn sync(&self) -> std::io::Result<()> {
        let mut g = self.lock();
        if g.dirty {
            g.writer.sync_data()?;
            g.dirty = false;
        }
        if g.dir_dirty {
            sync_dir(&self.dir);
            g.dir_dirty = false;
        }
        Ok(())
    }

    /// Takes the next documents in order: at least one, at most `max_docs`
    /// and (beyond the first) `max_bytes`, waiting up to `wait` for one to
    /// arrive. Returns none when nothing came or a batch is still in
    /// flight (unacknowledged).
    pub fn next_batch(&self, max_docs: usize, max_bytes: usize, wait: Duration) -> Vec<String> {
        let mut g = self.lock();
        if g.inflight_docs > 0 {
            return Vec::new();
        }
        if g.pending_docs == 0 {
            g = self
                .data
                .wait_timeout(g, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while g.pending_docs > 0 && out.len() < max_docs.max(1) {
            let before = g.head;
            match self.read_record(&mut g, true) {
                Ok(Some((Some(doc), size))) => {
                    if !out.is_empty() && bytes + doc.len() > max_bytes {
                        g.head = before;
                        break;
                    }
                    bytes += doc.len();
                    out.push(doc);
                    g.pending_docs -= 1;
                    g.pending_bytes = g.pending_bytes.saturating_sub(size);
                    g.inflight_docs += 1;
                    g.inflight_bytes += size;
                }
                Ok(_) => {
                    // Nothing readable although documents were counted (a
                    // damaged segment was skipped): the count was wrong.
                    if out.is_empty() {
                        g.pending_docs = 0;
                        g.pending_bytes = 0;
                    }
                    break;
                }
                Err(e) => {
                    tracing::error!(output = %self.name, error = %e, "cannot read the spool; retrying");
                    if out.is_empty() {
                        // Do not spin on a persistent error.
                        let _ = self.data.wait_timeout(g, wait);
                        return out;
                    }
                    break;
                }
            }
        }
        out
    }

    /// Reads the record at `head` and moves `head` past it; `with_payload`
    /// false skips the payload. Damage found now (the disk changed under
    /// us) skips the rest of the segment, counted as dropped.
    fn read_record(
        &self,
        g: &mut Inner,
        with_payload: bool,
    ) -> std::io::Result<Option<(Option<String>, u64)>> {
        loop {
            let head = g.head;
            let Some(idx) = g.segments.iter().position(|s| s.seq == head.seq) else {
                // The head's segment is gone: go to the first one after it.
                match g.segments.iter().find(|s| s.seq > head.seq) {
                    Some(s) => {
                        g.head = Pos {
                            seq: s.seq,
                            offset: 0,
                        };
                        continue;
                    }
                    None => return Ok(None),
                }
            };
            let seg_len = g.segments[idx].len;
            if head.offset >= seg_len {
                match g.segments.get(idx + 1) {
                    Some(next) => {
                        g.head = Pos {
                            seq: next.seq,
                            offset: 0,
                        };
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            if g.reader.as_ref().is_none_or(|(s, _)| *s != head.seq) {
                g.reader = Some((head.seq, File::open(seg_path(&self.dir, head.seq))?));
            }
            let Some((_, f)) = g.reader.as_mut() else {
                return Ok(None);
            };
            f.seek(SeekFrom::Start(head.offset))?;
            let mut hdr = [0u8; HEADER as usize];
            f.read_exact(&mut hdr)?;
            let (len, hash) = split_header(&hdr);
            let size = HEADER + u64::from(len);
            let damaged = len > MAX_RECORD || head.offset + size > seg_len;
            let mut payload = Vec::new();
            if !damaged {
                payload.resize(len as usize, 0);
                f.read_exact(&mut payload)?;
            }
            if damaged || xxhash_rust::xxh3::xxh3_64(&payload) != hash {
                tracing::error!(output = %self.name, segment = head.seq, offset = head.offset, "spool record damaged after it was written; the rest of its segment is skipped");
                OutputCounters::add(&self.counters.dropped, 1);
                g.segments[idx].len = head.offset;
                continue;
            }
            g.head = Pos {
                seq: head.seq,
                offset: head.offset + size,
            };
            let doc = if with_payload {
                match String::from_utf8(payload) {
                    Ok(s) => Some(s),
                    Err(e) => Some(String::from_utf8_lossy(e.as_bytes()).into_owned()),
                }
            } else {
                None
            };
            return Ok(Some((doc, size)));
        }
    }

    /// Acknowledges the batch in flight: the receiver has it (or refused it
    /// for good). Persists the cursor and deletes finished segments.
    ///
    /// # Errors
    /// When the cursor cannot be written (the batch may be sent again).
    pub fn ack(&self) -> std::io::Result<()> {
        let mut g = self.lock();
        let (docs, bytes) = (g.inflight_docs, g.inflight_bytes);
        g.inflight_docs = 0;
        g.inflight_bytes = 0;
        g.read = g.head;
        self.counters.spool_documents.fetch_sub(
            docs.min(self.counters.spool_documents.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        self.counters.spool_bytes.fetch_sub(
            bytes.min(self.counters.spool_bytes.load(Ordering::Relaxed)),
            Ordering::Relaxed,
        );
        // A finished segment that is not the one being written: move past it.
        let last = g.segments.back().map_or(0, |s| s.seq);
        let read = g.read;
        if read.seq != last
            && g.segments
                .iter()
                .find(|s| s.seq == read.seq)
                .is_some_and(|s| read.offset >= s.len)
            && let Some(next) = g.segments.iter().find(|s| s.seq > read.seq)
        {
            g.read = Pos {
                seq: next.seq,
                offset: 0,
            };
            if g.head < g.read {
                g.head = g.read;
            }
        }
        let text = format!("{} {}\n", g.read.seq, g.read.offset);
        crate::state::write_atomic(&self.dir.join("cursor"), text.as_bytes())?;
        let read = g.read;
        while g.segments.front().is_some_and(|s| s.seq < read.seq) {
            if let Some(s) = g.segments.pop_front() {
                if g.reader.as_ref().is_some_and(|(r, _)| *r == s.seq) {
                    g.reader = None;
                }
                let _ = std::fs::remove_file(seg_path(&self.dir, s.seq));
                g.dir_dirty = true;
            }
        }
        drop(g);
        self.room.notify_all();
        Ok(())
    }

    /// Returns the batch in flight to the spool without acknowledging it
    /// (the agent stops mid-delivery): it is sent first next time.
    pub fn release(&self) {
        let mut g = self.lock();
        g.head = g.read;
        g.pending_docs += g.inflight_docs;
        g.pending_bytes += g.inflight_bytes;
        g.inflight_docs = 0;
        g.inflight_bytes = 0;
    }

    /// The output's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn split_header(hdr: &[u8; HEADER as usize]) -> (u32, u64) {
    let mut len = [0u8; 4];
    let mut hash = [0u8; 8];
    len.copy_from_slice(&hdr[..4]);
    hash.copy_from_slice(&hdr[4..]);
    (u32::from_le_bytes(len), u64::from_le_bytes(hash))
}

fn create_segment(dir: &Path, seq: u64) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(seg_path(dir, seq))
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn read_cursor(path: &Path) -> Option<Pos> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace();
    let seq = it.next()?.parse().ok()?;
    let offset = it.next()?.parse().ok()?;
    Some(Pos { seq, offset })
}

/// What opening found in one segment.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    /// Where reading starts (the cursor offset, or 0).
    start: u64,
    /// End of the last valid record.
    valid_end: u64,
    /// Valid records from `start`.
    docs: u64,
    /// Their bytes.
    bytes: u64,
    /// Bytes after `valid_end` (torn or damaged).
    damaged_bytes: u64,
}

/// Checks every record of the segment at `path` from `from` on. A cursor
/// offset past the end or in the middle of nowhere is treated as damage
/// from there.
fn scan_segment(path: &Path, from: u64) -> std::io::Result<Scan> {
    let mut f = File::open(path)?;
    let total = f.metadata()?.len();
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let total = total.min(buf.len() as u64);
    let start = from.min(total);
    let mut at = start;
    let mut scan = Scan {
        start,
        ..Scan::default()
    };
    while at < total {
        let rest = &buf[at as usize..];
        if rest.len() < HEADER as usize {
            break;
        }
        let mut hdr = [0u8; HEADER as usize];
        hdr.copy_from_slice(&rest[..HEADER as usize]);
        let (len, hash) = split_header(&hdr);
        if len > MAX_RECORD || (rest.len() as u64) < HEADER + u64::from(len) {
            break;
        }
        let payload = &rest[HEADER as usize..(HEADER + u64::from(len)) as usize];
        if xxhash_rust::xxh3::xxh3_64(payload) != hash {
            break;
        }
        at += HEADER + u64::from(len);
        scan.docs += 1;
        scan.bytes += HEADER + u64::from(len);
    }
    scan.valid_end = at;
    scan.damaged_bytes = total - at;
    Ok(scan)
}

/// The [`Output`] side of a spool: what the engine writes to.
#[derive(Debug, Clone)]
pub struct SpooledOutput {
    spool: Arc<Spool>,
}

impl SpooledOutput {
    /// Writes to `spool`.
    pub fn new(spool: Arc<Spool>) -> SpooledOutput {
        SpooledOutput { spool }
    }
}

impl Output for SpooledOutput {
    fn send(&mut self, line: &str) -> Result<(), OutputError> {
        self.spool
            .append(line)
            .map_err(|source| OutputError::Write {
                target: format!("the spool of output {:?}", self.spool.name()),
                source,
            })
    }

    fn name(&self) -> String {
        self.spool.name().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_bytes: u64, max_documents: Option<u64>, overflow: Overflow) -> SpoolLimits {
        SpoolLimits {
            max_bytes,
            max_documents,
            overflow,
        }
    }

    fn open(dir: &Path, l: SpoolLimits) -> (Spool, Arc<OutputCounters>) {
        let c = Arc::new(OutputCounters::default());
        let s = Spool::open(
            "t",
            dir,
            l,
            Arc::clone(&c),
            Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
        (s, c)
    }

    fn big() -> SpoolLimits {
        limits(1 << 30, None, Overflow::Block)
    }

    /// Drains everything the spool hands out, acknowledging each batch.
    fn drain(s: &Spool, batch: usize) -> Vec<String> {
        let mut all = Vec::new();
        loop {
            let b = s.next_batch(batch, usize::MAX, Duration::ZERO);
            if b.is_empty() {
                return all;
            }
            all.extend(b);
            s.ack().unwrap();
        }
    }

    fn docs(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("{{\"n\":{i}}}")).collect()
    }

    #[test]
    fn documents_come_out_in_order_across_batches_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let (s, c) = open(dir.path(), big());
        for d in docs(0..10) {
            s.append(&format!("{d}\n")).unwrap();
        }
        let first = s.next_batch(4, usize::MAX, Duration::ZERO);
        assert_eq!(first, docs(0..4));
        s.ack().unwrap();
        // Handed out but never acknowledged: sent again after a restart.
        assert_eq!(s.next_batch(3, usize::MAX, Duration::ZERO), docs(4..7));
        drop(s);
        let (s, _) = open(dir.path(), big());
        assert_eq!(s.depth().0, 6);
        assert_eq!(drain(&s, 100), docs(4..10));
        assert_eq!(c.spooled.load(Ordering::Relaxed), 10);
        assert_eq!(s.depth(), (0, 0));
    }

    #[test]
    fn a_torn_last_record_is_cut_on_open_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = open(dir.path(), big());
        for d in docs(0..3) {
            s.append(&d).unwrap();
        }
        drop(s);
        let seg = seg_path(dir.path(), 1);
        let full = std::fs::read(&seg).unwrap();
        // Every possible tear inside the last record.
        let last_start = full.len() - (HEADER as usize + docs(2..3)[0].len());
        for cut in last_start + 1..full.len() {
            let d2 = tempfile::tempdir().unwrap();
            std::fs::write(seg_path(d2.path(), 1), &full[..cut]).unwrap();
            let (s, c) = open(d2.path(), big());
            s.append("{\"after\":1}").unwrap();
            let mut want = docs(0..2);
            want.push("{\"after\":1}".into());
            assert_eq!(drain(&s, 2), want, "cut at {cut}");
            assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
        }
    }

    #[test]
    fn a_damaged_record_cuts_its_segment_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = open(dir.path(), big());
        for d in docs(0..3) {
            s.append(&d).unwrap();
        }
        drop(s);
        let seg = seg_path(dir.path(), 1);
        let mut bytes = std::fs::read(&seg).unwrap();
        let second = HEADER as usize + docs(0..1)[0].len();
        bytes[second + HEADER as usize] ^= 0x55; // a payload byte of record 2
        std::fs::write(&seg, &bytes).unwrap();
        let (s, c) = open(dir.path(), big());
        assert_eq!(drain(&s, 10), docs(0..1));
        assert_eq!(c.dropped.load(Ordering::Relaxed), 1);
        // Garbage instead of a length: no panic, no allocation of 4 GiB.
        std::fs::write(seg_path(dir.path(), 9), [0xFFu8; 40]).unwrap();
        let (s, _) = open(dir.path(), big());
        assert!(drain(&s, 10).is_empty());
    }

    #[test]
    fn the_cursor_survives_and_finished_segments_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = open(dir.path(), big());
        s.append("a").unwrap();
        drop(s);
        let (s, _) = open(dir.path(), big());
        s.append("b").unwrap();
        assert_eq!(drain(&s, 1), ["a", "b"]);
        let segs: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".seg"))
            .collect();
        assert_eq!(segs.len(), 1, "only the segment being written is left");
        drop(s);
        let (s, _) = open(dir.path(), big());
        assert!(drain(&s, 10).is_empty(), "nothing delivered twice");
        // A lost cursor sends everything left again rather than losing it.
        s.append("c").unwrap();
        drop(s);
        std::fs::remove_file(dir.path().join("cursor")).unwrap();
        let (s, _) = open(dir.path(), big());
        assert_eq!(drain(&s, 10), ["c"]);
    }

    #[test]
    fn drop_oldest_keeps_the_newest_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (s, c) = open(dir.path(), limits(1 << 20, Some(3), Overflow::DropOldest));
        for d in docs(0..10) {
            s.append(&d).unwrap();
        }
        assert_eq!(c.dropped.load(Ordering::Relaxed), 7);
        assert_eq!(drain(&s, 10), docs(7..10));
        // A batch in flight is never dropped; the bound gives way instead.
        s.append("x").unwrap();
        let inflight = s.next_batch(10, usize::MAX, Duration::ZERO);
        assert_eq!(inflight, ["x"]);
        for d in docs(20..24) {
            s.append(&d).unwrap();
        }
        s.ack().unwrap();
        assert_eq!(drain(&s, 10), docs(22..24));
        assert_eq!(c.dropped.load(Ordering::Relaxed), 9);
        // Dropped documents stay dropped after a restart.
        drop(s);
        let (s, _) = open(dir.path(), limits(1 << 20, Some(3), Overflow::DropOldest));
        assert!(drain(&s, 10).is_empty());
    }

    #[test]
    fn block_waits_for_room_until_the_agent_stops() {
        let dir = tempfile::tempdir().unwrap();
        let c = Arc::new(OutputCounters::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let s = Arc::new(
            Spool::open(
                "t",
                dir.path(),
                limits(1 << 20, Some(2), Overflow::Block),
                Arc::clone(&c),
                Arc::clone(&stopping),
            )
            .unwrap(),
        );
        s.append("a").unwrap();
        s.append("b").unwrap();
        let writer = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.append("c").unwrap())
        };
        // The writer cannot finish until a document is delivered.
        let batch = s.next_batch(1, usize::MAX, Duration::from_secs(5));
        assert_eq!(batch, ["a"]);
        s.ack().unwrap();
        writer.join().unwrap();
        assert_eq!(drain(&s, 10), ["b", "c"]);
        // Stopping: appends go past the bound instead of hanging.
        s.append("d").unwrap();
        s.append("e").unwrap();
        stopping.store(true, Ordering::SeqCst);
        s.append("f").unwrap();
        assert_eq!(c.dropped.load(Ordering::Relaxed), 0);
        assert_eq!(drain(&s, 10), ["d", "e", "f"]);
    }

    #[test]
    fn segments_roll_and_batches_respect_the_byte_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = open(dir.path(), big());
        let doc = "x".repeat(1024 * 1024);
        for _ in 0..10 {
            s.append(&doc).unwrap();
        }
        s.sync().unwrap();
        let b = s.next_batch(100, 3 * 1024 * 1024, Duration::ZERO);
        assert_eq!(b.len(), 3);
        s.ack().unwrap();
        assert_eq!(drain(&s, 100).len(), 7);
        drop(s);
        let (s, _) = open(dir.path(), big());
        assert!(drain(&s, 100).is_empty());
    }
}
