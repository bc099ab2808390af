//! The bundled pack on real site layouts: `logwarden run --site DIR` with no
//! other rule argument finds an SMS 2.0 layout (`Logs`, `Inboxes`) and a
//! ConfigMgr layout (`Logs`, `inboxes`, `inboxes\auth`), whatever the case of
//! the names, and `--rules` with `bundled = true` layers overrides on it.

use std::fs::File;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::harness::{Agent, Site, assert_schema, summary, wait_until};

/// Starts the agent on `site` with the bundled pack, plus `extra` arguments.
fn start(site: &Site, extra: &[&str]) -> Agent {
    let mut cmd = site.run_command();
    cmd.args(extra);
    Agent::spawn(cmd)
}

/// The agent's stderr without terminal colours.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes `rel` under the site with a modification time `age` ago.
fn old_file(site: &Site, rel: &str, age: Duration) {
    let p = site.write(&format!("site/{rel}"), "x");
    File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

/// What an SMS service writes when a thread dies (KB Q241419).
const CRASH: &str = "EXCEPTION INFORMATION\r\n\r\nService name = SMS_EXECUTIVE\r\nThread name = SMS_DESPOOLER\r\nException = 0xC0000005 (EXCEPTION_ACCESS_VIOLATION)\r\n";

/// Inbox rules that fire at once on an old file (their `for` set to 0s).
const AT_ONCE: &str = r#"bundled = true

[defaults]
host = "PRI01"

[[override]]
id = "despoolr-receive-backlog"
for = "0s"

[[override]]
id = "ddm-box-backlog"
for = "0s"

[[override]]
id = "auth-inboxes-backlog"
for = "0s"
"#;

/// Runs the bundled pack alone on the site (a new Crash.log must alert),
/// then with the `AT_ONCE` overrides (old inbox files must alert); returns
/// the rule ids of the second run's alerts, sorted.
fn check_layout(site: &Site, crash_log: &str, logs: usize) -> Vec<String> {
    let agent = start(site, &[]);
    let ready = plain(&agent.stderr());
    for field in [
        format!("files={logs}"),
        "sources=7".into(),
        "gauges=12".into(),
    ] {
        assert!(ready.contains(&field), "{field} not in:\n{ready}");
    }
    site.write(&format!("site/{crash_log}"), CRASH);
    let docs = site.wait_docs(1, Duration::from_secs(20));
    assert_schema(&docs);
    assert_eq!(
        summary(&docs),
        [("executive-crash".to_owned(), "matched".to_owned())]
    );
    assert_eq!(
        docs[0]["logwarden"]["alert"]["group"]["thread_name"],
        "SMS_DESPOOLER"
    );
    let stopped = agent.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);

    std::fs::remove_file(site.alerts()).unwrap();
    site.write("site.toml", AT_ONCE);
    let rules = site.path("site.toml");
    let agent = start(site, &["--rules", rules.to_str().unwrap()]);
    let mut docs: Vec<Value> = Vec::new();
    wait_until(Duration::from_secs(20), "inbox alerts", || {
        docs = site.docs();
        docs.len() >= 2
    });
    assert_schema(&docs);
    for d in &docs {
        assert_eq!(d["host"]["name"], "PRI01");
        assert_eq!(d["logwarden"]["alert"]["status"], "firing");
    }
    drop(agent);
    let mut ids: Vec<String> = summary(&docs).into_iter().map(|(id, _)| id).collect();
    ids.sort();
    ids
}

#[test]
fn bundled_pack_runs_on_an_sms20_layout() {
    let site = Site::new();
    site.write(
        "site/Logs/Despool.log",
        "Despooler successfully executed one instruction.  $$<SMS_DESPOOLER><Tue Jan 16 00:03:00.660 2001 Eastern Standard Time><thread=1284 (0x504)>\r\n",
    );
    site.write("site/Logs/SMSDBMON.LOG", "");
    site.write("site/Logs/smsbkup.log", "");
    old_file(
        &site,
        "Inboxes/DESPOOLR.BOX/Receive/0000A1B2.INS",
        Duration::from_secs(3 * 3600),
    );
    old_file(
        &site,
        "Inboxes/ddm.box/1A2B3C4D.DDR",
        Duration::from_secs(3 * 3600),
    );
    let ids = check_layout(
        &site,
        "Logs/CrashDumps/20010116_004000_smsexec/Crash.log",
        3,
    );
    assert_eq!(ids, ["ddm-box-backlog", "despoolr-receive-backlog"]);
}

#[test]
fn bundled_pack_runs_on_a_configmgr_layout() {
    let site = Site::new();
    site.write("site/Logs/despool.log", "");
    site.write("site/Logs/distmgr.log", "");
    site.write("site/Logs/inboxmon.log", "");
    site.write("site/Logs/distmgr.lo_", "");
    old_file(
        &site,
        "inboxes/despoolr.box/receive/202sqcs1.sni",
        Duration::from_secs(3 * 3600),
    );
    old_file(
        &site,
        "inboxes/auth/ddm.box/adsysgen.ddr",
        Duration::from_secs(5 * 3600),
    );
    let ids = check_layout(&site, "Logs/crashdumps/20240116_010203/crash.log", 3);
    assert_eq!(ids, ["auth-inboxes-backlog", "despoolr-receive-backlog"]);
}
