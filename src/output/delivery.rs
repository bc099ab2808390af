//! Delivery: drains one output's [`Spool`] to its receiver, in order, in
//! batches, with retries.
//!
//! Owns the retry policy: exponential backoff with jitter between
//! `backoff_min` and `backoff_max`, a receiver's `Retry-After` honoured
//! instead when it gives one, per-document verdicts (a `_bulk` item that
//! failed is retried alone; one that was refused for good is counted and
//! logged), and isolating a poison document when a receiver refuses a whole
//! batch for good. Does not know any wire format: a [`Sink`] does.
//!
//! A batch is acknowledged in the spool only when every document in it is
//! delivered or refused for good, so documents reach the receiver in spool
//! order, at least once; a later batch never overtakes an earlier one.
//!
//! What runs this loop on a thread is [`crate::pipeline`].

use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::spool::Spool;
use crate::health::OutputCounters;
use crate::time::Stopwatch;

/// What a receiver did with one document of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Accepted (or already there: a duplicate `event.id`).
    Delivered,
    /// Failed for now: send it again later.
    Retry(String),
    /// Refused for good (a malformed document, a mapping conflict): counted
    /// and logged, not sent again.
    Rejected(String),
}

/// Why a whole batch failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// One sentence for the log (never a secret).
    pub reason: String,
    /// The receiver's `Retry-After`, if it gave one.
    pub retry_after: Option<Duration>,
    /// True when sending the same batch again cannot succeed (a 400 for
    /// the request as a whole): the batch is then split to find the
    /// document at fault.
    pub permanent: bool,
}

impl Failure {
    /// A failure worth retrying.
    pub fn retry(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            retry_after: None,
            permanent: false,
        }
    }
}

/// A receiver of documents: one wire protocol.
pub trait Sink: Send {
    /// Sends `docs` (NDJSON documents without newline) as one batch and
    /// returns one [`Fate`] per document, in order.
    ///
    /// # Errors
    /// A [`Failure`] when the batch as a whole did not get through.
    fn send(&mut self, docs: &[&str]) -> Result<Vec<Fate>, Failure>;
}

/// Batch and retry settings of one delivery loop.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Documents per batch.
    pub batch_max_documents: usize,
    /// Bytes per batch.
    pub batch_max_bytes: usize,
    /// First retry delay.
    pub backoff_min: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// How long a stopping agent keeps delivering.
    pub drain_timeout: Duration,
}

/// The delay before retry number `attempt` (1-based): `backoff_min`
/// doubled per attempt, capped at `backoff_max`, then "equal jitter": half
/// of it fixed, the other half scaled by `unit` (in `0.0..1.0`), so that
/// agents that lost the same receiver do not retry in lockstep.
pub fn backoff(attempt: u32, min: Duration, max: Duration, unit: f64) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    let base = min
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(max)
        .min(max)
        .max(min.min(max));
    let half = base / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// A small xorshift generator for jitter (no cryptographic needs).
#[derive(Debug)]
struct Jitter(u64);

impl Jitter {
    fn new(seed: &str) -> Jitter {
        let s = xxhash_rust::xxh3::xxh3_64(seed.as_bytes()) ^ u64::from(std::process::id());
        Jitter(s | 1)
    }

    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One output's delivery loop.
pub struct Delivery {
    name: String,
    spool: Arc<Spool>,
    sink: Box<dyn Sink>,
    policy: Policy,
    counters: Arc<OutputCounters>,
    jitter: Jitter,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("name", &self.name)
            .field("policy", &self.policy)
            .finish()
    }
}

/// How a wait ended.
enum Wake {
    Elapsed,
    Stop,
}

impl Delivery {
    /// A loop delivering `spool` through `sink`.
    pub fn new(
        name: &str,
        spool: Arc<Spool>,
        sink: Box<dyn Sink>,
        policy: Policy,
        counters: Arc<OutputCounters>,
    ) -> Delivery {
        Delivery {
            name: name.to_owned(),
            jitter: Jitter::new(name),
            spool,
            sink,
            policy,
            counters,
        }
    }

    /// The output's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Delivers until `stop` is disconnected (the agent stops), then keeps
    /// delivering for at most `drain_timeout`; what is left stays spooled
    /// for the next start.
    pub fn run(mut self, stop: Receiver<()>) {
        let mut draining: Option<Stopwatch> = None;
        loop {
            if draining.is_none()
                && matches!(
                    stop.try_recv(),
                    Err(crossbeam_channel::TryRecvError::Disconnected)
                )
            {
                draining = Some(Stopwatch::start());
            }
            if let Some(d) = draining
                && (d.elapsed() >= self.policy.drain_timeout || self.spool.depth().0 == 0)
            {
                break;
            }
            let batch = self.spool.next_batch(
                self.policy.batch_max_documents,
                self.policy.batch_max_bytes,
                Duration::from_millis(200),
            );
            if batch.is_empty() {
                continue;
            }
            if self.deliver(&batch, &stop, &mut draining) {
                if let Err(e) = self.spool.ack() {
                    tracing::error!(output = %self.name, error = %e, "cannot record delivery in the spool; the batch may be sent again (same event ids)");
                }
            } else {
                self.spool.release();
                break;
            }
        }
        let (docs, _) = self.spool.depth();
        if docs > 0 {
            tracing::warn!(output = %self.name, documents = docs, "agent stopping with documents still spooled; they are delivered after the next start");
        }
    }

    /// Sends one batch until every document is delivered or refused.
    /// Returns false when the agent stopped first.
    fn deliver(
        &mut self,
        batch: &[String],
        stop: &Receiver<()>,
        draining: &mut Option<Stopwatch>,
    ) -> bool {
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut attempt = 0u32;
        // Set when the receiver refused a whole batch for good: documents
        // then go one at a time to find the one at fault.
        let mut single = false;
        let mut outage: Option<Stopwatch> = None;
        while !pending.is_empty() {
            let chunk: Vec<usize> = if single {
                pending[..1].to_vec()
            } else {
                pending.clone()
            };
            let docs: Vec<&str> = chunk.iter().map(|&i| batch[i].as_str()).collect();
            let mut retry_after = None;
            let mut reason = String::new();
            match self.sink.send(&docs) {
                Ok(fates) => {
                    let mut again = Vec::new();
                    for (k, &i) in chunk.iter().enumerate() {
                        match fates.get(k) {
                            Some(Fate::Delivered) => {
                                OutputCounters::add(&self.counters.delivered, 1);
                            }
                            Some(Fate::Rejected(why)) => {
                                OutputCounters::add(&self.counters.rejected, 1);
                                tracing::error!(output = %self.name, event_id = %event_id(&batch[i]), reason = %why, "receiver refused a document for good; it is not sent again");
                            }
                            Some(Fate::Retry(why)) => {
                                reason.clone_from(why);
                                again.push(i);
                            }
                            None => {
                                reason = "the receiver answered for fewer documents than were sent"
                                    .into();
                                again.push(i);
                            }
                        }
                    }
                    let done: Vec<usize> = chunk
                        .iter()
                        .copied()
                        .filter(|i| !again.contains(i))
                        .collect();
                    pending.retain(|i| !done.contains(i));
                    if again.is_empty() {
                        if let Some(o) = outage.take() {
                            tracing::info!(output = %self.name, after_attempts = attempt, down_for = ?o.elapsed(), "output delivering again");
                        }
                        attempt = 0;
                        continue;
                    }
                }
                Err(f) if f.permanent => {
                    if chunk.len() > 1 {
                        tracing::warn!(output = %self.name, reason = %f.reason, documents = chunk.len(), "receiver refused a batch; sending its documents one by one to find the one at fault");
                        single = true;
                        continue;
                    }
                    OutputCounters::add(&self.counters.rejected, 1);
                    tracing::error!(output = %self.name, event_id = %event_id(&batch[chunk[0]]), reason = %f.reason, "receiver refused a document for good; it is not sent again");
                    pending.retain(|i| *i != chunk[0]);
                    continue;
                }
                Err(f) => {
                    retry_after = f.retry_after;
                    reason = f.reason;
                }
            }
            attempt += 1;
            OutputCounters::add(&self.counters.retries, 1);
            let delay = retry_after.unwrap_or_else(|| {
                backoff(
                    attempt,
                    self.policy.backoff_min,
                    self.policy.backoff_max,
                    self.jitter.unit(),
                )
            });
            if outage.is_none() {
                outage = Some(Stopwatch::start());
                tracing::warn!(output = %self.name, reason = %reason, retry_in = ?delay, spooled = self.spool.depth().0, "output not delivering; documents stay spooled and are retried");
            } else {
                tracing::debug!(output = %self.name, reason = %reason, attempt, retry_in = ?delay, "delivery retry failed");
            }
            if matches!(self.wait(delay, stop, draining), Wake::Stop) {
                return false;
            }
        }
        true
    }

    /// Waits `delay`, or less when the agent stops (then at most what is
    /// left of the drain time).
    fn wait(&self, delay: Duration, stop: &Receiver<()>, draining: &mut Option<Stopwatch>) -> Wake {
        let started = Stopwatch::start();
        loop {
            let left = delay.saturating_sub(started.elapsed());
            if let Some(d) = draining {
                let drain_left = self.policy.drain_timeout.saturating_sub(d.elapsed());
                if drain_left < left {
                    return Wake::Stop;
                }
                std::thread::park_timeout(left);
                return Wake::Elapsed;
            }
            if left.is_zero() {
                return Wake::Elapsed;
            }
            match stop.recv_timeout(left) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => *draining = Some(Stopwatch::start()),
            }
        }
    }
}

/// `event.id` of a document, for log lines ("?" when it has none).
pub fn event_id(doc: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Doc {
        event: Option<Ev>,
    }
    #[derive(serde::Deserialize)]
    struct Ev {
        id: Option<String>,
    }
    serde_json::from_str::<Doc>(doc)
        .ok()
        .and_then(|d| d.event)
        .and_then(|e| e.id)
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::config::Overflow;
    use crate::output::spool::SpoolLimits;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_half() {
        let min = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        let check = |attempt, unit, want_ms| {
            assert_eq!(
                backoff(attempt, min, max, unit),
                Duration::from_millis(want_ms),
                "attempt {attempt}, unit {unit}"
            );
        };
        check(1, 0.0, 500);
        check(1, 1.0, 1000);
        check(2, 0.0, 1000);
        check(3, 0.5, 3000);
        check(7, 1.0, 60_000);
        check(7, 0.0, 30_000);
        check(1000, 0.25, 37_500);
        // Nonsense in, something sane out.
        check(0, 2.0, 1000);
        assert_eq!(backoff(3, max, min, 1.0), Duration::from_secs(1));
        let mut j = Jitter::new("x");
        for _ in 0..1000 {
            let u = j.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    /// A sink that follows a script of answers and records what it got.
    struct Scripted {
        answers: Vec<Result<Vec<Fate>, Failure>>,
        got: Arc<Mutex<Vec<Vec<String>>>>,
    }

    impl Sink for Scripted {
        fn send(&mut self, docs: &[&str]) -> Result<Vec<Fate>, Failure> {
            self.got
                .lock()
                .unwrap()
                .push(docs.iter().map(|d| (*d).to_owned()).collect());
            if self.answers.is_empty() {
                Ok(vec![Fate::Delivered; docs.len()])
            } else {
                self.answers.remove(0)
            }
        }
    }

    fn check(
        docs: &[&str],
        answers: Vec<Result<Vec<Fate>, Failure>>,
        expected: &[&[&str]],
        rejected: u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let counters = Arc::new(OutputCounters::default());
        let spool = Arc::new(
            Spool::open(
                "t",
                dir.path(),
                SpoolLimits {
                    max_bytes: 1 << 20,
                    max_documents: None,
                    overflow: Overflow::Block,
                },
                Arc::clone(&counters),
                Arc::new(AtomicBool::new(false)),
            )
            .unwrap(),
        );
        for d in docs {
            spool.append(d).unwrap();
        }
        let got = Arc::new(Mutex::new(Vec::new()));
        let delivery = Delivery::new(
            "t",
            Arc::clone(&spool),
            Box::new(Scripted {
                answers,
                got: Arc::clone(&got),
            }),
            Policy {
                batch_max_documents: 10,
                batch_max_bytes: 1 << 20,
                backoff_min: Duration::from_millis(1),
                backoff_max: Duration::from_millis(2),
                drain_timeout: Duration::from_secs(5),
            },
            Arc::clone(&counters),
        );
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        drop(tx); // stop at once: drains what is spooled, then returns
        delivery.run(rx);
        let got = got.lock().unwrap().clone();
        let expected: Vec<Vec<String>> = expected
            .iter()
            .map(|b| b.iter().map(|d| (*d).to_owned()).collect())
            .collect();
        assert_eq!(got, expected);
        assert_eq!(spool.depth().0, 0);
        assert_eq!(counters.rejected.load(Ordering::Relaxed), rejected);
        assert_eq!(
            counters.delivered.load(Ordering::Relaxed) + rejected,
            docs.len() as u64
        );
    }

    #[test]
    fn failures_are_retried_in_order_and_partial_failures_alone() {
        check(&["a", "b"], vec![], &[&["a", "b"]], 0);
        check(
            &["a", "b", "c"],
            vec![
                Err(Failure::retry("503")),
                Ok(vec![
                    Fate::Delivered,
                    Fate::Retry("429".into()),
                    Fate::Delivered,
                ]),
            ],
            &[&["a", "b", "c"], &["a", "b", "c"], &["b"]],
            0,
        );
        check(
            &["a", "b", "c"],
            vec![Ok(vec![
                Fate::Delivered,
                Fate::Rejected("mapping".into()),
                Fate::Delivered,
            ])],
            &[&["a", "b", "c"]],
            1,
        );
    }

    #[test]
    fn a_batch_refused_for_good_is_split_to_find_the_poison() {
        let bad = || {
            Err(Failure {
                reason: "400".into(),
                retry_after: None,
                permanent: true,
            })
        };
        check(
            &["a", "poison", "c"],
            vec![bad(), Ok(vec![Fate::Delivered]), bad()],
            &[&["a", "poison", "c"], &["a"], &["poison"], &["c"]],
            1,
        );
    }
}
