//! `[[backlog]]`: conditions over a gauge's samples. A gauge's value is taken
//! to hold from one sample to the next, so `for` and `keep_firing_for` elapse
//! at exact times between samples.

use std::sync::Arc;

use super::{
    Cause, Correlator, Detail, Episode, GaugeValues, GroupKey, MemberEvent, MemberKind, Related,
    RuleState, Status, Transition, ids,
};
use crate::event::{GaugeSample, RuleId};
use crate::rule::{BacklogRule, GaugeTest, Metric, RuleKind};
use crate::time::Timestamp;

/// State of a backlog rule (one group: the gauge).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct BacklogState {
    /// Condition true since (not yet firing).
    pub(super) pending_since: Option<Timestamp>,
    /// While firing: condition false since.
    pub(super) clear_since: Option<Timestamp>,
    pub(super) firing: Option<Episode>,
    #[serde(skip)]
    pub(super) armed: Option<Timestamp>,
    last: GaugeValues,
}

fn metric_value(s: &GaugeSample, m: Metric) -> f64 {
    match m {
        Metric::Files => s.files as f64,
        Metric::Bytes => s.bytes as f64,
        Metric::OldestAge => s.oldest_age.as_secs_f64(),
    }
}

/// Evaluates the rule on the gauge history (the last sample is "now").
fn evaluate(
    spec: &BacklogRule,
    gauge: &str,
    hist: &std::collections::VecDeque<GaugeSample>,
) -> (bool, GaugeValues) {
    let Some(cur) = hist.back() else {
        return (false, GaugeValues::default());
    };
    let mut values = GaugeValues {
        gauge: gauge.to_owned(),
        time: cur.time,
        files: cur.files,
        bytes: cur.bytes,
        oldest_age: cur.oldest_age,
        rises: Vec::new(),
    };
    let mut results = spec.conditions.iter().map(|c| {
        let v = metric_value(cur, c.metric);
        match c.test {
            GaugeTest::Above(x) => v > x,
            GaugeTest::AtLeast(x) => v >= x,
            GaugeTest::Below(x) => v < x,
            GaugeTest::Rise { over, at_least } => {
                let start = cur.time.saturating_sub(over);
                // The minimum over the look-back, including the value in
                // force at its start (the last sample at or before it).
                let mut min = v;
                for (i, s) in hist.iter().enumerate() {
                    let in_window =
                        s.time >= start || hist.get(i + 1).is_some_and(|n| n.time > start);
                    if in_window {
                        min = min.min(metric_value(s, c.metric));
                    }
                }
                let rise = v - min;
                values
                    .rises
                    .push((c.metric.as_str().to_owned(), over, rise));
                rise >= at_least
            }
        }
    });
    let holds = if spec.all {
        results.all(|b| b)
    } else {
        // Evaluate every condition so that every rise is reported.
        results.fold(false, |acc, b| acc | b)
    };
    (holds, values)
}

/// "files 80 ≥ 50 ✓, oldest_age 700s > 1800s ✗" for an explanation.
fn describe(spec: &BacklogRule, values: &GaugeValues) -> String {
    let mut rises = values.rises.iter();
    let parts: Vec<String> = spec
        .conditions
        .iter()
        .map(|c| {
            let v = match c.metric {
                Metric::Files => values.files as f64,
                Metric::Bytes => values.bytes as f64,
                Metric::OldestAge => values.oldest_age.as_secs_f64(),
            };
            let unit = if c.metric == Metric::OldestAge {
                "s"
            } else {
                ""
            };
            let (text, ok) = match c.test {
                GaugeTest::Above(x) => (format!("{v}{unit} > {x}{unit}"), v > x),
                GaugeTest::AtLeast(x) => (format!("{v}{unit} ≥ {x}{unit}"), v >= x),
                GaugeTest::Below(x) => (format!("{v}{unit} < {x}{unit}"), v < x),
                GaugeTest::Rise { over, at_least } => {
                    let rise = rises.next().map_or(0.0, |r| r.2);
                    (
                        format!(
                            "rise {rise:+}{unit} in {} ≥ {at_least}{unit}",
                            crate::time::format_duration(over)
                        ),
                        rise >= at_least,
                    )
                }
            };
            format!(
                "{} {text} {}",
                c.metric.as_str(),
                if ok { "✓" } else { "✗" }
            )
        })
        .collect();
    format!(
        "{} ({})",
        parts.join(", "),
        if spec.all { "all" } else { "any" }
    )
}

impl Correlator {
    pub(super) fn backlog_sample(
        &mut self,
        rule_id: RuleId,
        t: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[rule_id.index()];
        let RuleKind::Backlog(spec) = &rule.kind else {
            return;
        };
        let gauge = &rules.gauges[spec.gauge.index()];
        let (holds, values) = evaluate(spec, &gauge.id, &self.gauge_history[spec.gauge.index()]);
        let key: GroupKey = Box::new([]);
        if self.explaining(rule_id) {
            let text = describe(spec, &values);
            let RuleState::Backlog(state) = &self.states[rule_id.index()] else {
                return;
            };
            let now = match (&state.firing, holds) {
                (None, true) if spec.hold_for.is_zero() => "holds → FIRING".to_owned(),
                (None, true) => format!(
                    "holds; pending since {}, fires at {} if it still holds",
                    state.pending_since.unwrap_or(t),
                    state
                        .pending_since
                        .unwrap_or(t)
                        .saturating_add(spec.hold_for)
                ),
                (None, false) => "does not hold".to_owned(),
                (Some(_), true) => "holds; stays firing".to_owned(),
                (Some(_), false) if spec.keep_firing_for.is_zero() => {
                    "no longer holds → RESOLVED".to_owned()
                }
                (Some(_), false) => format!(
                    "no longer holds; resolves at {} unless it holds again",
                    state
                        .clear_since
                        .unwrap_or(t)
                        .saturating_add(spec.keep_firing_for)
                ),
            };
            self.note(rule_id, t, || format!("sample: {text}: {now}"));
        }
        let RuleState::Backlog(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        state.last = values;
        match (&state.firing, holds) {
            (None, true) => {
                let since = *state.pending_since.get_or_insert(t);
                let due = since.saturating_add(spec.hold_for);
                if due <= t {
                    self.backlog_fire(rule_id, since, due, out);
                } else {
                    self.timers.schedule(&mut state.armed, rule_id, &key, due);
                }
            }
            (None, false) => state.pending_since = None,
            (Some(_), true) => state.clear_since = None,
            (Some(_), false) => {
                let since = *state.clear_since.get_or_insert(t);
                let due = since.saturating_add(spec.keep_firing_for);
                if due <= t {
                    self.backlog_resolve(rule_id, due, out);
                } else {
                    self.timers.schedule(&mut state.armed, rule_id, &key, due);
                }
            }
        }
    }

    pub(super) fn backlog_timer(
        &mut self,
        rule_id: RuleId,
        due: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let RuleKind::Backlog(spec) = &self.rules.rules[rule_id.index()].kind else {
            return;
        };
        let (hold_for, keep) = (spec.hold_for, spec.keep_firing_for);
        let RuleState::Backlog(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        if state.armed != Some(due) {
            return;
        }
        state.armed = None;
        match (&state.firing, state.pending_since, state.clear_since) {
            (None, Some(since), _) if since.saturating_add(hold_for) <= due => {
                self.note(rule_id, due, || {
                    format!("held since {since} for `for` → FIRING")
                });
                self.backlog_fire(rule_id, since, due, out);
            }
            (Some(_), _, Some(since)) if since.saturating_add(keep) <= due => {
                self.note(rule_id, due, || {
                    format!("not holding since {since} for keep_firing_for → RESOLVED")
                });
                self.backlog_resolve(rule_id, due, out);
            }
            _ => {}
        }
    }

    fn backlog_fire(
        &mut self,
        rule_id: RuleId,
        since: Timestamp,
        at: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[rule_id.index()];
        let RuleKind::Backlog(spec) = &rule.kind else {
            return;
        };
        let fields = self.member_fields(&[]);
        let RuleState::Backlog(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        let alert_id = ids::alert_id(&rule.id, &[]);
        // The sample that made the condition true identifies the episode.
        let uuid = ids::episode_id(
            alert_id,
            &Cause::Sample {
                gauge: spec.gauge.0,
                at: since.as_unix_nanos(),
            },
        );
        let event_id = ids::event_id(uuid, Status::Firing.as_str());
        state.pending_since = None;
        state.clear_since = None;
        state.firing = Some(Episode {
            since: at,
            uuid,
            sent: false,
        });
        let values = state.last.clone();
        self.propagate(
            MemberEvent {
                rule: rule_id,
                fields: fields.clone(),
                kind: MemberKind::Fired,
                time: at,
                id: event_id,
                evidence: Vec::new(),
                related: Related {
                    rule: rule.id.clone(),
                    role: "member".into(),
                    status: "firing".into(),
                    since: Some(at),
                    last_active: Some(at),
                    count: None,
                    gauge: Some(values.clone()),
                },
            },
            out,
        );
        let sent = self.emit(
            Transition {
                rule: rule_id,
                status: Status::Firing,
                time: at,
                group: Vec::new(),
                alert_id,
                uuid,
                event_id,
                since: None,
                evidence: Vec::new(),
                related: Vec::new(),
                detail: Detail::Backlog { values },
            },
            &fields,
            out,
        );
        if let RuleState::Backlog(state) = &mut self.states[rule_id.index()]
            && let Some(ep) = state.firing.as_mut()
        {
            ep.sent = sent;
        }
    }

    fn backlog_resolve(&mut self, rule_id: RuleId, at: Timestamp, out: &mut Vec<Transition>) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[rule_id.index()];
        let fields = self.member_fields(&[]);
        let RuleState::Backlog(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        let Some(episode) = state.firing.take() else {
            return;
        };
        state.clear_since = None;
        let values = state.last.clone();
        let alert_id = ids::alert_id(&rule.id, &[]);
        let event_id = ids::event_id(episode.uuid, Status::Resolved.as_str());
        self.propagate(
            MemberEvent {
                rule: rule_id,
                fields: fields.clone(),
                kind: MemberKind::Resolved,
                time: at,
                id: event_id,
                evidence: Vec::new(),
                related: Related {
                    rule: rule.id.clone(),
                    role: "member".into(),
                    status: "resolved".into(),
                    since: Some(episode.since),
                    last_active: Some(at),
                    count: None,
                    gauge: Some(values.clone()),
                },
            },
            out,
        );
        if episode.sent {
            self.emit(
                Transition {
                    rule: rule_id,
                    status: Status::Resolved,
                    time: at,
                    group: Vec::new(),
                    alert_id,
                    uuid: episode.uuid,
                    event_id,
                    since: Some(episode.since),
                    evidence: Vec::new(),
                    related: Vec::new(),
                    detail: Detail::Backlog { values },
                },
                &fields,
                out,
            );
        } else {
            self.stats.transitions += 1;
        }
    }
}
