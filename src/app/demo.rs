//! `logwarden demo`: a Q260366 incident on a simulated SMS 2.0 site, watched
//! by the real agent with the bundled rules.
//!
//! The site lives in a temp folder. A writer thread plays the incident into
//! it — the site backup stops and restarts the SMS services, the despooler
//! hangs and repeats `Waiting for an available despooling thread`, files pile
//! up in `Inboxes\despoolr.box\receive`, the operator restarts
//! SMS_EXECUTIVE, the inbox drains — while the agent ([`crate::pipeline::live`],
//! unchanged) follows the logs and samples the inbox.
//!
//! The incident takes about twenty minutes of site time; the demo plays it
//! time-lapsed (one second shows [`SPEED`] seconds) on a [`ScaledClock`] shared
//! by the writer (log timestamps, file times) and the agent (sample times,
//! read times), so every time in the alerts is the site's own, and the
//! bundled rules run with their real windows.
//!
//! Alerts are shown as an operator would read them: what fired, the records
//! behind it, the state of the signals it combines, and the recommendation,
//! read from the document's wire format (SPEC §7) rather than from its Rust
//! types; the full document is one line in the demo's alert file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{AppError, host_name, load_rules};
use crate::alert::{AlertDocument, Context};
use crate::output::file::FileOutput;
use crate::pipeline::live::{self, LiveConfig};
use crate::source::{ReadFrom, TailOptions};
use crate::state::StateDir;
use crate::time::{Clock, ScaledClock, SystemClock, Timestamp};

/// Site seconds per real second.
pub const SPEED: u32 = 40;

/// Width the demo wraps its prose at.
const WIDTH: usize = 78;

/// What happens, at which site time (seconds from the start).
enum Step {
    /// A line appended to a log under `Logs`.
    Log(&'static str, &'static str, &'static str),
    /// `n` files arrive in the despooler's receive inbox.
    Arrive(usize),
    /// `n` files are processed (removed) from the inbox.
    Drain(usize),
    /// A sentence for the viewer.
    Say(&'static str),
}

fn script() -> Vec<(u64, Step)> {
    use Step::*;
    let mut s = vec![
        (
            0,
            Say("02:00, the nightly site backup: SMS Site Backup stops the SMS services."),
        ),
        (
            0,
            Log(
                "smsbkup.log",
                "SMS_SITE_BACKUP",
                "Stopping all SMS services...",
            ),
        ),
        (
            10,
            Log(
                "smsbkup.log",
                "SMS_SITE_BACKUP",
                "Backing up the site database to D:\\SMSbackup\\SiteDBServer...",
            ),
        ),
        (20, Arrive(3)),
        (
            40,
            Log("smsbkup.log", "SMS_SITE_BACKUP", "Backup completed"),
        ),
        (
            45,
            Log(
                "smsbkup.log",
                "SMS_SITE_BACKUP",
                "Starting all SMS services...",
            ),
        ),
        (
            50,
            Log(
                "Despool.log",
                "SMS_DESPOOLER",
                "SMS_EXECUTIVE started SMS_DESPOOLER as thread ID 1284 (0x504).",
            ),
        ),
        (
            55,
            Say(
                "The services are back and SMS_EXECUTIVE starts its threads, but two of them deadlock (KB Q260366): the despooler waits for a despooling thread that never comes.",
            ),
        ),
    ];
    for i in 0..8u64 {
        s.push((
            90 + i * 50,
            Log(
                "Despool.log",
                "SMS_DESPOOLER",
                "Waiting for an available despooling thread",
            ),
        ));
    }
    for i in 0..16u64 {
        s.push((100 + i * 25, Arrive(6)));
    }
    s.push((
        200,
        Say("logwarden has seen the hang line three times in ten minutes. Alone that proves nothing: a busy despooler waits now and then."),
    ));
    s.push((
        300,
        Say("Instructions from the parent site keep arriving in despoolr.box\\receive and nothing is despooled: the second signal."),
    ));
    s.push((
        540,
        Say("The operator reads the recommendation and restarts SMS_EXECUTIVE."),
    ));
    s.push((
        560,
        Log(
            "Despool.log",
            "SMS_DESPOOLER",
            "SMS_EXECUTIVE started SMS_DESPOOLER as thread ID 2204 (0x89C).",
        ),
    ));
    for i in 0..10u64 {
        s.push((570 + i * 12, Drain(10)));
    }
    for i in 0..6u64 {
        s.push((
            575 + i * 30,
            Log(
                "Despool.log",
                "SMS_DESPOOLER",
                "Despooler successfully executed one instruction.",
            ),
        ));
    }
    s.push((720, Say("despoolr.box\\receive is empty and the despooler works. logwarden calls the incident over once both signals have stayed quiet for the rules' windows.")));
    // Stable: steps at the same time keep their order.
    s.sort_by_key(|(at, _)| *at);
    s
}

/// Runs the demo: about half a minute, then a summary.
///
/// # Errors
/// When the temp site cannot be created or the bundled rules are broken.
pub fn demo() -> Result<(), AppError> {
    let rules = load_rules(&[])?;
    let dir = tempfile::Builder::new()
        .prefix("logwarden-demo-")
        .tempdir()
        .map_err(|e| {
            AppError::Runtime(format!(
                "cannot create a temp folder for the demo site: {e}"
            ))
        })?;
    let site = dir.path().join("SMS");
    let logs = site.join("Logs");
    let inbox = site.join("Inboxes").join("despoolr.box").join("receive");
    for d in [&logs, &inbox] {
        std::fs::create_dir_all(d)
            .map_err(|e| AppError::Runtime(format!("cannot create {}: {e}", d.display())))?;
    }
    let origin = SystemClock.now();
    let clock = Arc::new(ScaledClock::new(origin, SPEED));
    // Quiet history before the agent starts (not alerted on: read from end).
    for (log, comp, msg) in [
        (
            "Despool.log",
            "SMS_DESPOOLER",
            "Despooler successfully executed one instruction.",
        ),
        (
            "smsbkup.log",
            "SMS_SITE_BACKUP",
            "SMS Site Backup service is idle.",
        ),
    ] {
        append(&logs.join(log), comp, msg, clock.now())
            .map_err(|e| AppError::Runtime(format!("cannot write the demo site: {e}")))?;
    }
    let state =
        StateDir::open(&dir.path().join("state")).map_err(|e| AppError::Runtime(e.to_string()))?;
    let alerts_path = dir.path().join("alerts.ndjson");
    let output = FileOutput::open(&alerts_path).map_err(|e| AppError::Runtime(e.to_string()))?;

    println!("logwarden demo: KB Q260366, the despooler stall after a site backup");
    println!("site   {}", site.display());
    // A log-fed gauge's feed is a rule of the set, not one the reader counts.
    let own_rules = (0..rules.rules.len())
        .filter(|&i| rules.fed_gauge(crate::event::RuleId(i as u32)).is_none())
        .count();
    println!(
        "rules  the bundled pack ({own_rules} rules); alerts also go to {}",
        alerts_path.display()
    );
    println!(
        "time   time-lapse x{SPEED}: the ~20 minutes of the incident play in about half a minute;"
    );
    println!("       every time shown is site time, as in the logs and the alerts\n");

    let seen = Arc::new(Mutex::new(Vec::<AlertDocument>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let shutdown = Arc::new(AtomicBool::new(false));
    let observer = {
        let seen = Arc::clone(&seen);
        let done = Arc::clone(&done);
        Box::new(move |doc: &AlertDocument| {
            if let Ok(json) = serde_json::to_value(doc) {
                print!("{}", card(&json, origin));
            }
            if let Ok(mut s) = seen.lock() {
                s.push(doc.clone());
                let fired = s
                    .iter()
                    .filter(|d| d.logwarden.alert.status == "firing")
                    .count();
                let resolved = s
                    .iter()
                    .filter(|d| d.logwarden.alert.status == "resolved")
                    .count();
                if fired > 0 && resolved >= fired {
                    done.store(true, Ordering::SeqCst);
                }
            }
        })
    };
    let ctx = Context {
        host: host_name(&rules),
        labels: rules.defaults.labels.clone(),
    };
    let agent = {
        let clock: Arc<dyn Clock> = clock.clone();
        let shutdown = Arc::clone(&shutdown);
        let cfg = LiveConfig {
            rules,
            ctx,
            tail: TailOptions {
                site: site.clone(),
                read_from: ReadFrom::End,
                ..TailOptions::default()
            },
            outputs: vec![Box::new(output)],
            state,
            clock,
            poll: Duration::from_millis(100),
            rescan: Duration::from_millis(500),
            observer: Some(observer),
        };
        std::thread::Builder::new()
            .name("agent".into())
            .spawn(move || live::run(cfg, shutdown))
            .map_err(|e| AppError::Runtime(format!("cannot start the agent thread: {e}")))?
    };

    let played = play(&clock, origin, &logs, &inbox);
    // Wait for the alerts to resolve (the rules' windows), at most 30 minutes of site time.
    let deadline = origin.saturating_add(Duration::from_secs(30 * 60));
    while played.is_ok() && !done.load(Ordering::SeqCst) && clock.now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    shutdown.store(true, Ordering::SeqCst);
    let report = agent
        .join()
        .map_err(|_| AppError::Runtime("the agent thread stopped unexpectedly".into()))?
        .map_err(|e| AppError::Runtime(e.to_string()))?;
    played.map_err(|e| AppError::Runtime(format!("cannot write the demo site: {e}")))?;

    let docs = seen.lock().map(|s| s.clone()).unwrap_or_default();
    println!(
        "Summary: the agent read {} log records, {} matched a rule, {} alert documents were sent.",
        report.records,
        report.matched,
        docs.len()
    );
    for d in &docs {
        println!(
            "  {}  {:<8} {}  uuid {}",
            Timestamp::parse_rfc3339(&d.timestamp)
                .map_or_else(|_| d.timestamp.clone(), |t| stamp(t, origin)),
            d.logwarden.alert.status,
            d.rule.id,
            d.logwarden.alert.uuid
        );
    }
    println!(
        "The hang lines alone and the backlog alone are only building blocks; the alert fired when they coincided,"
    );
    println!("and the resolution carries the same logwarden.alert.uuid as the firing document.");
    println!(
        "Every document is one line of {} (docs/alerts.md describes its fields).",
        alerts_path.display()
    );
    Ok(())
}

/// An alert as the operator reads it: what fired, the records behind it, the
/// signals it combines, what to do. Read from the wire format (`doc`, the
/// JSON document), which is the contract, not from the Rust types.
fn card(doc: &serde_json::Value, origin: Timestamp) -> String {
    use std::fmt::Write as _;
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let when = |v: &serde_json::Value| {
        Timestamp::parse_rfc3339(v.as_str().unwrap_or_default())
            .map_or_else(|_| text(v), |t| stamp(t, origin))
    };
    let alert = &doc["logwarden"]["alert"];
    let status = text(&alert["status"]);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{}  ALERT {} [{}] {} ({})",
        when(&doc["@timestamp"]),
        status.to_uppercase(),
        text(&alert["severity"]),
        text(&doc["rule"]["name"]),
        text(&doc["rule"]["id"]),
    );
    for line in wrap(&text(&doc["message"]), WIDTH - 8) {
        let _ = writeln!(out, "        {line}");
    }
    if status == "resolved" {
        let _ = writeln!(
            out,
            "        same logwarden.alert.uuid as the firing document: {}",
            text(&alert["uuid"])
        );
        return out;
    }
    if let Some(evidence) = alert["evidence"].as_array().filter(|e| !e.is_empty()) {
        let _ = writeln!(out, "        evidence (the records behind it):");
        for e in evidence {
            let file = text(&e["log"]["file"]["path"]);
            let name = file.rsplit(['/', '\\']).next().unwrap_or(&file).to_owned();
            let _ = writeln!(
                out,
                "          {}  {name:<12} {}",
                when(&e["@timestamp"]),
                text(&e["message"])
            );
        }
    }
    if let Some(related) = alert["related"].as_array().filter(|r| !r.is_empty()) {
        let _ = writeln!(out, "        signals:");
        for r in related {
            let mut detail = String::new();
            if let Some(n) = r["count"].as_u64() {
                let _ = write!(detail, ", {n} records");
            }
            if let Some(g) = r["gauge"].as_object() {
                let files = g
                    .get("files")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0);
                let _ = write!(detail, ", {files} files in {}", text(&r["gauge"]["id"]));
            }
            if r["last_active"].is_string() {
                let _ = write!(detail, ", last active {}", when(&r["last_active"]));
            }
            let _ = writeln!(
                out,
                "          {:<11} {:<22} {}{detail}",
                text(&r["role"]),
                text(&r["rule"]),
                text(&r["status"]),
            );
        }
    }
    if let Some(rec) = alert["recommendation"].as_str() {
        let _ = writeln!(out, "        what to do:");
        for line in wrap(rec, WIDTH - 10) {
            let _ = writeln!(out, "          {line}");
        }
    }
    let _ = writeln!(
        out,
        "        logwarden.alert.uuid {}  reference: {}",
        text(&alert["uuid"]),
        text(&doc["rule"]["reference"])
    );
    out
}

/// `text` cut into lines of at most `width` characters at spaces (a longer
/// word stands alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `+MM:SS` of site time since the start.
fn stamp(t: Timestamp, origin: Timestamp) -> String {
    let s = t.saturating_since(origin).as_secs();
    format!("+{:02}:{:02}", s / 60, s % 60)
}

fn play(clock: &ScaledClock, origin: Timestamp, logs: &Path, inbox: &Path) -> std::io::Result<()> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut serial = 0u32;
    for (at, step) in script() {
        let due = origin.saturating_add(Duration::from_secs(at));
        let now = clock.now();
        if due > now {
            std::thread::sleep(clock.real(due.saturating_since(now)));
        }
        let now = clock.now();
        let t = stamp(now, origin);
        match step {
            Step::Say(text) => {
                for (i, line) in wrap(text, WIDTH - 10).iter().enumerate() {
                    let lead = if i == 0 {
                        format!("{t}  --")
                    } else {
                        " ".repeat(t.len() + 4)
                    };
                    println!("{lead} {line}");
                }
            }
            Step::Log(log, comp, msg) => {
                append(&logs.join(log), comp, msg, now)?;
                println!("{t}  {log:<12} {msg}");
            }
            Step::Arrive(n) => {
                for _ in 0..n {
                    serial += 1;
                    let p = inbox.join(format!("{serial:08X}.INS"));
                    let mut f = File::create(&p)?;
                    f.write_all(b"instruction")?;
                    f.set_modified(system_time(now))?;
                    files.push(p);
                }
                println!("{t}  {:<12} {} files waiting", "inbox", files.len());
            }
            Step::Drain(n) => {
                for p in files.drain(..n.min(files.len())) {
                    std::fs::remove_file(p)?;
                }
                println!("{t}  {:<12} {} files waiting", "inbox", files.len());
            }
        }
    }
    Ok(())
}

fn system_time(t: Timestamp) -> SystemTime {
    let nanos = u64::try_from(t.as_unix_nanos()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// Appends an SMS 2.0 line (`message  $$<COMPONENT><time zone><thread=…>`).
fn append(path: &Path, component: &str, message: &str, at: Timestamp) -> std::io::Result<()> {
    let c = at.to_civil_utc();
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = DAYS[at
        .as_unix_nanos()
        .div_euclid(86_400_000_000_000)
        .rem_euclid(7) as usize];
    let line = format!(
        "{message}  $$<{component}><{day} {} {:02} {:02}:{:02}:{:02}.{:03} {} Greenwich Standard Time><thread=1284 (0x504)>\r\n",
        MONTHS[usize::from(c.month.saturating_sub(1)) % 12],
        c.day,
        c.hour,
        c.minute,
        c.second,
        c.nanos / 1_000_000,
        c.year
    );
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_wraps_at_spaces_and_keeps_long_words_whole() {
        assert_eq!(
            wrap("the despooler waits for a thread", 14),
            ["the despooler", "waits for a", "thread"]
        );
        assert_eq!(
            wrap(r"see Inboxes\despoolr.box\receive now", 10),
            ["see", r"Inboxes\despoolr.box\receive", "now"]
        );
        assert!(wrap("  ", 10).is_empty());
    }

    #[test]
    fn an_alert_card_shows_evidence_signals_and_what_to_do() {
        let origin = Timestamp::from_unix_secs(1_000);
        let doc = serde_json::json!({
            "@timestamp": "1970-01-01T00:22:00.000Z",
            "message": "Despooler stall firing on PRI01.",
            "rule": { "id": "q260366-despool-stall", "name": "Despooler stall", "reference": "KB Q260366" },
            "logwarden": { "alert": {
                "status": "firing",
                "severity": "high",
                "uuid": "u-1",
                "evidence": [{
                    "message": "Waiting for an available despooling thread",
                    "log": { "file": { "path": "C:\\SMS\\Logs\\Despool.log" }, "offset": 0 },
                    "@timestamp": "1970-01-01T00:17:30.000Z"
                }],
                "related": [{
                    "rule": "despoolr-backlog", "role": "member", "status": "firing",
                    "last_active": "1970-01-01T00:22:00.000Z",
                    "gauge": { "id": "despoolr_receive", "files": 63 }
                }],
                "recommendation": "Restart SMS_EXECUTIVE."
            }}
        });
        let card = card(&doc, origin);
        assert_eq!(
            card,
            "\n+05:20  ALERT FIRING [high] Despooler stall (q260366-despool-stall)\n\
             \x20       Despooler stall firing on PRI01.\n\
             \x20       evidence (the records behind it):\n\
             \x20         +00:50  Despool.log  Waiting for an available despooling thread\n\
             \x20       signals:\n\
             \x20         member      despoolr-backlog       firing, 63 files in despoolr_receive, last active +05:20\n\
             \x20       what to do:\n\
             \x20         Restart SMS_EXECUTIVE.\n\
             \x20       logwarden.alert.uuid u-1  reference: KB Q260366\n"
        );
    }

    #[test]
    fn demo_lines_are_sms_2_0_shaped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Despool.log");
        append(
            &p,
            "SMS_DESPOOLER",
            "Waiting for an available despooling thread",
            Timestamp::from_unix_secs(962_544_226),
        )
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(
            text,
            "Waiting for an available despooling thread  $$<SMS_DESPOOLER><Sun Jul 02 13:23:46.000 2000 Greenwich Standard Time><thread=1284 (0x504)>\r\n"
        );
    }
}
