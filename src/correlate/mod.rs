//! The correlator: windows, backlog conditions, absence, correlations and the
//! alert lifecycle (`inactive → pending → firing → resolved`), on record time.
//!
//! Inputs ([`Input`]: hits, source activity, gauge samples) arrive in time
//! order; [`Correlator::advance_to`] lets time pass without input (the live
//! agent calls it with the wall clock once its sources are caught up). Every
//! time-based change (a threshold resolving, a backlog's `for` elapsing, a log
//! falling silent, a correlation's members lapsing) happens at its exact due
//! time, whatever the granularity of the calls, so `run`, `replay` and `test`
//! give the same transitions for the same inputs.
//!
//! **Architecture invariant:** no I/O and no clock. Time is a parameter.
//!
//! What it does not do: build the JSON document ([`crate::alert`]), decide
//! where documents go ([`crate::output`]), or order inputs from several files
//! ([`crate::pipeline`]).

mod absence;
mod backlog;
mod coincidence;
mod flap;
pub mod ids;
mod snapshot;
use snapshot::pairs;
mod threshold;
mod transition;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::event::{GaugeSample, Hit, Input, RuleId, SourceId};
use crate::rule::{Rule, RuleKind, RuleSet};
use crate::time::Timestamp;

pub use ids::Cause;
pub use snapshot::{RestoreReport, Snapshot};
pub use transition::{Detail, Evidence, GaugeValues, Related, Status, Transition};

/// The values of a rule's `group_by` fields, in the rule's order.
pub type GroupKey = Box<[Box<str>]>;

/// Tuning of the correlator.
#[derive(Clone, Debug)]
pub struct Options {
    /// Inputs up to this much older than the correlator's clock are absorbed
    /// silently (applied at the current time); older ones are counted as late.
    pub lateness: Duration,
    /// Sample records kept per alert (`logwarden.alert.evidence`).
    pub max_evidence: usize,
    /// An alert that starts more than `flap_threshold` episodes within
    /// `flap_window` is flapping: its resolution is held for one window
    /// (see the flapping guard). 0 disables the guard.
    pub flap_threshold: usize,
    /// See `flap_threshold`.
    pub flap_window: Duration,
    /// Live groups kept per rule; beyond it the least recently active group
    /// that is not firing is evicted (counted and logged).
    pub max_groups: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            lateness: Duration::from_secs(2),
            max_evidence: 5,
            flap_threshold: 3,
            flap_window: Duration::from_secs(3_600),
            max_groups: 10_000,
        }
    }
}

/// Counters of the correlator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Inputs older than the clock by more than the lateness allowance.
    pub late: u64,
    /// Match alerts not sent because of `suppress_for`.
    pub suppressed: u64,
    /// Member documents not sent because an inhibiting correlation fired.
    pub inhibited: u64,
    /// Transitions emitted (sent or not).
    pub transitions: u64,
    /// Re-firings of a flapping alert folded into its open episode.
    pub flapping: u64,
    /// Resolutions held back because the alert was flapping.
    pub flap_held: u64,
    /// Groups evicted because a rule reached `max_groups`.
    pub evicted: u64,
}

/// A firing episode of one alert.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Episode {
    since: Timestamp,
    #[serde(with = "snapshot::hex128")]
    uuid: u128,
    /// False when the firing document was held back (building block or
    /// inhibited): the resolution is then held back too.
    sent: bool,
}

/// What a rule's activity looks like to the correlations that watch it.
#[derive(Clone, Debug)]
struct MemberEvent {
    rule: RuleId,
    /// The rule's group fields plus `host.name`.
    fields: Vec<(String, String)>,
    kind: MemberKind,
    time: Timestamp,
    /// Identity of the transition (event id), for derived causes.
    id: u128,
    evidence: Vec<Evidence>,
    related: Related,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum MemberKind {
    Matched,
    Fired,
    Resolved,
}

/// A scheduled re-evaluation of one rule group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    due: Timestamp,
    seq: u64,
    rule: RuleId,
    group: GroupKey,
    /// A flapping guard's hold (the group is the alert id) rather than a
    /// rule's own timer.
    flap: bool,
}

/// The timer queue. A group remembers the due time of the timer it has
/// armed; a popped timer whose due time no longer matches is stale.
#[derive(Debug, Default)]
struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    seq: u64,
}

impl Timers {
    /// Arms a timer for `due` unless one is armed at or before it.
    fn schedule(
        &mut self,
        armed: &mut Option<Timestamp>,
        rule: RuleId,
        group: &GroupKey,
        due: Timestamp,
    ) {
        if armed.is_some_and(|a| a <= due) {
            return;
        }
        *armed = Some(due);
        self.seq += 1;
        self.heap.push(Reverse(Timer {
            due,
            seq: self.seq,
            rule,
            group: group.clone(),
            flap: false,
        }));
    }

    /// Arms the end of a flapping alert's hold.
    fn schedule_flap(&mut self, armed: &mut Option<Timestamp>, alert: &str, due: Timestamp) {
        *armed = Some(due);
        self.seq += 1;
        self.heap.push(Reverse(Timer {
            due,
            seq: self.seq,
            rule: RuleId(u32::MAX),
            group: Box::new([Box::from(alert)]),
            flap: true,
        }));
    }

    fn pop_due(&mut self, limit: Timestamp, inclusive: bool) -> Option<Timer> {
        let next = &self.heap.peek()?.0;
        let due = if inclusive {
            next.due <= limit
        } else {
            next.due < limit
        };
        if due {
            self.heap.pop().map(|r| r.0)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum RuleState {
    Match(#[serde(with = "pairs")] BTreeMap<GroupKey, MatchState>),
    Threshold(#[serde(with = "pairs")] BTreeMap<GroupKey, threshold::ThresholdState>),
    Backlog(backlog::BacklogState),
    Absence(absence::AbsenceState),
    Correlate(#[serde(with = "pairs")] BTreeMap<GroupKey, coincidence::CorrelationState>),
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct MatchState {
    last_sent: Option<Timestamp>,
    #[serde(default)]
    last_seen: Option<Timestamp>,
}

impl GroupState for MatchState {
    fn last_active(&self) -> Option<Timestamp> {
        self.last_seen.max(self.last_sent)
    }

    fn is_firing(&self) -> bool {
        false
    }
}

/// What eviction needs to know of a group's state.
trait GroupState {
    /// The last time the group saw input.
    fn last_active(&self) -> Option<Timestamp>;
    /// Whether it has an open episode (never evicted).
    fn is_firing(&self) -> bool;
}

/// Whether group `key` may live in `groups`: yes if it is there or there is
/// room; when the rule is at `max` groups, the least recently active group
/// that is not firing is evicted to make room (counted and logged); when
/// every group is firing, the new one is refused (counted and logged).
fn admit<S: GroupState>(
    groups: &mut BTreeMap<GroupKey, S>,
    key: &GroupKey,
    max: usize,
    stats: &mut Stats,
    rule: &str,
) -> bool {
    if groups.len() < max.max(1) || groups.contains_key(key) {
        return true;
    }
    stats.evicted += 1;
    let victim = groups
        .iter()
        .filter(|(_, s)| !s.is_firing())
        .min_by_key(|(_, s)| s.last_active())
        .map(|(k, _)| k.clone());
    if stats.evicted.is_power_of_two() {
        tracing::warn!(
            rule,
            max_groups = max,
            evicted = stats.evicted,
            "a rule reached its limit of live groups; the least recently active group was dropped (its window restarts if it comes back)"
        );
    }
    match victim {
        Some(v) => {
            groups.remove(&v);
            true
        }
        None => false,
    }
}

/// The correlation engine.
///
/// # Example
/// ```
/// # use std::sync::Arc;
/// # use logwarden::correlate::{Correlator, Options};
/// # use logwarden::rule::RuleSet;
/// # use logwarden::time::Timestamp;
/// let mut c = Correlator::new(Arc::new(RuleSet::default()), "PRI01".into(), Options::default());
/// let mut out = Vec::new();
/// c.advance_to(Timestamp::from_unix_secs(60), &mut out);
/// assert!(out.is_empty());
/// ```
#[derive(Debug)]
pub struct Correlator {
    rules: Arc<RuleSet>,
    host: String,
    options: Options,
    /// The clock: every input before it has been applied.
    now: Option<Timestamp>,
    states: Vec<RuleState>,
    timers: Timers,
    /// Per gauge: recent samples, as long as the longest `rise` needs.
    gauge_history: Vec<VecDeque<GaugeSample>>,
    gauge_retention: Vec<Duration>,
    /// Per rule: the correlations that watch it (as member or precondition).
    watchers: Vec<Vec<RuleId>>,
    /// Per source: the absence rules that watch it.
    absence_by_source: Vec<Vec<RuleId>>,
    /// Per gauge: the backlog rules on it.
    backlog_by_gauge: Vec<Vec<RuleId>>,
    /// The flapping guard's view of every recent alert.
    flap: flap::FlapMap,
    /// The rule being explained (`replay --explain`), and what was noted.
    explain: Option<RuleId>,
    notes: Vec<Note>,
    /// The record being applied (for notes).
    applying: Option<String>,
    stats: Stats,
}

/// One step of an explanation: what an input or a timer did to a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// When (record, sample or timer time).
    pub time: Timestamp,
    /// The rule concerned.
    pub rule: String,
    /// The record behind it (`path:offset`), when a record is.
    pub at: Option<String>,
    /// What happened and why, in a sentence.
    pub text: String,
}

impl Correlator {
    /// A correlator for `rules`, for an agent whose alerts carry `host`.
    pub fn new(rules: Arc<RuleSet>, host: String, options: Options) -> Correlator {
        let mut watchers = vec![Vec::new(); rules.rules.len()];
        let mut absence_by_source = vec![Vec::new(); rules.sources.len()];
        let mut backlog_by_gauge = vec![Vec::new(); rules.gauges.len()];
        let mut gauge_retention = vec![Duration::ZERO; rules.gauges.len()];
        let mut states = Vec::with_capacity(rules.rules.len());
        for (i, rule) in rules.rules.iter().enumerate() {
            let id = RuleId(i as u32);
            states.push(match &rule.kind {
                RuleKind::Match(_) => RuleState::Match(BTreeMap::new()),
                RuleKind::Threshold(_) => RuleState::Threshold(BTreeMap::new()),
                RuleKind::Backlog(b) => {
                    backlog_by_gauge[b.gauge.index()].push(id);
                    for c in &b.conditions {
                        if let crate::rule::GaugeTest::Rise { over, .. } = c.test {
                            let r = &mut gauge_retention[b.gauge.index()];
                            *r = (*r).max(over);
                        }
                    }
                    RuleState::Backlog(backlog::BacklogState::default())
                }
                RuleKind::Absence(a) => {
                    for s in &a.sources {
                        absence_by_source[s.index()].push(id);
                    }
                    RuleState::Absence(absence::AbsenceState::default())
                }
                RuleKind::Correlate(c) => {
                    for m in &c.members {
                        watchers[m.index()].push(id);
                    }
                    if let Some(p) = &c.preceded_by
                        && !watchers[p.rule.index()].contains(&id)
                    {
                        watchers[p.rule.index()].push(id);
                    }
                    RuleState::Correlate(BTreeMap::new())
                }
            });
        }
        Correlator {
            gauge_history: vec![VecDeque::new(); rules.gauges.len()],
            rules,
            host,
            options,
            now: None,
            states,
            timers: Timers::default(),
            gauge_retention,
            watchers,
            absence_by_source,
            backlog_by_gauge,
            flap: flap::FlapMap::new(),
            explain: None,
            notes: Vec::new(),
            applying: None,
            stats: Stats::default(),
        }
    }

    /// The rule set this correlator runs.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// The correlator's clock: the latest time applied (None before any).
    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Explains `rule` from now on: every input or timer that touches it
    /// (or, for a correlation, its members) leaves a [`Note`].
    pub fn set_explain(&mut self, rule: Option<RuleId>) {
        self.explain = rule;
    }

    /// The notes taken since the last call.
    pub fn take_notes(&mut self) -> Vec<Note> {
        std::mem::take(&mut self.notes)
    }

    /// Whether activity of `rule` is part of the explanation.
    fn explaining(&self, rule: RuleId) -> bool {
        let Some(x) = self.explain else {
            return false;
        };
        x == rule
            || matches!(&self.rules.rules[x.index()].kind, RuleKind::Correlate(c)
                if c.members.contains(&rule) || c.preceded_by.as_ref().is_some_and(|p| p.rule == rule))
    }

    /// Notes `text()` for `rule` at `t` when it is being explained.
    fn note(&mut self, rule: RuleId, t: Timestamp, text: impl FnOnce() -> String) {
        if self.explaining(rule) {
            let rule = self.rules.rules[rule.index()].id.clone();
            let at = self.applying.clone();
            self.notes.push(Note {
                time: t,
                rule,
                at,
                text: text(),
            });
        }
    }

    /// Applies one input at its time, appending the resulting transitions
    /// (only those to be sent: building blocks and inhibited documents are
    /// tracked but not returned) to `out`.
    ///
    /// An input older than the clock is applied at the clock's time; when it
    /// is older by more than the lateness allowance it is also counted as
    /// late. Nothing is dropped.
    pub fn apply(&mut self, input: Input, out: &mut Vec<Transition>) {
        let mut t = input.time();
        match self.now {
            None => self.start(t, out),
            Some(now) if t < now => {
                if now.saturating_since(t) > self.options.lateness {
                    self.stats.late += 1;
                    tracing::debug!(late_by = ?now.saturating_since(t), "late input applied at the current time");
                }
                t = now;
            }
            Some(_) => self.run_timers(t, false, out),
        }
        self.now = Some(t);
        match input {
            Input::Hit(hit) => {
                if self.explain.is_some() {
                    self.applying = Some(format!("{}:{}", hit.origin.path, hit.origin.offset));
                }
                self.on_hit(hit, t, out);
                self.applying = None;
            }
            Input::Explain { rule, at, text, .. } => {
                if self.explain == Some(rule) {
                    let rule = self.rules.rules[rule.index()].id.clone();
                    self.notes.push(Note {
                        time: t,
                        rule,
                        at: Some(at),
                        text,
                    });
                }
            }
            Input::Activity { source, .. } => self.on_activity(source, t, out),
            Input::Gauge(mut sample) => {
                sample.time = t;
                self.on_sample(sample, out);
            }
        }
        self.run_timers(t, true, out);
    }

    /// Lets time pass to `t` without input: fires every timer due at or
    /// before `t`. Going backwards is a no-op.
    pub fn advance_to(&mut self, t: Timestamp, out: &mut Vec<Transition>) {
        match self.now {
            None => self.start(t, out),
            Some(now) if t <= now => return,
            Some(_) => {}
        }
        self.run_timers(t, true, out);
        self.now = Some(t);
    }

    /// First time seen: absence rules start counting silence from here.
    fn start(&mut self, t: Timestamp, out: &mut Vec<Transition>) {
        self.now = Some(t);
        for i in 0..self.rules.rules.len() {
            if matches!(self.rules.rules[i].kind, RuleKind::Absence(_)) {
                self.absence_start(RuleId(i as u32), t);
            }
        }
        self.run_timers(t, true, out);
    }

    fn run_timers(&mut self, limit: Timestamp, inclusive: bool, out: &mut Vec<Transition>) {
        while let Some(timer) = self.timers.pop_due(limit, inclusive) {
            // Time moves to the timer's due time while it runs, so that what
            // it emits carries that time.
            if self.now.is_none_or(|n| n < timer.due) {
                self.now = Some(timer.due);
            }
            if timer.flap {
                self.flap_timer(&timer.group, timer.due, out);
                continue;
            }
            let rule = timer.rule;
            match self.rules.rules[rule.index()].kind {
                RuleKind::Threshold(_) => self.threshold_timer(rule, &timer.group, timer.due, out),
                RuleKind::Backlog(_) => self.backlog_timer(rule, timer.due, out),
                RuleKind::Absence(_) => self.absence_timer(rule, timer.due, out),
                RuleKind::Correlate(_) => {
                    self.correlation_timer(rule, &timer.group, timer.due, out)
                }
                RuleKind::Match(_) => {}
            }
        }
    }

    fn on_hit(&mut self, hit: Hit, t: Timestamp, out: &mut Vec<Transition>) {
        let rules = Arc::clone(&self.rules);
        let Some(rule) = rules.rules.get(hit.rule.index()) else {
            return;
        };
        match &rule.kind {
            RuleKind::Match(m) => self.match_hit(rule, hit, t, m.suppress_for, out),
            RuleKind::Threshold(_) => self.threshold_hit(hit, t, out),
            _ => {}
        }
    }

    fn match_hit(
        &mut self,
        rule: &Rule,
        hit: Hit,
        t: Timestamp,
        suppress_for: Duration,
        out: &mut Vec<Transition>,
    ) {
        let group = self.group_pairs(rule, &hit.group);
        let alert_id = ids::alert_id(&rule.id, &group);
        let uuid = ids::episode_id(alert_id, &Cause::record(hit.origin.file, hit.origin.offset));
        let event_id = ids::event_id(uuid, Status::Matched.as_str());
        let evidence = vec![evidence_of(&hit, t)];
        let fields = self.member_fields(&group);
        self.propagate(
            MemberEvent {
                rule: hit.rule,
                fields: fields.clone(),
                kind: MemberKind::Matched,
                time: t,
                id: event_id,
                evidence: evidence.clone(),
                related: Related {
                    rule: rule.id.clone(),
                    role: "member".into(),
                    status: "matched".into(),
                    since: None,
                    last_active: Some(t),
                    count: Some(1),
                    gauge: None,
                },
            },
            out,
        );
        let RuleState::Match(groups) = &mut self.states[hit.rule.index()] else {
            return;
        };
        let mut scratch = MatchState::default();
        let state = if admit(
            groups,
            &hit.group,
            self.options.max_groups,
            &mut self.stats,
            &rule.id,
        ) {
            groups.entry(hit.group.clone()).or_default()
        } else {
            // No room: alert without suppression memory for this group.
            &mut scratch
        };
        state.last_seen = Some(t);
        if !rule.meta.alert {
            self.note(hit.rule, t, || {
                "matched (a building block: alert = false, no document)".into()
            });
            return;
        }
        if let Some(last) = state.last_sent
            && !suppress_for.is_zero()
            && t < last.saturating_add(suppress_for)
        {
            self.stats.suppressed += 1;
            let until = last.saturating_add(suppress_for);
            self.note(hit.rule, t, || {
                format!("matched; not sent: suppress_for holds this group until {until}")
            });
            return;
        }
        state.last_sent = Some(t);
        if self.inhibited(hit.rule, &fields) {
            self.stats.inhibited += 1;
            self.note(hit.rule, t, || {
                "matched; not sent: a firing correlation inhibits its members".into()
            });
            return;
        }
        self.note(hit.rule, t, || "matched → MATCHED document".into());
        self.stats.transitions += 1;
        out.push(Transition {
            rule: hit.rule,
            status: Status::Matched,
            time: t,
            group,
            alert_id,
            uuid,
            event_id,
            since: None,
            evidence,
            related: Vec::new(),
            detail: Detail::Match,
        });
    }

    fn on_activity(&mut self, source: SourceId, t: Timestamp, out: &mut Vec<Transition>) {
        let Some(rules) = self.absence_by_source.get(source.index()) else {
            return;
        };
        for rule in rules.clone() {
            self.absence_activity(rule, t, out);
        }
    }

    fn on_sample(&mut self, sample: GaugeSample, out: &mut Vec<Transition>) {
        let g = sample.gauge.index();
        if g >= self.gauge_history.len() {
            return;
        }
        let t = sample.time;
        let retention = self.gauge_retention[g];
        let hist = &mut self.gauge_history[g];
        hist.push_back(sample);
        // Keep one sample older than the longest look-back: the value in
        // force at the window's start.
        while hist.len() > 1 && hist[1].time < t.saturating_sub(retention) {
            hist.pop_front();
        }
        for rule in self.backlog_by_gauge[g].clone() {
            self.backlog_sample(rule, t, out);
        }
    }

    /// The group as field/value pairs for `rule` and `values` (its group_by order).
    fn group_pairs(&self, rule: &Rule, values: &[Box<str>]) -> Vec<(String, String)> {
        rule.group_by()
            .iter()
            .zip(
                values
                    .iter()
                    .map(|v| v.to_string())
                    .chain(std::iter::repeat(String::new())),
            )
            .map(|(f, v)| (f.name().to_owned(), v))
            .collect()
    }

    /// A rule's group fields plus `host.name`: what correlations project.
    fn member_fields(&self, group: &[(String, String)]) -> Vec<(String, String)> {
        let mut f = group.to_vec();
        if !f.iter().any(|(k, _)| k == "host.name") {
            f.push(("host.name".to_owned(), self.host.clone()));
        }
        f
    }

    /// Tells every correlation watching `event.rule` about it, then lets
    /// correlations that changed tell theirs (correlations may nest; the
    /// loader rejects cycles).
    fn propagate(&mut self, event: MemberEvent, out: &mut Vec<Transition>) {
        let mut queue = VecDeque::from([event]);
        while let Some(ev) = queue.pop_front() {
            let Some(watchers) = self.watchers.get(ev.rule.index()) else {
                continue;
            };
            for corr in watchers.clone() {
                self.correlation_member_event(corr, &ev, &mut queue, out);
            }
        }
    }

    /// Whether a document of `rule` for an alert with these fields is held
    /// back by a firing correlation with `inhibit_members`.
    fn inhibited(&self, rule: RuleId, fields: &[(String, String)]) -> bool {
        let Some(watchers) = self.watchers.get(rule.index()) else {
            return false;
        };
        watchers
            .iter()
            .any(|corr| self.inhibits(*corr, rule, fields))
    }

    /// Emits a firing transition, or holds it back (building block,
    /// inhibited); returns whether it was sent.
    fn emit(
        &mut self,
        tr: Transition,
        fields: &[(String, String)],
        out: &mut Vec<Transition>,
    ) -> bool {
        self.stats.transitions += 1;
        let rule = &self.rules.rules[tr.rule.index()];
        if !rule.meta.alert {
            return false;
        }
        if tr.status != Status::Resolved && self.inhibited(tr.rule, fields) {
            self.stats.inhibited += 1;
            return false;
        }
        self.guard(tr, out);
        true
    }
}

fn evidence_of(hit: &Hit, t: Timestamp) -> Evidence {
    Evidence {
        message: hit.message.to_string(),
        path: hit.origin.path.to_string(),
        offset: hit.origin.offset,
        time: t,
    }
}

/// Pushes `e` keeping at most `max` (the most recent).
fn push_capped(v: &mut VecDeque<Evidence>, e: Evidence, max: usize) {
    if max == 0 {
        return;
    }
    if v.len() == max {
        v.pop_front();
    }
    v.push_back(e);
}

#[cfg(test)]
mod tests;
