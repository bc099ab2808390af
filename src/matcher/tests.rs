//! Unit tests of the matcher: each filter, flag isolation, routing, group
//! values. Every case runs under every [`Strategy`].

use std::time::Duration;

use super::*;
use crate::rule::{LineCondition, Location, MatchRule, Rule, RuleKind, RuleMeta};

/// A `match` rule on source 0 looking for `pattern`; `edit` sets filters.
pub(super) fn rule(id: &str, pattern: Pattern, edit: impl FnOnce(&mut LineCondition)) -> Rule {
    let mut line = LineCondition {
        sources: vec![SourceId(0)],
        pattern,
        not_contains: None,
        component: None,
        severity_at_least: None,
        thread: None,
        raw: false,
    };
    edit(&mut line);
    Rule {
        id: id.to_owned(),
        meta: RuleMeta::default(),
        kind: RuleKind::Match(MatchRule {
            line,
            suppress_for: Duration::ZERO,
            group_by: Vec::new(),
        }),
        location: Location::default(),
    }
}

pub(super) fn set_of(rules: Vec<Rule>) -> RuleSet {
    RuleSet {
        rules,
        ..RuleSet::default()
    }
}

fn contains(s: &str) -> Pattern {
    Pattern::Contains(s.to_owned())
}

fn regex(s: &str) -> Pattern {
    Pattern::Regex(s.to_owned())
}

/// An SMS record: `message` with a trailer for `component`, thread 4844.
fn sms(message: &'static str) -> Record<'static> {
    let raw: &'static str = Box::leak(
        format!("{message}  $$<SMS_DESPOOLER><01-23-2024 10:00:00.123+240><thread=4844 (0x12EC)>")
            .into_boxed_str(),
    );
    Record {
        raw,
        message,
        component: Some("SMS_DESPOOLER"),
        thread: Some(4844),
        severity: None,
        time: None,
        offset: 0,
        cut: false,
    }
}

/// A record of `raw` text whose message is `message`, no other field.
pub(super) fn bare<'a>(raw: &'a str, message: &'a str) -> Record<'a> {
    Record {
        raw,
        message,
        component: None,
        thread: None,
        severity: None,
        time: None,
        offset: 0,
        cut: false,
    }
}

/// Checks that `record` on source 0 matches exactly the rules named in
/// `expect`, in rule order, under every strategy.
fn check(rules: Vec<Rule>, record: &Record<'_>, expect: &[&str]) {
    let set = set_of(rules);
    for strategy in [Strategy::Auto, Strategy::Prefilter, Strategy::Set] {
        let matcher = Matcher::with_strategy(&set, strategy).unwrap();
        let mut out = Vec::new();
        matcher.find(SourceId(0), record, &mut out);
        let got: Vec<&str> = out.iter().map(|id| set.rule(*id).id.as_str()).collect();
        assert_eq!(got, expect, "{strategy:?} on {:?}", record.raw);
    }
}

#[test]
fn contains_is_case_sensitive() {
    let rules = || vec![rule("a", contains("Waiting for"), |_| {})];
    check(
        rules(),
        &sms("Waiting for an available despooling thread"),
        &["a"],
    );
    check(
        rules(),
        &sms("waiting for an available despooling thread"),
        &[],
    );
}

#[test]
fn contains_any_matches_any_literal() {
    let rules = || {
        vec![rule(
            "a",
            Pattern::ContainsAny(vec!["Err>".into(), "Msg>".into()]),
            |_| {},
        )]
    };
    check(rules(), &sms(" Msg>Command has been aborted.~"), &["a"]);
    check(rules(), &sms(" Cmd>drop table #MachineIDs"), &[]);
}

#[test]
fn empty_literal_matches_every_record() {
    check(
        vec![rule("a", contains(""), |_| {})],
        &sms("anything"),
        &["a"],
    );
}

#[test]
fn not_contains_vetoes() {
    let rules = || {
        vec![rule("a", regex("(?i)backup completed"), |l| {
            l.not_contains = Some("test".into());
        })]
    };
    check(rules(), &sms("Backup Completed"), &["a"]);
    check(rules(), &sms("Backup completed (test run)"), &[]);
}

#[test]
fn component_is_case_insensitive_and_exact() {
    let rules = |c: &str| {
        let c = c.to_owned();
        vec![rule("a", contains("Waiting"), move |l| {
            l.component = Some(c)
        })]
    };
    check(rules("sms_despooler"), &sms("Waiting"), &["a"]);
    check(rules("SMS_DESPOOL"), &sms("Waiting"), &[]);
    let mut none = sms("Waiting");
    none.component = None;
    check(rules("SMS_DESPOOLER"), &none, &[]);
}

#[test]
fn severity_at_least() {
    let rules = || {
        vec![rule("a", contains("x"), |l| {
            l.severity_at_least = Some(Severity::Warning)
        })]
    };
    let mut rec = sms("x");
    check(rules(), &rec, &[]);
    for (sev, expect) in [
        (Severity::Info, &[][..]),
        (Severity::Warning, &["a"][..]),
        (Severity::Error, &["a"][..]),
    ] {
        rec.severity = Some(sev);
        check(rules(), &rec, expect);
    }
}

#[test]
fn thread_equality() {
    let rules = |t| vec![rule("a", contains("x"), move |l| l.thread = Some(t))];
    check(rules(4844), &sms("x"), &["a"]);
    check(rules(4848), &sms("x"), &[]);
    let mut none = sms("x");
    none.thread = None;
    check(rules(4844), &none, &[]);
}

#[test]
fn raw_looks_at_the_whole_record() {
    let rules = || {
        vec![
            rule("raw", regex("<thread=(?P<t>\\d+) "), |l| l.raw = true),
            rule("msg", regex("<thread=(?P<t>\\d+) "), |_| {}),
            rule("raw-comp", contains("$$<SMS_DESPOOLER>"), |l| l.raw = true),
        ]
    };
    check(rules(), &sms("Waiting"), &["raw", "raw-comp"]);
}

#[test]
fn case_insensitive_flag_never_leaks_into_the_next_rule() {
    let rules = || {
        vec![
            rule("ci", regex("(?i)error"), |_| {}),
            rule("cs", regex("Warning"), |_| {}),
            rule("lit", contains("Failed"), |_| {}),
            rule("cs2", regex("x(?i:y)z"), |_| {}),
        ]
    };
    check(rules(), &sms("ERROR and WARNING and FAILED"), &["ci"]);
    check(rules(), &sms("error Warning Failed"), &["ci", "cs", "lit"]);
    check(rules(), &sms("xYz XYZ"), &["cs2"]);
    check(rules(), &sms("XYZ"), &[]);
}

#[test]
fn other_flags_stay_per_rule() {
    let rules = || {
        vec![
            rule("m", regex("(?m)^second$"), |_| {}),
            rule("plain", regex("^first$"), |_| {}),
            rule("s", regex("(?s)a.b"), |_| {}),
            rule("nos", regex("c.d"), |_| {}),
            rule("x", regex("(?x) f o o "), |_| {}),
            rule("nox", regex("b a r"), |_| {}),
        ]
    };
    check(rules(), &sms("first\nsecond"), &["m"]);
    check(rules(), &sms("first"), &["plain"]);
    check(rules(), &sms("a\nb c\nd"), &["s"]);
    check(rules(), &sms("foo bar"), &["x"]);
    check(rules(), &sms("f o o b a r"), &["nox"]);
}

#[test]
fn regex_without_literal_and_with_markup_literal() {
    let rules = || {
        vec![
            rule("digits", regex("^\\s*\\d{3,}\\s*$"), |_| {}),
            rule("word", regex("\\w+>\\d"), |_| {}),
            rule("unicode", regex("^\\w+$"), |_| {}),
        ]
    };
    check(rules(), &sms(" 1234 "), &["digits"]);
    check(rules(), &sms("Err>5"), &["word"]);
    check(rules(), &sms("Größe"), &["unicode"]);
    check(rules(), &sms("Größe!"), &[]);
}

#[test]
fn unicode_case_folding_in_regex() {
    // The Kelvin sign folds to k: only a Unicode-aware engine sees it.
    let rules = || vec![rule("k", regex("(?i)kelvin"), |_| {})];
    check(rules(), &sms("\u{212A}ELVIN"), &["k"]);
    check(rules(), &sms("KELVIN"), &["k"]);
    // And the other way: a non-ASCII pattern letter that folds to ASCII
    // (the property test once caught an ASCII-only shortcut missing this).
    check(
        vec![rule("s", regex("(?i)ſql"), |_| {})],
        &sms("SQL"),
        &["s"],
    );
}

#[test]
fn routes_by_source() {
    let mut other = rule("other", contains("x"), |l| l.sources = vec![SourceId(1)]);
    let both = rule("both", contains("x"), |l| {
        l.sources = vec![SourceId(0), SourceId(1)]
    });
    let set = set_of(vec![
        rule("zero", contains("x"), |_| {}),
        both,
        other.clone(),
    ]);
    let m = Matcher::new(&set).unwrap();
    let names = |src| {
        let mut out = Vec::new();
        m.find(src, &sms("x"), &mut out);
        out.iter()
            .map(|id| set.rule(*id).id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(SourceId(0)), ["zero", "both"]);
    assert_eq!(names(SourceId(1)), ["both", "other"]);
    assert_eq!(names(SourceId(7)), Vec::<String>::new());
    // A rule set without line rules matches nothing and says so.
    other.kind = RuleKind::Absence(crate::rule::AbsenceRule {
        sources: vec![SourceId(1)],
        silent_for: Duration::ZERO,
    });
    let m = Matcher::new(&set_of(vec![other])).unwrap();
    assert!(m.is_empty());
}

#[test]
fn find_appends_in_rule_order() {
    let set = set_of(vec![
        rule("0", regex("(?i)despool"), |_| {}),
        rule("1", contains("thread"), |_| {}),
        rule("2", regex("\\d+"), |l| l.raw = true),
        rule("3", contains("nothing here"), |_| {}),
        rule("4", contains("Waiting"), |_| {}),
    ]);
    let m = Matcher::new(&set).unwrap();
    let mut out = vec![RuleId(99)];
    m.find(
        SourceId(0),
        &sms("Waiting for an available despooling thread"),
        &mut out,
    );
    assert_eq!(
        out,
        [RuleId(99), RuleId(0), RuleId(1), RuleId(2), RuleId(4)]
    );
}

#[test]
fn bad_regex_is_an_error_not_a_panic() {
    let err = Matcher::new(&set_of(vec![rule("bad", regex("(unclosed"), |_| {})])).unwrap_err();
    assert!(err.to_string().starts_with("rule bad: "), "{err}");
}

#[test]
fn group_values_in_rule_order() {
    let mut r = rule(
        "g",
        regex("Failed to (?P<verb>connect|copy) .* error (?P<code>\\d+)"),
        |_| {},
    );
    if let RuleKind::Match(m) = &mut r.kind {
        m.group_by = [
            "host.name",
            "code",
            "log.file.path",
            "component",
            "thread",
            "severity",
            "verb",
            "missing",
        ]
        .into_iter()
        .map(GroupField::parse)
        .collect();
    }
    let set = set_of(vec![r, rule("lit", contains("x"), |_| {})]);
    let m = Matcher::new(&set).unwrap();
    let mut rec = sms("Failed to copy package, error 53");
    rec.severity = Some(Severity::Error);
    let got = m.group_values(RuleId(0), &rec, "Logs\\despool.log", "PRI01");
    let got: Vec<&str> = got.iter().map(|s| &**s).collect();
    assert_eq!(
        got,
        [
            "PRI01",
            "53",
            "Logs\\despool.log",
            "SMS_DESPOOLER",
            "4844",
            "error",
            "copy",
            ""
        ]
    );
    // Missing record fields are empty strings; unknown rules give nothing.
    let mut bare = sms("Failed to connect to X error 7");
    bare.component = None;
    bare.thread = None;
    let got = m.group_values(RuleId(0), &bare, "", "");
    assert_eq!(&*got[3], "");
    assert_eq!(&*got[4], "");
    assert_eq!(&*got[5], "");
    assert_eq!(&*got[6], "connect");
    assert!(m.group_values(RuleId(1), &bare, "", "").is_empty());
    assert!(m.group_values(RuleId(5), &bare, "", "").is_empty());
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Matcher>();
}

#[test]
fn threads_share_one_matcher() {
    let set = set_of(vec![
        rule("a", regex("\\d{3}"), |_| {}),
        rule("b", contains("y"), |_| {}),
    ]);
    let m = Matcher::new(&set).unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..100 {
                    let mut out = Vec::new();
                    m.find(SourceId(0), &sms("123 y"), &mut out);
                    assert_eq!(out, [RuleId(0), RuleId(1)]);
                }
            });
        }
    });
}

#[test]
fn real_kb_lines_match_as_a_naive_loop_does() {
    let corpus = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/kb-sms-log-lines.txt"
    ))
    .unwrap();
    let patterns = [
        regex("(?i)sql server"),
        contains("$$<SMS_DESPOOLER>"),
        regex("<thread=(?P<t>[0-9A-F]+)>"),
        regex("^\\s*(Err|Msg)>"),
        regex("\\d{4,}"),
        Pattern::ContainsAny(vec!["failed".into(), "Failed".into()]),
        regex("(?i)(cannot|couldn't|unable to) \\w+"),
    ];
    let mut rules = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        rules.push(rule(&format!("m{i}"), p.clone(), |_| {}));
        rules.push(rule(&format!("r{i}"), p.clone(), |l| l.raw = true));
    }
    let set = set_of(rules);
    let matchers: Vec<Matcher> = [Strategy::Auto, Strategy::Prefilter, Strategy::Set]
        .into_iter()
        .map(|s| Matcher::with_strategy(&set, s).unwrap())
        .collect();
    let naive = super::prop::Naive::new(&set);
    let mut hits = 0;
    for line in corpus.lines().filter(|l| !l.starts_with("# ")) {
        // The message is the text before the trailer, as the parser cuts it.
        let message = line.split("$$<").next().unwrap_or(line).trim_end();
        let rec = bare(line, message);
        let want = naive.find(SourceId(0), &rec);
        hits += want.len();
        for m in &matchers {
            let mut got = Vec::new();
            m.find(SourceId(0), &rec, &mut got);
            assert_eq!(got, want, "{line}");
        }
    }
    assert!(
        hits > 100,
        "corpus should exercise the rules, got {hits} hits"
    );
}

#[test]
fn many_literals_give_the_same_answers_as_few() {
    // More literals than Teddy takes: `Auto` switches the source to one
    // regex set, `Prefilter` walks one big automaton. Answers must not
    // change.
    for count in [100, 300] {
        let mut rules: Vec<Rule> = (0..count)
            .map(|k| rule(&format!("c{k}"), contains(&format!("site X{k:04}")), |_| {}))
            .collect();
        rules.push(rule("ci", regex("(?i)backup of site b0007"), |_| {}));
        rules.push(rule("shape", regex("^\\d+$"), |_| {}));
        let set = set_of(rules);
        let naive = super::prop::Naive::new(&set);
        for strategy in [Strategy::Auto, Strategy::Prefilter] {
            let m = Matcher::with_strategy(&set, strategy).unwrap();
            for text in [
                "Failed to connect to site X0007",
                "BACKUP OF SITE B0007 and site X0099, site X0100, site X0299",
                "12345",
                "nothing",
            ] {
                let rec = sms(Box::leak(text.to_owned().into_boxed_str()));
                let mut got = Vec::new();
                m.find(SourceId(0), &rec, &mut got);
                let want = naive.find(SourceId(0), &rec);
                assert_eq!(got, want, "{count} rules, {strategy:?}: {text}");
                assert!(!want.is_empty() || text == "nothing", "{text}");
            }
        }
    }
}

#[test]
fn rule_families_give_the_same_answers_as_one_rule_at_a_time() {
    // Rules written alike (a shared shape, one id each), a long tail whose
    // only literals are short and their own, a case-insensitive family and
    // rules without any literal: too many literals for one gate, so the
    // set splits into families gated by shared (and cut) literals.
    let mut rules = Vec::new();
    for k in 0..150 {
        rules.push(rule(
            &format!("copy{k}"),
            regex(&format!(
                r"(?P<verb>Failed|Unable) to (?:copy|send) package (?P<pkg>[A-Z]{{2}}\d{{6}}) for job J{k:04}\b"
            )),
            |_| {},
        ));
        rules.push(rule(
            &format!("connect{k}"),
            regex(&format!(
                r"Failed to connect to site server \\\\[A-Z0-9]+ for site Q{k:03}\b"
            )),
            |_| {},
        ));
        rules.push(rule(
            &format!("tail{k}"),
            regex(&format!(r"[A-Z]{{2}}\d{{6}} \d+/\d+ [a-z]+_{k}\b")),
            |_| {},
        ));
        if k % 3 == 0 {
            rules.push(rule(
                &format!("backup{k}"),
                regex(&format!(r"(?i)backup of site B{k:03} (?:completed|failed)")),
                |_| {},
            ));
        }
    }
    rules.push(rule("digits", regex(r"^\d+$"), |_| {}));
    rules.push(rule("shape", regex(r"\b[a-z]{3}\d{2}\b"), |_| {}));
    let set = set_of(rules);
    let naive = super::prop::Naive::new(&set);
    let matcher = Matcher::new(&set).unwrap();
    let (gated, ungated) = matcher.families()[0];
    assert!(gated > 3, "the set should split into families: {gated}");
    assert_eq!(ungated, 1, "the rules without a literal run on every line");
    let texts = [
        "Failed to copy package PS100042 for job J0042",
        "Unable to send package PS100042 for job J0149 and J0150",
        "Failed to copy package ps100042 for job J0042",
        "Failed to connect to site server \\\\SRV01 for site Q007",
        "Failed to connect to site server \\\\srv01 for site Q007",
        "CS123456 3/7 block_5",
        "CS123456 3/7 block_15 and NY000001 1/1 part_149",
        "CS123456 3/7 block_1500",
        "BACKUP OF SITE B003 COMPLETED",
        "backup of site b004 failed",
        "12345",
        "see abc12 here",
        "Failed to",
        "nothing at all",
    ];
    let clone = matcher.clone();
    let mut hits = 0;
    for text in texts {
        let rec = sms(text);
        let want = naive.find(SourceId(0), &rec);
        hits += want.len();
        for m in [&matcher, &clone] {
            let mut got = Vec::new();
            m.find(SourceId(0), &rec, &mut got);
            assert_eq!(got, want, "{text}");
        }
    }
    assert!(hits >= 10, "the texts should hit many rules: {hits}");
}

/// Replay's candidate lines of many rules written from one template: the
/// template's text (which gates the rules' regex family) marks a line only
/// together with one rule's own part, and a rule's own part alone does not.
#[test]
fn template_families_mark_only_lines_with_a_rules_own_part() {
    let rules = (0..70)
        .map(|i| {
            let pattern = format!(r"Failed to connect to site server (\S+) for site Q{i:03}, will");
            rule(&format!("r{i}"), regex(&pattern), |_| {})
        })
        .collect();
    let matcher = Matcher::new(&set_of(rules)).unwrap();
    let lines = [
        "Failed to connect to site server \\\\S1 for site Q005, will retry in 60 seconds",
        "Failed to connect to site server \\\\S1 for site Q999, will retry in 60 seconds",
        "No site server for site Q005, will retry",
        "Failed to connect to site server \\\\S2 for site Q069, will retry in 5 seconds",
    ];
    let block = lines.join("\n");
    let mut starts = Vec::new();
    assert!(matcher.candidate_lines(SourceId(0), block.as_bytes(), &mut starts));
    let marked: Vec<&str> = starts.iter().map(|&s| &block[s..s + 20]).collect();
    let third = lines[..3].iter().map(|l| l.len() + 1).sum::<usize>();
    assert_eq!(starts, [0, third], "{marked:?}");
}
