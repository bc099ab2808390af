//! `logwarden check`: validate rules (and config), print every problem.

use super::{AppError, load_rules};
use crate::cli::CheckArgs;

/// Runs `check`: prints every problem as `file:line:col: message` with the
/// source line and a caret (stderr) and a one-line verdict (stdout).
///
/// # Errors
/// [`AppError::Invalid`] (exit 1) when anything is wrong.
pub fn check(args: CheckArgs) -> Result<(), AppError> {
    if args.config.is_some() {
        return Err(AppError::Runtime(
            "--config is not supported by this build yet; pass --rules instead".into(),
        ));
    }
    let mut paths = args.rules;
    paths.extend(args.paths);
    let rules = load_rules(&paths)?;
    let line_rules = rules.rules.iter().filter(|r| r.line().is_some()).count();
    println!(
        "ok: {} sources, {} gauges, {} rules ({} line rules)",
        rules.sources.len(),
        rules.gauges.len(),
        rules.rules.len(),
        line_rules
    );
    Ok(())
}
