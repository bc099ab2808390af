//! Correlator tests: each builds a rule set in code, feeds timed inputs and
//! checks the exact transitions with one `check()` helper.

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::event::{FileKey, GaugeId, Origin};
use crate::rule::{
    AbsenceRule, BacklogRule, CorrelateRule, Defaults, GaugeCondition, GaugeDef, GaugeTest,
    GroupField, LineCondition, Location, MatchRule, Metric, Pattern, Precondition, RuleMeta,
    SourceDef, ThresholdRule,
};
use crate::time::TimeZoneSpec;

const T0: i64 = 946_684_800; // 2000-01-01T00:00:00Z

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(T0 + secs)
}

fn min(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// A rule set with source "despool" (0), gauge "receive" (0), and the given rules.
fn rules(list: Vec<(&str, bool, RuleKind)>) -> Arc<RuleSet> {
    Arc::new(RuleSet {
        defaults: Defaults::default(),
        sources: vec![SourceDef {
            id: "despool".into(),
            path: "Logs/despool.log".into(),
            format: crate::rule::Format::Sms,
            timezone: TimeZoneSpec::Utc,
            clock_tolerance: crate::rule::DEFAULT_CLOCK_TOLERANCE,
            location: Location::default(),
        }],
        gauges: vec![GaugeDef {
            id: "receive".into(),
            path: "Inboxes/despoolr.box/receive".into(),
            include: vec!["*".into()],
            every: Duration::from_secs(30),
            location: Location::default(),
        }],
        rules: list
            .into_iter()
            .map(|(id, alert, kind)| Rule {
                id: id.into(),
                meta: RuleMeta {
                    alert,
                    ..RuleMeta::default()
                },
                kind,
                location: Location::default(),
            })
            .collect(),
    })
}

fn line(pattern: &str) -> LineCondition {
    LineCondition {
        sources: vec![SourceId(0)],
        pattern: Pattern::Contains(pattern.into()),
        not_contains: None,
        component: None,
        severity_at_least: None,
        thread: None,
        raw: false,
    }
}

fn threshold(count: u32, window: u64, resolve_after: u64) -> RuleKind {
    RuleKind::Threshold(ThresholdRule {
        line: line("Waiting"),
        count,
        window: min(window),
        group_by: vec![],
        resolve_after: min(resolve_after),
    })
}

fn matcher(suppress_min: u64) -> RuleKind {
    RuleKind::Match(MatchRule {
        line: line("Backup completed"),
        suppress_for: min(suppress_min),
        group_by: vec![],
    })
}

fn backlog(rise_at_least: f64, hold_min: u64, keep_min: u64) -> RuleKind {
    RuleKind::Backlog(BacklogRule {
        gauge: GaugeId(0),
        all: false,
        conditions: vec![GaugeCondition {
            metric: Metric::Files,
            test: GaugeTest::Rise {
                over: min(10),
                at_least: rise_at_least,
            },
        }],
        hold_for: min(hold_min),
        keep_firing_for: min(keep_min),
    })
}

fn correlate(members: &[u32], within: u64) -> CorrelateRule {
    CorrelateRule {
        members: members.iter().map(|&m| RuleId(m)).collect(),
        ordered: false,
        within: min(within),
        group_by: vec![GroupField::HostName],
        preceded_by: None,
        inhibit_members: false,
    }
}

fn hit(rule: u32, secs: i64, offset: u64) -> Input {
    Input::Hit(Hit {
        rule: RuleId(rule),
        time: at(secs),
        origin: Origin {
            file: FileKey(7),
            path: Arc::from("Logs/despool.log"),
            offset,
        },
        message: "Waiting for an available despooling thread".into(),
        group: Box::new([]),
    })
}

fn sample(secs: i64, files: u64) -> Input {
    Input::Gauge(GaugeSample {
        gauge: GaugeId(0),
        time: at(secs),
        files,
        bytes: files * 100,
        oldest_age: Duration::ZERO,
    })
}

/// The options of tests that check the rule kinds' own transitions (the
/// flapping guard, tested on its own, would fold some of them).
fn unguarded() -> Options {
    Options {
        flap_threshold: 0,
        ..Options::default()
    }
}

/// Feeds `inputs`, advances to `until` seconds, returns `(rule id, status, seconds)`.
fn run(set: &Arc<RuleSet>, inputs: Vec<Input>, until: i64) -> Vec<(String, &'static str, i64)> {
    let mut c = Correlator::new(Arc::clone(set), "PRI01".into(), unguarded());
    let mut out = Vec::new();
    for i in inputs {
        c.apply(i, &mut out);
    }
    c.advance_to(at(until), &mut out);
    out.iter()
        .map(|t| {
            (
                set.rules[t.rule.index()].id.clone(),
                t.status.as_str(),
                t.time.as_unix_nanos().div_euclid(1_000_000_000) - T0,
            )
        })
        .collect()
}

fn check(set: &Arc<RuleSet>, inputs: Vec<Input>, until: i64, expected: &[(&str, &str, i64)]) {
    let got = run(set, inputs, until);
    let got: Vec<(&str, &str, i64)> = got.iter().map(|(r, s, t)| (r.as_str(), *s, *t)).collect();
    assert_eq!(got, expected);
}

#[test]
fn threshold_fires_at_the_record_completing_the_count_and_resolves_on_time() {
    let set = rules(vec![("waiting", true, threshold(3, 10, 15))]);
    // Four lines a minute apart: fires at the third line's time.
    let inputs = (0..4).map(|i| hit(0, i * 60, i as u64 * 100)).collect();
    check(
        &set,
        inputs,
        3_600,
        &[
            ("waiting", "firing", 120),
            ("waiting", "resolved", 180 + 900),
        ],
    );
}

#[test]
fn catch_up_never_compresses_history() {
    let set = rules(vec![("waiting", true, threshold(3, 10, 15))]);
    // Four lines six minutes apart: never 3 within 10 minutes, whenever read.
    let inputs = (0..4).map(|i| hit(0, i * 360, i as u64)).collect();
    check(&set, inputs, 7_200, &[]);
}

#[test]
fn threshold_window_is_inclusive_and_refires_need_fresh_matches() {
    let set = rules(vec![("waiting", true, threshold(2, 10, 5))]);
    let inputs = vec![
        hit(0, 0, 1),
        hit(0, 600, 2),
        hit(0, 1_000, 3),
        hit(0, 1_900, 4),
        hit(0, 1_950, 5),
    ];
    check(
        &set,
        inputs,
        5_000,
        &[
            ("waiting", "firing", 600),
            ("waiting", "resolved", 900),
            ("waiting", "firing", 1_950),
            ("waiting", "resolved", 2_250),
        ],
    );
}

#[test]
fn building_blocks_are_never_sent() {
    let set = rules(vec![
        ("waiting", false, threshold(1, 10, 5)),
        ("backup", false, matcher(0)),
    ]);
    check(&set, vec![hit(0, 0, 1), hit(1, 10, 2)], 3_600, &[]);
}

#[test]
fn match_suppress_for_limits_alerts_per_period() {
    let set = rules(vec![("backup", true, matcher(10))]);
    let inputs = vec![hit(0, 0, 1), hit(0, 60, 2), hit(0, 599, 3), hit(0, 600, 4)];
    check(
        &set,
        inputs,
        3_600,
        &[("backup", "matched", 0), ("backup", "matched", 600)],
    );
}

#[test]
fn backlog_rise_with_for_fires_at_the_exact_due_time() {
    let set = rules(vec![("backlog", true, backlog(50.0, 1, 0))]);
    // Samples every 30 s; growth from 3 to 80 at 5m; `for = 1m`.
    let mut inputs: Vec<Input> = (0..10).map(|i| sample(i * 30, 3)).collect();
    inputs.push(sample(300, 80));
    // Drains at 10m.
    inputs.push(sample(600, 0));
    check(
        &set,
        inputs,
        3_600,
        &[("backlog", "firing", 360), ("backlog", "resolved", 600)],
    );
}

#[test]
fn backlog_pending_is_cancelled_when_the_condition_clears() {
    let set = rules(vec![("backlog", true, backlog(50.0, 2, 0))]);
    check(
        &set,
        vec![sample(0, 3), sample(60, 80), sample(90, 3), sample(200, 3)],
        3_600,
        &[],
    );
}

#[test]
fn backlog_keep_firing_for_holds_the_resolution() {
    let set = rules(vec![(
        "old",
        true,
        RuleKind::Backlog(BacklogRule {
            gauge: GaugeId(0),
            all: true,
            conditions: vec![GaugeCondition {
                metric: Metric::Files,
                test: GaugeTest::AtLeast(10.0),
            }],
            hold_for: Duration::ZERO,
            keep_firing_for: min(5),
        }),
    )]);
    let inputs = vec![
        sample(0, 10),
        sample(60, 0),
        sample(120, 12),
        sample(180, 0),
        sample(600, 0),
    ];
    check(
        &set,
        inputs,
        3_600,
        &[("old", "firing", 0), ("old", "resolved", 480)],
    );
}

#[test]
fn absence_fires_when_silent_and_resolves_on_the_next_record() {
    let set = rules(vec![(
        "silent",
        true,
        RuleKind::Absence(AbsenceRule {
            sources: vec![SourceId(0)],
            silent_for: min(15),
        }),
    )]);
    let activity = |secs| Input::Activity {
        source: SourceId(0),
        time: at(secs),
    };
    check(
        &set,
        vec![activity(0), activity(60), activity(3_000)],
        4_000,
        &[
            ("silent", "firing", 960),
            ("silent", "resolved", 3_000),
            ("silent", "firing", 3_900),
        ],
    );
}

#[test]
fn absence_counts_from_start_when_the_source_never_writes() {
    let set = rules(vec![(
        "silent",
        true,
        RuleKind::Absence(AbsenceRule {
            sources: vec![SourceId(0)],
            silent_for: min(15),
        }),
    )]);
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    c.advance_to(at(0), &mut out);
    c.advance_to(at(899), &mut out);
    assert!(out.is_empty());
    c.advance_to(at(10_000), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].time, at(900));
    assert_eq!(
        out[0].detail,
        Detail::Absence {
            silent_for: min(15),
            last_seen: None
        }
    );
}

fn stall_rules(correlation: CorrelateRule) -> Arc<RuleSet> {
    rules(vec![
        ("waiting", false, threshold(3, 10, 15)),
        ("backlog", false, backlog(50.0, 0, 0)),
        ("stall", true, RuleKind::Correlate(correlation)),
        ("backup", false, matcher(0)),
    ])
}

fn incident() -> Vec<Input> {
    let mut inputs: Vec<Input> = Vec::new();
    inputs.push(sample(0, 3));
    inputs.push(hit(3, 30, 1)); // backup completed
    for i in 0..4 {
        inputs.push(hit(0, 60 + i * 30, 10 + i as u64)); // waiting ×4
    }
    inputs.push(sample(120, 10));
    inputs.push(sample(300, 80)); // backlog fires at 5m
    inputs.push(sample(900, 2)); // drained at 15m: backlog resolves
    inputs
}

#[test]
fn coincidence_fires_once_and_resolves_with_the_same_uuid() {
    let set = stall_rules(correlate(&[0, 1], 10));
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    for i in incident() {
        c.apply(i, &mut out);
    }
    c.advance_to(at(7_200), &mut out);
    let view: Vec<(&str, i64)> = out
        .iter()
        .map(|t| (t.status.as_str(), t.time.as_unix_millis() / 1_000 - T0))
        .collect();
    // Backlog resolves at 900 → lapses 10 min (+1 ns) later.
    assert_eq!(view, vec![("firing", 300), ("resolved", 1_500)]);
    assert_eq!(out[0].uuid, out[1].uuid);
    assert_ne!(out[0].event_id, out[1].event_id);
    assert_eq!(
        out[0].group,
        vec![("host.name".to_owned(), "PRI01".to_owned())]
    );
    let members: Vec<(&str, &str)> = out[0]
        .related
        .iter()
        .map(|r| (r.rule.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(members, vec![("waiting", "firing"), ("backlog", "firing")]);
    assert!(!out[0].evidence.is_empty());
}

#[test]
fn signature_alone_or_backlog_alone_is_not_a_coincidence() {
    let set = stall_rules(correlate(&[0, 1], 10));
    let hang_only: Vec<Input> = (0..6).map(|i| hit(0, i * 30, i as u64)).collect();
    check(&set, hang_only, 7_200, &[]);
    let backlog_only = vec![sample(0, 3), sample(300, 80), sample(900, 2)];
    check(&set, backlog_only, 7_200, &[]);
}

#[test]
fn members_further_apart_than_within_do_not_coincide() {
    let set = stall_rules(correlate(&[0, 1], 10));
    let mut inputs: Vec<Input> = (0..3).map(|i| hit(0, i * 30, i as u64)).collect(); // fires 60, resolves 960
    inputs.push(sample(2_000, 3));
    inputs.push(sample(2_400, 80)); // 2400 > 960 + 600
    check(&set, inputs, 7_200, &[]);
}

#[test]
fn sequence_requires_the_listed_order() {
    let mut spec = correlate(&[1, 0], 10);
    spec.ordered = true;
    // Backlog first, then the hang: the hang fires at 120 before backlog at 300 → no.
    check(&stall_rules(spec.clone()), incident(), 7_200, &[]);
    let mut spec = correlate(&[0, 1], 10);
    spec.ordered = true;
    check(
        &stall_rules(spec),
        incident(),
        7_200,
        &[("stall", "firing", 300), ("stall", "resolved", 1_500)],
    );
}

#[test]
fn required_precondition_gates_and_optional_one_is_context() {
    let mut spec = correlate(&[0, 1], 10);
    spec.preceded_by = Some(Precondition {
        rule: RuleId(3),
        within: min(60),
        required: true,
    });
    check(
        &stall_rules(spec.clone()),
        incident(),
        7_200,
        &[("stall", "firing", 300), ("stall", "resolved", 1_500)],
    );
    // Without the backup line, the required precondition is missing.
    let without_backup: Vec<Input> = incident()
        .into_iter()
        .filter(|i| !matches!(i, Input::Hit(h) if h.rule == RuleId(3)))
        .collect();
    check(
        &stall_rules(spec.clone()),
        without_backup.clone(),
        7_200,
        &[],
    );
    spec.preceded_by = Some(Precondition {
        rule: RuleId(3),
        within: min(60),
        required: false,
    });
    let got = run(&stall_rules(spec), without_backup, 7_200);
    assert_eq!(got.len(), 2);
}

#[test]
fn inhibit_members_holds_member_documents_while_firing() {
    let mut spec = correlate(&[0, 1], 10);
    spec.inhibit_members = true;
    let set = rules(vec![
        ("waiting", true, threshold(3, 10, 15)),
        ("backlog", true, backlog(50.0, 0, 0)),
        ("stall", true, RuleKind::Correlate(spec)),
    ]);
    let mut inputs: Vec<Input> = incident()
        .into_iter()
        .filter(|i| !matches!(i, Input::Hit(h) if h.rule == RuleId(3)))
        .collect();
    // The hang goes on after the coincidence.
    inputs.push(hit(0, 400, 99));
    inputs.sort_by_key(Input::time);
    // waiting fires (sent) at 120; backlog completes the coincidence at 300:
    // its own firing is held, and so is its resolution; waiting's
    // resolution is sent (its firing was).
    check(
        &set,
        inputs,
        7_200,
        &[
            ("waiting", "firing", 120),
            ("stall", "firing", 300),
            ("waiting", "resolved", 1_300),
            ("stall", "resolved", 1_500),
        ],
    );
}

#[test]
fn group_by_captures_keeps_groups_apart() {
    let set = rules(vec![(
        "waiting",
        true,
        RuleKind::Threshold(ThresholdRule {
            line: line("Waiting"),
            count: 2,
            window: min(10),
            group_by: vec![GroupField::Capture("inbox".into())],
            resolve_after: min(5),
        }),
    )]);
    let grouped = |secs, offset, inbox: &str| {
        let Input::Hit(mut h) = hit(0, secs, offset) else {
            unreachable!()
        };
        h.group = Box::new([Box::from(inbox)]);
        Input::Hit(h)
    };
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    for i in [
        grouped(0, 1, "a"),
        grouped(10, 2, "b"),
        grouped(20, 3, "a"),
        grouped(30, 4, "b"),
    ] {
        c.apply(i, &mut out);
    }
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].group, vec![("inbox".to_owned(), "a".to_owned())]);
    assert_eq!(out[1].group, vec![("inbox".to_owned(), "b".to_owned())]);
    assert_ne!(out[0].alert_id, out[1].alert_id);
}

#[test]
fn late_inputs_are_counted_and_still_applied() {
    let set = rules(vec![("waiting", true, threshold(2, 10, 15))]);
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    c.apply(hit(0, 100, 1), &mut out);
    c.apply(hit(0, 99, 2), &mut out); // within the allowance
    assert_eq!(c.stats().late, 0);
    c.advance_to(at(1_000), &mut out);
    c.apply(hit(0, 10, 3), &mut out); // far too late: applied at 1000
    assert_eq!(c.stats().late, 1);
    assert_eq!(out.iter().filter(|t| t.status == Status::Firing).count(), 1);
}

/// Ids derive from the input only: two runs give the same ids.
#[test]
fn ids_are_reproducible() {
    let set = stall_rules(correlate(&[0, 1], 10));
    let ids = || {
        let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
        let mut out = Vec::new();
        for i in incident() {
            c.apply(i, &mut out);
        }
        c.advance_to(at(7_200), &mut out);
        out.iter()
            .map(|t| (t.alert_id, t.uuid, t.event_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(), ids());
}

/// Brute force: the times at which a threshold rule fires, recomputed from
/// the definition over sorted hit times.
fn brute_force_firings(
    times: &[i64],
    count: usize,
    window: i64,
    resolve_after: i64,
) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut fresh: Vec<i64> = Vec::new();
    while i < times.len() {
        let t = times[i];
        fresh.push(t);
        fresh.retain(|&x| x >= t - window);
        if fresh.len() >= count {
            // Firing: extend while the next hit comes within resolve_after
            // (a hit exactly at the due time comes first and extends).
            let mut last = t;
            let mut j = i + 1;
            while j < times.len() && times[j] <= last + resolve_after {
                last = times[j];
                j += 1;
            }
            out.push((t, last + resolve_after));
            fresh.clear();
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

proptest! {
    #[test]
    fn threshold_matches_a_brute_force_recount(
        gaps in proptest::collection::vec(1i64..400, 1..60),
        count in 1u32..5,
        window in 1u64..10,
        resolve in 1u64..10,
        step in 1i64..900,
    ) {
        let set = rules(vec![("waiting", true, threshold(count, window, resolve))]);
        let mut times = Vec::new();
        let mut t = 0;
        for g in gaps { t += g; times.push(t); }
        let inputs: Vec<Input> = times.iter().enumerate().map(|(i, &s)| hit(0, s, i as u64)).collect();
        let end = t + 100_000;
        // Live-like feeding: the clock also advances between inputs in
        // arbitrary steps; the transitions must not depend on it.
        let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), unguarded());
        let mut out = Vec::new();
        let mut clock = 0;
        for i in inputs.clone() {
            while clock + step < i.time().as_unix_nanos() / 1_000_000_000 - T0 {
                clock += step;
                c.advance_to(at(clock), &mut out);
            }
            c.apply(i, &mut out);
        }
        c.advance_to(at(end), &mut out);
        let live: Vec<(i64, i64)> = out.chunks(2).map(|p| {
            let s = |t: &Transition| t.time.as_unix_nanos().div_euclid(1_000_000_000) - T0;
            (s(&p[0]), p.get(1).map_or(-1, s))
        }).collect();
        let expected = brute_force_firings(&times, count as usize, window as i64 * 60, resolve as i64 * 60);
        prop_assert_eq!(&live, &expected);
        // Replay-like feeding gives the same.
        let replay = run(&set, inputs, end);
        prop_assert_eq!(replay.len(), out.len());
    }
}

fn roundtrip(c: &Correlator, set: &Arc<RuleSet>) -> Correlator {
    let json = serde_json::to_string(&c.snapshot()).unwrap();
    let snap: Snapshot = serde_json::from_str(&json).unwrap();
    let (c, report) =
        Correlator::restore(Arc::clone(set), "PRI01".into(), Options::default(), snap);
    assert!(report.dropped.is_empty(), "{report:?}");
    c
}

#[test]
fn a_restart_mid_window_keeps_counting() {
    let set = rules(vec![("waiting", true, threshold(3, 10, 15))]);
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    c.apply(hit(0, 0, 1), &mut out);
    c.apply(hit(0, 60, 2), &mut out);
    let mut c = roundtrip(&c, &set);
    c.apply(hit(0, 120, 3), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].time, at(120));
}

#[test]
fn a_firing_alert_survives_a_restart_without_being_resent_and_resolves_later() {
    let set = stall_rules(correlate(&[0, 1], 10));
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    let inputs = incident();
    let (before, after): (Vec<_>, Vec<_>) = inputs.into_iter().partition(|i| i.time() <= at(300));
    for i in before {
        c.apply(i, &mut out);
    }
    assert_eq!(out.len(), 1, "firing before the restart");
    let uuid = out[0].uuid;
    let mut c = roundtrip(&c, &set);
    out.clear();
    for i in after {
        c.apply(i, &mut out);
    }
    c.advance_to(at(7_200), &mut out);
    assert_eq!(out.len(), 1, "{out:#?}");
    assert_eq!(out[0].status, Status::Resolved);
    assert_eq!(out[0].uuid, uuid);
    assert_eq!(out[0].time.as_unix_nanos(), at(1_500).as_unix_nanos());
}

#[test]
fn a_changed_rule_starts_afresh_and_others_keep_state() {
    let set = rules(vec![
        ("waiting", true, threshold(3, 10, 15)),
        ("other", true, threshold(2, 10, 15)),
    ]);
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    c.apply(hit(0, 0, 1), &mut out);
    c.apply(hit(0, 60, 2), &mut out);
    c.apply(hit(1, 60, 3), &mut out);
    let changed = rules(vec![
        ("waiting", true, threshold(3, 10, 15)),
        ("other", true, threshold(5, 10, 15)),
    ]);
    let (mut c, report) = Correlator::restore(
        Arc::clone(&changed),
        "PRI01".into(),
        Options::default(),
        c.snapshot(),
    );
    assert_eq!(
        report,
        RestoreReport {
            restored: 1,
            dropped: vec!["other".into()]
        }
    );
    c.apply(hit(0, 120, 4), &mut out);
    c.apply(hit(1, 120, 5), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].rule, RuleId(0));
}

#[test]
fn a_flapping_alert_holds_its_resolution_and_folds_refires_into_one_episode() {
    let set = rules(vec![("waiting", true, threshold(1, 1, 1))]);
    let inputs: Vec<Input> = [0, 120, 240, 360, 480]
        .iter()
        .enumerate()
        .map(|(i, &s)| hit(0, s, i as u64))
        .collect();
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), Options::default());
    let mut out = Vec::new();
    for i in inputs {
        c.apply(i, &mut out);
    }
    c.advance_to(at(3_600), &mut out);
    let view = |out: &[Transition]| -> Vec<(&'static str, i64)> {
        out.iter()
            .map(|t| (t.status.as_str(), t.time.as_unix_millis() / 1_000 - T0))
            .collect()
    };
    // The fourth episode (from 360) is open when the alert starts flapping:
    // its resolution at 420 is held, the re-firing at 480 is folded in.
    assert_eq!(
        view(&out),
        vec![
            ("firing", 0),
            ("resolved", 60),
            ("firing", 120),
            ("resolved", 180),
            ("firing", 240),
            ("resolved", 300),
            ("firing", 360)
        ]
    );
    // Quiet for the flap window after the last resolution (540): sent late,
    // stamped with the real resolution time, closing the open episode.
    let mut c = roundtrip(&c, &set);
    c.advance_to(at(540 + 3_600), &mut out);
    assert_eq!(out.len(), 8);
    assert_eq!(view(&out[7..]), vec![("resolved", 540)]);
    assert_eq!(out[7].uuid, out[6].uuid);
    assert_eq!(out[7].since, Some(at(360)));
    assert_eq!(c.stats().flapping, 0, "counters restart with the process");
}

#[test]
fn groups_beyond_the_cap_evict_the_least_recently_active_one() {
    let set = rules(vec![(
        "waiting",
        true,
        RuleKind::Threshold(ThresholdRule {
            line: line("Waiting"),
            count: 2,
            window: min(10),
            group_by: vec![GroupField::Capture("inbox".into())],
            resolve_after: min(5),
        }),
    )]);
    let grouped = |secs, offset, inbox: &str| {
        let Input::Hit(mut h) = hit(0, secs, offset) else {
            unreachable!()
        };
        h.group = Box::new([Box::from(inbox)]);
        Input::Hit(h)
    };
    let options = Options {
        max_groups: 2,
        ..Options::default()
    };
    let mut c = Correlator::new(Arc::clone(&set), "PRI01".into(), options);
    let mut out = Vec::new();
    // a and b fill the cap; c evicts a (least recent); a's second hit then
    // evicts b and starts a fresh window: no firing for a.
    for i in [
        grouped(0, 1, "a"),
        grouped(10, 2, "b"),
        grouped(20, 3, "c"),
        grouped(30, 4, "a"),
        grouped(40, 5, "c"),
    ] {
        c.apply(i, &mut out);
    }
    assert_eq!(c.stats().evicted, 2);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].group, vec![("inbox".to_owned(), "c".to_owned())]);
}
