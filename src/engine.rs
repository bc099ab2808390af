//! The engine: the correlator plus document building and delivery. `run`,
//! `replay`, `test` and `demo` all feed inputs through an [`Engine`]; only
//! where the inputs come from differs.
//!
//! Not thread-aware: [`crate::pipeline`] runs it on its own thread.

use std::sync::{Arc, Mutex};

use crate::alert::{self, AlertDocument, Context};
use crate::correlate::{Correlator, Options, Transition};
use crate::event::Input;
use crate::output::{Output, OutputError};
use crate::rule::RuleSet;
use crate::time::{Clock, Timestamp};

/// Something that wants to see every document as it is sent (the demo's
/// summary lines, the rule-test runner).
pub type Observer = Box<dyn FnMut(&AlertDocument) + Send>;

/// Something that wants every explanation step (`replay --explain`).
pub type NoteObserver = Box<dyn FnMut(&crate::correlate::Note) + Send>;

/// Counters of the engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Documents sent to every output.
    pub sent: u64,
    /// Output write failures.
    pub output_errors: u64,
}

/// Correlator + documents + outputs.
pub struct Engine {
    correlator: Correlator,
    ctx: Context,
    outputs: Vec<Box<dyn Output>>,
    observer: Option<Observer>,
    notes: Option<NoteObserver>,
    clock: Arc<dyn Clock>,
    scratch: Vec<Transition>,
    stats: EngineStats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("correlator", &self.correlator)
            .field(
                "outputs",
                &self.outputs.iter().map(|o| o.name()).collect::<Vec<_>>(),
            )
            .field("stats", &self.stats)
            .finish()
    }
}

impl Engine {
    /// An engine for `rules`. `clock` stamps `event.created` only: every
    /// other time comes from the inputs.
    pub fn new(
        rules: Arc<RuleSet>,
        ctx: Context,
        options: Options,
        outputs: Vec<Box<dyn Output>>,
        clock: Arc<dyn Clock>,
    ) -> Engine {
        Engine {
            correlator: Correlator::new(rules, ctx.host.clone(), options),
            ctx,
            outputs,
            observer: None,
            notes: None,
            clock,
            scratch: Vec::new(),
            stats: EngineStats::default(),
        }
    }

    /// The correlator's state, for persisting.
    pub fn snapshot(&self) -> crate::correlate::Snapshot {
        self.correlator.snapshot()
    }

    /// Replaces the correlator's state with `snapshot` (rules whose
    /// definition changed start afresh; they are listed in the report).
    pub fn restore(
        &mut self,
        snapshot: crate::correlate::Snapshot,
        options: Options,
    ) -> crate::correlate::RestoreReport {
        let rules = Arc::clone(self.correlator.rules());
        let (c, report) = Correlator::restore(rules, self.ctx.host.clone(), options, snapshot);
        self.correlator = c;
        report
    }

    /// Explains `rule`: `observer` gets every step that touches it.
    pub fn explain(&mut self, rule: crate::event::RuleId, observer: NoteObserver) {
        self.correlator.set_explain(Some(rule));
        self.notes = Some(observer);
    }

    /// Switches to `rules` (a reload), carrying over the window and alert
    /// state of every rule whose definition is unchanged (by id and
    /// fingerprint); changed and new rules start afresh. The correlator's
    /// counters start again from zero.
    pub fn reload(
        &mut self,
        rules: Arc<RuleSet>,
        options: Options,
    ) -> crate::correlate::RestoreReport {
        let snapshot = self.correlator.snapshot();
        let (c, report) = Correlator::restore(rules, self.ctx.host.clone(), options, snapshot);
        self.correlator = c;
        report
    }

    /// Calls `observer` with every document sent.
    pub fn set_observer(&mut self, observer: Observer) {
        self.observer = Some(observer);
    }

    /// The correlator (for its clock and counters).
    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    /// Counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// Applies one input and sends the documents it causes.
    pub fn apply(&mut self, input: Input) {
        let mut trs = std::mem::take(&mut self.scratch);
        self.correlator.apply(input, &mut trs);
        self.deliver(&mut trs);
        self.scratch = trs;
    }

    /// Lets time pass to `t` and sends the documents that causes.
    pub fn advance_to(&mut self, t: Timestamp) {
        let mut trs = std::mem::take(&mut self.scratch);
        self.correlator.advance_to(t, &mut trs);
        self.deliver(&mut trs);
        self.scratch = trs;
    }

    fn deliver(&mut self, trs: &mut Vec<Transition>) {
        if let Some(obs) = &mut self.notes {
            for n in self.correlator.take_notes() {
                obs(&n);
            }
        }
        if trs.is_empty() {
            return;
        }
        let created = self.clock.now();
        let rules = Arc::clone(self.correlator.rules());
        for tr in trs.drain(..) {
            let doc = alert::document(&tr, &rules, &self.ctx, created);
            let line = alert::to_line(&doc);
            for out in &mut self.outputs {
                if let Err(e) = out.send(&line) {
                    self.stats.output_errors += 1;
                    tracing::error!(error = %e, "alert not written");
                }
            }
            self.stats.sent += 1;
            if let Some(obs) = &mut self.observer {
                obs(&doc);
            }
        }
    }
}

/// An output that keeps documents in memory (rule tests, the demo).
#[derive(Clone, Debug, Default)]
pub struct MemoryOutput {
    lines: Arc<Mutex<Vec<String>>>,
}

impl MemoryOutput {
    /// The lines sent so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Output for MemoryOutput {
    fn send(&mut self, line: &str) -> Result<(), OutputError> {
        if let Ok(mut l) = self.lines.lock() {
            l.push(line.to_owned());
        }
        Ok(())
    }

    fn name(&self) -> String {
        "memory".into()
    }
}
