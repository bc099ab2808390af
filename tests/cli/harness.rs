//! Test harness: temp sites, the real binary, polling with deadlines.

use std::fs::OpenOptions;
use std::io::Write;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logwarden"))
}

/// A temp folder with a site, a state folder and an alert file.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        Site {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn root(&self) -> PathBuf {
        self.path("site")
    }

    pub fn alerts(&self) -> PathBuf {
        self.path("alerts.ndjson")
    }

    /// Writes a file (creating folders) under the temp folder.
    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Appends to a file (creating it).
    pub fn append(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        f.write_all(content.as_ref()).unwrap();
        f.flush().unwrap();
    }

    /// Starts `logwarden run` on this site with `rules` (a path relative to
    /// the temp folder) and the alert file as output.
    pub fn start(&self, rules: &str, extra: &[&str]) -> Agent {
        let mut cmd = self.run_command();
        cmd.arg("--rules").arg(self.path(rules)).args(extra);
        Agent::spawn(cmd)
    }

    /// `logwarden run` on this site with its state folder and the alert
    /// file as output (the bundled rules unless `--rules` is added).
    pub fn run_command(&self) -> Command {
        std::fs::create_dir_all(self.root()).unwrap();
        let mut cmd = bin();
        cmd.arg("run")
            .arg("--site")
            .arg(self.root())
            .arg("--state")
            .arg(self.path("state"))
            .arg("--output")
            .arg(self.alerts());
        cmd
    }

    /// Alert documents written so far.
    pub fn docs(&self) -> Vec<Value> {
        read_docs(&self.alerts())
    }

    /// Waits until at least `n` documents are written; returns them.
    pub fn wait_docs(&self, n: usize, within: Duration) -> Vec<Value> {
        let mut docs = Vec::new();
        wait_until(within, &format!("{n} alert document(s)"), || {
            docs = self.docs();
            docs.len() >= n
        });
        docs
    }
}

/// Parses an NDJSON file (missing: empty).
pub fn read_docs(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}")))
        .collect()
}

/// Polls `cond` every 20 ms until it holds or `within` passes (then panics
/// naming `what`).
pub fn wait_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running agent; stopped (SIGTERM, then waited for) on drop. Its stderr
/// is collected by a thread so that the pipe never fills.
pub struct Agent {
    child: Option<Child>,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// How an agent ended.
pub struct Stopped {
    pub status: ExitStatus,
    pub stderr: String,
}

impl Agent {
    /// Starts `cmd` (a `logwarden run …`) and waits until it is ready.
    pub fn spawn(mut cmd: Command) -> Agent {
        let child = cmd
            .env("LOGWARDEN_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let agent = Agent::watch(child);
        wait_until(Duration::from_secs(30), "agent ready", || {
            agent.stderr().contains("agent ready") || agent.exited()
        });
        assert!(
            !agent.exited(),
            "agent exited at start:\n{}",
            agent.stderr()
        );
        agent
    }

    /// True when the process has ended (its stderr was closed).
    pub fn exited(&self) -> bool {
        self.reader
            .as_ref()
            .is_none_or(std::thread::JoinHandle::is_finished)
    }

    /// Sends a signal by name (`HUP`, `KILL`, …).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Follows a started agent (collects its stderr; stops it on drop).
    pub fn watch(mut child: Child) -> Agent {
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Agent {
            child: Some(child),
            stderr,
            reader: Some(reader),
        }
    }

    /// What the agent wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The agent's standard output (piped; whoever takes it must read it,
    /// or an `--output -` blocks once the pipe is full).
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.as_mut().and_then(|c| c.stdout.take())
    }

    /// Kills the agent (SIGKILL: no shutdown, no final save) and waits for it.
    pub fn kill(mut self) -> Stopped {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        Stopped {
            status,
            stderr: self.stderr(),
        }
    }

    /// Stops the agent gracefully (SIGTERM) and waits for it.
    pub fn stop(mut self) -> Stopped {
        let status = terminate(self.child.take().unwrap());
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        Stopped {
            status,
            stderr: self.stderr(),
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let _ = terminate(child);
        }
    }
}

fn terminate(mut child: Child) -> ExitStatus {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
    }
    #[cfg(not(unix))]
    {
        let _ = child.kill();
    }
    child.wait().unwrap()
}

/// The alert JSON Schema shipped in the project.
pub fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/alert.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// Asserts every document validates against the schema.
pub fn assert_schema(docs: &[Value]) {
    let v = validator();
    for d in docs {
        let errors: Vec<String> = v
            .iter_errors(d)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{d}");
    }
}

/// `(rule id, status)` of each document.
pub fn summary(docs: &[Value]) -> Vec<(String, String)> {
    docs.iter()
        .map(|d| {
            (
                d["rule"]["id"].as_str().unwrap().to_owned(),
                d["logwarden"]["alert"]["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

/// A small deterministic PRNG (xorshift) for chunk sizes.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// An SMS (ConfigMgr) line stamped with the current time in UTC.
pub fn sms_now(message: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let t = logwarden::time::Timestamp::from_unix_nanos(now.as_nanos() as i64).to_civil_utc();
    format!(
        "{message}  $$<SMS_DESPOOLER><{:02}-{:02}-{:04} {:02}:{:02}:{:02}.{:03}+000><thread=4844 (0x12EC)>\r\n",
        t.month,
        t.day,
        t.year,
        t.hour,
        t.minute,
        t.second,
        t.nanos / 1_000_000
    )
}
