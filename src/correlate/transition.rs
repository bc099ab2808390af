//! What the correlator emits: [`Transition`]s of an alert's lifecycle, with
//! the evidence and numbers the alert document is built from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::RuleId;
use crate::time::Timestamp;

/// The status a transition moves an alert to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// pending/inactive → firing.
    Firing,
    /// firing → resolved.
    Resolved,
    /// A one-shot `match` alert.
    Matched,
}

impl Status {
    /// `firing`, `resolved` or `matched`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
            Status::Matched => "matched",
        }
    }
}

/// One sample record kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The record's message.
    pub message: String,
    /// `log.file.path`.
    pub path: String,
    /// `log.offset`.
    pub offset: u64,
    /// Record time.
    pub time: Timestamp,
}

/// Gauge values at a sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeValues {
    /// The gauge id.
    pub gauge: String,
    /// Sample time.
    pub time: Timestamp,
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
    /// Age of the oldest file.
    pub oldest_age: Duration,
    /// For each `rise` condition: the metric, the look-back span and the rise seen.
    pub rises: Vec<(String, Duration, f64)>,
}

/// A member's (or precondition's) state, as shown in `logwarden.alert.related`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Related {
    /// The rule id.
    pub rule: String,
    /// `member` or `preceded_by`.
    pub role: String,
    /// `firing`, `resolved`, `matched` or `inactive` at the transition.
    pub status: String,
    /// Start of the member's current or last firing episode.
    pub since: Option<Timestamp>,
    /// The last moment the member was active.
    pub last_active: Option<Timestamp>,
    /// Matching records counted (line rules).
    pub count: Option<u64>,
    /// Gauge values (backlog rules).
    pub gauge: Option<GaugeValues>,
}

/// The numbers behind a transition, for the human sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Detail {
    /// A `match` rule matched a record.
    Match,
    /// A `threshold` rule.
    Threshold {
        /// Records counted: in the window at firing, in the episode at resolution.
        count: u64,
        /// The rule's window.
        window: Duration,
        /// The rule's resolve_after.
        resolve_after: Duration,
        /// The last matching record's time.
        last: Timestamp,
    },
    /// A `backlog` rule.
    Backlog {
        /// Values at the latest sample.
        values: GaugeValues,
    },
    /// An `absence` rule.
    Absence {
        /// The rule's `for`.
        silent_for: Duration,
        /// Time of the last record before the silence (None: never seen since start).
        last_seen: Option<Timestamp>,
    },
    /// A `correlate` rule.
    Correlate {
        /// The rule's `within`.
        within: Duration,
        /// True for `sequence`.
        ordered: bool,
    },
}

/// One state change of one alert (rule + group).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The rule.
    pub rule: RuleId,
    /// The new status.
    pub status: Status,
    /// Record (or sample) time of the change.
    pub time: Timestamp,
    /// `logwarden.alert.group`: the group-by fields and values.
    pub group: Vec<(String, String)>,
    /// `logwarden.alert.id`.
    #[serde(with = "super::snapshot::hex128")]
    pub alert_id: u128,
    /// `logwarden.alert.uuid`.
    #[serde(with = "super::snapshot::hex128")]
    pub uuid: u128,
    /// `event.id`.
    #[serde(with = "super::snapshot::hex128")]
    pub event_id: u128,
    /// For a resolution: when the episode started firing.
    pub since: Option<Timestamp>,
    /// Sample records.
    pub evidence: Vec<Evidence>,
    /// Members and preconditions (correlations).
    pub related: Vec<Related>,
    /// The numbers behind it.
    pub detail: Detail,
}
