//! Rule files → [`RuleSet`]: the meaning of every key (SPEC §3) and the
//! checks that span files (duplicate ids, references, correlation cycles).
//!
//! Two passes. The first reads each file on its own into declarations,
//! keeping the span of every id and every reference. The second gives each
//! id its index, resolves references and looks for cycles. Every problem of
//! every file is collected; a [`RuleSet`] comes out only when there is none.
//!
//! Before the first pass, a file with `bundled = true` puts the bundled pack
//! in front of the files, and every table changed by an `[[override]]` is
//! replaced by its merged table (`overlay.rs`), which the first pass reads
//! in its place.
//!
//! Does no I/O: the texts come in as [`RuleText`]s (the bundled pack is
//! compiled into the binary).

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostics;
use crate::event::{GaugeId, RuleId, Severity, SourceId};
use crate::rule::overlay::{self, TableRef};
use crate::rule::pattern::{CheckedRegex, check_regex};
use crate::rule::raw::{self, Doc, Field, Section, SpanMap, suggest};
use crate::rule::{
    AbsenceRule, AlertSeverity, BacklogRule, CorrelateRule, DEFAULT_CLOCK_TOLERANCE, Defaults,
    Format, GaugeCondition, GaugeDef, GaugeTest, GroupField, LineCondition, Location, MatchRule,
    Metric, Pattern, Precondition, Rule, RuleKind, RuleMeta, RuleSet, RuleText, SourceDef,
    ThresholdRule,
};
use crate::time::TimeZoneSpec;

/// An id or reference as written, with its span.
type Name = Spanned<String>;

/// The table kinds of a rule file.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    Source,
    Gauge,
    Match,
    Threshold,
    Backlog,
    Absence,
    Correlate,
}

/// Every kind, in the order their tables are read.
pub(super) const KINDS: [Kind; 7] = [
    Kind::Source,
    Kind::Gauge,
    Kind::Match,
    Kind::Threshold,
    Kind::Backlog,
    Kind::Absence,
    Kind::Correlate,
];

const TOP_KEYS: &[&str] = &[
    "schema",
    "bundled",
    "defaults",
    "override",
    "source",
    "gauge",
    "match",
    "threshold",
    "backlog",
    "absence",
    "correlate",
];
const DEFAULTS_KEYS: &[&str] = &["host", "labels"];
const META_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "severity",
    "reference",
    "recommendation",
    "tags",
    "alert",
];
const LINE_KEYS: &[&str] = &[
    "source",
    "contains",
    "contains_any",
    "regex",
    "not_contains",
    "component",
    "severity_at_least",
    "thread",
    "raw",
    "group_by",
];
const CONDITION_KEYS: &[&str] = &["metric", "above", "at_least", "below", "rise"];
const PRECEDED_BY_KEYS: &[&str] = &["rule", "within", "required"];
const BUILTIN_FIELDS: &str = "host.name, component, thread, severity, log.file.path";

impl Kind {
    /// The top-level key: `source`, `match`, …
    pub(super) fn key(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Gauge => "gauge",
            Kind::Match => "match",
            Kind::Threshold => "threshold",
            Kind::Backlog => "backlog",
            Kind::Absence => "absence",
            Kind::Correlate => "correlate",
        }
    }

    /// The header as written: `[[source]]`.
    pub(super) fn table(self) -> String {
        format!("[[{}]]", self.key())
    }

    fn is_rule(self) -> bool {
        !matches!(self, Kind::Source | Kind::Gauge)
    }

    /// Every key a table of this kind may carry.
    pub(super) fn keys(self) -> Vec<&'static str> {
        let own: &[&str] = match self {
            Kind::Source => return vec!["id", "path", "format", "timezone", "clock_tolerance"],
            Kind::Gauge => return vec!["id", "path", "include", "every", "source", "regex"],
            Kind::Match => &["suppress_for"],
            Kind::Threshold => &["count", "window", "resolve_after"],
            Kind::Backlog => &["gauge", "any", "all", "for", "keep_firing_for"],
            Kind::Absence => &["source", "for"],
            Kind::Correlate => &[
                "all_of",
                "sequence",
                "within",
                "group_by",
                "preceded_by",
                "inhibit_members",
            ],
        };
        let line: &[&str] = if matches!(self, Kind::Match | Kind::Threshold) {
            LINE_KEYS
        } else {
            &[]
        };
        META_KEYS.iter().chain(line).chain(own).copied().collect()
    }

    fn example_id(self) -> &'static str {
        match self {
            Kind::Source => "id = \"despool\"",
            Kind::Gauge => "id = \"despoolr_receive\"",
            _ => "id = \"despool-waiting\"",
        }
    }
}

/// `"count" is a key of [[threshold]]`: where an unknown key would belong.
fn key_elsewhere(kind: Option<Kind>, key: &str) -> Option<String> {
    let owners: Vec<String> = KINDS
        .iter()
        .filter(|k| Some(**k) != kind && k.keys().contains(&key))
        .map(|k| k.table())
        .collect();
    if owners.is_empty() {
        return None;
    }
    // A key most tables have ("name", "severity", …) is better described
    // than listed.
    let many = owners.len() > 3;
    Some(match kind {
        Some(k) if many => format!(
            "{key:?} is a key of the rule tables ([[match]], [[threshold]], …), not of {}",
            k.table()
        ),
        Some(k) => format!(
            "{key:?} is a key of {}, not of {}",
            owners.join(" and "),
            k.table()
        ),
        None if many => format!(
            "{key:?} belongs inside a table such as [[source]] or [[match]] or …: is a table header missing above it?"
        ),
        None => format!(
            "{key:?} belongs inside a table such as {}: is a table header missing above it?",
            owners.join(" or ")
        ),
    })
}

/// One `[[…]]` table after the first pass.
struct Decl {
    /// Index of the file in load order.
    file: usize,
    kind: Kind,
    /// `id`, when present and valid.
    id: Option<Name>,
    /// How messages name the table: `[[match]] "x"`.
    ctx: String,
    body: Body,
}

enum Body {
    Source(SourceDef),
    Gauge(GaugeDef, Option<RawFeed>),
    Rule(Box<RawRule>),
}

/// A gauge's `source` and `regex`, the source still a name.
struct RawFeed {
    source: Name,
    regex: String,
    /// The regex's named captures, in the order the feed rule groups by.
    captures: Vec<String>,
}

/// Named captures a gauge's regex may have: the sample's metrics.
const FEED_CAPTURES: [&str; 3] = ["files", "bytes", "oldest_age_s"];

/// A rule whose references are still names.
struct RawRule {
    meta: RuleMeta,
    location: Location,
    kind: RawKind,
}

enum RawKind {
    Match {
        line: RawLine,
        suppress_for: Duration,
        group_by: Vec<GroupField>,
    },
    Threshold {
        line: RawLine,
        count: u32,
        window: Duration,
        resolve_after: Duration,
        group_by: Vec<GroupField>,
    },
    Backlog {
        gauge: Option<Name>,
        all: bool,
        conditions: Vec<GaugeCondition>,
        hold_for: Duration,
        keep_firing_for: Duration,
    },
    Absence {
        sources: Vec<Name>,
        silent_for: Duration,
    },
    Correlate {
        members: Vec<Name>,
        ordered: bool,
        within: Duration,
        group_by: Vec<Name>,
        preceded_by: Option<(Name, Duration, bool)>,
        inhibit_members: bool,
    },
}

impl RawKind {
    /// The names of the fields the rule's alerts are grouped by.
    fn group_names(&self) -> Vec<&str> {
        match self {
            RawKind::Match { group_by, .. } | RawKind::Threshold { group_by, .. } => {
                group_by.iter().map(GroupField::name).collect()
            }
            RawKind::Correlate { group_by, .. } => {
                group_by.iter().map(|g| g.get_ref().as_str()).collect()
            }
            RawKind::Backlog { .. } | RawKind::Absence { .. } => Vec::new(),
        }
    }
}

/// A line condition whose sources are still names.
struct RawLine {
    sources: Vec<Name>,
    pattern: Pattern,
    not_contains: Option<String>,
    component: Option<String>,
    severity_at_least: Option<Severity>,
    thread: Option<u32>,
    raw: bool,
}

/// Parses, validates and compiles `files` (see [`crate::rule::compile`]).
pub(crate) fn compile(files: &[RuleText]) -> Result<RuleSet, Diagnostics> {
    // `bundled = true` in any file: the pack comes first, once.
    let wants_pack = files.iter().any(|f| overlay::asks_for_pack(&f.text));
    let pack = if wants_pack {
        super::bundled()
    } else {
        Vec::new()
    };
    let texts: Vec<&RuleText> = pack.iter().chain(files).collect();
    // The merged tables' texts; declared before the documents that borrow them.
    let mut merged_texts: Vec<String> = Vec::new();
    let mut docs = Vec::with_capacity(texts.len());
    let mut roots = Vec::with_capacity(texts.len());
    for f in &texts {
        let text = f.text.strip_prefix('\u{feff}').unwrap_or(&f.text);
        let (root, doc) = raw::parse(&f.path, text);
        roots.push(root);
        docs.push(doc);
    }
    let merges = overlay::plan(&mut docs, &roots, wants_pack);
    let mut merged: HashMap<TableRef, (usize, Range<usize>, String)> = HashMap::new();
    let mut pieces = Vec::with_capacity(merges.len());
    for m in merges {
        // Named in every message about the merged table: a problem in the
        // pack's own key may be the override's doing.
        let by = docs[m.by.0].location(m.by.1);
        let note = format!(
            " (changed by the [[override]] at {}:{})",
            by.file.display(),
            by.line
        );
        merged.insert(m.target, (docs.len() + merged_texts.len(), m.header, note));
        pieces.push((m.target.0, m.pieces));
        merged_texts.push(m.text);
    }
    let mut merged_roots = Vec::with_capacity(merged_texts.len());
    for (text, (file, pieces)) in merged_texts.iter().zip(pieces) {
        let mut map = SpanMap::default();
        for (at, len, from_file, from) in pieces {
            map.piece(at, len, docs[from_file].file, docs[from_file].text, from);
        }
        let (root, doc) = raw::parse_mapped(docs[file].file, text, map);
        merged_roots.push(root);
        docs.push(doc);
    }
    let mut decls = Vec::new();
    let mut defaults = Defaults::default();
    for (i, root) in roots.iter().enumerate() {
        let merged = Merged {
            tables: &merged,
            roots: &merged_roots,
            first: roots.len(),
        };
        read_file(&mut docs, root, i, &mut decls, &mut defaults, &merged);
    }
    let set = link(&mut docs, decls, defaults);
    // Sorted by file in load order, then position; stable, so problems at
    // one spot keep the order they were found in. A merged table's problems
    // are already located in the files their keys come from.
    let order: HashMap<&std::path::Path, usize> = texts
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_path(), i))
        .collect();
    let mut all: Vec<_> = docs.into_iter().flat_map(|d| d.diags).collect();
    all.sort_by_key(|d| {
        (
            order.get(d.file.as_path()).copied().unwrap_or(usize::MAX),
            d.span.start,
        )
    });
    if all.is_empty() {
        Ok(set)
    } else {
        Err(Diagnostics(all))
    }
}

/// The merged tables: which file tables they replace, and their roots.
struct Merged<'m, 'i> {
    /// Target table → (its merged document, the header span there, the note
    /// that names the override in messages).
    tables: &'m HashMap<TableRef, (usize, Range<usize>, String)>,
    /// Roots of the merged documents, in document order.
    roots: &'m [DeTable<'i>],
    /// Index of the first merged document.
    first: usize,
}

/// First pass over one file: `schema`, `bundled`, `[defaults]` and every
/// table (a table changed by an override is read merged, in its place).
fn read_file(
    docs: &mut [Doc<'_>],
    root: &DeTable<'_>,
    file: usize,
    decls: &mut Vec<Decl>,
    defaults: &mut Defaults,
    merged: &Merged<'_, '_>,
) {
    let doc = &mut docs[file];
    let top = Section {
        table: root,
        header: 0..0,
        ctx: "the top level of the file".to_owned(),
    };
    doc.unknown_keys(&top, TOP_KEYS, &|k| key_elsewhere(None, k));
    if let Some(f) = top.field("schema") {
        read_schema(doc, f);
    }
    if let Some(f) = top.field("bundled") {
        doc.boolean(f);
    }
    if let Some(f) = top.field("defaults") {
        read_defaults(doc, f, defaults);
    }
    for (key, value) in root.iter() {
        let Some(kind) = KINDS.iter().copied().find(|k| k.key() == key.get_ref()) else {
            continue;
        };
        match value.get_ref() {
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    match item.get_ref() {
                        DeValue::Table(t) => match merged.tables.get(&(file, kind, index)) {
                            Some((at, header, note)) => {
                                let Some(root) = merged.roots.get(at - merged.first) else {
                                    continue;
                                };
                                decls.push(read_decl(
                                    &mut docs[*at],
                                    *at,
                                    kind,
                                    root,
                                    header.clone(),
                                    note,
                                ));
                            }
                            None => decls.push(read_decl(
                                &mut docs[file],
                                file,
                                kind,
                                t,
                                item.span(),
                                "",
                            )),
                        },
                        other => docs[file].error(
                            item.span(),
                            format!(
                                "entries of {:?} must be tables ({}), not {}",
                                kind.key(),
                                kind.table(),
                                raw::a_type(other)
                            ),
                        ),
                    }
                }
            }
            DeValue::Table(_) => docs[file].error(
                value.span(),
                format!(
                    "{:?} must be an array of tables: write {} with double brackets, not [{}]",
                    kind.key(),
                    kind.table(),
                    kind.key()
                ),
            ),
            other => docs[file].error(
                value.span(),
                format!(
                    "{:?} must be an array of tables ({}), not {}",
                    kind.key(),
                    kind.table(),
                    raw::a_type(other)
                ),
            ),
        }
    }
}

/// `schema = 1`: optional; any other value is an error so that a file
/// written for a later rule language is not misread.
fn read_schema(doc: &mut Doc<'_>, f: Field<'_, '_>) {
    match f.value.get_ref() {
        DeValue::Integer(i) if i.as_str() == "1" && i.radix() == 10 => {}
        DeValue::Integer(i) => doc.error(
            f.span(),
            format!(
                "unsupported schema {}: this version of logwarden reads schema = 1",
                i.as_str()
            ),
        ),
        _ => doc.wrong_type(f, "the number 1"),
    }
}

/// `[defaults]`: later files win key by key (labels too).
fn read_defaults(doc: &mut Doc<'_>, f: Field<'_, '_>, defaults: &mut Defaults) {
    let DeValue::Table(t) = f.value.get_ref() else {
        doc.wrong_type(f, "a table ([defaults])");
        return;
    };
    let s = Section {
        table: t,
        header: f.span(),
        ctx: "[defaults]".to_owned(),
    };
    doc.unknown_keys(&s, DEFAULTS_KEYS, &|_| None);
    if let Some(host) = doc.opt(&s, "host", |d, f| d.nonempty(f)) {
        defaults.host = Some(host);
    }
    if let Some(labels) = doc.opt(&s, "labels", |d, f| d.string_map(f)) {
        for (k, v) in labels {
            defaults.labels.insert(k.into_inner(), v);
        }
    }
}

/// Ids are what references, alerts (`rule.id`) and command lines use, so
/// they are kept to a plain alphabet.
fn read_id(doc: &mut Doc<'_>, f: Field<'_, '_>) -> Option<Name> {
    let id = doc.nonempty(f)?;
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        doc.error(
            f.span(),
            format!(
                "id {id:?} may contain only ASCII letters, digits, \"-\", \"_\" and \".\"; write e.g. {:?}",
                id.chars()
                    .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
                    .collect::<String>()
            ),
        );
        return None;
    }
    Some(Spanned::new(f.span(), id))
}

/// Reads one table; `note` follows its name in messages (a merged table
/// names the override that changed it).
fn read_decl(
    doc: &mut Doc<'_>,
    file: usize,
    kind: Kind,
    t: &DeTable<'_>,
    header: Range<usize>,
    note: &str,
) -> Decl {
    let ctx = match t.get("id").and_then(|v| v.get_ref().as_str()) {
        Some(id) if !id.trim().is_empty() => format!("{} {id:?}{note}", kind.table()),
        _ => format!("{}{note}", kind.table()),
    };
    let s = Section {
        table: t,
        header,
        ctx,
    };
    doc.unknown_keys(&s, &kind.keys(), &|k| key_elsewhere(Some(kind), k));
    let id = doc.req(&s, "id", kind.example_id(), read_id);
    let location = doc.location(s.header.start);
    let body = match kind {
        Kind::Source => Body::Source(read_source(doc, &s, id.as_ref(), location)),
        Kind::Gauge => {
            let (def, feed) = read_gauge(doc, &s, id.as_ref(), location);
            Body::Gauge(def, feed)
        }
        _ => {
            let meta = read_meta(doc, &s, kind != Kind::Match);
            let raw = match kind {
                Kind::Match | Kind::Threshold => read_line_rule(doc, &s, kind),
                Kind::Backlog => read_backlog(doc, &s),
                Kind::Absence => read_absence(doc, &s),
                _ => read_correlate(doc, &s),
            };
            Body::Rule(Box::new(RawRule {
                meta,
                location,
                kind: raw,
            }))
        }
    };
    Decl {
        file,
        kind,
        id,
        ctx: s.ctx,
        body,
    }
}

fn id_text(id: Option<&Name>) -> String {
    id.map(|i| i.get_ref().clone()).unwrap_or_default()
}

/// Checks that `pattern` is a valid glob (paths accept `/` and `\`).
fn check_glob(doc: &mut Doc<'_>, f: Field<'_, '_>, span: Range<usize>, pattern: &str) -> bool {
    match globset::GlobBuilder::new(&pattern.replace('\\', "/"))
        .case_insensitive(true)
        .build()
    {
        Ok(_) => true,
        Err(e) => {
            doc.error(
                span,
                format!("invalid glob in {:?} of {}: {}", f.key, f.ctx, e.kind()),
            );
            false
        }
    }
}

fn read_source(
    doc: &mut Doc<'_>,
    s: &Section<'_, '_>,
    id: Option<&Name>,
    location: Location,
) -> SourceDef {
    let path = doc.req(s, "path", r"path = 'Logs\despool.log'", |d, f| {
        let p = d.nonempty(f)?;
        check_glob(d, f, f.span(), &p).then_some(p)
    });
    let format = doc.opt(s, "format", |d, f| {
        d.word(
            f,
            &[
                ("auto", Format::Auto),
                ("sms", Format::Sms),
                ("cmtrace", Format::Cmtrace),
                ("plain", Format::Plain),
            ],
        )
    });
    let timezone = doc.opt(s, "timezone", |d, f| {
        let z = d.nonempty(f)?;
        TimeZoneSpec::parse(&z)
            .map_err(|e| d.error(f.span(), e.to_string()))
            .ok()
    });
    let clock_tolerance = doc.opt(s, "clock_tolerance", |d, f| d.positive_duration(f));
    SourceDef {
        id: id_text(id),
        path: path.unwrap_or_default(),
        format: format.unwrap_or_default(),
        timezone: timezone.unwrap_or(TimeZoneSpec::Local),
        clock_tolerance: clock_tolerance.unwrap_or(DEFAULT_CLOCK_TOLERANCE),
        location,
    }
}

fn read_gauge(
    doc: &mut Doc<'_>,
    s: &Section<'_, '_>,
    id: Option<&Name>,
    location: Location,
) -> (GaugeDef, Option<RawFeed>) {
    let fed = s.has("source") || s.has("regex");
    let path = if fed {
        doc.opt(s, "path", |d, f| d.nonempty(f))
    } else {
        doc.req(
            s,
            "path",
            r"path = 'Inboxes\despoolr.box\receive', or source and regex for a gauge fed from log lines",
            |d, f| d.nonempty(f),
        )
    };
    if fed && !s.has("path") {
        // Only a folder has files to filter and a listing to repeat.
        for key in ["include", "every"] {
            if let Some(span) = s.key_span(key) {
                doc.error(
                    span,
                    format!(
                        "{key:?} in {} applies to a folder: it needs \"path\" (a gauge fed from log lines takes a sample from every matching line)",
                        s.ctx
                    ),
                );
            }
        }
    }
    let include = doc.opt(s, "include", |d, f| {
        let globs = d.strings(f, true)?;
        let mut ok = true;
        for g in &globs {
            ok &= check_glob(d, f, g.span(), g.get_ref());
        }
        ok.then(|| globs.into_iter().map(Spanned::into_inner).collect())
    });
    let every = doc.opt(s, "every", |d, f| d.positive_duration(f));
    let feed = if fed { read_feed(doc, s) } else { None };
    let def = GaugeDef {
        id: id_text(id),
        path: path.unwrap_or_default(),
        include: include.unwrap_or_else(|| vec!["*".to_owned()]),
        every: every.unwrap_or(Duration::from_secs(30)),
        location,
    };
    (def, feed)
}

/// `source` and `regex` of a gauge fed from log lines: both or neither; the
/// regex names a `files` capture and no capture that is not a metric.
fn read_feed(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> Option<RawFeed> {
    for (has, lacks) in [("source", "regex"), ("regex", "source")] {
        if s.has(has) && !s.has(lacks) {
            let span = s.key_span(has).unwrap_or_else(|| s.header.clone());
            doc.error(
                span,
                format!(
                    "{has:?} in {} needs {lacks:?} too: a gauge fed from log lines names the log (source) and the lines that carry its numbers (regex)",
                    s.ctx
                ),
            );
        }
    }
    let source = doc.opt(s, "source", |d, f| match f.value.get_ref() {
        DeValue::Array(_) => {
            d.wrong_type(f, "one source id (a gauge is fed from one log)");
            None
        }
        _ => d.nonempty(f).map(|v| Spanned::new(f.span(), v)),
    });
    let checked: Option<CheckedRegex> = doc.opt(s, "regex", check_regex);
    let (checked, f) = (checked?, s.field("regex")?);
    let mut ok = source.is_some();
    for name in &checked.captures {
        if !FEED_CAPTURES.contains(&name.as_str()) {
            let extra = suggest(name, FEED_CAPTURES)
                .map(|b| format!("did you mean {b:?}? "))
                .unwrap_or_default();
            doc.error(
                f.span(),
                format!(
                    "named capture {name:?} in the regex of {} is not a gauge metric ({extra}a gauge's regex captures files, and optionally bytes and oldest_age_s)",
                    s.ctx
                ),
            );
            ok = false;
        }
    }
    if !checked.captures.iter().any(|c| c == "files") {
        doc.error(
            f.span(),
            format!(
                "the regex of {} needs a named capture files with the number, e.g. 'is (?P<files>\\d+)\\.'",
                s.ctx
            ),
        );
        ok = false;
    }
    let captures = FEED_CAPTURES
        .iter()
        .filter(|c| checked.captures.iter().any(|n| n == *c))
        .map(|c| (*c).to_owned())
        .collect();
    Some(RawFeed {
        source: source.filter(|_| ok)?,
        regex: checked.pattern,
        captures,
    })
}

fn read_meta(doc: &mut Doc<'_>, s: &Section<'_, '_>, default_alert: bool) -> RuleMeta {
    RuleMeta {
        name: doc.opt(s, "name", |d, f| d.nonempty(f)),
        description: doc.opt(s, "description", |d, f| d.string(f)),
        severity: doc
            .opt(s, "severity", |d, f| {
                d.word(
                    f,
                    &[
                        ("informational", AlertSeverity::Informational),
                        ("low", AlertSeverity::Low),
                        ("medium", AlertSeverity::Medium),
                        ("high", AlertSeverity::High),
                        ("critical", AlertSeverity::Critical),
                    ],
                )
            })
            .unwrap_or_default(),
        reference: doc.opt(s, "reference", |d, f| d.nonempty(f)),
        recommendation: doc.opt(s, "recommendation", |d, f| d.string(f)),
        tags: doc
            .opt(s, "tags", |d, f| d.strings(f, false))
            .map(|t| t.into_iter().map(Spanned::into_inner).collect())
            .unwrap_or_default(),
        alert: doc
            .opt(s, "alert", |d, f| d.boolean(f))
            .unwrap_or(default_alert),
    }
}

/// What the rule's regex says about `group_by` capture names.
enum Captures {
    /// No regex: only the built-in fields exist.
    NoRegex,
    /// The regex is invalid (already reported): capture names are not checked.
    Unknown,
    /// The regex's named captures.
    Names(Vec<String>),
}

fn read_line_rule(doc: &mut Doc<'_>, s: &Section<'_, '_>, kind: Kind) -> RawKind {
    let (line, captures) = read_line(doc, s);
    let group_by = doc
        .opt(s, "group_by", |d, f| read_line_group_by(d, f, &captures))
        .unwrap_or_default();
    if kind == Kind::Match {
        RawKind::Match {
            line,
            suppress_for: doc
                .opt(s, "suppress_for", |d, f| d.duration(f))
                .unwrap_or(Duration::ZERO),
            group_by,
        }
    } else {
        let count = doc.req(s, "count", "count = 3", |d, f| {
            d.integer(f, 1, i64::from(u32::MAX))
        });
        let window = doc.req(s, "window", "window = \"10m\"", |d, f| {
            d.positive_duration(f)
        });
        let resolve_after = doc.opt(s, "resolve_after", |d, f| d.duration(f));
        RawKind::Threshold {
            line,
            count: count.and_then(|c| u32::try_from(c).ok()).unwrap_or(1),
            window: window.unwrap_or(Duration::ZERO),
            resolve_after: resolve_after.or(window).unwrap_or(Duration::ZERO),
            group_by,
        }
    }
}

fn read_line(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> (RawLine, Captures) {
    let sources = doc
        .req(s, "source", "source = \"despool\"", |d, f| {
            d.string_or_list(f)
        })
        .unwrap_or_default();
    doc.no_repeats(&sources, "source", &s.ctx);
    let mut captures = Captures::NoRegex;
    let pattern = match doc.one_of(s, &["contains", "contains_any", "regex"]) {
        None => {
            doc.error(
                s.header.clone(),
                format!(
                    "{} needs one of \"contains\", \"contains_any\" or \"regex\" (add e.g. contains = \"Waiting for an available despooling thread\")",
                    s.ctx
                ),
            );
            None
        }
        Some("contains") => doc.opt(s, "contains", |d, f| {
            let text = d.string(f)?;
            if text.is_empty() {
                d.error(
                    f.span(),
                    format!(
                        "\"contains\" in {} is empty, which would match every line (to match every line, write regex = '')",
                        f.ctx
                    ),
                );
                return None;
            }
            Some(Pattern::Contains(text))
        }),
        Some("contains_any") => doc.opt(s, "contains_any", |d, f| {
            let list = d.strings(f, true)?;
            d.no_repeats(&list, f.key, f.ctx);
            Some(Pattern::ContainsAny(
                list.into_iter().map(Spanned::into_inner).collect(),
            ))
        }),
        Some(_) => {
            let checked: Option<CheckedRegex> = doc.opt(s, "regex", check_regex);
            match checked {
                Some(c) => {
                    captures = Captures::Names(c.captures);
                    Some(Pattern::Regex(c.pattern))
                }
                None => {
                    captures = Captures::Unknown;
                    None
                }
            }
        }
    };
    let not_contains = doc.opt(s, "not_contains", |d, f| {
        let text = d.string(f)?;
        if text.is_empty() {
            d.error(
                f.span(),
                format!(
                    "\"not_contains\" in {} must not be empty (it would skip every line)",
                    f.ctx
                ),
            );
            return None;
        }
        Some(text)
    });
    let line = RawLine {
        sources,
        pattern: pattern.unwrap_or(Pattern::ContainsAny(Vec::new())),
        not_contains,
        component: doc.opt(s, "component", |d, f| d.nonempty(f)),
        severity_at_least: doc.opt(s, "severity_at_least", |d, f| {
            d.word(
                f,
                &[
                    ("info", Severity::Info),
                    ("warning", Severity::Warning),
                    ("error", Severity::Error),
                ],
            )
        }),
        thread: doc
            .opt(s, "thread", |d, f| d.integer(f, 0, i64::from(u32::MAX)))
            .and_then(|t| u32::try_from(t).ok()),
        raw: doc.opt(s, "raw", |d, f| d.boolean(f)).unwrap_or(false),
    };
    (line, captures)
}

fn read_line_group_by(
    doc: &mut Doc<'_>,
    f: Field<'_, '_>,
    captures: &Captures,
) -> Option<Vec<GroupField>> {
    let names = doc.strings(f, false)?;
    let mut ok = doc.no_repeats(&names, f.key, f.ctx);
    let mut out = Vec::with_capacity(names.len());
    for n in &names {
        let field = GroupField::parse(n.get_ref());
        if let GroupField::Capture(c) = &field {
            let builtin = BUILTIN_FIELDS.split(", ");
            let problem = match captures {
                Captures::Unknown => None,
                Captures::Names(names) if names.contains(c) => None,
                Captures::Names(names) => Some(format!(
                    "group_by field {c:?} in {} is neither a named capture of its regex nor one of {BUILTIN_FIELDS}{}",
                    f.ctx,
                    suggest(c, builtin.chain(names.iter().map(String::as_str)))
                        .map(|b| format!(" (did you mean {b:?}?)"))
                        .unwrap_or_default()
                )),
                Captures::NoRegex => Some(format!(
                    "group_by field {c:?} in {} is not one of {BUILTIN_FIELDS}{}",
                    f.ctx,
                    suggest(c, builtin)
                        .map(|b| format!(" (did you mean {b:?}?)"))
                        .unwrap_or_else(|| " (named captures need a regex)".to_owned())
                )),
            };
            if let Some(p) = problem {
                doc.error(n.span(), p);
                ok = false;
            }
        }
        out.push(field);
    }
    ok.then_some(out)
}

fn read_backlog(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> RawKind {
    let gauge = doc.req(s, "gauge", "gauge = \"despoolr_receive\"", |d, f| {
        d.nonempty(f).map(|g| Spanned::new(f.span(), g))
    });
    let which = doc.one_of(s, &["any", "all"]);
    if which.is_none() {
        doc.missing(
            s,
            "any",
            "any = [{ metric = \"files\", above = 100 }], or all = [...]",
        );
    }
    let conditions = which
        .and_then(|k| doc.opt(s, k, read_conditions))
        .unwrap_or_default();
    RawKind::Backlog {
        gauge,
        all: which == Some("all"),
        conditions,
        hold_for: doc
            .opt(s, "for", |d, f| d.duration(f))
            .unwrap_or(Duration::ZERO),
        keep_firing_for: doc
            .opt(s, "keep_firing_for", |d, f| d.duration(f))
            .unwrap_or(Duration::ZERO),
    }
}

fn read_conditions(doc: &mut Doc<'_>, f: Field<'_, '_>) -> Option<Vec<GaugeCondition>> {
    let DeValue::Array(items) = f.value.get_ref() else {
        doc.wrong_type(
            f,
            "a list of conditions like [{ metric = \"files\", above = 100 }]",
        );
        return None;
    };
    if items.is_empty() {
        doc.error(
            f.span(),
            format!(
                "{:?} in {} needs at least one condition like {{ metric = \"files\", above = 100 }}",
                f.key, f.ctx
            ),
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items.iter() {
        let DeValue::Table(t) = item.get_ref() else {
            doc.error(
                item.span(),
                format!(
                    "entries of {:?} in {} must be tables like {{ metric = \"files\", above = 100 }}, not {}",
                    f.key,
                    f.ctx,
                    raw::a_type(item.get_ref())
                ),
            );
            ok = false;
            continue;
        };
        let s = Section {
            table: t,
            header: item.span(),
            ctx: format!("a condition of {}", f.ctx),
        };
        match read_condition(doc, &s) {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn read_condition(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> Option<GaugeCondition> {
    doc.unknown_keys(s, CONDITION_KEYS, &|_| None);
    let metric = doc.req(s, "metric", "metric = \"files\"", |d, f| {
        d.word(
            f,
            &[
                ("files", Metric::Files),
                ("bytes", Metric::Bytes),
                ("oldest_age", Metric::OldestAge),
            ],
        )
    });
    let test_key = doc.one_of(s, &["above", "at_least", "below"]);
    if test_key.is_none() {
        doc.error(
            s.header.clone(),
            format!(
                "{} needs one of \"above\", \"at_least\" or \"below\" (add e.g. above = 100)",
                s.ctx
            ),
        );
    }
    let rise = doc.opt(s, "rise", |d, f| {
        if test_key.is_some_and(|k| k != "at_least") {
            d.error(
                f.span(),
                format!(
                    "\"rise\" in {} works only with \"at_least\" (write e.g. rise = \"10m\", at_least = 50)",
                    f.ctx
                ),
            );
            return None;
        }
        d.positive_duration(f)
    });
    let (metric, test_key) = (metric?, test_key?);
    let value = doc.opt(s, test_key, |d, f| match metric {
        Metric::OldestAge => d.duration(f).map(|v| v.as_secs_f64()),
        Metric::Files | Metric::Bytes => d.number(f),
    })?;
    if s.has("rise") && rise.is_none() {
        return None;
    }
    let test = match (test_key, rise) {
        ("above", _) => GaugeTest::Above(value),
        ("below", _) => GaugeTest::Below(value),
        (_, Some(over)) => GaugeTest::Rise {
            over,
            at_least: value,
        },
        _ => GaugeTest::AtLeast(value),
    };
    Some(GaugeCondition { metric, test })
}

fn read_absence(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> RawKind {
    let sources = doc
        .req(s, "source", "source = \"despool\"", |d, f| {
            d.string_or_list(f)
        })
        .unwrap_or_default();
    doc.no_repeats(&sources, "source", &s.ctx);
    let silent_for = doc.req(s, "for", "for = \"15m\"", |d, f| d.positive_duration(f));
    RawKind::Absence {
        sources,
        silent_for: silent_for.unwrap_or(Duration::ZERO),
    }
}

fn read_correlate(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> RawKind {
    let which = doc.one_of(s, &["all_of", "sequence"]);
    if which.is_none() {
        doc.missing(
            s,
            "all_of",
            "all_of = [\"despool-waiting\", \"despoolr-backlog\"], or sequence = [...]",
        );
    }
    let members = which
        .and_then(|k| {
            doc.opt(s, k, |d, f| {
                let list = d.strings(f, false)?;
                if list.len() < 2 {
                    d.error(
                        f.span(),
                        format!(
                            "{:?} in {} needs at least two rules (a single rule needs no correlation)",
                            f.key, f.ctx
                        ),
                    );
                    return None;
                }
                d.no_repeats(&list, f.key, f.ctx).then_some(list)
            })
        })
        .unwrap_or_default();
    let within = doc.req(s, "within", "within = \"10m\"", |d, f| {
        d.positive_duration(f)
    });
    let group_by = doc
        .opt(s, "group_by", |d, f| {
            let list = d.strings(f, false)?;
            d.no_repeats(&list, f.key, f.ctx).then_some(list)
        })
        .unwrap_or_default();
    let preceded_by = doc.opt(s, "preceded_by", read_precondition);
    RawKind::Correlate {
        members,
        ordered: which == Some("sequence"),
        within: within.unwrap_or(Duration::ZERO),
        group_by,
        preceded_by,
        inhibit_members: doc
            .opt(s, "inhibit_members", |d, f| d.boolean(f))
            .unwrap_or(false),
    }
}

fn read_precondition(doc: &mut Doc<'_>, f: Field<'_, '_>) -> Option<(Name, Duration, bool)> {
    let DeValue::Table(t) = f.value.get_ref() else {
        doc.wrong_type(
            f,
            "a table like { rule = \"backup-finished\", within = \"1h\" }",
        );
        return None;
    };
    let s = Section {
        table: t,
        header: f.span(),
        ctx: format!("preceded_by of {}", f.ctx),
    };
    doc.unknown_keys(&s, PRECEDED_BY_KEYS, &|_| None);
    let rule = doc.req(&s, "rule", "rule = \"backup-finished\"", |d, f| {
        d.nonempty(f).map(|r| Spanned::new(f.span(), r))
    });
    let within = doc.req(&s, "within", "within = \"1h\"", |d, f| {
        d.positive_duration(f)
    });
    let required = doc
        .opt(&s, "required", |d, f| d.boolean(f))
        .unwrap_or(false);
    Some((rule?, within?, required))
}

/// What a reference must name.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Want {
    Source,
    Gauge,
    Rule,
}

impl Want {
    fn word(self) -> &'static str {
        match self {
            Want::Source => "source",
            Want::Gauge => "gauge",
            Want::Rule => "rule",
        }
    }

    fn accepts(self, kind: Kind) -> bool {
        match self {
            Want::Source => kind == Kind::Source,
            Want::Gauge => kind == Kind::Gauge,
            Want::Rule => kind.is_rule(),
        }
    }
}

/// The id namespace shared by sources, gauges and rules across all files.
struct Names<'d> {
    decls: &'d [Decl],
    /// First definition of each id → its declaration.
    by_id: HashMap<&'d str, usize>,
    /// Declaration → its index in `sources`, `gauges` or `rules` of the set.
    index: Vec<Option<u32>>,
}

impl<'d> Names<'d> {
    /// Indexes every id, reporting the duplicates.
    fn new(docs: &mut [Doc<'_>], decls: &'d [Decl]) -> Names<'d> {
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        let mut index = vec![None; decls.len()];
        let mut counts = [0u32; 3];
        for (i, d) in decls.iter().enumerate() {
            let Some(id) = &d.id else { continue };
            if let Some(&first) = by_id.get(id.get_ref().as_str()) {
                let f = &decls[first];
                let at = f.id.as_ref().map_or(0, |n| n.span().start);
                let loc = docs[f.file].location(at);
                docs[d.file].error(
                    id.span(),
                    format!(
                        "duplicate id {:?} (first defined at {}:{}:{})",
                        id.get_ref(),
                        loc.file.display(),
                        loc.line,
                        loc.column
                    ),
                );
                continue;
            }
            by_id.insert(id.get_ref(), i);
            let slot = match d.kind {
                Kind::Source => 0,
                Kind::Gauge => 1,
                _ => 2,
            };
            index[i] = Some(counts[slot]);
            counts[slot] += 1;
        }
        Names {
            decls,
            by_id,
            index,
        }
    }

    /// Resolves `name` to a declaration of the wanted kind.
    fn resolve(
        &self,
        doc: &mut Doc<'_>,
        name: &Name,
        want: Want,
        ctx: &str,
    ) -> Option<(usize, u32)> {
        let id = name.get_ref().as_str();
        match self.by_id.get(id) {
            Some(&i) if want.accepts(self.decls[i].kind) => self.index[i].map(|index| (i, index)),
            Some(&i) => {
                doc.error(
                    name.span(),
                    format!(
                        "{id:?} in {ctx} is the id of a {}, not of a {}",
                        self.decls[i].kind.table(),
                        want.word()
                    ),
                );
                None
            }
            None => {
                let candidates = self
                    .decls
                    .iter()
                    .filter(|d| want.accepts(d.kind))
                    .filter_map(|d| d.id.as_ref().map(|n| n.get_ref().as_str()));
                let extra = match suggest(id, candidates) {
                    Some(best) => format!("did you mean {best:?}?"),
                    None => format!("no {} has this id", want.word()),
                };
                doc.error(
                    name.span(),
                    format!("unknown {} {id:?} in {ctx} ({extra})", want.word()),
                );
                None
            }
        }
    }

    fn sources(&self, doc: &mut Doc<'_>, names: &[Name], ctx: &str) -> Vec<SourceId> {
        names
            .iter()
            .filter_map(|n| self.resolve(doc, n, Want::Source, ctx))
            .map(|(_, i)| SourceId(i))
            .collect()
    }
}

/// Second pass: ids, references, correlation checks; the set itself.
fn link(docs: &mut [Doc<'_>], decls: Vec<Decl>, defaults: Defaults) -> RuleSet {
    let names = Names::new(docs, &decls);
    let mut set = RuleSet {
        defaults,
        ..RuleSet::default()
    };
    // Feed rules of log-fed gauges, appended after every declared rule.
    let mut feeds = Vec::new();
    // Correlation graph: correlate declaration → (referenced declaration, span of the reference).
    let mut edges: HashMap<usize, Vec<(usize, Range<usize>)>> = HashMap::new();
    for (i, d) in decls.iter().enumerate() {
        let first = names.index[i].is_some();
        let doc = &mut docs[d.file];
        match &d.body {
            Body::Source(s) if first => set.sources.push(s.clone()),
            Body::Gauge(g, feed) if first => {
                set.gauges.push(g.clone());
                if let Some(feed) = feed {
                    let sources = names.sources(doc, std::slice::from_ref(&feed.source), &d.ctx);
                    if !sources.is_empty() {
                        feeds.push(feed_rule(g, sources, feed));
                    }
                }
            }
            Body::Source(_) | Body::Gauge(..) => {}
            Body::Rule(r) => {
                let kind = match &r.kind {
                    RawKind::Match {
                        line,
                        suppress_for,
                        group_by,
                    } => RuleKind::Match(MatchRule {
                        line: link_line(&names, doc, line, &d.ctx),
                        suppress_for: *suppress_for,
                        group_by: group_by.clone(),
                    }),
                    RawKind::Threshold {
                        line,
                        count,
                        window,
                        resolve_after,
                        group_by,
                    } => RuleKind::Threshold(ThresholdRule {
                        line: link_line(&names, doc, line, &d.ctx),
                        count: *count,
                        window: *window,
                        group_by: group_by.clone(),
                        resolve_after: *resolve_after,
                    }),
                    RawKind::Backlog {
                        gauge,
                        all,
                        conditions,
                        hold_for,
                        keep_firing_for,
                    } => RuleKind::Backlog(BacklogRule {
                        gauge: gauge
                            .as_ref()
                            .and_then(|g| names.resolve(doc, g, Want::Gauge, &d.ctx))
                            .map_or(GaugeId(0), |(_, i)| GaugeId(i)),
                        all: *all,
                        conditions: conditions.clone(),
                        hold_for: *hold_for,
                        keep_firing_for: *keep_firing_for,
                    }),
                    RawKind::Absence {
                        sources,
                        silent_for,
                    } => RuleKind::Absence(AbsenceRule {
                        sources: names.sources(doc, sources, &d.ctx),
                        silent_for: *silent_for,
                    }),
                    RawKind::Correlate {
                        members,
                        ordered,
                        within,
                        group_by,
                        preceded_by,
                        inhibit_members,
                    } => {
                        let out = edges.entry(i).or_default();
                        let mut resolved = Vec::with_capacity(members.len());
                        for m in members {
                            if let Some((target, _)) = names.resolve(doc, m, Want::Rule, &d.ctx) {
                                out.push((target, m.span()));
                                resolved.push(target);
                            }
                        }
                        let preceded_by =
                            preceded_by.as_ref().and_then(|(rule, within, required)| {
                                let (target, index) =
                                    names.resolve(doc, rule, Want::Rule, &d.ctx)?;
                                out.push((target, rule.span()));
                                Some(Precondition {
                                    rule: RuleId(index),
                                    within: *within,
                                    required: *required,
                                })
                            });
                        // With a member unresolved (already reported), its
                        // group fields are unknown: checking would only cascade.
                        if !resolved.is_empty() && resolved.len() == members.len() {
                            check_correlate_groups(doc, &decls, &resolved, group_by, &d.ctx);
                        }
                        RuleKind::Correlate(CorrelateRule {
                            members: resolved
                                .iter()
                                .filter_map(|t| names.index[*t].map(RuleId))
                                .collect(),
                            ordered: *ordered,
                            within: *within,
                            group_by: group_by
                                .iter()
                                .map(|g| GroupField::parse(g.get_ref()))
                                .collect(),
                            preceded_by,
                            inhibit_members: *inhibit_members,
                        })
                    }
                };
                if first {
                    set.rules.push(Rule {
                        id: id_text(d.id.as_ref()),
                        meta: r.meta.clone(),
                        kind,
                        location: r.location.clone(),
                    });
                }
            }
        }
    }
    report_cycles(docs, &decls, &edges);
    set.rules.extend(feeds);
    set
}

/// The building-block match rule that feeds a log-fed gauge: the gauge's id,
/// its source and regex, grouped by the regex's metric captures (see
/// [`crate::rule::model`]).
fn feed_rule(g: &GaugeDef, sources: Vec<SourceId>, feed: &RawFeed) -> Rule {
    Rule {
        id: g.id.clone(),
        meta: RuleMeta {
            description: Some(format!("Feeds gauge {:?} from log lines.", g.id)),
            alert: false,
            ..RuleMeta::default()
        },
        kind: RuleKind::Match(MatchRule {
            line: LineCondition {
                sources,
                pattern: Pattern::Regex(feed.regex.clone()),
                not_contains: None,
                component: None,
                severity_at_least: None,
                thread: None,
                raw: false,
            },
            suppress_for: Duration::ZERO,
            group_by: feed
                .captures
                .iter()
                .map(|c| GroupField::Capture(c.clone()))
                .collect(),
        }),
        location: g.location.clone(),
    }
}

fn link_line(names: &Names<'_>, doc: &mut Doc<'_>, line: &RawLine, ctx: &str) -> LineCondition {
    LineCondition {
        sources: names.sources(doc, &line.sources, ctx),
        pattern: line.pattern.clone(),
        not_contains: line.not_contains.clone(),
        component: line.component.clone(),
        severity_at_least: line.severity_at_least,
        thread: line.thread,
        raw: line.raw,
    }
}

/// A correlation's `group_by` field must be something at least one member
/// groups by (or `host.name`, which every alert carries): otherwise it could
/// never have a value.
fn check_correlate_groups(
    doc: &mut Doc<'_>,
    decls: &[Decl],
    members: &[usize],
    group_by: &[Name],
    ctx: &str,
) {
    let mut available: Vec<&str> = vec!["host.name"];
    for m in members {
        if let Body::Rule(r) = &decls[*m].body {
            available.extend(r.kind.group_names());
        }
    }
    for g in group_by {
        let name = g.get_ref().as_str();
        if available.contains(&name) {
            continue;
        }
        let extra = suggest(name, available.iter().copied())
            .map(|b| format!(" (did you mean {b:?}?)"))
            .unwrap_or_else(|| {
                " (add it to a member's group_by, or group by host.name)".to_owned()
            });
        doc.error(
            g.span(),
            format!("group_by field {name:?} in {ctx} is not a group_by field of any of its members{extra}"),
        );
    }
}

/// Reports every correlate that reaches itself through its members or
/// `preceded_by`, on the reference that starts the cycle. A breadth-first
/// search per correlate finds the shortest cycle; with a few hundred
/// correlates at most this costs nothing.
fn report_cycles(
    docs: &mut [Doc<'_>],
    decls: &[Decl],
    edges: &HashMap<usize, Vec<(usize, Range<usize>)>>,
) {
    let mut starts: Vec<usize> = edges.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        let Some(path) = shortest_cycle(start, edges) else {
            continue;
        };
        let Some(span) = edges
            .get(&start)
            .and_then(|out| out.iter().find(|(t, _)| Some(t) == path.get(1)))
            .map(|(_, span)| span.clone())
        else {
            continue;
        };
        let id = |i: &usize| format!("{:?}", id_text(decls[*i].id.as_ref()));
        let chain: Vec<String> = path.iter().map(id).collect();
        docs[decls[start].file].error(
            span,
            format!(
                "correlation cycle: {} (a correlation cannot depend on itself; remove one of these references)",
                chain.join(" → ")
            ),
        );
    }
}

/// The shortest path `start → … → start` in the correlation graph, if any.
fn shortest_cycle(
    start: usize,
    edges: &HashMap<usize, Vec<(usize, Range<usize>)>>,
) -> Option<Vec<usize>> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for (next, _) in edges.get(&node).map_or(&[][..], Vec::as_slice) {
            if *next == start {
                // Walk back from `node` to `start`, then read it forwards.
                let mut back = Vec::new();
                let mut at = node;
                while at != start {
                    back.push(at);
                    at = *parent.get(&at)?;
                }
                let mut path = vec![start];
                path.extend(back.into_iter().rev());
                path.push(start);
                return Some(path);
            }
            if *next != start && !parent.contains_key(next) {
                parent.insert(*next, node);
                queue.push_back(*next);
            }
        }
    }
    None
}
