//! The pipeline: the only module that spawns threads and owns channels.
//!
//! ```text
//!  reader thread                                  engine thread (caller's)
//!  ─────────────                                  ───────────────────────
//!  files → parse → ingest (match) ─┐
//!  folders → gauge samples ────────┼─ merge by time ──Batch──▶ Engine: correlate → documents → outputs
//!  (live: Tailer + watch;          │  (bounded channel:           └─ checkpoints (after outputs)
//!   replay: files start to end)    │   backpressure keeps
//!                                  ┘   data on disk)
//! ```
//!
//! The reader merges inputs from all files by record time (a file that is
//! still behind holds back later inputs of the others), so catching up after
//! downtime replays history in order instead of file by file. In live mode,
//! once every file is read to its end, a batch carries a watermark (the
//! wall clock) that lets the engine's clock advance while nothing is written.
//!
//! **Architecture invariant:** tail positions are persisted only after the
//! engine has applied (and the outputs have written) every input read before
//! them; a crash re-reads at most what came after the last checkpoint.

pub mod live;
pub mod replay;

use crate::event::Input;
use crate::source::Checkpoints;
use crate::time::Timestamp;

/// Inputs per batch sent from the reader to the engine.
const BATCH: usize = 4_096;
/// Batches in flight between reader and engine.
const CHANNEL_DEPTH: usize = 8;

/// What the reader sends the engine.
#[derive(Debug, Default)]
pub struct Batch {
    /// Inputs in time order.
    pub inputs: Vec<Input>,
    /// Nothing earlier than this will come (live mode, all files read to their end).
    pub watermark: Option<Timestamp>,
    /// Tail positions covering every input sent so far (live mode).
    pub positions: Option<Checkpoints>,
    /// Reloaded rules (live mode): the engine switches to them before this
    /// batch's inputs, which were read under them; every earlier batch was
    /// read under the old rules.
    pub reload: Option<std::sync::Arc<crate::rule::RuleSet>>,
}

/// Errors that stop the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A replay input could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A replay input matches no source of the rules.
    #[error(
        "{path} matches no [[source]] path of the rules; name the file like a source's path or replay a --site"
    )]
    NoSource {
        /// The file.
        path: String,
    },
    /// The matcher could not be built.
    #[error(transparent)]
    Matcher(#[from] crate::matcher::MatcherError),
    /// A thread panicked (a bug): reported rather than propagated.
    #[error("internal error: the {0} thread stopped unexpectedly")]
    Thread(&'static str),
}

/// Inputs held back by the merge, released in time order.
#[derive(Debug, Default)]
struct Merge {
    held: Vec<Input>,
}

impl Merge {
    /// Adds freshly read inputs.
    fn add(&mut self, inputs: &mut Vec<Input>) {
        self.held.append(inputs);
        // Stable: equal times keep their read order (per-file order).
        self.held.sort_by_key(Input::time);
    }

    /// Releases every held input at or before `limit` (all when `None`).
    fn release(&mut self, limit: Option<Timestamp>) -> Vec<Input> {
        match limit {
            None => std::mem::take(&mut self.held),
            Some(l) => {
                let n = self.held.partition_point(|i| i.time() <= l);
                self.held.drain(..n).collect()
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}
