//! `logwarden replay`: record time, determinism.

use serde_json::Value;

use crate::harness::{Site, bin};

const RULES: &str = r#"
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
window = "10m"
resolve_after = "15m"
"#;

fn sms_line(minute: u32) -> String {
    format!(
        "Waiting for an available despooling thread  $$<SMS_DESPOOLER><01-15-2009 10:{minute:02}:00.000+000><thread=4844 (0x12EC)>\r\n"
    )
}

fn replay(site: &Site) -> Vec<Value> {
    let out = bin()
        .arg("replay")
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .arg(site.path("site/Logs/despool.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn lines_six_minutes_apart_never_make_three_in_ten_minutes() {
    let site = Site::new();
    site.write("rules.toml", RULES);
    let text: String = [0, 6, 12, 18].iter().map(|m| sms_line(*m)).collect();
    site.write("site/Logs/despool.log", text);
    assert!(replay(&site).is_empty());
}

#[test]
fn lines_a_minute_apart_fire_at_the_third_lines_time_and_replays_are_identical() {
    let site = Site::new();
    site.write("rules.toml", RULES);
    let mut text: String = [0, 1, 2, 3].iter().map(|m| sms_line(*m)).collect();
    // A later line pushes record time past the resolution.
    text.push_str("Despooler successfully executed one instruction.  $$<SMS_DESPOOLER><01-15-2009 11:00:00.000+000><thread=4844 (0x12EC)>\r\n");
    site.write("site/Logs/despool.log", text);
    let first = replay(&site);
    let times: Vec<(&str, &str)> = first
        .iter()
        .map(|d| {
            (
                d["logwarden"]["alert"]["status"].as_str().unwrap(),
                d["@timestamp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        times,
        [
            ("firing", "2009-01-15T10:02:00.000Z"),
            ("resolved", "2009-01-15T10:18:00.000Z")
        ]
    );
    let strip = |mut docs: Vec<Value>| {
        for d in &mut docs {
            d["event"]["created"] = Value::Null;
        }
        docs
    };
    assert_eq!(strip(first), strip(replay(&site)));
}

#[test]
fn explain_shows_why_each_record_did_or_did_not_move_the_rule() {
    let site = Site::new();
    site.write(
        "rules.toml",
        RULES.replace("count = 3", "component = \"SMS_DESPOOLER\"\ncount = 3"),
    );
    let mut text: String = [0, 1].iter().map(|m| sms_line(*m)).collect();
    text.push_str(&sms_line(2).replace("SMS_DESPOOLER", "SMS_OTHER"));
    text.push_str(&sms_line(3));
    site.write("site/Logs/despool.log", text);
    let out = bin()
        .arg("replay")
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .arg("--explain")
        .arg("waiting")
        .arg(site.path("site/Logs/despool.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let steps: Vec<&str> = stdout
        .lines()
        .map(|l| l.rsplit("  ").next().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "match 1 of 3 within 10m: not firing yet",
            "match 2 of 3 within 10m (window opened by the match at 2009-01-15T10:00:00.000Z): not firing yet",
            "the pattern matches but component is \"SMS_OTHER\", the rule wants \"SMS_DESPOOLER\": not counted",
            "match 3 of 3 within 10m → FIRING",
        ],
        "{stdout}"
    );
    let bad = bin()
        .arg("replay")
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .arg("--explain")
        .arg("nope")
        .arg(site.path("site/Logs/despool.log"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no such rule"));
}
