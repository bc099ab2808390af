//! The agent's own health (SPEC §10): counters shared by the pipeline's
//! threads, and the heartbeat document built from them.
//!
//! Owns the counters' names and the heartbeat's wire format (its JSON
//! Schema is `docs/heartbeat.schema.json`). Does not decide when a
//! heartbeat is sent ([`crate::pipeline::live`]) nor count anything itself:
//! each stage publishes its own totals here.
//!
//! # Heartbeat document
//!
//! One JSON object on one line, sent to every output like an alert:
//!
//! | field | meaning |
//! |---|---|
//! | `@timestamp` | when it was produced (RFC 3339 UTC, milliseconds) |
//! | `message` | one sentence with the key numbers |
//! | `ecs.version` | as in alerts |
//! | `event.kind` | `"metric"` |
//! | `event.dataset` | `"logwarden.health"` |
//! | `event.module` | `"logwarden"` |
//! | `event.id` | UUID derived from host and time (receivers may dedupe on it) |
//! | `event.created` | same as `@timestamp` |
//! | `host.name`, `labels` | as in alerts |
//! | `observer.product`, `observer.vendor`, `observer.version` | as in alerts |
//! | `logwarden.schema_version` | [`crate::alert::SCHEMA_VERSION`] |
//! | `logwarden.health.*` | the counters below, totals since the agent started |
//! | `logwarden.health.outputs[]` | per output: `name`, `type`, `spooled`, `delivered`, `retries`, `dropped`, `rejected`, `spool_documents`, `spool_bytes` |

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::alert::{Context, ECS_VERSION, SCHEMA_VERSION};
use crate::time::Timestamp;

/// Totals of the whole agent, published by the stage that counts them.
#[derive(Debug, Default)]
pub struct Health {
    /// Physical lines read from followed files.
    pub lines_read: AtomicU64,
    /// Records parsed.
    pub records: AtomicU64,
    /// Records that matched at least one rule.
    pub matched: AtomicU64,
    /// Lines cut at the line cap.
    pub lines_cut: AtomicU64,
    /// Inputs later than the lateness allowance.
    pub late: AtomicU64,
    /// Records whose timestamp disagreed with the clock.
    pub skewed: AtomicU64,
    /// Files found rotated.
    pub rotations: AtomicU64,
    /// Files found truncated.
    pub truncations: AtomicU64,
    /// Alert documents produced (handed to every output).
    pub alerts: AtomicU64,
    /// Output write failures (a document not taken by an output).
    pub output_errors: AtomicU64,
    /// Rule reloads applied.
    pub reloads: AtomicU64,
    /// Rule reloads refused (broken rules; the old ones stay).
    pub reload_failures: AtomicU64,
    /// Per network output.
    outputs: std::sync::Mutex<Vec<(String, &'static str, Arc<OutputCounters>)>>,
}

/// Counters of one network output (its spool and delivery).
#[derive(Debug, Default)]
pub struct OutputCounters {
    /// Documents put in the spool.
    pub spooled: AtomicU64,
    /// Documents the receiver accepted.
    pub delivered: AtomicU64,
    /// Failed delivery attempts that were retried.
    pub retries: AtomicU64,
    /// Documents dropped from a full spool (`overflow = "drop_oldest"`), too
    /// big for the transport, or lost to spool corruption.
    pub dropped: AtomicU64,
    /// Documents the receiver refused for good (a permanent 4xx).
    pub rejected: AtomicU64,
    /// Documents in the spool now.
    pub spool_documents: AtomicU64,
    /// Bytes in the spool now.
    pub spool_bytes: AtomicU64,
}

impl OutputCounters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

impl Health {
    /// Registers a network output's counters for the heartbeat.
    pub fn register(&self, name: &str, kind: &'static str, counters: Arc<OutputCounters>) {
        if let Ok(mut o) = self.outputs.lock() {
            o.push((name.to_owned(), kind, counters));
        }
    }

    /// Sets `counter` to `value` (stages publish totals they keep).
    pub fn set(counter: &AtomicU64, value: u64) {
        counter.store(value, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> HealthFields {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let outputs: Vec<OutputFields> = self
            .outputs
            .lock()
            .map(|o| {
                o.iter()
                    .map(|(name, kind, c)| OutputFields {
                        name: name.clone(),
                        kind,
                        spooled: get(&c.spooled),
                        delivered: get(&c.delivered),
                        retries: get(&c.retries),
                        dropped: get(&c.dropped),
                        rejected: get(&c.rejected),
                        spool_documents: get(&c.spool_documents),
                        spool_bytes: get(&c.spool_bytes),
                    })
                    .collect()
            })
            .unwrap_or_default();
        HealthFields {
            uptime_ms: 0,
            lines_read: get(&self.lines_read),
            records: get(&self.records),
            matched: get(&self.matched),
            lines_cut: get(&self.lines_cut),
            late: get(&self.late),
            skewed: get(&self.skewed),
            rotations: get(&self.rotations),
            truncations: get(&self.truncations),
            alerts: get(&self.alerts),
            output_errors: get(&self.output_errors),
            reloads: get(&self.reloads),
            reload_failures: get(&self.reload_failures),
            retries: outputs.iter().map(|o| o.retries).sum(),
            spooled: outputs.iter().map(|o| o.spooled).sum(),
            delivered: outputs.iter().map(|o| o.delivered).sum(),
            dropped: outputs.iter().map(|o| o.dropped).sum(),
            rejected: outputs.iter().map(|o| o.rejected).sum(),
            outputs,
        }
    }
}

/// `logwarden.health`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HealthFields {
    /// Milliseconds since the agent started.
    pub uptime_ms: u64,
    /// Physical lines read.
    pub lines_read: u64,
    /// Records parsed.
    pub records: u64,
    /// Records that matched a rule.
    pub matched: u64,
    /// Lines cut at the cap.
    pub lines_cut: u64,
    /// Late inputs.
    pub late: u64,
    /// Records with a skewed clock.
    pub skewed: u64,
    /// Rotations seen.
    pub rotations: u64,
    /// Truncations seen.
    pub truncations: u64,
    /// Alert documents produced.
    pub alerts: u64,
    /// Output write failures.
    pub output_errors: u64,
    /// Rule reloads applied.
    pub reloads: u64,
    /// Rule reloads refused.
    pub reload_failures: u64,
    /// Sum over outputs.
    pub retries: u64,
    /// Sum over outputs.
    pub spooled: u64,
    /// Sum over outputs.
    pub delivered: u64,
    /// Sum over outputs.
    pub dropped: u64,
    /// Sum over outputs.
    pub rejected: u64,
    /// Per network output.
    pub outputs: Vec<OutputFields>,
}

/// One entry of `logwarden.health.outputs`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct OutputFields {
    /// The output's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Documents spooled.
    pub spooled: u64,
    /// Documents delivered.
    pub delivered: u64,
    /// Retried attempts.
    pub retries: u64,
    /// Documents dropped.
    pub dropped: u64,
    /// Documents refused by the receiver.
    pub rejected: u64,
    /// Documents waiting now.
    pub spool_documents: u64,
    /// Bytes waiting now.
    pub spool_bytes: u64,
}

#[derive(Serialize)]
struct Heartbeat<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    message: String,
    ecs: Ecs,
    event: Event,
    host: Host<'a>,
    labels: &'a BTreeMap<String, String>,
    observer: Observer,
    logwarden: Logwarden,
}

#[derive(Serialize)]
struct Ecs {
    version: &'static str,
}

#[derive(Serialize)]
struct Event {
    kind: &'static str,
    dataset: &'static str,
    module: &'static str,
    id: String,
    created: String,
}

#[derive(Serialize)]
struct Host<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Observer {
    product: &'static str,
    vendor: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Logwarden {
    schema_version: u32,
    health: HealthFields,
}

/// The heartbeat document for `fields` at `now`, as one NDJSON line.
pub fn heartbeat_line(ctx: &Context, fields: HealthFields, now: Timestamp) -> String {
    let at = now.to_rfc3339();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(b"heartbeat");
    h.update(ctx.host.as_bytes());
    h.update(&now.as_unix_nanos().to_le_bytes());
    let id = crate::correlate::ids::format_uuid(h.digest128());
    let spooled_now: u64 = fields.outputs.iter().map(|o| o.spool_documents).sum();
    let message = format!(
        "logwarden on {}: {} lines read, {} records matched, {} alerts, {} spooled now, {} retries, {} dropped",
        ctx.host,
        fields.lines_read,
        fields.matched,
        fields.alerts,
        spooled_now,
        fields.retries,
        fields.dropped
    );
    let doc = Heartbeat {
        timestamp: at.clone(),
        message,
        ecs: Ecs {
            version: ECS_VERSION,
        },
        event: Event {
            kind: "metric",
            dataset: "logwarden.health",
            module: "logwarden",
            id,
            created: at,
        },
        host: Host { name: &ctx.host },
        labels: &ctx.labels,
        observer: Observer {
            product: "logwarden",
            vendor: "logwarden",
            version: env!("CARGO_PKG_VERSION"),
        },
        logwarden: Logwarden {
            schema_version: SCHEMA_VERSION,
            health: fields,
        },
    };
    let mut s = serde_json::to_string(&doc).unwrap_or_else(|_| "{}".to_owned());
    s.push('\n');
    s
}
