//! The live agent: follows files and folders until told to stop.
//!
//! Besides the reader and engine threads of [`crate::pipeline`], the agent
//! runs one delivery thread per network output (see [`Upkeep`]) and, on
//! the engine thread between batches, the heartbeat. Rule reloads (SIGHUP,
//! or a change of a loaded rule file) are decided and compiled on the
//! reader thread and travel to the engine in-band, on the first batch read
//! under the new rules ([`Batch::reload`]), so the switch falls exactly
//! between two batches.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded};

use super::{BATCH, Batch, CHANNEL_DEPTH, Merge, PipelineError};
use crate::alert::Context;
use crate::correlate::Options;
use crate::engine::{Engine, Observer};
use crate::event::{FileKey, GaugeId, Input};
use crate::health::Health;
use crate::ingest::{Ingest, IngestStats, Wall};
use crate::matcher::Matcher;
use crate::output::delivery::Delivery;
use crate::output::spool::Spool;
use crate::output::{Output, Shared};
use crate::rule::{RuleSet, SourceDef};
use crate::source::{Checkpoints, TailOptions, TailStats, Tailer, gauge, watch::Watch};
use crate::state::{AgentState, StateDir};
use crate::time::{Clock, Stopwatch, Timestamp};

/// Bytes read from one file per round: bounds memory and keeps files fair.
const CHUNK: usize = 256 * 1024;

/// Everything the live agent needs.
pub struct LiveConfig {
    /// The rules.
    pub rules: Arc<RuleSet>,
    /// `host.name` and labels.
    pub ctx: Context,
    /// Tailer options (site root, read-from, line cap).
    pub tail: TailOptions,
    /// Where documents go.
    pub outputs: Vec<Box<dyn Output>>,
    /// The locked state folder.
    pub state: StateDir,
    /// The clock (the system clock; the demo's is time-lapsed).
    pub clock: Arc<dyn Clock>,
    /// How long the reader waits for a notification before checking anyway.
    pub poll: Duration,
    /// How often every source path is re-resolved and every file checked.
    pub rescan: Duration,
    /// Sees every document sent.
    pub observer: Option<Observer>,
}

/// What the agent does besides reading and correlating: health counters,
/// heartbeats, rule reloads and the delivery of network outputs. The
/// default does none of it (the demo, tests).
#[derive(Default)]
pub struct Upkeep {
    /// Counters every stage publishes to.
    pub health: Arc<Health>,
    /// The periodic health document.
    pub heartbeat: Option<Heartbeat>,
    /// Rule reloading.
    pub reload: Option<Reload>,
    /// One per network output: run on a thread of its own.
    pub deliveries: Vec<Delivery>,
    /// The spools of the network outputs: made durable (fsync) before
    /// every state checkpoint.
    pub spools: Vec<Arc<Spool>>,
}

impl std::fmt::Debug for Upkeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upkeep")
            .field("heartbeat", &self.heartbeat.as_ref().map(|h| h.every))
            .field("reload", &self.reload)
            .field("deliveries", &self.deliveries.len())
            .finish()
    }
}

/// The heartbeat: a health document on `outputs` every `every`.
#[derive(Debug)]
pub struct Heartbeat {
    /// Period.
    pub every: Duration,
    /// The outputs (shared with the engine).
    pub outputs: Vec<Shared>,
}

/// Rule reloading.
#[derive(Clone, Debug)]
pub struct Reload {
    /// The rule paths loaded at start (empty: the bundled pack, which
    /// cannot change).
    pub paths: Vec<PathBuf>,
    /// How often the files are checked for changes; `None`: on signal only.
    pub check_every: Option<Duration>,
    /// Set by SIGHUP.
    pub signal: Arc<AtomicBool>,
}

/// What the agent did, for the exit log line.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// Records read.
    pub records: u64,
    /// Records that matched a rule.
    pub matched: u64,
    /// Documents sent.
    pub sent: u64,
    /// Late inputs.
    pub late: u64,
    /// Tailer counters.
    pub tail: TailStats,
    /// Saves of the state that failed (the agent kept running; a restart
    /// re-reads what came after the last good save, with the same ids).
    pub state_save_failures: u64,
}

/// Runs the agent until `shutdown` is set, then flushes outputs and state.
///
/// # Errors
/// When the matcher cannot be built or a thread dies.
pub fn run(cfg: LiveConfig, shutdown: Arc<AtomicBool>) -> Result<RunReport, PipelineError> {
    run_with(cfg, Upkeep::default(), shutdown)
}

/// [`run`] with health counters, heartbeats, rule reloads and network
/// outputs' delivery threads.
///
/// # Errors
/// When the matcher cannot be built or a thread dies.
pub fn run_with(
    cfg: LiveConfig,
    upkeep: Upkeep,
    shutdown: Arc<AtomicBool>,
) -> Result<RunReport, PipelineError> {
    let Upkeep {
        health,
        heartbeat,
        reload,
        deliveries,
        spools,
    } = upkeep;
    let LiveConfig {
        rules,
        ctx,
        tail,
        outputs,
        state,
        clock,
        poll,
        rescan,
        observer,
    } = cfg;
    let matcher = Matcher::new(&rules)?;
    let (source_count, gauge_count) = (rules.sources.len(), rules.gauges.len());
    let saved = state.load();
    let (tx, rx) = bounded::<Batch>(CHANNEL_DEPTH);
    let (wake_tx, wake_rx) = bounded::<()>(1);
    let watch = Watch::new(watch_roots(&tail.site), wake_tx);
    // Delivery threads first: documents spooled by an earlier run go out
    // while this one catches up.
    let (stop_deliveries, deliveries_stop) = bounded::<()>(0);
    let mut delivery_threads = Vec::new();
    for d in deliveries {
        let stop = deliveries_stop.clone();
        let name = format!("deliver-{}", d.name());
        let handle = std::thread::Builder::new()
            .name(name)
            .spawn(move || d.run(stop))
            .map_err(|_| PipelineError::Thread("delivery"))?;
        delivery_threads.push(handle);
    }
    drop(deliveries_stop);
    let watcher = reload.map(RuleWatch::new);
    let reader = Reader {
        tailer: Tailer::new(rules.sources.clone(), tail.clone(), saved.checkpoints),
        tail_options: tail.clone(),
        host: ctx.host.clone(),
        watcher,
        pending_reload: None,
        ingest_base: IngestStats::default(),
        tail_base: TailStats::default(),
        health: Arc::clone(&health),
        ingest: Ingest::new(Arc::clone(&rules), matcher, ctx.host.clone()),
        // A gauge fed only from log lines has no folder to sample.
        gauges: (0..rules.gauges.len())
            .filter(|&i| rules.gauges[i].is_folder())
            .map(|i| (GaugeId(i as u32), None))
            .collect(),
        rules: Arc::clone(&rules),
        site: tail.site.clone(),
        clock: Arc::clone(&clock),
        merge: Merge::default(),
        at_end: HashSet::new(),
        tx,
        wake: wake_rx,
        watch,
        shutdown,
        poll,
        rescan,
    };
    let reader = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || reader.run())
        .map_err(|_| PipelineError::Thread("reader"))?;

    let heartbeat_ctx = ctx.clone();
    let mut engine = Engine::new(rules, ctx, Options::default(), outputs, Arc::clone(&clock));
    if let Some(snapshot) = saved.engine {
        let report = engine.restore(snapshot, Options::default());
        tracing::info!(
            restored = report.restored,
            dropped = ?report.dropped,
            "alert and window state restored"
        );
    }
    if let Some(o) = observer {
        engine.set_observer(o);
    }
    // The saved state pairs tail positions with the engine state after the
    // inputs read before them: it is written only when the last batch came
    // with positions (nothing read is held back in the reader's merge).
    let mut positions: Option<Checkpoints> = None;
    let mut consistent = false;
    let mut dirty = false;
    let mut since_save = Stopwatch::start();
    // The first positions (the first scan's) are saved at once: until they
    // are, a crash would make the next start a first start again, and
    // `--read-from end` would skip what was written in between. "Ready"
    // means they are durable.
    let mut ready = false;
    let mut saver = Saver {
        state: &state,
        spools: &spools,
        failing: 0,
        failures: 0,
    };
    let started = Stopwatch::start();
    let mut since_heartbeat = Stopwatch::start();
    let mut heartbeat = heartbeat;
    // Correlator counters restart with each reload: earlier totals.
    let mut late_base = 0u64;
    loop {
        let wait = heartbeat.as_ref().map_or(Duration::from_secs(1), |h| {
            h.every
                .saturating_sub(since_heartbeat.elapsed())
                .clamp(Duration::from_millis(10), Duration::from_secs(1))
        });
        match rx.recv_timeout(wait) {
            Ok(batch) => {
                if let Some(rules) = batch.reload {
                    late_base += engine.correlator().stats().late;
                    let report = engine.reload(rules, Options::default());
                    Health::set(&health.reloads, health.reloads.load(Ordering::Relaxed) + 1);
                    tracing::info!(
                        kept = report.restored,
                        started_afresh = ?report.dropped,
                        "rules reloaded; window and alert state kept for unchanged rules"
                    );
                    dirty = true;
                }
                dirty |= !batch.inputs.is_empty();
                for input in batch.inputs {
                    engine.apply(input);
                }
                if let Some(w) = batch.watermark {
                    engine.advance_to(w);
                }
                consistent = batch.positions.is_some();
                if let Some(p) = batch.positions {
                    dirty |= positions.as_ref() != Some(&p);
                    positions = Some(p);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        Health::set(&health.alerts, engine.stats().sent);
        Health::set(&health.output_errors, engine.stats().output_errors);
        Health::set(&health.late, late_base + engine.correlator().stats().late);
        if let Some(hb) = &mut heartbeat
            && since_heartbeat.elapsed() >= hb.every
        {
            since_heartbeat = Stopwatch::start();
            let mut fields = health.snapshot();
            fields.uptime_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let line = crate::health::heartbeat_line(&heartbeat_ctx, fields, clock.now());
            for out in &mut hb.outputs {
                if let Err(e) = out.send(&line) {
                    tracing::error!(output = %out.name(), error = %e, "heartbeat not written");
                }
            }
        }
        if dirty && consistent && (!ready || since_save.elapsed() >= Duration::from_secs(1)) {
            if let Some(p) = &positions {
                // A failed save stays due: retried a second later.
                dirty = !saver.save(&engine, p);
                if !ready {
                    ready = true;
                    tracing::info!(
                        files = p.files.len(),
                        sources = source_count,
                        gauges = gauge_count,
                        "agent ready: following files, start positions saved"
                    );
                }
            }
            since_save = Stopwatch::start();
        }
    }
    let (ingest, tail) = reader.join().map_err(|_| PipelineError::Thread("reader"))?;
    if let Some(p) = &positions {
        saver.save(&engine, p);
    }
    let state_save_failures = saver.failures;
    // Let the delivery threads drain (each for at most its drain_timeout);
    // what is left stays spooled for the next start.
    drop(stop_deliveries);
    for t in delivery_threads {
        if t.join().is_err() {
            tracing::error!("a delivery thread stopped unexpectedly; its documents stay spooled");
        }
    }
    for s in &spools {
        let _ = s.sync();
    }
    Ok(RunReport {
        records: ingest.records,
        matched: ingest.matched,
        sent: engine.stats().sent,
        late: engine.correlator().stats().late,
        tail,
        state_save_failures,
    })
}

/// Saves the agent state and reports how that goes. A failed save is
/// retried at the next one (the agent keeps alerting meanwhile); failures
/// are reported at the first, then at 2, 4, 8… in a row, and when saving
/// works again.
struct Saver<'a> {
    state: &'a StateDir,
    /// Made durable before each save: documents must be on disk before the
    /// positions that produced them, or a power loss could lose alerts.
    spools: &'a [Arc<Spool>],
    /// Failures in a row.
    failing: u64,
    /// Failures since the start.
    failures: u64,
}

impl Saver<'_> {
    /// Saves `positions` with the engine's state; false when that failed.
    fn save(&mut self, engine: &Engine, positions: &Checkpoints) -> bool {
        let path = self.state.file();
        match self.write(engine, positions) {
            Ok(()) => {
                if self.failing > 0 {
                    tracing::info!(path = %path.display(), failed = self.failing, "state saved again");
                    self.failing = 0;
                }
                true
            }
            Err(e) => {
                self.failures += 1;
                self.failing += 1;
                if self.failing.is_power_of_two() {
                    tracing::error!(
                        path = %path.display(),
                        error = %e,
                        failed = self.failing,
                        "cannot save state; still running and retrying every second (a restart now would re-read the lines since the last save, with the same event ids)"
                    );
                }
                false
            }
        }
    }

    /// Makes the spools durable, then writes the state: documents must be
    /// on disk before the positions that produced them.
    fn write(&self, engine: &Engine, positions: &Checkpoints) -> Result<(), String> {
        for s in self.spools {
            s.sync().map_err(|e| {
                format!(
                    "the spool of output {} cannot be made durable: {e}",
                    s.name()
                )
            })?;
        }
        let snapshot = AgentState {
            checkpoints: positions.clone(),
            engine: Some(engine.snapshot()),
            ..AgentState::default()
        };
        self.state.save(&snapshot).map_err(|e| e.to_string())
    }
}

/// Watch the site root when it exists, else its nearest existing ancestor
/// (the site may be created after the agent starts).
fn watch_roots(site: &Path) -> Vec<PathBuf> {
    let mut p = site.to_path_buf();
    loop {
        if p.is_dir() {
            return vec![p];
        }
        if !p.pop() {
            return Vec::new();
        }
    }
}

/// How often the reader hands the engine its tail positions while busy.
const POSITIONS_EVERY: Duration = Duration::from_millis(200);

struct Reader {
    tailer: Tailer,
    tail_options: TailOptions,
    host: String,
    watcher: Option<RuleWatch>,
    /// Rules switched to, to announce on the next batch.
    pending_reload: Option<Arc<RuleSet>>,
    /// Counters of the ingest stages and tailers replaced by reloads.
    ingest_base: IngestStats,
    tail_base: TailStats,
    health: Arc<Health>,
    ingest: Ingest,
    /// Per gauge: when it was last sampled.
    gauges: Vec<(GaugeId, Option<Timestamp>)>,
    rules: Arc<RuleSet>,
    site: PathBuf,
    clock: Arc<dyn Clock>,
    merge: Merge,
    /// Files whose last read reached their end.
    at_end: HashSet<FileKey>,
    tx: Sender<Batch>,
    wake: Receiver<()>,
    /// The notifications: what they name since the last turn.
    watch: Watch,
    shutdown: Arc<AtomicBool>,
    poll: Duration,
    rescan: Duration,
}

impl Reader {
    fn run(mut self) -> (IngestStats, TailStats) {
        let mut since_rescan: Option<Stopwatch> = None;
        let mut since_poll = Stopwatch::start();
        let mut since_positions = Stopwatch::start();
        let mut woken = true;
        loop {
            let stopping = self.shutdown.load(Ordering::SeqCst);
            if !stopping
                && let Some(rules) = self.watcher.as_mut().and_then(|w| w.check(&self.health))
                && !self.switch_rules(rules)
            {
                return self.totals();
            }
            let now = self.clock.now();
            // Taken every turn, not only after a wake-up: while the loop is
            // busy reading one file, a write to another is seen at once.
            let changes = self.watch.take();
            if changes.anything || since_rescan.is_none_or(|s| s.elapsed() >= self.rescan) {
                let first = since_rescan.is_none();
                self.tailer.rescan(now);
                since_rescan = Some(Stopwatch::start());
                since_poll = Stopwatch::start();
                if first {
                    // Where every file starts, before anything is read: the
                    // engine saves it at once, so that a crash before the
                    // next save re-reads from here instead of treating the
                    // files as history again.
                    let stats = self.tailer.stats();
                    tracing::info!(
                        files = stats.files_open + stats.files_parked,
                        "following files"
                    );
                    // Where every file starts, before anything is read: the
                    // engine saves it at once (see `ready` in `run`).
                    let start = Batch {
                        positions: Some(self.tailer.checkpoints()),
                        ..Batch::default()
                    };
                    if !self.send(start) {
                        return (self.ingest.stats().clone(), self.tailer.stats());
                    }
                }
            } else if since_poll.elapsed() >= self.poll {
                // Between folder rescans, check the files already followed,
                // once per poll interval: while files are busy the loop
                // turns once per read, and checking every followed file each
                // time cost two `statx` per file per turn (measured: 480,000
                // a second with 500 files at 10,000 lines/s). A file not
                // read to its end is read on without a check.
                self.tailer.poll(now);
                since_poll = Stopwatch::start();
            } else if !changes.names.is_empty() {
                // Files written to (and not checked just above with all
                // the others): check just those (with 500 followed
                // files, a rescan per write was a core's worth of `stat`s
                // and folder listings at 10,000 lines/s).
                self.tailer.poll_named(&changes.names, now);
            }
            let (read_any, behind) = self.read_files(now);
            let mut fresh = Vec::new();
            self.sample_gauges(now, woken, &mut fresh);
            self.merge.add(&mut fresh);
            // Everything at or before the slowest file that is still behind
            // is in order; the rest waits for it.
            let released = if stopping {
                self.merge.release(None)
            } else {
                self.merge.release(behind)
            };
            let caught_up = behind.is_none();
            // Positions go with a batch at most every POSITIONS_EVERY (the
            // engine saves once a second) and always on the way out:
            // building them for 500 files on every turn of a busy loop was
            // most of the reader's time at 10,000 lines/s.
            let positions = (self.merge.is_empty()
                && (stopping || since_positions.elapsed() >= POSITIONS_EVERY))
                .then(|| {
                    since_positions = Stopwatch::start();
                    self.tailer.checkpoints()
                });
            let mut chunks = released
                .chunks(BATCH)
                .map(<[Input]>::to_vec)
                .collect::<Vec<_>>();
            if chunks.is_empty() {
                chunks.push(Vec::new());
            }
            let last = chunks.len() - 1;
            for (i, inputs) in chunks.into_iter().enumerate() {
                let batch = Batch {
                    inputs,
                    watermark: (i == last && caught_up).then_some(now),
                    positions: if i == last { positions.clone() } else { None },
                    reload: self.pending_reload.take(),
                };
                if !self.send(batch) {
                    return self.totals();
                }
            }
            self.publish();
            if stopping {
                return self.totals();
            }
            woken = false;
            if !read_any {
                match self.wake.recv_timeout(self.poll) {
                    Ok(()) => woken = true,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => std::thread::sleep(self.poll),
                }
            }
        }
    }

    /// Counters since the agent started, across reloads.
    fn totals(&self) -> (IngestStats, TailStats) {
        let i = self.ingest.stats();
        let b = &self.ingest_base;
        let t = self.tailer.stats();
        let tb = &self.tail_base;
        (
            IngestStats {
                records: b.records + i.records,
                matched: b.matched + i.matched,
                cut: b.cut + i.cut,
                skewed: b.skewed + i.skewed,
                lagging: b.lagging + i.lagging,
                gauge_samples: b.gauge_samples + i.gauge_samples,
                gauge_rejected: b.gauge_rejected + i.gauge_rejected,
            },
            TailStats {
                lines_read: tb.lines_read + t.lines_read,
                lines_cut: tb.lines_cut + t.lines_cut,
                bytes_read: tb.bytes_read + t.bytes_read,
                rotations: tb.rotations + t.rotations,
                truncations: tb.truncations + t.truncations,
                gaps: tb.gaps + t.gaps,
                gap_bytes: tb.gap_bytes + t.gap_bytes,
                ..t
            },
        )
    }

    /// Publishes the reader's counters to the health totals.
    fn publish(&self) {
        let (i, t) = self.totals();
        let h = &self.health;
        Health::set(&h.lines_read, t.lines_read);
        Health::set(&h.records, i.records);
        Health::set(&h.matched, i.matched);
        Health::set(&h.lines_cut, t.lines_cut);
        Health::set(&h.skewed, i.skewed + i.lagging);
        Health::set(&h.rotations, t.rotations);
        Health::set(&h.truncations, t.truncations);
    }

    /// Switches the reader to `rules`: what the merge holds (read under
    /// the old rules) goes to the engine first; the tailer is rebuilt from
    /// its own checkpoints only when the sources changed. Returns false
    /// when the engine is gone.
    fn switch_rules(&mut self, rules: (Arc<RuleSet>, Matcher)) -> bool {
        let (rules, matcher) = rules;
        let held = self.merge.release(None);
        if !held.is_empty() {
            let batch = Batch {
                inputs: held,
                reload: self.pending_reload.take(),
                ..Batch::default()
            };
            if !self.send(batch) {
                return false;
            }
        }
        let (ingest, tail) = self.totals();
        self.ingest_base = ingest;
        self.ingest = Ingest::new(Arc::clone(&rules), matcher, self.host.clone());
        if !same_sources(&self.rules.sources, &rules.sources) {
            self.tail_base = tail;
            let checkpoints = self.tailer.checkpoints();
            self.tailer = Tailer::new(
                rules.sources.clone(),
                self.tail_options.clone(),
                checkpoints,
            );
            tracing::info!(
                sources = rules.sources.len(),
                "sources changed: files re-resolved from their checkpoints"
            );
        }
        let last: HashMap<&str, Option<Timestamp>> = self
            .gauges
            .iter()
            .map(|(id, t)| (self.rules.gauges[id.index()].id.as_str(), *t))
            .collect();
        self.gauges = rules
            .gauges
            .iter()
            .enumerate()
            .map(|(i, g)| {
                (
                    GaugeId(i as u32),
                    last.get(g.id.as_str()).copied().flatten(),
                )
            })
            .collect();
        self.rules = Arc::clone(&rules);
        self.pending_reload = Some(rules);
        true
    }

    /// Hands `batch` to the engine, waiting while its channel is full. The
    /// wait can be long (an output that does not take documents, a slow
    /// disk): meanwhile the folders are rescanned every poll interval,
    /// reading nothing, so that a log rotated twice during the wait
    /// (`X.log` renamed to `X.lo_`, which the next rotation replaces) has
    /// each of its generations opened before its name is gone; once open,
    /// a file is read to its end whatever becomes of its name. False when
    /// the engine is gone.
    fn send(&mut self, mut batch: Batch) -> bool {
        loop {
            match self.tx.send_timeout(batch, self.poll) {
                Ok(()) => return true,
                Err(SendTimeoutError::Disconnected(_)) => return false,
                Err(SendTimeoutError::Timeout(back)) => {
                    batch = back;
                    self.tailer.rescan(self.clock.now());
                }
            }
        }
    }

    /// Reads one chunk from every file with unread bytes. Returns whether
    /// anything was read and the frontier of the slowest file still behind.
    fn read_files(&mut self, now: Timestamp) -> (bool, Option<Timestamp>) {
        let mut read_any = false;
        let mut behind: Option<Timestamp> = None;
        let mut fresh = Vec::new();
        for idx in self.tailer.ready() {
            // Lines that come after the file was read to its end were
            // written moments ago (the clock check of `Wall::fresh`).
            let wall = Wall {
                now,
                fresh: self
                    .tailer
                    .file(idx)
                    .is_some_and(|v| self.at_end.contains(&v.key)),
            };
            let ingest = &mut self.ingest;
            // The time of the last record read (where this file stands).
            let mut last: Option<Timestamp> = None;
            let result = self.tailer.read(idx, CHUNK, |view, record| {
                let t = ingest.record(
                    view.source,
                    view.key,
                    view.path,
                    record,
                    now,
                    Some(wall),
                    &mut fresh,
                );
                last = Some(t);
            });
            if let Some(view) = self.tailer.file(idx) {
                match &result {
                    Ok(status) if status.eof => self.at_end.insert(view.key),
                    _ => self.at_end.remove(&view.key),
                };
            }
            match result {
                Ok(status) => {
                    read_any |= status.bytes > 0;
                    if !status.eof {
                        let f = last.unwrap_or(now);
                        behind = Some(behind.map_or(f, |b| b.min(f)));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "read failed; the file stays followed"),
            }
        }
        self.merge.add(&mut fresh);
        self.forget_closed_files();
        (read_any, behind)
    }

    /// Drops what the reader remembers of files the tailer no longer
    /// follows (rotated away and closed, deleted), once there is more of it
    /// than files followed: an agent running for months sees thousands.
    fn forget_closed_files(&mut self) {
        let followed = (0..).map_while(|i| self.tailer.file(i)).count();
        if self.at_end.len() <= 2 * followed + 16 {
            return;
        }
        let keys: HashSet<FileKey> = (0..)
            .map_while(|i| self.tailer.file(i))
            .map(|f| f.key)
            .collect();
        self.at_end.retain(|k| keys.contains(k));
    }

    /// Samples every gauge that is due: `every` has passed since its last
    /// sample, or a notification woke the reader and the last sample is at
    /// least a second old (so that a burst of arrivals is seen early without
    /// listing a big folder on every notification).
    fn sample_gauges(&mut self, now: Timestamp, woken: bool, out: &mut Vec<Input>) {
        for (id, last) in &mut self.gauges {
            let def = &self.rules.gauges[id.index()];
            let due = match *last {
                None => true,
                Some(l) => {
                    now >= l.saturating_add(def.every)
                        || (woken && now >= l.saturating_add(Duration::from_secs(1)))
                }
            };
            if !due {
                continue;
            }
            *last = Some(now);
            match gauge::sample(def, *id, &self.site, now) {
                Ok(sample) => out.push(Input::Gauge(sample)),
                Err(e) => tracing::warn!(gauge = %def.id, error = %e, "gauge not sampled"),
            }
        }
    }
}

/// Same sources: ids, paths, formats and time zones in the same order
/// (source ids are indices into this list).
fn same_sources(a: &[SourceDef], b: &[SourceDef]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.id == y.id && x.path == y.path && x.format == y.format && x.timezone == y.timezone
        })
}

/// Decides when to reload rules and compiles them (on the reader thread).
#[derive(Debug)]
struct RuleWatch {
    cfg: Reload,
    /// Hash of the rule files' paths and texts last seen.
    seen: u64,
    since_check: Stopwatch,
}

impl RuleWatch {
    fn new(cfg: Reload) -> RuleWatch {
        RuleWatch {
            seen: files_hash(&cfg.paths),
            cfg,
            since_check: Stopwatch::start(),
        }
    }

    /// New rules and their matcher, when a reload is due and they compile.
    /// Broken rules are reported (the old ones stay) and not tried again
    /// until the files change or another SIGHUP comes.
    fn check(&mut self, health: &Health) -> Option<(Arc<RuleSet>, Matcher)> {
        let signalled = self.cfg.signal.swap(false, Ordering::SeqCst);
        let due = self
            .cfg
            .check_every
            .is_some_and(|every| self.since_check.elapsed() >= every);
        if !signalled && !due {
            return None;
        }
        self.since_check = Stopwatch::start();
        if self.cfg.paths.is_empty() {
            if signalled {
                tracing::info!(
                    "SIGHUP: the rules are the bundled pack, which cannot change; nothing to reload"
                );
            }
            return None;
        }
        let hash = files_hash(&self.cfg.paths);
        if !signalled && hash == self.seen {
            return None;
        }
        self.seen = hash;
        let why = if signalled {
            "SIGHUP"
        } else {
            "a rule file changed"
        };
        let compiled = crate::rule::load(&self.cfg.paths)
            .map_err(|d| (d.len(), d.to_string()))
            .and_then(|set| match Matcher::new(&set) {
                Ok(m) => Ok((Arc::new(set), m)),
                Err(e) => Err((1, e.to_string())),
            });
        match compiled {
            Ok(r) => {
                tracing::info!(reason = why, rules = r.0.rules.len(), "reloading rules");
                Some(r)
            }
            Err((count, text)) => {
                Health::set(
                    &health.reload_failures,
                    health.reload_failures.load(Ordering::Relaxed) + 1,
                );
                tracing::error!(
                    reason = why,
                    problems = count,
                    "rule reload refused; the rules in use stay:\n{text}"
                );
                None
            }
        }
    }
}

/// A hash of the rule files under `paths` (their paths and texts; a read
/// problem counts as content, so that fixing it is a change too).
fn files_hash(paths: &[PathBuf]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    match crate::rule::read_paths(paths) {
        Ok(texts) => {
            for t in texts {
                h.update(t.path.to_string_lossy().as_bytes());
                h.update(&[0]);
                h.update(t.text.as_bytes());
                h.update(&[0]);
            }
        }
        Err(d) => h.update(d.to_string().as_bytes()),
    }
    h.digest()
}
