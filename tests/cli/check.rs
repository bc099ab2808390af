//! `logwarden check`: every problem at once, located.

use crate::harness::{Site, bin};

#[test]
fn five_mistakes_give_five_located_diagnostics() {
    let site = Site::new();
    site.write(
        "rules.toml",
        r#"schema = 1

[[source]]
id = "despool"
path = 'Logs\despool.log'
format = "smss"

[[threshold]]
id = "waiting"
source = "despool"
contains = "Waiting"
count = 3
window = "10 minutes"

[[match]]
id = "bad-regex"
source = "despool"
regex = 'thread=(\d+'

[[match]]
id = "typo"
source = "despool"
contains = "x"
alret = true

[[correlate]]
id = "stall"
all_of = ["waiting", "no-such-rule"]
within = "10m"
"#,
    );
    let out = bin()
        .arg("check")
        .arg("--rules")
        .arg(site.path("rules.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let located: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("rules.toml:"))
        .map(|l| {
            let start = l.find("rules.toml:").unwrap() + "rules.toml:".len();
            let rest = &l[start..];
            let end = rest.find(": ").unwrap();
            &rest[..end]
        })
        .collect();
    // format value, window value, inside the regex at the open paren,
    // the unknown key, the unknown member.
    assert_eq!(
        located,
        ["6:10", "13:10", "18:17", "24:1", "28:22"],
        "{err}"
    );
}

#[test]
fn clean_rules_pass_and_the_bundled_pack_is_clean() {
    let out = bin().arg("check").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok:"));
}
