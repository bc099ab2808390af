//! Syslog output against a real rsyslog (Debian's package; `.ci/run`
//! installs it), started here on free loopback ports, and against an
//! in-test TLS receiver (rustls, a certificate made by rcgen).

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Site, wait_until};
use crate::http_out::{HEAD, start};

/// rsyslogd on loopback, writing every message it parses to `out` as
/// tab-separated RFC 5424 fields.
struct Rsyslog {
    child: Child,
    out: PathBuf,
    tcp: u16,
    udp: u16,
    _dir: tempfile::TempDir,
}

impl Rsyslog {
    fn start() -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let udp = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = dir.path().join("received.log");
        let conf = dir.path().join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imudp" address="127.0.0.1" port="{udp}")
template(name="fields" type="list") {{
  property(name="pri") constant(value="\t")
  property(name="protocol-version") constant(value="\t")
  property(name="timereported" dateFormat="rfc3339") constant(value="\t")
  property(name="hostname") constant(value="\t")
  property(name="app-name") constant(value="\t")
  property(name="procid") constant(value="\t")
  property(name="msgid") constant(value="\t")
  property(name="structured-data") constant(value="\t")
  property(name="msg") constant(value="\n")
}}
*.* action(type="omfile" file="{out}" template="fields")
"#,
                work = dir.path().display(),
                out = out.display(),
            ),
        )
        .unwrap();
        let bin = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("rsyslogd is not installed: apt-get install rsyslog (.ci/run does)");
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let r = Rsyslog {
            child,
            out,
            tcp,
            udp,
            _dir: dir,
        };
        wait_until(Duration::from_secs(20), "rsyslogd listening on TCP", || {
            TcpStream::connect(("127.0.0.1", tcp)).is_ok()
        });
        // UDP has no handshake: probe until a message comes through.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        wait_until(Duration::from_secs(20), "rsyslogd receiving on UDP", || {
            let _ = sock.send_to(b"<13>1 - - probe - - - ready", ("127.0.0.1", udp));
            std::fs::read_to_string(&r.out).is_ok_and(|t| t.contains("ready"))
        });
        r
    }

    /// Received messages of `app` as (fields, parsed JSON body).
    fn messages(&self, app: &str) -> Vec<(Vec<String>, Value)> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>())
            .filter(|f| f.len() == 9 && f[4] == app)
            .map(|f| {
                let body: Value = serde_json::from_str(f[8].trim_start())
                    .unwrap_or_else(|e| panic!("body is not the JSON document ({e}): {:?}", f[8]));
                (f, body)
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn rsyslog_parses_every_alert_as_rfc5424_over_tcp_and_udp() {
    let rs = Rsyslog::start();
    let site = Site::new();
    let config = format!(
        r#"{HEAD}
[[output]]
type = "syslog"
name = "siem-tcp"
address = "127.0.0.1:{tcp}"
transport = "tcp"
app_name = "lw-tcp"
facility = "local4"

[[output]]
type = "syslog"
name = "siem-udp"
address = "127.0.0.1:{udp}"
transport = "udp"
app_name = "lw-udp"
structured_data = true
"#,
        tcp = rs.tcp,
        udp = rs.udp
    );
    let agent = start(&site, &config, &[]);
    // Messages with quotes, backslashes, tildes and non-ASCII survive.
    let mut text = String::new();
    for i in 0..20 {
        text.push_str(&format!(
            "ERROR {i}: \"C:\\SMS\\inboxes\" ~ déjà vu → {i}\n"
        ));
    }
    site.append("site/Logs/app.log", text);
    site.wait_docs(20, Duration::from_secs(20));
    wait_until(
        Duration::from_secs(30),
        "20 messages over each transport",
        || rs.messages("lw-tcp").len() >= 20 && rs.messages("lw-udp").len() >= 20,
    );
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let docs = site.docs();
    for app in ["lw-tcp", "lw-udp"] {
        let got = rs.messages(app);
        let bodies: Vec<Value> = got.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(bodies, docs, "{app}: every document intact, in order");
        for (f, body) in &got {
            // pri, version, timestamp, hostname, app, procid, msgid, sd
            assert_eq!(f[1], "1", "{app}: RFC 5424 version");
            assert_eq!(f[3], "PRI01");
            assert_eq!(f[6], "alert-matched");
            let pri: u32 = f[0].parse().unwrap();
            let facility = if app == "lw-tcp" { 20 } else { 16 };
            assert_eq!(pri / 8, facility, "{app}: facility");
            assert_eq!(pri % 8, 4, "{app}: medium severity is warning");
            let ts = body["@timestamp"].as_str().unwrap();
            assert_eq!(&f[2][..19], &ts[..19], "{app}: TIMESTAMP is @timestamp");
            if app == "lw-udp" {
                let id = body["event"]["id"].as_str().unwrap();
                assert!(
                    f[7].starts_with(&format!("[logwarden@32473 event_id=\"{id}\"")),
                    "{}",
                    f[7]
                );
            } else {
                assert_eq!(f[7], "-");
            }
        }
    }
}

/// A TLS syslog receiver: accepts one connection at a time and collects
/// octet-counted frames.
fn tls_receiver(cert: &rcgen::CertifiedKey<rcgen::KeyPair>) -> (u16, Arc<Mutex<Vec<String>>>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der())),
        )
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&frames);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(sock) = conn else { continue };
            let Ok(tls) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut r = BufReader::new(rustls::StreamOwned::new(tls, sock));
            loop {
                let mut len = Vec::new();
                if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                    break;
                }
                let n: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
                let mut msg = vec![0u8; n];
                if r.read_exact(&mut msg).is_err() {
                    break;
                }
                sink.lock().unwrap().push(String::from_utf8(msg).unwrap());
            }
        }
    });
    (port, frames)
}

#[test]
fn tls_syslog_verifies_the_receiver_and_frames_by_octet_count() {
    let cert = rcgen::generate_simple_self_signed(vec!["syslog.test".to_owned()]).unwrap();
    let (port, frames) = tls_receiver(&cert);
    let site = Site::new();
    site.write("ca.pem", cert.cert.pem());
    let config = format!(
        r#"{HEAD}
[[output]]
type = "syslog"
address = "127.0.0.1:{port}"
transport = "tls"
server_name = "syslog.test"
ca_file = "ca.pem"
"#
    );
    let agent = start(&site, &config, &[]);
    site.append("site/Logs/app.log", "ERROR one\nERROR two\n");
    site.wait_docs(2, Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(20);
    wait_until(deadline - Instant::now(), "2 frames over TLS", || {
        frames.lock().unwrap().len() >= 2
    });
    agent.stop();
    let docs = site.docs();
    let got = frames.lock().unwrap().clone();
    for (frame, doc) in got.iter().zip(&docs) {
        assert!(frame.starts_with("<132>1 "), "{frame}");
        let body = frame.splitn(8, ' ').nth(7).unwrap();
        assert_eq!(&serde_json::from_str::<Value>(body).unwrap(), doc);
    }

    // A receiver whose certificate the agent does not trust gets nothing.
    let other = rcgen::generate_simple_self_signed(vec!["syslog.test".to_owned()]).unwrap();
    let (port, frames) = tls_receiver(&other);
    let site = Site::new();
    site.write("ca.pem", cert.cert.pem());
    let config = format!(
        "{HEAD}\n[[output]]\ntype = \"syslog\"\naddress = \"127.0.0.1:{port}\"\ntransport = \"tls\"\nserver_name = \"syslog.test\"\nca_file = \"ca.pem\"\nbackoff_min = \"50ms\"\nbackoff_max = \"100ms\"\n"
    );
    let agent = start(&site, &config, &[]);
    site.append("site/Logs/app.log", "ERROR one\n");
    wait_until(Duration::from_secs(20), "a refused handshake", || {
        agent.stderr().contains("TLS handshake")
    });
    agent.stop();
    assert!(frames.lock().unwrap().is_empty());
}
