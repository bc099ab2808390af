//! The agent config (`logwarden run --config FILE`, SPEC §9): site, rules,
//! state, host, labels, outputs, heartbeat and rule reloading, validated
//! into an [`AgentConfig`] with every problem reported as a located
//! [`Diagnostic`] (the same spanned walk and rendering as rule files).
//!
//! Owns: the meaning of every config key, defaults, and the checks that
//! depend on the agent's environment ([`environment_problems`]: secrets in
//! environment variables, CA files). Does not open outputs
//! ([`crate::output`]) nor merge command-line flags ([`crate::app::run`]).
//! [`parse`] does no I/O; [`load`] reads the one file.
//!
//! # Reference
//!
//! ```toml
//! schema = 1                          # optional; only 1 is understood
//! site = 'C:\SMS'                     # as --site
//! rules = ['rules']                   # as --rules (a path or a list); default: the bundled pack
//! state = 'C:\ProgramData\logwarden'  # as --state
//! host = "PRI01"                      # host.name of every document (wins over the rules' [defaults])
//! labels = { site_code = "PS1" }      # merged over the rules' [defaults] labels
//! read_from = "end"                   # as --read-from
//! heartbeat = "60s"                   # a health document on every output this often (default: none)
//! rules_check_every = "5s"            # rule files re-read this often; "0s": only on SIGHUP
//!
//! [[output]]
//! type = "syslog"                     # file | stdout | syslog | splunk_hec | elasticsearch | webhook
//! name = "siem"                       # default: the type; names the spool folder
//! address = "127.0.0.1:1514"
//! ```
//!
//! Relative paths (`site`, `rules`, `state`, a file output's `path`,
//! `ca_file`) are resolved against the folder of the config file, not the
//! current folder: a Windows service starts in `System32`.
//!
//! Every output of a network type (`syslog`, `splunk_hec`, `elasticsearch`,
//! `webhook`) is spooled (see `docs/outputs.md`) and takes these keys:
//! `spool_max_bytes` (default 268435456), `spool_max_documents` (default no
//! limit), `overflow` (`"block"`, the default, or `"drop_oldest"`),
//! `batch_max_documents` (500), `batch_max_bytes` (5242880), `timeout`
//! ("10s"), `backoff_min` ("1s"), `backoff_max` ("60s"), `drain_timeout`
//! ("5s": how long a stopping agent keeps delivering before it leaves the
//! rest in the spool) and `ca_file` (PEM certificates trusted besides the
//! public roots, for TLS).
//!
//! Decisions where the contract is silent:
//! - Output `name`s are unique and use the id alphabet (letters, digits,
//!   `-`, `_`, `.`). The default is the type, so two outputs of one type
//!   must be named: a spool folder that silently changed owner when outputs
//!   are reordered would deliver one receiver's alerts to another.
//! - Secrets are named, never written: `token_env`, `api_key_env`,
//!   `password_env` hold environment variable *names*. A key such as
//!   `token` is an error that says so.
//! - An unset secret variable (or an unreadable `ca_file`) is a warning for
//!   `check`, which may run under another account than the service, and an
//!   error for `run`, which refuses to start rather than spool alerts it
//!   can never authenticate.

mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diag::{Diagnostic, Diagnostics};
use crate::rule::Location;
use crate::source::ReadFrom;

/// A validated agent config.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentConfig {
    /// The config file.
    pub file: PathBuf,
    /// `site`, resolved.
    pub site: Option<PathBuf>,
    /// `rules`, resolved (empty: the bundled pack).
    pub rules: Vec<PathBuf>,
    /// `state`, resolved.
    pub state: Option<PathBuf>,
    /// `host`.
    pub host: Option<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `read_from`.
    pub read_from: Option<ReadFrom>,
    /// `heartbeat`: period of the health document.
    pub heartbeat: Option<Duration>,
    /// `rules_check_every`: `None` when "0s" (reload on SIGHUP only).
    pub rules_check_every: Option<Duration>,
    /// `[[output]]`s in file order.
    pub outputs: Vec<OutputConfig>,
    /// Every environment variable the outputs read, where it is named.
    pub env_refs: Vec<EnvRef>,
}

/// Default of `rules_check_every`.
pub const DEFAULT_RULES_CHECK: Duration = Duration::from_secs(5);

/// An environment variable named in the config (`token_env = "X"`), with
/// the diagnostic to show when it is not set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvRef {
    /// The variable's name.
    pub var: String,
    /// Where it is named (message filled in by [`environment_problems`]).
    pub at: Diagnostic,
}

/// One `[[output]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputConfig {
    /// `name` (default: the type): unique; names the spool folder.
    pub name: String,
    /// What it is.
    pub kind: OutputKind,
    /// Where its table starts.
    pub location: Location,
}

/// The kinds of output and their settings.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputKind {
    /// NDJSON appended to a file.
    File {
        /// The file, resolved.
        path: PathBuf,
    },
    /// NDJSON on standard output.
    Stdout,
    /// RFC 5424 syslog.
    Syslog(SyslogConfig, Delivery),
    /// Splunk HTTP Event Collector.
    SplunkHec(HecConfig, Delivery),
    /// Elasticsearch / OpenSearch `_bulk`.
    Elasticsearch(EsConfig, Delivery),
    /// A JSON webhook.
    Webhook(WebhookConfig, Delivery),
}

impl OutputKind {
    /// The `type` word.
    pub fn type_name(&self) -> &'static str {
        match self {
            OutputKind::File { .. } => "file",
            OutputKind::Stdout => "stdout",
            OutputKind::Syslog(..) => "syslog",
            OutputKind::SplunkHec(..) => "splunk_hec",
            OutputKind::Elasticsearch(..) => "elasticsearch",
            OutputKind::Webhook(..) => "webhook",
        }
    }
}

/// Syslog transport.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP with octet-counting framing (RFC 6587 §3.4.1).
    Tcp,
    /// One datagram per message (RFC 5426).
    Udp,
    /// TCP with TLS, octet-counting framing (RFC 5425).
    Tls,
}

/// `type = "syslog"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogConfig {
    /// `address`: `host:port`.
    pub address: String,
    /// `transport` (default tcp).
    pub transport: Transport,
    /// `app_name` (default `logwarden`).
    pub app_name: String,
    /// `facility` as its number (default local0 = 16).
    pub facility: u8,
    /// `structured_data` (default false: `-`).
    pub structured_data: bool,
    /// `max_message_bytes`: UDP only (default 65000).
    pub max_message_bytes: usize,
    /// TLS settings (transport tls).
    pub tls: TlsConfig,
}

/// TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `ca_file`: PEM certificates trusted besides the public roots.
    pub ca_file: Option<PathBuf>,
    /// `server_name`: the name the certificate must carry (syslog; default
    /// the host part of `address`).
    pub server_name: Option<String>,
}

/// What every HTTP output shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpConfig {
    /// `url`, validated (http or https, with a host).
    pub url: String,
    /// `gzip` (default false): compress request bodies.
    pub gzip: bool,
    /// TLS settings.
    pub tls: TlsConfig,
}

/// `type = "splunk_hec"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HecConfig {
    /// URL and transport.
    pub http: HttpConfig,
    /// `token_env`: the variable holding the HEC token (required).
    pub token_env: String,
    /// `index` (default: the token's default index).
    pub index: Option<String>,
    /// `source` (default `logwarden`).
    pub source: String,
    /// `sourcetype` (default `_json`).
    pub sourcetype: String,
}

/// `type = "elasticsearch"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EsConfig {
    /// Base URL (`https://es:9200`); `/_bulk` is appended.
    pub http: HttpConfig,
    /// `index` (required): an index, alias or data stream.
    pub index: String,
    /// How to authenticate.
    pub auth: EsAuth,
}

/// Elasticsearch credentials (names of environment variables).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EsAuth {
    /// None.
    None,
    /// `api_key_env`: `Authorization: ApiKey …`.
    ApiKey(String),
    /// `username` and `password_env`: basic authentication.
    Basic {
        /// The user.
        username: String,
        /// The variable holding the password.
        password_env: String,
    },
}

/// `type = "webhook"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// URL and transport.
    pub http: HttpConfig,
    /// `token_env`: sent as `Authorization: Bearer …` when given.
    pub token_env: Option<String>,
}

/// Spool and retry settings of a network output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// `spool_max_bytes`.
    pub spool_max_bytes: u64,
    /// `spool_max_documents`.
    pub spool_max_documents: Option<u64>,
    /// `overflow`.
    pub overflow: Overflow,
    /// `batch_max_documents`.
    pub batch_max_documents: usize,
    /// `batch_max_bytes`.
    pub batch_max_bytes: usize,
    /// `timeout` of one connection or request.
    pub timeout: Duration,
    /// `backoff_min`: the first retry delay.
    pub backoff_min: Duration,
    /// `backoff_max`: the longest retry delay.
    pub backoff_max: Duration,
    /// `drain_timeout`: delivery time left to a stopping agent.
    pub drain_timeout: Duration,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            spool_max_bytes: 256 * 1024 * 1024,
            spool_max_documents: None,
            overflow: Overflow::Block,
            batch_max_documents: 500,
            batch_max_bytes: 5 * 1024 * 1024,
            timeout: Duration::from_secs(10),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// What a full spool does (`overflow`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Never drop: the engine waits for room, so reading pauses and the
    /// lines stay in the logs (on disk) until the receiver is back.
    #[default]
    Block,
    /// Drop the oldest spooled documents to make room (counted, logged).
    DropOldest,
}

/// Splits `host:port` (`[v6]:port` too) without resolving the name.
///
/// # Errors
/// A phrase saying what is wrong.
pub fn split_address(address: &str) -> Result<(&str, u16), &'static str> {
    read::split_address(address)
}

/// Validates a config `text` read from `file`. Pure: relative paths are
/// resolved against `file`'s folder without touching the disk.
///
/// # Errors
/// Every problem, located, in file order.
pub fn parse(file: &Path, text: &str) -> Result<AgentConfig, Diagnostics> {
    read::read(file, text)
}

/// Reads and validates the config file `file`.
///
/// # Errors
/// A whole-file diagnostic when it cannot be read; otherwise as [`parse`].
pub fn load(file: &Path) -> Result<AgentConfig, Diagnostics> {
    let text = crate::rule::read_text(file)
        .map_err(|m| Diagnostics(vec![Diagnostic::whole_file(file, m)]))?;
    parse(file, &text)
}

/// Problems of `config` in this environment: secret variables that are not
/// set (per `env`), CA files that cannot be read. Located like any other
/// diagnostic; the caller decides whether they are warnings (`check`) or
/// errors (`run`).
pub fn environment_problems(
    config: &AgentConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in &config.env_refs {
        if env(&r.var).is_none_or(|v| v.is_empty()) {
            let mut d = r.at.clone();
            d.message = format!(
                "environment variable {:?} is not set (or empty) here; set it in the agent's environment (secrets never go in the file)",
                r.var
            );
            out.push(d);
        }
    }
    for o in &config.outputs {
        let tls = match &o.kind {
            OutputKind::Syslog(s, _) => &s.tls,
            OutputKind::SplunkHec(h, _) => &h.http.tls,
            OutputKind::Elasticsearch(e, _) => &e.http.tls,
            OutputKind::Webhook(w, _) => &w.http.tls,
            OutputKind::File { .. } | OutputKind::Stdout => continue,
        };
        if let Some(ca) = &tls.ca_file
            && let Err(e) = std::fs::metadata(ca)
        {
            out.push(Diagnostic {
                file: config.file.clone(),
                line: o.location.line,
                column: o.location.column,
                span: 0..0,
                message: format!(
                    "ca_file {} of [[output]] {:?} cannot be read: {e}",
                    ca.display(),
                    o.name
                ),
                source_line: String::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
