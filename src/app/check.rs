//! `logwarden check`: validate the agent config and rules, print every
//! problem.
//!
//! With `--config`, the config's own problems come first, then those of the
//! rules it names (unless `--rules` or paths are given, which win as they
//! do for `run`). Environment problems of the config (an unset secret
//! variable, an unreadable `ca_file`) are printed as warnings: `check` may
//! run under another account than the service. `run` refuses to start on
//! them.

use super::{AppError, load_rules};
use crate::cli::CheckArgs;
use crate::config;

/// Runs `check`: prints every problem as `file:line:col: message` with the
/// source line and a caret (stderr) and a one-line verdict (stdout).
///
/// # Errors
/// [`AppError::Invalid`] (exit 1) when anything is wrong.
pub fn check(args: CheckArgs) -> Result<(), AppError> {
    let mut problems = 0;
    let mut warnings = 0;
    let mut config_summary = String::new();
    let mut paths = args.rules;
    paths.extend(args.paths);
    if let Some(path) = &args.config {
        match config::load(path) {
            Ok(c) => {
                for mut d in config::environment_problems(&c, &|v| std::env::var(v).ok()) {
                    d.message = format!("warning: {}", d.message);
                    eprint!("{d}");
                    warnings += 1;
                }
                if paths.is_empty() {
                    paths.clone_from(&c.rules);
                }
                config_summary = format!("config with {} output(s); ", c.outputs.len());
            }
            Err(d) => {
                eprint!("{d}");
                problems += d.len();
            }
        }
    }
    let rules = match load_rules(&paths) {
        Ok(r) => Some(r),
        Err(AppError::Invalid { count, .. }) => {
            problems += count;
            None
        }
        Err(e) => return Err(e),
    };
    let Some(rules) = rules.filter(|_| problems == 0) else {
        return Err(AppError::Invalid {
            what: if args.config.is_some() {
                "config and rules"
            } else {
                "rules"
            },
            count: problems,
        });
    };
    let line_rules = rules.rules.iter().filter(|r| r.line().is_some()).count();
    let warned = if warnings > 0 {
        format!(" ({warnings} warning(s))")
    } else {
        String::new()
    };
    println!(
        "ok: {config_summary}{} sources, {} gauges, {} rules ({} line rules){warned}",
        rules.sources.len(),
        rules.gauges.len(),
        rules.rules.len(),
        line_rules
    );
    Ok(())
}
