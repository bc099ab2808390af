//! The live agent on temp sites.

use std::time::Duration;

use crate::harness::{Rng, Site, assert_schema, bin, summary, wait_until};

const ERRORS: &str = r#"
schema = 1

[[source]]
id = "app"
path = 'Logs\*.log'
format = "sms"

[[match]]
id = "error"
source = "app"
contains = "ERROR"
alert = true
"#;

/// Short windows so that a whole incident plays in seconds.
const STALL: &str = r#"
schema = 1

[[source]]
id = "despool"
path = 'logs\DESPOOL.LOG'
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
window = "30s"
resolve_after = "2s"
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
group_by = ["host.name"]

# Probes: show that the agent has seen a line / a sample.
[[match]]
id = "probe"
source = "despool"
contains = "PROBE"
alert = true

[[backlog]]
id = "probe-backlog"
gauge = "receive"
all = [{ metric = "files", at_least = 20 }]
"#;

fn line_text(i: usize) -> String {
    if i.is_multiple_of(3) {
        format!("ERROR number {i} happened")
    } else {
        format!("all fine {i}")
    }
}

#[test]
fn appends_in_random_chunks_with_crlf_give_one_alert_per_matching_line() {
    let site = Site::new();
    site.write("rules.toml", ERRORS);
    let agent = site.start("rules.toml", &[]);
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&line_text(i));
        text.push_str("\r\n");
    }
    let bytes = text.as_bytes();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut at = 0;
    while at < bytes.len() {
        let n = (1 + rng.below(40) as usize).min(bytes.len() - at);
        site.append("site/Logs/app.log", &bytes[at..at + n]);
        at += n;
    }
    let expected: Vec<String> = (0..300).filter(|i| i % 3 == 0).map(line_text).collect();
    site.wait_docs(expected.len(), Duration::from_secs(30));
    agent.stop();
    let docs = site.docs();
    let messages: Vec<String> = docs
        .iter()
        .map(|d| {
            d["logwarden"]["alert"]["evidence"][0]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(messages, expected);
    assert_schema(&docs);
    let offsets: Vec<u64> = docs
        .iter()
        .map(|d| {
            d["logwarden"]["alert"]["evidence"][0]["log"]["offset"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        offsets.windows(2).all(|w| w[0] < w[1]),
        "offsets in file order: {offsets:?}"
    );
}

#[test]
fn coincidence_fires_once_and_resolves_with_the_same_uuid() {
    let site = Site::new();
    site.write("rules.toml", STALL);
    std::fs::create_dir_all(site.path("site/Inboxes/despoolr.box/receive")).unwrap();
    let agent = site.start("rules.toml", &[]);
    for i in 0..25 {
        site.write(
            &format!("site/Inboxes/despoolr.box/receive/{i:08}.INS"),
            "x",
        );
    }
    for _ in 0..3 {
        site.append(
            "site/Logs/Despool.log",
            "Waiting for an available despooling thread\r\n",
        );
    }
    let docs = site.wait_docs(2, Duration::from_secs(20));
    let firing: Vec<_> = docs.iter().filter(|d| d["rule"]["id"] == "stall").collect();
    assert_eq!(firing.len(), 1, "{docs:#?}");
    assert_eq!(firing[0]["logwarden"]["alert"]["status"], "firing");
    // Drain the inbox: the backlog lapses, then the coincidence.
    for i in 0..25 {
        std::fs::remove_file(site.path(&format!("site/Inboxes/despoolr.box/receive/{i:08}.INS")))
            .unwrap();
    }
    let mut stall = Vec::new();
    wait_until(Duration::from_secs(20), "the stall to resolve", || {
        stall = site
            .docs()
            .into_iter()
            .filter(|d| d["rule"]["id"] == "stall")
            .collect();
        stall.len() >= 2
    });
    agent.stop();
    let stall: Vec<_> = site
        .docs()
        .into_iter()
        .filter(|d| d["rule"]["id"] == "stall")
        .collect();
    assert_eq!(
        summary(&stall),
        vec![
            ("stall".into(), "firing".into()),
            ("stall".into(), "resolved".into())
        ]
    );
    assert_eq!(
        stall[0]["logwarden"]["alert"]["uuid"],
        stall[1]["logwarden"]["alert"]["uuid"]
    );
    assert_ne!(stall[0]["event"]["id"], stall[1]["event"]["id"]);
    let members: Vec<&str> = stall[0]["logwarden"]["alert"]["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec!["waiting", "backlog"]);
    assert_schema(&site.docs());
}

#[test]
fn the_signature_alone_gives_no_alert() {
    let site = Site::new();
    site.write("rules.toml", STALL);
    std::fs::create_dir_all(site.path("site/Inboxes/despoolr.box/receive")).unwrap();
    let agent = site.start("rules.toml", &[]);
    for _ in 0..5 {
        site.append(
            "site/Logs/Despool.log",
            "Waiting for an available despooling thread\n",
        );
    }
    site.append("site/Logs/Despool.log", "PROBE\n");
    site.wait_docs(1, Duration::from_secs(20));
    agent.stop();
    assert_eq!(
        summary(&site.docs()),
        vec![("probe".into(), "matched".into())]
    );
}

#[test]
fn a_backlog_alone_gives_no_alert() {
    let site = Site::new();
    site.write("rules.toml", STALL);
    let agent = site.start("rules.toml", &[]);
    for i in 0..25 {
        site.write(
            &format!("site/Inboxes/despoolr.box/receive/{i:08}.INS"),
            "x",
        );
    }
    site.wait_docs(1, Duration::from_secs(20));
    agent.stop();
    assert_eq!(
        summary(&site.docs()),
        vec![("probe-backlog".into(), "firing".into())]
    );
}

#[test]
fn graceful_restart_reads_nothing_twice() {
    let site = Site::new();
    site.write("rules.toml", ERRORS);
    site.write("site/Logs/app.log", "");
    let agent = site.start("rules.toml", &[]);
    site.append("site/Logs/app.log", "ERROR a\nERROR b\nERROR c\n");
    site.wait_docs(3, Duration::from_secs(20));
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    site.append("site/Logs/app.log", "ERROR d\nfine\nERROR e\n");
    let agent = site.start("rules.toml", &[]);
    site.wait_docs(5, Duration::from_secs(20));
    site.append("site/Logs/app.log", "ERROR f\n");
    site.wait_docs(6, Duration::from_secs(20));
    agent.stop();
    let messages: Vec<String> = site
        .docs()
        .iter()
        .map(|d| {
            d["logwarden"]["alert"]["evidence"][0]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        messages,
        [
            "ERROR a", "ERROR b", "ERROR c", "ERROR d", "ERROR e", "ERROR f"
        ]
    );
}

#[test]
fn history_present_at_first_start_is_skipped_by_default_and_read_with_beginning() {
    let site = Site::new();
    site.write("rules.toml", ERRORS);
    site.write("site/Logs/old.log", "ERROR old\n");
    let agent = site.start("rules.toml", &[]);
    site.append("site/Logs/old.log", "ERROR new\n");
    site.append("site/Logs/later.log", "ERROR in a file created later\n");
    site.wait_docs(2, Duration::from_secs(20));
    agent.stop();
    let mut messages: Vec<String> = site
        .docs()
        .iter()
        .map(|d| {
            d["logwarden"]["alert"]["evidence"][0]["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    messages.sort();
    assert_eq!(messages, ["ERROR in a file created later", "ERROR new"]);

    let other = Site::new();
    other.write("rules.toml", ERRORS);
    other.write("site/Logs/old.log", "ERROR old\n");
    let agent = other.start("rules.toml", &["--read-from", "beginning"]);
    other.wait_docs(1, Duration::from_secs(20));
    agent.stop();
    assert_eq!(other.docs().len(), 1);
}

#[test]
fn a_second_agent_on_the_same_state_folder_exits_2() {
    let site = Site::new();
    site.write("rules.toml", ERRORS);
    let agent = site.start("rules.toml", &[]);
    let out = bin()
        .arg("run")
        .arg("--site")
        .arg(site.root())
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .arg("--state")
        .arg(site.path("state"))
        .output()
        .unwrap();
    agent.stop();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another logwarden agent"), "{err}");
}

#[test]
fn the_agent_refuses_to_start_on_broken_rules() {
    let site = Site::new();
    site.write(
        "rules.toml",
        "[[match]]\nid = \"x\"\nsource = \"nowhere\"\ncontains = \"a\"\n",
    );
    let out = bin()
        .arg("run")
        .arg("--site")
        .arg(site.path("."))
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .arg("--state")
        .arg(site.path("state"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.toml:3:10"), "{err}");
}

#[test]
fn a_log_whose_clock_disagrees_with_the_machines_is_reported_but_not_history() {
    let site = Site::new();
    site.write("rules.toml", ERRORS);
    // Two hours old: history, read at start, never reported.
    let old = crate::harness::sms_now("ERROR old").replace("+000>", "-120>");
    site.write("site/Logs/app.log", &old);
    let agent = site.start("rules.toml", &["--read-from", "beginning"]);
    site.wait_docs(1, Duration::from_secs(20));
    // Written now, stamped two hours behind (a wrong zone), then ahead.
    let behind = crate::harness::sms_now("ERROR behind").replace("+000>", "-120>");
    site.append("site/Logs/app.log", &behind);
    site.wait_docs(2, Duration::from_secs(20));
    let ahead = crate::harness::sms_now("ERROR ahead").replace("+000>", "+120>");
    site.append("site/Logs/app.log", &ahead);
    site.wait_docs(3, Duration::from_secs(20));
    let out = agent.stop();
    let behind_warnings = out.stderr.matches("behind this machine's clock").count();
    let ahead_warnings = out.stderr.matches("ahead of this machine's clock").count();
    assert_eq!((behind_warnings, ahead_warnings), (1, 1), "{}", out.stderr);
    // The line ahead took the time it was read: within a minute of now.
    let docs = site.docs();
    let at = docs[2]["@timestamp"].as_str().unwrap();
    let at = logwarden::time::Timestamp::parse_rfc3339(at).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let now = logwarden::time::Timestamp::from_unix_nanos(now.as_nanos() as i64);
    assert!(now.saturating_since(at) < Duration::from_secs(60), "{at}");
}
