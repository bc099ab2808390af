//! Spool throughput: appends (the cost the engine thread pays per alert
//! sent to a network output), appends with the fsync the agent does before
//! each checkpoint, and draining in delivery-sized batches.
//!
//! Run: `cargo bench --bench spool`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use divan::Bencher;
use divan::counter::ItemsCount;
use logwarden::config::Overflow;
use logwarden::health::OutputCounters;
use logwarden::output::spool::{Spool, SpoolLimits};

fn main() {
    divan::main();
}

const DOCS: usize = 2_000;

/// An alert document of typical size (about 1.5 KB).
fn doc() -> String {
    format!("{{\"message\":\"{}\"}}\n", "x".repeat(1_500))
}

fn open(dir: &std::path::Path) -> Spool {
    Spool::open(
        "bench",
        dir,
        SpoolLimits {
            max_bytes: 1 << 40,
            max_documents: None,
            overflow: Overflow::Block,
        },
        Arc::new(OutputCounters::default()),
        Arc::new(AtomicBool::new(false)),
    )
    .expect("spool")
}

#[divan::bench(sample_count = 10)]
fn append(b: Bencher) {
    let d = doc();
    b.counter(ItemsCount::new(DOCS))
        .with_inputs(|| tempfile::tempdir().expect("tempdir"))
        .bench_local_refs(|dir| {
            let s = open(dir.path());
            for _ in 0..DOCS {
                s.append(&d).expect("append");
            }
        });
}

/// One fsync per 100 documents: a burst of alerts between two checkpoints.
#[divan::bench(sample_count = 10)]
fn append_sync_every_100(b: Bencher) {
    let d = doc();
    b.counter(ItemsCount::new(DOCS))
        .with_inputs(|| tempfile::tempdir().expect("tempdir"))
        .bench_local_refs(|dir| {
            let s = open(dir.path());
            for i in 0..DOCS {
                s.append(&d).expect("append");
                if i % 100 == 99 {
                    s.sync().expect("sync");
                }
            }
        });
}

/// Batches of 500 taken and acknowledged (cursor written atomically).
#[divan::bench(sample_count = 10)]
fn drain_batches_of_500(b: Bencher) {
    let d = doc();
    b.counter(ItemsCount::new(DOCS))
        .with_inputs(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let s = open(dir.path());
            for _ in 0..DOCS {
                s.append(&d).expect("append");
            }
            (dir, s)
        })
        .bench_local_refs(|(_, s)| {
            loop {
                let batch = s.next_batch(500, 5 << 20, Duration::ZERO);
                if batch.is_empty() {
                    break;
                }
                s.ack().expect("ack");
            }
        });
}
