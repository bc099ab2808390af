//! The commands (SPEC §2): `run`, `check`, `test`, `replay`, `demo`. Each
//! turns its arguments into the pieces the pipeline needs and reports in
//! plain sentences; [`crate::pipeline`] and [`crate::engine`] do the work.
//!
//! Exit codes: 0 success, 1 rule/test/config failure, 2 usage or runtime error.

pub mod check;
pub mod demo;
pub mod replay;
pub mod run;
pub mod test;

use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::Diagnostics;
use crate::rule::{self, RuleSet};

/// Why a command failed, mapped to an exit code by [`AppError::exit_code`].
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Rules or config with problems (already printed as diagnostics).
    #[error("{count} problem(s) in {what}; fix them and run again (`logwarden check` lists them)")]
    Invalid {
        /// What was invalid: "rules", "config".
        what: &'static str,
        /// How many problems.
        count: usize,
    },
    /// Rule tests failed.
    #[error("{failed} of {total} rule test case(s) failed")]
    TestsFailed {
        /// Failed cases.
        failed: usize,
        /// All cases.
        total: usize,
    },
    /// A runtime problem: one sentence naming the file and what to do.
    #[error("{0}")]
    Runtime(String),
}

impl AppError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Invalid { .. } | AppError::TestsFailed { .. } => 1,
            AppError::Runtime(_) => 2,
        }
    }
}

/// Loads `paths` (or the bundled pack when empty), printing every problem
/// to stderr.
///
/// # Errors
/// [`AppError::Invalid`] when any rule file has a problem.
pub fn load_rules(paths: &[PathBuf]) -> Result<Arc<RuleSet>, AppError> {
    let texts = if paths.is_empty() {
        Ok(rule::bundled())
    } else {
        rule::read_paths(paths)
    };
    let result = texts.and_then(|t| rule::compile(&t));
    match result {
        Ok(set) => Ok(Arc::new(set)),
        Err(diags) => Err(report(&diags, "rules")),
    }
}

/// Prints diagnostics to stderr and returns the matching error.
pub fn report(diags: &Diagnostics, what: &'static str) -> AppError {
    eprint!("{diags}");
    AppError::Invalid {
        what,
        count: diags.0.len(),
    }
}

/// `host.name` of alerts: the rules' `[defaults] host`, else this machine's
/// hostname.
pub fn host_name(rules: &RuleSet) -> String {
    rules
        .defaults
        .host
        .clone()
        .unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned())
}
