//! `logwarden test`: rule tests (SPEC §6) on the real engine with simulated
//! time.
//!
//! Each case starts at 2000-01-01T00:00:00Z (`at` offsets count from there).
//! Lines are parsed with their source's format and go through the same
//! ingest and engine as the agent; a line without a timestamp of its own
//! happens at its `at`. Sources whose timezone is `local` are read as UTC so
//! that a test gives the same answer on every machine. `host.name` is the
//! rules' `[defaults] host`, else `test-host`. After the last input the
//! clock advances to the latest `at` of the case's inputs and expectations,
//! so a resolution is seen only when a case expects something at or after
//! it. The documents sent must equal the expectations exactly (as a set of
//! rule, status, `@timestamp` and, where given, group).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{AppError, report};
use crate::alert::Context;
use crate::correlate::Options;
use crate::engine::{Engine, MemoryOutput};
use crate::event::{FileKey, GaugeSample, Input};
use crate::ingest::Ingest;
use crate::matcher::Matcher;
use crate::parse::RecordParser;
use crate::rule::testfile::{self, Expectation, TestCase, TestInputKind, TestTime};
use crate::rule::{self, RuleSet};
use crate::time::{Clock, TimeZoneSpec, Timestamp, format_duration};

/// The instant `at = "0s"` stands for.
pub const CASE_START: Timestamp = Timestamp::from_unix_secs(946_684_800);

/// Runs `test`.
///
/// # Errors
/// [`AppError::TestsFailed`] (exit 1) when a case fails or a test file is
/// broken; [`AppError::Runtime`] when a path cannot be read.
pub fn test(args: crate::cli::TestArgs) -> Result<(), AppError> {
    let files = collect(&args.paths)?;
    let mut stdout = std::io::stdout().lock();
    let (mut total, mut failed) = (0usize, 0usize);
    for file in &files {
        let (t, f) = run_file(file, &mut stdout);
        total += t;
        failed += f;
    }
    let _ = writeln!(stdout, "\n{} passed, {} failed", total - failed, failed);
    if failed > 0 || total == 0 {
        return Err(AppError::TestsFailed { failed, total });
    }
    Ok(())
}

/// Test files named by `paths`: files as given, folders searched recursively
/// for `*.toml`, sorted.
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, AppError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| {
                AppError::Runtime(format!("cannot read test folder {}: {e}", p.display()))
            })?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(AppError::Runtime(format!(
                "test path {} does not exist",
                p.display()
            )));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs one test file; returns (cases, failures). A broken file counts as
/// one failure.
fn run_file(path: &Path, out: &mut impl Write) -> (usize, usize) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(out, "FAIL {}: cannot read: {e}", path.display());
            return (1, 1);
        }
    };
    let file = match testfile::parse(path, &text) {
        Ok(f) => f,
        Err(diags) => {
            let _ = report(&diags, "test file");
            let _ = writeln!(
                out,
                "FAIL {}: the test file has problems (above)",
                path.display()
            );
            return (1, 1);
        }
    };
    let rules = match rule::load(&file.rules) {
        Ok(r) => r,
        Err(diags) => {
            let _ = report(&diags, "rules");
            let _ = writeln!(
                out,
                "FAIL {}: its rules have problems (above)",
                path.display()
            );
            return (1, 1);
        }
    };
    // Now that the rules are known, check the file's ids against them.
    let file = match testfile::parse_against(path, &text, &rules) {
        Ok(f) => f,
        Err(diags) => {
            let _ = report(&diags, "test file");
            let _ = writeln!(
                out,
                "FAIL {}: the test file has problems (above)",
                path.display()
            );
            return (1, 1);
        }
    };
    let rules = Arc::new(deterministic(rules));
    let mut failed = 0;
    for case in &file.cases {
        match run_case(&rules, case) {
            Ok(()) => {
                let _ = writeln!(out, "PASS {} :: {}", path.display(), case.name);
            }
            Err(diff) => {
                failed += 1;
                let _ = writeln!(
                    out,
                    "FAIL {} :: {} ({}:{})\n{diff}",
                    path.display(),
                    case.name,
                    case.location.line,
                    case.location.column
                );
            }
        }
    }
    (file.cases.len(), failed)
}

/// Local-time sources read as UTC; a missing host becomes `test-host`.
fn deterministic(mut rules: RuleSet) -> RuleSet {
    for s in &mut rules.sources {
        if s.timezone == TimeZoneSpec::Local {
            s.timezone = TimeZoneSpec::Utc;
        }
    }
    rules
        .defaults
        .host
        .get_or_insert_with(|| "test-host".to_owned());
    rules
}

fn instant(t: TestTime) -> Timestamp {
    match t {
        TestTime::Offset(d) => CASE_START.saturating_add(d),
        TestTime::Absolute(ts) => ts,
    }
}

fn show(t: Timestamp) -> String {
    if t >= CASE_START {
        format!("{:>8}", format_duration(t.saturating_since(CASE_START)))
    } else {
        t.to_rfc3339()
    }
}

/// A clock that never moves: `event.created` is irrelevant to tests.
struct Frozen;

impl Clock for Frozen {
    fn now(&self) -> Timestamp {
        CASE_START
    }
}

/// One document as tests see it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    rule: String,
    status: String,
    at: Timestamp,
    group: BTreeMap<String, String>,
}

/// The engine of a case, rebuilt on `restart`.
fn new_engine(rules: &Arc<RuleSet>, memory: &MemoryOutput) -> Engine {
    Engine::new(
        Arc::clone(rules),
        Context {
            host: rules.defaults.host.clone().unwrap_or_default(),
            labels: rules.defaults.labels.clone(),
        },
        Options::default(),
        vec![Box::new(memory.clone())],
        Arc::new(Frozen),
    )
}

fn new_ingest(rules: &Arc<RuleSet>) -> Result<Ingest, String> {
    let matcher = Matcher::new(rules).map_err(|e| e.to_string())?;
    let host = rules.defaults.host.clone().unwrap_or_default();
    Ok(Ingest::new(Arc::clone(rules), matcher, host))
}

/// Runs one case; `Err` holds a readable diff of expected and actual.
fn run_case(rules: &Arc<RuleSet>, case: &TestCase) -> Result<(), String> {
    let mut ingest = new_ingest(rules)?;
    let memory = MemoryOutput::default();
    let mut engine = new_engine(rules, &memory);
    let mut inputs: Vec<_> = case.inputs.iter().collect();
    inputs.sort_by_key(|i| instant(i.at));
    let mut parsers: HashMap<usize, RecordParser> = HashMap::new();
    let mut offsets: HashMap<usize, u64> = HashMap::new();
    let mut end = CASE_START;
    let mut buf = Vec::new();
    for input in inputs {
        let at = instant(input.at);
        end = end.max(at);
        let line_no = input.location.line;
        match &input.kind {
            TestInputKind::Line { source, line } => {
                let Some(sid) = rules.source_by_name(source) else {
                    return Err(format!(
                        "  input at line {line_no}: unknown source {source:?}"
                    ));
                };
                let def = &rules.sources[sid.index()];
                let parser = parsers
                    .entry(sid.index())
                    .or_insert_with(|| RecordParser::new(def.format, def.timezone.clone()));
                let offset = offsets.entry(sid.index()).or_insert(0);
                let key = FileKey(xxhash_rust::xxh3::xxh3_64(def.id.as_bytes()));
                let path: Arc<str> = Arc::from(def.path.as_str());
                for physical in line.split('\n') {
                    let physical = physical.strip_suffix('\r').unwrap_or(physical);
                    parser.push_line(physical, *offset, false, &mut |record| {
                        ingest.record(sid, key, &path, record, at, None, &mut buf);
                    });
                    *offset += physical.len() as u64 + 1;
                }
            }
            TestInputKind::Gauge {
                gauge,
                files,
                bytes,
                oldest_age,
            } => {
                let Some(gid) = rules.gauge_by_name(gauge) else {
                    return Err(format!(
                        "  input at line {line_no}: unknown gauge {gauge:?}"
                    ));
                };
                buf.push(Input::Gauge(GaugeSample {
                    gauge: gid,
                    time: at,
                    files: *files,
                    bytes: *bytes,
                    oldest_age: *oldest_age,
                }));
            }
            TestInputKind::Restart => {
                // What the agent does across a restart: the engine's state
                // goes through its persisted form; parsers and the ingest
                // stage start afresh; files keep their offsets.
                let saved = serde_json::to_string(&engine.snapshot())
                    .map_err(|e| format!("  restart at line {line_no}: cannot save state: {e}"))?;
                let snapshot = serde_json::from_str(&saved).map_err(|e| {
                    format!("  restart at line {line_no}: cannot read state back: {e}")
                })?;
                engine = new_engine(rules, &memory);
                engine.restore(snapshot, Options::default());
                ingest = new_ingest(rules)?;
                parsers.clear();
            }
        }
        buf.sort_by_key(Input::time);
        for i in buf.drain(..) {
            engine.apply(i);
        }
    }
    for e in &case.expect {
        end = end.max(instant(e.at));
    }
    engine.advance_to(end);
    let actual: Vec<Seen> = memory.lines().iter().filter_map(|l| seen(l)).collect();
    compare(&case.expect, actual)
}

fn seen(line: &str) -> Option<Seen> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let group = v["logwarden"]["alert"]["group"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    Some(Seen {
        rule: v["rule"]["id"].as_str()?.to_owned(),
        status: v["logwarden"]["alert"]["status"].as_str()?.to_owned(),
        at: Timestamp::parse_rfc3339(v["@timestamp"].as_str()?).ok()?,
        group,
    })
}

/// Matches expectations to documents one to one; any leftover on either
/// side is a failure, shown as a diff in time order.
fn compare(expect: &[Expectation], actual: Vec<Seen>) -> Result<(), String> {
    let mut unmatched: Vec<Option<Seen>> = actual.into_iter().map(Some).collect();
    let mut missing = Vec::new();
    for e in expect {
        let at = instant(e.at);
        // @timestamp has millisecond precision.
        let at = Timestamp::from_unix_millis(at.as_unix_millis());
        let found = unmatched.iter().position(|s| {
            s.as_ref().is_some_and(|s| {
                s.rule == e.rule
                    && s.status == e.status
                    && s.at == at
                    && e.group.as_ref().is_none_or(|g| *g == s.group)
            })
        });
        match found {
            Some(i) => unmatched[i] = None,
            None => missing.push((at, format!("{} {}", e.rule, e.status))),
        }
    }
    let unexpected: Vec<Seen> = unmatched.into_iter().flatten().collect();
    if missing.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let mut lines: Vec<(Timestamp, String)> = Vec::new();
    for (at, what) in missing {
        lines.push((at, format!("  - expected {} {what} (not sent)", show(at))));
    }
    for s in unexpected {
        let group = if s.group.is_empty() {
            String::new()
        } else {
            format!(" {:?}", s.group)
        };
        lines.push((
            s.at,
            format!(
                "  + actual   {} {} {}{group} (not expected)",
                show(s.at),
                s.rule,
                s.status
            ),
        ));
    }
    lines.sort();
    Err(lines
        .into_iter()
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n"))
}
