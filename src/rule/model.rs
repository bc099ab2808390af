//! The compiled rule set: what every stage after rule loading consumes.
//!
//! Produced only by [`crate::rule::load`] (which validates everything and
//! resolves every reference to an index), so downstream code never
//! re-validates: a `SourceId` in a rule is always a valid index into
//! [`RuleSet::sources`], a correlation's members never form a cycle, and a
//! regex always compiles.
//!
//! # Gauges fed from log lines
//!
//! A `[[gauge]]` with `source` and `regex` is fed by the records of that
//! source the regex matches (ConfigMgr's `inboxmon.log`: `File count for
//! directory … is 12.`). It compiles to a [`GaugeDef`] (whose `path` is empty
//! when the gauge has no folder of its own) and a building-block
//! [`RuleKind::Match`] rule with **the gauge's id**, whose line condition
//! says which records carry samples and whose `group_by` names the regex's
//! captures (`files`, `bytes`, `oldest_age_s`). Gauges and rules share one
//! id namespace, so a rule with a gauge's id can only be that gauge's feed
//! ([`RuleSet::gauge_feed`], [`RuleSet::fed_gauge`]); such rules come after
//! every declared rule. Expressing the feed as a line rule lets the matcher
//! (the one place that decides which records match which line conditions,
//! with its literal prefilter) find the records; [`crate::ingest`] turns
//! their hits into [`crate::event::GaugeSample`]s, never into hits, so the
//! correlator never sees them as matches.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::event::{GaugeId, RuleId, Severity, SourceId};
use crate::time::TimeZoneSpec;

/// A validated, fully resolved set of sources, gauges and rules, loaded from
/// one or more rule files.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// `[defaults]`, merged across files (later files win key by key).
    pub defaults: Defaults,
    /// Every `[[source]]`, indexed by [`SourceId`].
    pub sources: Vec<SourceDef>,
    /// Every `[[gauge]]`, indexed by [`GaugeId`].
    pub gauges: Vec<GaugeDef>,
    /// Every rule of the other kinds, indexed by [`RuleId`].
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The rule with this id (the `id = "…"` string), if any.
    pub fn rule_by_name(&self, id: &str) -> Option<RuleId> {
        self.rules
            .iter()
            .position(|r| r.id == id)
            .map(|i| RuleId(i as u32))
    }

    /// The source with this id, if any.
    pub fn source_by_name(&self, id: &str) -> Option<SourceId> {
        self.sources
            .iter()
            .position(|s| s.id == id)
            .map(|i| SourceId(i as u32))
    }

    /// The gauge with this id, if any.
    pub fn gauge_by_name(&self, id: &str) -> Option<GaugeId> {
        self.gauges
            .iter()
            .position(|g| g.id == id)
            .map(|i| GaugeId(i as u32))
    }

    /// The rule at `id`.
    ///
    /// # Panics
    /// When `id` does not come from this rule set.
    pub fn rule(&self, id: RuleId) -> &Rule {
        &self.rules[id.index()]
    }

    /// The rule that feeds gauge `gauge` from log lines, when the gauge has
    /// `source` and `regex` (see the module docs).
    pub fn gauge_feed(&self, gauge: GaugeId) -> Option<RuleId> {
        let def = self.gauges.get(gauge.index())?;
        self.rules
            .iter()
            .position(|r| r.id == def.id && matches!(r.kind, RuleKind::Match(_)))
            .map(|i| RuleId(i as u32))
    }

    /// The gauge that rule `rule` feeds, when it is a gauge's feed rather
    /// than a rule of its own (see the module docs).
    pub fn fed_gauge(&self, rule: RuleId) -> Option<GaugeId> {
        let r = self.rules.get(rule.index())?;
        if !matches!(r.kind, RuleKind::Match(_)) {
            return None;
        }
        self.gauge_by_name(&r.id)
    }
}

/// Where something was defined: for messages that point back at rule files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The rule file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column (in characters).
    pub column: u32,
}

/// `[defaults]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defaults {
    /// `host`: the `host.name` of every alert. `None`: this machine's hostname.
    pub host: Option<String>,
    /// `labels`: copied into every alert.
    pub labels: BTreeMap<String, String>,
}

/// The format of a followed log (`format = "…"`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Detect per file from its first records.
    #[default]
    Auto,
    /// SMS/ConfigMgr simple format: `message  $$<COMPONENT><TIME><thread=N>`.
    Sms,
    /// CMTrace format: `<![LOG[message]LOG]!><time=… …>`.
    Cmtrace,
    /// One record per line, no timestamp.
    Plain,
}

/// A `[[source]]`: a followed log (or every file a glob matches).
#[derive(Clone, Debug, PartialEq)]
pub struct SourceDef {
    /// `id`.
    pub id: String,
    /// `path` as written (relative to the site root unless absolute; `/` or
    /// `\`; may contain glob characters). Matched case-insensitively.
    pub path: String,
    /// `format`.
    pub format: Format,
    /// `timezone`, for timestamps without an offset.
    pub timezone: TimeZoneSpec,
    /// `clock_tolerance`: how far the source's timestamps may be ahead of
    /// this machine's clock, or behind it on freshly written lines, before
    /// the source is reported (default [`DEFAULT_CLOCK_TOLERANCE`]).
    pub clock_tolerance: Duration,
    /// Where the table starts.
    pub location: Location,
}

/// The default `clock_tolerance` of a source: five minutes.
pub const DEFAULT_CLOCK_TOLERANCE: Duration = Duration::from_secs(300);

/// A `[[gauge]]`: a sampled folder, or values read from log lines (then
/// [`RuleSet::gauge_feed`] names its feed), or both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaugeDef {
    /// `id`.
    pub id: String,
    /// `path` of the folder as written (relative to the site root unless
    /// absolute; `/` or `\`; matched case-insensitively). Empty for a gauge
    /// fed only from log lines: there is no folder to sample.
    pub path: String,
    /// `include`: file-name globs (case-insensitive); default `["*"]`.
    pub include: Vec<String>,
    /// `every`: the sample period.
    pub every: Duration,
    /// Where the table starts.
    pub location: Location,
}

impl GaugeDef {
    /// Whether the gauge has a folder to sample (`path`); false for a gauge
    /// fed only from log lines.
    pub fn is_folder(&self) -> bool {
        !self.path.is_empty()
    }
}

/// Alert severity (`severity = "…"`), mapped to `event.severity` 1–5.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum AlertSeverity {
    /// 1.
    Informational = 1,
    /// 2.
    Low = 2,
    /// 3 (the default).
    #[default]
    Medium = 3,
    /// 4.
    High = 4,
    /// 5.
    Critical = 5,
}

impl AlertSeverity {
    /// The word used in rule files and `logwarden.alert.severity`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Informational => "informational",
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
            AlertSeverity::Critical => "critical",
        }
    }

    /// The number used in `event.severity`.
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// The descriptive keys every rule table may carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleMeta {
    /// `name`; defaults to the id.
    pub name: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `severity`.
    pub severity: AlertSeverity,
    /// `reference`: a KB number or URL.
    pub reference: Option<String>,
    /// `recommendation`: what the operator should do.
    pub recommendation: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `alert`: whether documents are sent (default true for every kind but
    /// `match`). Rules with `alert = false` are building blocks: their state
    /// is tracked and other rules can refer to them.
    pub alert: bool,
}

/// One rule of any kind but source and gauge.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `id`, unique across all loaded files.
    pub id: String,
    /// Descriptive keys.
    pub meta: RuleMeta,
    /// What the rule does.
    pub kind: RuleKind,
    /// Where the table starts.
    pub location: Location,
}

impl Rule {
    /// `name`, or the id when no name was given.
    pub fn display_name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or(&self.id)
    }

    /// The line condition of a `match` or `threshold` rule.
    pub fn line(&self) -> Option<&LineCondition> {
        match &self.kind {
            RuleKind::Match(m) => Some(&m.line),
            RuleKind::Threshold(t) => Some(&t.line),
            _ => None,
        }
    }

    /// The `group_by` fields of the rule (empty when it has none).
    pub fn group_by(&self) -> &[GroupField] {
        match &self.kind {
            RuleKind::Match(m) => &m.group_by,
            RuleKind::Threshold(t) => &t.group_by,
            RuleKind::Correlate(c) => &c.group_by,
            RuleKind::Backlog(_) | RuleKind::Absence(_) => &[],
        }
    }
}

/// The kinds of rule.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleKind {
    /// `[[match]]`: a single line.
    Match(MatchRule),
    /// `[[threshold]]`: a count in a sliding window.
    Threshold(ThresholdRule),
    /// `[[backlog]]`: conditions over a gauge.
    Backlog(BacklogRule),
    /// `[[absence]]`: a log that went silent.
    Absence(AbsenceRule),
    /// `[[correlate]]`: rules that coincide.
    Correlate(CorrelateRule),
}

impl RuleKind {
    /// The TOML table name of this kind: `match`, `threshold`, …
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Match(_) => "match",
            RuleKind::Threshold(_) => "threshold",
            RuleKind::Backlog(_) => "backlog",
            RuleKind::Absence(_) => "absence",
            RuleKind::Correlate(_) => "correlate",
        }
    }
}

/// What a line rule looks at, common to `match` and `threshold`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineCondition {
    /// `source`: one id or a list; never empty.
    pub sources: Vec<SourceId>,
    /// `contains`, `contains_any` or `regex`.
    pub pattern: Pattern,
    /// `not_contains`: the record is skipped when its text contains this literal.
    pub not_contains: Option<String>,
    /// `component`: case-insensitive exact match on the record's component.
    pub component: Option<String>,
    /// `severity_at_least`: the record's CMTrace severity must be at least this.
    pub severity_at_least: Option<Severity>,
    /// `thread`: the record's thread id must equal this.
    pub thread: Option<u32>,
    /// `raw = true`: match the whole physical record instead of the message.
    pub raw: bool,
}

/// The text test of a line rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `contains = "literal"` (case-sensitive).
    Contains(String),
    /// `contains_any = ["a", "b"]`: any of the literals (case-sensitive).
    ContainsAny(Vec<String>),
    /// `regex = '…'`: Rust `regex` syntax; flags such as `(?i)` apply to this
    /// rule only. Guaranteed to compile.
    Regex(String),
}

/// A `group_by` field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GroupField {
    /// `host.name`.
    HostName,
    /// `component`.
    Component,
    /// `thread`.
    Thread,
    /// `severity`.
    Severity,
    /// `log.file.path`.
    FilePath,
    /// A named capture of the rule's regex (`(?P<name>…)`), or for a
    /// correlation, a field of that name in its members' groups.
    Capture(String),
}

impl GroupField {
    /// The field name as written in rule files and shown in alerts.
    pub fn name(&self) -> &str {
        match self {
            GroupField::HostName => "host.name",
            GroupField::Component => "component",
            GroupField::Thread => "thread",
            GroupField::Severity => "severity",
            GroupField::FilePath => "log.file.path",
            GroupField::Capture(name) => name,
        }
    }

    /// Parses a field name; anything that is not a known field is a capture name.
    pub fn parse(name: &str) -> GroupField {
        match name {
            "host.name" => GroupField::HostName,
            "component" => GroupField::Component,
            "thread" => GroupField::Thread,
            "severity" => GroupField::Severity,
            "log.file.path" => GroupField::FilePath,
            other => GroupField::Capture(other.to_owned()),
        }
    }
}

/// `[[match]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchRule {
    /// What the rule looks at.
    pub line: LineCondition,
    /// `suppress_for`: with `alert = true`, at most one alert per group per period.
    pub suppress_for: Duration,
    /// `group_by` (default: none, one group).
    pub group_by: Vec<GroupField>,
}

/// `[[threshold]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThresholdRule {
    /// What the rule looks at.
    pub line: LineCondition,
    /// `count`: this many matching records …
    pub count: u32,
    /// `window`: … within this span of record time.
    pub window: Duration,
    /// `group_by` (default: none, one group).
    pub group_by: Vec<GroupField>,
    /// `resolve_after`: no match for this long → resolved (default: `window`).
    pub resolve_after: Duration,
}

/// A gauge metric.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Number of files.
    Files,
    /// Total bytes.
    Bytes,
    /// Age of the oldest file, in seconds when compared.
    OldestAge,
}

impl Metric {
    /// The name used in rule files and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Files => "files",
            Metric::Bytes => "bytes",
            Metric::OldestAge => "oldest_age",
        }
    }
}

/// The test of one backlog condition. Values of `oldest_age` are seconds
/// (written as durations in rule files).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum GaugeTest {
    /// `above = X`: value > X.
    Above(f64),
    /// `at_least = X` (without `rise`): value ≥ X.
    AtLeast(f64),
    /// `below = X`: value < X.
    Below(f64),
    /// `rise = "10m", at_least = X`: value now − minimum over the last `over` ≥ X.
    Rise {
        /// The look-back span.
        over: Duration,
        /// The minimum rise.
        at_least: f64,
    },
}

/// One entry of a backlog's `any` / `all`.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct GaugeCondition {
    /// `metric`.
    pub metric: Metric,
    /// The test.
    pub test: GaugeTest,
}

/// `[[backlog]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct BacklogRule {
    /// `gauge`.
    pub gauge: GaugeId,
    /// True for `all = [...]`, false for `any = [...]`.
    pub all: bool,
    /// The conditions; never empty.
    pub conditions: Vec<GaugeCondition>,
    /// `for`: must hold this long before firing.
    pub hold_for: Duration,
    /// `keep_firing_for`: must be false this long before resolving.
    pub keep_firing_for: Duration,
}

/// `[[absence]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsenceRule {
    /// `source`: one id or a list; silent means none of them wrote.
    pub sources: Vec<SourceId>,
    /// `for`: silent this long → firing.
    pub silent_for: Duration,
}

/// `preceded_by = { rule, within, required }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Precondition {
    /// The rule that should have been active before.
    pub rule: RuleId,
    /// How long before.
    pub within: Duration,
    /// True: the correlation fires only if it was; false: context only.
    pub required: bool,
}

/// `[[correlate]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrelateRule {
    /// `all_of` or `sequence` members; at least two.
    pub members: Vec<RuleId>,
    /// True for `sequence` (first activations must be in the listed order).
    pub ordered: bool,
    /// `within`.
    pub within: Duration,
    /// `group_by`.
    pub group_by: Vec<GroupField>,
    /// `preceded_by`.
    pub preceded_by: Option<Precondition>,
    /// `inhibit_members`: members' own alerts are held while this fires.
    pub inhibit_members: bool,
}
