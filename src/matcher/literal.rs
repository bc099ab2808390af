//! Required literals of one regex: a small set of strings such that every
//! match of the regex contains one of them. The matcher feeds them to its
//! Aho-Corasick prefilter so that a regex runs only on lines that contain one.
//!
//! Owns the choice of *which* literals to use and whether they are selective
//! enough to be worth a prefilter. Does not build automata or search text.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};

/// At most this many distinct (case-folded) literals per regex; more makes
/// the prefilter slower than running the regex in the multi-pattern set.
const MAX_LITERALS: usize = 64;

/// Literals shorter than this match too many lines to filter anything.
const MIN_SELECTIVE_LEN: usize = 3;

/// Text that is on (nearly) every physical record of an SMS or CMTrace log:
/// the SMS trailer in both time forms and the CMTrace markup. A literal found
/// in it (digits normalised to `0`, ASCII case folded) filters nothing when a
/// rule looks at the raw record, however long it is (`<thread=`).
const UBIQUITOUS: &[&str] = &[
    "  $$<sms_component_name><00-00-0000 00:00:00.000+000><thread=0000 (0x0000)>",
    "   $$<sms_component_name><mon jan 00 00:00:00.000 0000 eastern standard time~><thread=0000 (0x0000)>",
    "<![log[]log]!><time=\"00:00:00.0000000+000\" date=\"0-00-0000\" component=\"sms_component_name\" context=\"\" type=\"0\" thread=\"0000\" file=\"file.cpp:000\">",
];

/// The literals chosen for one regex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Required {
    /// Every match of the regex contains one of these (never empty, no empty
    /// literal, deduplicated).
    pub literals: Vec<Vec<u8>>,
    /// True when the regex matches a text exactly when the text contains one
    /// of `literals` (case-sensitively): no confirmation needed.
    pub exact: bool,
    /// True when every literal is at least [`MIN_SELECTIVE_LEN`] bytes, not
    /// part of the SMS/CMTrace markup, and there are at most
    /// [`MAX_LITERALS`] of them after ASCII case folding.
    pub selective: bool,
    /// True when the literals were taken from the regex with its ASCII case
    /// pairs (`[Bb]`) folded to lower case: they hold only in ASCII
    /// lower-cased text.
    pub folded: bool,
}

impl Required {
    /// The literals ASCII-lower-cased and deduplicated: what an ASCII
    /// case-insensitive automaton needs (a superset of the exact matches).
    pub fn folded(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = self
            .literals
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The set as searched: when it needs folding, its literals
    /// lower-cased and deduplicated (a `(?i)` pattern's set holds every
    /// case variant of `s` and `k`, which have non-ASCII case forms too:
    /// hundreds of literals that fold to a few dozen).
    pub fn into_folded(self) -> Required {
        if !self.needs_folding() {
            return self;
        }
        Required {
            literals: self.folded(),
            folded: true,
            ..self
        }
    }

    /// True when the literals must be searched in ASCII-lower-cased text:
    /// they were folded, or folding merges some of them (the regex is at
    /// least partly case-insensitive).
    pub fn needs_folding(&self) -> bool {
        self.folded || self.folded().len() < self.literals.len()
    }
}

/// The best required-literal set of `hir`, or `None` when the regex has
/// none (it can match without any fixed text, e.g. `\d+`).
///
/// Candidates are the prefix literals of the whole regex, its suffix
/// literals, and the prefix literals of every tail of its top-level
/// concatenation ("inner" literals, as ripgrep does): every match of
/// `A B C` contains a match of `B C`, which starts with one of its prefixes.
#[cfg(test)]
pub(crate) fn required(hir: &Hir) -> Option<Required> {
    best(&candidates(hir)).cloned()
}

/// The best of a regex's [`candidates`] (what [`required`] returns).
pub(crate) fn best(candidates: &[Required]) -> Option<&Required> {
    best_of(candidates.iter())
}

/// The best of some literal sets, the first of equally good ones.
pub(crate) fn best_of<'r>(
    sets: impl DoubleEndedIterator<Item = &'r Required>,
) -> Option<&'r Required> {
    // `max_by_key` keeps the last of equals: search from the end.
    sets.rev().max_by_key(|r| Score::of(r))
}

/// Every required-literal set of `hir` (see [`required`]), in the order
/// tried: whole-regex prefixes, suffixes, then the tails' prefixes. The
/// regex-set gate picks among them the sets that most rules share.
pub(crate) fn candidates(hir: &Hir) -> Vec<Required> {
    // `(?i)backup` is a run of classes `[Bb][Aa]…` that the extractor would
    // expand into 2ⁿ case variants (then cut short at its limits, slowly).
    // Folded to lower-case literals first, it yields one literal, searched
    // in lower-cased text.
    let mut folded = false;
    let hir = &fold_case_pairs(hir, &mut folded);
    let mut out = Vec::new();
    let mut consider = |seq: Seq, whole: bool| {
        let exact_ok = whole && !folded && hir.properties().look_set().is_empty();
        if let Some(mut req) = from_seq(&seq, exact_ok) {
            req.folded = folded;
            out.push(req);
        }
    };
    let mut prefix = Extractor::new();
    prefix.kind(ExtractKind::Prefix);
    let mut suffix = Extractor::new();
    suffix.kind(ExtractKind::Suffix);
    consider(prefix.extract(hir), true);
    consider(suffix.extract(hir), false);
    if let HirKind::Concat(children) = peel(hir).kind() {
        for start in 1..children.len() {
            let tail = Hir::concat(children[start..].to_vec());
            consider(prefix.extract(&tail), false);
        }
    }
    out
}

/// `hir` with every class that is exactly an ASCII letter in both cases
/// (`[Bb]`, what `(?i)b` becomes) replaced by the lower-case letter; sets
/// `changed` when it replaced one. Classes with other members (`(?i)k` also
/// holds the Kelvin sign) stay classes.
fn fold_case_pairs(hir: &Hir, changed: &mut bool) -> Hir {
    let pair = |lo: u32, hi: u32, lo2: u32, hi2: u32| -> Option<u8> {
        let upper = u8::try_from(lo).ok()?;
        (lo == hi && lo2 == hi2 && upper.is_ascii_uppercase() && lo2 == lo + 32)
            .then_some(upper + 32)
    };
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => match c.ranges() {
            [a, b] => match pair(
                a.start().into(),
                a.end().into(),
                b.start().into(),
                b.end().into(),
            ) {
                Some(lower) => {
                    *changed = true;
                    Hir::literal([lower])
                }
                None => hir.clone(),
            },
            _ => hir.clone(),
        },
        HirKind::Class(Class::Bytes(c)) => match c.ranges() {
            [a, b] => match pair(
                a.start().into(),
                a.end().into(),
                b.start().into(),
                b.end().into(),
            ) {
                Some(lower) => {
                    *changed = true;
                    Hir::literal([lower])
                }
                None => hir.clone(),
            },
            _ => hir.clone(),
        },
        HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => hir.clone(),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(fold_case_pairs(&rep.sub, changed)),
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(fold_case_pairs(&cap.sub, changed)),
        }),
        HirKind::Concat(subs) => {
            Hir::concat(subs.iter().map(|h| fold_case_pairs(h, changed)).collect())
        }
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(|h| fold_case_pairs(h, changed)).collect())
        }
    }
}

/// Removes capture groups around the whole regex (`(?P<x>a.*b)` is `a.*b`).
fn peel(mut hir: &Hir) -> &Hir {
    while let HirKind::Capture(cap) = hir.kind() {
        hir = &cap.sub;
    }
    hir
}

/// A usable literal set from an extractor result: finite, non-empty, no
/// empty literal. `exact_ok` says the sequence describes the whole regex and
/// the regex has no look-around (which the extractor treats as empty text).
fn from_seq(seq: &Seq, exact_ok: bool) -> Option<Required> {
    let lits = seq.literals()?;
    if lits.is_empty() || lits.iter().any(|l| l.is_empty()) {
        return None;
    }
    let exact = exact_ok && lits.iter().all(|l| l.is_exact());
    let mut literals: Vec<Vec<u8>> = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
    literals.sort_unstable();
    literals.dedup();
    let mut req = Required {
        literals,
        exact,
        selective: false,
        folded: false,
    };
    let folded = req.folded();
    req.selective = folded.len() <= MAX_LITERALS
        && folded
            .iter()
            .all(|l| l.len() >= MIN_SELECTIVE_LEN && !is_ubiquitous(l));
    Some(req)
}

/// True when `folded` (already ASCII lower case) is part of the markup that
/// every SMS/CMTrace record carries, or is only spaces and punctuation.
pub(crate) fn is_ubiquitous(folded: &[u8]) -> bool {
    if folded.iter().all(|b| !b.is_ascii_alphanumeric()) {
        return true;
    }
    let norm: Vec<u8> = folded
        .iter()
        .map(|&b| if b.is_ascii_digit() { b'0' } else { b })
        .collect();
    // Short texts: compare where the first byte occurs (building a
    // searcher per call, or comparing every window, was a tenth of the
    // start-up time at 1,000 rules).
    let Some(&first) = norm.first() else {
        return true;
    };
    UBIQUITOUS.iter().any(|t| {
        let t = t.as_bytes();
        memchr::memchr_iter(first, t).any(|i| t[i..].starts_with(&norm))
    })
}

/// How good `literals` are as a prefilter (larger is better), as [`best`]
/// ranks sets: a set of rarer-looking, longer and fewer literals ranks
/// higher.
pub(crate) fn rank(literals: &[Vec<u8>], selective: bool) -> impl Ord + use<> {
    Score::of(&Required {
        literals: literals.to_vec(),
        exact: false,
        selective,
        folded: false,
    })
}

/// How good a literal set is as a prefilter; larger is better.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    /// Selective sets beat any other.
    selective: bool,
    /// Length of the shortest literal, capped: past 8 bytes a literal is rare
    /// enough and fewer literals matter more.
    min_len: usize,
    /// How rare the set's most common literal looks ([`rarity`], in coarse
    /// steps so that near-equals fall to the next terms): a code such as
    /// `0x80040002` beats template words such as ` failed for ` (measured on
    /// the e2e bench's log: 423 lines against 60,251).
    rarity: u32,
    /// Fewer literals (negated so that larger is better).
    fewer: isize,
    /// An exact set saves the confirming regex run.
    exact: bool,
}

impl Score {
    fn of(req: &Required) -> Score {
        let folded = req.folded();
        Score {
            selective: req.selective,
            min_len: folded.iter().map(Vec::len).min().unwrap_or(0).min(8),
            rarity: folded.iter().map(|l| rarity(l)).min().unwrap_or(0) / RARITY_STEP,
            fewer: -(folded.len() as isize),
            exact: req.exact,
        }
    }
}

/// Bytes of a literal weighed by [`rarity`]: about a word or a code.
const RARITY_WINDOW: usize = 8;

/// The steps in which [`Score`] compares rarities (a window of common
/// lower-case words scores about 200, one of digits and capitals 400+).
const RARITY_STEP: u32 = 100;

/// How rare `literal` likely is in log messages, larger meaning rarer: its
/// rarest run of [`RARITY_WINDOW`] bytes (all of it when shorter), each byte
/// counting as far as it is from the commonest ([`commonness`]). Words of a
/// message template recur on many lines; codes, names and numbers are what
/// tells one event from another.
fn rarity(literal: &[u8]) -> u32 {
    let width = literal.len().min(RARITY_WINDOW);
    literal
        .windows(width.max(1))
        .map(|w| w.iter().map(|&b| 255 - commonness(b)).sum::<u32>())
        .max()
        .unwrap_or(0)
}

/// How common a byte is in the messages of log lines, larger meaning more
/// common: spaces and lower-case words make up most of the text (letters
/// ranked as in English text, `e` first, `z` last), then upper-case
/// letters, digits and punctuation (names, times, counts, paths); the rest
/// is rare. Measured on the e2e bench's log, against each literal's first
/// bytes: the 10-rule pack's windows occur 73 k times instead of 720 k, the
/// 100-rule gate's 0.86 M instead of 3.1 M (a ranking with upper case
/// rarest, 189 k and 0.90 M: it picked `File`, `Wait`, word starts).
pub(crate) fn commonness(byte: u8) -> u32 {
    const LETTERS: &[u8; 26] = b"etaoinshrdlcumwfgypbvkjxqz";
    const RANKS: [u32; 26] = [
        245, 240, 238, 236, 234, 232, 230, 226, 226, 220, 220, 214, 212, 210, 205, 205, 202, 200,
        200, 195, 190, 185, 170, 165, 160, 160,
    ];
    match byte {
        b' ' => 255,
        b'a'..=b'z' => LETTERS
            .iter()
            .position(|&l| l == byte)
            .map_or(200, |k| RANKS[k]),
        b'A'..=b'Z' => 200,
        b'0'..=b'9' => 195,
        b'.' | b',' | b':' | b'-' | b'_' | b'/' | b'\\' | b'=' | b'(' | b')' => 190,
        b'\t' | b'\r' | b'"' | b'\'' | b'[' | b']' | b'<' | b'>' | b'{' | b'}' => 150,
        0x21..=0x7E => 100,
        _ => 60,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the chosen literals of `pattern` (as lossy strings), whether they
    /// are exact and selective.
    fn check(pattern: &str, literals: &[&str], exact: bool, selective: bool) {
        let hir = regex_syntax::parse(pattern).unwrap();
        let req = required(&hir).unwrap_or_else(|| panic!("{pattern}: no literals"));
        let got: Vec<String> = req
            .literals
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        assert_eq!(got, literals, "{pattern}");
        assert_eq!(req.exact, exact, "{pattern}: exact");
        assert_eq!(req.selective, selective, "{pattern}: selective");
    }

    #[test]
    fn plain_literal_is_exact_and_selective() {
        check(
            "Waiting for an available",
            &["Waiting for an available"],
            true,
            true,
        );
    }

    #[test]
    fn alternation_gives_both_branches() {
        check(
            "Failed to (connect|copy) .* error (?P<code>\\d+)",
            &["Failed to connect ", "Failed to copy "],
            false,
            true,
        );
    }

    #[test]
    fn inner_literal_after_a_class() {
        check("\\d+ files pending", &[" files pending"], false, true);
    }

    /// Of two sets alike in length and size, the one that looks rarer in
    /// logs: an error code, not the words of the message around it.
    #[test]
    fn codes_beat_template_words() {
        check(
            "(?:CreateFile|ReadFile) failed for (\\w+), (?:HRESULT|error) = 0x80040002",
            &[" = 0x80040002"],
            false,
            true,
        );
        check(
            "Failed to connect to (\\w+) for site Q003",
            &[" for site Q003"],
            false,
            true,
        );
    }

    #[test]
    fn anchors_make_a_literal_inexact() {
        check("^Err>", &["Err>"], false, true);
    }

    #[test]
    fn markup_literal_is_not_selective() {
        check("<thread=(?P<t>\\d+)", &["<thread="], false, false);
    }

    #[test]
    fn short_literal_is_not_selective() {
        check("ab\\d+", &["ab"], false, false);
    }

    #[test]
    fn case_insensitive_literal_folds_to_one() {
        let hir = regex_syntax::parse("(?i)error").unwrap();
        let req = required(&hir).unwrap();
        assert!(req.needs_folding());
        assert_eq!(req.folded(), vec![b"error".to_vec()]);
        assert!(req.selective);
    }

    #[test]
    fn case_insensitive_run_folds_before_extraction() {
        let hir = regex_syntax::parse("(?i)backup of site B0001 (completed|failed)").unwrap();
        let req = required(&hir).unwrap();
        assert!(req.folded && req.needs_folding() && !req.exact);
        // `k` and `s` keep their Kelvin and long-s variants as classes, so
        // the fewest literals start after the last `s`.
        assert_eq!(
            req.folded(),
            vec![
                b"ite b0001 completed".to_vec(),
                b"ite b0001 failed".to_vec()
            ]
        );
        // Letters with a non-ASCII fold keep every variant.
        let hir = regex_syntax::parse("(?i)kiss").unwrap();
        let req = required(&hir).unwrap();
        assert!(req.literals.contains(&"\u{212A}iss".as_bytes().to_vec()));
        assert!(req.literals.contains(&"kiſſ".as_bytes().to_vec()));
    }

    #[test]
    fn no_literal() {
        let hir = regex_syntax::parse("\\d+\\s*\\w+").unwrap();
        assert_eq!(required(&hir), None);
    }

    /// A `(?i)` pattern's sets hold every case variant of `s` and `k`
    /// (`ſ`, the Kelvin sign); folded, each is a few lower-case literals
    /// that every matching text, lower-cased, still contains.
    #[test]
    fn case_insensitive_sets_fold_small_and_stay_required() {
        let hir = regex_syntax::parse(
            "(?i)(?:cannot|failed to) (?:open|decompress) (?:package|instruction) PS1\\b",
        )
        .unwrap();
        let sets = candidates(&hir);
        assert!(sets.iter().any(|s| s.literals.len() > 64));
        for set in sets {
            let folded = set.clone().into_folded();
            assert!(folded.folded && folded.literals.len() <= set.literals.len());
            assert!(folded.literals.len() <= 64, "{:?}", folded.literals.len());
            for text in [
                "Cannot DECOMPRESS Package ps1",
                "failed to open instruction pſ1",
            ] {
                let lower = text.to_ascii_lowercase();
                assert!(
                    folded
                        .literals
                        .iter()
                        .any(|l| memchr::memmem::find(lower.as_bytes(), l).is_some()),
                    "{text:?} holds none of {:?}",
                    folded.literals
                );
            }
        }
    }
}
