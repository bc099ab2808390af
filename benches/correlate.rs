//! Correlator throughput: hits per second against the number of live group
//! keys, for a `threshold` rule grouped by a captured value (each distinct
//! value is a live key with its own sliding window) and for a `match` rule
//! with `suppress_for` (one suppression entry per key), plus a `correlate`
//! over two thresholds and a backlog.
//!
//! Run: `cargo bench --bench correlate`. Inputs come from a fixed seed; one
//! iteration applies `HITS` hits spread over `keys` distinct group values at
//! 10 hits per second of record time (windows of 10 minutes hold 6,000
//! hits), so the live keys stay at `keys` (capped by the correlator's
//! `max_groups`, 10,000 by default: the 100,000 row measures evictions).

use std::sync::Arc;
use std::time::Duration;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use logwarden::correlate::{Correlator, Options, Transition};
use logwarden::event::{FileKey, Hit, Input, Origin, RuleId};
use logwarden::rule::{RuleSet, RuleText, compile};
use logwarden::time::Timestamp;

fn main() {
    divan::main();
}

/// Hits per iteration.
const HITS: usize = 20_000;
const SEED: u64 = 0x5EED_C022_E1A7;

const RULES: &str = r#"
[[source]]
id = "despool"
path = 'Logs\despool.log'

[[gauge]]
id = "receive"
path = 'Inboxes\despoolr.box\receive'

[[threshold]]
id = "waiting"
source = "despool"
regex = 'Waiting for thread (?P<job>\d+)'
count = 50
window = "10m"
group_by = ["job"]
alert = false

[[match]]
id = "failed"
source = "despool"
regex = 'Failed job (?P<job>\d+)'
suppress_for = "10m"
group_by = ["job"]
alert = false

[[threshold]]
id = "retry"
source = "despool"
contains = "Retrying"
count = 3
window = "10m"
alert = false

[[backlog]]
id = "backlog"
gauge = "receive"
all = [{ metric = "files", at_least = 100 }]
alert = false

[[correlate]]
id = "stall"
all_of = ["retry", "backlog"]
within = "5m"
"#;

fn rules() -> Arc<RuleSet> {
    let set = compile(&[RuleText {
        path: "bench.toml".into(),
        text: RULES.to_owned(),
    }])
    .expect("bench rules compile");
    Arc::new(set)
}

/// xorshift: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `HITS` hits of `rule` over `keys` group values, 10 per second of record
/// time from `start`.
fn hits(rule: RuleId, keys: u64, start: i64) -> Vec<Input> {
    let mut rng = Rng(SEED ^ keys);
    let path: Arc<str> = Arc::from("Logs/despool.log");
    (0..HITS)
        .map(|i| {
            let job = rng.below(keys).to_string();
            Input::Hit(Hit {
                rule,
                time: Timestamp::from_unix_nanos(start + i as i64 * 100_000_000),
                origin: Origin {
                    file: FileKey(1),
                    path: Arc::clone(&path),
                    offset: i as u64 * 120,
                },
                message: format!("Waiting for thread {job}").into_boxed_str(),
                group: vec![job.into_boxed_str()].into_boxed_slice(),
            })
        })
        .collect()
}

fn run(bencher: Bencher, rule: &str, keys: u64) {
    let rules = rules();
    let id = RuleId(
        rules
            .rules
            .iter()
            .position(|r| r.id == rule)
            .expect("rule exists") as u32,
    );
    // The correlator starts warm: one iteration's hits already applied, so
    // that the measured ones meet `keys` live groups.
    let warm = hits(id, keys, 0);
    let start = HITS as i64 * 100_000_000;
    bencher
        .counter(ItemsCount::new(HITS))
        .with_inputs(|| {
            let mut c = Correlator::new(Arc::clone(&rules), "PRI01".into(), Options::default());
            let mut out: Vec<Transition> = Vec::new();
            for input in warm.iter().cloned() {
                c.apply(input, &mut out);
            }
            (c, hits(id, keys, start))
        })
        .bench_local_values(|(mut c, inputs)| {
            let mut out = Vec::new();
            for input in inputs {
                c.apply(input, &mut out);
                out.clear();
            }
            black_box(c.stats().late);
            c
        });
}

/// A `threshold` grouped by a captured value, against live keys.
#[divan::bench(args = [1, 100, 1_000, 10_000, 100_000], sample_count = 10)]
fn threshold_by_key(bencher: Bencher, keys: u64) {
    run(bencher, "waiting", keys);
}

/// A one-shot `match` with `suppress_for`, against live keys.
#[divan::bench(args = [1, 100, 1_000, 10_000, 100_000], sample_count = 10)]
fn match_suppressed_by_key(bencher: Bencher, keys: u64) {
    run(bencher, "failed", keys);
}

/// Hits of a threshold that is a `correlate` member, with a backlog
/// firing: every hit re-evaluates the correlation.
#[divan::bench(sample_count = 10)]
fn correlate_member(bencher: Bencher) {
    let rules = rules();
    let retry = RuleId(
        rules
            .rules
            .iter()
            .position(|r| r.id == "retry")
            .expect("rule exists") as u32,
    );
    let gauge = Input::Gauge(logwarden::event::GaugeSample {
        gauge: logwarden::event::GaugeId(0),
        time: Timestamp::from_unix_nanos(0),
        files: 500,
        bytes: 0,
        oldest_age: Duration::ZERO,
    });
    bencher
        .counter(ItemsCount::new(HITS))
        .with_inputs(|| {
            let mut c = Correlator::new(Arc::clone(&rules), "PRI01".into(), Options::default());
            c.apply(gauge.clone(), &mut Vec::new());
            (c, hits(retry, 1, 1))
        })
        .bench_local_values(|(mut c, inputs)| {
            let mut out = Vec::new();
            for input in inputs {
                c.apply(input, &mut out);
                out.clear();
            }
            c
        });
}
