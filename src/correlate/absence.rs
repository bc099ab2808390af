//! `[[absence]]`: none of the rule's sources wrote a record for `for` →
//! firing at the exact moment the silence reached `for`; the next record
//! resolves it. Silence is counted from the correlator's start when a source
//! has not written since.

use std::sync::Arc;

use super::{
    Cause, Correlator, Detail, Episode, GroupKey, MemberEvent, MemberKind, Related, RuleState,
    Status, Transition, ids,
};
use crate::event::RuleId;
use crate::rule::RuleKind;
use crate::time::Timestamp;

/// State of an absence rule.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct AbsenceState {
    /// Last record time (or the start time).
    pub(super) last_seen: Option<Timestamp>,
    /// Whether `last_seen` is a real record (false: the start time).
    seen_record: bool,
    pub(super) firing: Option<Episode>,
    #[serde(skip)]
    pub(super) armed: Option<Timestamp>,
}

impl Correlator {
    pub(super) fn absence_start(&mut self, rule_id: RuleId, t: Timestamp) {
        let RuleKind::Absence(spec) = &self.rules.rules[rule_id.index()].kind else {
            return;
        };
        let due = t.saturating_add(spec.silent_for);
        let RuleState::Absence(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        if state.last_seen.is_none() {
            state.last_seen = Some(t);
            self.timers
                .schedule(&mut state.armed, rule_id, &GroupKey::default(), due);
        }
    }

    pub(super) fn absence_activity(
        &mut self,
        rule_id: RuleId,
        t: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let RuleKind::Absence(spec) = &self.rules.rules[rule_id.index()].kind else {
            return;
        };
        let due = t.saturating_add(spec.silent_for);
        let RuleState::Absence(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        state.last_seen = Some(t);
        state.seen_record = true;
        self.timers
            .schedule(&mut state.armed, rule_id, &GroupKey::default(), due);
        if let Some(episode) = state.firing.take() {
            self.note(rule_id, t, || "a record again → RESOLVED".into());
            self.absence_transition(rule_id, Status::Resolved, t, episode, out);
        }
    }

    pub(super) fn absence_timer(
        &mut self,
        rule_id: RuleId,
        due: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[rule_id.index()];
        let RuleKind::Absence(spec) = &rule.kind else {
            return;
        };
        let RuleState::Absence(state) = &mut self.states[rule_id.index()] else {
            return;
        };
        if state.armed != Some(due) {
            return;
        }
        state.armed = None;
        let Some(last) = state.last_seen else {
            return;
        };
        let fire_at = last.saturating_add(spec.silent_for);
        if fire_at > due {
            self.timers
                .schedule(&mut state.armed, rule_id, &GroupKey::default(), fire_at);
            return;
        }
        if state.firing.is_some() {
            return;
        }
        let alert_id = ids::alert_id(&rule.id, &[]);
        let uuid = ids::episode_id(alert_id, &Cause::timer(fire_at));
        let episode = Episode {
            since: fire_at,
            uuid,
            sent: false,
        };
        state.firing = Some(episode.clone());
        let silent = spec.silent_for;
        self.note(rule_id, fire_at, || {
            format!(
                "no record since {last} for {} → FIRING",
                crate::time::format_duration(silent)
            )
        });
        let sent = self.absence_transition(rule_id, Status::Firing, fire_at, episode, out);
        if let RuleState::Absence(state) = &mut self.states[rule_id.index()]
            && let Some(ep) = state.firing.as_mut()
        {
            ep.sent = sent;
        }
    }

    fn absence_transition(
        &mut self,
        rule_id: RuleId,
        status: Status,
        at: Timestamp,
        episode: Episode,
        out: &mut Vec<Transition>,
    ) -> bool {
        let rules = Arc::clone(&self.rules);
        let rule = &rules.rules[rule_id.index()];
        let RuleKind::Absence(spec) = &rule.kind else {
            return false;
        };
        let RuleState::Absence(state) = &self.states[rule_id.index()] else {
            return false;
        };
        let last_seen = if status == Status::Firing && state.seen_record {
            state.last_seen
        } else if status == Status::Firing {
            None
        } else {
            Some(at)
        };
        let fields = self.member_fields(&[]);
        let alert_id = ids::alert_id(&rule.id, &[]);
        let event_id = ids::event_id(episode.uuid, status.as_str());
        let (kind, word) = match status {
            Status::Firing => (MemberKind::Fired, "firing"),
            _ => (MemberKind::Resolved, "resolved"),
        };
        self.propagate(
            MemberEvent {
                rule: rule_id,
                fields: fields.clone(),
                kind,
                time: at,
                id: event_id,
                evidence: Vec::new(),
                related: Related {
                    rule: rule.id.clone(),
                    role: "member".into(),
                    status: word.into(),
                    since: Some(episode.since),
                    last_active: Some(at),
                    count: None,
                    gauge: None,
                },
            },
            out,
        );
        if status == Status::Resolved && !episode.sent {
            self.stats.transitions += 1;
            return false;
        }
        self.emit(
            Transition {
                rule: rule_id,
                status,
                time: at,
                group: Vec::new(),
                alert_id,
                uuid: episode.uuid,
                event_id,
                since: (status == Status::Resolved).then_some(episode.since),
                evidence: Vec::new(),
                related: Vec::new(),
                detail: Detail::Absence {
                    silent_for: spec.silent_for,
                    last_seen,
                },
            },
            &fields,
            out,
        )
    }
}
