use std::path::Path;

use super::*;

/// Parses `text` as `/etc/lw/logwarden.toml` and returns the rendered
/// diagnostics (empty when clean).
fn check(text: &str, expected: &str) {
    let got = match parse(Path::new("/etc/lw/logwarden.toml"), text) {
        Ok(_) => String::new(),
        Err(d) => d.to_string(),
    };
    assert_eq!(got, expected, "\n{got}");
}

fn ok(text: &str) -> AgentConfig {
    parse(Path::new("/etc/lw/logwarden.toml"), text).unwrap_or_else(|d| panic!("{d}"))
}

const SPEC_EXAMPLE: &str = r#"
site = 'C:\SMS'
rules = ['rules']
state = 'C:\ProgramData\logwarden'
host = "PRI01"
labels = { site_code = "PS1" }

[[output]]
type = "file"
path = 'alerts.ndjson'

[[output]]
type = "syslog"
address = "127.0.0.1:1514"
transport = "tcp"
app_name = "logwarden"

[[output]]
type = "splunk_hec"
url = "https://splunk.example:8088/services/collector/event"
token_env = "LOGWARDEN_HEC_TOKEN"
index = "sms"

[[output]]
type = "elasticsearch"
url = "https://es.example:9200"
index = "logwarden-alerts"
api_key_env = "LOGWARDEN_ES_KEY"

[[output]]
type = "webhook"
url = "https://hooks.example/alerts"
"#;

#[test]
fn the_spec_example_is_valid() {
    let c = ok(SPEC_EXAMPLE);
    assert_eq!(c.site, Some(PathBuf::from(r"C:\SMS")));
    assert_eq!(c.rules, vec![PathBuf::from("/etc/lw/rules")]);
    assert_eq!(c.host.as_deref(), Some("PRI01"));
    assert_eq!(c.labels.get("site_code").map(String::as_str), Some("PS1"));
    let names: Vec<&str> = c.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["file", "syslog", "splunk_hec", "elasticsearch", "webhook"]
    );
    assert_eq!(
        c.outputs[0].kind,
        OutputKind::File {
            path: PathBuf::from("/etc/lw/alerts.ndjson")
        }
    );
    let OutputKind::Syslog(s, d) = &c.outputs[1].kind else {
        panic!()
    };
    assert_eq!(
        (s.transport, s.facility, s.structured_data),
        (Transport::Tcp, 16, false)
    );
    assert_eq!(d, &Delivery::default());
    let vars: Vec<&str> = c.env_refs.iter().map(|r| r.var.as_str()).collect();
    assert_eq!(vars, ["LOGWARDEN_HEC_TOKEN", "LOGWARDEN_ES_KEY"]);
    assert_eq!(c.rules_check_every, Some(DEFAULT_RULES_CHECK));
}

#[test]
fn hec_url_without_a_path_gets_the_event_endpoint() {
    let c = ok("[[output]]\ntype = \"splunk_hec\"\nurl = \"https://s:8088\"\ntoken_env = \"T\"\n");
    let OutputKind::SplunkHec(h, _) = &c.outputs[0].kind else {
        panic!()
    };
    assert_eq!(h.http.url, "https://s:8088/services/collector/event");
}

#[test]
fn unknown_keys_wrong_types_and_bad_values_are_located() {
    check(
        r#"site = 3
heartbeat = "1 minute"
token = "abc"

[[output]]
type = "syslog"
address = "localhost"
transport = "tcpp"
url = "http://x"
"#,
        r#"/etc/lw/logwarden.toml:1:8: "site" in the top level of the config must be a string, not an integer
  |
1 | site = 3
  |        ^
/etc/lw/logwarden.toml:2:13: invalid duration "1 minute" for "heartbeat" in the top level of the config: a unit is missing (write a number and a unit: "250ms", "30s", "10m", "2h", "1d")
  |
2 | heartbeat = "1 minute"
  |             ^^^^^^^^^^
/etc/lw/logwarden.toml:3:1: unknown key "token" in the top level of the config (secrets never go in the file: write token_env = "VARIABLE" inside an [[output]])
  |
3 | token = "abc"
  | ^^^^^
/etc/lw/logwarden.toml:7:11: invalid address "localhost" in [[output]] of type "syslog": the port is missing (write host:port, e.g. "siem.example:6514" or "[::1]:514")
  |
7 | address = "localhost"
  |           ^^^^^^^^^^^
/etc/lw/logwarden.toml:8:13: unknown transport "tcpp" in [[output]] of type "syslog" (did you mean "tcp"?)
  |
8 | transport = "tcpp"
  |             ^^^^^^
/etc/lw/logwarden.toml:9:1: unknown key "url" in [[output]] of type "syslog" ("url" is a key of outputs of type "splunk_hec" or "elasticsearch" or "webhook", not "syslog")
  |
9 | url = "http://x"
  | ^^^
"#,
    );
}

#[test]
fn outputs_need_a_type_unique_names_and_clean_urls() {
    check(
        r#"[[output]]
type = "webhook"
url = "https://user:pw@hooks.example/x"

[[output]]
type = "webhook"
url = "ftp://hooks.example/x"

[[output]]
path = "a.ndjson"

[[output]]
type = "splunk"
"#,
        r#"/etc/lw/logwarden.toml:3:7: invalid url in [[output]] of type "webhook": credentials do not belong in the url: use token_env, api_key_env or password_env
  |
3 | url = "https://user:pw@hooks.example/x"
  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
/etc/lw/logwarden.toml:5:1: a second [[output]] of type "webhook" needs a name: add name = "webhook-2" (each output's name must be unique: it names its spool folder)
  |
5 | [[output]]
  | ^^^^^^^^^^
/etc/lw/logwarden.toml:7:7: invalid url in [[output]] of type "webhook": scheme "ftp" is not http or https
  |
7 | url = "ftp://hooks.example/x"
  |       ^^^^^^^^^^^^^^^^^^^^^^^
/etc/lw/logwarden.toml:9:1: missing key "type" in [[output]] (add e.g. type = "syslog")
  |
9 | [[output]]
  | ^^^^^^^^^^
/etc/lw/logwarden.toml:13:8: unknown output type "splunk" (did you mean "splunk_hec"?)
   |
13 | type = "splunk"
   |        ^^^^^^^^
"#,
    );
}

#[test]
fn a_pasted_secret_is_refused_without_echoing_it_in_the_message() {
    check(
        "[[output]]\ntype = \"splunk_hec\"\nurl = \"https://s:8088\"\ntoken_env = \"3f1c-77aa\"\n",
        r#"/etc/lw/logwarden.toml:4:13: "token_env" in [[output]] of type "splunk_hec" must name an environment variable (letters, digits, "_"), not hold the secret itself
  |
4 | token_env = "3f1c-77aa"
  |             ^^^^^^^^^^^
"#,
    );
}

#[test]
fn unset_secret_variables_are_located() {
    let c = ok(SPEC_EXAMPLE);
    let env = |v: &str| (v == "LOGWARDEN_ES_KEY").then(|| "k".to_owned());
    let problems: Vec<String> = environment_problems(&c, &env)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        problems,
        [
            r#"/etc/lw/logwarden.toml:21:13: environment variable "LOGWARDEN_HEC_TOKEN" is not set (or empty) here; set it in the agent's environment (secrets never go in the file)
   |
21 | token_env = "LOGWARDEN_HEC_TOKEN"
   |             ^^^^^^^^^^^^^^^^^^^^^
"#
        ]
    );
    assert!(environment_problems(&c, &|_| Some("x".into())).is_empty());
}

#[test]
fn delivery_settings_and_their_bounds() {
    let c = ok(r#"
rules_check_every = "0s"
heartbeat = "30s"
[[output]]
type = "syslog"
name = "siem-udp"
address = "[::1]:514"
transport = "udp"
facility = "auth"
overflow = "drop_oldest"
spool_max_documents = 10
backoff_min = "100ms"
backoff_max = "2s"
"#);
    assert_eq!(c.rules_check_every, None);
    assert_eq!(c.heartbeat, Some(Duration::from_secs(30)));
    let OutputKind::Syslog(s, d) = &c.outputs[0].kind else {
        panic!()
    };
    assert_eq!((s.facility, s.transport), (4, Transport::Udp));
    assert_eq!(d.overflow, Overflow::DropOldest);
    assert_eq!(d.spool_max_documents, Some(10));
    assert_eq!(d.backoff_max, Duration::from_secs(2));
    check(
        "[[output]]\ntype = \"webhook\"\nurl = \"http://h/x\"\nbackoff_min = \"5s\"\nbackoff_max = \"1s\"\nspool_max_bytes = 10\n",
        r#"/etc/lw/logwarden.toml:5:15: "backoff_max" in [[output]] of type "webhook" must not be shorter than "backoff_min"
  |
5 | backoff_max = "1s"
  |               ^^^^
/etc/lw/logwarden.toml:6:19: "spool_max_bytes" in [[output]] of type "webhook" must be at least 65536
  |
6 | spool_max_bytes = 10
  |                   ^^
"#,
    );
}

#[test]
fn addresses() {
    assert_eq!(split_address("siem:6514"), Ok(("siem", 6514)));
    assert_eq!(split_address("[::1]:514"), Ok(("::1", 514)));
    assert!(split_address("::1:514").is_err());
    assert!(split_address("h:0").is_err());
    assert!(split_address(":514").is_err());
}
