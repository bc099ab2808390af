//! logwarden: a log-tailing rule engine for SMS/Configuration Manager site
//! servers.
//!
//! The modules read as the pipeline: [`source`] (followed files, sampled
//! folders) → [`parse`] (records) → [`matcher`] (which rules match) →
//! [`correlate`] (windows, lifecycle) → [`alert`] (the JSON document) →
//! [`output`]. [`pipeline`] wires them with threads and bounded channels;
//! [`app`] holds the commands. See `ARCHITECTURE.md`.

pub mod alert;
pub mod app;
pub mod cli;
pub mod config;
pub mod correlate;
pub mod diag;
pub mod engine;
pub mod event;
pub mod health;
pub mod ingest;
pub mod matcher;
pub mod output;
pub mod parse;
pub mod pipeline;
pub mod rule;
pub mod source;
pub mod state;
pub mod time;
