//! Matcher throughput (placeholder replaced by the matcher bench).
fn main() {}
