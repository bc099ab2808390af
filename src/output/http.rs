//! HTTP outputs: Splunk HEC, Elasticsearch/OpenSearch `_bulk` and a
//! generic JSON webhook, over a blocking `ureq` client (rustls).
//!
//! Owns the three wire formats and how each receiver's answers map to
//! per-document fates; batching, spooling and backoff are
//! [`super::delivery`]'s.
//!
//! | kind | request | body |
//! |---|---|---|
//! | `splunk_hec` | `POST url` (default path `/services/collector/event`), `Authorization: Splunk TOKEN` | one envelope per document, concatenated: `{"time":SECONDS.mmm,"host":…,"source":…,"sourcetype":…,"index":…,"event":DOCUMENT}` |
//! | `elasticsearch` | `POST url/_bulk`, `Authorization: ApiKey KEY` or basic | NDJSON: `{"create":{"_index":INDEX,"_id":EVENT.ID}}` then the document, per document |
//! | `webhook` | `POST url`, `Authorization: Bearer TOKEN` when a token is set | a JSON array of the documents |
//!
//! With `gzip = true` the body is gzip-compressed (`Content-Encoding:
//! gzip`).
//!
//! Answers:
//! - 2xx: delivered. For `_bulk`, each item decides: 2xx, or 409 (a
//!   document with that `_id` is already there: an earlier attempt got
//!   through), is delivered; 429 and 5xx are retried alone; any other
//!   status is refused for good (counted, logged with the `event.id`).
//!   `_bulk` uses `create` with `event.id` as `_id`, so a retry never
//!   duplicates nor overwrites a document, and data streams accept it.
//! - 408, 429, 5xx, and a connection failure or timeout: the batch is
//!   retried, after `Retry-After` when the receiver sends it (seconds or an
//!   HTTP date), else with backoff.
//! - 401, 403, 404: retried too, with an error log: these are problems of
//!   the token or URL that an operator fixes, and alerts wait in the spool
//!   meanwhile rather than being thrown away.
//! - Any other 4xx (400, 413, …): the request can never succeed as it is;
//!   the batch is split to single documents and the one at fault refused.
//!
//! Secrets: tokens are read from the environment when the output is
//! opened, kept in a [`Secret`] whose `Debug` shows `***`, and never put in
//! a log line; `ureq` itself logs only non-sensitive headers. Response
//! bodies are logged cut to 200 characters.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use super::delivery::{Failure, Fate, Sink};
use crate::config::{EsAuth, EsConfig, HecConfig, HttpConfig, TlsConfig, WebhookConfig};
use crate::time::{Clock, SystemClock, Timestamp};

/// A secret read from the environment. Its `Debug` and `Display` never
/// show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Reads environment variable `var`.
    ///
    /// # Errors
    /// When it is unset or empty (the message names the variable only).
    pub fn from_env(var: &str) -> Result<Secret, HttpError> {
        match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret(v)),
            _ => Err(HttpError::MissingSecret(var.to_owned())),
        }
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Errors opening an HTTP output.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A secret variable is not set.
    #[error("environment variable {0:?} is not set; set it in the agent's environment")]
    MissingSecret(String),
    /// The CA file cannot be used.
    #[error("cannot use ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// What kind of receiver, with its settings.
#[derive(Debug)]
enum Kind {
    Hec {
        index: Option<String>,
        source: String,
        sourcetype: String,
    },
    Bulk {
        index: String,
    },
    Webhook,
}

/// An HTTP [`Sink`].
pub struct HttpSink {
    kind: Kind,
    agent: ureq::Agent,
    url: String,
    auth: Option<Secret>,
    gzip: bool,
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("auth", &self.auth)
            .finish()
    }
}

impl HttpSink {
    /// Splunk HEC.
    ///
    /// # Errors
    /// A missing token or unusable CA file.
    pub fn splunk_hec(cfg: &HecConfig, timeout: Duration) -> Result<HttpSink, HttpError> {
        let token = Secret::from_env(&cfg.token_env)?;
        HttpSink::new(
            &cfg.http,
            cfg.http.url.clone(),
            Kind::Hec {
                index: cfg.index.clone(),
                source: cfg.source.clone(),
                sourcetype: cfg.sourcetype.clone(),
            },
            Some(Secret(format!("Splunk {}", token.expose()))),
            timeout,
        )
    }

    /// Elasticsearch / OpenSearch `_bulk`.
    ///
    /// # Errors
    /// A missing secret or unusable CA file.
    pub fn elasticsearch(cfg: &EsConfig, timeout: Duration) -> Result<HttpSink, HttpError> {
        let auth = match &cfg.auth {
            EsAuth::None => None,
            EsAuth::ApiKey(var) => Some(Secret(format!(
                "ApiKey {}",
                Secret::from_env(var)?.expose()
            ))),
            EsAuth::Basic {
                username,
                password_env,
            } => {
                let pw = Secret::from_env(password_env)?;
                Some(Secret(format!(
                    "Basic {}",
                    base64(format!("{username}:{}", pw.expose()).as_bytes())
                )))
            }
        };
        HttpSink::new(
            &cfg.http,
            format!("{}/_bulk", cfg.http.url.trim_end_matches('/')),
            Kind::Bulk {
                index: cfg.index.clone(),
            },
            auth,
            timeout,
        )
    }

    /// A JSON webhook.
    ///
    /// # Errors
    /// A missing token or unusable CA file.
    pub fn webhook(cfg: &WebhookConfig, timeout: Duration) -> Result<HttpSink, HttpError> {
        let auth = match &cfg.token_env {
            Some(var) => Some(Secret(format!(
                "Bearer {}",
                Secret::from_env(var)?.expose()
            ))),
            None => None,
        };
        HttpSink::new(
            &cfg.http,
            cfg.http.url.clone(),
            Kind::Webhook,
            auth,
            timeout,
        )
    }

    fn new(
        http: &HttpConfig,
        url: String,
        kind: Kind,
        auth: Option<Secret>,
        timeout: Duration,
    ) -> Result<HttpSink, HttpError> {
        let mut builder = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(format!("logwarden/{}", env!("CARGO_PKG_VERSION")));
        if let Some(tls) = tls_config(&http.tls)? {
            builder = builder.tls_config(tls);
        }
        Ok(HttpSink {
            kind,
            agent: builder.build().into(),
            url,
            auth,
            gzip: http.gzip,
        })
    }

    /// The request body for `docs` and its content type.
    fn body(&self, docs: &[&str]) -> (Vec<u8>, &'static str) {
        let mut out = Vec::with_capacity(docs.iter().map(|d| d.len() + 128).sum());
        match &self.kind {
            Kind::Hec {
                index,
                source,
                sourcetype,
            } => {
                for d in docs {
                    let facts: Facts = serde_json::from_str(d).unwrap_or_default();
                    let time = facts
                        .timestamp
                        .and_then(|t| Timestamp::parse_rfc3339(&t).ok())
                        .map(|t| {
                            let ms = t.as_unix_millis();
                            format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
                        });
                    let mut env = serde_json::Map::new();
                    if let Some(t) = time {
                        env.insert(
                            "time".into(),
                            serde_json::Value::Number(
                                t.parse::<serde_json::Number>()
                                    .unwrap_or_else(|_| serde_json::Number::from(0)),
                            ),
                        );
                    }
                    if let Some(h) = facts.host.and_then(|h| h.name) {
                        env.insert("host".into(), h.into());
                    }
                    env.insert("source".into(), source.clone().into());
                    env.insert("sourcetype".into(), sourcetype.clone().into());
                    if let Some(i) = index {
                        env.insert("index".into(), i.clone().into());
                    }
                    let head = serde_json::to_string(&env).unwrap_or_else(|_| "{}".into());
                    // The document goes in as it is: `"event":` + its JSON.
                    out.extend_from_slice(head.trim_end_matches('}').as_bytes());
                    out.extend_from_slice(if env.is_empty() {
                        b"\"event\":"
                    } else {
                        b",\"event\":"
                    });
                    out.extend_from_slice(d.as_bytes());
                    out.extend_from_slice(b"}\n");
                }
                (out, "application/json")
            }
            Kind::Bulk { index } => {
                for d in docs {
                    let facts: Facts = serde_json::from_str(d).unwrap_or_default();
                    let mut action = serde_json::Map::new();
                    action.insert("_index".into(), index.clone().into());
                    if let Some(id) = facts.event.and_then(|e| e.id) {
                        action.insert("_id".into(), id.into());
                    }
                    let line = serde_json::json!({ "create": action });
                    out.extend_from_slice(line.to_string().as_bytes());
                    out.push(b'\n');
                    out.extend_from_slice(d.as_bytes());
                    out.push(b'\n');
                }
                (out, "application/x-ndjson")
            }
            Kind::Webhook => {
                out.push(b'[');
                for (i, d) in docs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(d.as_bytes());
                }
                out.push(b']');
                (out, "application/json")
            }
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct Facts {
    #[serde(rename = "@timestamp")]
    timestamp: Option<String>,
    event: Option<EventFacts>,
    host: Option<HostFacts>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct EventFacts {
    id: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct HostFacts {
    name: Option<String>,
}

impl Sink for HttpSink {
    fn send(&mut self, docs: &[&str]) -> Result<Vec<Fate>, Failure> {
        let (body, content_type) = self.body(docs);
        let body = if self.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&body)
                .and_then(|()| enc.finish())
                .map_err(|e| Failure::retry(format!("cannot compress the request: {e}")))?
        } else {
            body
        };
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", content_type);
        if self.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a.expose());
        }
        let mut resp = req
            .send(&body[..])
            .map_err(|e| Failure::retry(format!("request to {} failed: {e}", self.url)))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemClock.now()));
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        classify(
            &self.kind,
            status,
            retry_after,
            &text,
            docs.len(),
            &self.url,
        )
    }
}

/// Maps an answer to fates (see the module docs).
fn classify(
    kind: &Kind,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
    n: usize,
    url: &str,
) -> Result<Vec<Fate>, Failure> {
    let short: String = body.chars().take(200).collect();
    match status {
        200..=299 => match kind {
            Kind::Bulk { .. } => Ok(bulk_fates(body, n)),
            _ => Ok(vec![Fate::Delivered; n]),
        },
        408 | 429 | 500..=599 => Err(Failure {
            reason: format!("{url} answered {status}: {short}"),
            retry_after,
            permanent: false,
        }),
        401 | 403 => Err(Failure {
            reason: format!(
                "{url} answered {status} (check the token or key in the agent's environment): {short}"
            ),
            retry_after,
            permanent: false,
        }),
        404 => Err(Failure {
            reason: format!("{url} answered 404 (check the url): {short}"),
            retry_after,
            permanent: false,
        }),
        _ => Err(Failure {
            reason: format!("{url} answered {status}: {short}"),
            retry_after: None,
            permanent: true,
        }),
    }
}

/// Per-item fates of a `_bulk` response.
fn bulk_fates(body: &str, n: usize) -> Vec<Fate> {
    #[derive(serde::Deserialize)]
    struct Bulk {
        #[serde(default)]
        errors: bool,
        #[serde(default)]
        items: Vec<serde_json::Map<String, serde_json::Value>>,
    }
    let Ok(b) = serde_json::from_str::<Bulk>(body) else {
        return vec![Fate::Retry("the _bulk answer is not JSON".into()); n];
    };
    if !b.errors {
        return vec![Fate::Delivered; n];
    }
    if b.items.len() != n {
        return vec![
            Fate::Retry(format!(
                "the _bulk answer has {} items for {n} documents",
                b.items.len()
            ));
            n
        ];
    }
    b.items
        .iter()
        .map(|item| {
            let Some(result) = item.values().next() else {
                return Fate::Retry("empty _bulk item".into());
            };
            let status = result
                .get("status")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let why = || {
                let e = result.get("error");
                let t = e
                    .and_then(|e| e.get("type"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let r = e
                    .and_then(|e| e.get("reason"))
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                format!("{status} {t}: {r}")
            };
            match status {
                200..=299 | 409 => Fate::Delivered,
                429 | 500..=599 | 0 => Fate::Retry(why()),
                _ => Fate::Rejected(why()),
            }
        })
        .collect()
}

/// `Retry-After`: seconds, or an HTTP date (then relative to `now`).
/// Capped at one hour; unparseable values are ignored.
pub fn parse_retry_after(v: &str, now: Timestamp) -> Option<Duration> {
    let v = v.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::DateTimeParser::new()
            .parse_timestamp(v)
            .ok()?;
        let at = Timestamp::from_unix_nanos(i64::try_from(at.as_nanosecond()).ok()?);
        at.saturating_since(now)
    };
    Some(d.min(Duration::from_secs(3600)))
}

/// ureq TLS settings: `ca_file` replaces the public roots when given.
fn tls_config(tls: &TlsConfig) -> Result<Option<ureq::tls::TlsConfig>, HttpError> {
    let Some(path) = &tls.ca_file else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| HttpError::CaFile {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        return Err(HttpError::CaFile {
            path: shown,
            reason: "it holds no PEM certificate".into(),
        });
    }
    Ok(Some(
        ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
            .build(),
    ))
}

/// Standard base64 with padding (for basic authentication).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = Timestamp::from_unix_secs(1_445_412_470); // 2015-10-21T07:27:50Z
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999", now),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn bulk_items_decide_each_document() {
        let body = r#"{"took":3,"errors":true,"items":[
            {"create":{"_id":"a","status":201}},
            {"create":{"_id":"b","status":409,"error":{"type":"version_conflict_engine_exception"}}},
            {"create":{"_id":"c","status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
            {"create":{"_id":"d","status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}]}"#;
        assert_eq!(
            bulk_fates(body, 4),
            vec![
                Fate::Delivered,
                Fate::Delivered,
                Fate::Retry("429 es_rejected_execution_exception: queue full".into()),
                Fate::Rejected("400 mapper_parsing_exception: bad".into()),
            ]
        );
        assert_eq!(
            bulk_fates(r#"{"errors":false,"items":[]}"#, 2),
            vec![Fate::Delivered; 2]
        );
        assert!(matches!(bulk_fates("<html>", 1)[0], Fate::Retry(_)));
    }

    #[test]
    fn status_codes_map_to_retry_or_refusal() {
        let k = Kind::Webhook;
        assert_eq!(
            classify(&k, 204, None, "", 2, "u"),
            Ok(vec![Fate::Delivered; 2])
        );
        for s in [408, 429, 500, 503, 401, 403, 404] {
            let e = classify(&k, s, Some(Duration::from_secs(2)), "", 1, "u").unwrap_err();
            assert!(!e.permanent, "{s}");
        }
        let e = classify(&k, 400, Some(Duration::from_secs(2)), "bad", 1, "u").unwrap_err();
        assert!(e.permanent);
        assert_eq!(e.reason, "u answered 400: bad");
    }

    #[test]
    fn bodies_of_each_kind() {
        let doc = r#"{"@timestamp":"2001-07-04T14:46:43.146Z","event":{"id":"e1"},"host":{"name":"PRI01"}}"#;
        let sink = |kind| HttpSink {
            kind,
            agent: ureq::Agent::new_with_defaults(),
            url: "http://x".into(),
            auth: None,
            gzip: false,
        };
        let hec = sink(Kind::Hec {
            index: Some("sms".into()),
            source: "logwarden".into(),
            sourcetype: "_json".into(),
        });
        let (b, _) = hec.body(&[doc]);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            format!(
                "{{\"host\":\"PRI01\",\"index\":\"sms\",\"source\":\"logwarden\",\"sourcetype\":\"_json\",\"time\":994258003.146,\"event\":{doc}}}\n"
            )
        );
        let (b, ct) = sink(Kind::Bulk {
            index: "alerts".into(),
        })
        .body(&[doc]);
        assert_eq!(ct, "application/x-ndjson");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            format!("{{\"create\":{{\"_id\":\"e1\",\"_index\":\"alerts\"}}}}\n{doc}\n")
        );
        let (b, _) = sink(Kind::Webhook).body(&[doc, doc]);
        assert_eq!(String::from_utf8(b).unwrap(), format!("[{doc},{doc}]"));
    }

    #[test]
    fn secrets_do_not_show_and_base64_is_standard() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "***");
        assert_eq!(base64(b"logwarden:pw"), "bG9nd2FyZGVuOnB3");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}
