//! The Windows rotation check (issue 4, SPEC §8), run under Wine by
//! `tests/wine/rotate.sh` (and natively anywhere):
//!
//! ```text
//! rotate PATH/TO/logwarden[.exe]
//! ```
//!
//! Standard library only, built with `rustc` alone, so that the Windows
//! build needs none of the crate's dev-dependencies.
//!
//! It starts `logwarden run` on a temp site with a rule that alerts on
//! every line, then acts as the SMS writer: it holds its log open (shared
//! for read, write and delete, as SMS does), writes lines, renames the log
//! to `.lo_` *while the agent holds it too*, writes late lines through the
//! old handle, and starts a new log. Then it rotates a second time, over
//! the first `.lo_` (which the agent closes once drained and quiet), and
//! checks that every line arrived exactly once, each file's lines in order,
//! the old file's lines before the new file's. Exit 0 on success, 1 with
//! the documents seen otherwise, 2 when the agent cannot be run.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Any failure, as a sentence.
type Failure = Box<dyn std::error::Error>;

/// How long any one wait may take.
const WAIT: Duration = Duration::from_secs(60);

const RULES: &str = r#"
schema = 1

[[source]]
id = "app"
path = 'Logs\app.log'
format = "plain"

[[match]]
id = "line"
source = "app"
regex = '^'
alert = true
"#;

fn main() -> ExitCode {
    let Some(agent) = std::env::args_os().nth(1) else {
        eprintln!("usage: rotate PATH/TO/logwarden[.exe]");
        return ExitCode::from(2);
    };
    let started = Instant::now();
    match check(Path::new(&agent)) {
        Ok(()) => {
            println!(
                "rotate: ok: every line once, in order, across two rotations to .lo_ ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rotate: FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

/// The agent process; killed on drop.
struct Agent {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn start(exe: &Path, dir: &Path) -> Result<Agent, Failure> {
        let mut child = Command::new(exe)
            .arg("run")
            .arg("--site")
            .arg(dir.join("site"))
            .arg("--rules")
            .arg(dir.join("rules.toml"))
            .arg("--state")
            .arg(dir.join("state"))
            .arg("--output")
            .arg(dir.join("alerts.ndjson"))
            .env("LOGWARDEN_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            });
        }
        let agent = Agent { child, stderr };
        wait_until("the agent to be ready", || {
            Ok(agent.stderr().contains("agent ready"))
        })
        .map_err(|e| format!("{e}; agent said:\n{}", agent.stderr()))?;
        Ok(agent)
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Polls `cond` every 20 ms until it holds, for at most [`WAIT`].
fn wait_until(what: &str, mut cond: impl FnMut() -> Result<bool, Failure>) -> Result<(), Failure> {
    let watch = Instant::now();
    while !cond()? {
        if watch.elapsed() > WAIT {
            return Err(format!("timed out waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Opens (creating) a log the way the SMS writer does: appending, and
/// shared for read, write and delete so that it can be renamed while open.
fn open_log(path: &Path) -> Result<File, Failure> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
        options.share_mode(0x1 | 0x2 | 0x4);
    }
    Ok(options
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?)
}

fn write_lines(file: &mut File, lines: &[&str]) -> Result<(), Failure> {
    for line in lines {
        file.write_all(format!("{line}\r\n").as_bytes())?;
    }
    file.flush()?;
    Ok(())
}

/// The evidence messages of the complete documents written so far.
/// (The lines written here need no JSON escapes, so a plain search reads
/// the evidence message.)
fn messages(alerts: &Path) -> Result<Vec<String>, Failure> {
    const KEY: &str = "\"evidence\":[{\"message\":\"";
    let text = match std::fs::read_to_string(alerts) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| {
            let start = l
                .find(KEY)
                .map(|i| i + KEY.len())
                .ok_or_else(|| format!("a document without evidence: {l}"))?;
            let len = l[start..]
                .find('"')
                .ok_or_else(|| format!("an unterminated message: {l}"))?;
            Ok(l[start..start + len].to_owned())
        })
        .collect()
}

fn wait_for_lines(alerts: &Path, n: usize) -> Result<Vec<String>, Failure> {
    let mut got = Vec::new();
    wait_until(&format!("{n} documents"), || {
        got = messages(alerts)?;
        Ok(got.len() >= n)
    })
    .map_err(|e| format!("{e}; got {got:?}"))?;
    Ok(got)
}

/// Renames `from` to `to` (replacing it), retrying while Windows refuses
/// because a handle without delete sharing is open (the agent must close a
/// rotated file once it is drained and quiet). Returns how long it took.
fn rotate(from: &Path, to: &Path) -> Result<Duration, Failure> {
    let watch = Instant::now();
    let mut last = None;
    wait_until("the rename to .lo_ to be allowed", || {
        match std::fs::rename(from, to) {
            Ok(()) => Ok(true),
            Err(e) => {
                last = Some(e.to_string());
                Ok(false)
            }
        }
    })
    .map_err(|e| format!("{e}: {}", last.unwrap_or_default()))?;
    Ok(watch.elapsed())
}

/// A fresh folder under the system's temp folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, Failure> {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "logwarden-rotate-{}-{}",
            std::process::id(),
            since.as_nanos()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check(exe: &Path) -> Result<(), Failure> {
    let dir = TempDir::new()?;
    let logs: PathBuf = dir.path().join("site").join("Logs");
    std::fs::create_dir_all(&logs)?;
    std::fs::write(dir.path().join("rules.toml"), RULES)?;
    let alerts = dir.path().join("alerts.ndjson");
    let live = logs.join("app.log");
    let rotated = logs.join("app.lo_");
    let agent = Agent::start(exe, dir.path())?;

    // The first incarnation, held open by the writer and by the agent.
    let mut a = open_log(&live)?;
    write_lines(&mut a, &["a1", "a2", "a3"])?;
    wait_for_lines(&alerts, 3)?;
    write_lines(&mut a, &["a4", "a5"])?;
    // Renamed while both hold it, possibly before a4 and a5 were read.
    let first = rotate(&live, &rotated)?;
    write_lines(&mut a, &["a late 1", "a late 2"])?;
    let mut b = open_log(&live)?;
    write_lines(&mut b, &["b1", "b2", "b3"])?;
    wait_for_lines(&alerts, 10)?;
    drop(a);

    // The second rotation replaces the first `.lo_`.
    write_lines(&mut b, &["b4"])?;
    let second = rotate(&live, &rotated)?;
    write_lines(&mut b, &["b late"])?;
    let mut c = open_log(&live)?;
    write_lines(&mut c, &["c1", "c2"])?;
    let got = wait_for_lines(&alerts, 14)?;
    drop(b);
    drop(c);
    drop(agent);

    let want_a = ["a1", "a2", "a3", "a4", "a5", "a late 1", "a late 2"];
    let want_b = ["b1", "b2", "b3", "b4", "b late"];
    let want_c = ["c1", "c2"];
    let pick = |prefix: char| -> Vec<&str> {
        got.iter()
            .map(String::as_str)
            .filter(|m| m.starts_with(prefix))
            .collect()
    };
    let position = |m: &str| got.iter().position(|g| g == m);
    let ok = got.len() == want_a.len() + want_b.len() + want_c.len()
        && pick('a') == want_a
        && pick('b') == want_b
        && pick('c') == want_c
        // The old file's lines written before the rename come first.
        && position("a5") < position("b1")
        && position("b4") < position("c1");
    if !ok {
        return Err(format!(
            "documents are not every line once in order: {got:?} (expected {want_a:?}, {want_b:?}, {want_c:?})"
        )
        .into());
    }
    println!(
        "rotate: renames to .lo_ allowed after {} ms (agent holding the file) and {} ms (replacing the first .lo_)",
        first.as_millis(),
        second.as_millis()
    );
    Ok(())
}
