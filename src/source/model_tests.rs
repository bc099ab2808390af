//! Model-based test of the tailer: random sequences of writes, partial
//! writes, rename rotations, copy-then-truncate rotations, truncations,
//! deletions, polls (folder scans), checks of the followed files alone (as
//! the live agent does between scans), clock ticks and restarts are applied to a real file
//! (`Logs/x.log`) and to an in-memory model of the lines that must come out.
//! Every line must be handed out exactly once, in the order written, and no
//! two records may share a `(key, offset)` (the input of `event.id`).
//!
//! The model only generates sequences in which no loss is legitimate: a
//! rotation needs the tailer to have seen the file it rotates (a poll since
//! the file appeared), at most one rotation happens while the agent is
//! stopped, and a truncation without a copy is preceded by a poll. A file is
//! truncated (with or without a copy) only once the tailer has read a line of
//! it past its header: a file truncated and rewritten, between two polls,
//! byte for byte up to where it had been read cannot be told from one that
//! did not change (the limit of recognising truncation by content).
//!
//! A failure prints the seed; rerun with `LOGWARDEN_MODEL_SEED=<seed>`.
//! `LOGWARDEN_MODEL_CASES` sets the number of cases (default 64).

use std::collections::HashSet;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::tests::{Got, Harness, append, drain};
use super::*;

const LOG: &str = "Logs/x.log";
const ROTATED: &str = "Logs/x.lo_";
const HEADER: &str = "HEADER logwarden model";

/// One step of a scenario.
#[derive(Clone, Debug)]
enum Op {
    /// Complete lines appended (a pending partial line is finished first).
    Write(u8),
    /// Part of a line appended, without its newline.
    Partial(u8),
    /// `x.log` renamed to `x.lo_` (replacing it); the writer recreates `x.log`.
    Rename,
    /// `x.log` copied to `x.lo_` (replacing it), then truncated in place.
    CopyTruncate,
    /// Poll, then truncate `x.log` in place.
    Truncate,
    /// `x.log` deleted; the writer recreates it.
    Delete,
    /// Rescan and read everything, this many bytes per read.
    Poll(usize),
    /// The live agent's check between rescans: the followed files only
    /// (no folder listing, so no new file is found), then read them.
    Check(usize),
    /// The clock moves on.
    Tick(u8),
    /// Graceful stop (checkpoints saved), optionally after a last poll.
    Stop(bool),
    /// Start again from the saved checkpoints.
    Start,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..4).prop_map(Op::Write),
        3 => (1u8..12).prop_map(Op::Partial),
        2 => Just(Op::Rename),
        2 => Just(Op::CopyTruncate),
        1 => Just(Op::Truncate),
        1 => Just(Op::Delete),
        5 => prop::sample::select(vec![1usize, 3, 16, 4096]).prop_map(Op::Poll),
        3 => prop::sample::select(vec![3usize, 4096]).prop_map(Op::Check),
        2 => (1u8..8).prop_map(Op::Tick),
        1 => any::<bool>().prop_map(Op::Stop),
        2 => Just(Op::Start),
    ]
}

/// What must come out, and what the file system looks like to the writer.
#[derive(Debug, Default)]
struct Model {
    expected: Vec<String>,
    next_line: usize,
    /// A line being written: its text and how much of it is in the file.
    partial: Option<(String, usize)>,
    /// `x.log` exists.
    exists: bool,
    /// The tailer has seen the current `x.log` (a poll since it appeared).
    known: bool,
    stopped: bool,
    rotated_while_stopped: bool,
    /// `x.lo_` may hold lines not handed out yet.
    rotated_unread: bool,
    /// `x.log` holds lines not handed out yet.
    log_unread: bool,
    /// A deleted file holds lines not handed out yet (lost if the agent
    /// stops before reading them).
    deleted_unread: bool,
    /// `x.log` holds more than its header line.
    has_lines: bool,
    /// The tailer has read a line of `x.log` past its header.
    seen_lines: bool,
    /// One open handle at most. A parked file that is deleted loses what
    /// was appended since it was parked, so deletions are skipped.
    tight: bool,
}

struct Run {
    h: Harness,
    m: Model,
    got: Vec<Got>,
    saved: Option<Checkpoints>,
}

impl Run {
    /// A run over `x.log` alone, or with `glob` over `x.*`, which also
    /// matches the rotated `x.lo_` (it must still not be read twice). With
    /// `tight`, one open handle at most: the live file is parked while a
    /// rotated one drains.
    fn new(glob: bool, tight: bool) -> Run {
        let path = if glob { "Logs/x.*" } else { LOG };
        let mut h = Harness::new(&[("s", path)], ReadFrom::Beginning);
        h.options.rotated_grace = Duration::from_secs(3);
        if tight {
            h.options.max_open_files = 1;
        }
        h.tailer = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
        Run {
            h,
            m: Model {
                tight,
                ..Model::default()
            },
            got: Vec::new(),
            saved: None,
        }
    }

    /// Creates the file, as the writer does, with its header line.
    fn ensure_exists(&mut self) {
        if !self.m.exists {
            append(&self.h.path(LOG), &format!("{HEADER}\n"));
            self.m.expected.push(HEADER.to_owned());
            self.m.exists = true;
            self.m.known = false;
            self.m.log_unread = true;
            self.m.has_lines = false;
            self.m.seen_lines = false;
        }
    }

    /// Appends `text`, creating the file first if needed.
    fn append(&mut self, text: &str) {
        self.ensure_exists();
        append(&self.h.path(LOG), text);
    }

    fn finish_partial(&mut self) {
        if let Some((line, written)) = self.m.partial.take() {
            let rest = format!("{}\n", &line[written..]);
            append(&self.h.path(LOG), &rest);
            self.m.expected.push(line);
            self.m.log_unread = true;
            self.m.has_lines = true;
        }
    }

    fn poll(&mut self, chunk: usize) {
        if self.m.stopped {
            return;
        }
        self.h.chunk = chunk;
        let got = self.h.poll_full();
        self.got.extend(got);
        self.m.known = self.m.exists;
        self.m.seen_lines = self.m.has_lines;
        self.m.log_unread = false;
        self.m.deleted_unread = false;
        self.m.rotated_unread = false;
    }

    /// [`Tailer::poll`] and reads: what the tailer follows is read (a
    /// rotated or deleted file included), a file it has not found is not.
    fn check_followed(&mut self, chunk: usize) {
        if self.m.stopped {
            return;
        }
        self.h.tailer.poll(self.h.now);
        let got = drain(&mut self.h.tailer, chunk);
        self.got.extend(got);
        if self.m.known {
            self.m.seen_lines = self.m.has_lines;
            self.m.log_unread = false;
        }
        self.m.deleted_unread = false;
        self.m.rotated_unread = false;
    }

    /// Whether a rotation now could legitimately lose lines (then the
    /// scenario skips it).
    fn may_rotate(&self) -> bool {
        if !self.m.exists || !self.m.known {
            return false;
        }
        !self.m.stopped || !self.m.rotated_while_stopped && !self.m.rotated_unread
    }

    fn rotated(&mut self) {
        self.m.exists = false;
        self.m.known = false;
        self.m.rotated_unread = self.m.log_unread;
        self.m.log_unread = false;
        if self.m.stopped {
            self.m.rotated_while_stopped = true;
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Write(n) => {
                self.finish_partial();
                self.ensure_exists();
                let mut text = String::new();
                for _ in 0..n {
                    let line = format!(
                        "line {} {}",
                        self.m.next_line,
                        "z".repeat(self.m.next_line % 7)
                    );
                    self.m.next_line += 1;
                    text.push_str(&line);
                    text.push('\n');
                    self.m.expected.push(line);
                }
                self.append(&text);
                self.m.log_unread = true;
                self.m.has_lines = true;
            }
            Op::Partial(n) => {
                self.ensure_exists();
                let (line, written) = match self.m.partial.take() {
                    Some(p) => p,
                    None => {
                        let line = format!("partial {} {}", self.m.next_line, "p".repeat(12));
                        self.m.next_line += 1;
                        (line, 0)
                    }
                };
                // Leave at least one byte so the line stays unfinished.
                let upto = (written + usize::from(n)).min(line.len() - 1);
                let piece = line[written..upto].to_owned();
                self.append(&piece);
                self.m.partial = Some((line, upto));
            }
            Op::Rename => {
                self.finish_partial();
                if self.may_rotate() {
                    self.h.rename(LOG, ROTATED);
                    self.rotated();
                }
            }
            Op::CopyTruncate => {
                self.finish_partial();
                if self.may_rotate() && self.m.seen_lines {
                    // Replace the old copy, as a rotation does.
                    let _ = std::fs::remove_file(self.h.path(ROTATED));
                    self.h.copytruncate(LOG, ROTATED);
                    self.rotated();
                    // The file stays, empty: its next line starts with the header.
                    self.append("");
                    self.m.known = false;
                }
            }
            Op::Truncate => {
                self.finish_partial();
                if !self.m.stopped && self.m.exists && self.m.has_lines {
                    // The poll makes the tailer read past the header.
                    self.poll(4096);
                    self.h.truncate(LOG);
                    self.m.exists = false;
                    self.append("");
                    self.m.known = false;
                }
            }
            Op::Delete => {
                self.finish_partial();
                if !self.m.stopped && self.m.exists && self.m.known && !self.m.tight {
                    std::fs::remove_file(self.h.path(LOG)).unwrap();
                    self.m.deleted_unread = self.m.log_unread;
                    self.rotated();
                }
            }
            Op::Poll(chunk) => self.poll(chunk),
            Op::Check(chunk) => self.check_followed(chunk),
            Op::Tick(s) => self.h.advance(u64::from(s)),
            Op::Stop(drain_first) => {
                if !self.m.stopped {
                    if drain_first || self.m.deleted_unread {
                        self.poll(4096);
                    }
                    self.saved = Some(self.h.tailer.checkpoints());
                    self.m.stopped = true;
                    self.m.rotated_while_stopped = false;
                }
            }
            Op::Start => self.start(),
        }
    }

    fn start(&mut self) {
        if let Some(cp) = self.saved.take() {
            self.h.start_from(cp);
            self.m.stopped = false;
            // The new tailer opens nothing before its first scan.
            self.m.known = false;
        }
    }

    /// Runs `ops`, settles, and compares with the model.
    fn check(glob: bool, tight: bool, ops: &[Op]) -> Result<(), String> {
        let mut run = Run::new(glob, tight);
        for op in ops {
            run.apply(op);
        }
        run.finish_partial();
        run.start();
        run.poll(4096);
        run.h.advance(10);
        run.poll(4096);
        let messages: Vec<&str> = run.got.iter().map(|g| g.message.as_str()).collect();
        if messages != run.m.expected {
            return Err(format!(
                "records differ from the model\n  got:      {messages:?}\n  expected: {:?}",
                run.m.expected
            ));
        }
        let mut ids = HashSet::new();
        for g in &run.got {
            if !ids.insert((g.key, g.offset)) {
                return Err(format!(
                    "two records share key and offset: {g:?}\n  all: {:#?}",
                    run.got
                ));
            }
        }
        let open = run.h.tailer.stats().files_open + run.h.tailer.stats().files_parked;
        if open > 1 {
            return Err(format!(
                "{open} files still open after the grace period: {:?}",
                run.h.tailer
            ));
        }
        Ok(())
    }
}

fn seed() -> u64 {
    if let Some(s) = std::env::var("LOGWARDEN_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return s;
    }
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

#[test]
fn tailer_agrees_with_the_model() {
    let seed = seed();
    let cases = std::env::var("LOGWARDEN_MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let scenario = (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(op(), 1..40),
    );
    let result = runner.run(&scenario, |(glob, tight, ops)| {
        Run::check(glob, tight, &ops).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("the tailer disagrees with the model (rerun with LOGWARDEN_MODEL_SEED={seed}): {e}");
    }
}

#[test]
fn model_regressions() {
    use Op::*;
    let cases: &[&[Op]] = &[
        &[
            Write(2),
            Poll(3),
            Partial(4),
            Stop(false),
            Rename,
            Write(1),
            Start,
        ],
        &[
            Write(1),
            Poll(1),
            Write(1),
            CopyTruncate,
            Write(2),
            Poll(16),
        ],
        &[Write(1), Poll(4096), Partial(3), Truncate, Write(1)],
        &[Write(1), Poll(4096), Write(1), Delete, Write(1), Poll(3)],
        &[
            Write(1),
            Poll(4096),
            Stop(true),
            CopyTruncate,
            Write(1),
            Start,
        ],
        &[Write(1), Stop(true), Start, Write(1), Delete],
        &[Partial(1), Poll(1), Delete, Stop(false)],
        &[
            Write(1),
            Poll(1),
            CopyTruncate,
            Poll(1),
            Delete,
            Tick(1),
            Poll(1),
            Write(1),
        ],
        &[
            Write(4),
            Poll(1),
            Delete,
            Poll(1),
            Write(1),
            Stop(true),
            CopyTruncate,
        ],
        &[
            Write(1),
            Poll(1),
            Rename,
            Stop(false),
            Write(1),
            Start,
            Stop(true),
            Rename,
            Write(1),
        ],
        &[Partial(1), Poll(1), CopyTruncate, Partial(1)],
        &[
            Write(1),
            Poll(1),
            Delete,
            Stop(false),
            Start,
            Poll(1),
            Write(1),
        ],
        &[
            Write(2),
            Poll(1),
            CopyTruncate,
            Stop(true),
            Rename,
            Start,
            Write(1),
            Poll(1),
            Stop(false),
            Rename,
        ],
        &[
            Write(1),
            Poll(1),
            Delete,
            Write(1),
            Stop(true),
            Write(1),
            CopyTruncate,
        ],
        &[
            Write(1),
            Poll(1),
            Rename,
            Write(1),
            Poll(1),
            Tick(3),
            Partial(1),
            Poll(1),
            CopyTruncate,
            Stop(false),
        ],
        &[
            Write(1),
            Truncate,
            Poll(1),
            Rename,
            Write(1),
            Stop(true),
            CopyTruncate,
        ],
        &[
            Write(1),
            Poll(1),
            CopyTruncate,
            Poll(1),
            Delete,
            Stop(false),
            Write(1),
        ],
        &[
            Write(1),
            Truncate,
            Poll(1),
            Rename,
            Write(1),
            Poll(1),
            Rename,
            Stop(true),
            Write(2),
        ],
        &[
            Write(1),
            Poll(1),
            CopyTruncate,
            Poll(1),
            Delete,
            Write(1),
            Stop(true),
            Rename,
            Write(1),
        ],
        &[
            Write(1),
            Truncate,
            Poll(1),
            Rename,
            Write(1),
            Stop(true),
            Rename,
            Start,
            Write(1),
        ],
        &[
            Write(1),
            Truncate,
            Poll(1),
            Rename,
            Stop(false),
            Write(1),
            Start,
            Poll(1),
            Rename,
            Write(1),
        ],
        &[
            Write(1),
            Poll(1),
            Rename,
            Write(1),
            Poll(1),
            Rename,
            Poll(1),
            Write(2),
            Poll(1),
            Delete,
            Stop(false),
            Start,
            Poll(1),
            Write(1),
        ],
        &[
            Write(1),
            Poll(1),
            Rename,
            Partial(1),
            Poll(1),
            Poll(1),
            Rename,
            Write(1),
        ],
        // Found with checks of followed files between scans.
        &[
            Partial(1),
            Poll(1),
            Delete,
            Poll(1),
            Write(1),
            Partial(1),
            Poll(1),
            CopyTruncate,
            Check(3),
        ],
    ];
    for ops in cases {
        for (glob, tight) in [(false, false), (true, false), (false, true), (true, true)] {
            if let Err(e) = Run::check(glob, tight, ops) {
                panic!("{ops:?} (glob: {glob}, tight: {tight}): {e}");
            }
        }
    }
}
