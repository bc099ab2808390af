//! Golden replays: a six-hour SMS 2.0 site and a ConfigMgr site, generated at
//! test time by `examples/gen-site/generate.rs` (compiled into this binary)
//! from a fixed seed, replayed with the bundled pack; the alerts (rule,
//! status, `@timestamp`, group) must equal `tests/golden/*.alerts` exactly.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Site, assert_schema, bin};

// The generator is the example's module; what only the example uses
// (`HOURS`, the returned folder list) is dead code here.
#[path = "../../examples/gen-site/generate.rs"]
#[allow(dead_code)]
mod generate;

use generate::Layout;

/// `@timestamp status rule group`, as the golden files write them.
fn line(d: &Value) -> String {
    format!(
        "{} {} {} {}",
        d["@timestamp"].as_str().unwrap(),
        d["logwarden"]["alert"]["status"].as_str().unwrap(),
        d["rule"]["id"].as_str().unwrap(),
        serde_json::to_string(&d["logwarden"]["alert"]["group"]).unwrap()
    )
}

/// The golden file's alert lines, blanks squeezed, comments dropped.
fn golden(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Generates the site, replays it and returns the documents.
fn replay(layout: Layout, seed: u64) -> Vec<Value> {
    let site = Site::new();
    generate::generate(&site.root(), layout, seed).unwrap();
    // The bundled pack, with a fixed host name so that groups do not depend
    // on the machine that runs the test.
    site.write(
        "site.toml",
        "bundled = true\n\n[defaults]\nhost = \"SMS01\"\n",
    );
    let out = bin()
        .arg("replay")
        .arg("--site")
        .arg(site.root())
        .arg("--rules")
        .arg(site.path("site.toml"))
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

fn check(layout: Layout, seed: u64, name: &str) {
    let docs = replay(layout, seed);
    assert_schema(&docs);
    let actual: Vec<String> = docs.iter().map(line).collect();
    assert_eq!(
        actual,
        golden(name),
        "replay differs from tests/golden/{name}; actual:\n{}",
        actual.join("\n")
    );
}

#[test]
fn sms20_site_replays_to_exactly_its_golden_incidents() {
    check(Layout::Sms20, 2001, "sms20.alerts");
}

#[test]
fn configmgr_site_replays_to_exactly_its_golden_incidents() {
    check(Layout::ConfigMgr, 2024, "configmgr.alerts");
}

#[test]
fn the_incidents_do_not_depend_on_the_seed() {
    let ids = |docs: Vec<Value>| -> Vec<String> { docs.iter().map(line).collect() };
    assert_eq!(
        ids(replay(Layout::ConfigMgr, 7)),
        golden("configmgr.alerts")
    );
    assert_eq!(ids(replay(Layout::Sms20, 7)), golden("sms20.alerts"));
}
