//! The types that cross stage boundaries.
//!
//! Sources produce raw lines; [`crate::parse`] turns them into borrowed
//! [`Record`]s; [`crate::matcher`] turns the few records that match a rule into
//! owned [`Hit`]s; gauges produce [`GaugeSample`]s; the correlator consumes
//! [`Input`]s. Nothing here does I/O.
//!
//! **Architecture invariant:** a [`Record`] borrows from the read buffer, so
//! a line that matches no rule is never copied.

use std::sync::Arc;
use std::time::Duration;

use crate::time::Timestamp;

/// Index of a `[[source]]` in a [`crate::rule::RuleSet`].
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct SourceId(pub u32);

/// Index of a `[[gauge]]` in a [`crate::rule::RuleSet`].
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct GaugeId(pub u32);

/// Index of a rule (any kind but source and gauge) in a [`crate::rule::RuleSet`].
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RuleId(pub u32);

impl SourceId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl GaugeId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl RuleId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Severity of a record, from the CMTrace `type` attribute (1, 2, 3).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `type="1"`.
    Info = 1,
    /// `type="2"`.
    Warning = 2,
    /// `type="3"`.
    Error = 3,
}

impl Severity {
    /// The lower-case name used in rule files and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One log record, borrowed from the buffer it was read into.
///
/// For `sms` and `plain` a record is one physical line; for `cmtrace` it is
/// one `<![LOG[…]LOG]!><…>` unit, which may span lines or share one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// The whole physical record, line ending removed (`raw = true` rules see this).
    pub raw: &'a str,
    /// The message: the SMS trailer or CMTrace markup taken off, `~` kept.
    pub message: &'a str,
    /// The component (`$$<COMPONENT>` or `component="…"`), if any.
    pub component: Option<&'a str>,
    /// The writer's thread id, if any.
    pub thread: Option<u32>,
    /// The CMTrace severity, if any.
    pub severity: Option<Severity>,
    /// The record's own timestamp converted to UTC, if it had a readable one.
    pub time: Option<Timestamp>,
    /// Byte offset in the file where the record starts (unique per record
    /// within one file incarnation, stable across re-reads).
    pub offset: u64,
    /// True when the physical line was longer than the line cap and was cut.
    pub cut: bool,
}

/// Stable identity of one file incarnation: what checkpoints are keyed by and
/// what `event.id` is derived from, together with a byte offset.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileKey(pub u64);

/// Where a hit came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Identity of the file incarnation.
    pub file: FileKey,
    /// The path as followed (for `log.file.path`).
    pub path: Arc<str>,
    /// Byte offset of the record in that file.
    pub offset: u64,
}

/// A line rule that matched a record. Owned: crosses to the correlator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The `match` or `threshold` rule that matched.
    pub rule: RuleId,
    /// Record time: the record's own timestamp, else the time it was read.
    pub time: Timestamp,
    /// Where the record was read.
    pub origin: Origin,
    /// The record's message (evidence).
    pub message: Box<str>,
    /// Values of the rule's `group_by` fields, in the rule's order.
    pub group: Box<[Box<str>]>,
}

/// One sample of a `[[gauge]]` folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaugeSample {
    /// The gauge sampled.
    pub gauge: GaugeId,
    /// Sample time.
    pub time: Timestamp,
    /// Number of matching files.
    pub files: u64,
    /// Their total size in bytes.
    pub bytes: u64,
    /// Age of the oldest matching file (by modification time) at sample time.
    pub oldest_age: Duration,
}

/// What the correlator consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A line rule matched.
    Hit(Hit),
    /// A source produced at least one record at `time` (feeds `absence`).
    Activity {
        /// The source that wrote.
        source: SourceId,
        /// Record time of the latest record.
        time: Timestamp,
    },
    /// A gauge was sampled.
    Gauge(GaugeSample),
    /// A step of `replay --explain` found before the correlator (a record
    /// the explained rule's pattern matched but a filter rejected); it
    /// travels with the inputs so that explanations come out in time order.
    Explain {
        /// Record time.
        time: Timestamp,
        /// The explained rule.
        rule: RuleId,
        /// Where the record is: `path:offset`.
        at: String,
        /// Why it did not count.
        text: String,
    },
}

impl Input {
    /// The time the input happened (record time or sample time).
    pub fn time(&self) -> Timestamp {
        match self {
            Input::Hit(h) => h.time,
            Input::Activity { time, .. } => *time,
            Input::Gauge(g) => g.time,
            Input::Explain { time, .. } => *time,
        }
    }
}
