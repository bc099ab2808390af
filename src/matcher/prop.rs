//! Property test: for random rule sets and records, [`Matcher::find`] under
//! every [`super::Strategy`] equals a naive loop that tests each rule alone with
//! `regex::Regex::is_match` and `str::contains`.

use proptest::prelude::*;

use super::tests::{bare, rule, set_of};
use super::{Matcher, Strategy as Split};
use crate::event::{Record, RuleId, Severity, SourceId};
use crate::rule::{Pattern, Rule, RuleSet};

/// The reference: every line rule of a source tested one by one, each
/// regex compiled once by the `regex` crate.
pub(super) struct Naive<'s> {
    set: &'s RuleSet,
    regexes: Vec<Option<regex::Regex>>,
}

impl<'s> Naive<'s> {
    pub(super) fn new(set: &'s RuleSet) -> Naive<'s> {
        let regexes = set
            .rules
            .iter()
            .map(|r| match r.line().map(|l| &l.pattern) {
                Some(Pattern::Regex(p)) => Some(regex::Regex::new(p).unwrap()),
                _ => None,
            })
            .collect();
        Naive { set, regexes }
    }

    pub(super) fn find(&self, source: SourceId, record: &Record<'_>) -> Vec<RuleId> {
        let mut out = Vec::new();
        for (i, r) in self.set.rules.iter().enumerate() {
            let Some(line) = r.line() else { continue };
            if !line.sources.contains(&source) {
                continue;
            }
            let text = if line.raw { record.raw } else { record.message };
            let text_ok = match (&line.pattern, &self.regexes[i]) {
                (Pattern::Contains(s), _) => text.contains(s.as_str()),
                (Pattern::ContainsAny(v), _) => v.iter().any(|s| text.contains(s.as_str())),
                (Pattern::Regex(_), Some(re)) => re.is_match(text),
                (Pattern::Regex(_), None) => unreachable!("compiled in new"),
            };
            let lower = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
            let ok = text_ok
                && line
                    .not_contains
                    .as_ref()
                    .is_none_or(|nc| !text.contains(nc.as_str()))
                && line
                    .component
                    .as_ref()
                    .is_none_or(|c| record.component.is_some_and(|rc| lower(rc) == lower(c)))
                && line
                    .severity_at_least
                    .is_none_or(|min| record.severity.is_some_and(|s| s >= min))
                && line.thread.is_none_or(|t| record.thread == Some(t));
            if ok {
                out.push(RuleId(i as u32));
            }
        }
        out
    }
}

/// Words that overlap in case and content, including SMS markup and a few
/// non-ASCII letters that only Unicode matching treats as letters or folds.
const WORDS: &[&str] = &[
    "Waiting",
    "waiting",
    "for",
    "despool",
    "despooling",
    "thread",
    "Err>",
    "err",
    "error",
    "Error",
    "ERROR",
    "SQL",
    "sql",
    "backup",
    "completed",
    "<thread=",
    "0x1F",
    "42",
    "4844",
    "$$<",
    "SMS_DESPOOLER",
    "Größe",
    "ſ",
    "\u{212A}",
    "k",
    "s",
    "~",
    "a",
    "b",
    "ab",
];

const CLASSES: &[&str] = &[
    "\\d+",
    "\\w+",
    "[a-z]{2,}",
    "[^ ]+",
    ".",
    "\\s*",
    "[A-Z][a-z]+",
    "\\d{2}",
    ".*",
    "\\b",
    "^",
    "$",
    "\\W",
    "[[:alpha:]]+",
    "(?-u:\\w)+",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

/// One piece of a generated regex.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        word().prop_map(|w| regex_syntax::escape(&w)),
        prop::collection::vec(word(), 2..4).prop_map(|ws| {
            let alts: Vec<String> = ws.iter().map(|w| regex_syntax::escape(w)).collect();
            format!("(?:{})", alts.join("|"))
        }),
        prop::sample::select(CLASSES).prop_map(str::to_owned),
    ]
}

fn regex_pattern() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec((piece(), 0..4u8, any::<bool>()), 1..5),
    )
        .prop_map(|(ci, pieces)| {
            let mut s = String::new();
            if ci {
                s.push_str("(?i)");
            }
            for (n, (p, wrap, space)) in pieces.into_iter().enumerate() {
                match wrap {
                    1 => s.push_str(&format!("(?P<c{n}>{p})")),
                    2 => s.push_str(&format!("(?i:{p})")),
                    3 => s.push_str(&format!("(?-i:{p})")),
                    _ => s.push_str(&p),
                }
                if space {
                    s.push(' ');
                }
            }
            s
        })
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        1 => word().prop_map(Pattern::Contains),
        1 => prop::collection::vec(word(), 1..4).prop_map(Pattern::ContainsAny),
        3 => regex_pattern().prop_map(Pattern::Regex),
    ]
}

const COMPONENTS: &[&str] = &["SMS_DESPOOLER", "sms_despooler", "SMS_EXECUTIVE"];

fn severity() -> impl Strategy<Value = Option<Severity>> {
    prop::option::of(prop::sample::select(
        &[Severity::Info, Severity::Warning, Severity::Error][..],
    ))
}

fn line_rule() -> impl Strategy<Value = Rule> {
    (
        pattern(),
        prop::option::weighted(0.2, word()),
        prop::option::weighted(0.2, prop::sample::select(COMPONENTS)),
        prop::option::weighted(
            0.5,
            prop::sample::select(&[Severity::Info, Severity::Warning, Severity::Error][..]),
        ),
        prop::option::weighted(0.2, 1..3u32),
        any::<bool>(),
        prop::sample::select(vec![vec![0u32], vec![1], vec![0, 1]]),
    )
        .prop_map(|(pattern, nc, comp, sev, thread, raw, sources)| {
            rule("r", pattern, |l| {
                l.not_contains = nc;
                l.component = comp.map(str::to_owned);
                l.severity_at_least = sev;
                l.thread = thread;
                l.raw = raw;
                l.sources = sources.into_iter().map(SourceId).collect();
            })
        })
}

/// A generated record: the owned texts and the other fields.
#[derive(Clone, Debug)]
struct Rec {
    source: SourceId,
    message: String,
    raw: String,
    component: Option<&'static str>,
    thread: Option<u32>,
    severity: Option<Severity>,
}

fn record() -> impl Strategy<Value = Rec> {
    (
        0..3u32,
        prop::collection::vec(word(), 0..8),
        prop::sample::select(&[" ", "", "\n", "  "][..]),
        prop::option::of(prop::sample::select(COMPONENTS)),
        prop::option::of(1..3u32),
        severity(),
        any::<bool>(),
    )
        .prop_map(
            |(source, words, sep, component, thread, severity, trailer)| {
                let message = words.join(sep);
                let raw = if trailer {
                    format!(
                        "{message}  $$<{}><01-23-2024 10:00:00.123+240><thread={} (0x1)>",
                        component.unwrap_or("SMS_X"),
                        thread.unwrap_or(0)
                    )
                } else {
                    message.clone()
                };
                Rec {
                    source: SourceId(source),
                    message,
                    raw,
                    component,
                    thread,
                    severity,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn find_equals_naive_loop(
        rules in prop::collection::vec(line_rule(), 1..10),
        records in prop::collection::vec(record(), 1..12),
    ) {
        let rules: Vec<Rule> = rules
            .into_iter()
            .enumerate()
            .map(|(i, mut r)| { r.id = format!("r{i}"); r })
            .collect();
        let set = set_of(rules);
        let naive = Naive::new(&set);
        let records: Vec<(SourceId, Record<'_>)> = records
            .iter()
            .map(|rec| {
                let record = Record {
                    raw: &rec.raw,
                    message: &rec.message,
                    component: rec.component,
                    thread: rec.thread,
                    severity: rec.severity,
                    time: None,
                    offset: 0,
                    cut: false,
                };
                (rec.source, record)
            })
            .collect();
        let wants: Vec<Vec<RuleId>> = records.iter().map(|(s, r)| naive.find(*s, r)).collect();
        for strategy in [Split::Auto, Split::Prefilter, Split::Set] {
            let matcher = Matcher::with_strategy(&set, strategy).unwrap();
            for ((source, record), want) in records.iter().zip(&wants) {
                let mut got = Vec::new();
                matcher.find(*source, record, &mut got);
                prop_assert_eq!(&got, want, "{:?} on {:?}", strategy, record);
            }
        }
    }
}

/// Rule templates as admins write them, each a regex and a text it matches:
/// the same text around a part of each rule's own (`{}`).
const TEMPLATES: &[(&str, &str)] = &[
    (
        "(?:Failed|Unable) to connect to (\\w+) for {} now",
        "Unable to connect to SRV1 for {} now",
    ),
    (
        "(?i)backup of {} (?:completed|failed)",
        "BACKUP of {} completed",
    ),
    ("{}_\\d+ files? (?:queued|pending)", "{}_12 file queued"),
];

/// A template (by index) and the words of a rule's or a line's own part.
fn instance() -> impl Strategy<Value = (usize, Vec<String>)> {
    (0..TEMPLATES.len(), prop::collection::vec(word(), 1..3))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Replay parses only the lines [`Matcher::candidate_lines`] marks: it
    /// marks every line some rule matches. Many rules from a few templates
    /// make the regex set gate families by their templates' text and mark
    /// a line only if it also holds a member's own part.
    #[test]
    fn candidate_lines_hold_every_match(
        rules in prop::collection::vec(instance(), 60..90),
        lines in prop::collection::vec(prop_oneof![
            3 => instance().prop_map(|(t, own)| TEMPLATES[t].1.replace("{}", &own.join(" "))),
            1 => prop::collection::vec(word(), 0..8).prop_map(|w| w.join(" ")),
        ], 1..40),
    ) {
        let rules: Vec<Rule> = rules
            .iter()
            .enumerate()
            .map(|(i, (t, own))| {
                let own: Vec<String> = own.iter().map(|w| regex_syntax::escape(w)).collect();
                let mut r = rule("r", Pattern::Regex(TEMPLATES[*t].0.replace("{}", &own.join(" "))), |_| {});
                r.id = format!("r{i}");
                r
            })
            .collect();
        let set = set_of(rules);
        let naive = Naive::new(&set);
        let block = lines.join("\n");
        for strategy in [Split::Auto, Split::Set] {
            let matcher = Matcher::with_strategy(&set, strategy).unwrap();
            let mut starts = Vec::new();
            if !matcher.candidate_lines(SourceId(0), block.as_bytes(), &mut starts) {
                continue;
            }
            let mut at = 0;
            for line in &lines {
                if !naive.find(SourceId(0), &bare(line, line)).is_empty() {
                    prop_assert!(starts.contains(&at), "{:?} unmarked ({:?})", line, strategy);
                }
                at += line.len() + 1;
            }
        }
    }
}
