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
            Say("The nightly site backup starts: SMS Site Backup stops the SMS services."),
        ),
        (
            0,
            Log(
                "smsbkup.log",
                "SMS_SITE_BACKUP",
                "Stopping all SMS services...",
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
            Say(
                "Services are back. SMS_EXECUTIVE restarts its threads — and the despooler deadlocks (KB Q260366).",
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
        300,
        Say("Instructions keep arriving from the parent site; nothing is despooled."),
    ));
    s.push((
        540,
        Say("The operator sees the alert and restarts SMS_EXECUTIVE."),
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
    s.push((720, Say("The inbox is empty again; the despooler works. The alert resolves once the signals have been quiet for the rules' windows.")));
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
    println!(
        "rules  the bundled pack ({} rules); alerts also go to {}",
        rules.rules.len(),
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
            let at = Timestamp::parse_rfc3339(&doc.timestamp)
                .map_or_else(|_| doc.timestamp.clone(), |t| stamp(t, origin));
            println!(
                "\n{at}  ALERT {} ({}): {}",
                doc.logwarden.alert.status.to_uppercase(),
                doc.logwarden.alert.severity,
                doc.message
            );
            if let Ok(json) = serde_json::to_string_pretty(doc) {
                for line in json.lines() {
                    println!("        {line}");
                }
            }
            println!();
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
    Ok(())
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
            Step::Say(text) => println!("{t}  -- {text}"),
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
