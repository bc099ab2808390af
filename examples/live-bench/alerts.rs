//! Follows the agent's NDJSON alert file and notes when each marker's
//! document appears: a thread that reads what was appended, then sleeps
//! `poll` (well under a millisecond) when nothing was.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::site::MARK;

/// What the follower saw.
#[derive(Debug, Default)]
pub struct Observed {
    /// Per marker sequence number: when its document was first read.
    pub seen: Vec<Option<Instant>>,
    /// Documents read (all kinds).
    pub docs: u64,
    /// Marker documents read more than once.
    pub duplicates: u64,
    /// Documents that named no marker.
    pub others: u64,
    /// Reads of the file that returned data.
    pub reads: u64,
    /// When a new `state.json` was first seen (the agent replaces it by
    /// rename at every save; checked every 2 ms).
    pub saves: Vec<Instant>,
}

/// A running follower.
pub struct AlertTail {
    stop: Arc<AtomicBool>,
    markers: Arc<AtomicU64>,
    handle: JoinHandle<Observed>,
}

impl AlertTail {
    /// Starts following `path` (which may not exist yet), and noting the
    /// saves of `state` (the agent's `state.json`).
    pub fn follow(path: PathBuf, state: PathBuf, poll: Duration) -> AlertTail {
        let stop = Arc::new(AtomicBool::new(false));
        let markers = Arc::new(AtomicU64::new(0));
        let (s, m) = (Arc::clone(&stop), Arc::clone(&markers));
        let handle = std::thread::Builder::new()
            .name("alert-tail".into())
            .spawn(move || run(&path, &state, poll, &s, &m))
            .unwrap_or_else(|e| panic!("cannot start the alert follower: {e}"));
        AlertTail {
            stop,
            markers,
            handle,
        }
    }

    /// Distinct marker documents seen so far.
    pub fn markers(&self) -> u64 {
        self.markers.load(Ordering::Relaxed)
    }

    /// Waits until `n` markers are seen or `within` passes; returns when
    /// the last one needed was seen (as observed by this poll), if all were.
    pub fn wait_for(&self, n: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.markers() < n {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Stops following and returns what was seen.
    pub fn finish(self) -> Observed {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}

fn run(
    path: &PathBuf,
    state: &PathBuf,
    poll: Duration,
    stop: &AtomicBool,
    markers: &AtomicU64,
) -> Observed {
    let mut obs = Observed::default();
    let mut inode = 0u64;
    let mut checked: Option<Instant> = None;
    let mut check_state = |obs: &mut Observed| {
        let now = Instant::now();
        if checked.is_some_and(|c| now.duration_since(c) < Duration::from_millis(2)) {
            return;
        }
        checked = Some(now);
        if let Ok(m) = std::fs::metadata(state) {
            let ino = identity(&m);
            if ino != inode {
                inode = ino;
                obs.saves.push(now);
            }
        }
    };
    let mut file = loop {
        if let Ok(f) = std::fs::File::open(path) {
            break f;
        }
        if stop.load(Ordering::SeqCst) {
            return obs;
        }
        std::thread::sleep(poll);
    };
    let mut buf = vec![0u8; 1 << 20];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        // Read once more after the stop flag: nothing written before it is missed.
        let stopping = stop.load(Ordering::SeqCst);
        check_state(&mut obs);
        let n = file.read(&mut buf).unwrap_or(0);
        if n == 0 {
            if stopping {
                return obs;
            }
            std::thread::sleep(poll);
            continue;
        }
        let at = Instant::now();
        obs.reads += 1;
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &pending[start..]) {
            let line = &pending[start..start + i];
            start += i + 1;
            obs.docs += 1;
            match marker_seq(line) {
                Some(seq) => {
                    let seq = seq as usize;
                    if obs.seen.len() <= seq {
                        obs.seen.resize(seq + 1, None);
                    }
                    if obs.seen[seq].is_some() {
                        obs.duplicates += 1;
                    } else {
                        obs.seen[seq] = Some(at);
                        markers.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => obs.others += 1,
            }
        }
        pending.drain(..start);
    }
}

/// The sequence number after the first `LWMARK seq=` in a document.
fn marker_seq(line: &[u8]) -> Option<u64> {
    let at = memchr::memmem::find(line, MARK.as_bytes())? + MARK.len();
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&line[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// What changes when a file is replaced by rename: the inode on Unix, the
/// modification time elsewhere.
#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn identity(m: &std::fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}
