//! A small HTTP/1.1 receiver for the output tests: speaks Splunk HEC
//! (`POST /services/collector/event`, concatenated event envelopes) and
//! Elasticsearch `_bulk` (NDJSON action/document pairs, per-item results),
//! gunzips bodies, keeps connections alive, and answers what a script says
//! (status codes, `Retry-After`, partial `_bulk` failures).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to answer: status, extra headers, body.
pub type Answer = (u16, Vec<(String, String)>, String);

/// Decides the answer to the `n`-th request (0-based) given the parsed
/// documents of its body.
pub type Script = Box<dyn Fn(usize, &Request, &[Value]) -> Answer + Send + Sync>;

/// What the receiver accepted, in order.
#[derive(Default)]
pub struct Received {
    /// Every request (accepted or not).
    pub requests: Vec<Request>,
    /// HEC envelopes or `_bulk` documents that were accepted (for `_bulk`,
    /// items whose answer was 2xx), with the `_id` given for each.
    pub accepted: Vec<(Option<String>, Value)>,
}

pub struct Receiver {
    pub port: u16,
    pub received: Arc<Mutex<Received>>,
    stop: Arc<AtomicBool>,
}

/// The documents in a body: HEC envelopes (concatenated JSON) or `_bulk`
/// pairs (`_id`, document).
pub fn documents(req: &Request) -> Vec<(Option<String>, Value)> {
    if req.path.ends_with("/_bulk") {
        let text = String::from_utf8(req.body.clone()).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len() % 2, 0, "_bulk body must be pairs: {text}");
        lines
            .chunks(2)
            .map(|pair| {
                let action: Value = serde_json::from_str(pair[0]).unwrap();
                let create = &action["create"];
                assert!(create.is_object(), "bulk action must be create: {action}");
                (
                    create["_id"].as_str().map(str::to_owned),
                    serde_json::from_str(pair[1]).unwrap(),
                )
            })
            .collect()
    } else {
        serde_json::Deserializer::from_slice(&req.body)
            .into_iter::<Value>()
            .map(|v| (None, v.unwrap()))
            .collect()
    }
}

impl Receiver {
    /// Listens on `port` (0: any free one) and answers with `script`.
    pub fn start(port: u16, script: Script) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = Arc::new(script);
        {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let count = Arc::new(Mutex::new(0usize));
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (received, script, count, stop) = (
                        Arc::clone(&received),
                        Arc::clone(&script),
                        Arc::clone(&count),
                        Arc::clone(&stop),
                    );
                    std::thread::spawn(move || serve(conn, &received, &script, &count, &stop));
                }
            });
        }
        Receiver {
            port,
            received,
            stop,
        }
    }

    /// Accepted documents so far.
    pub fn accepted(&self) -> Vec<(Option<String>, Value)> {
        self.received.lock().unwrap().accepted.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.received.lock().unwrap().requests.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    conn: TcpStream,
    received: &Mutex<Received>,
    script: &Script,
    count: &Mutex<usize>,
    stop: &AtomicBool,
) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("requests carry Content-Length");
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let mut req = Request {
            path,
            headers,
            body,
            at: Instant::now(),
        };
        if req
            .header("content-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
        {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&req.body[..])
                .read_to_end(&mut plain)
                .unwrap();
            req.body = plain;
        }
        let docs = documents(&req);
        let values: Vec<Value> = docs.iter().map(|(_, v)| v.clone()).collect();
        let n = {
            let mut c = count.lock().unwrap();
            *c += 1;
            *c - 1
        };
        let (status, extra, answer) = script(n, &req, &values);
        {
            let mut rec = received.lock().unwrap();
            if (200..300).contains(&status) {
                if req.path.ends_with("/_bulk") {
                    let items: Vec<Value> = serde_json::from_str::<Value>(&answer)
                        .ok()
                        .and_then(|a| a["items"].as_array().cloned())
                        .unwrap_or_default();
                    for (i, d) in docs.into_iter().enumerate() {
                        let st = items
                            .get(i)
                            .and_then(|it| it["create"]["status"].as_u64())
                            .unwrap_or(201);
                        if (200..300).contains(&st) {
                            rec.accepted.push(d);
                        }
                    }
                } else {
                    rec.accepted.extend(docs);
                }
            }
            rec.requests.push(req);
        }
        let mut resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            answer.len()
        );
        for (k, v) in extra {
            resp.push_str(&format!("{k}: {v}\r\n"));
        }
        resp.push_str("\r\n");
        resp.push_str(&answer);
        if out.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A HEC answer: success.
pub fn hec_ok() -> Answer {
    (200, Vec::new(), r#"{"text":"Success","code":0}"#.to_owned())
}

/// A `_bulk` answer with one status per document.
pub fn bulk_answer(statuses: &[u16]) -> Answer {
    let errors = statuses.iter().any(|s| !(200..300).contains(s));
    let items: Vec<Value> = statuses
        .iter()
        .map(|s| {
            if (200..300).contains(s) {
                serde_json::json!({"create": {"status": s, "result": "created"}})
            } else {
                serde_json::json!({"create": {"status": s, "error": {"type": "es_rejected_execution_exception", "reason": "busy"}}})
            }
        })
        .collect();
    (
        200,
        Vec::new(),
        serde_json::json!({"took": 1, "errors": errors, "items": items}).to_string(),
    )
}

/// A port that was free a moment ago (for a receiver that starts later).
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
