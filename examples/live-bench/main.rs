//! `live-bench`: benchmarks of the live agent (`logwarden run`) on a
//! generated SMS site, driven from outside like an operator's site server
//! would: a writer appends timed lines, a follower reads the alert file.
//! Linux only (`/proc`). Run through `benches/live/run.sh`, or:
//!
//! ```text
//! cargo build --release --bin logwarden --example live-bench
//! target/release/examples/live-bench SCENARIO [--option value]...
//! ```
//!
//! Scenarios (issue 7's live targets):
//! - `latency`: one log, 10,000 lines/s in 1 ms ticks, every 100th line a
//!   marker with its sequence number that a `[[match]]` rule alerts on;
//!   append-to-alert-on-disk latency per marker (p50 < 5 ms, p99 < 50 ms).
//! - `throughput`: the same at up to 200,000 lines/s, marker every 1,000th
//!   line: does the agent keep up (lag, time to drain after the last
//!   append, latency trend, CPU% of the agent and of each of its threads).
//! - `idle`: 500 followed files, nothing written: CPU% (< 1% of a core).
//! - `memory`: 1,000 rules, 500 followed files: RSS after start and after a
//!   load phase (< 64 MiB).
//! - `soak`: `memory`'s site under load with SMS 2.0 rotation (rename to
//!   `.lo_`), RSS every `--sample-secs`: must stay flat; every marker must
//!   alert exactly once.
//!
//! Options (defaults per scenario in brackets in `--help`): `--bin PATH`,
//! `--work DIR`, `--seconds S`, `--minutes M` (soak), `--rate LINES_PER_S`,
//! `--tick-us US`, `--marker-every N`, `--rules N` (threshold rules beside
//! the marker rule), `--files N` (followed files), `--settle S`,
//! `--rotate-mib MIB`, `--sample-secs S`, `--poll-us US` (the alert
//! follower's sleep), `--drain-secs S`, `--seed N`, `--count N` and
//! `--forms LIST` (the threshold rules' `count` and forms).
//!
//! Prints a Markdown report on stdout, progress on stderr. Exit 1 when the
//! benchmark itself failed (the agent did not start, markers were lost);
//! a missed performance target is reported, not an error.

// A benchmark driver measures wall time: it reads the clock itself (the
// library's rule that only `src/time.rs` does is about the engine).
#![allow(clippy::disallowed_methods)]

mod agent;
mod alerts;
mod load;
mod site;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent::{Agent, Layout};
use alerts::{AlertTail, Observed};
use load::{Plan, Progress, Written};

const MIB: f64 = 1024.0 * 1024.0;

/// Command-line options.
#[derive(Clone, Debug)]
struct Opts {
    scenario: String,
    bin: PathBuf,
    work: PathBuf,
    seconds: Option<f64>,
    minutes: f64,
    rate: Option<u64>,
    tick: Duration,
    marker_every: Option<u64>,
    rules: Option<usize>,
    files: Option<usize>,
    settle: Option<f64>,
    rotate_mib: f64,
    sample_secs: f64,
    poll: Duration,
    drain_secs: f64,
    seed: u64,
    forms: Vec<usize>,
    count: u64,
}

const USAGE: &str = "usage: live-bench latency|throughput|idle|memory|soak [--bin PATH] [--work DIR] \
[--seconds S] [--minutes M] [--rate LINES_PER_S] [--tick-us US] [--marker-every N] [--rules N] \
[--files N] [--settle S] [--rotate-mib MIB] [--sample-secs S] [--poll-us US] [--drain-secs S] [--seed N]
[--count N] [--forms 0,1,2,3]

defaults:
  latency     10 000 lines/s, marker every 100, 100 threshold rules, 1 file, 30 s
  throughput  200 000 lines/s, marker every 1 000, 100 threshold rules, 1 file, 30 s
  idle        500 files, 100 threshold rules, 60 s measured after 5 s settling
  memory      500 files, 1 000 threshold rules, load 10 000 lines/s for 30 s
  soak        as memory, load for --minutes (5), rotation at --rotate-mib (5), RSS every --sample-secs (10)
  --bin target/release/logwarden, --work target/live-bench, --tick-us 1000, --poll-us 250
  threshold rules: count --count (200) in 1m, forms --forms (0,1,2,3: literal, regex with
  captures + group_by, (?i) alternation, contains_any), used in turn";

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut it = args.iter();
    let scenario = it.next().ok_or("no scenario")?.clone();
    if !["latency", "throughput", "idle", "memory", "soak"].contains(&scenario.as_str()) {
        return Err(format!("unknown scenario {scenario:?}"));
    }
    let mut o = Opts {
        scenario,
        bin: PathBuf::from("target/release/logwarden"),
        work: PathBuf::from("target/live-bench"),
        seconds: None,
        minutes: 5.0,
        rate: None,
        tick: Duration::from_millis(1),
        marker_every: None,
        rules: None,
        files: None,
        settle: None,
        rotate_mib: 5.0,
        sample_secs: 10.0,
        poll: Duration::from_micros(250),
        drain_secs: 60.0,
        seed: 7,
        forms: vec![0, 1, 2, 3],
        count: 200,
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let num = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--bin" => o.bin = PathBuf::from(value),
            "--work" => o.work = PathBuf::from(value),
            "--seconds" => o.seconds = Some(num(value)?),
            "--minutes" => o.minutes = num(value)?,
            "--rate" => o.rate = Some(num(value)? as u64),
            "--tick-us" => o.tick = Duration::from_micros(num(value)?.max(50.0) as u64),
            "--marker-every" => o.marker_every = Some((num(value)? as u64).max(1)),
            "--rules" => o.rules = Some(num(value)? as usize),
            "--files" => o.files = Some(num(value)? as usize),
            "--settle" => o.settle = Some(num(value)?),
            "--rotate-mib" => o.rotate_mib = num(value)?,
            "--sample-secs" => o.sample_secs = num(value)?.max(1.0),
            "--poll-us" => o.poll = Duration::from_micros(num(value)? as u64),
            "--drain-secs" => o.drain_secs = num(value)?,
            "--seed" => o.seed = num(value)? as u64,
            "--count" => o.count = (num(value)? as u64).max(1),
            "--forms" => {
                o.forms = value
                    .split(',')
                    .map(|f| f.trim().parse::<usize>().ok().filter(|&f| f < 4))
                    .collect::<Option<Vec<_>>>()
                    .filter(|f| !f.is_empty())
                    .ok_or_else(|| format!("--forms: {value:?} is not a list of 0..=3"))?;
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let opts = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("live-bench: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if !Path::new("/proc/self/stat").exists() {
        eprintln!("live-bench: needs Linux /proc");
        return ExitCode::from(2);
    }
    let result = match opts.scenario.as_str() {
        "latency" => stream(&opts, 10_000, 100, 30.0),
        "throughput" => stream(&opts, 200_000, 1_000, 30.0),
        "idle" => idle(&opts),
        "memory" => memory(&opts),
        _ => soak(&opts),
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("live-bench {}: {e}", opts.scenario);
            ExitCode::from(1)
        }
    }
}

fn progress(msg: &str) {
    eprintln!("[live-bench] {msg}");
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn rules_note(o: &Opts, rules: usize) -> String {
    format!(
        "{rules} threshold rules (count {} in 1m; forms {:?})",
        o.count, o.forms
    )
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// The site of `latency` and `throughput` (one log, `extra` cold ones) or
/// of `idle`, `memory` and `soak` (a glob over `files` logs, the hot one
/// among them).
fn build_site(o: &Opts, name: &str, files: usize, rules: usize) -> Result<Layout, String> {
    let thresholds = site::Thresholds {
        rules,
        forms: o.forms.clone(),
        count: o.count,
    };
    let layout = Layout::fresh(&o.work.join(name)).map_err(|e| e.to_string())?;
    let mut noise = site::LineGen::new(o.seed ^ 0xC01D, rules);
    let hot = layout.site.join("Logs").join("despool.log");
    let mut header = Vec::new();
    noise.filler(&site::sms_time(std::time::SystemTime::now()), &mut header);
    std::fs::write(&hot, header).map_err(|e| e.to_string())?;
    let path = if files > 1 {
        site::cold_files(&layout.site, files - 1, 5, &mut noise).map_err(|e| e.to_string())?;
        r"Logs\*.log"
    } else {
        r"Logs\despool.log"
    };
    std::fs::write(&layout.rules, site::rules(path, &thresholds)).map_err(|e| e.to_string())?;
    Ok(layout)
}

fn start(o: &Opts, layout: &Layout) -> Result<Agent, String> {
    let bin = std::fs::canonicalize(&o.bin)
        .map_err(|e| format!("{}: {e} (build it first)", o.bin.display()))?;
    progress(&format!("starting {}", bin.display()));
    let agent = Agent::start(&bin, layout, Duration::from_secs(300))?;
    progress(&format!(
        "agent {} ready after {:.2} s",
        agent.pid(),
        agent.startup.as_secs_f64()
    ));
    Ok(agent)
}

fn sleep_secs(s: f64) {
    std::thread::sleep(Duration::from_secs_f64(s));
}

/// CPU and threads of the agent (and this process) at one moment.
struct CpuMark {
    at: Instant,
    agent: f64,
    driver: f64,
    threads: Vec<agent::ThreadSample>,
}

impl CpuMark {
    fn take(pid: u32, ticks: f64) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            agent: agent::cpu_seconds(pid, ticks).unwrap_or(0.0),
            driver: agent::cpu_seconds(0, ticks).unwrap_or(0.0),
            threads: agent::threads(pid),
        }
    }

    /// (agent CPU% of one core, driver CPU%, wall seconds) since `self`.
    fn usage(&self, later: &CpuMark) -> (f64, f64, f64) {
        let wall = later.at.duration_since(self.at).as_secs_f64().max(1e-9);
        (
            (later.agent - self.agent) / wall * 100.0,
            (later.driver - self.driver) / wall * 100.0,
            wall,
        )
    }

    fn thread_table(&self, later: &CpuMark, out: &mut String) {
        let wall = later.at.duration_since(self.at);
        let _ = writeln!(
            out,
            "\n| agent thread | CPU % of one core | context switches/s |\n|---|---|---|"
        );
        let mut rows = agent::thread_usage(&self.threads, &later.threads, wall);
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (name, cpu, sw) in rows {
            let _ = writeln!(out, "| {name} | {cpu:.2} | {sw:.0} |");
        }
    }
}

/// Latency statistics in milliseconds.
struct Lat {
    sorted: Vec<f64>,
    missing: usize,
}

impl Lat {
    fn of(marks: &[load::Mark], seen: &[Option<Instant>]) -> Lat {
        let mut sorted = Vec::with_capacity(marks.len());
        let mut missing = 0;
        for (i, m) in marks.iter().enumerate() {
            match seen.get(i).copied().flatten() {
                Some(s) => sorted.push(s.saturating_duration_since(m.at).as_secs_f64() * 1e3),
                None => missing += 1,
            }
        }
        sorted.sort_by(f64::total_cmp);
        Lat { sorted, missing }
    }

    /// Nearest-rank percentile (`q` in 0..=1).
    fn pct(&self, q: f64) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.sorted.len() as f64).ceil() as usize).clamp(1, self.sorted.len());
        self.sorted[rank - 1]
    }

    fn mean(&self) -> f64 {
        self.sorted.iter().sum::<f64>() / self.sorted.len().max(1) as f64
    }

    fn row(&self) -> String {
        format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            self.sorted.len(),
            self.missing,
            self.pct(0.5),
            self.pct(0.9),
            self.pct(0.99),
            self.pct(0.999),
            self.sorted.last().copied().unwrap_or(f64::NAN),
            self.mean()
        )
    }

    const HEADER: &'static str = "| markers alerted | missing | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | mean ms |\n|---|---|---|---|---|---|---|---|";
}

/// Latency and lag per window of marker write time.
fn trend(w: &Written, obs: &Observed, window: Duration, marker_every: u64, out: &mut String) {
    let _ = writeln!(
        out,
        "\n| written at (s) | lines/s written | markers | p50 ms | p99 ms | max ms | max lag (KiB behind the writer when seen) |\n|---|---|---|---|---|---|---|"
    );
    let span = w.ended.duration_since(w.started).as_secs_f64();
    let n = (span / window.as_secs_f64()).ceil().max(1.0) as usize;
    for b in 0..n {
        let from = w.started + window.mul_f64(b as f64);
        let to = from + window;
        let idx: Vec<usize> = (0..w.marks.len())
            .filter(|&i| w.marks[i].at >= from && w.marks[i].at < to)
            .collect();
        let marks: Vec<load::Mark> = idx.iter().map(|&i| w.marks[i]).collect();
        let seen: Vec<Option<Instant>> = idx
            .iter()
            .map(|&i| obs.seen.get(i).copied().flatten())
            .collect();
        let lat = Lat::of(&marks, &seen);
        let lag = idx
            .iter()
            .filter_map(|&i| {
                let s = obs.seen.get(i).copied().flatten()?;
                Some(load::bytes_at(&w.timeline, s).saturating_sub(w.marks[i].offset))
            })
            .max()
            .unwrap_or(0);
        // Lines written in the window, from its markers.
        let lines = idx.len() as u64 * marker_every;
        let _ = writeln!(
            out,
            "| {:.0}–{:.0} | {:.0} | {} (+{} missing) | {:.2} | {:.2} | {:.2} | {:.1} |",
            b as f64 * window.as_secs_f64(),
            ((b + 1) as f64 * window.as_secs_f64()).min(span),
            lines as f64 / window.as_secs_f64(),
            lat.sorted.len(),
            lat.missing,
            lat.pct(0.5),
            lat.pct(0.99),
            lat.sorted.last().copied().unwrap_or(f64::NAN),
            lag as f64 / 1024.0
        );
    }
}

/// Markers slower than this are listed as spikes.
const SPIKE_MS: f64 = 10.0;

/// The slow markers, and whether the agent saved its state while each
/// waited (a save is seen as a new `state.json`; its fsyncs run on the
/// engine thread, which writes the alerts).
fn spikes(w: &Written, obs: &Observed, out: &mut String) {
    let mut slow: Vec<(usize, f64, bool)> = Vec::new();
    for (i, m) in w.marks.iter().enumerate() {
        let Some(seen) = obs.seen.get(i).copied().flatten() else {
            continue;
        };
        let ms = seen.saturating_duration_since(m.at).as_secs_f64() * 1e3;
        if ms > SPIKE_MS {
            let slack = Duration::from_millis(3);
            let saved = obs.saves.iter().any(|&s| s > m.at && s <= seen + slack);
            slow.push((i, ms, saved));
        }
    }
    let span = w.ended.duration_since(w.started).as_secs_f64();
    let saves = obs
        .saves
        .iter()
        .filter(|&&s| s >= w.started && s <= w.ended)
        .count();
    let with_save = slow.iter().filter(|s| s.2).count();
    let _ = writeln!(
        out,
        "
Spikes: {} markers over {SPIKE_MS} ms; {with_save} of them waited across a state save (saves seen while writing: {saves} in {span:.1} s).",
        slow.len()
    );
    // Spikes come in runs (every marker queued behind one stall): show
    // the worst of each run, the eight worst runs.
    let mut runs: Vec<(usize, f64, bool, usize)> = Vec::new();
    for &(i, ms, saved) in &slow {
        match runs.last_mut() {
            Some(r) if i <= r.0 + r.3 + 1 => {
                r.3 = i - r.0;
                if ms > r.1 {
                    r.1 = ms;
                }
                r.2 |= saved;
            }
            _ => runs.push((i, ms, saved, 0)),
        }
    }
    runs.sort_by(|a, b| b.1.total_cmp(&a.1));
    if !runs.is_empty() {
        let _ = writeln!(
            out,
            "
| stall at (s) | markers in it | worst ms | state save inside |\n|---|---|---|---|"
        );
    }
    for r in runs.iter().take(8) {
        let _ = writeln!(
            out,
            "| {:.2} | {} | {:.1} | {} |",
            w.marks[r.0].at.duration_since(w.started).as_secs_f64(),
            r.3 + 1,
            r.1,
            if r.2 { "yes" } else { "no" }
        );
    }
}

/// `latency` and `throughput`: one hot log at `rate`.
fn stream(o: &Opts, rate: u64, marker_every: u64, seconds: f64) -> Result<String, String> {
    let rate = o.rate.unwrap_or(rate);
    let marker_every = o.marker_every.unwrap_or(marker_every);
    let seconds = o.seconds.unwrap_or(seconds);
    let rules = o.rules.unwrap_or(100);
    let files = o.files.unwrap_or(1);
    let settle = o.settle.unwrap_or(2.0);
    let load_before = loadavg();
    let layout = build_site(o, &o.scenario, files, rules)?;
    let agent = start(o, &layout)?;
    let pid = agent.pid();
    let startup = agent.startup;
    let ticks = agent::clock_ticks();
    let tail = AlertTail::follow(
        layout.alerts.clone(),
        layout.state.join("state.json"),
        o.poll,
    );
    sleep_secs(settle);
    progress(&format!(
        "writing {rate} lines/s for {seconds} s, a marker every {marker_every}"
    ));
    let p = Arc::new(Progress::default());
    let plan = Plan {
        path: layout.site.join("Logs").join("despool.log"),
        rate,
        tick: o.tick,
        duration: Duration::from_secs_f64(seconds),
        marker_every,
        rotate_bytes: None,
        cold: Vec::new(),
        cold_every: 1,
        seed: o.seed,
        rules,
        timeline_every: Some(Duration::from_millis(1)),
    };
    let c0 = CpuMark::take(pid, ticks);
    let writer = load::spawn(plan, Arc::clone(&p));
    let mut rss_max = 0u64;
    while !writer.is_finished() {
        rss_max = rss_max.max(agent::status_kib(pid, "VmRSS").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(200));
    }
    let w = writer
        .join()
        .map_err(|_| "the writer panicked".to_owned())?
        .map_err(|e| format!("write failed: {e}"))?;
    let c1 = CpuMark::take(pid, ticks);
    progress(&format!(
        "wrote {} lines, {} markers; waiting up to {} s for the rest of the alerts",
        w.lines,
        w.marks.len(),
        o.drain_secs
    ));
    let all = tail.wait_for(w.marks.len() as u64, Duration::from_secs_f64(o.drain_secs));
    let c2 = CpuMark::take(pid, ticks);
    let hwm = agent::status_kib(pid, "VmHWM");
    let obs = tail.finish();
    let stderr = agent.stop()?;
    let load_after = loadavg();

    let lat = Lat::of(&w.marks, &obs.seen);
    let write_secs = w.ended.duration_since(w.started).as_secs_f64();
    let achieved = w.lines as f64 / write_secs;
    let last_seen = obs.seen.iter().flatten().max().copied();
    let drain = last_seen.map(|s| s.saturating_duration_since(w.ended).as_secs_f64());
    let last_mark_latency = w
        .marks
        .last()
        .zip(
            obs.seen
                .get(w.marks.len().saturating_sub(1))
                .copied()
                .flatten(),
        )
        .map(|(m, s)| s.saturating_duration_since(m.at).as_secs_f64() * 1e3);
    let (cpu_w, drv_w, _) = c0.usage(&c1);
    let (cpu_all, _, wall_all) = c0.usage(&c2);
    let end_lag = w
        .marks
        .iter()
        .enumerate()
        .rev()
        .take(10)
        .filter_map(|(i, m)| {
            let s = obs.seen.get(i).copied().flatten()?;
            Some(load::bytes_at(&w.timeline, s).saturating_sub(m.offset))
        })
        .max();

    let mut r = String::new();
    let _ = writeln!(
        r,
        "### {}: {rate} lines/s target, marker every {marker_every}th line, {} + 1 match rule, {files} followed file(s)\n",
        o.scenario,
        rules_note(o, rules)
    );
    let _ = writeln!(
        r,
        "- written: {} lines ({:.1} MiB) in {write_secs:.1} s = **{achieved:.0} lines/s** ({:.1} MiB/s), {} markers; tick {} µs; longest write() {:.2} ms",
        w.lines,
        w.bytes as f64 / MIB,
        w.bytes as f64 / MIB / write_secs,
        w.marks.len(),
        o.tick.as_micros(),
        w.max_write.as_secs_f64() * 1e3
    );
    let _ = writeln!(
        r,
        "- alert file: {} documents ({} markers, {} duplicates, {} others), read in {} reads; follower sleep {} µs",
        obs.docs,
        obs.seen.iter().flatten().count(),
        obs.duplicates,
        obs.others,
        obs.reads,
        o.poll.as_micros()
    );
    let _ = writeln!(
        r,
        "- last marker's alert {} after the last append (last marker's latency {}); all markers alerted: {all}; lag behind the writer when the last markers were seen: {}",
        drain.map_or("never seen".into(), |d| format!("{:.1} ms", d * 1e3)),
        last_mark_latency.map_or("?".into(), |l| format!("{l:.1} ms")),
        end_lag.map_or("?".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0))
    );
    let _ = writeln!(
        r,
        "- agent CPU while writing: **{cpu_w:.1}% of one core** (200% = both cores); over writing + drain ({wall_all:.1} s): {cpu_all:.1}%; the driver itself: {drv_w:.1}%"
    );
    let _ = writeln!(
        r,
        "- agent RSS max while writing {}, VmHWM {}; ready {:.2} s after start",
        mib(Some(rss_max)),
        mib(hwm),
        startup.as_secs_f64()
    );
    let _ = writeln!(
        r,
        "- load average before / after: {load_before} / {load_after}"
    );
    let _ = writeln!(
        r,
        "- agent's stop line: `{}`; it read every line written: {}",
        agent::stop_counters(&stderr),
        agent::lines_check(&stderr, w.lines)
    );
    for p in agent::problems(&stderr).iter().take(5) {
        let _ = writeln!(r, "- agent warning: `{p}`");
    }
    let _ = writeln!(r, "\n{}\n{}", Lat::HEADER, lat.row());
    let window = Duration::from_secs_f64((seconds / 6.0).max(1.0));
    trend(&w, &obs, window, marker_every, &mut r);
    spikes(&w, &obs, &mut r);
    c0.thread_table(&c1, &mut r);
    let _ = writeln!(r);
    if o.scenario == "latency" {
        let _ = writeln!(
            r,
            "Targets: p50 < 5 ms: **{}** ({:.2} ms); p99 < 50 ms: **{}** ({:.2} ms); every marker alerted once: **{}**",
            verdict(lat.pct(0.5) < 5.0),
            lat.pct(0.5),
            verdict(lat.pct(0.99) < 50.0),
            lat.pct(0.99),
            verdict(lat.missing == 0 && obs.duplicates == 0)
        );
    } else {
        let kept_rate = achieved >= rate as f64 * 0.98;
        let kept_up = drain.is_some_and(|d| d <= 1.0) && lat.missing == 0;
        let _ = writeln!(
            r,
            "Targets: writer reached {rate} lines/s: **{}** ({achieved:.0}); agent kept up (every marker alerted, the last within 1 s of the last append): **{}**; both cores used (agent > 100%): {}",
            verdict(kept_rate),
            verdict(kept_up),
            if cpu_w > 100.0 { "yes" } else { "no" }
        );
    }
    if lat.missing > 0 || obs.duplicates > 0 {
        let _ = writeln!(
            r,
            "\n**Correctness: {} markers never alerted, {} alerted twice.**",
            lat.missing, obs.duplicates
        );
    }
    Ok(r)
}

/// `idle`: 500 followed files, nothing written.
fn idle(o: &Opts) -> Result<String, String> {
    let files = o.files.unwrap_or(500);
    let rules = o.rules.unwrap_or(100);
    let seconds = o.seconds.unwrap_or(60.0);
    let settle = o.settle.unwrap_or(5.0);
    let load_before = loadavg();
    let layout = build_site(o, "idle", files, rules)?;
    let agent = start(o, &layout)?;
    let pid = agent.pid();
    let ticks = agent::clock_ticks();
    sleep_secs(settle);
    let fds = agent::open_fds(pid);
    progress(&format!("measuring {seconds} s of idleness"));
    let c0 = CpuMark::take(pid, ticks);
    sleep_secs(seconds);
    let c1 = CpuMark::take(pid, ticks);
    let rss = agent::status_kib(pid, "VmRSS");
    let hwm = agent::status_kib(pid, "VmHWM");
    let stderr = agent.stop()?;
    let load_after = loadavg();
    let (cpu, _, wall) = c0.usage(&c1);
    let switches: f64 = agent::thread_usage(&c0.threads, &c1.threads, c1.at - c0.at)
        .iter()
        .map(|t| t.2)
        .sum();
    let mut r = String::new();
    let _ = writeln!(
        r,
        "### idle: {files} followed files (`Logs\\*.log`), {} + 1 match rule, nothing written\n",
        rules_note(o, rules)
    );
    let _ = writeln!(
        r,
        "- measured {wall:.1} s after {settle} s settling: agent CPU **{cpu:.2}% of one core**, {switches:.0} context switches/s over all threads; open fds {fds}; RSS {}, VmHWM {}",
        mib(rss),
        mib(hwm)
    );
    let _ = writeln!(
        r,
        "- load average before / after: {load_before} / {load_after}"
    );
    let _ = writeln!(
        r,
        "- agent's stop line: `{}`",
        agent::stop_counters(&stderr)
    );
    c0.thread_table(&c1, &mut r);
    let _ = writeln!(
        r,
        "\nTarget: under 1% of one core: **{}** ({cpu:.2}%)",
        verdict(cpu < 1.0)
    );
    Ok(r)
}

/// `memory`: 1,000 rules, 500 files; RSS after start and after load.
fn memory(o: &Opts) -> Result<String, String> {
    let files = o.files.unwrap_or(500);
    let rules = o.rules.unwrap_or(1000);
    let seconds = o.seconds.unwrap_or(30.0);
    let rate = o.rate.unwrap_or(10_000);
    let settle = o.settle.unwrap_or(3.0);
    let marker_every = o.marker_every.unwrap_or(100);
    let load_before = loadavg();
    let layout = build_site(o, "memory", files, rules)?;
    let agent = start(o, &layout)?;
    let pid = agent.pid();
    let startup = agent.startup;
    let ticks = agent::clock_ticks();
    let tail = AlertTail::follow(
        layout.alerts.clone(),
        layout.state.join("state.json"),
        o.poll,
    );
    sleep_secs(settle);
    let rss0 = agent::status_kib(pid, "VmRSS");
    let hwm0 = agent::status_kib(pid, "VmHWM");
    let fds0 = agent::open_fds(pid);
    progress(&format!(
        "after start: RSS {}, HWM {}",
        mib(rss0),
        mib(hwm0)
    ));
    let plan = plan_for_site(o, &layout, rate, seconds, marker_every, rules, None);
    let c0 = CpuMark::take(pid, ticks);
    let p = Arc::new(Progress::default());
    let writer = load::spawn(plan, Arc::clone(&p));
    let mut rss_max = 0u64;
    while !writer.is_finished() {
        rss_max = rss_max.max(agent::status_kib(pid, "VmRSS").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(200));
    }
    let w = writer
        .join()
        .map_err(|_| "the writer panicked".to_owned())?
        .map_err(|e| format!("write failed: {e}"))?;
    let c1 = CpuMark::take(pid, ticks);
    let all = tail.wait_for(w.marks.len() as u64, Duration::from_secs_f64(o.drain_secs));
    sleep_secs(settle);
    let rss1 = agent::status_kib(pid, "VmRSS");
    let hwm1 = agent::status_kib(pid, "VmHWM");
    let fds1 = agent::open_fds(pid);
    let obs = tail.finish();
    let stderr = agent.stop()?;
    let load_after = loadavg();
    let lat = Lat::of(&w.marks, &obs.seen);
    let (cpu, _, _) = c0.usage(&c1);
    let mut r = String::new();
    let _ = writeln!(
        r,
        "### memory: {} + 1 match rule, {files} followed files (`Logs\\*.log`)\n",
        rules_note(o, rules)
    );
    let _ = writeln!(
        r,
        "| moment | VmRSS | VmHWM | open fds |\n|---|---|---|---|"
    );
    let _ = writeln!(
        r,
        "| {settle} s after ready (ready {:.2} s after spawn) | {} | {} | {fds0} |",
        startup.as_secs_f64(),
        mib(rss0),
        mib(hwm0)
    );
    let _ = writeln!(
        r,
        "| after {:.0} s of load ({} lines at {:.0} lines/s to `despool.log`, {} lines to the cold logs) and {settle} s | {} | {} | {fds1} |",
        w.ended.duration_since(w.started).as_secs_f64(),
        w.lines,
        w.lines as f64 / w.ended.duration_since(w.started).as_secs_f64(),
        w.cold_lines,
        mib(rss1),
        mib(hwm1)
    );
    let _ = writeln!(
        r,
        "\n- RSS max sampled during load {}; agent CPU during load {cpu:.1}%; all {} markers alerted: {all}",
        mib(Some(rss_max)),
        w.marks.len()
    );
    let _ = writeln!(
        r,
        "- load average before / after: {load_before} / {load_after}"
    );
    let _ = writeln!(
        r,
        "- agent's stop line: `{}`; it read every line written: {}",
        agent::stop_counters(&stderr),
        agent::lines_check(&stderr, w.lines + w.cold_lines)
    );
    let _ = writeln!(
        r,
        "\nLatency under this load:\n\n{}\n{}",
        Lat::HEADER,
        lat.row()
    );
    let peak = hwm1.unwrap_or(u64::MAX) as f64 / 1024.0;
    let _ = writeln!(
        r,
        "\nTarget: RSS under 64 MiB (VmHWM after load): **{}** ({peak:.1} MiB)",
        verdict(peak < 64.0)
    );
    scaling(o, rate, marker_every, &mut r)?;
    Ok(r)
}

/// Memory by rule count: one followed file, RSS after start and peak after
/// a short load, for a few rule counts up to `--rules`.
fn scaling(o: &Opts, rate: u64, marker_every: u64, r: &mut String) -> Result<(), String> {
    let top = o.rules.unwrap_or(1000);
    let mut counts: Vec<usize> = [0, 100, 300, 1000]
        .into_iter()
        .filter(|&n| n < top)
        .collect();
    counts.push(top);
    let load = 3.0;
    let _ = writeln!(
        r,
        "\nBy rule count (1 followed file; {load} s of {rate} lines/s after start):\n\n| threshold rules | ready after (s) | VmRSS after start | VmHWM after load | VmRSS after load |\n|---|---|---|---|---|"
    );
    for n in counts {
        let layout = build_site(o, &format!("memory-scale-{n}"), 1, n)?;
        let agent = start(o, &layout)?;
        let pid = agent.pid();
        sleep_secs(1.0);
        let rss0 = agent::status_kib(pid, "VmRSS");
        let mut plan = plan_for_site(o, &layout, rate, load, marker_every, n, None);
        plan.cold.clear();
        load::write(&plan, &Progress::default()).map_err(|e| format!("write failed: {e}"))?;
        sleep_secs(1.0);
        let hwm = agent::status_kib(pid, "VmHWM");
        let rss1 = agent::status_kib(pid, "VmRSS");
        let startup = agent.startup;
        agent.stop()?;
        let _ = writeln!(
            r,
            "| {n} | {:.2} | {} | {} | {} |",
            startup.as_secs_f64(),
            mib(rss0),
            mib(hwm),
            mib(rss1)
        );
    }
    Ok(())
}

/// The load of `memory` and `soak`: the hot log in the glob, one noise
/// line to a cold log every 10 ms.
fn plan_for_site(
    o: &Opts,
    layout: &Layout,
    rate: u64,
    seconds: f64,
    marker_every: u64,
    rules: usize,
    rotate_bytes: Option<u64>,
) -> Plan {
    let logs = layout.site.join("Logs");
    let mut cold: Vec<PathBuf> = std::fs::read_dir(&logs)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().is_some_and(|n| n != "despool.log"))
                .collect()
        })
        .unwrap_or_default();
    cold.sort();
    let cold_every = (Duration::from_millis(10).as_secs_f64() / o.tick.as_secs_f64())
        .round()
        .max(1.0) as u64;
    Plan {
        path: logs.join("despool.log"),
        rate,
        tick: o.tick,
        duration: Duration::from_secs_f64(seconds),
        marker_every,
        rotate_bytes,
        cold,
        cold_every,
        seed: o.seed,
        rules,
        timeline_every: Some(Duration::from_millis(10)),
    }
}

/// `soak`: `memory`'s site under load with rotation, RSS sampled.
fn soak(o: &Opts) -> Result<String, String> {
    let files = o.files.unwrap_or(500);
    let rules = o.rules.unwrap_or(1000);
    let rate = o.rate.unwrap_or(10_000);
    let marker_every = o.marker_every.unwrap_or(100);
    let seconds = o.seconds.unwrap_or(o.minutes * 60.0);
    let rotate = (o.rotate_mib * MIB) as u64;
    let load_before = loadavg();
    let layout = build_site(o, "soak", files, rules)?;
    let agent = start(o, &layout)?;
    let pid = agent.pid();
    let ticks = agent::clock_ticks();
    let tail = AlertTail::follow(
        layout.alerts.clone(),
        layout.state.join("state.json"),
        o.poll,
    );
    sleep_secs(o.settle.unwrap_or(3.0));
    let plan = plan_for_site(
        o,
        &layout,
        rate,
        seconds,
        marker_every,
        rules,
        (rotate > 0).then_some(rotate),
    );
    progress(&format!(
        "soak: {seconds} s at {rate} lines/s, rotating at {} MiB, sampling every {} s",
        o.rotate_mib, o.sample_secs
    ));
    let p = Arc::new(Progress::default());
    let mut prev = CpuMark::take(pid, ticks);
    let first = prev.at;
    let writer = load::spawn(plan, Arc::clone(&p));
    struct Sample {
        t: f64,
        rss: u64,
        hwm: u64,
        fds: usize,
        cpu: f64,
        written: u64,
        seen: u64,
        rotations: u64,
    }
    let mut samples = Vec::new();
    let every = Duration::from_secs_f64(o.sample_secs);
    let mut next = first + every;
    loop {
        let done = writer.is_finished();
        let now = Instant::now();
        if now < next && !done {
            std::thread::sleep((next - now).min(Duration::from_millis(100)));
            continue;
        }
        if done && now.duration_since(prev.at) < Duration::from_secs(1) {
            break;
        }
        let c = CpuMark::take(pid, ticks);
        let s = Sample {
            t: c.at.duration_since(first).as_secs_f64(),
            rss: agent::status_kib(pid, "VmRSS").unwrap_or(0),
            hwm: agent::status_kib(pid, "VmHWM").unwrap_or(0),
            fds: agent::open_fds(pid),
            cpu: prev.usage(&c).0,
            written: p.markers.load(std::sync::atomic::Ordering::Relaxed),
            seen: tail.markers(),
            rotations: p.rotations.load(std::sync::atomic::Ordering::Relaxed),
        };
        progress(&format!(
            "t={:.0}s rss={:.1}MiB hwm={:.1}MiB fds={} cpu={:.0}% markers {}/{} rotations {}",
            s.t,
            s.rss as f64 / 1024.0,
            s.hwm as f64 / 1024.0,
            s.fds,
            s.cpu,
            s.seen,
            s.written,
            s.rotations
        ));
        samples.push(s);
        prev = c;
        next += every;
        if done {
            break;
        }
    }
    let w = writer
        .join()
        .map_err(|_| "the writer panicked".to_owned())?
        .map_err(|e| format!("write failed: {e}"))?;
    let all = tail.wait_for(w.marks.len() as u64, Duration::from_secs_f64(o.drain_secs));
    let obs = tail.finish();
    let hwm = agent::status_kib(pid, "VmHWM");
    let stderr = agent.stop()?;
    let load_after = loadavg();
    let lat = Lat::of(&w.marks, &obs.seen);

    // Flat: after the first minute (or fifth) of warm-up, the second half's
    // peak RSS is within 2 MiB of the first half's; slope by least squares.
    let warm = (seconds / 5.0).min(60.0);
    let steady: Vec<&Sample> = samples.iter().filter(|s| s.t >= warm).collect();
    let half = steady.len() / 2;
    let peak = |xs: &[&Sample]| xs.iter().map(|s| s.rss).max().unwrap_or(0);
    let (first_peak, second_peak) = (peak(&steady[..half]), peak(&steady[half..]));
    let slope = slope_kib_per_min(&steady.iter().map(|s| (s.t, s.rss)).collect::<Vec<_>>());
    let flat = !steady.is_empty() && second_peak <= first_peak + 2048;

    let mut r = String::new();
    let _ = writeln!(
        r,
        "### soak: {:.1} min, {rate} lines/s to `despool.log` (rotated to `despool.lo_` at {} MiB), 100 lines/s to the cold logs, {}, {files} followed files\n",
        seconds / 60.0,
        o.rotate_mib,
        rules_note(o, rules)
    );
    let _ = writeln!(
        r,
        "- written: {} lines ({:.0} MiB), {} rotations, {} markers; alerted: {} (duplicates {}), all: {all}",
        w.lines,
        w.bytes as f64 / MIB,
        w.rotations,
        w.marks.len(),
        obs.seen.iter().flatten().count(),
        obs.duplicates
    );
    let _ = writeln!(
        r,
        "- RSS after warm-up ({warm:.0} s): first-half peak {}, second-half peak {}, least-squares slope {slope:+.1} KiB/min; VmHWM at the end {}",
        mib(Some(first_peak)),
        mib(Some(second_peak)),
        mib(hwm)
    );
    let _ = writeln!(
        r,
        "- load average before / after: {load_before} / {load_after}"
    );
    let _ = writeln!(
        r,
        "- agent's stop line: `{}`; it read every line written ({} to the hot log, {} to the cold ones): {}",
        agent::stop_counters(&stderr),
        w.lines,
        w.cold_lines,
        agent::lines_check(&stderr, w.lines + w.cold_lines)
    );
    for p in agent::problems(&stderr).iter().take(5) {
        let _ = writeln!(r, "- agent warning: `{p}`");
    }
    let _ = writeln!(r, "\n{}\n{}", Lat::HEADER, lat.row());
    let _ = writeln!(
        r,
        "\n| t (s) | VmRSS MiB | VmHWM MiB | open fds | agent CPU % | markers written | markers alerted | rotations |\n|---|---|---|---|---|---|---|---|"
    );
    // At most ~40 rows: every k-th sample, and the last.
    let k = samples.len().div_ceil(40).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % k != 0 && i + 1 != samples.len() {
            continue;
        }
        let _ = writeln!(
            r,
            "| {:.0} | {:.1} | {:.1} | {} | {:.0} | {} | {} | {} |",
            s.t,
            s.rss as f64 / 1024.0,
            s.hwm as f64 / 1024.0,
            s.fds,
            s.cpu,
            s.written,
            s.seen,
            s.rotations
        );
    }
    let max_rss = samples.iter().map(|s| s.rss).max().unwrap_or(0) as f64 / 1024.0;
    let _ = writeln!(
        r,
        "\nTargets: RSS flat (second-half peak within 2 MiB of the first's): **{}**; under 64 MiB throughout: **{}** (max sampled {max_rss:.1} MiB); every marker alerted once: **{}**",
        verdict(flat),
        verdict(max_rss < 64.0),
        verdict(lat.missing == 0 && obs.duplicates == 0)
    );
    Ok(r)
}

/// Least-squares slope of (seconds, KiB) points, in KiB per minute.
fn slope_kib_per_min(points: &[(f64, u64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1 as f64).sum::<f64>() / n;
    let num: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 as f64 - my)).sum();
    let den: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if den == 0.0 { 0.0 } else { num / den * 60.0 }
}
