//! Alert state across restarts and crashes (issue 3): a firing alert is not
//! re-sent after a restart and resolves later with the same uuid; after
//! `kill -9`, any document sent again carries the same `event.id`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Site, assert_schema, sms_now, wait_until};

const STALL: &str = r#"
schema = 1

[[source]]
id = "despool"
path = 'Logs\despool.log'
format = "sms"

[[gauge]]
id = "receive"
path = 'Inboxes\despoolr.box\receive'
every = "200ms"

[[threshold]]
id = "waiting"
source = "despool"
contains = "Waiting for an available despooling thread"
count = 3
window = "1m"
resolve_after = "1m"
alert = false

[[backlog]]
id = "backlog"
gauge = "receive"
all = [{ metric = "files", at_least = 20 }]
alert = false

[[correlate]]
id = "stall"
all_of = ["waiting", "backlog"]
within = "1s"
"#;

fn fill(site: &Site) {
    for i in 0..25 {
        site.write(
            &format!("site/Inboxes/despoolr.box/receive/{i:08}.INS"),
            "x",
        );
    }
}

fn drain(site: &Site) {
    for i in 0..25 {
        std::fs::remove_file(site.path(&format!("site/Inboxes/despoolr.box/receive/{i:08}.INS")))
            .unwrap();
    }
}

fn stall_docs(site: &Site) -> Vec<Value> {
    site.docs()
        .into_iter()
        .filter(|d| d["rule"]["id"] == "stall")
        .collect()
}

fn status(d: &Value) -> &str {
    d["logwarden"]["alert"]["status"].as_str().unwrap()
}

#[test]
fn a_firing_alert_is_not_resent_after_a_restart_and_resolves_later() {
    let site = Site::new();
    site.write("rules.toml", STALL);
    site.write("site/Logs/despool.log", "");
    fill(&site);
    let agent = site.start("rules.toml", &[]);
    site.append(
        "site/Logs/despool.log",
        "Waiting for an available despooling thread\r\n".repeat(3),
    );
    site.wait_docs(1, Duration::from_secs(20));
    let stopped = agent.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    let agent = site.start("rules.toml", &[]);
    assert!(
        agent.stderr().contains("state restored"),
        "{}",
        agent.stderr()
    );
    // More hang lines after the restart keep the same episode going.
    site.append(
        "site/Logs/despool.log",
        "Waiting for an available despooling thread\r\n",
    );
    drain(&site);
    wait_until(Duration::from_secs(20), "the stall to resolve", || {
        stall_docs(&site).len() >= 2
    });
    agent.stop();
    let docs = stall_docs(&site);
    assert_eq!(
        docs.iter().map(status).collect::<Vec<_>>(),
        ["firing", "resolved"]
    );
    assert_eq!(
        docs[0]["logwarden"]["alert"]["uuid"],
        docs[1]["logwarden"]["alert"]["uuid"]
    );
    assert_schema(&site.docs());
}

const WAITING: &str = r#"
schema = 1

[[source]]
id = "despool"
path = 'Logs\despool.log'
format = "sms"

[[threshold]]
id = "waiting"
source = "despool"
contains = "Waiting for an available despooling thread"
count = 3
window = "1m"
resolve_after = "1s"
"#;

#[test]
fn after_kill_9_any_document_sent_again_has_the_same_event_id() {
    let site = Site::new();
    site.write("rules.toml", WAITING);
    site.write("site/Logs/despool.log", "");
    let agent = site.start("rules.toml", &[]);
    let lines: String = (0..3)
        .map(|_| sms_now("Waiting for an available despooling thread"))
        .collect();
    site.append("site/Logs/despool.log", lines);
    site.wait_docs(1, Duration::from_secs(20));
    // Crash right after the firing was written, most likely before the
    // state that covers those lines was saved: they are read again.
    agent.kill();
    let agent = site.start("rules.toml", &[]);
    assert!(
        agent.stderr().contains("state restored"),
        "{}",
        agent.stderr()
    );
    // Time passes without lines: the alert resolves.
    let docs_seen = || {
        site.docs()
            .iter()
            .filter(|d| status(d) == "resolved")
            .count()
    };
    wait_until(Duration::from_secs(20), "the resolution", || {
        docs_seen() >= 1
    });
    agent.stop();
    let docs = site.docs();
    // Every document is either new or an exact repeat (same event.id, uuid
    // and @timestamp: the lines carry their own time) of one sent before.
    let mut by_id: HashMap<String, &Value> = HashMap::new();
    for d in &docs {
        let id = d["event"]["id"].as_str().unwrap().to_owned();
        if let Some(first) = by_id.get(&id) {
            assert_eq!(
                first["logwarden"]["alert"]["uuid"],
                d["logwarden"]["alert"]["uuid"]
            );
            assert_eq!(first["@timestamp"], d["@timestamp"]);
        } else {
            by_id.insert(id, d);
        }
    }
    let firing: Vec<&&Value> = by_id.values().filter(|d| status(d) == "firing").collect();
    let resolved: Vec<&&Value> = by_id.values().filter(|d| status(d) == "resolved").collect();
    assert_eq!((firing.len(), resolved.len()), (1, 1), "{docs:#?}");
    assert_eq!(
        firing[0]["logwarden"]["alert"]["uuid"],
        resolved[0]["logwarden"]["alert"]["uuid"]
    );
}
