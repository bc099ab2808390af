//! One lane: the line rules of one source that look at one text of the
//! record (the message, or the raw record for `raw = true`), compiled into at
//! most one Aho-Corasick automaton and one multi-pattern regex.
//!
//! A scan of a lane pushes *candidate codes* (`rule << 1 | confirm`): the
//! rule's dense index in the matcher and whether its text test still has to
//! be confirmed on this text (a prefilter hit) or is already known to hold
//! (an exact literal or a multi-pattern regex match). Filters,
//! `not_contains` and confirmation are the caller's job.
//!
//! Owns the split between prefilter and regex set; does not know about
//! records, filters or rule ids.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input as AcInput, MatchKind as AcMatchKind};
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::{Input, MatchKind, PatternSet};
use regex_syntax::hir::Hir;

use super::Strategy;
use super::literal::Required;

/// The lazy DFA of a regex set keeps this much per pattern, so that a large
/// set does not thrash its cache and fall back to the (50× slower) PikeVM.
const CACHE_PER_PATTERN: usize = 64 * 1024;
/// Lower and upper bounds of a set's lazy DFA cache (per thread).
const CACHE_MIN: usize = 2 * 1024 * 1024;
const CACHE_MAX: usize = 128 * 1024 * 1024;
/// Teddy, the SIMD searcher that makes a literal scan several times faster
/// than an automaton walk, takes at most this many literals. Splitting more
/// literals into several Teddy searchers was measured and lost to one regex
/// set (2 shards at 100 rules: 2.8 vs 4.2 M lines/s; 17 shards at 1,000
/// rules: 7× slower), as Teddy's fingerprints get crowded and every shard is
/// a full pass.
const TEDDY_PATTERNS: usize = 64;
/// Above this many pattern bytes the prefilter uses the compact NFA instead
/// of the faster but larger DFA.
const AC_DFA_MAX_BYTES: usize = 64 * 1024;

/// A rule's text test as the lane builder sees it.
#[derive(Debug)]
pub(crate) enum PlannedText {
    /// `contains` / `contains_any`: any of the literals.
    Literals(Vec<String>),
    /// `regex`.
    Regex {
        /// The pattern as parsed by the `regex` crate's default syntax.
        hir: Hir,
        /// The regex's required literals, if it has any.
        required: Option<Required>,
    },
}

/// One rule handed to [`Lane::build`].
#[derive(Debug)]
pub(crate) struct LaneRule<'a> {
    /// The rule's dense index in the matcher.
    pub dense: u32,
    /// Its text test.
    pub text: &'a PlannedText,
}

/// Errors building a lane's automata.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LaneError(String);

/// The per-thread buffers a lane scan works in.
#[derive(Debug)]
pub(crate) struct LaneScratch<'s> {
    /// One pattern set per regex set, by slot.
    pub patsets: &'s mut [PatternSet],
    /// The text ASCII-lower-cased, for a folded prefilter.
    pub folded: &'s mut Vec<u8>,
    /// Candidate codes.
    pub cand: &'s mut Vec<u32>,
}

/// The compiled rules of one (source, text) pair.
#[derive(Debug)]
pub(crate) struct Lane {
    /// Codes pushed for every text: rules whose test holds for any text
    /// (an empty literal) or that must be run one by one (their regex set
    /// could not be built).
    always: Box<[u32]>,
    /// The prefilter over the lane's literals, if it has any.
    prefilter: Option<Prefilter>,
    /// The multi-pattern regex over the rules without a useful literal.
    set: Option<RegexSet>,
}

#[derive(Debug)]
struct Prefilter {
    /// The automata over the literals.
    automata: Automata,
    /// True when some literal is case-insensitive: the automata hold
    /// lower-cased literals and search a lower-cased copy of the text. (An
    /// ASCII case-insensitive automaton would do the same without the copy,
    /// but it cannot use Teddy.)
    folded: bool,
    /// Every code the prefilter can push, with the confirm bit set: used if
    /// a search ever fails, so that a failure costs speed and never a match.
    fallback: Box<[u32]>,
}

#[derive(Debug)]
struct Automata {
    /// Finds the leftmost literal hit, if any. Leftmost-first search can use
    /// the SIMD Teddy searcher; the overlapping search that reports *every*
    /// literal cannot, so a line without any hit (the common case) costs
    /// only this search.
    first: Leftmost,
    /// Reports every literal hit from the leftmost one on (overlapping).
    all: AhoCorasick,
    /// Per automaton pattern: the codes it makes candidates.
    targets: Box<[Box<[u32]>]>,
}

/// A leftmost-first literal search: Teddy (SIMD) where it can be built (at
/// most [`TEDDY_PATTERNS`] literals, a CPU with SSSE3 or AVX2), else an
/// Aho-Corasick automaton. Built directly rather than left to the
/// automaton's own prefilter choice: that picks a memchr over the literals'
/// first bytes when there are few distinct ones, assuming them rare in text,
/// and log lines often are full of them (measured at 10 rules whose
/// literals all start with `J`, in lines where `for job J…` is common: 1,270
/// instructions per line in the automaton, 390 with Teddy).
#[derive(Debug)]
enum Leftmost {
    Teddy(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl Leftmost {
    fn build<P: AsRef<[u8]>>(
        patterns: &[P],
        kind: Option<AhoCorasickKind>,
    ) -> Result<Leftmost, LaneError> {
        if patterns.len() <= TEDDY_PATTERNS
            && let Some(teddy) = aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .builder()
                .extend(patterns)
                .build()
        {
            return Ok(Leftmost::Teddy(teddy));
        }
        AhoCorasick::builder()
            .match_kind(AcMatchKind::LeftmostFirst)
            .kind(kind)
            .build(patterns)
            .map(Leftmost::Automaton)
            .map_err(|e| LaneError(format!("literal prefilter: {e}")))
    }

    /// Where the leftmost literal starts, if any.
    fn find(&self, haystack: &[u8]) -> Result<Option<usize>, aho_corasick::MatchError> {
        match self {
            Leftmost::Teddy(t) => Ok(t.find(haystack).map(|m| m.start())),
            Leftmost::Automaton(a) => Ok(a.try_find(haystack)?.map(|m| m.start())),
        }
    }
}

impl Lane {
    /// Compiles `rules` with `strategy`. `slot` is the scratch index this
    /// lane's regex set will use; it is incremented when the lane has one.
    pub(crate) fn build(
        rules: &[LaneRule<'_>],
        strategy: Strategy,
        slot: &mut usize,
        set_sizes: &mut Vec<usize>,
    ) -> Result<Lane, LaneError> {
        let mut always = Vec::new();
        // (code without confirm bit, literals, needs confirm even when exact)
        let mut to_prefilter: Vec<(u32, Vec<Vec<u8>>, bool)> = Vec::new();
        let mut to_set: Vec<SetEntry> = Vec::new();
        let mut case_insensitive = false;
        for rule in rules {
            let code = rule.dense << 1;
            match rule.text {
                PlannedText::Literals(lits) => {
                    if lits.iter().any(String::is_empty) {
                        always.push(code);
                    } else if strategy == Strategy::Set {
                        let alts = lits.iter().map(|l| Hir::literal(l.as_bytes())).collect();
                        let lits = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
                        to_set.push(SetEntry {
                            code,
                            hir: Hir::alternation(alts),
                            gates: vec![Gate {
                                literals: lits,
                                folded: false,
                                selective: true,
                            }],
                        });
                    } else if !lits.is_empty() {
                        let bytes = lits.iter().map(|l| l.as_bytes().to_vec()).collect();
                        to_prefilter.push((code, bytes, false));
                    }
                }
                PlannedText::Regex { hir, required } => {
                    let usable = required.as_ref().filter(|r| match strategy {
                        Strategy::Auto => r.selective,
                        Strategy::Prefilter => true,
                        Strategy::Set => false,
                    });
                    if let Some(req) = usable {
                        case_insensitive |= req.needs_folding();
                        to_prefilter.push((code, req.literals.clone(), !req.exact));
                    } else {
                        // The chosen set first, then every other one.
                        let mut gates: Vec<Gate> = required
                            .iter()
                            .chain(&super::literal::candidates(hir))
                            .map(|r| Gate {
                                selective: r.selective,
                                folded: r.needs_folding(),
                                literals: if r.needs_folding() {
                                    r.folded()
                                } else {
                                    r.literals.clone()
                                },
                            })
                            .collect();
                        let mut seen = std::collections::HashSet::new();
                        gates.retain(|g| seen.insert(g.clone()));
                        to_set.push(SetEntry {
                            code,
                            hir: hir.clone(),
                            gates,
                        });
                    }
                }
            }
        }
        let literal_count: usize = to_prefilter.iter().map(|(_, lits, _)| lits.len()).sum();
        if strategy == Strategy::Auto && literal_count > TEDDY_PATTERNS {
            // Too many literals for Teddy: the prefilter would be an
            // automaton walk over every byte, no faster than the regex set's
            // lazy DFA, and each hit would still need its own regex run.
            // Measured: at 100 rules one set does 4.2 M lines/s against 2.8
            // for the prefilter; at 1,000 as fast on misses, 2× on hits.
            return Lane::build(rules, Strategy::Set, slot, set_sizes);
        }
        let prefilter = if to_prefilter.is_empty() {
            None
        } else {
            Some(Prefilter::build(to_prefilter, case_insensitive)?)
        };
        let set = match RegexSet::build(&to_set, *slot) {
            Ok(Some(set)) => {
                *slot += 1;
                set_sizes.push(set.targets.len());
                Some(set)
            }
            Ok(None) => None,
            Err(_) => {
                // Too large for one automaton (size limits): run each rule's
                // own regex. Slow but correct; each regex compiled alone.
                always.extend(to_set.iter().map(|e| e.code | 1));
                None
            }
        };
        Ok(Lane {
            always: always.into_boxed_slice(),
            prefilter,
            set,
        })
    }

    /// Pushes the candidate codes of `text` onto `scratch.cand`. Allocates
    /// nothing once the scratch buffers and the regex caches have grown to
    /// their working size.
    pub(crate) fn scan(&self, text: &str, scratch: &mut LaneScratch<'_>) {
        let LaneScratch {
            patsets,
            folded,
            cand,
        } = scratch;
        cand.extend_from_slice(&self.always);
        if let Some(pre) = &self.prefilter {
            pre.scan(text, folded, cand);
        }
        if let Some(set) = &self.set {
            set.scan(text, patsets, folded, cand);
        }
    }
}

/// One rule bound for a lane's regex set.
#[derive(Debug)]
struct SetEntry {
    /// Its code (confirm bit clear).
    code: u32,
    /// Its pattern.
    hir: Hir,
    /// Literal sets such that every match contains one literal of each set,
    /// the preferred one first; empty when none is known.
    gates: Vec<Gate>,
}

/// A literal set every match of a pattern contains.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Gate {
    literals: Vec<Vec<u8>>,
    /// The literals are ASCII lower case and hold only in ASCII-lower-cased
    /// text (a case-insensitive pattern).
    folded: bool,
    /// Long enough and not markup (see `literal::Required::selective`).
    selective: bool,
}

#[derive(Debug)]
struct RegexSet {
    /// When every pattern has required literals, however unselective: a
    /// Teddy search for them, so that a line without any skips the set. The
    /// set's own prefilter does the same but, built for overlapping
    /// semantics, cannot use Teddy (measured 100+ ns vs ~15 ns per line).
    gate: Option<Leftmost>,
    /// The gate's literals are lower case: search the lower-cased text.
    gate_folded: bool,
    /// All patterns, `MatchKind::All`, no captures.
    regex: meta::Regex,
    /// Per set pattern: its code (confirm bit clear).
    targets: Box<[u32]>,
    /// Index of this set's [`PatternSet`] in the scratch space.
    slot: usize,
}

impl Prefilter {
    fn build(
        entries: Vec<(u32, Vec<Vec<u8>>, bool)>,
        folded: bool,
    ) -> Result<Prefilter, LaneError> {
        let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut targets: Vec<Vec<u32>> = Vec::new();
        let mut fallback = Vec::with_capacity(entries.len());
        for (code, literals, confirm) in entries {
            // Folded literals in folded text find a superset of the exact
            // hits (Unicode-only variants such as `ſ` stay literals of their
            // own), so every hit is then confirmed.
            let code = code | u32::from(confirm || folded);
            fallback.push(code | 1);
            for lit in literals {
                let lit = if folded {
                    lit.to_ascii_lowercase()
                } else {
                    lit
                };
                let at = *index.entry(lit).or_insert_with_key(|lit| {
                    patterns.push(lit.clone());
                    targets.push(Vec::new());
                    patterns.len() - 1
                });
                if targets[at].last() != Some(&code) {
                    targets[at].push(code);
                }
            }
        }
        Ok(Prefilter {
            automata: Automata::build(&patterns, &targets)?,
            folded,
            fallback: fallback.into_boxed_slice(),
        })
    }

    fn scan(&self, text: &str, folded: &mut Vec<u8>, cand: &mut Vec<u32>) {
        let haystack = if self.folded {
            fold_into(text, folded)
        } else {
            text.as_bytes()
        };
        if self.automata.scan(haystack, cand).is_err() {
            // Cannot happen with these automata (unanchored, Standard for
            // overlapping); stay correct anyway.
            cand.extend_from_slice(&self.fallback);
        }
    }
}

/// `text` ASCII-lower-cased into `buf`.
fn fold_into<'b>(text: &str, buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.resize(text.len(), 0);
    // Branch-free so that it vectorises (`extend(map(..))` and
    // `to_ascii_lowercase` per byte did not).
    for (low, &b) in buf.iter_mut().zip(text.as_bytes()) {
        *low = b | (u8::from(b.wrapping_sub(b'A') < 26) << 5);
    }
    &buf[..]
}

impl Automata {
    fn build(patterns: &[Vec<u8>], targets: &[Vec<u32>]) -> Result<Automata, LaneError> {
        let bytes: usize = patterns.iter().map(Vec::len).sum();
        let kind = (bytes <= AC_DFA_MAX_BYTES).then_some(AhoCorasickKind::DFA);
        Ok(Automata {
            first: Leftmost::build(patterns, kind)?,
            all: AhoCorasick::builder()
                .match_kind(AcMatchKind::Standard)
                .kind(kind)
                .build(patterns)
                .map_err(|e| LaneError(format!("literal prefilter: {e}")))?,
            targets: targets
                .iter()
                .map(|t| t.clone().into_boxed_slice())
                .collect(),
        })
    }

    fn scan(&self, haystack: &[u8], cand: &mut Vec<u32>) -> Result<(), aho_corasick::MatchError> {
        let Some(first) = self.first.find(haystack)? else {
            return Ok(());
        };
        // No literal starts before the leftmost hit: the overlapping pass
        // can begin there.
        let rest = AcInput::new(haystack).span(first..haystack.len());
        for hit in self.all.try_find_overlapping_iter(rest)? {
            if let Some(codes) = self.targets.get(hit.pattern().as_usize()) {
                cand.extend_from_slice(codes);
            }
        }
        Ok(())
    }
}

/// The literals of a set's gate: one literal set per entry, such that every
/// match of any entry contains one of them; empty when some entry has none.
/// Each entry's preferred set is taken when they fit Teddy together;
/// otherwise each entry takes the selective set that most entries share
/// (then the one with the longest shortest literal, then the fewest
/// literals), so that rules written alike (`(Failed|Unable) to …
/// job J0042`) gate on their common prefix instead of a hundred distinct
/// job numbers. Measured on the end-to-end corpus at 100 such rules: the
/// set's pass ran on every line without a gate, on 3.6% with one.
fn gate_literals(entries: &[SetEntry]) -> (Vec<Vec<u8>>, bool) {
    if entries.iter().any(|e| e.gates.is_empty()) {
        return (Vec::new(), false);
    }
    // Folded sets hold only in lower-cased text: if one is chosen, every
    // literal is lower-cased and the gate searches lower-cased text (a
    // superset of the exact hits, which the set then decides).
    let union = |pick: &dyn Fn(&SetEntry) -> &Gate| {
        let folded = entries.iter().any(|e| pick(e).folded);
        let mut lits: Vec<Vec<u8>> = entries
            .iter()
            .flat_map(|e| pick(e).literals.iter())
            .map(|l| {
                if folded {
                    l.to_ascii_lowercase()
                } else {
                    l.clone()
                }
            })
            .collect();
        lits.sort_unstable();
        lits.dedup();
        (lits, folded)
    };
    let preferred = union(&|e| &e.gates[0]);
    if preferred.0.len() <= TEDDY_PATTERNS {
        return preferred;
    }
    let mut shared: HashMap<&Gate, usize> = HashMap::new();
    for e in entries {
        for g in &e.gates {
            *shared.entry(g).or_default() += 1;
        }
    }
    let (mut lits, folded) = union(&|e| {
        e.gates
            .iter()
            .filter(|g| g.selective)
            .max_by_key(|g| {
                let shortest = g.literals.iter().map(Vec::len).min().unwrap_or(0);
                (
                    shared[g],
                    shortest.min(16),
                    std::cmp::Reverse(g.literals.len()),
                )
            })
            .unwrap_or(&e.gates[0])
    });
    // Still too many: a literal's prefix is a gate literal too (a text that
    // contains `Failed to copy package ` contains `Failed to `), so cut them
    // shorter until they fit, but not below 4 bytes.
    for keep in [24, 16, 12, 10, 8, 6, 5, 4] {
        if lits.len() <= TEDDY_PATTERNS {
            break;
        }
        for l in &mut lits {
            l.truncate(keep);
        }
        lits.sort_unstable();
        lits.dedup();
    }
    (lits, folded)
}

impl RegexSet {
    fn build(entries: &[SetEntry], slot: usize) -> Result<Option<RegexSet>, LaneError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let config = meta::Config::new()
            .match_kind(MatchKind::All)
            .which_captures(WhichCaptures::None)
            .nfa_size_limit(None)
            .hybrid_cache_capacity((entries.len() * CACHE_PER_PATTERN).clamp(CACHE_MIN, CACHE_MAX));
        let hirs: Vec<&Hir> = entries.iter().map(|e| &e.hir).collect();
        let regex = meta::Builder::new()
            .configure(config)
            .build_many_from_hir(&hirs)
            .map_err(|e| LaneError(format!("regex set: {e}")))?;
        let (gate_literals, gate_folded) = gate_literals(entries);
        let gate = if gate_literals.is_empty() || gate_literals.len() > TEDDY_PATTERNS {
            None
        } else {
            Leftmost::build(&gate_literals, Some(AhoCorasickKind::DFA)).ok()
        };
        Ok(Some(RegexSet {
            gate,
            gate_folded,
            regex,
            targets: entries.iter().map(|e| e.code).collect(),
            slot,
        }))
    }

    fn scan(
        &self,
        text: &str,
        patsets: &mut [PatternSet],
        folded: &mut Vec<u8>,
        cand: &mut Vec<u32>,
    ) {
        let Some(patset) = patsets.get_mut(self.slot) else {
            // The scratch space always has a slot per set; if not, run
            // every rule's own regex rather than miss a match.
            cand.extend(self.targets.iter().map(|code| code | 1));
            return;
        };
        if let Some(gate) = &self.gate {
            // A failed search (cannot happen: unanchored) falls through to
            // the set.
            let haystack = if self.gate_folded {
                fold_into(text, folded)
            } else {
                text.as_bytes()
            };
            if matches!(gate.find(haystack), Ok(None)) {
                return;
            }
        }
        // The pattern set is left empty after each scan, so that a line
        // without a match touches neither its memory nor its iterator.
        self.regex
            .which_overlapping_matches(&Input::new(text), patset);
        if patset.is_empty() {
            return;
        }
        // The iterator walks every slot of the set; stop at the last match
        // (measured: the walk was 15 % of a 1,000-rule set at 50 % hits).
        let mut left = patset.len();
        for pid in patset.iter() {
            if let Some(code) = self.targets.get(pid.as_usize()) {
                cand.push(*code);
            }
            left -= 1;
            if left == 0 {
                break;
            }
        }
        patset.clear();
    }
}
