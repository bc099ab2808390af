//! Rule test files (SPEC §6): which rule files to load, timed inputs and
//! expected alerts. Parsing only; the `test` command runs them on the engine.
//!
//! ```toml
//! rules = ["../sms/despooler.toml"]   # relative to this file; / or \
//!
//! [[case]]
//! name = "stall after backup"         # unique within the file
//! input = [
//!   { at = "0s",  source = "smsbkup", line = "Backup completed" },
//!   { at = "0s",  gauge = "despoolr_receive", files = 3 },   # bytes, oldest_age too
//!   { at = "2m",  restart = true },                          # agent stops and starts
//! ]
//! expect = [
//!   { at = "5m", rule = "q260366-despool-stall", status = "firing" },
//!   { at = "9m", rule = "despool-waiting", status = "resolved", group = { "host.name" = "PRI01" } },
//! ]
//! ```
//!
//! Where SPEC §6 is silent:
//! - `rules`, and in each case `name`, `input` (at least one entry) and
//!   `expect` are required. `expect = []` says "no alert at all" on
//!   purpose; a forgotten `expect` is an error, not a silent quiet control.
//! - `at` is a duration offset from the case start (2000-01-01T00:00:00Z)
//!   or an RFC 3339 timestamp, as a string or a bare TOML date-time; a
//!   date-time without a UTC offset is an error (it would depend on the
//!   machine's zone).
//! - An input is exactly one of a line (`source` + `line`), a gauge sample
//!   (`gauge` + any of `files`, `bytes`, `oldest_age`; missing metrics are
//!   0) or `restart = true`.
//! - `status` is `firing`, `resolved` or `matched`; `group` values are
//!   strings (integers and booleans are accepted as written).
//! - [`parse`] checks the file on its own; [`parse_against`] also checks
//!   every source, gauge and rule id against the loaded rules, that
//!   `matched` is expected only of `[[match]]` rules (and `firing` /
//!   `resolved` only of the others), and that `group` names only the rule's
//!   `group_by` fields.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::Diagnostics;
use crate::rule::raw::{self, Doc, Field, Section, suggest};
use crate::rule::{Location, RuleKind, RuleSet};
use crate::time::{Timestamp, parse_duration};

/// A parsed test file.
#[derive(Clone, Debug, PartialEq)]
pub struct TestFile {
    /// The test file.
    pub path: PathBuf,
    /// `rules = [...]`, resolved relative to the test file's folder.
    pub rules: Vec<PathBuf>,
    /// `[[case]]` tables, in file order.
    pub cases: Vec<TestCase>,
}

/// `[[case]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestCase {
    /// `name`.
    pub name: String,
    /// `input = [...]`, in file order (the runner sorts by time, stably).
    pub inputs: Vec<TestInput>,
    /// `expect = [...]`; empty means "no alert at all" (a quiet control).
    pub expect: Vec<Expectation>,
    /// Where the case starts.
    pub location: Location,
}

/// When an input happens or an alert is expected.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TestTime {
    /// `at = "5m"`: this long after the case's start (2000-01-01T00:00:00Z).
    Offset(Duration),
    /// `at = "2000-01-01T00:05:00Z"`: an absolute instant.
    Absolute(Timestamp),
}

/// One entry of `input`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestInput {
    /// `at`: read time of a line (its record time unless the line carries
    /// its own timestamp), or the sample time of a gauge.
    pub at: TestTime,
    /// What happens.
    pub kind: TestInputKind,
    /// Where the entry is.
    pub location: Location,
}

/// What a test input is.
#[derive(Clone, Debug, PartialEq)]
pub enum TestInputKind {
    /// `{ source = "despool", line = "…" }`: a line appended to the source.
    Line {
        /// The source id.
        source: String,
        /// The line, parsed with the source's format.
        line: String,
    },
    /// `{ gauge = "…", files = 80, bytes = 1024, oldest_age = "30m" }`: a sample.
    /// Missing metrics are 0.
    Gauge {
        /// The gauge id.
        gauge: String,
        /// `files`.
        files: u64,
        /// `bytes`.
        bytes: u64,
        /// `oldest_age`.
        oldest_age: Duration,
    },
    /// `{ restart = true }`: the agent stops and starts again here (state
    /// saved and restored).
    Restart,
}

/// One entry of `expect`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// `at`: the document's `@timestamp`.
    pub at: TestTime,
    /// `rule`: the rule id.
    pub rule: String,
    /// `status`: `firing`, `resolved` or `matched`.
    pub status: String,
    /// `group = { … }`: when given, the alert's group values must equal these.
    pub group: Option<BTreeMap<String, String>>,
    /// Where the entry is.
    pub location: Location,
}

/// Parses one test file.
///
/// # Errors
/// Every problem in the file, located.
pub fn parse(path: &std::path::Path, text: &str) -> Result<TestFile, Diagnostics> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (root, mut doc) = raw::parse(path, text);
    let (file, _) = read_file(&mut doc, &root);
    finish(doc, file)
}

/// Parses one test file and checks its ids against `rules`, the rule set
/// loaded from its `rules` (see the module docs for what is checked).
///
/// # Errors
/// Every problem in the file, located.
pub fn parse_against(
    path: &std::path::Path,
    text: &str,
    rules: &RuleSet,
) -> Result<TestFile, Diagnostics> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (root, mut doc) = raw::parse(path, text);
    let (file, refs) = read_file(&mut doc, &root);
    for r in &refs {
        check_reference(&mut doc, r, rules);
    }
    finish(doc, file)
}

fn finish(doc: Doc<'_>, file: TestFile) -> Result<TestFile, Diagnostics> {
    let mut diags = doc.diags;
    if diags.is_empty() {
        return Ok(file);
    }
    diags.sort_by_key(|d| d.span.start);
    Err(Diagnostics(diags))
}

/// An id in the test file, kept with its span for [`parse_against`].
enum Reference {
    Source(Spanned<String>),
    Gauge(Spanned<String>),
    Rule {
        id: Spanned<String>,
        status: Option<Spanned<String>>,
        group: Vec<Spanned<String>>,
    },
}

const TOP_KEYS: &[&str] = &["rules", "case"];
const CASE_KEYS: &[&str] = &["name", "input", "expect"];
const LINE_KEYS: &[&str] = &["at", "source", "line"];
const GAUGE_KEYS: &[&str] = &["at", "gauge", "files", "bytes", "oldest_age"];
const RESTART_KEYS: &[&str] = &["at", "restart"];
const EXPECT_KEYS: &[&str] = &["at", "rule", "status", "group"];

fn read_file(doc: &mut Doc<'_>, root: &DeTable<'_>) -> (TestFile, Vec<Reference>) {
    let mut refs = Vec::new();
    let top = Section {
        table: root,
        header: 0..0,
        ctx: "the top level of the test file".to_owned(),
    };
    doc.unknown_keys(&top, TOP_KEYS, &|k| {
        (CASE_KEYS.contains(&k) || k == "at").then(|| {
            format!("{k:?} belongs inside a [[case]]: is the [[case]] header missing above it?")
        })
    });
    let dir = doc.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let rules = doc
        .req(
            &top,
            "rules",
            "rules = [\"../sms/despooler.toml\"]",
            |d, f| d.strings(f, true),
        )
        .unwrap_or_default()
        .iter()
        .map(|r| dir.join(portable_path(r.get_ref())))
        .collect();
    let mut cases = Vec::new();
    match top.field("case") {
        None => doc.missing(
            &top,
            "case",
            "[[case]] with name = \"…\", input = [...] and expect = [...]",
        ),
        Some(f) => match f.value.get_ref() {
            DeValue::Array(items) => {
                let mut names: Vec<Spanned<String>> = Vec::new();
                for item in items.iter() {
                    let DeValue::Table(t) = item.get_ref() else {
                        doc.error(
                            item.span(),
                            format!("entries of \"case\" must be tables ([[case]]), not {}", raw::a_type(item.get_ref())),
                        );
                        continue;
                    };
                    let case = read_case(doc, t, item.span(), &mut refs);
                    names.push(Spanned::new(
                        t.get("name").map_or(item.span(), |v| v.span()),
                        case.name.clone(),
                    ));
                    cases.push(case);
                }
                names.retain(|n| !n.get_ref().is_empty());
                doc.no_repeats(&names, "name", "the [[case]] tables");
            }
            DeValue::Table(_) => doc.error(
                f.span(),
                "\"case\" must be an array of tables: write [[case]] with double brackets, not [case]",
            ),
            other => doc.error(
                f.span(),
                format!("\"case\" must be an array of tables ([[case]]), not {}", raw::a_type(other)),
            ),
        },
    }
    let file = TestFile {
        path: doc.file.to_path_buf(),
        rules,
        cases,
    };
    (file, refs)
}

/// `a\\b/c` → `a/b/c` on any platform: test files travel between Windows
/// and Unix checkouts.
fn portable_path(p: &str) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(p)
    } else {
        PathBuf::from(p.replace('\\', "/"))
    }
}

fn read_case(
    doc: &mut Doc<'_>,
    t: &DeTable<'_>,
    header: std::ops::Range<usize>,
    refs: &mut Vec<Reference>,
) -> TestCase {
    let ctx = match t.get("name").and_then(|v| v.get_ref().as_str()) {
        Some(name) if !name.trim().is_empty() => format!("[[case]] {name:?}"),
        _ => "[[case]]".to_owned(),
    };
    let s = Section {
        table: t,
        header,
        ctx,
    };
    doc.unknown_keys(&s, CASE_KEYS, &|k| {
        (k == "inputs" || k == "expected" || k == "expects").then(|| {
            let right = if k == "inputs" { "input" } else { "expect" };
            format!("did you mean {right:?}?")
        })
    });
    let name = doc.req(&s, "name", "name = \"stall after backup\"", |d, f| {
        d.nonempty(f)
    });
    let location = doc.location(s.header.start);
    let inputs = doc
        .req(
            &s,
            "input",
            "input = [{ at = \"0s\", source = \"despool\", line = \"…\" }]",
            |d, f| entries(d, f, true, |d, s| read_input(d, s, refs)),
        )
        .unwrap_or_default();
    let expect = doc
        .req(&s, "expect", "expect = [{ at = \"5m\", rule = \"…\", status = \"firing\" }], or expect = [] for no alert", |d, f| {
            entries(d, f, false, |d, s| read_expectation(d, s, refs))
        })
        .unwrap_or_default();
    TestCase {
        name: name.unwrap_or_default(),
        inputs,
        expect,
        location,
    }
}

/// Reads an array of inline tables with `read`; `at_least_one`: an empty
/// array is an error.
fn entries<T>(
    doc: &mut Doc<'_>,
    f: Field<'_, '_>,
    at_least_one: bool,
    mut read: impl FnMut(&mut Doc<'_>, &Section<'_, '_>) -> Option<T>,
) -> Option<Vec<T>> {
    let DeValue::Array(items) = f.value.get_ref() else {
        doc.wrong_type(f, "a list of tables like [{ at = \"0s\", … }]");
        return None;
    };
    if at_least_one && items.is_empty() {
        doc.error(
            f.span(),
            format!("{:?} in {} needs at least one entry", f.key, f.ctx),
        );
        return None;
    }
    let what = if f.key == "input" {
        "an input"
    } else {
        "an expectation"
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        let DeValue::Table(t) = item.get_ref() else {
            doc.error(
                item.span(),
                format!(
                    "entries of {:?} in {} must be tables like {{ at = \"0s\", … }}, not {}",
                    f.key,
                    f.ctx,
                    raw::a_type(item.get_ref())
                ),
            );
            continue;
        };
        let s = Section {
            table: t,
            header: item.span(),
            ctx: format!("{what} of {}", f.ctx),
        };
        if let Some(v) = read(doc, &s) {
            out.push(v);
        }
    }
    Some(out)
}

fn read_at(doc: &mut Doc<'_>, f: Field<'_, '_>) -> Option<TestTime> {
    let text = match f.value.get_ref() {
        DeValue::String(s) => s.to_string(),
        DeValue::Datetime(d) => d.to_string(),
        _ => {
            doc.wrong_type(
                f,
                "a duration like \"5m\" or a timestamp like \"2000-01-01T00:05:00Z\"",
            );
            return None;
        }
    };
    if let Ok(d) = parse_duration(&text) {
        return Some(TestTime::Offset(d));
    }
    if let Ok(t) = Timestamp::parse_rfc3339(&text) {
        return Some(TestTime::Absolute(t));
    }
    let offsetless = text.len() >= 19
        && text
            .as_bytes()
            .get(10)
            .is_some_and(|b| matches!(b, b'T' | b't' | b' '));
    let hint = if offsetless {
        format!(" (add a UTC offset: {}Z)", text.trim())
    } else {
        String::new()
    };
    doc.error(
        f.span(),
        format!(
            "\"at\" in {} must be a duration offset like \"5m\" or an RFC 3339 timestamp like \"2000-01-01T00:05:00Z\", not {text:?}{hint}",
            f.ctx
        ),
    );
    None
}

fn read_input(
    doc: &mut Doc<'_>,
    s: &Section<'_, '_>,
    refs: &mut Vec<Reference>,
) -> Option<TestInput> {
    let which = doc.one_of(s, &["source", "gauge", "restart"]);
    let conflict = ["source", "gauge", "restart"]
        .iter()
        .filter(|k| s.has(k))
        .count()
        > 1;
    let allowed = match which {
        // The conflict is reported; the rest of the entry cannot be judged.
        _ if conflict => &[
            "at",
            "source",
            "line",
            "gauge",
            "files",
            "bytes",
            "oldest_age",
            "restart",
        ][..],
        Some("source") => LINE_KEYS,
        Some("gauge") => GAUGE_KEYS,
        Some(_) => RESTART_KEYS,
        None => &[
            "at",
            "source",
            "line",
            "gauge",
            "files",
            "bytes",
            "oldest_age",
            "restart",
        ][..],
    };
    let kinds = [
        ("source", LINE_KEYS),
        ("gauge", GAUGE_KEYS),
        ("restart", RESTART_KEYS),
    ];
    doc.unknown_keys(s, allowed, &|k| {
        kinds
            .iter()
            .find(|(_, keys)| keys.contains(&k))
            .map(|(kind, _)| {
                format!(
                    "{k:?} goes with {kind} inputs, not with {}",
                    which.unwrap_or("this one")
                )
            })
    });
    let at = doc.req(s, "at", "at = \"0s\"", read_at);
    let kind = match which {
        _ if conflict => None,
        None => {
            doc.error(
                s.header.clone(),
                format!(
                    "{} needs one of \"source\", \"gauge\" or \"restart\" (add e.g. source = \"despool\", line = \"…\")",
                    s.ctx
                ),
            );
            None
        }
        Some("source") => {
            let source = doc.opt(s, "source", |d, f| {
                d.nonempty(f).map(|v| Spanned::new(f.span(), v))
            });
            let line = doc.req(
                s,
                "line",
                "line = \"Waiting for an available despooling thread\"",
                |d, f| d.string(f),
            );
            let source = source?;
            refs.push(Reference::Source(source.clone()));
            Some(TestInputKind::Line {
                source: source.into_inner(),
                line: line?,
            })
        }
        Some("gauge") => {
            let gauge = doc.opt(s, "gauge", |d, f| {
                d.nonempty(f).map(|v| Spanned::new(f.span(), v))
            });
            let count = |d: &mut Doc<'_>, f: Field<'_, '_>| {
                d.integer(f, 0, i64::MAX)
                    .and_then(|n| u64::try_from(n).ok())
            };
            let files = doc.opt(s, "files", count);
            let bytes = doc.opt(s, "bytes", count);
            let oldest_age = doc.opt(s, "oldest_age", |d, f| d.duration(f));
            let bad = (s.has("files") && files.is_none())
                || (s.has("bytes") && bytes.is_none())
                || (s.has("oldest_age") && oldest_age.is_none());
            let gauge = gauge?;
            refs.push(Reference::Gauge(gauge.clone()));
            (!bad).then(|| TestInputKind::Gauge {
                gauge: gauge.into_inner(),
                files: files.unwrap_or(0),
                bytes: bytes.unwrap_or(0),
                oldest_age: oldest_age.unwrap_or_default(),
            })
        }
        Some(_) => match doc.opt(s, "restart", |d, f| d.boolean(f).map(|b| (b, f.span()))) {
            Some((true, _)) => Some(TestInputKind::Restart),
            Some((false, span)) => {
                doc.error(
                    span,
                    format!("restart = false in {} does nothing: write restart = true or remove the entry", s.ctx),
                );
                None
            }
            None => None,
        },
    };
    Some(TestInput {
        at: at?,
        kind: kind?,
        location: doc.location(s.header.start),
    })
}

fn read_expectation(
    doc: &mut Doc<'_>,
    s: &Section<'_, '_>,
    refs: &mut Vec<Reference>,
) -> Option<Expectation> {
    doc.unknown_keys(s, EXPECT_KEYS, &|_| None);
    let at = doc.req(s, "at", "at = \"5m\"", read_at);
    let rule = doc.req(s, "rule", "rule = \"despool-waiting\"", |d, f| {
        d.nonempty(f).map(|v| Spanned::new(f.span(), v))
    });
    let status = doc.req(s, "status", "status = \"firing\"", |d, f| {
        d.word(
            f,
            &[
                ("firing", "firing"),
                ("resolved", "resolved"),
                ("matched", "matched"),
            ],
        )
        .map(|w| Spanned::new(f.span(), w.to_owned()))
    });
    let group = doc.opt(s, "group", |d, f| d.string_map(f));
    if let Some(id) = &rule {
        refs.push(Reference::Rule {
            id: id.clone(),
            status: status.clone(),
            group: group.iter().flatten().map(|(k, _)| k.clone()).collect(),
        });
    }
    let group = match (s.has("group"), group) {
        (false, _) => None,
        (true, Some(g)) => Some(g.into_iter().map(|(k, v)| (k.into_inner(), v)).collect()),
        (true, None) => return None,
    };
    Some(Expectation {
        at: at?,
        rule: rule?.into_inner(),
        status: status?.into_inner(),
        group,
        location: doc.location(s.header.start),
    })
}

/// Checks one id of the test file against the loaded rules.
fn check_reference(doc: &mut Doc<'_>, r: &Reference, rules: &RuleSet) {
    let kind_of = |id: &str| -> Option<String> {
        if rules.source_by_name(id).is_some() {
            Some("[[source]]".to_owned())
        } else if rules.gauge_by_name(id).is_some() {
            Some("[[gauge]]".to_owned())
        } else {
            rules
                .rule_by_name(id)
                .map(|r| format!("[[{}]]", rules.rule(r).kind.name()))
        }
    };
    let (name, word, found, candidates): (&Spanned<String>, &str, bool, Vec<&str>) = match r {
        Reference::Source(n) => (
            n,
            "source",
            rules.source_by_name(n.get_ref()).is_some(),
            rules.sources.iter().map(|s| s.id.as_str()).collect(),
        ),
        Reference::Gauge(n) => (
            n,
            "gauge",
            rules.gauge_by_name(n.get_ref()).is_some(),
            rules.gauges.iter().map(|g| g.id.as_str()).collect(),
        ),
        Reference::Rule { id, .. } => (
            id,
            "rule",
            rules.rule_by_name(id.get_ref()).is_some(),
            rules.rules.iter().map(|r| r.id.as_str()).collect(),
        ),
    };
    let id = name.get_ref().as_str();
    if !found {
        let extra = match (kind_of(id), suggest(id, candidates)) {
            (Some(kind), _) => format!("{id:?} is the id of a {kind}, not of a {word}"),
            (None, Some(best)) => format!("unknown {word} {id:?} (did you mean {best:?}?)"),
            (None, None) => format!(
                "unknown {word} {id:?} (the test's rule files define no {word} with this id)"
            ),
        };
        doc.error(name.span(), extra);
        return;
    }
    let Reference::Rule { status, group, .. } = r else {
        return;
    };
    let Some(rule) = rules.rule_by_name(id).map(|i| rules.rule(i)) else {
        return;
    };
    if let Some(status) = status {
        let is_match = matches!(rule.kind, RuleKind::Match(_));
        let wrong = match (is_match, status.get_ref().as_str()) {
            (true, "firing" | "resolved") => Some(format!(
                "[[match]] rule {id:?} never fires or resolves: expect status = \"matched\""
            )),
            (false, "matched") => Some(format!(
                "status \"matched\" is only for [[match]] rules; {id:?} is a [[{}]]: expect \"firing\" or \"resolved\"",
                rule.kind.name()
            )),
            _ => None,
        };
        if let Some(w) = wrong {
            doc.error(status.span(), w);
        }
    }
    let fields: Vec<&str> = rule.group_by().iter().map(|g| g.name()).collect();
    for key in group {
        if fields.contains(&key.get_ref().as_str()) {
            continue;
        }
        let extra = if fields.is_empty() {
            format!("{id:?} has no group_by")
        } else {
            format!("its group_by fields: {}", fields.join(", "))
        };
        doc.error(
            key.span(),
            format!(
                "group field {:?} is not grouped by in rule {id:?} ({extra})",
                key.get_ref()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{RuleText, compile};

    const RULES: &str = r#"
[[source]]
id = "despool"
path = 'Logs\despool.log'

[[gauge]]
id = "receive"
path = 'Inboxes\despoolr.box\receive'

[[match]]
id = "m"
source = "despool"
regex = '(?P<box>\w+)\.box'
group_by = ["box"]

[[threshold]]
id = "t"
source = "despool"
contains = "Waiting"
count = 3
window = "10m"
group_by = ["host.name"]
"#;

    fn rules() -> RuleSet {
        compile(&[RuleText {
            path: "rules/a.toml".into(),
            text: RULES.into(),
        }])
        .unwrap()
    }

    /// Parses `text` as `rules/tests/t.toml` (against [`RULES`] when
    /// `against`) and returns the first lines of the diagnostics.
    fn check(text: &str, against: bool, expected: &[&str]) {
        let path = Path::new("rules/tests/t.toml");
        let result = if against {
            parse_against(path, text, &rules())
        } else {
            parse(path, text)
        };
        let got: Vec<String> = match result {
            Ok(_) => Vec::new(),
            Err(d) => d
                .to_string()
                .lines()
                .filter(|l| l.starts_with("rules/"))
                .map(str::to_owned)
                .collect(),
        };
        assert_eq!(got, expected, "\n{}", got.join("\n"));
    }

    #[test]
    fn spec_example_parses() {
        let text = r#"rules = ["../sms/despooler.toml", '..\sms\more.toml']

[[case]]
name = "stall after backup"
input = [
  { at = "0s",  source = "smsbkup", line = "Backup completed" },
  { at = "60s", source = "despool", line = "Waiting for an available despooling thread" },
  { at = "0s",  gauge = "despoolr_receive", files = 3 },
  { at = "5m",  gauge = "despoolr_receive", files = 80, bytes = 1024, oldest_age = "30m" },
  { at = 2000-01-01T00:06:00Z, restart = true },
]
expect = [
  { at = "5m", rule = "q260366-despool-stall", status = "firing" },
  { at = "2000-01-01T01:00:00+01:00", rule = "x", status = "resolved", group = { "host.name" = "PRI01", thread = 4844 } },
]

[[case]]
name = "quiet"
input = [{ at = "0s", source = "despool", line = "" }]
expect = []
"#;
        let file = parse(Path::new("rules/tests/t.toml"), text).unwrap();
        assert_eq!(
            file.rules,
            [
                PathBuf::from("rules/tests/../sms/despooler.toml"),
                PathBuf::from("rules/tests/../sms/more.toml")
            ]
        );
        assert_eq!(file.cases.len(), 2);
        let case = &file.cases[0];
        assert_eq!(case.name, "stall after backup");
        assert_eq!((case.location.line, case.location.column), (3, 1));
        assert_eq!(case.inputs.len(), 5);
        assert_eq!(case.inputs[1].at, TestTime::Offset(Duration::from_secs(60)));
        assert_eq!(
            case.inputs[1].kind,
            TestInputKind::Line {
                source: "despool".into(),
                line: "Waiting for an available despooling thread".into()
            }
        );
        assert_eq!(
            (case.inputs[1].location.line, case.inputs[1].location.column),
            (7, 3)
        );
        assert_eq!(
            case.inputs[2].kind,
            TestInputKind::Gauge {
                gauge: "despoolr_receive".into(),
                files: 3,
                bytes: 0,
                oldest_age: Duration::ZERO
            }
        );
        assert_eq!(
            case.inputs[3].kind,
            TestInputKind::Gauge {
                gauge: "despoolr_receive".into(),
                files: 80,
                bytes: 1024,
                oldest_age: Duration::from_secs(1800)
            }
        );
        let six = Timestamp::parse_rfc3339("2000-01-01T00:06:00Z").unwrap();
        assert_eq!(case.inputs[4].at, TestTime::Absolute(six));
        assert_eq!(case.inputs[4].kind, TestInputKind::Restart);
        assert_eq!(case.expect[0].status, "firing");
        assert_eq!(case.expect[0].group, None);
        let midnight = Timestamp::parse_rfc3339("2000-01-01T00:00:00Z").unwrap();
        assert_eq!(case.expect[1].at, TestTime::Absolute(midnight));
        let group = case.expect[1].group.as_ref().unwrap();
        assert_eq!(group["host.name"], "PRI01");
        assert_eq!(group["thread"], "4844");
        assert!(file.cases[1].expect.is_empty());
    }

    #[test]
    fn structure_problems() {
        check(
            "",
            false,
            &[
                "rules/tests/t.toml:1:1: missing key \"rules\" in the top level of the test file (add e.g. rules = [\"../sms/despooler.toml\"])",
                "rules/tests/t.toml:1:1: missing key \"case\" in the top level of the test file (add e.g. [[case]] with name = \"…\", input = [...] and expect = [...])",
            ],
        );
        check(
            "rules = []\nname = \"x\"\n[case]\nname = \"y\"\n",
            false,
            &[
                "rules/tests/t.toml:1:9: \"rules\" in the top level of the test file needs at least one entry",
                "rules/tests/t.toml:2:1: unknown key \"name\" in the top level of the test file (\"name\" belongs inside a [[case]]: is the [[case]] header missing above it?)",
                "rules/tests/t.toml:3:1: \"case\" must be an array of tables: write [[case]] with double brackets, not [case]",
            ],
        );
        check(
            "rules = [\"a.toml\"]\n[[case]]\nname = \"x\"\ninputs = []\n[[case]]\nname = \"x\"\ninput = []\nexpect = {}\n",
            false,
            &[
                "rules/tests/t.toml:2:1: missing key \"input\" in [[case]] \"x\" (add e.g. input = [{ at = \"0s\", source = \"despool\", line = \"…\" }])",
                "rules/tests/t.toml:2:1: missing key \"expect\" in [[case]] \"x\" (add e.g. expect = [{ at = \"5m\", rule = \"…\", status = \"firing\" }], or expect = [] for no alert)",
                "rules/tests/t.toml:4:1: unknown key \"inputs\" in [[case]] \"x\" (did you mean \"input\"?)",
                "rules/tests/t.toml:6:8: \"x\" is listed twice in \"name\" of the [[case]] tables",
                "rules/tests/t.toml:7:9: \"input\" in [[case]] \"x\" needs at least one entry",
                "rules/tests/t.toml:8:10: \"expect\" in [[case]] \"x\" must be a list of tables like [{ at = \"0s\", … }], not a table",
            ],
        );
    }

    #[test]
    fn entry_problems() {
        check(
            r#"rules = ["a.toml"]
[[case]]
name = "c"
input = [
  { at = "5", source = "despool", line = "x" },
  { at = "2000-01-01T00:05:00", source = "despool", line = "x", files = 3 },
  { at = "0s", source = "despool", gauge = "g" },
  { at = "0s", line = "x" },
  { at = "0s", gauge = "g", files = -1, oldest_age = 30 },
  { at = "0s", restart = false },
  { source = "despool" },
  "x",
]
expect = [
  { at = 5, rule = "t", status = "fired", grup = {} },
]
"#,
            false,
            &[
                "rules/tests/t.toml:5:10: \"at\" in an input of [[case]] \"c\" must be a duration offset like \"5m\" or an RFC 3339 timestamp like \"2000-01-01T00:05:00Z\", not \"5\"",
                "rules/tests/t.toml:6:10: \"at\" in an input of [[case]] \"c\" must be a duration offset like \"5m\" or an RFC 3339 timestamp like \"2000-01-01T00:05:00Z\", not \"2000-01-01T00:05:00\" (add a UTC offset: 2000-01-01T00:05:00Z)",
                "rules/tests/t.toml:6:65: unknown key \"files\" in an input of [[case]] \"c\" (\"files\" goes with gauge inputs, not with source)",
                "rules/tests/t.toml:7:36: \"gauge\" cannot be combined with \"source\" in an input of [[case]] \"c\": keep one of them",
                "rules/tests/t.toml:8:3: an input of [[case]] \"c\" needs one of \"source\", \"gauge\" or \"restart\" (add e.g. source = \"despool\", line = \"…\")",
                "rules/tests/t.toml:9:37: \"files\" in an input of [[case]] \"c\" must be at least 0",
                "rules/tests/t.toml:9:54: \"oldest_age\" in an input of [[case]] \"c\" must be a duration string with a unit, not a number (write oldest_age = \"30s\")",
                "rules/tests/t.toml:10:26: restart = false in an input of [[case]] \"c\" does nothing: write restart = true or remove the entry",
                "rules/tests/t.toml:11:3: missing key \"at\" in an input of [[case]] \"c\" (add e.g. at = \"0s\")",
                "rules/tests/t.toml:11:3: missing key \"line\" in an input of [[case]] \"c\" (add e.g. line = \"Waiting for an available despooling thread\")",
                "rules/tests/t.toml:12:3: entries of \"input\" in [[case]] \"c\" must be tables like { at = \"0s\", … }, not a string",
                "rules/tests/t.toml:15:10: \"at\" in an expectation of [[case]] \"c\" must be a duration like \"5m\" or a timestamp like \"2000-01-01T00:05:00Z\", not an integer",
                "rules/tests/t.toml:15:34: unknown status \"fired\" in an expectation of [[case]] \"c\" (write one of \"firing\", \"resolved\", \"matched\")",
                "rules/tests/t.toml:15:43: unknown key \"grup\" in an expectation of [[case]] \"c\" (did you mean \"group\"?)",
            ],
        );
    }

    #[test]
    fn ids_are_checked_against_the_rules() {
        let text = r#"rules = ["a.toml"]
[[case]]
name = "c"
input = [
  { at = "0s", source = "despol", line = "x" },
  { at = "0s", source = "receive", line = "x" },
  { at = "0s", gauge = "receive", files = 1 },
  { at = "0s", gauge = "nothing" },
]
expect = [
  { at = "1m", rule = "t", status = "firing", group = { "host.name" = "PRI01" } },
  { at = "1m", rule = "t", status = "matched" },
  { at = "1m", rule = "m", status = "firing", group = { box = "x", boxes = "y" } },
  { at = "1m", rule = "despool", status = "firing" },
]
"#;
        check(text, false, &[]);
        check(
            text,
            true,
            &[
                "rules/tests/t.toml:5:25: unknown source \"despol\" (did you mean \"despool\"?)",
                "rules/tests/t.toml:6:25: \"receive\" is the id of a [[gauge]], not of a source",
                "rules/tests/t.toml:8:24: unknown gauge \"nothing\" (the test's rule files define no gauge with this id)",
                "rules/tests/t.toml:12:37: status \"matched\" is only for [[match]] rules; \"t\" is a [[threshold]]: expect \"firing\" or \"resolved\"",
                "rules/tests/t.toml:13:37: [[match]] rule \"m\" never fires or resolves: expect status = \"matched\"",
                "rules/tests/t.toml:13:68: group field \"boxes\" is not grouped by in rule \"m\" (its group_by fields: box)",
                "rules/tests/t.toml:14:23: \"despool\" is the id of a [[source]], not of a rule",
            ],
        );
    }
}
