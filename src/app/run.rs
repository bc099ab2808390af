//! `logwarden run`: the agent.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{AppError, host_name, load_rules};
use crate::alert::Context;
use crate::cli::{ReadFrom, RunArgs};
use crate::output::{self, Output, Target};
use crate::pipeline::live::{self, LiveConfig};
use crate::source::{self, TailOptions};
use crate::state::{self, StateDir};
use crate::time::SystemClock;

/// Runs the agent until SIGINT/SIGTERM, then flushes outputs and state.
///
/// # Errors
/// [`AppError::Invalid`] on broken rules (the agent refuses to start);
/// [`AppError::Runtime`] when the state folder is locked or unusable or an
/// output cannot be opened.
pub fn run(args: RunArgs) -> Result<(), AppError> {
    if args.config.is_some() {
        return Err(AppError::Runtime(
            "--config is not supported by this build yet; pass --site, --rules, --state and --output instead".into(),
        ));
    }
    let rules = load_rules(&args.rules)?;
    let site = match args.site {
        Some(s) => s,
        None => std::env::current_dir().map_err(|e| {
            AppError::Runtime(format!(
                "cannot determine the current folder ({e}); pass --site"
            ))
        })?,
    };
    let state_dir = args.state.unwrap_or_else(state::default_dir);
    let state = StateDir::open(&state_dir).map_err(|e| AppError::Runtime(e.to_string()))?;
    let targets: Vec<Target> = if args.output.is_empty() {
        vec![Target::Stdout]
    } else {
        args.output.iter().map(|s| Target::parse(s)).collect()
    };
    let outputs = open_outputs(&targets)?;
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| AppError::Runtime(format!("cannot install the stop-signal handler: {e}")))?;
    let ctx = Context {
        host: host_name(&rules),
        labels: rules.defaults.labels.clone(),
    };
    tracing::info!(
        site = %site.display(),
        state = %state_dir.display(),
        sources = rules.sources.len(),
        gauges = rules.gauges.len(),
        rules = rules.rules.len(),
        "logwarden agent starting"
    );
    let report = live::run(
        LiveConfig {
            rules,
            ctx,
            tail: TailOptions {
                site,
                read_from: match args.read_from {
                    Some(ReadFrom::Beginning) => source::ReadFrom::Beginning,
                    Some(ReadFrom::End) | None => source::ReadFrom::End,
                },
                ..TailOptions::default()
            },
            outputs,
            state,
            clock: Arc::new(SystemClock),
            poll: Duration::from_millis(250),
            rescan: Duration::from_secs(1),
            observer: None,
        },
        shutdown,
    )
    .map_err(|e| AppError::Runtime(e.to_string()))?;
    tracing::info!(
        records = report.records,
        matched = report.matched,
        alerts = report.sent,
        late = report.late,
        lines = report.tail.lines_read,
        lines_cut = report.tail.lines_cut,
        rotations = report.tail.rotations,
        truncations = report.tail.truncations,
        gaps = report.tail.gaps,
        state_save_failures = report.state_save_failures,
        "logwarden agent stopped"
    );
    Ok(())
}

/// Opens every output, or says which one cannot be opened.
///
/// # Errors
/// [`AppError::Runtime`] naming the output.
pub fn open_outputs(targets: &[Target]) -> Result<Vec<Box<dyn Output>>, AppError> {
    targets
        .iter()
        .map(|t| output::open(t).map_err(|e| AppError::Runtime(e.to_string())))
        .collect()
}

/// The site folder as given (kept for symmetry with replay).
pub fn site_or_cwd(site: Option<PathBuf>) -> Result<PathBuf, AppError> {
    match site {
        Some(s) => Ok(s),
        None => std::env::current_dir().map_err(|e| {
            AppError::Runtime(format!(
                "cannot determine the current folder ({e}); pass --site"
            ))
        }),
    }
}
