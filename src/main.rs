//! The `logwarden` binary: argv → command, tracing, exit codes. The only
//! place errors become process exit codes.

use clap::Parser;
use logwarden::app;
use logwarden::cli::{Cli, Command, LogFormat};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Run(args) => app::run::run(args),
        Command::Check(args) => app::check::check(args),
        Command::Test(args) => app::test::test(args),
        Command::Replay(args) => app::replay::replay(args),
        Command::Demo => app::demo::demo(),
    };
    if let Err(e) = result {
        eprintln!("logwarden: {e}");
        std::process::exit(e.exit_code());
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOGWARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
