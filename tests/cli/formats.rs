//! Every log format and encoding of SPEC §4 is matched (through `replay`,
//! which shares the reader's parse and match path, and once live).

use std::time::Duration;

use serde_json::Value;

use crate::harness::{Site, assert_schema, bin};

const RULES: &str = r#"
schema = 1

[[source]]
id = "logs"
path = 'Logs\*'
format = "auto"

[[match]]
id = "needle"
source = "logs"
regex = '(?P<what>NEEDLE|café)'
group_by = ["what"]
alert = true
"#;

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        let b = if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        };
        out.extend_from_slice(&b);
    }
    out
}

fn fixtures(site: &Site) -> Vec<(&'static str, Vec<u8>)> {
    let files = vec![
        (
            "sms.log",
            b"quiet line  $$<SMS_DESPOOLER><01-15-2009 10:35:27.046+300><thread=4844 (0x12EC)>\r\nfound the NEEDLE  $$<SMS_DESPOOLER><01-15-2009 10:35:28.046+300><thread=4844 (0x12EC)>\r\n".to_vec(),
        ),
        (
            "sms20.log",
            b"NEEDLE in an SMS 2.0 line  $$<SMS_SITE_COMPONENT_MANAGER><Fri Mar 26 10:43:41.547 1999 Eastern Standard Time><thread=281 (0x119)>\n".to_vec(),
        ),
        (
            "cm.log",
            b"<![LOG[first]LOG]!><time=\"08:57:01.6150000+480\" date=\"4-7-2017\" component=\"CcmExec\" context=\"\" type=\"1\" thread=\"3176\" file=\"a.cpp:1\"><![LOG[a NEEDLE spanning\ntwo lines]LOG]!><time=\"08:57:02.615+480\" date=\"4-7-2017\" component=\"CcmExec\" context=\"\" type=\"2\" thread=\"3176\" file=\"a.cpp:2\">\n".to_vec(),
        ),
        ("plain.log", b"plain text with a NEEDLE\n".to_vec()),
        ("utf8bom.log", [&[0xEF, 0xBB, 0xBF][..], b"NEEDLE after a BOM\r\n"].concat()),
        ("utf16le.log", utf16("first\r\nNEEDLE in UTF-16LE\r\n", false)),
        ("utf16be.log", utf16("NEEDLE in UTF-16BE\r\n", true)),
        ("cp1252.log", b"caf\xE9 au lait in Windows-1252\r\n".to_vec()),
    ];
    for (name, bytes) in &files {
        site.write(&format!("site/Logs/{name}"), bytes);
    }
    files
}

fn by_file(docs: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = docs
        .iter()
        .map(|d| {
            let e = &d["logwarden"]["alert"]["evidence"][0];
            let path = e["log"]["file"]["path"].as_str().unwrap();
            let name = path.rsplit(['/', '\\']).next().unwrap().to_owned();
            (name, e["message"].as_str().unwrap().to_owned())
        })
        .collect();
    v.sort();
    v
}

fn expected() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("cm.log", "a NEEDLE spanning\ntwo lines"),
        ("cp1252.log", "café au lait in Windows-1252"),
        ("plain.log", "plain text with a NEEDLE"),
        ("sms.log", "found the NEEDLE"),
        ("sms20.log", "NEEDLE in an SMS 2.0 line"),
        ("utf16be.log", "NEEDLE in UTF-16BE"),
        ("utf16le.log", "NEEDLE in UTF-16LE"),
        ("utf8bom.log", "NEEDLE after a BOM"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    v.sort();
    v
}

#[test]
fn every_format_and_encoding_is_matched_in_replay() {
    let site = Site::new();
    site.write("rules.toml", RULES);
    let files = fixtures(&site);
    let out = bin()
        .arg("replay")
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .args(
            files
                .iter()
                .map(|(n, _)| site.path(&format!("site/Logs/{n}"))),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(by_file(&docs), expected());
    assert_schema(&docs);
    // Record times come from the records: the ConfigMgr bias (+300 → UTC 15:35:28),
    // the SMS 2.0 zone name (EST → UTC 15:43:41).
    let time_of = |name: &str| {
        docs.iter()
            .find(|d| {
                d["logwarden"]["alert"]["evidence"][0]["log"]["file"]["path"]
                    .as_str()
                    .unwrap()
                    .ends_with(name)
            })
            .map(|d| d["@timestamp"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(time_of("sms.log"), "2009-01-15T15:35:28.046Z");
    assert_eq!(time_of("sms20.log"), "1999-03-26T15:43:41.547Z");
    assert_eq!(time_of("cm.log"), "2017-04-07T16:57:02.615Z");
}

#[test]
fn every_format_and_encoding_is_matched_live() {
    let site = Site::new();
    site.write("rules.toml", RULES);
    std::fs::create_dir_all(site.path("site/Logs")).unwrap();
    let agent = site.start("rules.toml", &[]);
    // Files created after the start are read from their beginning.
    fixtures(&site);
    site.wait_docs(expected().len(), Duration::from_secs(30));
    agent.stop();
    assert_eq!(by_file(&site.docs()), expected());
}
