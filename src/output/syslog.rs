//! Syslog output: each document as the MSG of one RFC 5424 message, over
//! TCP with octet-counting framing (RFC 6587 §3.4.1), UDP (RFC 5426, one
//! message per datagram) or TLS (RFC 5425, rustls).
//!
//! Owns the message format and the connection; the spool and retries are
//! [`super::delivery`]'s. The header is filled from the document:
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG
//! <132>1 2001-07-04T14:46:43.146Z PRI01 logwarden 4242 alert-firing - {"@timestamp":…}
//! ```
//!
//! - PRI: `facility × 8 + severity`; the severity follows
//!   `event.severity` (critical → 2 crit, high → 3 err, medium → 4
//!   warning, low → 5 notice, informational and heartbeats → 6 info).
//! - TIMESTAMP: the document's `@timestamp`; HOSTNAME: its `host.name`
//!   (characters outside printable ASCII become `_`); MSGID: its
//!   `event.action`, or `health` for a heartbeat.
//! - SD: `-` unless `structured_data = true`, then
//!   `[logwarden@32473 event_id="…" rule_id="…" status="…"]` (32473 is the
//!   example enterprise number of RFC 5612; the ids are also in the JSON).
//! - MSG: the JSON document, UTF-8 without a BOM (RFC 5424 MSG-ANY), so a
//!   receiver can parse it as it is.
//!
//! Delivery over TCP and TLS has no application-level acknowledgement: a
//! batch counts as delivered once written, and a connection found broken
//! before a write is replaced first (the batch is then sent again, same
//! `event.id`s). UDP is fire-and-forget by nature: a document longer than
//! `max_message_bytes` is refused (counted as rejected, logged), since
//! splitting or cutting it would break the JSON; use TCP for large evidence.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use super::delivery::{Failure, Fate, Sink};
use crate::config::{SyslogConfig, Transport, split_address};

/// The facts of a document the header needs.
#[derive(Debug, Default, serde::Deserialize)]
struct Facts {
    #[serde(rename = "@timestamp")]
    timestamp: Option<String>,
    event: Option<EventFacts>,
    host: Option<HostFacts>,
    rule: Option<RuleFacts>,
    logwarden: Option<LogwardenFacts>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct EventFacts {
    id: Option<String>,
    action: Option<String>,
    kind: Option<String>,
    severity: Option<u8>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct HostFacts {
    name: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct RuleFacts {
    id: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct LogwardenFacts {
    alert: Option<AlertFacts>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct AlertFacts {
    status: Option<String>,
}

/// Header settings.
#[derive(Clone, Debug)]
pub struct Header {
    /// Facility number (0–23).
    pub facility: u8,
    /// APP-NAME.
    pub app_name: String,
    /// PROCID.
    pub proc_id: u32,
    /// Whether to write the SD element.
    pub structured_data: bool,
}

/// The RFC 5424 message for document `doc` (a JSON object, no newline).
pub fn format_message(doc: &str, h: &Header) -> String {
    let facts: Facts = serde_json::from_str(doc).unwrap_or_default();
    let event = facts.event.unwrap_or_default();
    let severity = match (event.kind.as_deref(), event.severity) {
        (Some("metric"), _) => 6,
        (_, Some(5)) => 2,
        (_, Some(4)) => 3,
        (_, Some(3)) => 4,
        (_, Some(2)) => 5,
        _ => 6,
    };
    let pri = u16::from(h.facility.min(23)) * 8 + severity;
    let timestamp = facts
        .timestamp
        .filter(|t| !t.is_empty() && t.bytes().all(|b| (33..=126).contains(&b)))
        .unwrap_or_else(|| "-".to_owned());
    let host = facts
        .host
        .and_then(|h| h.name)
        .map(|n| header_field(&n, 255))
        .unwrap_or_else(|| "-".to_owned());
    let msgid = match event.kind.as_deref() {
        Some("metric") => "health".to_owned(),
        _ => event
            .action
            .as_deref()
            .map_or_else(|| "-".to_owned(), |a| header_field(a, 32)),
    };
    let sd = if h.structured_data {
        let mut sd = String::from("[logwarden@32473");
        let mut param = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                sd.push_str(&format!(" {k}=\"{}\"", sd_escape(v)));
            }
        };
        param("event_id", event.id.as_deref());
        param("rule_id", facts.rule.as_ref().and_then(|r| r.id.as_deref()));
        param(
            "status",
            facts
                .logwarden
                .as_ref()
                .and_then(|l| l.alert.as_ref())
                .and_then(|a| a.status.as_deref()),
        );
        sd.push(']');
        sd
    } else {
        "-".to_owned()
    };
    format!(
        "<{pri}>1 {timestamp} {host} {} {} {msgid} {sd} {doc}",
        header_field(&h.app_name, 48),
        h.proc_id
    )
}

/// A header field: printable ASCII without spaces, at most `max` bytes,
/// `-` when empty.
fn header_field(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(max)
        .collect();
    if out.is_empty() {
        out.push('-');
    }
    out
}

/// PARAM-VALUE escaping (RFC 5424 §6.3.3).
fn sd_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Octet-counting frame: `LEN SP MSG`.
pub fn frame(msg: &str) -> Vec<u8> {
    let mut out = format!("{} ", msg.len()).into_bytes();
    out.extend_from_slice(msg.as_bytes());
    out
}

/// An open connection.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Udp(UdpSocket),
}

/// The syslog [`Sink`].
pub struct SyslogSink {
    cfg: SyslogConfig,
    header: Header,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
}

impl std::fmt::Debug for SyslogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSink")
            .field("address", &self.cfg.address)
            .field("transport", &self.cfg.transport)
            .finish()
    }
}

/// Errors setting up a syslog output.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// The CA file could not be used.
    #[error("cannot use ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS could not be set up.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

impl SyslogSink {
    /// A sink for `cfg`; connects on first use.
    ///
    /// # Errors
    /// When TLS is asked for and its roots cannot be loaded.
    pub fn new(cfg: SyslogConfig, timeout: Duration) -> Result<SyslogSink, SyslogError> {
        let tls = match cfg.transport {
            Transport::Tls => Some(Arc::new(client_config(cfg.tls.ca_file.as_deref())?)),
            _ => None,
        };
        Ok(SyslogSink {
            header: Header {
                facility: cfg.facility,
                app_name: cfg.app_name.clone(),
                proc_id: std::process::id(),
                structured_data: cfg.structured_data,
            },
            cfg,
            timeout,
            tls,
            conn: None,
        })
    }

    fn connect(&self) -> Result<Conn, String> {
        let addrs: Vec<_> = self
            .cfg
            .address
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.cfg.address))?
            .collect();
        let addr = addrs
            .first()
            .copied()
            .ok_or_else(|| format!("{} resolves to no address", self.cfg.address))?;
        match self.cfg.transport {
            Transport::Udp => {
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let sock =
                    UdpSocket::bind(local).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
                sock.connect(addr)
                    .map_err(|e| format!("cannot reach {addr}: {e}"))?;
                Ok(Conn::Udp(sock))
            }
            Transport::Tcp | Transport::Tls => {
                let stream = TcpStream::connect_timeout(&addr, self.timeout)
                    .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
                let _ = stream.set_write_timeout(Some(self.timeout));
                let _ = stream.set_read_timeout(Some(self.timeout));
                let _ = stream.set_nodelay(true);
                let Some(tls) = &self.tls else {
                    return Ok(Conn::Tcp(stream));
                };
                let host = match &self.cfg.tls.server_name {
                    Some(n) => n.clone(),
                    None => split_address(&self.cfg.address)
                        .map(|(h, _)| h.to_owned())
                        .unwrap_or_default(),
                };
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
                let conn = rustls::ClientConnection::new(Arc::clone(tls), name)
                    .map_err(|e| format!("TLS setup failed: {e}"))?;
                let mut s = rustls::StreamOwned::new(conn, stream);
                // Complete the handshake now so that a certificate problem
                // is reported as such, not as a write error.
                while s.conn.is_handshaking() {
                    s.conn
                        .complete_io(&mut s.sock)
                        .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
                }
                Ok(Conn::Tls(Box::new(s)))
            }
        }
    }

    /// True when the peer closed the connection (or sent something we do
    /// not expect): a syslog receiver never writes to us.
    fn broken(conn: &mut Conn) -> bool {
        let Conn::Tcp(s) = conn else {
            return false;
        };
        if s.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 1];
        let broken = match s.peek(&mut b) {
            Ok(_) => true,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        let _ = s.set_nonblocking(false);
        broken
    }
}

impl Sink for SyslogSink {
    fn send(&mut self, docs: &[&str]) -> Result<Vec<Fate>, Failure> {
        if self.conn.as_mut().is_some_and(Self::broken) {
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect().map_err(Failure::retry)?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::retry("not connected"));
        };
        let mut fates = Vec::with_capacity(docs.len());
        let result = match conn {
            Conn::Udp(sock) => {
                for d in docs {
                    let msg = format_message(d, &self.header);
                    if msg.len() > self.cfg.max_message_bytes {
                        fates.push(Fate::Rejected(format!(
                            "message of {} bytes is longer than max_message_bytes = {} for UDP",
                            msg.len(),
                            self.cfg.max_message_bytes
                        )));
                        continue;
                    }
                    if let Err(e) = sock.send(msg.as_bytes()) {
                        return {
                            self.conn = None;
                            Err(Failure::retry(format!(
                                "cannot send to {}: {e}",
                                self.cfg.address
                            )))
                        };
                    }
                    fates.push(Fate::Delivered);
                }
                Ok(())
            }
            Conn::Tcp(s) => write_frames(s, docs, &self.header),
            Conn::Tls(s) => write_frames(s.as_mut(), docs, &self.header),
        };
        match result {
            Ok(()) if fates.is_empty() => Ok(vec![Fate::Delivered; docs.len()]),
            Ok(()) => Ok(fates),
            Err(e) => {
                self.conn = None;
                Err(Failure::retry(format!(
                    "connection to {} failed: {e}",
                    self.cfg.address
                )))
            }
        }
    }
}

fn write_frames(w: &mut dyn Write, docs: &[&str], h: &Header) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for d in docs {
        buf.extend_from_slice(&frame(&format_message(d, h)));
    }
    w.write_all(&buf)?;
    w.flush()
}

/// A rustls client config trusting `ca_file` (PEM) when given, else the
/// public web roots.
///
/// # Errors
/// When the CA file cannot be read or holds no certificate.
pub fn client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, SyslogError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let shown = path.display().to_string();
            let mut pem = Vec::new();
            std::fs::File::open(path)
                .and_then(|mut f| f.read_to_end(&mut pem))
                .map_err(|e| SyslogError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            let certs = pem_certificates(&pem).map_err(|reason| SyslogError::CaFile {
                path: shown.clone(),
                reason,
            })?;
            for c in certs {
                roots.add(c).map_err(|e| SyslogError::CaFile {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SyslogError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The certificates in a PEM file.
///
/// # Errors
/// When it holds none or is malformed.
pub fn pem_certificates(
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = rustls::pki_types::CertificateDer::pem_slice_iter(pem).collect();
    let certs = certs.map_err(|e| format!("not a PEM certificate file ({e})"))?;
    if certs.is_empty() {
        return Err("it holds no PEM certificate".to_owned());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(sd: bool) -> Header {
        Header {
            facility: 16,
            app_name: "logwarden".into(),
            proc_id: 42,
            structured_data: sd,
        }
    }

    fn check(doc: &str, sd: bool, expected: &str) {
        assert_eq!(format_message(doc, &header(sd)), expected);
    }

    const ALERT: &str = r#"{"@timestamp":"2001-07-04T14:46:43.146Z","event":{"kind":"alert","action":"alert-firing","id":"a\"b]","severity":5},"host":{"name":"PRI 01"},"rule":{"id":"stall"},"logwarden":{"alert":{"status":"firing"}}}"#;

    #[test]
    fn rfc5424_header_from_the_document() {
        check(
            ALERT,
            false,
            &format!("<130>1 2001-07-04T14:46:43.146Z PRI_01 logwarden 42 alert-firing - {ALERT}"),
        );
        check(
            ALERT,
            true,
            &format!(
                "<130>1 2001-07-04T14:46:43.146Z PRI_01 logwarden 42 alert-firing [logwarden@32473 event_id=\"a\\\"b\\]\" rule_id=\"stall\" status=\"firing\"] {ALERT}"
            ),
        );
        let hb = r#"{"@timestamp":"2001-07-04T14:46:43.146Z","event":{"kind":"metric"},"host":{"name":"h"}}"#;
        check(
            hb,
            false,
            &format!("<134>1 2001-07-04T14:46:43.146Z h logwarden 42 health - {hb}"),
        );
        // Not a document at all: still a well-formed message.
        check("x", false, "<134>1 - - logwarden 42 - - x");
    }

    #[test]
    fn octet_counting_counts_bytes_not_characters() {
        assert_eq!(frame("é"), b"2 \xc3\xa9".to_vec());
        assert_eq!(frame(""), b"0 ".to_vec());
    }
}
