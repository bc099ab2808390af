//! The flapping guard: an alert that keeps firing and resolving must not
//! flood the SIEM with document pairs.
//!
//! Every sent firing starts an episode the SIEM sees. When an alert has
//! started more than [`Options::flap_threshold`](super::Options) episodes
//! within [`Options::flap_window`](super::Options), it is flapping: its next
//! resolution is *held* for one flap window. If the alert fires again while
//! the resolution is held, nothing is sent — the SIEM's episode simply goes
//! on (same `logwarden.alert.uuid`). If it stays quiet, the held resolution
//! is sent when the hold ends, still stamped with the moment it really
//! resolved (`@timestamp` tells the truth; only delivery is late).
//!
//! The state machines of the rule kinds are unaware of this: they and the
//! correlations that watch them see every transition; only documents are
//! shaped here.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{Correlator, GroupKey, Status, Transition, ids};
use crate::time::Timestamp;

/// What the guard knows of one alert (rule + group).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct FlapState {
    /// Start times of recent episodes (within the flap window).
    starts: VecDeque<Timestamp>,
    /// The episode the SIEM sees as firing, and since when.
    open: Option<(Timestamp, Hex128)>,
    /// A resolution held back, and when it is due.
    held: Option<(Timestamp, Transition)>,
}

/// A 128-bit id that serialises as hex.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Hex128(#[serde(with = "super::snapshot::hex128")] u128);

/// Alerts the guard tracks, by `logwarden.alert.id` in hex (JSON map keys
/// must be strings).
pub(super) type FlapMap = BTreeMap<String, FlapState>;

impl Correlator {
    /// Passes a sendable transition through the guard into `out`.
    pub(super) fn guard(&mut self, mut tr: Transition, out: &mut Vec<Transition>) {
        if tr.status == Status::Matched {
            out.push(tr);
            return;
        }
        let window = self.options.flap_window;
        let threshold = self.options.flap_threshold;
        let key = ids::format_hex(tr.alert_id);
        let state = self.flap.entry(key.clone()).or_default();
        let horizon = tr.time.saturating_sub(window);
        while state.starts.front().is_some_and(|&s| s < horizon) {
            state.starts.pop_front();
        }
        match tr.status {
            Status::Firing => {
                state.starts.push_back(tr.time);
                if state.held.take().is_some() {
                    // Fired again during the hold: the SIEM's episode goes on.
                    self.stats.flapping += 1;
                    return;
                }
                state.open = Some((tr.time, Hex128(tr.uuid)));
                out.push(tr);
            }
            _ => {
                // The resolution closes the episode the SIEM saw.
                if let Some((since, Hex128(uuid))) = state.open {
                    tr.uuid = uuid;
                    tr.event_id = ids::event_id(uuid, Status::Resolved.as_str());
                    tr.since = Some(since);
                }
                if threshold > 0 && state.starts.len() > threshold && !window.is_zero() {
                    let due = tr.time.saturating_add(window);
                    state.held = Some((due, tr));
                    self.stats.flap_held += 1;
                    let mut armed = None;
                    self.timers.schedule_flap(&mut armed, &key, due);
                    return;
                }
                state.open = None;
                out.push(tr);
            }
        }
        if self.flap.len() > 1_024 && self.stats.transitions.is_multiple_of(1_024) {
            self.sweep_flap(horizon);
        }
    }

    /// The hold of alert `key` ends: send its resolution if still held.
    pub(super) fn flap_timer(&mut self, key: &GroupKey, due: Timestamp, out: &mut Vec<Transition>) {
        let Some(key) = key.first() else {
            return;
        };
        let Some(state) = self.flap.get_mut(key.as_ref()) else {
            return;
        };
        if state.held.as_ref().is_some_and(|(d, _)| *d == due)
            && let Some((_, tr)) = state.held.take()
        {
            state.open = None;
            out.push(tr);
        }
    }

    /// Re-arms the timers of held resolutions (after a restore).
    pub(super) fn rearm_flap(&mut self) {
        let held: Vec<(String, Timestamp)> = self
            .flap
            .iter()
            .filter_map(|(k, s)| s.held.as_ref().map(|(due, _)| (k.clone(), *due)))
            .collect();
        for (key, due) in held {
            let mut armed = None;
            self.timers.schedule_flap(&mut armed, &key, due);
        }
    }

    /// Forgets alerts with nothing open, nothing held and no recent start.
    fn sweep_flap(&mut self, horizon: Timestamp) {
        self.flap.retain(|_, s| {
            s.open.is_some() || s.held.is_some() || s.starts.back().is_some_and(|&t| t >= horizon)
        });
    }
}
