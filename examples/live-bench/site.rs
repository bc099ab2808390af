//! The benchmark's site: SMS-format log lines (despooler noise and marker
//! lines that carry a sequence number), the rule file, and the followed
//! files. Deterministic from a seed; only the timestamps come from the clock
//! (the agent reads record time from the line, so they must be current).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// What every marker line carries before its sequence number.
pub const MARK: &str = "LWMARK seq=";

/// A small deterministic PRNG (xorshift64*), as in `examples/gen-site`.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `n` characters of an SMS-style file name.
    fn name(&mut self, n: usize, out: &mut Vec<u8>) {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        for _ in 0..n {
            out.push(ALPHABET[self.below(ALPHABET.len() as u64) as usize]);
        }
    }
}

/// `now` as a ConfigMgr trailer time in UTC: `MM-DD-YYYY HH:MM:SS.mmm+000`.
pub fn sms_time(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{month:02}-{day:02}-{year:04} {:02}:{:02}:{:02}.{:03}+000",
        s / 3600,
        s / 60 % 60,
        s % 60,
        since.subsec_millis()
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (y, m, d).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Writes despooler lines: everyday noise, and markers.
pub struct LineGen {
    rng: Rng,
    /// Package numbers run over `0..packages`; numbers below the rule
    /// count are what the threshold rules look for (about 0.5% of lines hit
    /// one).
    packages: u64,
}

impl LineGen {
    /// Noise whose package numbers fit a pack of `rules` threshold rules.
    pub fn new(seed: u64, rules: usize) -> LineGen {
        LineGen {
            rng: Rng::new(seed),
            packages: (rules.max(1) as u64) * 8,
        }
    }

    /// One everyday despooler line, stamped `time`.
    pub fn filler(&mut self, time: &str, out: &mut Vec<u8>) {
        let r = &mut self.rng;
        let pkg = r.below(self.packages);
        let version = 1 + r.below(40);
        match r.below(12) {
            0 => {
                let _ = write!(
                    out,
                    "Received package PS1{pkg:05} version {version}. Compressed file - E:\\SMS\\inboxes\\despoolr.box\\receive\\"
                );
                r.name(8, out);
                let _ = write!(out, ".PCK as E:\\SMSPKG\\PS1{pkg:05}.PCK");
            }
            1 => out.extend_from_slice(b"Despooler successfully executed one instruction."),
            2 => out.extend_from_slice(
                b"Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE",
            ),
            3 => {
                out.extend_from_slice(b"Received package instruction file ");
                r.name(8, out);
                out.extend_from_slice(b".INS");
            }
            4 => out.extend_from_slice(b"Waiting for ready instruction."),
            5 => {
                let _ = write!(
                    out,
                    "Decompressing package PS1{pkg:05} to E:\\SMSPKG\\PS1{pkg:05}.TMP"
                );
            }
            6 => {
                let _ = write!(out, "Used {} out of 3 despooling threads", r.below(4));
            }
            7 => {
                out.extend_from_slice(b"Instruction ");
                r.name(8, out);
                out.extend_from_slice(b" is processed successfully, deleting it.");
            }
            8 => out.extend_from_slice(b"Sleep 3600 seconds..."),
            9 => {
                let _ = write!(
                    out,
                    "Package PS1{pkg:05} (version {version}) is not yet fully received, waiting for remaining files."
                );
            }
            10 => {
                out.extend_from_slice(b"Relayed instruction ");
                r.name(8, out);
                let _ = write!(out, " to site C{:02}", r.below(50));
            }
            _ => {
                let _ = write!(
                    out,
                    "Connection to SQL server on SQL{:02} is established.",
                    r.below(4)
                );
            }
        }
        self.trailer(time, out);
    }

    /// A marker line: `Waiting for an available despooling thread LWMARK
    /// seq=N`, stamped `time`.
    pub fn marker(&mut self, seq: u64, time: &str, out: &mut Vec<u8>) {
        let _ = write!(
            out,
            "Waiting for an available despooling thread {MARK}{seq}"
        );
        self.trailer(time, out);
    }

    fn trailer(&mut self, time: &str, out: &mut Vec<u8>) {
        let thread = 2000 + self.rng.below(6) as u32;
        let _ = writeln!(
            out,
            "  $$<SMS_DESPOOLER><{time}><thread={thread} (0x{thread:X})>"
        );
    }
}

/// The threshold rules' shape.
#[derive(Clone, Debug)]
pub struct Thresholds {
    /// How many.
    pub rules: usize,
    /// Which of the four forms, used in turn by rule number: 0 a literal,
    /// 1 a regex with captures and `group_by`, 2 a case-insensitive
    /// alternation that never matches, 3 `contains_any`.
    pub forms: Vec<usize>,
    /// `count` of every rule (`window` is a minute).
    pub count: u64,
}

/// The rule file: one source (`path`, SMS format), the marker `[[match]]`
/// (one document per marker: `suppress_for` is 0 by default) and the
/// threshold rules, of which forms 0 and 1 see about 0.5% of the noise
/// between them (each rule of those forms: one line in 12 × 8 × rules).
pub fn rules(path: &str, t: &Thresholds) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"# Generated by examples/live-bench (benches/live/run.sh).
schema = 1

[defaults]
host = "BENCH01"
labels = {{ site_code = "PS1" }}

[[source]]
id = "logs"
path = '{path}'
format = "sms"

[[match]]
id = "bench-marker"
source = "logs"
contains = "{MARK}"
alert = true
severity = "low"
"#
    );
    for i in 0..t.rules {
        let _ = write!(
            s,
            "\n[[threshold]]\nid = \"pkg-{i:05}\"\nsource = \"logs\"\n"
        );
        let form = t
            .forms
            .get(i % t.forms.len().max(1))
            .copied()
            .unwrap_or(i % 4);
        let _ = match form {
            0 => writeln!(s, "contains = \"Received package PS1{i:05} version\""),
            1 => writeln!(
                s,
                "regex = 'Received package (?P<pkg>PS1{i:05}) version (?P<ver>\\d+)'\ngroup_by = [\"pkg\"]"
            ),
            2 => writeln!(
                s,
                "regex = '(?i)(?:cannot|failed to) (?:open|read|decompress) (?:package|instruction) PS1{i:05}\\b'"
            ),
            _ => writeln!(
                s,
                "contains_any = [\"PS1{i:05} is corrupt\", \"PS1{i:05} signature mismatch\"]"
            ),
        };
        let _ = writeln!(
            s,
            "count = {}\nwindow = \"1m\"\nseverity = \"medium\"",
            t.count
        );
    }
    s
}

/// Writes `files` logs `Logs/compNNN.log` of `lines` noise lines each
/// under `site`.
pub fn cold_files(
    site: &Path,
    files: usize,
    lines: usize,
    noise: &mut LineGen,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    let logs = site.join("Logs");
    std::fs::create_dir_all(&logs)?;
    let time = sms_time(SystemTime::now());
    let mut paths = Vec::with_capacity(files);
    for i in 0..files {
        let p = logs.join(format!("comp{i:03}.log"));
        let mut buf = Vec::new();
        for _ in 0..lines {
            noise.filler(&time, &mut buf);
        }
        std::fs::File::create(&p)?.write_all(&buf)?;
        paths.push(p);
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
