//! Matcher throughput and allocations: lines per second for 1, 10, 100 and
//! 1,000 line rules over SMS-format corpora where no line, 1 % or 50 % of
//! the lines match a rule, against a naive `regex::RegexSet` per line and
//! the memchr line-split floor.
//!
//! Run: `cargo bench --bench matcher` (release). Rules and lines come from a
//! fixed seed, so runs compare. Allocation counts per iteration (one pass
//! over the corpus) come from divan's `AllocProfiler`, which prints no
//! `alloc:` rows for a benchmark that allocated nothing: the `matcher` and
//! `matcher_set_only` rows must have none (0 allocations per line, hits
//! included, as `out` is reused), while the `naive_regex_set` rows show the
//! profiler at work (one allocation per line). `build` times compiling the
//! rules.

use std::fmt;
use std::time::Duration;

use divan::counter::ItemsCount;
use divan::{AllocProfiler, Bencher, black_box};
use logwarden::event::{Record, RuleId, SourceId};
use logwarden::matcher::{Matcher, Strategy};
use logwarden::rule::{
    LineCondition, Location, MatchRule, Pattern, Rule, RuleKind, RuleMeta, RuleSet,
};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// Lines per corpus (one bench iteration is one pass over them).
const LINES: usize = 10_000;
const SEED: u64 = 0x5EED_2001_0366;

/// The share of lines that match some rule.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Hit {
    Miss,
    OnePercent,
    Half,
}

impl Hit {
    fn per_mille(self) -> u64 {
        match self {
            Hit::Miss => 0,
            Hit::OnePercent => 10,
            Hit::Half => 500,
        }
    }
}

impl fmt::Display for Hit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hit::Miss => "miss",
            Hit::OnePercent => "1%",
            Hit::Half => "50%",
        })
    }
}

const HITS: [Hit; 3] = [Hit::Miss, Hit::OnePercent, Hit::Half];

/// Our matcher, default strategy.
#[divan::bench(consts = [1, 10, 100, 1000], args = HITS)]
fn matcher<const RULES: usize>(bencher: Bencher, hit: Hit) {
    bench_matcher(bencher, RULES, hit, Strategy::Auto);
}

/// Our matcher with every rule in one multi-pattern regex (no prefilter),
/// its lazy DFA cache sized for the rule count.
#[divan::bench(consts = [1, 10, 100, 1000], args = HITS, sample_count = 10)]
fn matcher_set_only<const RULES: usize>(bencher: Bencher, hit: Hit) {
    bench_matcher(bencher, RULES, hit, Strategy::Set);
}

/// A naive `regex::RegexSet` per line (default 2 MiB DFA cache), one for
/// message rules and one for raw rules.
#[divan::bench(consts = [1, 10, 100, 1000], args = HITS, sample_count = 3, sample_size = 1)]
fn naive_regex_set<const RULES: usize>(bencher: Bencher, hit: Hit) {
    let fx = Fixture::new(RULES, hit);
    let (mut message, mut raw) = (Vec::new(), Vec::new());
    for r in &fx.set.rules {
        let Some(line) = r.line() else { continue };
        let re = match &line.pattern {
            Pattern::Contains(s) => regex::escape(s),
            Pattern::ContainsAny(v) => v
                .iter()
                .map(|s| regex::escape(s))
                .collect::<Vec<_>>()
                .join("|"),
            Pattern::Regex(p) => p.clone(),
        };
        if line.raw { &mut raw } else { &mut message }.push(re);
    }
    // Default settings but the compiled-size limit: 1,000 SMS rules exceed
    // the default 10 MB and would not build at all.
    let build = |patterns: &[String]| {
        regex::RegexSetBuilder::new(patterns)
            .size_limit(1 << 30)
            .build()
            .expect("naive regex set builds")
    };
    let (message, raw) = (build(&message), build(&raw));
    let records = fx.records();
    bencher
        .counter(ItemsCount::new(records.len()))
        .bench_local(|| {
            let mut n = 0;
            for rec in &records {
                n += message.matches(rec.message).iter().count();
                n += raw.matches(rec.raw).iter().count();
            }
            black_box(n)
        });
}

/// Compiling the rules (once per start and per rule reload).
#[divan::bench(consts = [10, 100, 1000], sample_count = 3, sample_size = 1)]
fn build<const RULES: usize>(bencher: Bencher) {
    let fx = Fixture::new(RULES, Hit::Miss);
    bencher.bench_local(|| Matcher::new(&fx.set).expect("bench rules compile"));
}

/// The floor: splitting the corpus into lines with memchr.
#[divan::bench(args = HITS)]
fn line_split_floor(bencher: Bencher, hit: Hit) {
    let fx = Fixture::new(1, hit);
    let text = fx.lines.join("\n");
    bencher
        .counter(ItemsCount::new(fx.lines.len()))
        .bench_local(|| black_box(memchr::memchr_iter(b'\n', black_box(text.as_bytes())).count()));
}

fn bench_matcher(bencher: Bencher, rules: usize, hit: Hit, strategy: Strategy) {
    let fx = Fixture::new(rules, hit);
    let m = Matcher::with_strategy(&fx.set, strategy).expect("bench rules compile");
    let records = fx.records();
    let mut out: Vec<RuleId> = Vec::with_capacity(rules);
    // Warm up the per-thread scratch space and lazy DFA caches on this
    // thread, then check the hit rate is what the corpus promises.
    let mut matched = 0;
    for rec in &records {
        out.clear();
        m.find(SourceId(0), rec, &mut out);
        matched += usize::from(!out.is_empty());
    }
    let want = records.len() * hit.per_mille() as usize / 1000;
    assert!(
        matched.abs_diff(want) <= records.len() / 50,
        "{rules} rules, {hit}: {matched} lines matched, expected about {want}"
    );
    bencher
        .counter(ItemsCount::new(records.len()))
        .bench_local(|| {
            let mut n = 0;
            for rec in &records {
                out.clear();
                m.find(SourceId(0), rec, &mut out);
                n += out.len();
            }
            black_box(n)
        });
}

/// A generated rule set and corpus.
struct Fixture {
    set: RuleSet,
    lines: Vec<String>,
}

/// One parsed line: message and trailer fields, as the SMS parser gives them.
struct Parsed<'a> {
    record: Record<'a>,
}

impl Fixture {
    fn new(rules: usize, hit: Hit) -> Fixture {
        let mut rng = Rng(SEED ^ rules as u64);
        let kinds: Vec<RuleShape> = (0..rules).map(|k| RuleShape::pick(k, &mut rng)).collect();
        let set = RuleSet {
            rules: kinds.iter().enumerate().map(|(k, s)| s.rule(k)).collect(),
            ..RuleSet::default()
        };
        let mut rng = Rng(SEED ^ 0xC0FFEE ^ hit.per_mille());
        let lines = (0..LINES)
            .map(|_| {
                if rng.below(1000) < hit.per_mille() {
                    let k = rng.below(rules as u64) as usize;
                    let (message, thread) = kinds[k].sample(k, &mut rng);
                    trailer(
                        &message,
                        thread.unwrap_or_else(|| background_thread(&mut rng)),
                        &mut rng,
                    )
                } else {
                    trailer(&background(&mut rng), background_thread(&mut rng), &mut rng)
                }
            })
            .collect();
        Fixture { set, lines }
    }

    fn records(&self) -> Vec<Record<'_>> {
        self.lines.iter().map(|l| parse(l).record).collect()
    }
}

fn parse(line: &str) -> Parsed<'_> {
    let (message, trailer) = line.split_once("  $$<").unwrap_or((line, ""));
    let component = trailer.split_once('>').map(|(c, _)| c);
    let thread = trailer
        .split_once("<thread=")
        .and_then(|(_, t)| t.split_once(' '))
        .and_then(|(t, _)| t.parse().ok());
    Parsed {
        record: Record {
            raw: line,
            message,
            component,
            thread,
            severity: None,
            time: None,
            offset: 0,
            cut: false,
        },
    }
}

/// The kinds of rule an SMS rule pack holds, each with a rule-specific token
/// so that a sample line matches its own rule.
#[derive(Copy, Clone, Debug)]
enum RuleShape {
    /// `contains`: a phrase with a site or job code.
    Literal,
    /// `contains_any`: two phrasings.
    AnyOf,
    /// A regex with alternations, a class and captures.
    Alternation,
    /// A `(?i)` regex.
    CaseInsensitive,
    /// A regex whose literal comes after a class (`\d+ files pending …`).
    Inner,
    /// No selective literal: a raw-record thread range.
    RawThread,
    /// No selective literal at all: shape only.
    Shape,
}

impl RuleShape {
    fn pick(k: usize, rng: &mut Rng) -> RuleShape {
        if k == 0 {
            return RuleShape::Alternation;
        }
        match rng.below(100) {
            0..35 => RuleShape::Literal,
            35..45 => RuleShape::AnyOf,
            45..70 => RuleShape::Alternation,
            70..85 => RuleShape::CaseInsensitive,
            85..95 => RuleShape::Inner,
            95..98 => RuleShape::RawThread,
            _ => RuleShape::Shape,
        }
    }

    fn rule(self, k: usize) -> Rule {
        let (pattern, raw) = match self {
            RuleShape::Literal => (
                Pattern::Contains(format!("Failed to connect to site X{k:04}")),
                false,
            ),
            RuleShape::AnyOf => (
                Pattern::ContainsAny(vec![
                    format!("Cannot open inbox Q{k:04}"),
                    format!("Cannot read inbox Q{k:04}"),
                ]),
                false,
            ),
            RuleShape::Alternation => (
                Pattern::Regex(format!(
                    r"(?P<verb>Failed|Unable) to (?:copy|move|delete) (?:package|file) (?P<pkg>[A-Z]{{3}}\d{{5}}) for job J{k:04}\b"
                )),
                false,
            ),
            RuleShape::CaseInsensitive => (
                Pattern::Regex(format!(
                    r"(?i)backup of site B{k:04} (?:completed|failed) with code (?P<code>\d+)"
                )),
                false,
            ),
            RuleShape::Inner => (
                Pattern::Regex(format!(r"\d+ files? (?:queued|pending) in box{k:04}\.box")),
                false,
            ),
            RuleShape::RawThread => (
                Pattern::Regex(format!(r"<thread=(?P<t>9{}\d\d) \(0x[0-9A-F]+\)>$", k % 10)),
                true,
            ),
            RuleShape::Shape => (
                Pattern::Regex(format!(
                    r"^(?P<pkg>[A-Z]{{3}}\d{{5}}) \d+/\d+ (?P<n>\w+)_{}$",
                    k % 10
                )),
                false,
            ),
        };
        Rule {
            id: format!("rule-{k}"),
            meta: RuleMeta::default(),
            kind: RuleKind::Match(MatchRule {
                line: LineCondition {
                    sources: vec![SourceId(0)],
                    pattern,
                    not_contains: None,
                    component: None,
                    severity_at_least: None,
                    thread: None,
                    raw,
                },
                suppress_for: Duration::ZERO,
                group_by: Vec::new(),
            }),
            location: Location::default(),
        }
    }

    /// A message (and thread, when the rule needs one) that matches rule `k`.
    fn sample(self, k: usize, rng: &mut Rng) -> (String, Option<u32>) {
        let msg = match self {
            RuleShape::Literal => format!(
                "Failed to connect to site X{k:04}, will retry in {} seconds",
                rng.below(600)
            ),
            RuleShape::AnyOf => format!("Cannot read inbox Q{k:04}: the file is in use"),
            RuleShape::Alternation => format!(
                "Unable to move package {} for job J{k:04} (error {})",
                pkg(rng),
                rng.below(100)
            ),
            RuleShape::CaseInsensitive => {
                format!(
                    "BACKUP OF SITE B{k:04} FAILED WITH CODE {}",
                    rng.below(10_000)
                )
            }
            RuleShape::Inner => format!("{} files pending in box{k:04}.box", rng.below(5000)),
            RuleShape::RawThread => {
                return (
                    background(rng),
                    Some(9000 + (k % 10) as u32 * 100 + rng.below(100) as u32),
                );
            }
            RuleShape::Shape => format!(
                "{} {}/{} part{}_{}",
                pkg(rng),
                rng.below(9),
                rng.below(99),
                rng.below(9),
                k % 10
            ),
        };
        (msg, None)
    }
}

const COMPONENTS: &[&str] = &[
    "SMS_DESPOOLER",
    "SMS_EXECUTIVE",
    "SMS_INVENTORY_DATA_LOADER",
    "SMS_SCHEDULER",
    "SMS_SITE_CONFIG_MANAGER",
    "SMS_DISTRIBUTION_MANAGER",
];

/// A line that matches no rule: the everyday chatter of an SMS site server.
fn background(rng: &mut Rng) -> String {
    let n = rng.below(100_000);
    match rng.below(14) {
        0 => "Waiting for ready instruction file....".to_owned(),
        1 => format!("Found ready instruction {:08x}.sni", rng.next()),
        2 => "Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|INVENTORY".to_owned(),
        3 => "Despooler successfully executed one instruction.".to_owned(),
        4 => format!("Memory usage: blocks={} bytes={n}", rng.below(500)),
        5 => "Processing a machine...".to_owned(),
        6 => "Updating group: MICROSOFT|IDENTIFICATION|1.0...".to_owned(),
        7 => format!(
            "Creating package file '\\\\PRI01\\SMS_SHRI\\site.srv\\sender.box\\tosend\\{}.S00'.~",
            pkg(rng)
        ),
        8 => format!(
            "SMS_EXECUTIVE started {} as thread ID {n} (0x{n:X}).",
            COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize]
        ),
        9 => format!("Sleeping for {} seconds...", rng.below(3600)),
        10 => format!(
            "Received request: \"{}\" for machine name: \"PC{n:05}\" on queue: \"Incoming\".",
            pkg(rng)
        ),
        11 => "Checking for remote Site Control File changes ...".to_owned(),
        12 => format!(
            "Inbox despoolr.box has {} files, total {n} bytes.",
            rng.below(50)
        ),
        _ => format!(
            "STATMSG: ID={} SEV=I LEV=M SOURCE=\"SMS Server\" COMP=\"SMS_DESPOOLER\" SYS=PRI01 SITE=PS1 PID={} TID={} GMTDATE={}",
            rng.below(10_000),
            rng.below(9000),
            rng.below(9000),
            n
        ),
    }
}

fn background_thread(rng: &mut Rng) -> u32 {
    1000 + rng.below(7999) as u32
}

fn pkg(rng: &mut Rng) -> String {
    format!(
        "PS{}{:05}",
        (b'A' + rng.below(26) as u8) as char,
        rng.below(100_000)
    )
}

/// The SMS trailer: `  $$<COMPONENT><MM-DD-YYYY HH:MM:SS.mmm+BIAS><thread=N (0xH)>`.
fn trailer(message: &str, thread: u32, rng: &mut Rng) -> String {
    let comp = COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize];
    let s = rng.below(86_400);
    format!(
        "{message}  $$<{comp}><01-23-2024 {:02}:{:02}:{:02}.{:03}+240><thread={thread} (0x{thread:X})>",
        s / 3600,
        s / 60 % 60,
        s % 60,
        rng.below(1000)
    )
}

/// splitmix64: small, fixed-seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
