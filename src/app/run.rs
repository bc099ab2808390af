//! `logwarden run`: the agent.
//!
//! Settings come from `--config` (see [`crate::config`]) and the command
//! line; a flag wins over the config's value, and `--output` adds an
//! output beside the config's. Without any output, documents go to stdout.
//! `host.name` is the config's `host`, else the rules' `[defaults] host`,
//! else this machine's name; `labels` are the rules' defaults with the
//! config's labels over them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
#[cfg(not(unix))]
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{AppError, host_name, load_rules, report};
use crate::alert::Context;
use crate::cli::{ReadFrom, RunArgs};
use crate::config::{self, AgentConfig, OutputConfig, OutputKind};
use crate::diag::Diagnostics;
use crate::health::Health;
use crate::output::{self, Output, Shared, Target};
use crate::pipeline::live::{self, Heartbeat, LiveConfig, Reload, Upkeep};
use crate::source::{self, TailOptions};
use crate::state::{self, StateDir};
use crate::time::SystemClock;

/// Runs the agent until SIGINT/SIGTERM, then flushes outputs and state.
///
/// # Errors
/// [`AppError::Invalid`] on a broken config or broken rules, or a secret
/// variable the config names that is not set (the agent refuses to
/// start); [`AppError::Runtime`] when the state folder is locked or
/// unusable or an output cannot be opened.
pub fn run(args: RunArgs) -> Result<(), AppError> {
    let config = match &args.config {
        Some(path) => Some(load_config(path)?),
        None => None,
    };
    if let Some(c) = &config {
        let problems = config::environment_problems(c, &|v| std::env::var(v).ok());
        if !problems.is_empty() {
            return Err(report(&Diagnostics(problems), "config"));
        }
    }
    let rule_paths = if args.rules.is_empty() {
        config.as_ref().map(|c| c.rules.clone()).unwrap_or_default()
    } else {
        args.rules.clone()
    };
    let rules = load_rules(&rule_paths)?;
    let site = match args
        .site
        .or_else(|| config.as_ref().and_then(|c| c.site.clone()))
    {
        Some(s) => s,
        None => std::env::current_dir().map_err(|e| {
            AppError::Runtime(format!(
                "cannot determine the current folder ({e}); pass --site"
            ))
        })?,
    };
    let state_dir = args
        .state
        .or_else(|| config.as_ref().and_then(|c| c.state.clone()))
        .unwrap_or_else(state::default_dir);
    let state = StateDir::open(&state_dir).map_err(|e| AppError::Runtime(e.to_string()))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    let health = Arc::new(Health::default());

    let mut configured: Vec<OutputConfig> = config
        .as_ref()
        .map(|c| c.outputs.clone())
        .unwrap_or_default();
    for t in &args.output {
        configured.push(OutputConfig {
            name: t.clone(),
            kind: match Target::parse(t) {
                Target::Stdout => OutputKind::Stdout,
                Target::File(path) => OutputKind::File { path },
            },
            location: crate::rule::Location::default(),
        });
    }
    if configured.is_empty() {
        configured.push(OutputConfig {
            name: "stdout".into(),
            kind: OutputKind::Stdout,
            location: crate::rule::Location::default(),
        });
    }
    let mut upkeep = Upkeep {
        health: Arc::clone(&health),
        ..Upkeep::default()
    };
    let mut shared = Vec::new();
    for c in &configured {
        let opened = output::open_config(c, state.path(), &health, &shutdown).map_err(|e| {
            AppError::Runtime(format!(
                "{e}; fix the output or its settings and start again"
            ))
        })?;
        if let Some((spool, delivery)) = opened.network {
            upkeep.spools.push(spool);
            upkeep.deliveries.push(delivery);
        }
        shared.push(Shared::new(opened.output));
    }
    let outputs: Vec<Box<dyn Output>> = shared
        .iter()
        .map(|s| Box::new(s.clone()) as Box<dyn Output>)
        .collect();
    if let Some(every) = config.as_ref().and_then(|c| c.heartbeat) {
        upkeep.heartbeat = Some(Heartbeat {
            every,
            outputs: shared.clone(),
        });
    }
    let reload_signal = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload_signal))
        .map_err(|e| AppError::Runtime(format!("cannot install the SIGHUP handler: {e}")))?;
    upkeep.reload = Some(Reload {
        paths: rule_paths,
        check_every: config
            .as_ref()
            .map_or(Some(config::DEFAULT_RULES_CHECK), |c| c.rules_check_every),
        signal: reload_signal,
    });

    install_stop_handler(&shutdown)?;
    let ctx = context(&rules, config.as_ref());
    tracing::info!(
        site = %site.display(),
        state = %state_dir.display(),
        sources = rules.sources.len(),
        gauges = rules.gauges.len(),
        rules = rules.rules.len(),
        outputs = ?configured.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        "logwarden agent starting"
    );
    let read_from = args
        .read_from
        .map(|r| match r {
            ReadFrom::Beginning => source::ReadFrom::Beginning,
            ReadFrom::End => source::ReadFrom::End,
        })
        .or_else(|| config.as_ref().and_then(|c| c.read_from))
        .unwrap_or(source::ReadFrom::End);
    let report = live::run_with(
        LiveConfig {
            rules,
            ctx,
            tail: TailOptions {
                site,
                read_from,
                ..TailOptions::default()
            },
            outputs,
            state,
            clock: Arc::new(SystemClock),
            // Notifications wake the reader at once; these are the ground
            // truth when they are late or missing (network shares), and
            // what an idle agent costs (two `statx` per followed file per
            // poll: 500 files at 250 ms / 1 s took 1.5% of a core).
            poll: Duration::from_millis(500),
            rescan: Duration::from_secs(2),
            observer: None,
        },
        upkeep,
        shutdown,
    )
    .map_err(|e| AppError::Runtime(e.to_string()))?;
    let totals = health.snapshot();
    tracing::info!(
        records = report.records,
        matched = report.matched,
        alerts = report.sent,
        late = report.late,
        spooled = totals.spooled,
        delivered = totals.delivered,
        retries = totals.retries,
        dropped = totals.dropped,
        rejected = totals.rejected,
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

/// SIGINT and SIGTERM (Windows: Ctrl-C, Ctrl-Break, console close,
/// service stop) set `shutdown`. On Unix this is signal-hook, like SIGHUP:
/// `ctrlc` would take SIGHUP for a stop signal too.
fn install_stop_handler(shutdown: &Arc<AtomicBool>) -> Result<(), AppError> {
    let failed = |e: std::io::Error| {
        AppError::Runtime(format!("cannot install the stop-signal handler: {e}"))
    };
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(shutdown)).map_err(failed)?;
    }
    #[cfg(not(unix))]
    {
        let flag = Arc::clone(shutdown);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .map_err(|e| failed(std::io::Error::other(e)))?;
    }
    Ok(())
}

/// Loads the config file, printing every problem.
///
/// # Errors
/// [`AppError::Invalid`] when it has any.
pub fn load_config(path: &Path) -> Result<AgentConfig, AppError> {
    config::load(path).map_err(|d| report(&d, "config"))
}

/// `host.name` and labels: the config's over the rules' defaults.
fn context(rules: &crate::rule::RuleSet, config: Option<&AgentConfig>) -> Context {
    let mut labels = rules.defaults.labels.clone();
    let mut host = host_name(rules);
    if let Some(c) = config {
        labels.extend(c.labels.clone());
        if let Some(h) = &c.host {
            host.clone_from(h);
        }
    }
    Context { host, labels }
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
