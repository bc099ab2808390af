//! The writer: appends lines to one hot log at a set rate, in one `write`
//! per tick, every `marker_every`th line a marker carrying its sequence
//! number; optionally rotates the log the SMS 2.0 way (rename to `.lo_`,
//! replacing the previous one, then a new log) and touches cold logs.
//! Notes when each marker's write returned, and where it is in the stream.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::site::{LineGen, sms_time};

/// What to write.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The hot log.
    pub path: PathBuf,
    /// Lines per second (the writer catches up when it oversleeps).
    pub rate: u64,
    /// How often it writes.
    pub tick: Duration,
    /// How long.
    pub duration: Duration,
    /// Every this many lines, a marker.
    pub marker_every: u64,
    /// Rotate the hot log when it holds this many bytes.
    pub rotate_bytes: Option<u64>,
    /// Cold logs: one noise line to the next one every `cold_every` ticks.
    pub cold: Vec<PathBuf>,
    /// See `cold`.
    pub cold_every: u64,
    /// Seed of the noise.
    pub seed: u64,
    /// Threshold rules the noise is made for.
    pub rules: usize,
    /// Keep a (time, bytes written) point at most this often (`None`: none).
    pub timeline_every: Option<Duration>,
}

/// One marker written.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    /// When the `write` that carried it returned.
    pub at: Instant,
    /// Bytes written to the hot log (all incarnations) before it.
    pub offset: u64,
}

/// What the writer did.
#[derive(Debug)]
pub struct Written {
    /// Per marker sequence number.
    pub marks: Vec<Mark>,
    /// Hot-log lines.
    pub lines: u64,
    /// Hot-log bytes.
    pub bytes: u64,
    /// Cold-log lines.
    pub cold_lines: u64,
    /// First write started.
    pub started: Instant,
    /// Last write returned.
    pub ended: Instant,
    /// (time, hot bytes written by then).
    pub timeline: Vec<(Instant, u64)>,
    /// Rotations done.
    pub rotations: u64,
    /// The longest single write.
    pub max_write: Duration,
}

/// Progress the writer publishes while it runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Hot-log lines written.
    pub lines: AtomicU64,
    /// Markers written.
    pub markers: AtomicU64,
    /// Rotations done.
    pub rotations: AtomicU64,
    /// Set to stop early.
    pub stop: AtomicBool,
}

fn open_append(path: &PathBuf) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Runs `plan` on this thread.
///
/// # Errors
/// I/O errors of the writes and renames.
pub fn write(plan: &Plan, progress: &Progress) -> std::io::Result<Written> {
    let mut noise = LineGen::new(plan.seed, plan.rules);
    let mut file = open_append(&plan.path)?;
    let mut file_bytes = file.metadata()?.len();
    let rotated = plan.path.with_extension("lo_");
    let mut buf = Vec::with_capacity(1 << 20);
    let mut cold_buf = Vec::new();
    let mut new_marks: Vec<(u64, u64)> = Vec::new();
    let per_tick = (plan.rate as f64 * plan.tick.as_secs_f64()).max(1.0);
    // Catching up after an oversleep: at most ten ticks' worth per write.
    let max_batch = (per_tick * 10.0).ceil() as u64;
    let mut out = Written {
        marks: Vec::new(),
        lines: 0,
        bytes: 0,
        cold_lines: 0,
        started: Instant::now(),
        ended: Instant::now(),
        timeline: Vec::new(),
        rotations: 0,
        max_write: Duration::ZERO,
    };
    let start = out.started;
    let mut last_point: Option<Instant> = None;
    let mut tick: u64 = 0;
    let mut cold_next = 0usize;
    loop {
        let now = Instant::now();
        let elapsed = now.duration_since(start);
        if elapsed >= plan.duration || progress.stop.load(Ordering::Relaxed) {
            break;
        }
        let due = (plan.rate as f64 * elapsed.as_secs_f64()) as u64 + per_tick as u64;
        let n = due.saturating_sub(out.lines).min(max_batch);
        if n > 0 {
            buf.clear();
            new_marks.clear();
            let time = sms_time(SystemTime::now());
            for i in 0..n {
                let line = out.lines + i;
                if line.is_multiple_of(plan.marker_every) {
                    let seq = line / plan.marker_every;
                    new_marks.push((seq, out.bytes + buf.len() as u64));
                    noise.marker(seq, &time, &mut buf);
                } else {
                    noise.filler(&time, &mut buf);
                }
            }
            let before = Instant::now();
            file.write_all(&buf)?;
            let at = Instant::now();
            out.max_write = out.max_write.max(at.duration_since(before));
            for &(seq, offset) in &new_marks {
                debug_assert_eq!(seq as usize, out.marks.len());
                out.marks.push(Mark { at, offset });
            }
            out.lines += n;
            out.bytes += buf.len() as u64;
            out.ended = at;
            file_bytes += buf.len() as u64;
            if let Some(every) = plan.timeline_every
                && last_point.is_none_or(|l| at.duration_since(l) >= every)
            {
                out.timeline.push((at, out.bytes));
                last_point = Some(at);
            }
            progress.lines.store(out.lines, Ordering::Relaxed);
            progress
                .markers
                .store(out.marks.len() as u64, Ordering::Relaxed);
            if plan.rotate_bytes.is_some_and(|r| file_bytes >= r) {
                // SMS 2.0: the full log becomes X.lo_ (replacing the last
                // one) and a new X.log starts.
                drop(file);
                std::fs::rename(&plan.path, &rotated)?;
                file = open_append(&plan.path)?;
                file_bytes = 0;
                out.rotations += 1;
                progress.rotations.store(out.rotations, Ordering::Relaxed);
            }
        }
        if !plan.cold.is_empty() && tick.is_multiple_of(plan.cold_every.max(1)) {
            cold_buf.clear();
            noise.filler(&sms_time(SystemTime::now()), &mut cold_buf);
            open_append(&plan.cold[cold_next % plan.cold.len()])?.write_all(&cold_buf)?;
            cold_next += 1;
            out.cold_lines += 1;
        }
        tick += 1;
        let next = start + plan.tick.mul_f64(tick as f64);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now.duration_since(next) > plan.tick * 20 {
            // Far behind (the machine is busy): skip the missed ticks
            // instead of spinning through them; `due` still counts lines
            // from the start, so the rate is kept where possible.
            tick = (now.duration_since(start).as_secs_f64() / plan.tick.as_secs_f64()) as u64;
        }
    }
    out.timeline.push((out.ended, out.bytes));
    Ok(out)
}

/// Runs `plan` on a thread of its own.
pub fn spawn(
    plan: Plan,
    progress: Arc<Progress>,
) -> std::thread::JoinHandle<std::io::Result<Written>> {
    std::thread::Builder::new()
        .name("writer".into())
        .spawn(move || write(&plan, &progress))
        .unwrap_or_else(|e| panic!("cannot start the writer: {e}"))
}

/// Bytes written by `t`, from a timeline of (time, bytes) points.
pub fn bytes_at(timeline: &[(Instant, u64)], t: Instant) -> u64 {
    let i = timeline.partition_point(|&(at, _)| at <= t);
    if i == 0 { 0 } else { timeline[i - 1].1 }
}
