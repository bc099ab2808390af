//! Integration tests: drive the built `logwarden` binary on temp sites.
//!
//! One test binary (ripgrep's layout): `harness` gives each test a temp
//! folder and helpers to write files, start the agent and poll its output
//! with a deadline (never a bare sleep).

// Test code panics on purpose and measures wall time with deadlines.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    missing_docs
)]

mod harness;

mod agent;
mod check;
// Linux: `/proc` for memory, handles and threads; `unshare` for a
// read-only mount.
#[cfg(target_os = "linux")]
mod crash;
mod formats;
mod golden;
mod http_out;
mod httpd;
mod pack;
mod replay;
mod restart;
mod ruletest;
mod syslog_out;
#[cfg(target_os = "linux")]
mod tail;
mod upkeep;
