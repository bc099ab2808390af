//! The live agent: follows files and folders until told to stop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};

use super::{BATCH, Batch, CHANNEL_DEPTH, Merge, PipelineError};
use crate::alert::Context;
use crate::correlate::Options;
use crate::engine::{Engine, Observer};
use crate::event::{FileKey, GaugeId, Input};
use crate::ingest::Ingest;
use crate::matcher::Matcher;
use crate::output::Output;
use crate::rule::RuleSet;
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
    let reader = Reader {
        tailer: Tailer::new(rules.sources.clone(), tail.clone(), saved.checkpoints),
        ingest: Ingest::new(
            Arc::clone(&rules),
            matcher,
            ctx.host.clone(),
            Duration::from_secs(300),
        ),
        gauges: (0..rules.gauges.len())
            .map(|i| (GaugeId(i as u32), None))
            .collect(),
        rules: Arc::clone(&rules),
        site: tail.site.clone(),
        clock: Arc::clone(&clock),
        merge: Merge::default(),
        frontier: HashMap::new(),
        tx,
        wake: wake_rx,
        shutdown,
        poll,
        rescan,
    };
    let reader = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || reader.run())
        .map_err(|_| PipelineError::Thread("reader"))?;

    let mut engine = Engine::new(rules, ctx, Options::default(), outputs, clock);
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
        failing: 0,
        failures: 0,
    };
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(batch) => {
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
        if dirty && consistent && (!ready || since_save.elapsed() >= Duration::from_secs(1)) {
            if let Some(p) = &positions {
                // A failed save stays due: retried a second later.
                dirty = !saver.save(&engine, p);
                if !ready {
                    ready = true;
                    tracing::info!(
                        checkpoints = p.files.len(),
                        sources = source_count,
                        gauges = gauge_count,
                        "agent ready: start positions saved"
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
    drop(watch);
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
    /// Failures in a row.
    failing: u64,
    /// Failures since the start.
    failures: u64,
}

impl Saver<'_> {
    /// Saves `positions` with the engine's state; false when that failed.
    fn save(&mut self, engine: &Engine, positions: &Checkpoints) -> bool {
        let snapshot = AgentState {
            checkpoints: positions.clone(),
            engine: Some(engine.snapshot()),
            ..AgentState::default()
        };
        let path = self.state.file();
        match self.state.save(&snapshot) {
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

struct Reader {
    tailer: Tailer,
    ingest: Ingest,
    /// Per gauge: when it was last sampled.
    gauges: Vec<(GaugeId, Option<Timestamp>)>,
    rules: Arc<RuleSet>,
    site: PathBuf,
    clock: Arc<dyn Clock>,
    merge: Merge,
    /// Per file: record time of the last record read.
    frontier: HashMap<FileKey, Timestamp>,
    tx: Sender<Batch>,
    wake: Receiver<()>,
    shutdown: Arc<AtomicBool>,
    poll: Duration,
    rescan: Duration,
}

impl Reader {
    fn run(mut self) -> (crate::ingest::IngestStats, TailStats) {
        let mut since_rescan: Option<Stopwatch> = None;
        let mut woken = true;
        loop {
            let stopping = self.shutdown.load(Ordering::SeqCst);
            let now = self.clock.now();
            if woken || since_rescan.is_none_or(|s| s.elapsed() >= self.rescan) {
                let first = since_rescan.is_none();
                self.tailer.rescan(now);
                since_rescan = Some(Stopwatch::start());
                if first {
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
                    if self.tx.send(start).is_err() {
                        return (self.ingest.stats().clone(), self.tailer.stats());
                    }
                }
            } else {
                // Between folder rescans, check the files already followed.
                self.tailer.poll(now);
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
            let positions = self.merge.is_empty().then(|| self.tailer.checkpoints());
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
                };
                if self.tx.send(batch).is_err() {
                    return (self.ingest.stats().clone(), self.tailer.stats());
                }
            }
            if stopping {
                return (self.ingest.stats().clone(), self.tailer.stats());
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

    /// Reads one chunk from every file with unread bytes. Returns whether
    /// anything was read and the frontier of the slowest file still behind.
    fn read_files(&mut self, now: Timestamp) -> (bool, Option<Timestamp>) {
        let mut read_any = false;
        let mut behind: Option<Timestamp> = None;
        let mut fresh = Vec::new();
        for idx in self.tailer.ready() {
            let ingest = &mut self.ingest;
            let frontier = &mut self.frontier;
            let mut last_key = None;
            let result = self.tailer.read(idx, CHUNK, |view, record| {
                let t = ingest.record(
                    view.source,
                    view.key,
                    view.path,
                    record,
                    now,
                    Some(now),
                    &mut fresh,
                );
                frontier.insert(view.key, t);
                last_key = Some(view.key);
            });
            match result {
                Ok(status) => {
                    read_any |= status.bytes > 0;
                    if !status.eof {
                        let f = last_key
                            .and_then(|k| self.frontier.get(&k).copied())
                            .unwrap_or(now);
                        behind = Some(behind.map_or(f, |b| b.min(f)));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "read failed; the file stays followed"),
            }
        }
        self.merge.add(&mut fresh);
        (read_any, behind)
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
