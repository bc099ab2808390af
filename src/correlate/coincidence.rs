//! `[[correlate]]`: rules that coincide.
//!
//! A member counts when it was active — firing, or matched for a one-shot
//! rule — at some moment within the last `within` (a member last active
//! exactly `within` ago no longer counts: the coincidence lapses at that
//! instant). The correlation fires at
//! the first moment every member counts (for `sequence`, also with the
//! members' activations in the listed order) and resolves at the first moment
//! one no longer does. A required `preceded_by` rule must have been active no
//! longer than its `within` before the first member activation of the
//! coincidence (or at any time after it); an optional one is context shown in
//! `logwarden.alert.related`.
//!
//! Members' groups are projected onto the correlation's `group_by` by field
//! name (`host.name` is always available); a field a member does not have is
//! the empty string.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::{
    Cause, Correlator, Detail, Episode, Evidence, GroupKey, MemberEvent, MemberKind, Related,
    RuleState, Status, Transition, ids, push_capped,
};
use crate::event::RuleId;
use crate::rule::{CorrelateRule, RuleKind};
use crate::time::{Timestamp, format_duration};

/// Activation starts remembered per member (for `sequence`).
const MAX_STARTS: usize = 32;

/// What a correlation knows of one member in one group.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
struct MemberTrack {
    /// Member alerts currently firing (by their fields) and since when.
    #[serde(with = "super::pairs")]
    pub(super) firing: BTreeMap<Vec<(String, String)>, Timestamp>,
    last_active: Option<Timestamp>,
    /// Recent activation starts, oldest first.
    starts: VecDeque<Timestamp>,
    evidence: VecDeque<Evidence>,
    related: Option<Related>,
}

impl MemberTrack {
    fn active_at(&self, t: Timestamp, within: std::time::Duration) -> bool {
        !self.firing.is_empty()
            || self
                .last_active
                .is_some_and(|la| la > t.saturating_sub(within))
    }

    /// Activation starts that still count at `t`, ascending.
    fn relevant_starts(&self, t: Timestamp, within: std::time::Duration) -> Vec<Timestamp> {
        let horizon = t.saturating_sub(within);
        let mut v: Vec<Timestamp> = self
            .starts
            .iter()
            .copied()
            .filter(|&s| s > horizon && s <= t)
            .collect();
        v.extend(self.firing.values().copied());
        v.sort();
        v
    }

    fn view(&self, rule: &str, role: &str, t: Timestamp, within: std::time::Duration) -> Related {
        let mut r = self.related.clone().unwrap_or(Related {
            rule: rule.to_owned(),
            role: role.to_owned(),
            status: "inactive".into(),
            since: None,
            last_active: None,
            count: None,
            gauge: None,
        });
        r.role = role.to_owned();
        r.last_active = self.last_active;
        if !self.firing.is_empty() {
            r.status = "firing".into();
        } else if !self.active_at(t, within) {
            r.status = "inactive".into();
        }
        r
    }
}

/// One group of a correlation.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct CorrelationState {
    members: Vec<MemberTrack>,
    precondition: MemberTrack,
    pub(super) firing: Option<Episode>,
    #[serde(skip)]
    pub(super) armed: Option<Timestamp>,
}

impl super::GroupState for CorrelationState {
    fn last_active(&self) -> Option<Timestamp> {
        self.members
            .iter()
            .chain(std::iter::once(&self.precondition))
            .filter_map(|m| m.last_active)
            .max()
    }

    fn is_firing(&self) -> bool {
        self.firing.is_some()
    }
}

impl CorrelationState {
    fn new(members: usize) -> CorrelationState {
        CorrelationState {
            members: (0..members).map(|_| MemberTrack::default()).collect(),
            ..CorrelationState::default()
        }
    }

    /// Whether the coincidence holds at `t` (ignoring `preceded_by`), and the
    /// first member activation it rests on.
    fn holds(&self, spec: &CorrelateRule, t: Timestamp) -> Option<Timestamp> {
        if !self.members.iter().all(|m| m.active_at(t, spec.within)) {
            return None;
        }
        let starts: Vec<Vec<Timestamp>> = self
            .members
            .iter()
            .map(|m| m.relevant_starts(t, spec.within))
            .collect();
        if spec.ordered {
            let mut cursor = Timestamp::MIN;
            let mut first = None;
            for s in &starts {
                let next = s.iter().copied().find(|&x| x >= cursor)?;
                first.get_or_insert(next);
                cursor = next;
            }
            first
        } else {
            // A member active only through `last_active` (a resolution inside
            // the window) may have no start left in the window: fall back to
            // `t` for it.
            Some(
                starts
                    .iter()
                    .filter_map(|s| s.first().copied())
                    .min()
                    .unwrap_or(t),
            )
        }
    }

    /// When the coincidence lapses if nothing else happens (only members
    /// that are not firing can lapse).
    pub(super) fn lapse_at(&self, spec: &CorrelateRule) -> Option<Timestamp> {
        self.members
            .iter()
            .filter(|m| m.firing.is_empty())
            .filter_map(|m| m.last_active)
            .map(|la| la.saturating_add(spec.within))
            .min()
    }
}

fn project(spec: &CorrelateRule, fields: &[(String, String)]) -> GroupKey {
    spec.group_by
        .iter()
        .map(|f| {
            fields
                .iter()
                .find(|(k, _)| k == f.name())
                .map_or_else(|| Box::<str>::from(""), |(_, v)| Box::from(v.as_str()))
        })
        .collect()
}

impl Correlator {
    pub(super) fn correlation_member_event(
        &mut self,
        corr: RuleId,
        ev: &MemberEvent,
        queue: &mut VecDeque<MemberEvent>,
        out: &mut Vec<Transition>,
    ) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[corr.index()];
        let RuleKind::Correlate(spec) = &rule.kind else {
            return;
        };
        let max_evidence = self.options.max_evidence;
        let explaining = self.explaining(corr);
        let key = project(spec, &ev.fields);
        let RuleState::Correlate(groups) = &mut self.states[corr.index()] else {
            return;
        };
        if !super::admit(
            groups,
            &key,
            self.options.max_groups,
            &mut self.stats,
            &rule.id,
        ) {
            return;
        }
        let state = groups
            .entry(key.clone())
            .or_insert_with(|| CorrelationState::new(spec.members.len()));
        for i in 0..spec.members.len() {
            if spec.members[i] == ev.rule {
                update_track(&mut state.members[i], ev, max_evidence);
            }
        }
        if spec.preceded_by.as_ref().is_some_and(|p| p.rule == ev.rule) {
            update_track(&mut state.precondition, ev, max_evidence);
        }
        let t = ev.time;
        let why = explaining.then(|| explain_members(&rules, spec, state, ev, t));
        if state.firing.is_some() {
            if let Some(due) = state.lapse_at(spec) {
                self.timers.schedule(&mut state.armed, corr, &key, due);
            }
            if let Some(why) = why {
                self.note(corr, t, || format!("{why}: already firing"));
            }
            return;
        }
        let Some(first) = state.holds(spec, t) else {
            if let Some(why) = why {
                let what = if spec.ordered {
                    "not every member active in the listed order"
                } else {
                    "not every member active"
                };
                self.note(corr, t, || format!("{why}: {what}"));
            }
            return;
        };
        if let Some(p) = &spec.preceded_by
            && p.required
        {
            let ok = state
                .precondition
                .last_active
                .is_some_and(|la| la >= first.saturating_sub(p.within) && la <= t);
            if !ok {
                if let Some(why) = why {
                    let pre = rules.rules[p.rule.index()].id.clone();
                    self.note(corr, t, || {
                        format!(
                            "{why}: the required {pre} was not active within {} before",
                            format_duration(p.within)
                        )
                    });
                }
                return;
            }
        }
        if let Some(why) = why {
            self.note(corr, t, || format!("{why} → FIRING"));
        }
        let RuleState::Correlate(groups) = &mut self.states[corr.index()] else {
            return;
        };
        let Some(state) = groups.get_mut(&key) else {
            return;
        };
        let group: Vec<(String, String)> = spec
            .group_by
            .iter()
            .zip(key.iter())
            .map(|(f, v)| (f.name().to_owned(), v.to_string()))
            .collect();
        let alert_id = ids::alert_id(&rule.id, &group);
        let uuid = ids::episode_id(alert_id, &Cause::Derived(ev.id));
        let event_id = ids::event_id(uuid, Status::Firing.as_str());
        state.firing = Some(Episode {
            since: t,
            uuid,
            sent: false,
        });
        if let Some(due) = state.lapse_at(spec) {
            self.timers.schedule(&mut state.armed, corr, &key, due);
        }
        let (evidence, related) = correlation_view(&rules, spec, state, t, max_evidence);
        let fields = self.member_fields(&group);
        queue.push_back(MemberEvent {
            rule: corr,
            fields: fields.clone(),
            kind: MemberKind::Fired,
            time: t,
            id: event_id,
            evidence: evidence.clone(),
            related: Related {
                rule: rule.id.clone(),
                role: "member".into(),
                status: "firing".into(),
                since: Some(t),
                last_active: Some(t),
                count: None,
                gauge: None,
            },
        });
        let sent = self.emit(
            Transition {
                rule: corr,
                status: Status::Firing,
                time: t,
                group,
                alert_id,
                uuid,
                event_id,
                since: None,
                evidence,
                related,
                detail: Detail::Correlate {
                    within: spec.within,
                    ordered: spec.ordered,
                },
            },
            &fields,
            out,
        );
        if let RuleState::Correlate(groups) = &mut self.states[corr.index()]
            && let Some(ep) = groups.get_mut(&key).and_then(|s| s.firing.as_mut())
        {
            ep.sent = sent;
        }
    }

    pub(super) fn correlation_timer(
        &mut self,
        corr: RuleId,
        key: &GroupKey,
        due: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[corr.index()];
        let RuleKind::Correlate(spec) = &rule.kind else {
            return;
        };
        let max_evidence = self.options.max_evidence;
        let RuleState::Correlate(groups) = &mut self.states[corr.index()] else {
            return;
        };
        let Some(state) = groups.get_mut(key) else {
            return;
        };
        if state.armed != Some(due) {
            return;
        }
        state.armed = None;
        let Some(episode) = state.firing.clone() else {
            return;
        };
        if state.members.iter().all(|m| m.active_at(due, spec.within)) {
            // Re-arm only forward: a due time that does not move would spin.
            if let Some(next) = state.lapse_at(spec).filter(|&n| n > due) {
                self.timers.schedule(&mut state.armed, corr, key, next);
            }
            return;
        }
        state.firing = None;
        let lapsed: Vec<String> = spec
            .members
            .iter()
            .zip(&state.members)
            .filter(|(_, m)| !m.active_at(due, spec.within))
            .map(|(id, _)| rules.rules[id.index()].id.clone())
            .collect();
        let (evidence, related) = correlation_view(&rules, spec, state, due, max_evidence);
        self.note(corr, due, || {
            format!(
                "{} not active within the last {} → RESOLVED",
                lapsed.join(", "),
                format_duration(spec.within)
            )
        });
        let group: Vec<(String, String)> = spec
            .group_by
            .iter()
            .zip(key.iter())
            .map(|(f, v)| (f.name().to_owned(), v.to_string()))
            .collect();
        let alert_id = ids::alert_id(&rule.id, &group);
        let event_id = ids::event_id(episode.uuid, Status::Resolved.as_str());
        let fields = self.member_fields(&group);
        self.propagate(
            MemberEvent {
                rule: corr,
                fields: fields.clone(),
                kind: MemberKind::Resolved,
                time: due,
                id: event_id,
                evidence: Vec::new(),
                related: Related {
                    rule: rule.id.clone(),
                    role: "member".into(),
                    status: "resolved".into(),
                    since: Some(episode.since),
                    last_active: Some(due),
                    count: None,
                    gauge: None,
                },
            },
            out,
        );
        if episode.sent {
            self.emit(
                Transition {
                    rule: corr,
                    status: Status::Resolved,
                    time: due,
                    group,
                    alert_id,
                    uuid: episode.uuid,
                    event_id,
                    since: Some(episode.since),
                    evidence,
                    related,
                    detail: Detail::Correlate {
                        within: spec.within,
                        ordered: spec.ordered,
                    },
                },
                &fields,
                out,
            );
        } else {
            self.stats.transitions += 1;
        }
    }

    /// Whether correlation `corr` holds back documents of `member` with these fields.
    pub(super) fn inhibits(
        &self,
        corr: RuleId,
        member: RuleId,
        fields: &[(String, String)],
    ) -> bool {
        let RuleKind::Correlate(spec) = &self.rules.rules[corr.index()].kind else {
            return false;
        };
        if !spec.inhibit_members || !spec.members.contains(&member) {
            return false;
        }
        let RuleState::Correlate(groups) = &self.states[corr.index()] else {
            return false;
        };
        groups
            .get(&project(spec, fields))
            .is_some_and(|s| s.firing.is_some())
    }
}

/// "waits fired; within 10m: waits ✓ firing, full ✗ last active never" for an explanation.
fn explain_members(
    rules: &crate::rule::RuleSet,
    spec: &CorrelateRule,
    state: &CorrelationState,
    ev: &MemberEvent,
    t: Timestamp,
) -> String {
    let what = match ev.kind {
        MemberKind::Matched => "matched",
        MemberKind::Fired => "fired",
        MemberKind::Resolved => "resolved",
    };
    let members: Vec<String> = spec
        .members
        .iter()
        .zip(&state.members)
        .map(|(id, m)| {
            let name = &rules.rules[id.index()].id;
            if !m.firing.is_empty() {
                format!("{name} ✓ firing")
            } else if m.active_at(t, spec.within) {
                format!(
                    "{name} ✓ active at {}",
                    m.last_active.map_or_else(String::new, |l| l.to_string())
                )
            } else {
                format!(
                    "{name} ✗ last active {}",
                    m.last_active
                        .map_or_else(|| "never".to_owned(), |l| l.to_string())
                )
            }
        })
        .collect();
    format!(
        "{} {what}; within {}: {}",
        rules.rules[ev.rule.index()].id,
        format_duration(spec.within),
        members.join(", ")
    )
}

fn update_track(track: &mut MemberTrack, ev: &MemberEvent, max_evidence: usize) {
    let t = ev.time;
    match ev.kind {
        MemberKind::Matched => {
            track.last_active = Some(track.last_active.map_or(t, |la| la.max(t)));
            track.starts.push_back(t);
        }
        MemberKind::Fired => {
            track.firing.insert(ev.fields.clone(), t);
            track.last_active = Some(track.last_active.map_or(t, |la| la.max(t)));
            track.starts.push_back(t);
        }
        MemberKind::Resolved => {
            track.firing.remove(&ev.fields);
            track.last_active = Some(track.last_active.map_or(t, |la| la.max(t)));
        }
    }
    while track.starts.len() > MAX_STARTS {
        track.starts.pop_front();
    }
    for e in &ev.evidence {
        push_capped(&mut track.evidence, e.clone(), max_evidence);
    }
    track.related = Some(ev.related.clone());
}

/// Evidence (members' most recent records, oldest first) and the members'
/// and precondition's state for a correlation document.
fn correlation_view(
    rules: &crate::rule::RuleSet,
    spec: &CorrelateRule,
    state: &CorrelationState,
    t: Timestamp,
    max_evidence: usize,
) -> (Vec<Evidence>, Vec<Related>) {
    let mut evidence: Vec<Evidence> = state
        .members
        .iter()
        .flat_map(|m| m.evidence.iter().cloned())
        .collect();
    evidence.sort_by(|a, b| (a.time, &a.path, a.offset).cmp(&(b.time, &b.path, b.offset)));
    evidence.dedup();
    if evidence.len() > max_evidence {
        evidence.drain(..evidence.len() - max_evidence);
    }
    let mut related: Vec<Related> = spec
        .members
        .iter()
        .zip(&state.members)
        .map(|(id, m)| m.view(&rules.rules[id.index()].id, "member", t, spec.within))
        .collect();
    if let Some(p) = &spec.preceded_by {
        let mut r =
            state
                .precondition
                .view(&rules.rules[p.rule.index()].id, "preceded_by", t, p.within);
        if state.precondition.last_active.is_none() {
            r.status = "inactive".into();
        }
        related.push(r);
    }
    (evidence, related)
}
