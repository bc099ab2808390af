//! The agent's upkeep: heartbeat documents, rule reloads (SIGHUP and file
//! changes), and `check --config`.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Agent, Site, bin, read_docs, summary, wait_until};
use crate::http_out::{HEAD, start};
use crate::httpd::{Receiver, hec_ok};

fn heartbeat_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/heartbeat.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn is_metric(d: &Value) -> bool {
    d["event"]["kind"] == "metric"
}

#[test]
fn heartbeats_carry_the_counters_and_match_their_schema() {
    let rx = Receiver::start(0, Box::new(|_, _, _| hec_ok()));
    let site = Site::new();
    let config = format!(
        r#"heartbeat = "300ms"
{HEAD}
[[output]]
type = "webhook"
url = "http://127.0.0.1:{}/hook"
token_env = "LW_TEST_HOOK"
"#,
        rx.port
    );
    let agent = start(&site, &config, &[("LW_TEST_HOOK", "h")]);
    site.append("site/Logs/app.log", "ERROR a\nfine\nERROR b\n");
    let mut beats = Vec::new();
    wait_until(
        Duration::from_secs(20),
        "a heartbeat counting both alerts",
        || {
            beats = site.docs().into_iter().filter(is_metric).collect();
            beats.len() >= 2
                && beats
                    .last()
                    .is_some_and(|b| b["logwarden"]["health"]["alerts"] == 2)
        },
    );
    wait_until(
        Duration::from_secs(20),
        "the webhook to get a heartbeat too",
        || {
            rx.accepted()
                .iter()
                .any(|(_, d)| d.as_array().is_some_and(|a| a.iter().any(is_metric)))
        },
    );
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let v = heartbeat_validator();
    let beats: Vec<Value> = read_docs(&site.alerts())
        .into_iter()
        .filter(is_metric)
        .collect();
    assert!(beats.len() >= 2, "{beats:#?}");
    for b in &beats {
        let errors: Vec<String> = v
            .iter_errors(b)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}\n{b}");
    }
    let last = &beats.last().unwrap()["logwarden"]["health"];
    assert_eq!(last["lines_read"], 3);
    assert_eq!(last["records"], 3);
    assert_eq!(last["matched"], 2);
    assert_eq!(beats.last().unwrap()["host"]["name"], "PRI01");
    assert_eq!(beats.last().unwrap()["labels"]["site_code"], "PS1");
    let hook = &last["outputs"][0];
    assert_eq!(hook["name"], "webhook");
    assert_eq!(hook["type"], "webhook");
    // Webhook bodies are JSON arrays of documents with the bearer token.
    let reqs = rx.requests();
    assert!(
        reqs.iter()
            .all(|r| r.header("authorization") == Some("Bearer h"))
    );
    let ids: Vec<&str> = beats
        .iter()
        .map(|b| b["event"]["id"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "each heartbeat has its own id");
}

const V1: &str = r#"
[[source]]
id = "app"
path = 'Logs\*.log'
format = "plain"

[[threshold]]
id = "three-errors"
source = "app"
contains = "ERROR"
count = 3
window = "10m"

[[match]]
id = "probe"
source = "app"
contains = "PROBE"
alert = true
"#;

const V2: &str = r#"
[[source]]
id = "app"
path = 'Logs\*.log'
format = "plain"

[[threshold]]
id = "three-errors"
source = "app"
contains = "ERROR"
count = 3
window = "10m"

[[match]]
id = "warn"
source = "app"
contains = "WARN"
alert = true
"#;

#[test]
fn sighup_reloads_rules_keeping_windows_of_unchanged_rules_and_refuses_broken_ones() {
    let site = Site::new();
    site.write("rules.toml", V1);
    let agent = site.start("rules.toml", &[]);
    site.append("site/Logs/app.log", "ERROR 1\nERROR 2\nPROBE\n");
    site.wait_docs(1, Duration::from_secs(20));
    site.write("rules.toml", V2);
    agent.signal("HUP");
    wait_until(Duration::from_secs(20), "the reload", || {
        agent.stderr().contains("rules reloaded")
    });
    // The third error completes the window started before the reload.
    site.append("site/Logs/app.log", "ERROR 3\nWARN x\nPROBE\n");
    site.wait_docs(3, Duration::from_secs(20));
    site.write(
        "rules.toml",
        "[[match]]\nid = \"x\"\nsource = \"nowhere\"\ncontains = \"a\"\n",
    );
    agent.signal("HUP");
    wait_until(Duration::from_secs(20), "the refused reload", || {
        agent.stderr().contains("rule reload refused")
    });
    site.append("site/Logs/app.log", "WARN y\n");
    site.wait_docs(4, Duration::from_secs(20));
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        summary(&site.docs()),
        vec![
            ("probe".into(), "matched".into()),
            ("three-errors".into(), "firing".into()),
            ("warn".into(), "matched".into()),
            ("warn".into(), "matched".into()),
        ]
    );
    assert!(
        out.stderr.contains("rules.toml:3:10"),
        "the problem is located: {}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("rules reloaded").count(), 1);
}

#[test]
fn a_changed_rule_file_is_reloaded_without_a_signal() {
    let site = Site::new();
    site.write("rules.toml", V1);
    site.write(
        "logwarden.toml",
        format!("rules_check_every = \"200ms\"\n{HEAD}"),
    );
    std::fs::create_dir_all(site.root()).unwrap();
    let mut cmd = bin();
    cmd.args(["--log-format", "json", "run", "--config"])
        .arg(site.path("logwarden.toml"));
    let agent = Agent::spawn(cmd);
    site.write("rules.toml", V2);
    wait_until(Duration::from_secs(20), "the reload", || {
        agent.stderr().contains("rules reloaded")
    });
    site.append("site/Logs/app.log", "WARN z\nPROBE\n");
    site.wait_docs(1, Duration::from_secs(20));
    let out = agent.stop();
    assert_eq!(
        summary(&site.docs()),
        vec![("warn".into(), "matched".into())]
    );
    // --log-format json: every line of the agent's own log is a JSON object.
    for line in out.stderr.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["fields"]["message"].is_string(), "{line}");
    }
}

#[test]
fn check_config_locates_problems_and_warns_of_unset_secrets() {
    let site = Site::new();
    site.write("rules.toml", crate::http_out::ERRORS);
    site.write(
        "bad.toml",
        "rules = 'rules.toml'\n\n[[output]]\ntype = \"syslog\"\naddress = \"siem\"\ntokn = 1\n",
    );
    let out = bin()
        .arg("check")
        .arg("--config")
        .arg(site.path("bad.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:5:11: invalid address \"siem\""),
        "{err}"
    );
    assert!(err.contains("bad.toml:6:1: unknown key \"tokn\""), "{err}");

    site.write(
        "good.toml",
        "rules = 'rules.toml'\n[[output]]\ntype = \"splunk_hec\"\nurl = \"https://splunk.example:8088\"\ntoken_env = \"LW_TEST_UNSET_TOKEN\"\n",
    );
    let out = bin()
        .arg("check")
        .arg("--config")
        .arg(site.path("good.toml"))
        .env_remove("LW_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "good.toml:5:13: warning: environment variable \"LW_TEST_UNSET_TOKEN\" is not set"
        ),
        "{err}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("ok: config with 1 output(s); 1 sources")
    );

    // run refuses to start on it: alerts it could never deliver.
    let out = bin()
        .arg("run")
        .arg("--config")
        .arg(site.path("good.toml"))
        .arg("--state")
        .arg(site.path("state"))
        .env_remove("LW_TEST_UNSET_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("good.toml:5:13: environment variable"),
        "{err}"
    );
}
