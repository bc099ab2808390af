//! The inputs of the end-to-end benchmark (`benches/e2e/run.sh`), and its
//! floor.
//!
//! `cargo run --release --example bench-gen -- gen DIR [--lines N] [--seed S]`
//! writes under DIR, deterministic from the seed (default 1):
//! - `bench.log`: N lines (default 2,000,000, about 150 bytes each) of a
//!   Configuration Manager site server's simple-format log, 1 % of them
//!   planted for rules (see `log.rs`);
//! - `pack-R.toml` for R = 1, 10, 100, 1000: R `[[threshold]]` rules on one
//!   `format = "sms"` source (`rules.rs`); `rg-R.txt`, `ere-R.txt` and
//!   `sec-R.conf`: the same regexes for `rg -f`, `grep -E -f` and SEC;
//! - `expected.tsv`: for each pack, the lines of `bench.log` it matches.
//!
//! `bench-gen split FILE [READ_KIB]` is the line-split floor: it reads FILE
//! in chunks of READ_KIB KiB (default 256, replay's read size) and finds
//! every newline with memchr, printing the count.
//!
//! Uses `std` and `memchr` only.

mod log;
mod rules;

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The packs written: the first 1, 10, 100 and 1,000 rules.
const PACKS: [usize; 4] = [1, 10, 100, 1000];

const USAGE: &str =
    "usage: bench-gen gen DIR [--lines N] [--seed S]\n       bench-gen split FILE [READ_KIB]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => gen_command(&args[1..]),
        Some("split") => match (args.get(1), args.get(2).map(|k| k.parse::<usize>())) {
            (Some(file), None) => split(Path::new(file), 256).map(|n| println!("{n}")),
            (Some(file), Some(Ok(kib))) if kib > 0 && args.len() == 3 => {
                split(Path::new(file), kib).map(|n| println!("{n}"))
            }
            _ => Err(usage(
                "split takes FILE and optionally the read size in KiB",
            )),
        },
        _ => Err(usage("no command")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage(what)) => {
            eprintln!("bench-gen: {what}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Error::Io(what, e)) => {
            eprintln!("bench-gen: {what}: {e}");
            ExitCode::from(2)
        }
    }
}

enum Error {
    Usage(String),
    Io(String, io::Error),
}

fn usage(what: &str) -> Error {
    Error::Usage(what.to_owned())
}

fn gen_command(args: &[String]) -> Result<(), Error> {
    let mut dir = None;
    let (mut lines, mut seed) = (2_000_000u64, 1u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u64, Error> {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .ok_or_else(|| Error::Usage(format!("{name} takes a whole number")))
        };
        match a.as_str() {
            "--lines" => lines = number("--lines")?,
            "--seed" => seed = number("--seed")?,
            flag if flag.starts_with("--") => return Err(Error::Usage(format!("unknown {flag}"))),
            path if dir.is_none() => dir = Some(PathBuf::from(path)),
            extra => return Err(Error::Usage(format!("unexpected {extra}"))),
        }
    }
    let dir = dir.ok_or_else(|| usage("gen needs DIR"))?;
    generate(&dir, lines, seed)
        .map_err(|e| Error::Io(format!("cannot write under {}", dir.display()), e))
}

fn generate(dir: &Path, lines: u64, seed: u64) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let biggest = PACKS[PACKS.len() - 1];
    // Separate streams, so that the rules do not change with --lines.
    let mut rule_rng = Rng::new(seed);
    let shapes: Vec<rules::Shape> = (0..biggest)
        .map(|k| rules::Shape::pick(k, &mut rule_rng))
        .collect();
    let all = rules::rules(biggest, &shapes, &mut rule_rng);
    for n in PACKS {
        let pack = &all[..n];
        fs::write(dir.join(format!("pack-{n}.toml")), rules::toml(pack))?;
        fs::write(dir.join(format!("rg-{n}.txt")), rules::rg(pack))?;
        fs::write(dir.join(format!("ere-{n}.txt")), rules::ere(pack))?;
        fs::write(dir.join(format!("sec-{n}.conf")), rules::sec(pack))?;
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(dir.join("bench.log"))?);
    let hits = log::write(&mut out, lines, &shapes, &mut Rng::new(seed ^ 0x5EED_F106))?;
    out.flush()?;
    let mut expected = String::from("rules\tmatching_lines\n");
    for n in PACKS {
        expected.push_str(&format!("{n}\t{}\n", hits.pack(n)));
    }
    fs::write(dir.join("expected.tsv"), expected)?;
    println!(
        "wrote {lines} lines (seed {seed}) and packs of {PACKS:?} rules under {}",
        dir.display()
    );
    Ok(())
}

/// Counts the newlines of `file`, read `kib` KiB at a time (replay reads
/// 256 KiB).
fn split(file: &Path, kib: usize) -> Result<u64, Error> {
    let err = |e| Error::Io(format!("cannot read {}", file.display()), e);
    let mut f = File::open(file).map_err(err)?;
    let mut buf = vec![0u8; kib * 1024];
    let mut lines = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// splitmix64: small, fixed-seed, no dependency.
pub struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// `n` characters of an SMS-style file name (`A0100100`).
    pub fn name(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}
