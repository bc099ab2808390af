//! logwarden: a log-tailing rule engine for SMS/Configuration Manager site
//! servers.
//!
//! The modules read as the pipeline: [`source`] (followed files, sampled
//! folders) → [`parse`] (records) → [`matcher`] (which rules match) →
//! [`correlate`] (windows, lifecycle) → [`alert`] (the JSON document) →
//! [`output`]. [`pipeline`] wires them with threads and bounded channels;
//! [`app`] holds the commands. See `ARCHITECTURE.md`.

pub mod correlate;
pub mod diag;
pub mod event;
pub mod matcher;
pub mod parse;
pub mod rule;
pub mod source;
pub mod time;
