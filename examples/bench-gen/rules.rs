//! The benchmark's rules: `[[threshold]]` rules over one SMS source, each a
//! regex with alternations, classes and named captures, written in the four
//! dialects the benchmark feeds: a logwarden rule file, a pattern file for
//! `rg -f` (Rust syntax), one for `grep -E -f` (POSIX ERE) and an SEC
//! configuration (Perl syntax).
//!
//! Rule `k` names a token of its own (a job, site, box or error code built
//! from `k`), so that a line planted for rule `k` matches rule `k` only and
//! the noise of the log matches none: the generator then knows how many
//! lines each pack must match. The shapes mirror `benches/matcher.rs`: most
//! rules carry a selective literal, some only a weak one after a class
//! (`Inner`, `Bare`), a sixth are case-insensitive. No pattern uses an
//! anchor, so a pattern that matches a record's message (what logwarden
//! tests) matches its whole line (what rg, grep and SEC see) and, the
//! trailer holding none of the phrases, the other way round.

use crate::Rng;

/// The kinds of rule in a pack.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Alternations of verbs and objects, a package id class, a job token.
    Alternation,
    /// A mostly literal phrase with a server capture and a site token.
    Literal,
    /// `(?i)`: a backup outcome for a site token, any case.
    CaseInsensitive,
    /// An operation, a file name class and an HRESULT token.
    ErrorCode,
    /// The selective part comes after a count and a class (`12 files pending in despoolr0042.box`).
    Inner,
    /// No selective literal: a package id, `n/m` and a word ending in `_k`.
    Bare,
}

impl Shape {
    /// The shape of rule `k`; rule 0, the one the 1-rule pack holds, has
    /// alternations, a class and captures.
    pub fn pick(k: usize, rng: &mut Rng) -> Shape {
        if k == 0 {
            return Shape::Alternation;
        }
        match rng.below(100) {
            0..30 => Shape::Alternation,
            30..50 => Shape::Literal,
            50..65 => Shape::CaseInsensitive,
            65..80 => Shape::ErrorCode,
            80..90 => Shape::Inner,
            _ => Shape::Bare,
        }
    }

    /// Rule `k`'s regex (Rust syntax, which Perl also reads) and the named
    /// captures a `group_by` may use.
    pub fn regex(self, k: usize) -> (String, &'static [&'static str]) {
        match self {
            Shape::Alternation => (
                format!(
                    r"(?P<verb>Failed|Unable|Cannot) to (?:copy|move|delete|send) (?:package|file|instruction) (?P<pkg>[A-Z]{{2}}\d{{6}}) for job J{k:04}\b"
                ),
                &["verb", "pkg"],
            ),
            Shape::Literal => (
                format!(
                    r"Failed to connect to site server (?P<server>\\\\[A-Z0-9]+) for site Q{k:03}, will retry in (?P<secs>\d+) seconds"
                ),
                &["server"],
            ),
            Shape::CaseInsensitive => (
                format!(
                    r"(?i)backup of site (?P<site>B{k:03}) (?:completed|failed|aborted) with (?:code|status) (?P<code>\d+)"
                ),
                &["site", "code"],
            ),
            Shape::ErrorCode => (
                format!(
                    r"(?P<op>CreateFile|ReadFile|MoveFileEx|DeleteFile) failed for (?P<file>[A-Za-z0-9]{{8}}\.(?:PKG|SNI|INS|SRQ)), (?:HRESULT|error) = 0x8004{k:04X}\b"
                ),
                &["op"],
            ),
            Shape::Inner => (
                format!(
                    r"(?P<n>\d+) files? (?:queued|pending|waiting) in (?P<box>[a-z]+){k:04}\.box\b"
                ),
                &["box"],
            ),
            Shape::Bare => (
                format!(
                    r"(?P<pkg>[A-Z]{{2}}\d{{6}}) (?P<part>\d+)/(?P<total>\d+) (?P<name>[a-z]+)_{k}\b"
                ),
                &["pkg", "name"],
            ),
        }
    }

    /// A message that matches rule `k` (and no other rule).
    pub fn sample(self, k: usize, rng: &mut Rng) -> String {
        match self {
            Shape::Alternation => format!(
                "{} to {} {} {} for job J{k:04} (Win32 error {})",
                pick(rng, &["Failed", "Unable", "Cannot"]),
                pick(rng, &["copy", "move", "delete", "send"]),
                pick(rng, &["package", "file", "instruction"]),
                package(rng),
                pick(rng, &["5", "32", "53", "64", "112", "1326"]),
            ),
            Shape::Literal => format!(
                "Failed to connect to site server \\\\{} for site Q{k:03}, will retry in {} seconds",
                server(rng),
                60 * (1 + rng.below(30))
            ),
            Shape::CaseInsensitive => {
                let text = format!(
                    "backup of site B{k:03} {} with {} {}",
                    pick(rng, &["completed", "failed", "aborted"]),
                    pick(rng, &["code", "status"]),
                    rng.below(10_000)
                );
                match rng.below(3) {
                    0 => text.to_uppercase(),
                    1 => format!("B{}", &text[1..]),
                    _ => text,
                }
            }
            Shape::ErrorCode => format!(
                "{} failed for {}.{}, {} = 0x8004{k:04X}",
                pick(rng, &["CreateFile", "ReadFile", "MoveFileEx", "DeleteFile"]),
                rng.name(8),
                pick(rng, &["PKG", "SNI", "INS", "SRQ"]),
                pick(rng, &["HRESULT", "error"]),
            ),
            Shape::Inner => format!(
                "{} {} {} in {}{k:04}.box",
                1 + rng.below(5000),
                pick(rng, &["files", "file"]),
                pick(rng, &["queued", "pending", "waiting"]),
                pick(
                    rng,
                    &["despoolr", "schedule", "distmgr", "replmgr", "statmgr"]
                ),
            ),
            Shape::Bare => format!(
                "{} {}/{} {}_{k}",
                package(rng),
                rng.below(100),
                1 + rng.below(100),
                pick(rng, &["chunk", "part", "slice", "block"]),
            ),
        }
    }
}

/// One generated rule.
pub struct Rule {
    /// `r0042`.
    pub id: String,
    /// Its regex, Rust/Perl syntax.
    pub regex: String,
    /// Named captures it groups by (possibly none).
    pub group_by: Vec<&'static str>,
    /// Matching records within `window_s` that make it fire.
    pub count: u32,
    /// The window, seconds.
    pub window_s: u64,
}

/// The `n` rules of the biggest pack; a pack of `m` rules is the first `m`.
pub fn rules(n: usize, shapes: &[Shape], rng: &mut Rng) -> Vec<Rule> {
    (0..n)
        .map(|k| {
            let (regex, captures) = shapes[k].regex(k);
            let group_by = if rng.below(2) == 0 {
                vec![captures[rng.below(captures.len() as u64) as usize]]
            } else {
                Vec::new()
            };
            Rule {
                id: format!("r{k:04}"),
                regex,
                group_by,
                count: 2 + rng.below(4) as u32,
                window_s: [300, 600, 1800, 3600][rng.below(4) as usize],
            }
        })
        .collect()
}

/// A logwarden rule file: one SMS source and a `[[threshold]]` per rule.
pub fn toml(rules: &[Rule]) -> String {
    let mut out = format!(
        "# Generated by `cargo run --release --example bench-gen`: {} threshold rules\n\
         # for benches/e2e/run.sh. Do not edit; change the generator.\n\
         schema = 1\n\n\
         [defaults]\nhost = \"bench\"\n\n\
         [[source]]\nid = \"bench\"\npath = 'Logs\\bench.log'\nformat = \"sms\"\n",
        rules.len()
    );
    for r in rules {
        out.push_str(&format!(
            "\n[[threshold]]\nid = \"{}\"\nsource = \"bench\"\nregex = '{}'\ncount = {}\nwindow = \"{}s\"\n",
            r.id, r.regex, r.count, r.window_s
        ));
        if !r.group_by.is_empty() {
            let fields: Vec<String> = r.group_by.iter().map(|f| format!("\"{f}\"")).collect();
            out.push_str(&format!("group_by = [{}]\n", fields.join(", ")));
        }
    }
    out
}

/// A pattern file for `rg -f`: each pattern in `(?:…)`, because Debian's
/// ripgrep 13 lets one pattern's `(?i)` leak into the patterns after it,
/// and its groups unnamed, because rg joins the patterns into one regex
/// where two rules' `(?P<pkg>…)` would be a duplicate name.
pub fn rg(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|r| format!("(?:{})\n", unname(&r.regex)))
        .collect()
}

/// `(?P<name>…)` → `(?:…)`.
fn unname(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut rest = re;
    while let Some(i) = rest.find("(?P<") {
        out.push_str(&rest[..i]);
        out.push_str("(?:");
        rest = &rest[i + 4..];
        rest = rest.find('>').map_or("", |j| &rest[j + 1..]);
    }
    out.push_str(rest);
    out
}

/// A pattern file for `grep -E -f`: POSIX ERE (GNU), translated from the
/// subset of Rust syntax [`Shape::regex`] writes.
pub fn ere(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|r| format!("{}\n", to_ere(&r.regex)))
        .collect()
}

/// An SEC configuration: a `SingleWithThreshold` per rule with the same
/// regex (Perl reads `(?P<name>…)`), the group-by captures in `desc`, which
/// is what SEC counts by. SEC's windows run on its own clock, not the log's.
pub fn sec(rules: &[Rule]) -> String {
    let mut out = String::from("# Generated by bench-gen for benches/e2e/run.sh.\n");
    for r in rules {
        let mut desc = r.id.clone();
        for f in &r.group_by {
            desc.push_str(&format!(" {f}=$+{{{f}}}"));
        }
        out.push_str(&format!(
            "\ntype=SingleWithThreshold\nptype=RegExp\npattern={}\ndesc={desc}\naction=none\nwindow={}\nthresh={}\n",
            r.regex, r.window_s, r.count
        ));
    }
    out
}

/// Translates the generator's own regexes to GNU ERE: groups lose their
/// names and `?:`, `\d` becomes `[0-9]`, and a leading `(?i)` becomes
/// letter pairs (`[bB]`) and widened classes, ERE having no inline flags.
/// `\b`, `\w`, `\.` and `\\` are GNU ERE as they stand.
fn to_ere(re: &str) -> String {
    let (ci, re) = match re.strip_prefix("(?i)") {
        Some(rest) => (true, rest),
        None => (false, re),
    };
    let mut out = String::new();
    let mut chars = re.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' if chars.peek() == Some(&'?') => {
                chars.next();
                match chars.next() {
                    Some(':') => {}
                    Some('P') => {
                        // (?P<name>
                        for n in chars.by_ref() {
                            if n == '>' {
                                break;
                            }
                        }
                    }
                    other => panic!("bench-gen: no ERE for (?{other:?} in {re}"),
                }
                out.push('(');
            }
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => panic!("bench-gen: trailing backslash in {re}"),
            },
            '[' => {
                let mut class = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    class.push(n);
                }
                if ci {
                    if class.contains("A-Z") && !class.contains("a-z") {
                        class.push_str("a-z");
                    }
                    if class.contains("a-z") && !class.contains("A-Z") {
                        class.push_str("A-Z");
                    }
                }
                out.push('[');
                out.push_str(&class);
                out.push(']');
            }
            c if ci && c.is_ascii_alphabetic() => {
                out.push('[');
                out.push(c.to_ascii_lowercase());
                out.push(c.to_ascii_uppercase());
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

fn pick<'a>(rng: &mut Rng, words: &[&'a str]) -> &'a str {
    words[rng.below(words.len() as u64) as usize]
}

/// A ConfigMgr package id: the site code and five digits (`PS100023`).
pub fn package(rng: &mut Rng) -> String {
    format!(
        "{}{:05}",
        ["PS1", "CS1", "SS2", "NY1"][rng.below(4) as usize],
        rng.below(100_000)
    )
}

/// A server name (`SRV042`, `PRI01`, `DP17`).
pub fn server(rng: &mut Rng) -> String {
    format!(
        "{}{:02}",
        ["SRV", "PRI", "DP", "SITESRV", "SQL"][rng.below(5) as usize],
        rng.below(100)
    )
}

#[cfg(test)]
mod tests {
    use super::{to_ere, unname};

    #[test]
    fn unnamed_groups() {
        assert_eq!(unname(r"a(?P<x>b|c)d(?P<yz>\d+)"), r"a(?:b|c)d(?:\d+)");
    }

    #[test]
    fn ere_translation() {
        assert_eq!(
            to_ere(r"(?P<n>\d+) files? in (?:a|b)\.box\b"),
            r"([0-9]+) files? in (a|b)\.box\b"
        );
        assert_eq!(to_ere(r"(?i)ab [A-Z]\d"), r"[aA][bB] [A-Za-z][0-9]");
    }
}
