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

/// Records copied into one buffer so that they can cross a thread
/// boundary: the parse stage fills a batch, the match stage reads it back as
/// borrowed [`Record`]s. One allocation per batch (reused when the batch is
/// sent back), none per record.
///
/// # Example
/// ```
/// use logwarden::event::{Record, RecordBatch};
///
/// let line = "Sleep 30 seconds...  $$<SMS_DESPOOLER><11-28-2026 14:53:02.123+300><thread=7 (0x7)>";
/// let mut batch = RecordBatch::default();
/// batch.push(&Record {
///     raw: line,
///     message: &line[..19],
///     component: Some("SMS_DESPOOLER"),
///     thread: Some(7),
///     severity: None,
///     time: None,
///     offset: 0,
///     cut: false,
/// });
/// let back: Vec<Record<'_>> = batch.iter().collect();
/// assert_eq!(back[0].message, "Sleep 30 seconds...");
/// assert_eq!(back[0].component, Some("SMS_DESPOOLER"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct RecordBatch {
    text: String,
    slots: Vec<Slot>,
}

/// Where one record's texts are in a [`RecordBatch`]'s buffer.
#[derive(Clone, Debug)]
struct Slot {
    raw: (usize, usize),
    message: (usize, usize),
    component: Option<(usize, usize)>,
    thread: Option<u32>,
    severity: Option<Severity>,
    time: Option<Timestamp>,
    offset: u64,
    cut: bool,
}

impl RecordBatch {
    /// Copies `record` in. A message or component that lies within the raw
    /// text (every single-line record) costs no extra copy.
    pub fn push(&mut self, record: &Record<'_>) {
        let base = self.text.len();
        self.text.push_str(record.raw);
        let raw = (base, self.text.len());
        let message = self.place(record.raw, record.message, base);
        let component = record.component.map(|c| self.place(record.raw, c, base));
        self.slots.push(Slot {
            raw,
            message,
            component,
            thread: record.thread,
            severity: record.severity,
            time: record.time,
            offset: record.offset,
            cut: record.cut,
        });
    }

    /// The span of `part` in the buffer: inside the copy of `raw` (copied
    /// at `base`) when it is a slice of it, else appended.
    fn place(&mut self, raw: &str, part: &str, base: usize) -> (usize, usize) {
        let start = (part.as_ptr() as usize).wrapping_sub(raw.as_ptr() as usize);
        if start <= raw.len() && part.len() <= raw.len() - start {
            (base + start, base + start + part.len())
        } else {
            let at = self.text.len();
            self.text.push_str(part);
            (at, self.text.len())
        }
    }

    /// The records, in the order pushed.
    pub fn iter(&self) -> impl Iterator<Item = Record<'_>> {
        let text = self.text.as_str();
        let span = move |(a, b): (usize, usize)| text.get(a..b).unwrap_or_default();
        self.slots.iter().map(move |s| Record {
            raw: span(s.raw),
            message: span(s.message),
            component: s.component.map(span),
            thread: s.thread,
            severity: s.severity,
            time: s.time,
            offset: s.offset,
            cut: s.cut,
        })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.slots.clear();
    }
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
