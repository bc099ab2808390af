//! The spanned walk of a config file: every key of [`super`]'s reference,
//! read with the rule files' [`crate::rule::raw`] helpers so that problems
//! read (and render) exactly like rule problems.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::{
    AgentConfig, Delivery, EnvRef, EsAuth, EsConfig, HecConfig, HttpConfig, OutputConfig,
    OutputKind, Overflow, SyslogConfig, TlsConfig, Transport, WebhookConfig,
};
use crate::diag::{Diagnostic, Diagnostics};
use crate::rule::raw::{self, Doc, Field, Section};
use crate::source::ReadFrom;

const TOP_KEYS: &[&str] = &[
    "schema",
    "site",
    "rules",
    "state",
    "host",
    "labels",
    "read_from",
    "heartbeat",
    "rules_check_every",
    "output",
];
const TYPES: &[&str] = &[
    "file",
    "stdout",
    "syslog",
    "splunk_hec",
    "elasticsearch",
    "webhook",
];
const DELIVERY_KEYS: &[&str] = &[
    "spool_max_bytes",
    "spool_max_documents",
    "overflow",
    "batch_max_documents",
    "batch_max_bytes",
    "timeout",
    "backoff_min",
    "backoff_max",
    "drain_timeout",
    "ca_file",
];
/// Keys that would hold a secret in the file, and what to write instead.
const SECRET_KEYS: &[(&str, &str)] = &[
    ("token", "token_env"),
    ("api_key", "api_key_env"),
    ("password", "password_env"),
];

/// The keys of an output of type `t` (besides `type` and `name`).
fn own_keys(t: &str) -> &'static [&'static str] {
    match t {
        "file" => &["path"],
        "syslog" => &[
            "address",
            "transport",
            "app_name",
            "facility",
            "structured_data",
            "max_message_bytes",
            "server_name",
        ],
        "splunk_hec" => &["url", "token_env", "index", "source", "sourcetype", "gzip"],
        "elasticsearch" => &[
            "url",
            "index",
            "api_key_env",
            "username",
            "password_env",
            "gzip",
        ],
        "webhook" => &["url", "token_env", "gzip"],
        _ => &[],
    }
}

fn is_network(t: &str) -> bool {
    matches!(t, "syslog" | "splunk_hec" | "elasticsearch" | "webhook")
}

const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

pub(super) fn read(file: &Path, text: &str) -> Result<AgentConfig, Diagnostics> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (root, mut doc) = raw::parse(file, text);
    let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut cfg = AgentConfig {
        file: file.to_path_buf(),
        site: None,
        rules: Vec::new(),
        state: None,
        host: None,
        labels: BTreeMap::new(),
        read_from: None,
        heartbeat: None,
        rules_check_every: Some(super::DEFAULT_RULES_CHECK),
        outputs: Vec::new(),
        env_refs: Vec::new(),
    };
    let top = Section {
        table: &root,
        header: 0..0,
        ctx: "the top level of the config".to_owned(),
    };
    doc.unknown_keys(&top, TOP_KEYS, &|k| top_hint(k));
    if let Some(f) = top.field("schema") {
        match f.value.get_ref() {
            DeValue::Integer(i) if i.as_str() == "1" && i.radix() == 10 => {}
            DeValue::Integer(i) => doc.error(
                f.span(),
                format!(
                    "unsupported schema {}: this version of logwarden reads config schema = 1",
                    i.as_str()
                ),
            ),
            _ => doc.wrong_type(f, "the number 1"),
        }
    }
    cfg.site = doc.opt(&top, "site", |d, f| {
        d.nonempty(f).map(|p| resolve(&base, &p))
    });
    cfg.state = doc.opt(&top, "state", |d, f| {
        d.nonempty(f).map(|p| resolve(&base, &p))
    });
    if let Some(list) = doc.opt(&top, "rules", |d, f| d.string_or_list(f)) {
        cfg.rules = list.iter().map(|p| resolve(&base, p.get_ref())).collect();
    }
    cfg.host = doc.opt(&top, "host", |d, f| d.nonempty(f));
    if let Some(labels) = doc.opt(&top, "labels", |d, f| d.string_map(f)) {
        cfg.labels = labels
            .into_iter()
            .map(|(k, v)| (k.into_inner(), v))
            .collect();
    }
    cfg.read_from = doc.opt(&top, "read_from", |d, f| {
        d.word(
            f,
            &[("beginning", ReadFrom::Beginning), ("end", ReadFrom::End)],
        )
    });
    cfg.heartbeat = doc.opt(&top, "heartbeat", |d, f| d.positive_duration(f));
    if let Some(every) = doc.opt(&top, "rules_check_every", |d, f| d.duration(f)) {
        cfg.rules_check_every = (!every.is_zero()).then_some(every);
    }
    if let Some(f) = top.field("output") {
        read_outputs(&mut doc, f, &base, &mut cfg);
    }
    let mut diags = doc.diags;
    diags.sort_by_key(|d| d.span.start);
    if diags.is_empty() {
        Ok(cfg)
    } else {
        Err(Diagnostics(diags))
    }
}

fn top_hint(key: &str) -> Option<String> {
    if let Some((_, instead)) = SECRET_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(format!(
            "secrets never go in the file: write {instead} = \"VARIABLE\" inside an [[output]]"
        ));
    }
    let owners: Vec<&str> = TYPES
        .iter()
        .copied()
        .filter(|t| own_keys(t).contains(&key) || (is_network(t) && DELIVERY_KEYS.contains(&key)))
        .collect();
    (!owners.is_empty()).then(|| {
        format!("{key:?} is a key of [[output]]: is an [[output]] header missing above it?")
    })
}

/// A path from the config: absolute as written, else relative to the
/// config's folder. `\` and `/` both separate (a config written on Windows
/// reads the same when tested elsewhere).
fn resolve(base: &Path, written: &str) -> PathBuf {
    let p = if cfg!(windows) {
        PathBuf::from(written)
    } else {
        PathBuf::from(written.replace('\\', "/"))
    };
    if p.is_absolute() || looks_like_windows_absolute(written) {
        PathBuf::from(written)
    } else {
        base.join(p)
    }
}

/// `C:\…`, `C:/…` or `\\server\share`: absolute on Windows whatever the
/// platform validating the file.
fn looks_like_windows_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/'))
        || p.starts_with("\\\\")
}

fn read_outputs(doc: &mut Doc<'_>, f: Field<'_, '_>, base: &Path, cfg: &mut AgentConfig) {
    let items = match f.value.get_ref() {
        DeValue::Array(items) => items,
        DeValue::Table(_) => {
            doc.error(
                f.span(),
                "\"output\" must be an array of tables: write [[output]] with double brackets, not [output]",
            );
            return;
        }
        other => {
            doc.error(
                f.span(),
                format!(
                    "\"output\" must be an array of tables ([[output]]), not {}",
                    raw::a_type(other)
                ),
            );
            return;
        }
    };
    let mut names: Vec<(String, std::ops::Range<usize>, bool)> = Vec::new();
    for item in items.iter() {
        let DeValue::Table(t) = item.get_ref() else {
            doc.error(
                item.span(),
                format!(
                    "entries of \"output\" must be tables ([[output]]), not {}",
                    raw::a_type(item.get_ref())
                ),
            );
            continue;
        };
        let (out, name) = read_output(doc, t, item.span(), base, cfg);
        names.extend(name);
        cfg.outputs.extend(out);
    }
    for (i, (name, span, explicit)) in names.iter().enumerate() {
        if names[..i].iter().any(|(n, _, _)| n == name) {
            let msg = if *explicit {
                format!(
                    "output name {name:?} is used twice; give each [[output]] its own name (it names the output's spool folder)"
                )
            } else {
                format!(
                    "a second [[output]] of type {name:?} needs a name: add name = \"{name}-2\" (each output's name must be unique: it names its spool folder)"
                )
            };
            doc.error(span.clone(), msg);
        }
    }
}

/// A name, where it is (or the table header), and whether it was written.
type NameAt = (String, std::ops::Range<usize>, bool);

/// One `[[output]]` (none when it has problems) and its name (when its
/// type is known, so that names are checked for clashes even then).
fn read_output(
    doc: &mut Doc<'_>,
    t: &DeTable<'_>,
    header: std::ops::Range<usize>,
    base: &Path,
    cfg: &mut AgentConfig,
) -> (Option<OutputConfig>, Option<NameAt>) {
    let type_word = t
        .get("type")
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_owned);
    let ctx = match (&type_word, t.get("name").and_then(|v| v.get_ref().as_str())) {
        (_, Some(n)) => format!("[[output]] {n:?}"),
        (Some(ty), None) => format!("[[output]] of type {ty:?}"),
        (None, None) => "[[output]]".to_owned(),
    };
    let s = Section {
        table: t,
        header: header.clone(),
        ctx,
    };
    let kind_word = doc.req(&s, "type", "type = \"syslog\"", |d, f| {
        let w = d.string(f)?;
        if TYPES.contains(&w.as_str()) {
            return Some(w);
        }
        let extra = match raw::suggest(&w, TYPES.iter().copied()) {
            Some(best) => format!("did you mean {best:?}?"),
            None => format!("write one of {}", TYPES.join(", ")),
        };
        d.error(f.span(), format!("unknown output type {w:?} ({extra})"));
        None
    });
    // Unknown keys are judged against the type when it is known, else
    // against every output key (so one mistake is not reported twice).
    let mut allowed: Vec<&str> = vec!["type", "name"];
    match &kind_word {
        Some(w) => {
            allowed.extend(own_keys(w));
            if is_network(w) {
                allowed.extend(DELIVERY_KEYS);
            }
        }
        None => {
            for ty in TYPES {
                allowed.extend(own_keys(ty));
            }
            allowed.extend(DELIVERY_KEYS);
        }
    }
    let ty = kind_word.clone();
    doc.unknown_keys(&s, &allowed, &|k| output_hint(ty.as_deref(), k));
    let name = doc.opt(&s, "name", |d, f| {
        let n = d.nonempty(f)?;
        if n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !n.starts_with('.')
        {
            Some(n)
        } else {
            d.error(
                f.span(),
                format!(
                    "output name {n:?} may contain only ASCII letters, digits, \"-\", \"_\" and \".\" (it names a folder)"
                ),
            );
            None
        }
    });
    let name_span = s
        .field("name")
        .map(|f| f.span())
        .unwrap_or_else(|| header.clone());
    let explicit = s.has("name");
    let Some(w) = kind_word else {
        return (None, None);
    };
    let name = name.unwrap_or_else(|| w.clone());
    let out = read_kind(doc, &s, &w, base, cfg).map(|kind| OutputConfig {
        name: name.clone(),
        kind,
        location: doc.location(header.start),
    });
    (out, Some((name, name_span, explicit)))
}

/// The type-specific keys of an output of type `w`.
fn read_kind(
    doc: &mut Doc<'_>,
    s: &Section<'_, '_>,
    w: &str,
    base: &Path,
    cfg: &mut AgentConfig,
) -> Option<OutputKind> {
    let delivery = is_network(w).then(|| read_delivery(doc, s));
    let tls = TlsConfig {
        ca_file: doc.opt(s, "ca_file", |d, f| {
            d.nonempty(f).map(|p| resolve(base, &p))
        }),
        server_name: doc.opt(s, "server_name", |d, f| d.nonempty(f)),
    };
    let kind = match w {
        "file" => OutputKind::File {
            path: doc.req(s, "path", "path = 'alerts.ndjson'", |d, f| {
                d.nonempty(f).map(|p| resolve(base, &p))
            })?,
        },
        "stdout" => OutputKind::Stdout,
        "syslog" => OutputKind::Syslog(read_syslog(doc, s, tls)?, delivery?),
        "splunk_hec" => {
            let http = read_http(
                doc,
                s,
                tls,
                "url = \"https://splunk.example:8088/services/collector/event\"",
            );
            let token = doc.req(
                s,
                "token_env",
                "token_env = \"LOGWARDEN_HEC_TOKEN\"",
                |d, f| env_name(d, f, cfg),
            );
            let index = doc.opt(s, "index", |d, f| d.nonempty(f));
            let source = doc
                .opt(s, "source", |d, f| d.nonempty(f))
                .unwrap_or_else(|| "logwarden".to_owned());
            let sourcetype = doc
                .opt(s, "sourcetype", |d, f| d.nonempty(f))
                .unwrap_or_else(|| "_json".to_owned());
            let mut http = http?;
            if let Some(rest) = http.url.strip_suffix('/')
                && !rest.contains("/services/")
                && rest.matches('/').count() == 2
            {
                // `https://splunk:8088/`: the event endpoint is meant.
                http.url = format!("{rest}/services/collector/event");
            } else if http.url.matches('/').count() == 2 {
                http.url.push_str("/services/collector/event");
            }
            OutputKind::SplunkHec(
                HecConfig {
                    http,
                    token_env: token?,
                    index,
                    source,
                    sourcetype,
                },
                delivery?,
            )
        }
        "elasticsearch" => {
            let http = read_http(doc, s, tls, "url = \"https://es.example:9200\"");
            let index = doc.req(s, "index", "index = \"logwarden-alerts\"", |d, f| {
                d.nonempty(f)
            });
            let api_key = doc.opt(s, "api_key_env", |d, f| env_name(d, f, cfg));
            let username = doc.opt(s, "username", |d, f| d.nonempty(f));
            let password = doc.opt(s, "password_env", |d, f| env_name(d, f, cfg));
            let auth = match (api_key, username, password) {
                (Some(k), None, None) => EsAuth::ApiKey(k),
                (None, Some(u), Some(p)) => EsAuth::Basic {
                    username: u,
                    password_env: p,
                },
                (None, None, None) => EsAuth::None,
                (Some(_), _, _) => {
                    if let Some(span) = s
                        .key_span("username")
                        .or_else(|| s.key_span("password_env"))
                    {
                        doc.error(
                            span,
                            format!(
                                "{} takes api_key_env or username and password_env, not both",
                                s.ctx
                            ),
                        );
                    }
                    return None;
                }
                (None, Some(_), None) => {
                    doc.missing(
                        s,
                        "password_env",
                        "password_env = \"LOGWARDEN_ES_PASSWORD\"",
                    );
                    return None;
                }
                (None, None, Some(_)) => {
                    doc.missing(s, "username", "username = \"logwarden\"");
                    return None;
                }
            };
            let mut http = http?;
            while http.url.ends_with('/') {
                http.url.pop();
            }
            OutputKind::Elasticsearch(
                EsConfig {
                    http,
                    index: index?,
                    auth,
                },
                delivery?,
            )
        }
        _ => {
            let http = read_http(doc, s, tls, "url = \"https://hooks.example/alerts\"");
            let token_env = doc.opt(s, "token_env", |d, f| env_name(d, f, cfg));
            OutputKind::Webhook(
                WebhookConfig {
                    http: http?,
                    token_env,
                },
                delivery?,
            )
        }
    };
    Some(kind)
}

fn output_hint(ty: Option<&str>, key: &str) -> Option<String> {
    if let Some((_, instead)) = SECRET_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(format!(
            "secrets never go in the file: write {instead} = \"VARIABLE\" and set that environment variable for the agent"
        ));
    }
    let ty = ty?;
    let owners: Vec<String> = TYPES
        .iter()
        .filter(|t| **t != ty)
        .filter(|t| own_keys(t).contains(&key) || (is_network(t) && DELIVERY_KEYS.contains(&key)))
        .map(|t| format!("{t:?}"))
        .collect();
    (!owners.is_empty()).then(|| {
        format!(
            "{key:?} is a key of outputs of type {}, not {ty:?}",
            owners.join(" or ")
        )
    })
}

/// An environment variable name (`token_env = "X"`), remembered for
/// [`super::environment_problems`].
fn env_name(doc: &mut Doc<'_>, f: Field<'_, '_>, cfg: &mut AgentConfig) -> Option<String> {
    let v = doc.nonempty(f)?;
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || v.starts_with(|c: char| c.is_ascii_digit())
    {
        // Looks like the secret itself was pasted in: say so without echoing it.
        doc.error(
            f.span(),
            format!(
                "{:?} in {} must name an environment variable (letters, digits, \"_\"), not hold the secret itself",
                f.key, f.ctx
            ),
        );
        return None;
    }
    cfg.env_refs.push(EnvRef {
        var: v.clone(),
        at: Diagnostic::new(doc.file, doc.text, f.span(), String::new()),
    });
    Some(v)
}

fn read_delivery(doc: &mut Doc<'_>, s: &Section<'_, '_>) -> Delivery {
    let mut d = Delivery::default();
    let max = i64::MAX;
    if let Some(n) = doc.opt(s, "spool_max_bytes", |dc, f| dc.integer(f, 65_536, max)) {
        d.spool_max_bytes = n as u64;
    }
    d.spool_max_documents = doc
        .opt(s, "spool_max_documents", |dc, f| dc.integer(f, 1, max))
        .map(|n| n as u64);
    if let Some(o) = doc.opt(s, "overflow", |dc, f| {
        dc.word(
            f,
            &[
                ("block", Overflow::Block),
                ("drop_oldest", Overflow::DropOldest),
            ],
        )
    }) {
        d.overflow = o;
    }
    if let Some(n) = doc.opt(s, "batch_max_documents", |dc, f| dc.integer(f, 1, 100_000)) {
        d.batch_max_documents = n as usize;
    }
    if let Some(n) = doc.opt(s, "batch_max_bytes", |dc, f| {
        dc.integer(f, 1024, 1024 * 1024 * 1024)
    }) {
        d.batch_max_bytes = n as usize;
    }
    let mut dur = |key: &str, slot: &mut Duration| {
        if let Some(v) = doc.opt(s, key, |dc, f| dc.positive_duration(f)) {
            *slot = v;
        }
    };
    dur("timeout", &mut d.timeout);
    dur("backoff_min", &mut d.backoff_min);
    dur("backoff_max", &mut d.backoff_max);
    if let Some(v) = doc.opt(s, "drain_timeout", |dc, f| dc.duration(f)) {
        d.drain_timeout = v;
    }
    if d.backoff_max < d.backoff_min
        && let Some(span) = s.field("backoff_max").map(|f| f.span())
    {
        doc.error(
            span,
            format!(
                "\"backoff_max\" in {} must not be shorter than \"backoff_min\"",
                s.ctx
            ),
        );
    }
    d
}

fn read_syslog(doc: &mut Doc<'_>, s: &Section<'_, '_>, tls: TlsConfig) -> Option<SyslogConfig> {
    let address = doc.req(s, "address", "address = \"127.0.0.1:514\"", |d, f| {
        let a = d.nonempty(f)?;
        match split_address(&a) {
            Ok(_) => Some(a),
            Err(why) => {
                d.error(
                    f.span(),
                    format!("invalid address {a:?} in {}: {why} (write host:port, e.g. \"siem.example:6514\" or \"[::1]:514\")", s.ctx),
                );
                None
            }
        }
    });
    let transport = doc
        .opt(s, "transport", |d, f| {
            d.word(
                f,
                &[
                    ("tcp", Transport::Tcp),
                    ("udp", Transport::Udp),
                    ("tls", Transport::Tls),
                ],
            )
        })
        .unwrap_or(Transport::Tcp);
    let app_name = doc
        .opt(s, "app_name", |d, f| {
            let a = d.nonempty(f)?;
            // RFC 5424 APP-NAME: 1*48 PRINTUSASCII.
            if a.len() <= 48 && a.bytes().all(|b| (33..=126).contains(&b)) {
                Some(a)
            } else {
                d.error(
                    f.span(),
                    format!("\"app_name\" in {} must be 1 to 48 printable ASCII characters without spaces (RFC 5424)", s.ctx),
                );
                None
            }
        })
        .unwrap_or_else(|| "logwarden".to_owned());
    let facility = doc
        .opt(s, "facility", |d, f| d.word(f, FACILITIES))
        .unwrap_or(16);
    let structured_data = doc
        .opt(s, "structured_data", |d, f| d.boolean(f))
        .unwrap_or(false);
    let max_message_bytes = doc
        .opt(s, "max_message_bytes", |d, f| d.integer(f, 480, 65_507))
        .map_or(65_000, |n| n as usize);
    if transport != Transport::Tls
        && let Some(span) = s.key_span("server_name").or_else(|| s.key_span("ca_file"))
    {
        doc.error(
            span,
            format!("{} uses TLS settings only with transport = \"tls\"", s.ctx),
        );
    }
    Some(SyslogConfig {
        address: address?,
        transport,
        app_name,
        facility,
        structured_data,
        max_message_bytes,
        tls,
    })
}

/// `host:port` → (host, port), without resolving the name.
pub(crate) fn split_address(a: &str) -> Result<(&str, u16), &'static str> {
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or("an IPv6 address needs [brackets]:port")?;
        (h, p)
    } else {
        let (h, p) = a.rsplit_once(':').ok_or("the port is missing")?;
        if h.contains(':') {
            return Err("an IPv6 address needs [brackets]:port");
        }
        (h, p)
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err("the port must be a number from 1 to 65535"),
        Ok(p) => Ok((host, p)),
    }
}

fn read_http(
    doc: &mut Doc<'_>,
    s: &Section<'_, '_>,
    tls: TlsConfig,
    example: &str,
) -> Option<HttpConfig> {
    if let Some(span) = s.key_span("server_name") {
        doc.error(
            span,
            format!(
                "\"server_name\" is a key of syslog outputs; {} takes the name from its url",
                s.ctx
            ),
        );
    }
    let url = doc.req(s, "url", example, |d, f| {
        let u = d.nonempty(f)?;
        match check_url(&u) {
            Ok(()) => Some(u),
            Err(why) => {
                d.error(f.span(), format!("invalid url in {}: {why}", s.ctx));
                None
            }
        }
    });
    let gzip = doc.opt(s, "gzip", |d, f| d.boolean(f)).unwrap_or(false);
    Some(HttpConfig {
        url: url?,
        gzip,
        tls,
    })
}

/// An http(s) URL with a host and no credentials in it (they would end up
/// in logs; secrets come from environment variables).
fn check_url(u: &str) -> Result<(), String> {
    let uri: ureq::http::Uri = u
        .parse()
        .map_err(|e| format!("{e} (write e.g. \"https://siem.example:8088/path\")"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(format!("scheme {other:?} is not http or https")),
        None => return Err("it needs a scheme: start it with https:// or http://".to_owned()),
    }
    let Some(auth) = uri.authority() else {
        return Err("it has no host".to_owned());
    };
    if auth.as_str().contains('@') {
        return Err(
            "credentials do not belong in the url: use token_env, api_key_env or password_env"
                .to_owned(),
        );
    }
    if auth.host().is_empty() {
        return Err("it has no host".to_owned());
    }
    Ok(())
}
