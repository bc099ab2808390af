//! `logwarden test`: the bundled rule tests pass; a failing case shows a diff.

use crate::harness::{Site, bin};

#[test]
fn the_bundled_rule_tests_pass() {
    let out = bin()
        .arg("test")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/tests"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("PASS"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

#[test]
fn a_failing_case_exits_1_with_a_diff() {
    let site = Site::new();
    site.write(
        "rules/r.toml",
        r#"schema = 1
[[source]]
id = "app"
path = 'app.log'
[[threshold]]
id = "many"
source = "app"
contains = "ERROR"
count = 2
window = "1m"
resolve_after = "5m"
"#,
    );
    site.write(
        "rules/tests/t.toml",
        r#"rules = ["../r.toml"]
[[case]]
name = "fires at the second error"
input = [
  { at = "0s", source = "app", line = "ERROR one" },
  { at = "30s", source = "app", line = "ERROR two" },
]
expect = [{ at = "40s", rule = "many", status = "firing" }]
"#,
    );
    let out = bin()
        .arg("test")
        .arg(site.path("rules/tests"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(
        stdout.contains("- expected      40s many firing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("+ actual        30s many firing"),
        "{stdout}"
    );
}

#[test]
fn every_correlation_form_restart_and_lateness_case_passes() {
    let out = bin()
        .arg("test")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules/cases"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("10 passed, 0 failed"), "{stdout}");
}
