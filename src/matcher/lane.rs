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
use super::literal::{self, Required};
use super::marker::{Mark, Marker};

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
pub(super) const TEDDY_PATTERNS: usize = 64;
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

impl PlannedText {
    /// A regex's plan: its best literal set and its other selective ones.
    pub(crate) fn regex(hir: Arc<Hir>) -> PlannedText {
        let mut candidates = literal::candidates(&hir);
        let required = literal::best(&candidates)
            .cloned()
            .map(Required::into_folded);
        // Only selective sets gate a regex family besides the best one,
        // kept apart: drop the others, and fold the rest. A `(?i)`
        // pattern's sets hold hundreds of case variants each (`s`, `k`
        // have non-ASCII case forms); measured at 1,000 rules, a quarter of
        // them such, the heap peak while building was 42 MB, 24 MB with
        // this.
        candidates.retain(|c| c.selective);
        let candidates = candidates.into_iter().map(Required::into_folded).collect();
        PlannedText::Regex {
            hir,
            required,
            candidates,
        }
    }
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
    /// The line markers of the prefilter's and the set gate's literals, by
    /// whether they search lower-cased text; `None` if one could not be
    /// built (then no line is left unmarked).
    markers: Option<Box<[(bool, Marker)]>>,
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

/// The literal set that finds each rule of a lane in the prefilter, by
/// index in `rules`, `None` for a rule that goes to the regex set (or whose
/// test is literals of its own): each regex's best set, unless another rule
/// of the lane finds its lines by one of the same literals and the regex
/// has a selective set no other rule uses, which it then takes (the best
/// such). Rules written from one template (`Failed to connect to site
/// server … for site Q003`, `… Q004`) share the template's text, which is
/// on every line of that message, and differ in the part that is rare: one
/// line holding the shared text made every such rule confirm its regex
/// (measured on the e2e bench's 10 rules: 61,004 of 2 M lines held the
/// shared text, 1,345 one of the distinct ones).
fn prefilter_sets<'r>(rules: &[LaneRule<'r>], strategy: Strategy) -> Vec<Option<&'r Required>> {
    let mut chosen: Vec<Option<&Required>> = rules
        .iter()
        .map(|rule| match rule.text {
            PlannedText::Regex { required, .. } => required.as_ref().filter(|r| match strategy {
                Strategy::Auto => r.selective,
                Strategy::Prefilter => true,
                Strategy::Set => false,
            }),
            PlannedText::Literals(_) => None,
        })
        .collect();
    // How many rules each literal (ASCII case folded, as a folded
    // prefilter searches it) finds, and how many rules have it in any of
    // their sets.
    let mut finds: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut held: HashMap<Vec<u8>, usize> = HashMap::new();
    let count = |literals: &mut dyn Iterator<Item = &[u8]>, map: &mut HashMap<Vec<u8>, usize>| {
        let mut seen: Vec<Vec<u8>> = literals.map(<[u8]>::to_ascii_lowercase).collect();
        seen.sort_unstable();
        seen.dedup();
        for lit in seen {
            *map.entry(lit).or_default() += 1;
        }
    };
    for (rule, set) in rules.iter().zip(&chosen) {
        match (rule.text, set) {
            (PlannedText::Regex { candidates, .. }, set) => {
                if let Some(set) = set {
                    count(&mut set.literals.iter().map(Vec::as_slice), &mut finds);
                }
                let all = set.iter().copied().chain(candidates);
                count(
                    &mut all.flat_map(|c| c.literals.iter().map(Vec::as_slice)),
                    &mut held,
                );
            }
            (PlannedText::Literals(lits), _) if strategy != Strategy::Set => {
                count(&mut lits.iter().map(|l| l.as_bytes()), &mut finds);
                count(&mut lits.iter().map(|l| l.as_bytes()), &mut held);
            }
            _ => {}
        }
    }
    let uses = |lit: &Vec<u8>, map: &HashMap<Vec<u8>, usize>| {
        map.get(&lit.to_ascii_lowercase()).copied().unwrap_or(0)
    };
    for (rule, set) in rules.iter().zip(chosen.iter_mut()) {
        let (Some(current), PlannedText::Regex { candidates, .. }) = (*set, rule.text) else {
            continue;
        };
        if current.literals.iter().all(|l| uses(l, &finds) <= 1) {
            continue;
        }
        let own = literal::best_of(
            candidates
                .iter()
                .filter(|c| c.selective && c.literals.iter().all(|l| uses(l, &held) <= 1)),
        );
        if let Some(own) = own {
            *set = Some(own);
        }
    }
    chosen
}

/// A leftmost-first Teddy searcher over `patterns`, if one can be built.
pub(super) fn teddy<P: AsRef<[u8]>>(patterns: &[P]) -> Option<aho_corasick::packed::Searcher> {
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
        let chosen = prefilter_sets(rules, strategy);
        for (rule, chosen) in rules.iter().zip(chosen) {
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
                    if let Some(req) = chosen {
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
        // The literals that mark lines (plain, folded): the prefilter's and
        // the regex-set gate's.
        let mut marks: [Vec<Mark>; 2] = Default::default();
        let prefilter = if to_prefilter.is_empty() {
            None
        } else {
            Some(Prefilter::build(
                to_prefilter,
                case_insensitive,
                &mut marks,
            )?)
        };
        let set_sizes_before = set_sizes.len();
        let set = match RegexSet::build(&to_set, set_sizes, &mut marks) {
            Ok(set) => set,
            Err(_) => {
                set_sizes.truncate(set_sizes_before);
                // Too large for one automaton (size limits): run each rule's
                // own regex. Slow but correct; each regex compiled alone.
                always.extend(to_set.iter().map(|e| e.code | 1));
                None
            }
        };
        let markers = [false, true]
            .into_iter()
            .filter(|&folded| !marks[usize::from(folded)].is_empty())
            .map(|folded| Marker::build(&marks[usize::from(folded)]).map(|m| (folded, m)))
            .collect::<Option<Box<[_]>>>();
        Ok(Lane {
            always: always.into_boxed_slice(),
            prefilter,
            set,
            markers,
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
    /// without a gate literal, markers built. Only then can
    /// [`Lane::mark_lines`] rule texts out.
    pub(crate) fn is_gated(&self) -> bool {
        self.markers.is_some()
            && self.always.is_empty()
            && self
                .set
                .as_ref()
                .is_none_or(|set| set.ungated.is_empty() && !matches!(set.gate, SetGate::None))
    }

    /// Picks the windows of the lane's line markers by `sample`, text like
    /// the text they will mark ([`Marker::tuned`]); `folded` is scratch
    /// space for the sample lower-cased.
    pub(crate) fn tune_markers(&mut self, sample: &[u8], folded: &mut Vec<u8>) {
        let Some(markers) = &mut self.markers else {
            return;
        };
        for (lowered, marker) in markers.iter_mut() {
            let text = if *lowered {
                fold_bytes(sample, folded)
            } else {
                sample
            };
            *marker = marker.tuned(text);
        }
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
        let Some(markers) = &self.markers else {
            return;
        };
        let lowered: &[u8] = match markers.iter().any(|(folded, _)| *folded) {
            true => fold_bytes(haystack, folded),
            false => &[],
        };
        for (folded, marker) in markers.iter() {
            marker.mark_lines(if *folded { lowered } else { haystack }, starts);
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
    /// The prefilter of `entries` (code, literals, confirm); its literals
    /// are also pushed onto `marks[folded]`.
    fn build(
        entries: Vec<(u32, Vec<Vec<u8>>, bool)>,
        folded: bool,
        marks: &mut [Vec<Mark>; 2],
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
        marks[usize::from(folded)].extend(patterns.iter().map(|literal| Mark {
            literal: literal.clone(),
            also: None,
        }));
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
    /// Per family, the literals a line its gate marks must also hold
    /// ([`Mark::also`]), if that test is worth making.
    also: Vec<Option<Vec<Vec<u8>>>>,
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
    let mut shared: HashMap<&Gate, usize> = HashMap::new();
    for &i in &gated {
        for g in &entries[i].gates {
            *shared.entry(g).or_default() += 1;
        }
    }
    if !one_family {
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
        plan.also
            .push(own_literals(entries, &g, &shared, plan.folded));
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
        plan.also.clear();
        plan.folded = false;
    }
    plan
}

/// The second test of the lines a family's gate marks ([`Mark::also`]):
/// the family's members' own literals, each member's least shared literal
/// set (of equals, the best by [`literal::rank`]), lower-cased if `folded`.
/// A line that holds no such literal matches no member, as every set is
/// required. `None` when the test would pass every line the gate marks (a
/// literal of it is in a gate literal: `_9` in a family gated by `_9`), or
/// cannot be made on the text the gate's marker searches (a member's
/// literals hold only in lower-cased text and the gate's do not).
///
/// # Performance
/// The e2e bench's 100 rules are six templates (`Failed to connect to site
/// server … for site Q042, …`): the literals gating a family are its
/// template's text, on 31,530 of the first 204 k lines, of which 1,439
/// hold a member's own literal.
fn own_literals(
    entries: &[SetEntry],
    family: &Group,
    shared: &HashMap<&Gate, usize>,
    folded: bool,
) -> Option<Vec<Vec<u8>>> {
    let mut also = Vec::new();
    for &i in &family.members {
        let own = entries[i].gates.iter().min_by_key(|g| {
            (
                shared.get(g).copied().unwrap_or(0),
                !g.selective,
                std::cmp::Reverse(literal::rank(&g.literals, g.selective)),
            )
        })?;
        if own.folded && !folded {
            // Its literals hold only in lower-cased text, and the gate's
            // marker searches the text as it is.
            return None;
        }
        also.extend(own.literals.iter().map(|l| match folded {
            true => l.to_ascii_lowercase(),
            false => l.clone(),
        }));
    }
    also.sort_unstable();
    also.dedup();
    let in_gate = |lit: &Vec<u8>| {
        family
            .literals
            .iter()
            .any(|g| memchr::memmem::find(g, lit).is_some())
    };
    (!also.iter().any(in_gate)).then_some(also)
}

impl RegexSet {
    /// Builds the set of `entries`; each family's pattern set takes the
    /// next scratch slot (its size pushed onto `set_sizes`). The gate's
    /// literals are pushed onto `marks[folded]`.
    fn build(
        entries: &[SetEntry],
        set_sizes: &mut Vec<usize>,
        marks: &mut [Vec<Mark>; 2],
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
        if gated > 0 {
            marks[usize::from(plan.folded)].extend(plan.literals.iter().map(|(l, f)| Mark {
                literal: l.clone(),
                also: plan.also.get(*f as usize).cloned().flatten(),
            }));
        }
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

    /// The literals each rule's lines are found by (`None`: regex set).
    fn chosen(patterns: &[&str]) -> Vec<Option<Vec<String>>> {
        let plans: Vec<PlannedText> = patterns
            .iter()
            .map(|p| PlannedText::regex(Arc::new(regex_syntax::parse(p).unwrap())))
            .collect();
        let rules: Vec<LaneRule<'_>> = (0..)
            .zip(&plans)
            .map(|(dense, text)| LaneRule { dense, text })
            .collect();
        prefilter_sets(&rules, Strategy::Auto)
            .into_iter()
            .map(|set| {
                set.map(|s| {
                    s.literals
                        .iter()
                        .map(|l| String::from_utf8_lossy(l).into_owned())
                        .collect()
                })
            })
            .collect()
    }

    /// Rules written from one template are found by the text that tells
    /// them apart, not by the template's text that every line of the
    /// message holds; a rule alone, or one without a set of its own,
    /// keeps its best set.
    #[test]
    fn template_rules_are_found_by_their_own_literals() {
        // The shared text, a code, looks rarer than the words that differ.
        let sending = |to: &str| format!(r"0x80004005 in (\w+) when sending to {to}");
        let lits = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            chosen(&[
                &sending("primary"),
                &sending("secondary"),
                "Waiting for an available (thread|slot)"
            ]),
            [
                lits(&[" when sending to primary"]),
                lits(&[" when sending to secondary"]),
                lits(&[
                    "Waiting for an available slot",
                    "Waiting for an available thread"
                ]),
            ]
        );
        assert_eq!(chosen(&[&sending("primary")]), [lits(&["0x80004005 in "])]);
        let twice = "Waiting for an available (thread|slot)";
        let both = lits(&[
            "Waiting for an available slot",
            "Waiting for an available thread",
        ]);
        assert_eq!(chosen(&[twice, twice]), [both.clone(), both]);
    }
}
