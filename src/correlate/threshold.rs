//! `[[threshold]]`: `count` matching records within `window` of record time
//! fire the alert at the record that completes the count; no matching record
//! for `resolve_after` resolves it at that exact time.

use std::collections::VecDeque;
use std::sync::Arc;

use super::{
    Cause, Correlator, Detail, Episode, Evidence, GroupKey, MemberEvent, MemberKind, Related,
    RuleState, Status, Transition, evidence_of, ids, push_capped,
};
use crate::event::{Hit, RuleId};
use crate::rule::RuleKind;
use crate::time::{Timestamp, format_duration};

/// One group of a threshold rule.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct ThresholdState {
    /// Times of the most recent matches (at most `count`).
    recent: VecDeque<Timestamp>,
    /// Most recent matching records.
    evidence: VecDeque<Evidence>,
    pub(super) last_hit: Option<Timestamp>,
    /// Matches since the episode started.
    episode_count: u64,
    pub(super) firing: Option<Episode>,
    #[serde(skip)]
    pub(super) armed: Option<Timestamp>,
}

impl super::GroupState for ThresholdState {
    fn last_active(&self) -> Option<Timestamp> {
        self.last_hit
    }

    fn is_firing(&self) -> bool {
        self.firing.is_some()
    }
}

impl Correlator {
    pub(super) fn threshold_hit(&mut self, hit: Hit, t: Timestamp, out: &mut Vec<Transition>) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[hit.rule.index()];
        let RuleKind::Threshold(spec) = &rule.kind else {
            return;
        };
        let max_evidence = self.options.max_evidence;
        let group = self.group_pairs(rule, &hit.group);
        let fields = self.member_fields(&group);
        let RuleState::Threshold(groups) = &mut self.states[hit.rule.index()] else {
            return;
        };
        if !super::admit(
            groups,
            &hit.group,
            self.options.max_groups,
            &mut self.stats,
            &rule.id,
        ) {
            return;
        }
        let state = groups.entry(hit.group.clone()).or_default();
        state.last_hit = Some(t);
        push_capped(&mut state.evidence, evidence_of(&hit, t), max_evidence);
        if state.firing.is_some() {
            state.episode_count += 1;
            let n = state.episode_count;
            let due = t.saturating_add(spec.resolve_after);
            self.timers
                .schedule(&mut state.armed, hit.rule, &hit.group, due);
            self.note(hit.rule, t, || {
                format!("match while firing ({n} in this episode); resolves at {due} unless another comes")
            });
            return;
        }
        state.recent.push_back(t);
        while state.recent.len() > spec.count as usize {
            state.recent.pop_front();
        }
        let window_start = t.saturating_sub(spec.window);
        while state
            .recent
            .front()
            .is_some_and(|&first| first < window_start)
        {
            state.recent.pop_front();
        }
        if state.recent.len() < spec.count as usize {
            let (n, first) = (state.recent.len(), state.recent.front().copied());
            self.note(hit.rule, t, || {
                format!(
                    "match {n} of {} within {}{}: not firing yet",
                    spec.count,
                    format_duration(spec.window),
                    first.filter(|_| n > 1).map_or(String::new(), |f| format!(
                        " (window opened by the match at {f})"
                    ))
                )
            });
            return;
        }
        // Fire at the record that completes the count.
        let alert_id = ids::alert_id(&rule.id, &group);
        let uuid = ids::episode_id(alert_id, &Cause::record(hit.origin.file, hit.origin.offset));
        let event_id = ids::event_id(uuid, Status::Firing.as_str());
        let count = state.recent.len() as u64;
        state.episode_count = count;
        let evidence: Vec<Evidence> = state.evidence.iter().cloned().collect();
        state.firing = Some(Episode {
            since: t,
            uuid,
            sent: false,
        });
        let due = t.saturating_add(spec.resolve_after);
        self.timers
            .schedule(&mut state.armed, hit.rule, &hit.group, due);
        let related = Related {
            rule: rule.id.clone(),
            role: "member".into(),
            status: "firing".into(),
            since: Some(t),
            last_active: Some(t),
            count: Some(count),
            gauge: None,
        };
        self.note(hit.rule, t, || {
            format!(
                "match {} of {} within {} → FIRING",
                spec.count,
                spec.count,
                format_duration(spec.window)
            )
        });
        self.propagate(
            MemberEvent {
                rule: hit.rule,
                fields: fields.clone(),
                kind: MemberKind::Fired,
                time: t,
                id: event_id,
                evidence: evidence.clone(),
                related,
            },
            out,
        );
        let tr = Transition {
            rule: hit.rule,
            status: Status::Firing,
            time: t,
            group,
            alert_id,
            uuid,
            event_id,
            since: None,
            evidence,
            related: Vec::new(),
            detail: Detail::Threshold {
                count,
                window: spec.window,
                resolve_after: spec.resolve_after,
                last: t,
            },
        };
        let sent = self.emit(tr, &fields, out);
        if let RuleState::Threshold(groups) = &mut self.states[hit.rule.index()]
            && let Some(ep) = groups.get_mut(&hit.group).and_then(|s| s.firing.as_mut())
        {
            ep.sent = sent;
        }
    }

    pub(super) fn threshold_timer(
        &mut self,
        rule_id: RuleId,
        key: &GroupKey,
        due: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[rule_id.index()];
        let RuleKind::Threshold(spec) = &rule.kind else {
            return;
        };
        let group = self.group_pairs(rule, key);
        let fields = self.member_fields(&group);
        let RuleState::Threshold(groups) = &mut self.states[rule_id.index()] else {
            return;
        };
        let Some(state) = groups.get_mut(key) else {
            return;
        };
        if state.armed != Some(due) {
            return; // stale
        }
        state.armed = None;
        let (Some(episode), Some(last)) = (state.firing.clone(), state.last_hit) else {
            return;
        };
        let resolve_at = last.saturating_add(spec.resolve_after);
        if resolve_at > due {
            self.timers
                .schedule(&mut state.armed, rule_id, key, resolve_at);
            return;
        }
        state.firing = None;
        state.recent.clear();
        let since_last = format_duration(spec.resolve_after);
        self.note(rule_id, resolve_at, || {
            format!("no match for {since_last} since {last} → RESOLVED")
        });
        let RuleState::Threshold(groups) = &mut self.states[rule_id.index()] else {
            return;
        };
        let Some(state) = groups.get_mut(key) else {
            return;
        };
        let count = state.episode_count;
        let evidence: Vec<Evidence> = state.evidence.iter().cloned().collect();
        state.evidence.clear();
        // The episode's identity is fixed at firing; the resolution carries it.
        let alert_id = ids::alert_id(&rule.id, &group);
        let event_id = ids::event_id(episode.uuid, Status::Resolved.as_str());
        let related = Related {
            rule: rule.id.clone(),
            role: "member".into(),
            status: "resolved".into(),
            since: Some(episode.since),
            last_active: Some(resolve_at),
            count: Some(count),
            gauge: None,
        };
        self.propagate(
            MemberEvent {
                rule: rule_id,
                fields: fields.clone(),
                kind: MemberKind::Resolved,
                time: resolve_at,
                id: event_id,
                evidence: Vec::new(),
                related,
            },
            out,
        );
        if episode.sent {
            self.emit(
                Transition {
                    rule: rule_id,
                    status: Status::Resolved,
                    time: resolve_at,
                    group,
                    alert_id,
                    uuid: episode.uuid,
                    event_id,
                    since: Some(episode.since),
                    evidence,
                    related: Vec::new(),
                    detail: Detail::Threshold {
                        count,
                        window: spec.window,
                        resolve_after: spec.resolve_after,
                        last,
                    },
                },
                &fields,
                out,
            );
        } else {
            self.stats.transitions += 1;
        }
    }
}
