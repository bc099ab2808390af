//! `logwarden replay`: historical logs through the rules, on their own
//! timestamps.

use std::sync::Arc;

use super::run::{open_outputs, site_or_cwd};
use super::{AppError, host_name, load_rules};
use crate::alert::Context;
use crate::cli::ReplayArgs;
use crate::correlate::Note;
use crate::engine::NoteObserver;
use crate::output::Target;
use crate::pipeline::replay::{self, assign_sources, site_files};
use crate::time::SystemClock;

/// Runs `replay`: prints the documents that would have been sent, then exits.
///
/// # Errors
/// Broken rules (exit 1); unreadable or unassignable files (exit 2).
pub fn replay(args: ReplayArgs) -> Result<(), AppError> {
    let rules = load_rules(&args.rules)?;
    let files = if args.logs.is_empty() {
        let site = site_or_cwd(args.site)?;
        let files = site_files(&rules, &site);
        if files.is_empty() {
            return Err(AppError::Runtime(format!(
                "no log under {} matches a [[source]] path of the rules; pass --site with the site root or name LOG files",
                site.display()
            )));
        }
        files
    } else {
        assign_sources(&rules, &args.logs).map_err(|e| AppError::Runtime(e.to_string()))?
    };
    let explain = match &args.explain {
        None => None,
        Some(name) => {
            let Some(rule) = rules.rule_by_name(name) else {
                let known: Vec<&str> = rules.rules.iter().map(|r| r.id.as_str()).collect();
                return Err(AppError::Runtime(format!(
                    "--explain {name:?}: no such rule; the rules are: {}",
                    known.join(", ")
                )));
            };
            let observer: NoteObserver = Box::new(|n: &Note| {
                println!(
                    "{}  {:<24} {}{}",
                    n.time,
                    n.rule,
                    n.at.as_deref().map_or(String::new(), |a| format!("{a}  ")),
                    n.text
                );
            });
            Some((rule, observer))
        }
    };
    let targets: Vec<Target> = if args.output.is_empty() && explain.is_some() {
        Vec::new()
    } else if args.output.is_empty() {
        vec![Target::Stdout]
    } else {
        args.output.iter().map(|s| Target::parse(s)).collect()
    };
    let outputs = open_outputs(&targets)?;
    let ctx = Context {
        host: host_name(&rules),
        labels: rules.defaults.labels.clone(),
    };
    let report = replay::run(rules, ctx, &files, outputs, Arc::new(SystemClock), explain)
        .map_err(|e| AppError::Runtime(e.to_string()))?;
    tracing::info!(
        files = files.len(),
        records = report.ingest.records,
        matched = report.ingest.matched,
        alerts = report.sent,
        late = report.late,
        "replay finished"
    );
    Ok(())
}
