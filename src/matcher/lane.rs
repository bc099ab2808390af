//! One lane: the line rules of one source that look at one text of the
//! record (the message, or the raw record for `raw = true`), compiled into at
//! most one Aho-Corasick automaton (the prefilter) and one regex set (a
//! multi-pattern regex per family of rules, gated by literals).
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
use std::sync::Arc;

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
        hir: Arc<Hir>,
        /// The regex's required literals, if it has any.
        required: Option<Required>,
        /// Every required-literal set found (`literal::candidates`).
        candidates: Vec<Required>,
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
    /// The regex families a text runs.
    pub families: &'s mut Vec<u32>,
}

/// The compiled rules of one (source, text) pair.
#[derive(Clone, Debug)]
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

#[derive(Clone, Debug)]
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

#[derive(Clone, Debug)]
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
#[derive(Clone, Debug)]
enum Leftmost {
    Teddy(aho_corasick::packed::Searcher),
    /// Two Teddy searchers, one for the literals shorter than
    /// [`TEDDY_LONG`] bytes and one for the others: Teddy fingerprints
    /// the first bytes of each literal, as many as its shortest literal
    /// has (at most four), so one two-byte literal among long ones turns
    /// every common letter pair into a candidate to verify.
    Split {
        long: aho_corasick::packed::Searcher,
        short: aho_corasick::packed::Searcher,
    },
    Automaton(AhoCorasick),
}

/// Literals at least this long get Teddy's longest fingerprint.
const TEDDY_LONG: usize = 4;

/// A leftmost-first Teddy searcher over `patterns`, if one can be built.
fn teddy<P: AsRef<[u8]>>(patterns: &[P]) -> Option<aho_corasick::packed::Searcher> {
    aho_corasick::packed::Config::new()
        .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
        .builder()
        .extend(patterns)
        .build()
}

impl Leftmost {
    fn build<P: AsRef<[u8]>>(
        patterns: &[P],
        kind: Option<AhoCorasickKind>,
    ) -> Result<Leftmost, LaneError> {
        if patterns.len() <= TEDDY_PATTERNS {
            let (short, long): (Vec<&[u8]>, Vec<&[u8]>) = patterns
                .iter()
                .map(AsRef::as_ref)
                .partition(|p| p.len() < TEDDY_LONG);
            if !short.is_empty()
                && !long.is_empty()
                && let (Some(long), Some(short)) = (teddy(&long), teddy(&short))
            {
                return Ok(Leftmost::Split { long, short });
            }
            if let Some(teddy) = teddy(patterns) {
                return Ok(Leftmost::Teddy(teddy));
            }
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
        self.find_from(haystack, 0)
    }

    /// Where the leftmost literal that starts at `from` or later starts.
    fn find_from(
        &self,
        haystack: &[u8],
        from: usize,
    ) -> Result<Option<usize>, aho_corasick::MatchError> {
        let span = |end: usize| aho_corasick::Span::from(from.min(end)..end);
        match self {
            Leftmost::Teddy(t) => Ok(t.find_in(haystack, span(haystack.len())).map(|m| m.start())),
            Leftmost::Split { long, short } => {
                // A short literal that starts after the long one's start
                // is not leftmost: search only up to it (and the few bytes
                // a short literal spans).
                let long = long
                    .find_in(haystack, span(haystack.len()))
                    .map(|m| m.start());
                let end = long.map_or(haystack.len(), |at| (at + TEDDY_LONG).min(haystack.len()));
                let short = short
                    .find_in(&haystack[..end], span(end))
                    .map(|m| m.start());
                Ok(match (long, short) {
                    (Some(l), Some(s)) => Some(l.min(s)),
                    (l, s) => l.or(s),
                })
            }
            Leftmost::Automaton(a) => Ok(a
                .try_find(AcInput::new(haystack).span(span(haystack.len())))?
                .map(|m| m.start())),
        }
    }

    /// Pushes onto `starts`, in increasing order, the start of each line of
    /// `haystack` (lines end at `\n`) in which one of the literals starts:
    /// a line left out holds none (a line pushed may not: a hit that starts
    /// in it may run past its end). One search runs over the whole
    /// haystack, resumed at the line after each hit.
    fn mark_lines(&self, haystack: &[u8], starts: &mut Vec<usize>) {
        let mut from = 0;
        while from < haystack.len() {
            let at = match self.find_from(haystack, from) {
                Ok(Some(at)) => at,
                Ok(None) => return,
                Err(_) => {
                    // Cannot happen (unanchored searches); stay correct.
                    starts.push(from);
                    starts.extend(
                        memchr::memchr_iter(b'\n', &haystack[from..])
                            .map(|nl| from + nl + 1)
                            .filter(|&s| s < haystack.len()),
                    );
                    return;
                }
            };
            // `from` is a line start: the hit's line starts after the last
            // line end before it.
            starts
                .push(memchr::memrchr(b'\n', &haystack[from..at]).map_or(from, |nl| from + nl + 1));
            from = memchr::memchr(b'\n', &haystack[at..]).map_or(haystack.len(), |nl| at + nl + 1);
        }
    }
}

impl Lane {
    /// Compiles `rules` with `strategy`. Each regex family takes the next
    /// scratch pattern-set slot: its size is pushed onto `set_sizes`.
    pub(crate) fn build(
        rules: &[LaneRule<'_>],
        strategy: Strategy,
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
                            hir: Arc::new(Hir::alternation(alts)),
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
                PlannedText::Regex {
                    hir,
                    required,
                    candidates,
                } => {
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
                            .chain(candidates)
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
                            hir: Arc::clone(hir),
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
            return Lane::build(rules, Strategy::Set, set_sizes);
        }
        let prefilter = if to_prefilter.is_empty() {
            None
        } else {
            Some(Prefilter::build(to_prefilter, case_insensitive)?)
        };
        let set_sizes_before = set_sizes.len();
        let set = match RegexSet::build(&to_set, set_sizes) {
            Ok(set) => set,
            Err(_) => {
                set_sizes.truncate(set_sizes_before);
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

    /// How many regex families the lane's set has, gated and not (tests
    /// check that a case exercises the split).
    #[cfg(test)]
    pub(crate) fn families(&self) -> (usize, usize) {
        self.set.as_ref().map_or((0, 0), |s| {
            (s.families.len() - s.ungated.len(), s.ungated.len())
        })
    }

    /// Whether every rule of the lane needs one of its literals in a text
    /// to match it: no empty literal, no rule run one by one, no regex
    /// without a gate literal. Only then can [`Lane::mark`] rule texts out.
    pub(crate) fn is_gated(&self) -> bool {
        self.always.is_empty()
            && self
                .set
                .as_ref()
                .is_none_or(|set| set.ungated.is_empty() && !matches!(set.gate, SetGate::None))
    }

    /// Pushes onto `starts` the start of each line of `haystack` (lines
    /// end at `\n`) that may hold a literal of the lane's prefilter or
    /// regex-set gate, each searcher's lines in increasing order; a line
    /// left out matches no rule of a [gated](Lane::is_gated) lane. Each
    /// literal searcher runs once over the whole haystack (`folded`:
    /// scratch space).
    pub(crate) fn mark_lines(
        &self,
        haystack: &[u8],
        folded: &mut Vec<u8>,
        starts: &mut Vec<usize>,
    ) {
        let fold = self.prefilter.as_ref().is_some_and(|p| p.folded)
            || self.set.as_ref().is_some_and(|s| s.gate_folded);
        let lowered: &[u8] = match fold {
            true => fold_bytes(haystack, folded),
            false => &[],
        };
        let text = |folded: bool| if folded { lowered } else { haystack };
        if let Some(pre) = &self.prefilter {
            pre.automata.first.mark_lines(text(pre.folded), starts);
        }
        if let Some(set) = &self.set {
            let gate = match &set.gate {
                SetGate::None => None,
                SetGate::One(gate) => Some(gate),
                SetGate::Many(automata) => Some(&automata.first),
            };
            if let Some(gate) = gate {
                gate.mark_lines(text(set.gate_folded), starts);
            }
        }
    }

    /// Pushes the candidate codes of `text` onto `scratch.cand`. Allocates
    /// nothing once the scratch buffers and the regex caches have grown to
    /// their working size.
    pub(crate) fn scan(&self, text: &str, scratch: &mut LaneScratch<'_>) {
        let LaneScratch {
            patsets,
            folded,
            cand,
            families,
        } = scratch;
        cand.extend_from_slice(&self.always);
        if let Some(pre) = &self.prefilter {
            pre.scan(text, folded, cand);
        }
        if let Some(set) = &self.set {
            set.scan(text, patsets, folded, families, cand);
        }
    }
}

/// One rule bound for a lane's regex set.
#[derive(Debug)]
struct SetEntry {
    /// Its code (confirm bit clear).
    code: u32,
    /// Its pattern.
    hir: Arc<Hir>,
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

/// The rules of a lane's regex set, split into families by the literals
/// that gate them.
#[derive(Clone, Debug)]
struct RegexSet {
    /// Which families a text runs.
    gate: SetGate,
    /// The gate's literals are lower case: search the lower-cased text.
    gate_folded: bool,
    /// One multi-pattern regex per family.
    families: Box<[Family]>,
    /// Families without a gate literal: run on every text.
    ungated: Box<[u32]>,
}

/// Rules of a regex set that share a gate: one multi-pattern regex
/// (`MatchKind::All`, no captures) over their patterns.
#[derive(Clone, Debug)]
struct Family {
    regex: meta::Regex,
    /// Per pattern: its code (confirm bit clear).
    targets: Box<[u32]>,
    /// Index of this family's [`PatternSet`] in the scratch space.
    slot: usize,
}

/// How a [`RegexSet`] decides which of its families a text runs.
#[derive(Clone, Debug)]
enum SetGate {
    /// No gate: every family runs.
    None,
    /// One gated family: a Teddy search for its literals decides (the
    /// set's own prefilter does the same but, built for overlapping
    /// semantics, cannot use Teddy: measured 100+ ns vs ~15 ns per line).
    One(Leftmost),
    /// Several: the literal automaton names the families whose literals the
    /// text holds (its leftmost search is Teddy, so a text without any
    /// costs one SIMD pass).
    Many(Automata),
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
    fold_bytes(text.as_bytes(), buf)
}

/// `bytes` ASCII-lower-cased into `buf`.
fn fold_bytes<'b>(bytes: &[u8], buf: &'b mut Vec<u8>) -> &'b [u8] {
    buf.resize(bytes.len(), 0);
    // Branch-free so that it vectorises (`extend(map(..))` and
    // `to_ascii_lowercase` per byte did not).
    for (low, &b) in buf.iter_mut().zip(bytes) {
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

/// How a regex set's entries split into families.
#[derive(Debug, Default)]
struct Plan {
    /// Entry indices of each gated family.
    families: Vec<Vec<usize>>,
    /// Entries without a usable gate (run on every text).
    ungated: Vec<usize>,
    /// (literal, family): a text holding the literal runs the family.
    literals: Vec<(Vec<u8>, u32)>,
    /// The literals are lower case, for lower-cased text.
    folded: bool,
}

/// A family being planned.
#[derive(Debug, Default)]
struct Group {
    /// Entry indices.
    members: Vec<usize>,
    /// Its gate literals.
    literals: Vec<Vec<u8>>,
    /// Part of the long tail: single rules (or merged ones).
    tail: bool,
}

/// Splits a set's entries into families by gate literals. Each entry's
/// preferred literal set is taken when they fit Teddy together, and the
/// entries form one family (a text with any of the literals runs all of
/// them). Otherwise each entry takes the selective set that most entries
/// share (then the one with the longest shortest literal, then the fewest
/// literals), so that rules written alike (`(Failed|Unable) to … job J0042`)
/// gate on their common prefix instead of a hundred distinct job numbers,
/// and entries that took the same set form a family: a text runs only the
/// families whose literals it holds. One set over 1,000 such rules builds
/// an automaton whose states never stop growing (most of the time went to
/// building them); a family's stays small. Entries without any required
/// literal form a family that runs on every text.
fn plan(entries: &[SetEntry]) -> Plan {
    let mut plan = Plan::default();
    let (gated, ungated): (Vec<usize>, Vec<usize>) =
        (0..entries.len()).partition(|&i| !entries[i].gates.is_empty());
    plan.ungated = ungated;
    if gated.is_empty() {
        return plan;
    }
    let union_len = |picks: &[&Gate]| {
        let folded = picks.iter().any(|g| g.folded);
        let mut lits: Vec<Vec<u8>> = picks
            .iter()
            .flat_map(|g| g.literals.iter())
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
        lits.len()
    };
    let mut picks: Vec<&Gate> = gated.iter().map(|&i| &entries[i].gates[0]).collect();
    let one_family = union_len(&picks) <= TEDDY_PATTERNS;
    if !one_family {
        let mut shared: HashMap<&Gate, usize> = HashMap::new();
        for &i in &gated {
            for g in &entries[i].gates {
                *shared.entry(g).or_default() += 1;
            }
        }
        picks = gated
            .iter()
            .map(|&i| {
                let e = &entries[i];
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
            })
            .collect();
    }
    // Families by picked set, in first-seen order.
    let mut groups: Vec<Group> = Vec::new();
    let mut family_of: HashMap<&Gate, usize> = HashMap::new();
    for (&i, &gate) in gated.iter().zip(&picks) {
        let f = match one_family {
            true => 0,
            false => *family_of.entry(gate).or_insert(groups.len()),
        };
        if f == groups.len() {
            groups.push(Group::default());
        }
        groups[f].members.push(i);
        groups[f].literals.extend(gate.literals.iter().cloned());
        plan.folded |= gate.folded;
    }
    for g in &mut groups {
        if plan.folded {
            g.literals.iter_mut().for_each(|l| l.make_ascii_lowercase());
        }
        g.literals.sort_unstable();
        g.literals.dedup();
        g.tail = g.members.len() == 1;
    }
    let distinct = |groups: &[Group]| {
        let mut all: Vec<&Vec<u8>> = groups.iter().flat_map(|g| &g.literals).collect();
        all.sort_unstable();
        all.dedup();
        all.len()
    };
    // Too many literals for Teddy: a literal's prefix is a gate literal too
    // (a text that contains `Failed to copy package ` contains `Failed to `),
    // so cut them shorter until they fit: first the long tail's (rules that
    // share their set with no other, like `…_17\b`, `…_342\b`) down to 2
    // bytes, then every family's down to 4. Families whose literals became
    // the same merge, so a text runs one automaton for them, not one per
    // rule.
    let mut count = distinct(&groups);
    let tails = [24, 16, 12, 10, 8, 6, 5, 4, 3, 2].map(|k| (k, true));
    let all = [24, 16, 12, 10, 8, 6, 5, 4].map(|k| (k, false));
    for (keep, tail_only) in tails.into_iter().chain(all) {
        if count <= TEDDY_PATTERNS {
            break;
        }
        for g in &mut groups {
            if g.tail || !tail_only {
                g.literals.iter_mut().for_each(|l| l.truncate(keep));
                g.literals.sort_unstable();
                g.literals.dedup();
            }
        }
        let mut merged: Vec<Group> = Vec::new();
        let mut by_literals: HashMap<Vec<Vec<u8>>, usize> = HashMap::new();
        for g in groups {
            match by_literals.get(&g.literals) {
                Some(&f) => {
                    merged[f].members.extend(g.members);
                    merged[f].tail &= g.tail;
                }
                None => {
                    by_literals.insert(g.literals.clone(), merged.len());
                    merged.push(g);
                }
            }
        }
        groups = merged;
        count = distinct(&groups);
    }
    for (f, g) in groups.into_iter().enumerate() {
        plan.families.push(g.members);
        plan.literals
            .extend(g.literals.into_iter().map(|l| (l, f as u32)));
    }
    plan.literals.sort_unstable();
    if count > TEDDY_PATTERNS {
        // No gate fits Teddy: one family, run on every text.
        plan.ungated = (0..entries.len()).collect();
        plan.families.clear();
        plan.literals.clear();
        plan.folded = false;
    }
    plan
}

impl RegexSet {
    /// Builds the set of `entries`; each family's pattern set takes the
    /// next scratch slot (its size pushed onto `set_sizes`).
    fn build(
        entries: &[SetEntry],
        set_sizes: &mut Vec<usize>,
    ) -> Result<Option<RegexSet>, LaneError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let plan = plan(entries);
        let mut families = Vec::with_capacity(plan.families.len() + 1);
        for members in plan.families.iter().chain(std::iter::once(&plan.ungated)) {
            if members.is_empty() {
                continue;
            }
            let config = meta::Config::new()
                .match_kind(MatchKind::All)
                .which_captures(WhichCaptures::None)
                .auto_prefilter(false)
                .nfa_size_limit(None)
                .hybrid_cache_capacity(
                    (members.len() * CACHE_PER_PATTERN).clamp(CACHE_MIN, CACHE_MAX),
                );
            let hirs: Vec<&Hir> = members.iter().map(|&i| &*entries[i].hir).collect();
            let regex = meta::Builder::new()
                .configure(config)
                .build_many_from_hir(&hirs)
                .map_err(|e| LaneError(format!("regex set: {e}")))?;
            families.push(Family {
                regex,
                targets: members.iter().map(|&i| entries[i].code).collect(),
                slot: set_sizes.len(),
            });
            set_sizes.push(members.len());
        }
        let gated = plan.families.len();
        let ungated = (gated..families.len()).map(|f| f as u32).collect();
        let gate = match gated {
            0 => SetGate::None,
            1 => {
                let mut lits: Vec<Vec<u8>> = plan.literals.into_iter().map(|(l, _)| l).collect();
                lits.dedup();
                Leftmost::build(&lits, Some(AhoCorasickKind::DFA))
                    .map_or(SetGate::None, SetGate::One)
            }
            _ => {
                let mut patterns: Vec<Vec<u8>> = Vec::new();
                let mut targets: Vec<Vec<u32>> = Vec::new();
                for (lit, f) in plan.literals {
                    if patterns.last() != Some(&lit) {
                        patterns.push(lit);
                        targets.push(Vec::new());
                    }
                    if let Some(t) = targets.last_mut() {
                        t.push(f);
                    }
                }
                Automata::build(&patterns, &targets).map_or(SetGate::None, SetGate::Many)
            }
        };
        // A gate that could not be built runs every family.
        let ungated = match gate {
            SetGate::None => (0..families.len() as u32).collect(),
            _ => ungated,
        };
        Ok(Some(RegexSet {
            gate,
            gate_folded: plan.folded,
            families: families.into_boxed_slice(),
            ungated,
        }))
    }

    fn scan(
        &self,
        text: &str,
        patsets: &mut [PatternSet],
        folded: &mut Vec<u8>,
        families: &mut Vec<u32>,
        cand: &mut Vec<u32>,
    ) {
        families.clear();
        // A failed search (cannot happen: unanchored) runs every family.
        match &self.gate {
            SetGate::None => {}
            SetGate::One(gate) => {
                if !matches!(gate.find(self.gate_text(text, folded)), Ok(None)) {
                    families.push(0);
                }
            }
            SetGate::Many(automata) => {
                if automata
                    .scan(self.gate_text(text, folded), families)
                    .is_err()
                {
                    families.extend(0..(self.families.len() - self.ungated.len()) as u32);
                }
                families.sort_unstable();
                families.dedup();
            }
        }
        families.extend_from_slice(&self.ungated);
        for &f in families.iter() {
            if let Some(family) = self.families.get(f as usize) {
                family.scan(text, patsets, cand);
            }
        }
    }
}

impl RegexSet {
    /// The text the gate searches: lower-cased into `folded` when its
    /// literals are.
    fn gate_text<'t>(&self, text: &'t str, folded: &'t mut Vec<u8>) -> &'t [u8] {
        if self.gate_folded {
            fold_into(text, folded)
        } else {
            text.as_bytes()
        }
    }
}

impl Family {
    fn scan(&self, text: &str, patsets: &mut [PatternSet], cand: &mut Vec<u32>) {
        let Some(patset) = patsets.get_mut(self.slot) else {
            // The scratch space always has a slot per family; if not, run
            // every rule's own regex rather than miss a match.
            cand.extend(self.targets.iter().map(|code| code | 1));
            return;
        };
        // The pattern set is left empty after each scan, so that a text
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

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Long and short literals in two Teddy searchers find the same
        /// leftmost start as a naive search (alphabet small, so that hits,
        /// overlaps and literals sharing a start are common).
        #[test]
        fn split_teddy_finds_the_leftmost_literal(
            long in proptest::collection::vec("[ab_ ]{4,9}", 1..20),
            short in proptest::collection::vec("[ab_ ]{1,3}", 1..12),
            haystack in "[ab_ c]{0,120}",
        ) {
            let patterns: Vec<&str> = long.iter().chain(&short).map(String::as_str).collect();
            let gate = Leftmost::build(&patterns, None).unwrap();
            let split = matches!(gate, Leftmost::Split { .. });
            let naive = patterns.iter().filter_map(|p| haystack.find(p)).min();
            proptest::prop_assert_eq!(gate.find(haystack.as_bytes()).unwrap(), naive);
            // Teddy needs SSSE3 or AVX2; on such a CPU the split is used.
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("ssse3") {
                proptest::prop_assert!(split);
            }
            let _ = split;
        }
    }

    proptest::proptest! {
        /// One search over lines laid end to end marks every line that
        /// holds a literal, overlapping hits and hits across two lines
        /// included (the alphabet is small so that they are common), and
        /// only starts of lines, in increasing order.
        #[test]
        fn marking_a_batch_misses_no_line_with_a_literal(
            literals in proptest::collection::vec("[ab_]{1,6}", 1..12),
            lines in proptest::collection::vec("[ab_ c]{0,12}", 0..40),
            last_ended in proptest::bool::ANY,
        ) {
            let gate = Leftmost::build(&literals, None).unwrap();
            let mut haystack = lines.join("\n");
            if last_ended && !lines.is_empty() {
                haystack.push('\n');
            }
            let mut starts = Vec::new();
            gate.mark_lines(haystack.as_bytes(), &mut starts);
            proptest::prop_assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
            let mut at = 0;
            for line in &lines {
                if literals.iter().any(|l| line.contains(l.as_str())) {
                    proptest::prop_assert!(starts.contains(&at), "{line:?} holds a literal of {literals:?}");
                }
                at += line.len() + 1;
            }
            for &s in &starts {
                proptest::prop_assert!(s == 0 || haystack.as_bytes()[s - 1] == b'\n', "{s} is no line start");
                proptest::prop_assert!(s < haystack.len().max(1), "{s} is past the end");
            }
        }
    }
}
