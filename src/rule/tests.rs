//! Tests of rule loading: compile (every key and problem of SPEC §3),
//! rendering of the diagnostics, read_paths and the bundled pack.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::event::{GaugeId, RuleId, SourceId};

const SPEC_EXAMPLE: &str = r#"schema = 1

[defaults]
host = "PRI01"                      # default: this machine's hostname
labels = { site_code = "PS1" }      # copied into every alert

[[source]]                          # a followed log
id = "despool"
path = 'Logs\despool.log'           # relative to the site root; / or \; globs allowed
format = "auto"                     # auto | sms | cmtrace | plain
timezone = "local"                  # for timestamps that carry no offset

[[source]]
id = "smsbkup"
path = 'Logs\smsbkup.log'

[[gauge]]                           # a sampled folder
id = "despoolr_receive"
path = 'Inboxes\despoolr.box\receive'
include = ["*"]                     # file globs, default all files
every = "30s"                       # sample period

[[match]]                           # a single line
id = "backup-finished"
source = "smsbkup"                  # a source id or a list of them
regex = '(?i)backup completed'      # or: contains = "literal"
not_contains = "test"               # optional
alert = false                       # default false: a building block
suppress_for = "0s"                 # with alert = true: at most one alert per period

[[threshold]]                       # count in a sliding window
id = "despool-waiting"
source = "despool"
contains = "Waiting for an available despooling thread"
count = 3
window = "10m"
group_by = ["host.name"]            # or named regex captures
resolve_after = "15m"               # no match for this long → resolved

[[backlog]]                         # conditions over a gauge
id = "despoolr-backlog"
gauge = "despoolr_receive"
any = [                             # or all = [...]
  { metric = "files", rise = "10m", at_least = 50 },  # now − min over the last 10m
  { metric = "oldest_age", above = "30m" },
]
for = "1m"                          # must hold this long before firing
keep_firing_for = "5m"              # must be false this long before resolving

[[absence]]                         # a log that went silent
id = "despool-silent"
source = "despool"
for = "15m"

[[correlate]]                       # rules that coincide
id = "q260366-despool-stall"
all_of = ["despool-waiting", "despoolr-backlog"]   # or sequence = [...] (ordered)
within = "10m"
group_by = ["host.name"]
preceded_by = { rule = "backup-finished", within = "1h", required = false }
inhibit_members = true              # members' own alerts are held while this fires
"#;

/// Compiles `files` (path, text) and returns the rendered diagnostics, or
/// `"ok"` when the set compiles.
fn render(files: &[(&str, &str)]) -> String {
    let texts: Vec<RuleText> = files
        .iter()
        .map(|(p, t)| RuleText {
            path: PathBuf::from(p),
            text: (*t).to_owned(),
        })
        .collect();
    match compile(&texts) {
        Ok(_) => "ok".to_owned(),
        Err(d) => d.to_string(),
    }
}

/// The `file:line:col: message` lines of compiling one file (`rules/a.toml`).
fn messages(text: &str) -> Vec<String> {
    render(&[("rules/a.toml", text)])
        .lines()
        .filter(|l| l.starts_with("rules/"))
        .map(str::to_owned)
        .collect()
}

/// Asserts the problems of one file by their first lines.
fn check(text: &str, expected: &[&str]) {
    let got = messages(text);
    assert_eq!(got, expected, "\n{}", got.join("\n"));
}

fn compile_one(text: &str) -> RuleSet {
    match compile(&[RuleText {
        path: PathBuf::from("rules/a.toml"),
        text: text.to_owned(),
    }]) {
        Ok(set) => set,
        Err(d) => panic!("{d}"),
    }
}

const HEAD: &str = "[[source]]\nid = \"despool\"\npath = 'Logs\\despool.log'\n\n";

#[test]
fn spec_example_compiles_to_the_documented_model() {
    let set = compile_one(SPEC_EXAMPLE);
    assert_eq!(set.defaults.host.as_deref(), Some("PRI01"));
    assert_eq!(set.defaults.labels["site_code"], "PS1");
    let ids: Vec<&str> = set.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["despool", "smsbkup"]);
    assert_eq!(set.sources[0].path, r"Logs\despool.log");
    assert_eq!(set.sources[0].timezone, crate::time::TimeZoneSpec::Local);
    assert_eq!(
        set.sources[1].location,
        Location {
            file: PathBuf::from("rules/a.toml"),
            line: 13,
            column: 1
        }
    );
    assert_eq!(set.gauges[0].include, ["*"]);
    assert_eq!(set.gauges[0].every, Duration::from_secs(30));
    let ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "backup-finished",
            "despool-waiting",
            "despoolr-backlog",
            "despool-silent",
            "q260366-despool-stall"
        ]
    );
    let backup = set.rule(set.rule_by_name("backup-finished").unwrap());
    assert!(!backup.meta.alert);
    let RuleKind::Match(m) = &backup.kind else {
        panic!("{backup:?}")
    };
    assert_eq!(m.line.sources, [SourceId(1)]);
    assert_eq!(
        m.line.pattern,
        Pattern::Regex("(?i)backup completed".into())
    );
    assert_eq!(m.line.not_contains.as_deref(), Some("test"));
    let waiting = set.rule(set.rule_by_name("despool-waiting").unwrap());
    assert!(waiting.meta.alert);
    assert_eq!(waiting.meta.severity, AlertSeverity::Medium);
    let RuleKind::Threshold(t) = &waiting.kind else {
        panic!("{waiting:?}")
    };
    assert_eq!(
        (t.count, t.window, t.resolve_after),
        (3, Duration::from_secs(600), Duration::from_secs(900))
    );
    assert_eq!(t.group_by, [GroupField::HostName]);
    let backlog = set.rule(set.rule_by_name("despoolr-backlog").unwrap());
    let RuleKind::Backlog(b) = &backlog.kind else {
        panic!("{backlog:?}")
    };
    assert_eq!(b.gauge, GaugeId(0));
    assert!(!b.all);
    assert_eq!(
        b.conditions,
        [
            GaugeCondition {
                metric: Metric::Files,
                test: GaugeTest::Rise {
                    over: Duration::from_secs(600),
                    at_least: 50.0
                }
            },
            GaugeCondition {
                metric: Metric::OldestAge,
                test: GaugeTest::Above(1800.0)
            },
        ]
    );
    assert_eq!(
        (b.hold_for, b.keep_firing_for),
        (Duration::from_secs(60), Duration::from_secs(300))
    );
    let silent = set.rule(set.rule_by_name("despool-silent").unwrap());
    assert_eq!(
        silent.kind,
        RuleKind::Absence(AbsenceRule {
            sources: vec![SourceId(0)],
            silent_for: Duration::from_secs(900)
        })
    );
    let stall = set.rule(set.rule_by_name("q260366-despool-stall").unwrap());
    assert_eq!(
        stall.kind,
        RuleKind::Correlate(CorrelateRule {
            members: vec![RuleId(1), RuleId(2)],
            ordered: false,
            within: Duration::from_secs(600),
            group_by: vec![GroupField::HostName],
            preceded_by: Some(Precondition {
                rule: RuleId(0),
                within: Duration::from_secs(3600),
                required: false
            }),
            inhibit_members: true,
        })
    );
}

#[test]
fn defaults_of_every_optional_key() {
    let set = compile_one(&format!(
        "{HEAD}[[gauge]]\nid = \"g\"\npath = 'Inboxes'\n\n\
         [[match]]\nid = \"m\"\nsource = [\"despool\"]\ncontains_any = [\"a\", \"b\"]\n\n\
         [[threshold]]\nid = \"t\"\nsource = \"despool\"\nregex = '(?P<box>\\w+)\\.box'\ncount = 1\nwindow = \"5m\"\ngroup_by = [\"box\", \"thread\"]\n\
         severity = \"critical\"\nname = \"T\"\ntags = [\"sms\"]\nreference = \"Q260366\"\n\n\
         [[backlog]]\nid = \"b\"\ngauge = \"g\"\nall = [{{ metric = \"bytes\", at_least = 1.5 }}, {{ metric = \"files\", below = 3 }}]\n\n\
         [[correlate]]\nid = \"c\"\nsequence = [\"m\", \"t\"]\nwithin = \"1m\"\ngroup_by = [\"box\"]\n"
    ));
    assert_eq!(set.defaults, Defaults::default());
    assert_eq!(set.sources[0].format, Format::Auto);
    let m = set.rule(RuleId(0));
    assert!(!m.meta.alert);
    assert_eq!(m.display_name(), "m");
    let RuleKind::Match(mr) = &m.kind else {
        panic!()
    };
    assert_eq!(mr.suppress_for, Duration::ZERO);
    assert_eq!(
        mr.line.pattern,
        Pattern::ContainsAny(vec!["a".into(), "b".into()])
    );
    let t = set.rule(RuleId(1));
    assert_eq!(t.display_name(), "T");
    assert_eq!(t.meta.severity, AlertSeverity::Critical);
    assert_eq!(t.meta.tags, ["sms"]);
    assert_eq!(t.meta.reference.as_deref(), Some("Q260366"));
    let RuleKind::Threshold(tr) = &t.kind else {
        panic!()
    };
    assert_eq!(tr.resolve_after, Duration::from_secs(300));
    assert_eq!(
        tr.group_by,
        [GroupField::Capture("box".into()), GroupField::Thread]
    );
    let RuleKind::Backlog(b) = &set.rule(RuleId(2)).kind else {
        panic!()
    };
    assert!(b.all);
    assert_eq!(b.conditions[0].test, GaugeTest::AtLeast(1.5));
    assert_eq!(b.conditions[1].test, GaugeTest::Below(3.0));
    assert_eq!(
        (b.hold_for, b.keep_firing_for),
        (Duration::ZERO, Duration::ZERO)
    );
    let c = set.rule(RuleId(3));
    assert!(c.meta.alert);
    let RuleKind::Correlate(cr) = &c.kind else {
        panic!()
    };
    assert!(cr.ordered);
    assert!(!cr.inhibit_members);
    assert_eq!(cr.preceded_by, None);
    assert_eq!(cr.group_by, [GroupField::Capture("box".into())]);
}

#[test]
fn defaults_merge_across_files_key_by_key() {
    let a = RuleText {
        path: "a.toml".into(),
        text: "[defaults]\nhost = \"PRI01\"\nlabels = { site_code = \"PS1\", tier = 1 }\n".into(),
    };
    let b = RuleText {
        path: "b.toml".into(),
        text: "[defaults]\nlabels = { site_code = \"CAS\", env = \"prod\" }\n".into(),
    };
    let set = compile(&[a, b]).unwrap();
    assert_eq!(set.defaults.host.as_deref(), Some("PRI01"));
    let labels: Vec<(&str, &str)> = set
        .defaults
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [("env", "prod"), ("site_code", "CAS"), ("tier", "1")]
    );
}

#[test]
fn unknown_key_renders_with_suggestion() {
    assert_eq!(
        render(&[(
            "rules/a.toml",
            &format!(
                "{HEAD}[[match]]\nid = \"x\"\nsource = \"despool\"\ncontains = \"W\"\nnot_contians = \"test\"\n"
            )
        )]),
        "rules/a.toml:9:1: unknown key \"not_contians\" in [[match]] \"x\" (did you mean \"not_contains\"?)\n  |\n9 | not_contians = \"test\"\n  | ^^^^^^^^^^^^\n"
    );
}

#[test]
fn duplicate_id_across_files_and_kinds_renders_first_definition() {
    assert_eq!(
        render(&[
            ("rules/a.toml", HEAD),
            (
                "rules/b.toml",
                "schema = 1\n\n[[absence]]\nid = \"despool\"\nsource = \"despool\"\nfor = \"15m\"\n"
            ),
        ]),
        "rules/b.toml:4:6: duplicate id \"despool\" (first defined at rules/a.toml:2:6)\n  |\n4 | id = \"despool\"\n  |      ^^^^^^^^^\n"
    );
}

#[test]
fn regex_error_points_inside_the_pattern() {
    assert_eq!(
        render(&[(
            "rules/a.toml",
            &format!(
                "{HEAD}[[match]]\nid = \"x\"\nsource = \"despool\"\nregex = 'Waiting for (an available despooling thread'\n"
            )
        )]),
        "rules/a.toml:8:22: invalid regex in [[match]] \"x\": unclosed group\n  |\n8 | regex = 'Waiting for (an available despooling thread'\n  |                      ^\n"
    );
    // Through escapes of a basic string: `\\d{2,1}` decodes to `\d{2,1}`.
    assert_eq!(
        render(&[(
            "rules/a.toml",
            &format!(
                "{HEAD}[[match]]\nid = \"x\"\nsource = \"despool\"\nregex = \"thread=\\\\d{{2,1}}\"\n"
            )
        )]),
        "rules/a.toml:8:20: invalid regex in [[match]] \"x\": invalid repetition count range, the start must be <= the end\n  |\n8 | regex = \"thread=\\\\d{2,1}\"\n  |                    ^^^^^\n"
    );
}

#[test]
fn missing_key_is_reported_at_the_header() {
    assert_eq!(
        render(&[(
            "rules/a.toml",
            &format!(
                "{HEAD}[[threshold]]\nid = \"t\"\nsource = \"despool\"\ncontains = \"Waiting\"\ncount = 3\n"
            )
        )]),
        "rules/a.toml:5:1: missing key \"window\" in [[threshold]] \"t\" (add e.g. window = \"10m\")\n  |\n5 | [[threshold]]\n  | ^^^^^^^^^^^^^\n"
    );
}

#[test]
fn reference_to_the_wrong_kind_renders() {
    assert_eq!(
        render(&[(
            "rules/a.toml",
            &format!(
                "{HEAD}[[absence]]\nid = \"quiet\"\nsource = [\"despool\", \"quiet\"]\nfor = \"15m\"\n"
            )
        )]),
        "rules/a.toml:7:22: \"quiet\" in [[absence]] \"quiet\" is the id of a [[absence]], not of a source\n  |\n7 | source = [\"despool\", \"quiet\"]\n  |                      ^^^^^^^\n"
    );
}

#[test]
fn five_mistakes_give_five_diagnostics() {
    let text = format!(
        "{HEAD}[[threshold]]\nid = \"waiting\"\nsource = \"despol\"\ncontains = \"Waiting\"\ncount = 0\nwindow = \"10\"\nseverity = \"hi\"\nresolve_afer = \"15m\"\n"
    );
    check(
        &text,
        &[
            "rules/a.toml:7:10: unknown source \"despol\" in [[threshold]] \"waiting\" (did you mean \"despool\"?)",
            "rules/a.toml:9:9: \"count\" in [[threshold]] \"waiting\" must be between 1 and 4294967295",
            "rules/a.toml:10:10: invalid duration \"10\" for \"window\" in [[threshold]] \"waiting\": a unit is missing (write a number and a unit: \"250ms\", \"30s\", \"10m\", \"2h\", \"1d\")",
            "rules/a.toml:11:12: unknown severity \"hi\" in [[threshold]] \"waiting\" (write one of \"informational\", \"low\", \"medium\", \"high\", \"critical\")",
            "rules/a.toml:12:1: unknown key \"resolve_afer\" in [[threshold]] \"waiting\" (did you mean \"resolve_after\"?)",
        ],
    );
}

#[test]
fn diagnostics_are_sorted_by_file_then_position() {
    let out = render(&[
        (
            "rules/b.toml",
            "[[gauge]]\nid = \"g\"\npath = 'x'\nevery = \"0s\"\nbogus = 1\n",
        ),
        (
            "rules/a.toml",
            "bogus = 1\n[[absence]]\nid = \"g\"\nsource = \"nowhere\"\nfor = \"1m\"\n",
        ),
    ]);
    let firsts: Vec<&str> = out.lines().filter(|l| l.starts_with("rules/")).collect();
    assert_eq!(
        firsts,
        [
            "rules/b.toml:4:9: \"every\" in [[gauge]] \"g\" must be longer than 0s",
            "rules/b.toml:5:1: unknown key \"bogus\" in [[gauge]] \"g\" (known keys: id, path, include, every, source, regex)",
            "rules/a.toml:1:1: unknown key \"bogus\" in the top level of the file (known keys: schema, bundled, defaults, override, source, gauge, match, threshold, backlog, absence, correlate)",
            "rules/a.toml:3:6: duplicate id \"g\" (first defined at rules/b.toml:2:6)",
            "rules/a.toml:4:10: unknown source \"nowhere\" in [[absence]] \"g\" (no source has this id)",
        ]
    );
}

#[test]
fn toml_syntax_errors_are_all_reported_and_hide_the_rest_of_that_file() {
    let out = render(&[
        (
            "rules/a.toml",
            "[[source]]\nid = \"despool\npath = 'x'\n[[match]]\nid = \"m\" \"q\"\nbogus = 1\n",
        ),
        ("rules/b.toml", "bogus = 1\n"),
    ]);
    let firsts: Vec<&str> = out.lines().filter(|l| l.starts_with("rules/")).collect();
    assert_eq!(
        firsts,
        [
            "rules/a.toml:2:14: TOML syntax error: invalid basic string, expected `\"`",
            "rules/a.toml:5:10: TOML syntax error: unexpected key or value, expected newline, `#`",
            "rules/b.toml:1:1: unknown key \"bogus\" in the top level of the file (known keys: schema, bundled, defaults, override, source, gauge, match, threshold, backlog, absence, correlate)",
        ]
    );
}

#[test]
fn duplicate_keys_do_not_hide_other_problems() {
    check(
        "[[source]]\nid = \"a\"\nid = \"b\"\npath = 'x'\nformat = \"SMS\"\n",
        &[
            "rules/a.toml:3:1: duplicate key \"id\": a key (or [table]) may appear only once in a table",
            "rules/a.toml:5:10: unknown format \"SMS\" in [[source]] \"a\" (did you mean \"sms\"?)",
        ],
    );
}

#[test]
fn schema_and_top_level_shape() {
    check("schema = 1\n", &[]);
    check("", &[]);
    check(
        "schema = 2\n",
        &["rules/a.toml:1:10: unsupported schema 2: this version of logwarden reads schema = 1"],
    );
    check(
        "schema = \"1\"\n",
        &[
            "rules/a.toml:1:10: \"schema\" in the top level of the file must be the number 1, not a string",
        ],
    );
    check(
        "[source]\nid = \"x\"\npath = 'y'\n",
        &[
            "rules/a.toml:1:1: \"source\" must be an array of tables: write [[source]] with double brackets, not [source]",
        ],
    );
    check(
        "regex = 'x'\n",
        &[
            "rules/a.toml:1:1: unknown key \"regex\" in the top level of the file (\"regex\" belongs inside a table such as [[gauge]] or [[match]] or [[threshold]]: is a table header missing above it?)",
        ],
    );
    check(
        "id = \"x\"\n",
        &[
            "rules/a.toml:1:1: unknown key \"id\" in the top level of the file (\"id\" belongs inside a table such as [[source]] or [[match]] or …: is a table header missing above it?)",
        ],
    );
    check(
        "[[matches]]\nid = \"x\"\n",
        &[
            "rules/a.toml:1:3: unknown key \"matches\" in the top level of the file (did you mean \"match\"?)",
        ],
    );
    check(
        "[defaults]\nhost = \"\"\nlabels = { a = [1] }\nsite = \"PS1\"\n",
        &[
            "rules/a.toml:2:8: \"host\" in [defaults] must not be empty",
            "rules/a.toml:3:16: values of \"labels\" in [defaults] must be strings, not an array",
            "rules/a.toml:4:1: unknown key \"site\" in [defaults] (known keys: host, labels)",
        ],
    );
}

#[test]
fn sources_and_gauges() {
    check(
        "[[source]]\npath = 'Logs\\[x.log'\nformat = \"xml\"\ntimezone = \"Mars/Base\"\n\n[[gauge]]\nid = \"a b\"\ninclude = []\nevery = 30\n",
        &[
            "rules/a.toml:1:1: missing key \"id\" in [[source]] (add e.g. id = \"despool\")",
            "rules/a.toml:2:8: invalid glob in \"path\" of [[source]]: unclosed character class; missing ']'",
            "rules/a.toml:3:10: unknown format \"xml\" in [[source]] (write one of \"auto\", \"sms\", \"cmtrace\", \"plain\")",
            "rules/a.toml:4:12: unknown time zone \"Mars/Base\" (use \"local\", \"utc\", an offset like \"+02:00\", or an IANA name like \"Europe/Berlin\")",
            "rules/a.toml:6:1: missing key \"path\" in [[gauge]] \"a b\" (add e.g. path = 'Inboxes\\despoolr.box\\receive', or source and regex for a gauge fed from log lines)",
            "rules/a.toml:7:6: id \"a b\" may contain only ASCII letters, digits, \"-\", \"_\" and \".\"; write e.g. \"a-b\"",
            "rules/a.toml:8:11: \"include\" in [[gauge]] \"a b\" needs at least one entry",
            "rules/a.toml:9:9: \"every\" in [[gauge]] \"a b\" must be a duration string with a unit, not a number (write every = \"30s\")",
        ],
    );
    let set = compile_one(
        "[[source]]\nid = \"s\"\npath = 'Logs/*.log'\nformat = \"cmtrace\"\ntimezone = \"+02:00\"\n[[gauge]]\nid = \"g\"\npath = 'x'\ninclude = [\"*.SVF\", \"*.PCK\"]\nevery = \"1m\"\n",
    );
    assert_eq!(set.sources[0].format, Format::Cmtrace);
    assert_eq!(
        set.sources[0].timezone,
        crate::time::TimeZoneSpec::Fixed(7200)
    );
    assert_eq!(set.gauges[0].include, ["*.SVF", "*.PCK"]);
    assert_eq!(set.gauges[0].every, Duration::from_secs(60));
}

#[test]
fn line_rule_problems() {
    check(
        &format!(
            "{HEAD}[[match]]\nid = \"m\"\nsource = []\ncontains = \"a\"\nregex = 'b'\nthread = \"4844\"\nraw = \"true\"\nseverity_at_least = \"warn\"\ncomponent = 5\n"
        ),
        &[
            "rules/a.toml:7:10: \"source\" in [[match]] \"m\" needs at least one entry",
            "rules/a.toml:9:1: \"regex\" cannot be combined with \"contains\" in [[match]] \"m\": keep one of them",
            "rules/a.toml:10:10: \"thread\" in [[match]] \"m\" must be a number, not a string (write thread = 4844 without quotes)",
            "rules/a.toml:11:7: \"raw\" in [[match]] \"m\" must be a boolean, not a string (write raw = true without quotes)",
            "rules/a.toml:12:21: unknown severity_at_least \"warn\" in [[match]] \"m\" (did you mean \"warning\"?)",
            "rules/a.toml:13:13: \"component\" in [[match]] \"m\" must be a string, not an integer",
        ],
    );
    check(
        &format!(
            "{HEAD}[[match]]\nid = \"m\"\nsource = [\"despool\", \"despool\"]\ncontains = \"\"\nnot_contains = \"\"\nthread = -1\n"
        ),
        &[
            "rules/a.toml:7:22: \"despool\" is listed twice in \"source\" of [[match]] \"m\"",
            "rules/a.toml:8:12: \"contains\" in [[match]] \"m\" is empty, which would match every line (to match every line, write regex = '')",
            "rules/a.toml:9:16: \"not_contains\" in [[match]] \"m\" must not be empty (it would skip every line)",
            "rules/a.toml:10:10: \"thread\" in [[match]] \"m\" must be between 0 and 4294967295",
        ],
    );
}

#[test]
fn group_by_names_fields_or_named_captures() {
    check(
        &format!(
            "{HEAD}[[threshold]]\nid = \"t\"\nsource = \"despool\"\nregex = '(?P<box>\\w+)\\.box'\ncount = 2\nwindow = \"1m\"\ngroup_by = [\"bx\", \"host.name\", \"host.name\", \"user\"]\n\n\
             [[match]]\nid = \"m\"\nsource = \"despool\"\ncontains = \"x\"\ngroup_by = [\"threads\", \"box\"]\n"
        ),
        &[
            "rules/a.toml:11:13: group_by field \"bx\" in [[threshold]] \"t\" is neither a named capture of its regex nor one of host.name, component, thread, severity, log.file.path (did you mean \"box\"?)",
            "rules/a.toml:11:32: \"host.name\" is listed twice in \"group_by\" of [[threshold]] \"t\"",
            "rules/a.toml:11:45: group_by field \"user\" in [[threshold]] \"t\" is neither a named capture of its regex nor one of host.name, component, thread, severity, log.file.path",
            "rules/a.toml:17:13: group_by field \"threads\" in [[match]] \"m\" is not one of host.name, component, thread, severity, log.file.path (did you mean \"thread\"?)",
            "rules/a.toml:17:24: group_by field \"box\" in [[match]] \"m\" is not one of host.name, component, thread, severity, log.file.path (named captures need a regex)",
        ],
    );
    // An invalid regex is reported once; its group_by is not second-guessed.
    check(
        &format!(
            "{HEAD}[[match]]\nid = \"m\"\nsource = \"despool\"\nregex = '(?P<box>'\ngroup_by = [\"box\"]\n"
        ),
        &["rules/a.toml:8:10: invalid regex in [[match]] \"m\": unclosed group"],
    );
}

#[test]
fn backlog_problems() {
    check(
        "[[gauge]]\nid = \"g\"\npath = 'x'\n\n[[backlog]]\nid = \"b\"\ngauge = \"g\"\n\n[[backlog]]\nid = \"c\"\ngauge = \"despool\"\nany = []\nall = [1]\n",
        &[
            "rules/a.toml:5:1: missing key \"any\" in [[backlog]] \"b\" (add e.g. any = [{ metric = \"files\", above = 100 }], or all = [...])",
            "rules/a.toml:11:9: unknown gauge \"despool\" in [[backlog]] \"c\" (no gauge has this id)",
            "rules/a.toml:12:7: \"any\" in [[backlog]] \"c\" needs at least one condition like { metric = \"files\", above = 100 }",
            "rules/a.toml:13:1: \"all\" cannot be combined with \"any\" in [[backlog]] \"c\": keep one of them",
        ],
    );
    check(
        "[[gauge]]\nid = \"g\"\npath = 'x'\n\n[[backlog]]\nid = \"b\"\ngauge = \"g\"\nany = [\n  { metric = \"file\", above = 1 },\n  { metric = \"files\", above = \"10m\" },\n  { metric = \"oldest_age\", above = 30 },\n  { metric = \"bytes\", above = 1, below = 2 },\n  { metric = \"files\", rise = \"10m\", above = 5 },\n  { metric = \"files\", at_leat = 5 },\n  { metric = \"files\", at_least = -1 },\n  1,\n]\n",
        &[
            "rules/a.toml:9:14: unknown metric \"file\" in a condition of [[backlog]] \"b\" (did you mean \"files\"?)",
            "rules/a.toml:10:31: \"above\" in a condition of [[backlog]] \"b\" must be a number, not a string",
            "rules/a.toml:11:36: \"above\" in a condition of [[backlog]] \"b\" must be a duration string with a unit, not a number (write above = \"30s\")",
            "rules/a.toml:12:34: \"below\" cannot be combined with \"above\" in a condition of [[backlog]] \"b\": keep one of them",
            "rules/a.toml:13:30: \"rise\" in a condition of [[backlog]] \"b\" works only with \"at_least\" (write e.g. rise = \"10m\", at_least = 50)",
            "rules/a.toml:14:3: a condition of [[backlog]] \"b\" needs one of \"above\", \"at_least\" or \"below\" (add e.g. above = 100)",
            "rules/a.toml:14:23: unknown key \"at_leat\" in a condition of [[backlog]] \"b\" (did you mean \"at_least\"?)",
            "rules/a.toml:15:34: \"at_least\" in a condition of [[backlog]] \"b\" must be a finite number of at least 0",
            "rules/a.toml:16:3: entries of \"any\" in [[backlog]] \"b\" must be tables like { metric = \"files\", above = 100 }, not an integer",
        ],
    );
}

#[test]
fn correlate_problems() {
    let rules = format!(
        "{HEAD}[[match]]\nid = \"m\"\nsource = \"despool\"\ncontains = \"x\"\n\n\
         [[absence]]\nid = \"quiet\"\nsource = \"despool\"\nfor = \"1m\"\n\n"
    );
    check(
        &format!(
            "{rules}[[correlate]]\nid = \"c\"\nall_of = [\"m\"]\nwithin = \"0s\"\npreceded_by = {{ rule = \"despool\", within = \"1h\", requird = true }}\n\n\
             [[correlate]]\nid = \"d\"\nall_of = [\"m\", \"quiet\", \"m\"]\nsequence = [\"m\", \"quiet\"]\nwithin = \"1m\"\ngroup_by = [\"component\"]\n\n\
             [[correlate]]\nid = \"e\"\nall_of = [\"m\", \"mm\"]\nwithin = \"1m\"\ngroup_by = [\"host.name\", \"component\"]\npreceded_by = \"m\"\n\n\
             [[correlate]]\nid = \"f\"\nall_of = [\"m\", \"quiet\"]\nwithin = \"1m\"\ngroup_by = [\"host.name\", \"component\"]\n"
        ),
        &[
            "rules/a.toml:17:10: \"all_of\" in [[correlate]] \"c\" needs at least two rules (a single rule needs no correlation)",
            "rules/a.toml:18:10: \"within\" in [[correlate]] \"c\" must be longer than 0s",
            "rules/a.toml:19:24: \"despool\" in [[correlate]] \"c\" is the id of a [[source]], not of a rule",
            "rules/a.toml:19:50: unknown key \"requird\" in preceded_by of [[correlate]] \"c\" (did you mean \"required\"?)",
            "rules/a.toml:23:25: \"m\" is listed twice in \"all_of\" of [[correlate]] \"d\"",
            "rules/a.toml:24:1: \"sequence\" cannot be combined with \"all_of\" in [[correlate]] \"d\": keep one of them",
            "rules/a.toml:30:16: unknown rule \"mm\" in [[correlate]] \"e\" (did you mean \"m\"?)",
            "rules/a.toml:33:15: \"preceded_by\" in [[correlate]] \"e\" must be a table like { rule = \"backup-finished\", within = \"1h\" }, not a string",
            "rules/a.toml:39:26: group_by field \"component\" in [[correlate]] \"f\" is not a group_by field of any of its members (add it to a member's group_by, or group by host.name)",
        ],
    );
}

#[test]
fn correlation_cycles_are_reported_on_every_member_of_the_cycle() {
    let text = format!(
        "{HEAD}[[match]]\nid = \"m\"\nsource = \"despool\"\ncontains = \"x\"\n\n\
         [[correlate]]\nid = \"a\"\nall_of = [\"m\", \"b\"]\nwithin = \"1m\"\n\n\
         [[correlate]]\nid = \"b\"\nall_of = [\"m\", \"c\"]\nwithin = \"1m\"\n\n\
         [[correlate]]\nid = \"c\"\nall_of = [\"m\", \"m2\"]\nwithin = \"1m\"\npreceded_by = {{ rule = \"a\", within = \"1h\" }}\n\n\
         [[correlate]]\nid = \"m2\"\nall_of = [\"m\", \"m2\"]\nwithin = \"1m\"\n\n\
         [[correlate]]\nid = \"outside\"\nall_of = [\"m\", \"a\"]\nwithin = \"1m\"\n"
    );
    check(
        &text,
        &[
            "rules/a.toml:12:16: correlation cycle: \"a\" → \"b\" → \"c\" → \"a\" (a correlation cannot depend on itself; remove one of these references)",
            "rules/a.toml:17:16: correlation cycle: \"b\" → \"c\" → \"a\" → \"b\" (a correlation cannot depend on itself; remove one of these references)",
            "rules/a.toml:24:24: correlation cycle: \"c\" → \"a\" → \"b\" → \"c\" (a correlation cannot depend on itself; remove one of these references)",
            "rules/a.toml:28:16: correlation cycle: \"m2\" → \"m2\" (a correlation cannot depend on itself; remove one of these references)",
        ],
    );
}

#[test]
fn a_thousand_rules_load() {
    let mut text = String::from(HEAD);
    for i in 0..1000 {
        match i % 4 {
            0 => text.push_str(&format!(
                "[[threshold]]\nid = \"t{i}\"\nsource = \"despool\"\nregex = '(?i)waiting for (?P<what>\\w+) {i}'\ncount = 3\nwindow = \"10m\"\ngroup_by = [\"what\"]\n\n"
            )),
            1 => text.push_str(&format!(
                "[[match]]\nid = \"m{i}\"\nsource = \"despool\"\ncontains = \"line {i}\"\n\n"
            )),
            2 => text.push_str(&format!(
                "[[absence]]\nid = \"a{i}\"\nsource = \"despool\"\nfor = \"{i}m\"\n\n"
            )),
            _ => text.push_str(&format!(
                "[[correlate]]\nid = \"c{i}\"\nall_of = [\"t{}\", \"m{}\"]\nwithin = \"10m\"\n\n",
                i - 3,
                i - 2
            )),
        }
    }
    let set = compile_one(&text);
    assert_eq!(set.rules.len(), 1000);
    let c = set.rule(set.rule_by_name("c999").unwrap());
    assert_eq!(
        c.kind,
        RuleKind::Correlate(CorrelateRule {
            members: vec![
                set.rule_by_name("t996").unwrap(),
                set.rule_by_name("m997").unwrap()
            ],
            ordered: false,
            within: Duration::from_secs(600),
            group_by: vec![],
            preceded_by: None,
            inhibit_members: false,
        })
    );
}

fn write(path: &Path, text: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn read_paths_walks_folders_skipping_tests_and_dot_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("rules/b.toml"), b"schema = 1\n");
    write(&root.join("rules/a/z.TOML"), b"schema = 1\n");
    write(&root.join("rules/a-c.toml"), b"schema = 1\n");
    write(&root.join("rules/readme.md"), b"not rules");
    write(&root.join("rules/tests/t.toml"), b"[[case]]\n");
    write(&root.join("rules/sms/Tests/t.toml"), b"[[case]]\n");
    write(&root.join("rules/sms/x.toml"), b"schema = 1\n");
    write(&root.join("rules/.git/x.toml"), b"junk");
    write(&root.join("rules/.#x.toml"), b"junk");
    write(&root.join("extra.toml"), b"schema = 1\n");
    let texts = read_paths(&[
        root.join("extra.toml"),
        root.join("rules"),
        root.join("rules/b.toml"),
    ])
    .unwrap();
    let got: Vec<String> = texts
        .iter()
        .map(|t| {
            t.path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        got,
        [
            "extra.toml",
            "rules/a/z.TOML",
            "rules/a-c.toml",
            "rules/b.toml",
            "rules/sms/x.toml"
        ]
    );
}

#[test]
fn read_paths_reports_every_missing_or_unreadable_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("only-tests/tests/t.toml"), b"[[case]]\n");
    write(&root.join("latin1.toml"), b"name = \"caf\xe9\"\n");
    write(&root.join("ok.toml"), b"schema = 1\n");
    let err = read_paths(&[
        root.join("missing.toml"),
        root.join("only-tests"),
        root.join("latin1.toml"),
        root.join("ok.toml"),
    ])
    .unwrap_err();
    let got: Vec<String> = err
        .0
        .iter()
        .map(|d| {
            format!(
                "{}: {}",
                d.file.strip_prefix(root).unwrap().display(),
                d.message
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "missing.toml: no such rule file or folder (check the path)",
            "only-tests: this folder holds no *.toml rule file (folders named tests are skipped)",
            "latin1.toml: file is not valid UTF-8 text (invalid byte at offset 11; save it as UTF-8)",
        ]
    );
    // load still compiles what it could read, and reports both kinds of problem.
    write(&root.join("bad.toml"), b"bogus = 1\n");
    let err = load(&[root.join("missing.toml"), root.join("bad.toml")]).unwrap_err();
    assert_eq!(err.len(), 2);
    assert!(err.0[0].message.starts_with("no such rule file"));
    assert!(err.0[1].message.starts_with("unknown key \"bogus\""));
}

#[test]
fn rule_files_may_be_utf16_or_carry_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{HEAD}[[absence]]\nid = \"quiet\"\nsource = \"despool\"\nfor = \"1m\"\n");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    write(&dir.path().join("u16.toml"), &utf16);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(
        text.replace("despool", "other")
            .replace("quiet", "q2")
            .as_bytes(),
    );
    write(&dir.path().join("u8.toml"), &bom);
    let set = load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(set.rules.len(), 2);
    assert_eq!(set.sources[1].id, "other");
    assert!(load_file(&dir.path().join("u16.toml")).is_ok());
}

#[test]
fn bundled_pack_is_the_rules_folder_without_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let on_disk = read_paths(&[root.join("rules")]).unwrap();
    let bundled = bundled();
    assert_eq!(bundled.len(), on_disk.len());
    assert!(
        bundled
            .iter()
            .any(|b| b.path == Path::new("rules/sms/despooler.toml"))
    );
    for (b, d) in bundled.iter().zip(&on_disk) {
        assert_eq!(root.join(&b.path), d.path);
        assert_eq!(b.text, d.text);
        assert!(
            !b.path
                .components()
                .any(|c| c.as_os_str().eq_ignore_ascii_case("tests"))
        );
    }
    if let Err(d) = compile(&bundled) {
        panic!("the bundled rules do not compile:\n{d}");
    }
}

const INBOXMON: &str = "[[source]]\nid = \"inboxmon\"\npath = 'Logs\\inboxmon.log'\n\n";

#[test]
fn a_gauge_fed_from_log_lines_compiles_to_a_gauge_and_its_feed_rule() {
    let set = compile_one(&format!(
        "{INBOXMON}[[gauge]]\nid = \"receive\"\npath = 'Inboxes\\despoolr.box\\receive'\n\
         source = \"inboxmon\"\nregex = '(?i)despoolr\\.box\\\\receive is (?P<files>\\d+)'\n\n\
         [[gauge]]\nid = \"threads\"\nsource = \"inboxmon\"\nregex = '(?P<oldest_age_s>\\d+)s (?P<files>\\d+)'\n\n\
         [[backlog]]\nid = \"b\"\ngauge = \"threads\"\nany = [{{ metric = \"files\", above = 2 }}]\n"
    ));
    let ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["b", "receive", "threads"]);
    assert!(set.gauges[0].is_folder());
    assert!(!set.gauges[1].is_folder());
    assert_eq!(set.gauges[1].path, "");
    assert_eq!(set.gauge_feed(GaugeId(0)), Some(RuleId(1)));
    assert_eq!(set.gauge_feed(GaugeId(1)), Some(RuleId(2)));
    assert_eq!(set.fed_gauge(RuleId(2)), Some(GaugeId(1)));
    assert_eq!(set.fed_gauge(RuleId(0)), None);
    let feed = set.rule(RuleId(2));
    assert!(!feed.meta.alert);
    let RuleKind::Match(m) = &feed.kind else {
        panic!("{feed:?}")
    };
    assert_eq!(m.line.sources, [SourceId(0)]);
    // Metrics in a fixed order, whatever the order in the regex.
    assert_eq!(
        m.group_by,
        [
            GroupField::Capture("files".into()),
            GroupField::Capture("oldest_age_s".into())
        ]
    );
    assert_eq!(feed.location.line, 11);
}

#[test]
fn log_fed_gauge_problems() {
    check(
        &format!(
            "{INBOXMON}[[gauge]]\nid = \"a\"\nsource = \"inboxmon\"\n\n\
             [[gauge]]\nid = \"b\"\nregex = '(?P<files>\\d+)'\ninclude = [\"*\"]\nevery = \"1m\"\n\n\
             [[gauge]]\nid = \"c\"\nsource = [\"inboxmon\"]\nregex = '(?P<file>\\d+) (?P<count>\\d+)'\n\n\
             [[gauge]]\nid = \"d\"\nsource = \"inboxmn\"\nregex = '(?P<files>\\d+'\n\n\
             [[gauge]]\nid = \"e\"\nsource = \"inboxmon\"\nregex = 'is \\d+'\n"
        ),
        &[
            "rules/a.toml:7:1: \"source\" in [[gauge]] \"a\" needs \"regex\" too: a gauge fed from log lines names the log (source) and the lines that carry its numbers (regex)",
            "rules/a.toml:11:1: \"regex\" in [[gauge]] \"b\" needs \"source\" too: a gauge fed from log lines names the log (source) and the lines that carry its numbers (regex)",
            "rules/a.toml:12:1: \"include\" in [[gauge]] \"b\" applies to a folder: it needs \"path\" (a gauge fed from log lines takes a sample from every matching line)",
            "rules/a.toml:13:1: \"every\" in [[gauge]] \"b\" applies to a folder: it needs \"path\" (a gauge fed from log lines takes a sample from every matching line)",
            "rules/a.toml:17:10: \"source\" in [[gauge]] \"c\" must be one source id (a gauge is fed from one log), not an array",
            "rules/a.toml:18:9: named capture \"file\" in the regex of [[gauge]] \"c\" is not a gauge metric (did you mean \"files\"? a gauge's regex captures files, and optionally bytes and oldest_age_s)",
            "rules/a.toml:18:9: named capture \"count\" in the regex of [[gauge]] \"c\" is not a gauge metric (a gauge's regex captures files, and optionally bytes and oldest_age_s)",
            "rules/a.toml:18:9: the regex of [[gauge]] \"c\" needs a named capture files with the number, e.g. 'is (?P<files>\\d+)\\.'",
            "rules/a.toml:23:10: invalid regex in [[gauge]] \"d\": unclosed group",
            "rules/a.toml:28:9: the regex of [[gauge]] \"e\" needs a named capture files with the number, e.g. 'is (?P<files>\\d+)\\.'",
        ],
    );
    // The source is resolved like a line rule's.
    check(
        &format!(
            "{INBOXMON}[[gauge]]\nid = \"d\"\nsource = \"inboxmn\"\nregex = '(?P<files>\\d+)'\n"
        ),
        &[
            "rules/a.toml:7:10: unknown source \"inboxmn\" in [[gauge]] \"d\" (did you mean \"inboxmon\"?)",
        ],
    );
}

/// The SPEC example with the given override file after it.
fn with_override(text: &str) -> Result<RuleSet, String> {
    let texts = [
        RuleText {
            path: PathBuf::from("rules/a.toml"),
            text: SPEC_EXAMPLE.to_owned(),
        },
        RuleText {
            path: PathBuf::from("site.toml"),
            text: text.to_owned(),
        },
    ];
    compile(&texts).map_err(|d| {
        d.0.iter()
            .map(|d| {
                format!(
                    "{}:{}:{}: {}",
                    d.file.display(),
                    d.line,
                    d.column,
                    d.message
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[test]
fn overrides_replace_keys_of_their_target() {
    let set = with_override(
        "[[override]]\nid = \"despoolr-backlog\"\nfor = \"5m\"\nall = [{ metric = \"files\", above = 10 }]\n\n\
         [[override]]\nid = \"despool-waiting\"\nregex = '(?i)waiting for (?P<what>\\w+)'\ngroup_by = [\"what\"]\ncount = 5\n\n\
         [[override]]\nid = \"despool-waiting\"\ncount = 7\nseverity = \"high\"\n\n\
         [[override]]\nid = \"despool\"\npath = 'D:\\SMS\\Logs\\despool.log'\n\n\
         [[override]]\nid = \"despoolr_receive\"\ninclude = [\"*.ins\"]\n\n\
         [[override]]\nid = \"q260366-despool-stall\"\nalert = false\n",
    )
    .unwrap();
    let backlog = set.rule(set.rule_by_name("despoolr-backlog").unwrap());
    let RuleKind::Backlog(b) = &backlog.kind else {
        panic!("{backlog:?}")
    };
    // `all` replaces `any`; untouched keys stay.
    assert!(b.all);
    assert_eq!(b.conditions.len(), 1);
    assert_eq!(b.hold_for, Duration::from_secs(300));
    assert_eq!(b.keep_firing_for, Duration::from_secs(300));
    let waiting = set.rule(set.rule_by_name("despool-waiting").unwrap());
    let RuleKind::Threshold(t) = &waiting.kind else {
        panic!("{waiting:?}")
    };
    // `regex` replaces `contains`; the later override wins for `count`.
    assert_eq!(
        t.line.pattern,
        Pattern::Regex("(?i)waiting for (?P<what>\\w+)".into())
    );
    assert_eq!(t.group_by, [GroupField::Capture("what".into())]);
    assert_eq!(t.count, 7);
    assert_eq!(t.window, Duration::from_secs(600));
    assert_eq!(waiting.meta.severity, AlertSeverity::High);
    // The rule is still defined where it was.
    assert_eq!(waiting.location.file, Path::new("rules/a.toml"));
    assert_eq!(waiting.location.line, 31);
    assert_eq!(set.sources[0].path, r"D:\SMS\Logs\despool.log");
    assert_eq!(set.gauges[0].include, ["*.ins"]);
    let stall = set.rule(set.rule_by_name("q260366-despool-stall").unwrap());
    assert!(!stall.meta.alert);
    // Order of the rules (their ids' indices) is unchanged.
    let ids: Vec<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "backup-finished",
            "despool-waiting",
            "despoolr-backlog",
            "despool-silent",
            "q260366-despool-stall"
        ]
    );
}

#[test]
fn override_problems_are_located_where_their_keys_are_written() {
    let got = with_override(
        "[[override]]\nid = \"despoolr-backlg\"\nfor = \"5m\"\n\n\
         [[override]]\nid = \"despoolr-backlog\"\ncount = 3\nfor = \"5 minutes\"\n\n\
         [[override]]\nid = \"despool-waiting\"\n\n\
         [[override]]\nfor = \"1m\"\n\n\
         [[override]]\nid = \"despool-waiting\"\nregex = '(?P<x>a)'\ngroup_by = [\"what\"]\n\n\
         [[override]]\nid = \"q260366-despool-stall\"\nall_of = [\"despool-waiting\", \"nowhere\"]\n",
    )
    .unwrap_err();
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        [
            "site.toml:2:6: unknown id \"despoolr-backlg\" in [[override]] (did you mean \"despoolr-backlog\"?)",
            "site.toml:7:1: \"count\" is not a key of [[backlog]] (\"despoolr-backlog\" is a [[backlog]]; its keys are name, description, severity, reference, recommendation, tags, alert, gauge, any, all, for, keep_firing_for)",
            "site.toml:8:7: invalid duration \"5 minutes\" for \"for\" in [[backlog]] \"despoolr-backlog\" (changed by the [[override]] at site.toml:6): a unit is missing (write a number and a unit: \"250ms\", \"30s\", \"10m\", \"2h\", \"1d\")",
            "site.toml:10:1: [[override]] \"despool-waiting\" changes nothing: add the keys of the [[threshold]] to replace, e.g. severity = \"high\"",
            "site.toml:13:1: missing key \"id\" in [[override]] (add e.g. id = \"despoolr-backlog\" (the rule, source or gauge to change))",
            "site.toml:19:13: group_by field \"what\" in [[threshold]] \"despool-waiting\" (changed by the [[override]] at site.toml:17) is neither a named capture of its regex nor one of host.name, component, thread, severity, log.file.path",
            "site.toml:23:30: unknown rule \"nowhere\" in [[correlate]] \"q260366-despool-stall\" (changed by the [[override]] at site.toml:22) (no rule has this id)",
        ]
    );
    check(
        "[override]\nid = \"x\"\n",
        &[
            "rules/a.toml:1:1: \"override\" must be an array of tables: write [[override]] with double brackets, not [override]",
        ],
    );
}

#[test]
fn bundled_true_builds_on_the_pack() {
    let pack = bundled();
    let pack_set = compile(&pack).unwrap();
    let site = RuleText {
        path: PathBuf::from("site.toml"),
        text: "bundled = true\n\n[defaults]\nhost = \"PRI01\"\n\n[[override]]\nid = \"q260366-despool-stall\"\nseverity = \"critical\"\n".to_owned(),
    };
    let set = compile(std::slice::from_ref(&site)).unwrap();
    assert_eq!(set.rules.len(), pack_set.rules.len());
    assert_eq!(set.defaults.host.as_deref(), Some("PRI01"));
    let stall = set.rule(set.rule_by_name("q260366-despool-stall").unwrap());
    assert_eq!(stall.meta.severity, AlertSeverity::Critical);
    // Without it, the pack's ids are unknown, and the message says what to add.
    let alone = RuleText {
        path: PathBuf::from("site.toml"),
        text: "[[override]]\nid = \"q260366-despool-stall\"\nseverity = \"critical\"\n".to_owned(),
    };
    let err = compile(&[alone]).unwrap_err().to_string();
    assert!(
        err.starts_with("site.toml:2:6: unknown id \"q260366-despool-stall\" in [[override]] (\"q260366-despool-stall\" is in the bundled pack: add bundled = true at the top of this file to build on it)"),
        "{err}"
    );
    check(
        "bundled = \"yes\"\n",
        &[
            "rules/a.toml:1:11: \"bundled\" in the top level of the file must be true or false, not a string",
        ],
    );
    // No file of the pack asks for the pack.
    assert!(pack.iter().all(|f| !f.text.contains("bundled = true")));
}

#[test]
fn merged_tables_report_each_problem_in_the_file_of_its_key() {
    let texts = [
        RuleText {
            path: PathBuf::from("rules/a.toml"),
            text: format!(
                "{HEAD}[[match]]\nid = \"m\"\nsource = \"despool\"\ncontains = \"a\"\n\n\
                 [[correlate]]\nid = \"c\"\nall_of = [\"m\", \"t\"]\nwithin = \"1m\"\n[correlate.preceded_by]\nrule = \"m\"\nwithin = \"1h\"\n\n\
                 [[threshold]]\nid = \"t\"\nsource = \"despool\"\nregex = '(?P<box>\\w+)\\.box'\ncount = 2\nwindow = \"5m\"\ngroup_by = [\"box\"]\n"
            ),
        },
        RuleText {
            path: PathBuf::from("site.toml"),
            text: "[[override]]\nid = \"c\"\nwithin = \"2m\"\n\n\
                   [[override]]\nid = \"m\"\n[override.severity]\nx = 1\n\n\
                   [[override]]\nid = \"t\"\nregex = 'x'\nwindow = \"0s\"\n"
                .to_owned(),
        },
    ];
    let err = compile(&texts).unwrap_err();
    let lines: Vec<String> = err
        .0
        .iter()
        .map(|d| {
            format!(
                "{}:{}:{}: {}",
                d.file.display(),
                d.line,
                d.column,
                d.message
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // The threshold's own group_by, untouched, no longer names a capture.
            "rules/a.toml:24:13: group_by field \"box\" in [[threshold]] \"t\" (changed by the [[override]] at site.toml:11) is neither a named capture of its regex nor one of host.name, component, thread, severity, log.file.path",
            "site.toml:2:6: cannot override [[correlate]] \"c\": its key \"preceded_by\" (rules/a.toml:14:12) is written as a [table] section or dotted keys; write it inline there (name = value)",
            "site.toml:7:11: write \"severity\" of [[override]] \"m\" as one inline value (name = value on one key, not a [table] section): an override replaces the key whole",
            "site.toml:13:10: \"window\" in [[threshold]] \"t\" (changed by the [[override]] at site.toml:11) must be longer than 0s",
        ]
    );
}

#[test]
fn every_bundled_rule_says_what_it_is_and_what_to_do() {
    let set = compile(&bundled()).unwrap();
    let mut missing = Vec::new();
    for (i, r) in set.rules.iter().enumerate() {
        if set.fed_gauge(RuleId(i as u32)).is_some() {
            continue;
        }
        let m = &r.meta;
        for (what, ok) in [
            ("name", m.name.is_some()),
            ("description", m.description.is_some()),
            ("reference", m.reference.is_some()),
            (
                "recommendation",
                m.recommendation.as_ref().is_some_and(|t| t.len() > 40),
            ),
            ("tags", !m.tags.is_empty()),
        ] {
            if !ok {
                missing.push(format!("{}: {what}", r.id));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}
