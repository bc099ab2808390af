//! `cargo run --example gen-site -- sms20|configmgr OUT_DIR [SEED]`: writes a
//! synthetic six-hour SMS 2.0 or Configuration Manager site (logs with their
//! everyday noise, a rotation, and the incidents listed in `generate.rs`)
//! under OUT_DIR, deterministic from SEED (default 1). Replay it with
//! `logwarden replay --site OUT_DIR`.

mod generate;

use std::path::PathBuf;
use std::process::ExitCode;

use generate::Layout;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen-site sms20|configmgr OUT_DIR [SEED]";
    let layout = match args.first().map(String::as_str) {
        Some("sms20") => Layout::Sms20,
        Some("configmgr") => Layout::ConfigMgr,
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let Some(out) = args.get(1).map(PathBuf::from) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let seed = match args.get(2).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(seed)) => seed,
        Some(Err(_)) => {
            eprintln!("SEED must be a whole number\n{usage}");
            return ExitCode::from(2);
        }
    };
    match generate::generate(&out, layout, seed) {
        Ok(folders) => {
            println!(
                "wrote a {}-hour {layout:?} site (seed {seed}) under {}: {} folders",
                generate::HOURS,
                out.display(),
                folders.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write the site under {}: {e}", out.display());
            ExitCode::from(2)
        }
    }
}
