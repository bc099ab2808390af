//! The correlator's state as data: what the agent persists in its state
//! folder so that windows, gauge history and firing alerts survive a restart
//! (a firing alert is not re-sent and resolves normally later), and what a
//! rule reload keeps for rules that did not change.
//!
//! Each rule's state is stored under its id with a fingerprint of its
//! definition (references by name, not index); a rule whose definition
//! changed starts afresh. Timers are not stored: they are re-armed from the
//! state on restore.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Correlator, GroupKey, Options, RuleState};
use crate::event::{GaugeSample, RuleId};
use crate::rule::{LineCondition, Rule, RuleKind, RuleSet};
use crate::time::Timestamp;

/// Version of the snapshot format.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The correlator's state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    now: Option<Timestamp>,
    rules: Vec<RuleSnapshot>,
    gauges: Vec<GaugeSnapshot>,
    /// The flapping guard's state (absent in older snapshots).
    #[serde(default)]
    flap: super::flap::FlapMap,
}

#[derive(Debug, Serialize, Deserialize)]
struct RuleSnapshot {
    id: String,
    fingerprint: u64,
    state: RuleState,
}

#[derive(Debug, Serialize, Deserialize)]
struct GaugeSnapshot {
    id: String,
    /// (time, files, bytes, oldest age)
    samples: Vec<(Timestamp, u64, u64, Duration)>,
}

/// What a restore kept and dropped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Rules whose state was restored.
    pub restored: usize,
    /// Rules in the snapshot that no longer exist or changed (state dropped).
    pub dropped: Vec<String>,
}

impl Correlator {
    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        let rules = self
            .rules
            .rules
            .iter()
            .zip(&self.states)
            .map(|(rule, state)| RuleSnapshot {
                id: rule.id.clone(),
                fingerprint: fingerprint(&self.rules, rule),
                state: state.clone(),
            })
            .collect();
        let gauges = self
            .rules
            .gauges
            .iter()
            .zip(&self.gauge_history)
            .map(|(g, hist)| GaugeSnapshot {
                id: g.id.clone(),
                samples: hist
                    .iter()
                    .map(|s| (s.time, s.files, s.bytes, s.oldest_age))
                    .collect(),
            })
            .collect();
        Snapshot {
            version: SNAPSHOT_VERSION,
            now: self.now,
            rules,
            gauges,
            flap: self.flap.clone(),
        }
    }

    /// A correlator for `rules` carrying over the state of every rule of
    /// `snapshot` whose definition is unchanged.
    pub fn restore(
        rules: Arc<RuleSet>,
        host: String,
        options: Options,
        snapshot: Snapshot,
    ) -> (Correlator, RestoreReport) {
        let mut c = Correlator::new(rules, host, options);
        let mut report = RestoreReport::default();
        let rules = Arc::clone(&c.rules);
        let mut by_id: BTreeMap<String, RuleSnapshot> = snapshot
            .rules
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        for (i, rule) in rules.rules.iter().enumerate() {
            let Some(saved) = by_id.remove(&rule.id) else {
                continue;
            };
            if saved.fingerprint == fingerprint(&rules, rule)
                && same_kind(&c.states[i], &saved.state)
            {
                c.states[i] = saved.state;
                report.restored += 1;
            } else {
                report.dropped.push(rule.id.clone());
            }
        }
        report.dropped.extend(by_id.into_keys());
        for saved in snapshot.gauges {
            if let Some(g) = rules.gauge_by_name(&saved.id) {
                c.gauge_history[g.index()] = saved
                    .samples
                    .into_iter()
                    .map(|(time, files, bytes, oldest_age)| GaugeSample {
                        gauge: g,
                        time,
                        files,
                        bytes,
                        oldest_age,
                    })
                    .collect();
            }
        }
        c.now = snapshot.now;
        // Alerts of rules that no longer exist are forgotten with them.
        c.flap = snapshot.flap;
        c.rearm();
        c.rearm_flap();
        (c, report)
    }

    /// Arms the timers that the restored state implies.
    fn rearm(&mut self) {
        let rules = Arc::clone(&self.rules);
        for (i, rule) in rules.rules.iter().enumerate() {
            let id = RuleId(i as u32);
            let empty = GroupKey::default();
            match (&rule.kind, &mut self.states[i]) {
                (RuleKind::Threshold(spec), RuleState::Threshold(groups)) => {
                    for (key, s) in groups.iter_mut() {
                        if let (Some(_), Some(last)) = (&s.firing, s.last_hit) {
                            self.timers.schedule(
                                &mut s.armed,
                                id,
                                key,
                                last.saturating_add(spec.resolve_after),
                            );
                        }
                    }
                }
                (RuleKind::Backlog(spec), RuleState::Backlog(s)) => {
                    let due = match (&s.firing, s.pending_since, s.clear_since) {
                        (None, Some(p), _) => Some(p.saturating_add(spec.hold_for)),
                        (Some(_), _, Some(c)) => Some(c.saturating_add(spec.keep_firing_for)),
                        _ => None,
                    };
                    if let Some(due) = due {
                        self.timers.schedule(&mut s.armed, id, &empty, due);
                    }
                }
                (RuleKind::Absence(spec), RuleState::Absence(s)) => match s.last_seen {
                    Some(last) => self.timers.schedule(
                        &mut s.armed,
                        id,
                        &empty,
                        last.saturating_add(spec.silent_for),
                    ),
                    None => {
                        if let Some(now) = self.now {
                            s.last_seen = Some(now);
                            self.timers.schedule(
                                &mut s.armed,
                                id,
                                &empty,
                                now.saturating_add(spec.silent_for),
                            );
                        }
                    }
                },
                (RuleKind::Correlate(spec), RuleState::Correlate(groups)) => {
                    for (key, s) in groups.iter_mut() {
                        if s.firing.is_some()
                            && let Some(due) = s.lapse_at(spec)
                        {
                            self.timers.schedule(&mut s.armed, id, key, due);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn same_kind(a: &RuleState, b: &RuleState) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn line_text(rules: &RuleSet, l: &LineCondition) -> String {
    let sources: Vec<&str> = l
        .sources
        .iter()
        .map(|s| rules.sources[s.index()].id.as_str())
        .collect();
    format!(
        "{sources:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}",
        l.pattern, l.not_contains, l.component, l.severity_at_least, l.thread, l.raw
    )
}

/// A hash of what a rule does (references by name), and whether it alerts.
pub(super) fn fingerprint(rules: &RuleSet, rule: &Rule) -> u64 {
    let name = |r: RuleId| rules.rules[r.index()].id.as_str();
    let text = match &rule.kind {
        RuleKind::Match(m) => format!(
            "match|{}|{:?}|{:?}",
            line_text(rules, &m.line),
            m.suppress_for,
            m.group_by
        ),
        RuleKind::Threshold(t) => format!(
            "threshold|{}|{}|{:?}|{:?}|{:?}",
            line_text(rules, &t.line),
            t.count,
            t.window,
            t.group_by,
            t.resolve_after
        ),
        RuleKind::Backlog(b) => format!(
            "backlog|{}|{}|{:?}|{:?}|{:?}",
            rules.gauges[b.gauge.index()].id,
            b.all,
            b.conditions,
            b.hold_for,
            b.keep_firing_for
        ),
        RuleKind::Absence(a) => {
            let sources: Vec<&str> = a
                .sources
                .iter()
                .map(|s| rules.sources[s.index()].id.as_str())
                .collect();
            format!("absence|{sources:?}|{:?}", a.silent_for)
        }
        RuleKind::Correlate(c) => {
            let members: Vec<&str> = c.members.iter().map(|m| name(*m)).collect();
            let pre = c
                .preceded_by
                .as_ref()
                .map(|p| (name(p.rule), p.within, p.required));
            format!(
                "correlate|{members:?}|{}|{:?}|{:?}|{pre:?}|{}",
                c.ordered, c.within, c.group_by, c.inhibit_members
            )
        }
    };
    let text = format!("{text}|alert={}", rule.meta.alert);
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// Serde helper: a map with non-string keys as a list of pairs (JSON maps
/// need string keys).
pub(super) mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialises as `[[key, value], …]`.
    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    /// Reads `[[key, value], …]`.
    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Vec::<(K, V)>::deserialize(d).map(|v| v.into_iter().collect())
    }
}

/// Serde helper: a 128-bit id as 32 hex digits (JSON numbers stop at 64 bits).
pub(super) mod hex128 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes 32 hex digits.
    pub fn serialize<S: Serializer>(x: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{x:032x}"))
    }

    /// Reads 32 hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        u128::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}
