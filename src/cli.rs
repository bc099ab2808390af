//! The command line (SPEC §2), as `clap` types. Parsing only; [`crate::app`]
//! runs the commands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// logwarden: follows SMS/ConfigMgr site-server logs and inbox folders, matches
/// every new line against rules, and emits JSON alerts for a SIEM.
#[derive(Debug, Parser)]
#[command(name = "logwarden", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format of logwarden's own diagnostics on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Format of the agent's own log.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent until SIGINT/SIGTERM.
    Run(RunArgs),
    /// Validate rules (and config); print every problem as file:line:col.
    Check(CheckArgs),
    /// Run rule tests.
    Test(TestArgs),
    /// Run historical logs through the rules and print the alerts.
    Replay(ReplayArgs),
    /// Play a simulated Q260366 incident into a temp site and show the alerts.
    Demo,
}

/// Where to start in files seen for the first time.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReadFrom {
    /// Read history already in the file.
    Beginning,
    /// Skip history already in the file.
    End,
}

/// `logwarden run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Agent config file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Site root (holds Logs and Inboxes). Default: config's site, else the current folder.
    #[arg(long, value_name = "DIR")]
    pub site: Option<PathBuf>,
    /// Rule file or folder of *.toml rules (repeatable). Default: the bundled pack.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// State folder (checkpoints, alert state). Default: a per-platform data folder.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Add an NDJSON output: a file (appended) or - for stdout (repeatable).
    #[arg(long = "output", value_name = "PATH|-")]
    pub output: Vec<String>,
    /// Where to start in files that have no checkpoint yet.
    #[arg(long, value_enum)]
    pub read_from: Option<ReadFrom>,
}

/// `logwarden check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Agent config file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Rule file or folder (repeatable). Default: the bundled pack.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Rule files or folders (same as --rules).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// `logwarden test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files or folders of them.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// `logwarden replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Site root whose logs to replay (when no LOG is given).
    #[arg(long, value_name = "DIR")]
    pub site: Option<PathBuf>,
    /// Rule file or folder (repeatable). Default: the bundled pack.
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// NDJSON output: a file or - (default: stdout, unless --explain).
    #[arg(long = "output", value_name = "PATH|-")]
    pub output: Vec<String>,
    /// Explain one rule: print, for every record, sample and moment that
    /// touched it, why it did or did not move the rule's state.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// Log files to replay.
    #[arg(value_name = "LOG")]
    pub logs: Vec<PathBuf>,
}
