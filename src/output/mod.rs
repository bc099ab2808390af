//! Outputs: where alert documents go. One file per output kind; each takes
//! finished NDJSON lines and makes them durable (or reports why not).
//!
//! Local outputs (stdout, [`file`](mod@file)) write at once. Network outputs
//! ([`syslog`], [`http`]) never make the engine wait for a receiver: what
//! the engine hands them goes into their [`spool`] on disk, and a
//! [`delivery`] loop per output drains it with batching and retries.
//! `docs/outputs.md` is the operator's guide.
//!
//! What it does not do: build documents ([`crate::alert`]), decide which
//! transitions become documents ([`crate::correlate`]), or run threads
//! ([`crate::pipeline`] runs each [`delivery::Delivery`]).

pub mod delivery;
pub mod file;
pub mod http;
pub mod spool;
pub mod syslog;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::config::{Delivery as DeliveryConfig, OutputConfig, OutputKind};
use crate::health::{Health, OutputCounters};

/// Errors of an output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The output file could not be opened or prepared.
    #[error("cannot open output file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("cannot write to {target}: {source}")]
    Write {
        /// The output's name.
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A network output could not be set up.
    #[error("cannot open output {name:?}: {reason}")]
    Setup {
        /// The output's name.
        name: String,
        /// One sentence: what is wrong and what to do.
        reason: String,
    },
}

/// Where an output writes, as given on the command line or in the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
}

impl Target {
    /// `-` is stdout; anything else is a file path.
    pub fn parse(s: &str) -> Target {
        if s == "-" {
            Target::Stdout
        } else {
            Target::File(PathBuf::from(s))
        }
    }
}

/// An output that takes NDJSON lines.
pub trait Output: Send {
    /// Writes one document line (ending in `\n`) and flushes it.
    ///
    /// # Errors
    /// When the line could not be written.
    fn send(&mut self, line: &str) -> Result<(), OutputError>;

    /// A name for messages (`stdout`, the file path, …).
    fn name(&self) -> String;
}

/// Standard output, flushed per document.
#[derive(Debug, Default)]
pub struct Stdout;

impl Output for Stdout {
    fn send(&mut self, line: &str) -> Result<(), OutputError> {
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|source| OutputError::Write {
                target: "stdout".into(),
                source,
            })
    }

    fn name(&self) -> String {
        "stdout".into()
    }
}

/// Opens the output for `target`.
///
/// # Errors
/// When a file output cannot be opened.
pub fn open(target: &Target) -> Result<Box<dyn Output>, OutputError> {
    match target {
        Target::Stdout => Ok(Box::new(Stdout)),
        Target::File(path) => Ok(Box::new(file::FileOutput::open(path)?)),
    }
}

/// An output shared between the engine and the heartbeat (both on the
/// engine thread; the lock is never contended).
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Box<dyn Output>>>);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Shared").field(&self.name()).finish()
    }
}

impl Shared {
    /// Shares `output`.
    pub fn new(output: Box<dyn Output>) -> Shared {
        Shared(Arc::new(Mutex::new(output)))
    }
}

impl Output for Shared {
    fn send(&mut self, line: &str) -> Result<(), OutputError> {
        let mut o = self.0.lock().unwrap_or_else(|p| p.into_inner());
        o.send(line)
    }

    fn name(&self) -> String {
        self.0.lock().map(|o| o.name()).unwrap_or_default()
    }
}

/// A configured output, opened.
pub struct Opened {
    /// What the engine writes to.
    pub output: Box<dyn Output>,
    /// For a network output: its spool (synced before checkpoints) and the
    /// delivery loop to run on a thread of its own.
    pub network: Option<(Arc<spool::Spool>, delivery::Delivery)>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("output", &self.output.name())
            .field(
                "network",
                &self.network.as_ref().map(|(_, d)| d.name().to_owned()),
            )
            .finish()
    }
}

/// Opens the output `cfg` describes. A network output's spool lives in
/// `STATE/spool/NAME`; its counters are registered with `health`;
/// `stopping` is the agent's stop flag (a full blocking spool gives way
/// when it is set).
///
/// # Errors
/// When a file cannot be opened, a secret is missing, a CA file is
/// unusable or the spool folder cannot be used.
pub fn open_config(
    cfg: &OutputConfig,
    state_dir: &Path,
    health: &Health,
    stopping: &Arc<AtomicBool>,
) -> Result<Opened, OutputError> {
    let setup = |reason: String| OutputError::Setup {
        name: cfg.name.clone(),
        reason,
    };
    let (sink, d): (Box<dyn delivery::Sink>, &DeliveryConfig) = match &cfg.kind {
        OutputKind::Stdout => {
            return Ok(Opened {
                output: Box::new(Stdout),
                network: None,
            });
        }
        OutputKind::File { path } => {
            return Ok(Opened {
                output: Box::new(file::FileOutput::open(path)?),
                network: None,
            });
        }
        OutputKind::Syslog(s, d) => (
            Box::new(
                syslog::SyslogSink::new(s.clone(), d.timeout).map_err(|e| setup(e.to_string()))?,
            ),
            d,
        ),
        OutputKind::SplunkHec(h, d) => (
            Box::new(http::HttpSink::splunk_hec(h, d.timeout).map_err(|e| setup(e.to_string()))?),
            d,
        ),
        OutputKind::Elasticsearch(e, d) => (
            Box::new(
                http::HttpSink::elasticsearch(e, d.timeout).map_err(|e| setup(e.to_string()))?,
            ),
            d,
        ),
        OutputKind::Webhook(w, d) => (
            Box::new(http::HttpSink::webhook(w, d.timeout).map_err(|e| setup(e.to_string()))?),
            d,
        ),
    };
    let counters = Arc::new(OutputCounters::default());
    let spool = Arc::new(
        spool::Spool::open(
            &cfg.name,
            &state_dir.join("spool").join(&cfg.name),
            spool::SpoolLimits {
                max_bytes: d.spool_max_bytes,
                max_documents: d.spool_max_documents,
                overflow: d.overflow,
            },
            Arc::clone(&counters),
            Arc::clone(stopping),
        )
        .map_err(|e| setup(e.to_string()))?,
    );
    health.register(&cfg.name, cfg.kind.type_name(), Arc::clone(&counters));
    let delivery = delivery::Delivery::new(
        &cfg.name,
        Arc::clone(&spool),
        sink,
        delivery::Policy {
            batch_max_documents: d.batch_max_documents,
            batch_max_bytes: d.batch_max_bytes,
            backoff_min: d.backoff_min,
            backoff_max: d.backoff_max,
            drain_timeout: d.drain_timeout,
        },
        counters,
    );
    Ok(Opened {
        output: Box::new(spool::SpooledOutput::new(Arc::clone(&spool))),
        network: Some((spool, delivery)),
    })
}
