//! HTTP outputs against an in-test receiver: down then up, partial `_bulk`
//! failures, the agent killed while spooling, 503 with `Retry-After`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, Site, bin, read_docs, wait_until};
use crate::httpd::{Receiver, bulk_answer, free_port, hec_ok};

pub const ERRORS: &str = r#"
[[source]]
id = "app"
path = 'Logs\*.log'
format = "plain"

[[match]]
id = "error"
source = "app"
contains = "ERROR"
alert = true
"#;

/// Starts `logwarden run --config` on `site` with `config` (paths in it
/// are relative to the temp folder) and extra environment variables.
pub fn start(site: &Site, config: &str, env: &[(&str, &str)]) -> Agent {
    site.write("logwarden.toml", config);
    if !site.path("rules.toml").exists() {
        site.write("rules.toml", ERRORS);
    }
    std::fs::create_dir_all(site.root()).unwrap();
    let mut cmd: Command = bin();
    cmd.arg("run")
        .arg("--config")
        .arg(site.path("logwarden.toml"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Agent::spawn(cmd)
}

/// The config head every test shares: site, rules, state, the alert file.
pub const HEAD: &str = r#"
site = 'site'
rules = 'rules.toml'
state = 'state'
host = "PRI01"
labels = { site_code = "PS1" }

[[output]]
type = "file"
path = 'alerts.ndjson'
"#;

fn append_errors(site: &Site, from: usize, to: usize) {
    let text: String = (from..to).map(|i| format!("ERROR number {i}\n")).collect();
    site.append("site/Logs/app.log", text);
}

/// The `event.id`s of the alert file, in order.
fn file_ids(site: &Site) -> Vec<String> {
    site.docs()
        .iter()
        .map(|d| d["event"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks that `got` (id → every copy received) holds each document of
/// the alert file, every copy identical to the file's: duplicates only
/// with the same `event.id`.
fn check_delivered(site: &Site, got: &[(Option<String>, Value)], what: &str) {
    let file: BTreeMap<String, Value> = site
        .docs()
        .into_iter()
        .map(|d| (d["event"]["id"].as_str().unwrap().to_owned(), d))
        .collect();
    let mut seen = BTreeSet::new();
    for (_, doc) in got {
        let id = doc["event"]["id"].as_str().unwrap();
        assert_eq!(
            Some(doc),
            file.get(id),
            "{what}: a document not in the alert file"
        );
        seen.insert(id.to_owned());
    }
    assert_eq!(
        seen,
        file.keys().cloned().collect::<BTreeSet<_>>(),
        "{what}: every alert delivered"
    );
}

#[test]
fn hec_receiver_down_then_up_gets_every_alert_once_per_event_id() {
    let site = Site::new();
    let port = free_port();
    let config = format!(
        r#"{HEAD}
[[output]]
type = "splunk_hec"
url = "http://127.0.0.1:{port}"
token_env = "LW_TEST_HEC_TOKEN"
index = "sms"
sourcetype = "logwarden:alert"
backoff_min = "50ms"
backoff_max = "300ms"
"#
    );
    let agent = start(&site, &config, &[("LW_TEST_HEC_TOKEN", "tok-SECRET-1234")]);
    append_errors(&site, 0, 12);
    site.wait_docs(12, Duration::from_secs(20));
    wait_until(Duration::from_secs(20), "a failed delivery", || {
        agent.stderr().contains("output not delivering")
    });
    let rx = Receiver::start(
        port,
        Box::new(|_, req, _| {
            if req.header("authorization") == Some("Splunk tok-SECRET-1234") {
                hec_ok()
            } else {
                (
                    401,
                    Vec::new(),
                    r#"{"text":"Invalid token","code":4}"#.into(),
                )
            }
        }),
    );
    wait_until(Duration::from_secs(30), "12 events at the receiver", || {
        rx.accepted().len() >= 12
    });
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let envelopes = rx.accepted();
    for (_, env) in &envelopes {
        assert_eq!(env["host"], "PRI01");
        assert_eq!(env["source"], "logwarden");
        assert_eq!(env["sourcetype"], "logwarden:alert");
        assert_eq!(env["index"], "sms");
        let ts = env["event"]["@timestamp"].as_str().unwrap();
        let secs = env["time"].as_f64().unwrap();
        assert!(secs > 1.6e9, "epoch seconds, got {secs} for {ts}");
    }
    let events: Vec<(Option<String>, Value)> = envelopes
        .into_iter()
        .map(|(id, e)| (id, e["event"].clone()))
        .collect();
    check_delivered(&site, &events, "HEC");
    assert_eq!(file_ids(&site).len(), 12);
    assert!(
        !out.stderr.contains("tok-SECRET-1234"),
        "the token leaked into the log"
    );
    assert!(
        out.stderr.contains("output delivering again"),
        "{}",
        out.stderr
    );
}

/// Waits until the saved state covers all of `rel` (the documents of
/// every line in it are then durable in the spool).
fn wait_checkpoint(site: &Site, rel: &str) {
    let len = std::fs::metadata(site.path(rel)).unwrap().len();
    wait_until(
        Duration::from_secs(20),
        "the checkpoint to cover the log",
        || {
            let Ok(text) = std::fs::read_to_string(site.path("state/state.json")) else {
                return false;
            };
            let state: Value = serde_json::from_str(&text).unwrap();
            state["checkpoints"]["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["offset"].as_u64() == Some(len))
        },
    );
}

#[test]
fn bulk_after_sigkill_while_spooling_and_partial_failures_loses_nothing() {
    let site = Site::new();
    let port = free_port();
    let config = format!(
        r#"{HEAD}
[[output]]
type = "elasticsearch"
url = "http://127.0.0.1:{port}/"
index = "logwarden-alerts"
api_key_env = "LW_TEST_ES_KEY"
gzip = true
backoff_min = "50ms"
backoff_max = "300ms"
"#
    );
    let env = [("LW_TEST_ES_KEY", "a2V5")];
    let agent = start(&site, &config, &env);
    append_errors(&site, 0, 8);
    site.wait_docs(8, Duration::from_secs(20));
    wait_checkpoint(&site, "site/Logs/app.log");
    let stderr = agent.kill().stderr;
    assert!(!stderr.contains("output delivering again"), "{stderr}");
    // More alerts while the agent is down: read after the restart.
    append_errors(&site, 8, 12);
    // The first answer fails some items (429, 503): those are sent again
    // alone; the others must not be duplicated by that.
    let rx = Receiver::start(
        port,
        Box::new(|n, req, docs| {
            assert_eq!(req.path, "/_bulk");
            assert_eq!(req.header("authorization"), Some("ApiKey a2V5"));
            assert_eq!(req.header("content-encoding"), Some("gzip"));
            assert_eq!(req.header("content-type"), Some("application/x-ndjson"));
            let statuses: Vec<u16> = (0..docs.len())
                .map(|i| match (n, i % 3) {
                    (0, 1) => 429,
                    (0, 2) => 503,
                    _ => 201,
                })
                .collect();
            bulk_answer(&statuses)
        }),
    );
    let agent = start(&site, &config, &env);
    wait_until(Duration::from_secs(30), "12 documents indexed", || {
        rx.accepted()
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<BTreeSet<_>>()
            .len()
            >= 12
    });
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let got = rx.accepted();
    for (id, doc) in &got {
        assert_eq!(
            id.as_deref(),
            doc["event"]["id"].as_str(),
            "_id is event.id"
        );
    }
    check_delivered(&site, &got, "_bulk");
    assert_eq!(file_ids(&site).len(), 12);
    // The first request carried the spooled documents of the killed run,
    // in order, and the retry only the items that failed.
    let reqs = rx.requests();
    let first: Vec<Value> = crate::httpd::documents(&reqs[0])
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let retried: Vec<Value> = crate::httpd::documents(&reqs[1])
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let failed: Vec<Value> = first
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, d)| d.clone())
        .collect();
    assert_eq!(retried, failed);
    let file = site.docs();
    assert_eq!(
        first,
        file[..first.len()].to_vec(),
        "spool order is file order"
    );
}

#[test]
fn a_503_with_retry_after_is_waited_out_then_delivered() {
    let site = Site::new();
    let rx = Receiver::start(
        0,
        Box::new(|n, _, _| {
            if n < 2 {
                (
                    503,
                    vec![("Retry-After".into(), "1".into())],
                    r#"{"text":"Server is busy","code":9}"#.into(),
                )
            } else {
                hec_ok()
            }
        }),
    );
    let config = format!(
        r#"{HEAD}
[[output]]
type = "splunk_hec"
url = "http://127.0.0.1:{}/services/collector/event"
token_env = "LW_TEST_HEC_TOKEN"
backoff_min = "10ms"
backoff_max = "20ms"
"#,
        rx.port
    );
    let agent = start(&site, &config, &[("LW_TEST_HEC_TOKEN", "t")]);
    append_errors(&site, 0, 3);
    wait_until(Duration::from_secs(20), "3 events at the receiver", || {
        rx.accepted().len() >= 3
    });
    let out = agent.stop();
    let reqs = rx.requests();
    assert!(reqs.len() >= 3, "{} requests", reqs.len());
    for w in reqs[..3].windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= Duration::from_millis(950),
            "Retry-After: 1 honoured over a 10ms backoff, waited {gap:?}"
        );
    }
    let events: Vec<(Option<String>, Value)> = rx
        .accepted()
        .into_iter()
        .map(|(id, e)| (id, e["event"].clone()))
        .collect();
    check_delivered(&site, &events, "HEC after 503");
    assert!(out.stderr.contains("answered 503"), "{}", out.stderr);
    assert_eq!(read_docs(&site.alerts()).len(), 3);
}
