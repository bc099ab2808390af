//! The agent under test: `logwarden run` started like the integration tests
//! start it (`LOGWARDEN_LOG=info`, ready at `agent ready` on stderr), stopped
//! with SIGTERM, and watched through Linux `/proc`: CPU time (`stat`,
//! per-thread `schedstat`), memory (`status`), context switches and open
//! files.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where one agent keeps its site, rules, state and alerts.
pub struct Layout {
    /// The site root (`--site`): only the logs are under it, so that the
    /// agent's own writes (state, alerts) never wake its file watcher.
    pub site: PathBuf,
    /// The rule file.
    pub rules: PathBuf,
    /// `--state`.
    pub state: PathBuf,
    /// `--output`.
    pub alerts: PathBuf,
}

impl Layout {
    /// A fresh layout under `dir` (removed first when it exists).
    pub fn fresh(dir: &Path) -> std::io::Result<Layout> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("Logs"))?;
        Ok(Layout {
            site,
            rules: dir.join("rules.toml"),
            state: dir.join("state"),
            alerts: dir.join("alerts.ndjson"),
        })
    }
}

/// A running `logwarden run`. Killed on drop if still running.
pub struct Agent {
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    /// How long it took from spawn to `agent ready`.
    pub startup: Duration,
}

impl Agent {
    /// Starts the agent on `layout` and waits (up to `within`) for `agent
    /// ready` on its stderr.
    pub fn start(bin: &Path, layout: &Layout, within: Duration) -> Result<Agent, String> {
        let spawned = Instant::now();
        let mut child = Command::new(bin)
            .arg("run")
            .arg("--site")
            .arg(&layout.site)
            .arg("--rules")
            .arg(&layout.rules)
            .arg("--state")
            .arg(&layout.state)
            .arg("--output")
            .arg(&layout.alerts)
            .env("LOGWARDEN_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take();
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            let Some(pipe) = pipe else { return };
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut s) = sink.lock() {
                    s.push_str(&strip_ansi(&line));
                    s.push('\n');
                }
            }
        });
        let mut agent = Agent {
            child: Some(child),
            stderr,
            reader: Some(reader),
            startup: Duration::ZERO,
        };
        let deadline = spawned + within;
        loop {
            if agent.stderr().contains("agent ready") {
                agent.startup = spawned.elapsed();
                return Ok(agent);
            }
            if let Some(c) = agent.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                return Err(format!(
                    "the agent exited before it was ready ({status}):\n{}",
                    agent.stderr()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the agent was not ready within {within:?}:\n{}",
                    agent.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Everything the agent wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Stops the agent (SIGTERM; SIGKILL after 60 s) and returns its
    /// stderr, whose last line has its counters.
    pub fn stop(mut self) -> Result<String, String> {
        let Some(mut child) = self.child.take() else {
            return Ok(self.stderr());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
            }
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        match status {
            Some(s) if s.success() => Ok(self.stderr()),
            Some(s) => Err(format!("the agent exited with {s}:\n{}", self.stderr())),
            None => Err(format!(
                "the agent did not stop within 60 s of SIGTERM (killed):\n{}",
                self.stderr()
            )),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `line` without terminal colour codes (`ESC [ … letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The counters of the agent's `logwarden agent stopped` line, as
/// `key=value` text.
pub fn stop_counters(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("logwarden agent stopped"))
        .map(|l| {
            l.split_whitespace()
                .filter(|w| w.contains('='))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// One counter of the agent's stop line (`lines`, `records`, …).
pub fn stop_counter(stderr: &str, key: &str) -> Option<u64> {
    stop_counters(stderr).split(' ').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

/// Whether the agent read exactly the `written` lines, as a report phrase.
pub fn lines_check(stderr: &str, written: u64) -> String {
    match stop_counter(stderr, "lines") {
        Some(n) if n == written => format!("yes ({n})"),
        Some(n) => format!("**NO: read {n} of {written}**"),
        None => "? (no stop line)".into(),
    }
}

/// Lines of the agent's stderr at WARN or ERROR level.
pub fn problems(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .map(str::to_owned)
        .collect()
}

/// Clock ticks per second of `/proc/*/stat` times.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds of process `pid` (all its threads, living
/// and exited), from `/proc/PID/stat`; `pid` 0 means this process.
pub fn cpu_seconds(pid: u32, ticks: f64) -> Option<f64> {
    let path = if pid == 0 {
        "/proc/self/stat".to_owned()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks)
}

/// A value in KiB from `/proc/PID/status` (`VmRSS`, `VmHWM`, …).
pub fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        v.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Open file descriptors of `pid`.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// One thread of the agent.
#[derive(Clone, Debug)]
pub struct ThreadSample {
    /// Thread id.
    pub tid: u32,
    /// Its name (`comm`).
    pub name: String,
    /// CPU time on record (`schedstat`), nanoseconds.
    pub cpu_ns: u64,
    /// Voluntary + involuntary context switches.
    pub switches: u64,
}

/// Every living thread of `pid`.
pub fn threads(pid: u32) -> Vec<ThreadSample> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let base = entry.path();
        let name = std::fs::read_to_string(base.join("comm"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let cpu_ns = std::fs::read_to_string(base.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let status = std::fs::read_to_string(base.join("status")).unwrap_or_default();
        let switches = status
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum();
        out.push(ThreadSample {
            tid,
            name,
            cpu_ns,
            switches,
        });
    }
    out.sort_by_key(|t| t.tid);
    out
}

/// Per thread: CPU% of one core and context switches per second between
/// two samples `wall` apart (threads present in both).
pub fn thread_usage(
    before: &[ThreadSample],
    after: &[ThreadSample],
    wall: Duration,
) -> Vec<(String, f64, f64)> {
    let secs = wall.as_secs_f64().max(1e-9);
    after
        .iter()
        .filter_map(|a| {
            let b = before.iter().find(|b| b.tid == a.tid)?;
            Some((
                format!("{} ({})", a.name, a.tid),
                (a.cpu_ns.saturating_sub(b.cpu_ns)) as f64 / 1e9 / secs * 100.0,
                a.switches.saturating_sub(b.switches) as f64 / secs,
            ))
        })
        .collect()
}
