//! Line marking: which lines of a block of text hold one of a set of
//! literals, found by one SIMD pass over the block (replay leaves the other
//! lines unparsed, see [`super::Matcher::candidate_lines`]).
//!
//! Teddy, the SIMD literal searcher, fingerprints the *first* bytes of each
//! literal, and a literal of a log rule often starts with a common word
//! (` for job J0042`, ` failed for `): every ` for` in the text is then a
//! candidate to verify, which was most of the pass (measured below). A
//! [`Marker`] fingerprints each literal at a rare window instead and
//! checks the whole literal around a window hit itself. Rare by a
//! byte-frequency heuristic for log text (`J000` before ` for`), or, once
//! [`Marker::tuned`] to a sample of the text to come (replay samples the
//! start of each source's first log), by what a model of Teddy says each
//! choice of windows would cost on the sample ([`PASS_COST`],
//! [`CANDIDATE_COST`], [`HIT_COST`]): how often the windows occur there,
//! how many positions their fingerprints let through, whether short
//! literals get a pass of their own.
//!
//! A literal may carry a second test ([`Mark::also`]): its line is marked
//! only if it also holds one of some other literals. A regex family gated by
//! the text its rules share (`Failed to connect to site server`) is marked
//! only on lines that also hold one member's own literal (` for site
//! Q042, `), which there are too many of to search the whole text for.
//!
//! Owns the window choice and the hit verification; knows nothing of rules.

use std::collections::HashMap;
use std::sync::Arc;

use aho_corasick::packed::Searcher;
use aho_corasick::{AhoCorasick, Input, MatchKind as AcMatchKind};

use super::lane::{TEDDY_PATTERNS, teddy};
use super::literal;

/// Teddy's longest fingerprint: longer windows gain nothing.
const WINDOW: usize = 4;

/// The cost of one Teddy pass, per byte searched, by window length (index
/// 1 to [`WINDOW`]), in picoseconds as measured on the e2e bench's log (a
/// searcher for one window that is never there: 2 bytes 0.14 ns per byte,
/// 4 bytes 0.18).
const PASS_COST: [u64; WINDOW + 1] = [0, 140, 140, 180, 180];

/// The cost of one Teddy candidate (a position whose bytes' nibbles match
/// the fingerprints of a bucket of windows, verified against each window
/// of the bucket), in picoseconds: 17 ns, measured as [`PASS_COST`] with
/// window sets that let 0.1 to 1.6 M candidates through per 30 MB.
const CANDIDATE_COST: u64 = 17_000;

/// The cost of one window hit (its literal checked, the line found and
/// tested, [`Mark::also`]), in picoseconds: about as much as searching 600
/// bytes.
const HIT_COST: u64 = 100_000;

/// What each window is deemed to cost per byte searched (picoseconds) when
/// a cover of the literals is sought ([`cover`]): the covers these give are
/// the plans tuning compares by [`Tally::cost`]. More windows let more
/// candidates through, how many more depends on their bytes.
const PATTERN_COSTS: [u64; 6] = [0, 4, 8, 16, 32, 64];

/// A literal that marks the lines holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    /// The literal.
    pub literal: Vec<u8>,
    /// If given, a line holding `literal` is marked only if it also holds
    /// one of these (an empty list marks no line).
    pub also: Option<Vec<Vec<u8>>>,
}

/// Finds the lines of a text that hold one of some literals.
#[derive(Clone, Debug)]
pub(crate) struct Marker {
    /// The literals (none empty, sorted, deduplicated).
    literals: Box<[Box<[u8]>]>,
    /// Per literal, the second test of its lines, if it has one.
    also: Box<[Option<Arc<Also>>]>,
    search: Search,
}

/// The second test of a marked line: whether it holds one of some literals.
#[derive(Debug)]
struct Also(AhoCorasick);

impl Also {
    /// The test, or `None` (no test) when it cannot be built.
    fn build(literals: &[Vec<u8>]) -> Option<Also> {
        AhoCorasick::builder()
            .match_kind(AcMatchKind::Standard)
            .build(literals)
            .ok()
            .map(Also)
    }

    /// Whether `line` holds one of the literals (`true` if the search
    /// fails: a failure may cost speed, never a line).
    fn holds(&self, line: &[u8]) -> bool {
        !matches!(self.0.try_find(Input::new(line)), Ok(None))
    }
}

#[derive(Clone, Debug)]
enum Search {
    /// Teddy over a window of each literal, in one or more searchers of
    /// one window length each (a short literal is its own window, and one
    /// short window shortens every fingerprint of its searcher).
    Windows(Box<[Windows]>),
    /// More literals than Teddy takes (or no Teddy on this CPU): an
    /// Aho-Corasick automaton over the literals themselves.
    Automaton(AhoCorasick),
}

/// One Teddy searcher over windows of the same length.
#[derive(Clone, Debug)]
struct Windows {
    teddy: Searcher,
    /// Per Teddy pattern (a window): each literal it was taken from.
    owners: Box<[Box<[Owner]>]>,
}

/// A literal and where its window is in it.
#[derive(Clone, Debug)]
struct Owner {
    offset: usize,
    literal: Box<[u8]>,
    /// The literal's second test ([`Mark::also`]).
    also: Option<Arc<Also>>,
}

impl Marker {
    /// A marker for `marks` (empty literals are left out), or `None` when
    /// there are none or an automaton cannot be built. Each literal is
    /// fingerprinted at the window whose bytes are the least common in log
    /// text; [`Marker::tuned`] picks by a sample of the text instead.
    ///
    /// A literal given more than once marks a line that passes any of its
    /// tests: it has none if one of them is `None`, else one test for all
    /// their literals.
    pub(crate) fn build(marks: &[Mark]) -> Option<Marker> {
        let mut marks: Vec<&Mark> = marks.iter().filter(|m| !m.literal.is_empty()).collect();
        marks.sort_unstable_by(|a, b| a.literal.cmp(&b.literal));
        let mut literals: Vec<Box<[u8]>> = Vec::new();
        let mut alsos: Vec<Option<Vec<Vec<u8>>>> = Vec::new();
        for mark in marks {
            if literals.last().is_some_and(|l| **l == *mark.literal) {
                if let Some(also) = alsos.last_mut() {
                    *also = match (also.take(), &mark.also) {
                        (Some(mut all), Some(more)) => {
                            all.extend(more.iter().cloned());
                            Some(all)
                        }
                        _ => None,
                    };
                }
            } else {
                literals.push(Box::from(mark.literal.as_slice()));
                alsos.push(mark.also.clone());
            }
        }
        if literals.is_empty() {
            return None;
        }
        // Equal tests are built once (a regex family's literals share one).
        let mut built: HashMap<Vec<Vec<u8>>, Option<Arc<Also>>> = HashMap::new();
        let also: Box<[Option<Arc<Also>>]> = alsos
            .into_iter()
            .map(|also| {
                let mut also = also?;
                also.sort_unstable();
                also.dedup();
                built
                    .entry(also)
                    .or_insert_with_key(|lits| Also::build(lits).map(Arc::new))
                    .clone()
            })
            .collect();
        let literals = literals.into_boxed_slice();
        let search = Search::build(&literals, &also, None)?;
        Some(Marker {
            literals,
            also,
            search,
        })
    }

    /// The same marker with its windows picked for `sample`, text like the
    /// text it will mark (the start of a log about to be replayed): the
    /// literals in one searcher or one per window length, and their
    /// windows a [`cover`] of them for one of some pattern costs
    /// ([`PATTERN_COSTS`]), whichever of these plans [`Tally::cost`] says
    /// costs least on the sample. Which lines are marked does not change,
    /// only how fast.
    ///
    /// # Performance
    /// The e2e bench's 10 rules hold `_5`, `_8`, `_9`: by letter ranking
    /// the other literals' 2-byte windows were `00` and `0x` (on most
    /// lines), so they took a 4-byte pass of their own; by the sample,
    /// windows such as `J0`, and one 2-byte pass does (0.16 → 0.13 s). Its
    /// 100 rules' 4-byte pass looked for 28 windows, one per literal; 6
    /// cover them (least CPU 0.66 → 0.57 s, `benches/e2e/ab.sh 9`).
    pub(crate) fn tuned(&self, sample: &[u8]) -> Marker {
        if self.literals.len() > TEDDY_PATTERNS {
            // An automaton: no windows.
            return self.clone();
        }
        let tally = Tally::new(sample, &self.literals);
        match Search::build(&self.literals, &self.also, Some(&tally)) {
            Some(search) => Marker {
                search,
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// Pushes onto `starts` the start of each line of `haystack` (lines end
    /// at `\n`) in which one of the literals starts and passes its second
    /// test, if it has one; each searcher's lines in increasing order
    /// (several searchers' lines are not merged): a line left out holds
    /// no literal, or fails the tests of those it holds.
    pub(crate) fn mark_lines(&self, haystack: &[u8], starts: &mut Vec<usize>) {
        match &self.search {
            Search::Windows(groups) => {
                for group in groups {
                    group.mark_lines(haystack, starts);
                }
            }
            Search::Automaton(ac) => self.mark_by_automaton(ac, haystack, starts),
        }
    }

    fn mark_by_automaton(&self, ac: &AhoCorasick, haystack: &[u8], starts: &mut Vec<usize>) {
        // As in `Windows::mark_lines`. Every hit is reported (overlapping):
        // one that fails its test must not hide another that starts at the
        // same byte.
        let (mut line, mut from) = (0, 0);
        let mut failed = Failed::default();
        'search: while from < haystack.len() {
            let input = Input::new(haystack).span(from..haystack.len());
            let Ok(hits) = ac.try_find_overlapping_iter(input) else {
                // Cannot happen (unanchored, standard): stay correct, mark
                // the rest line by line.
                while from < haystack.len() {
                    from = mark_line(haystack, from, from, None, starts, &mut failed)
                        .unwrap_or(from + 1);
                }
                return;
            };
            for hit in hits {
                if hit.start() < line {
                    continue;
                }
                let also = self
                    .also
                    .get(hit.pattern().as_usize())
                    .and_then(Option::as_deref);
                if let Some(next) =
                    mark_line(haystack, line, hit.start(), also, starts, &mut failed)
                {
                    (line, from) = (next, next);
                    continue 'search;
                }
            }
            return;
        }
    }
}

impl Search {
    /// Teddy searchers over windows of `literals` (picked by `tally` when
    /// given; the literals' tests are `also`), else an automaton; `None` if
    /// that cannot be built either.
    fn build(
        literals: &[Box<[u8]>],
        also: &[Option<Arc<Also>>],
        tally: Option<&Tally<'_>>,
    ) -> Option<Search> {
        if literals.len() <= TEDDY_PATTERNS {
            let all: Vec<usize> = (0..literals.len()).collect();
            let (short, long): (Vec<usize>, Vec<usize>) =
                all.iter().partition(|&&i| literals[i].len() < WINDOW);
            let split: Vec<Vec<usize>> = [short, long]
                .into_iter()
                .filter(|group| !group.is_empty())
                .collect();
            let plan: Option<Vec<Windowed<'_>>> = match tally {
                None => split
                    .iter()
                    .map(|g| windows_of(literals, g, None))
                    .collect(),
                // A searcher per window length (a short literal shortens
                // every fingerprint of its searcher) or one for all, each
                // literal's window by a cover of some pattern cost: the
                // plan the sample says is cheapest.
                Some(tally) => {
                    let mut groupings = vec![split];
                    if groupings[0].len() > 1 {
                        groupings.push(vec![all]);
                    }
                    groupings
                        .iter()
                        .flat_map(|groups| {
                            PATTERN_COSTS.iter().filter_map(move |&pattern| {
                                groups
                                    .iter()
                                    .map(|g| windows_of(literals, g, Some((tally, pattern))))
                                    .collect::<Option<Vec<_>>>()
                            })
                        })
                        .min_by_key(|plan| plan.iter().map(|w| tally.cost(w)).sum::<u64>())
                }
            };
            let groups: Option<Vec<Windows>> = plan.and_then(|plan| {
                plan.into_iter()
                    .map(|windows| Windows::build(literals, also, windows))
                    .collect()
            });
            if let Some(groups) = groups {
                return Some(Search::Windows(groups.into_boxed_slice()));
            }
        }
        Search::automaton(literals)
    }

    /// An automaton reporting every hit of `literals` (pattern `i` is
    /// `literals[i]`).
    fn automaton<P: AsRef<[u8]>>(literals: &[P]) -> Option<Search> {
        AhoCorasick::builder()
            .match_kind(AcMatchKind::Standard)
            .build(literals)
            .ok()
            .map(Search::Automaton)
    }
}

impl Windows {
    /// Teddy over `windows` of `literals` ([`windows_of`]), if it can be
    /// built; `also` holds each literal's test.
    fn build(
        literals: &[Box<[u8]>],
        also: &[Option<Arc<Also>>],
        windows: Windowed<'_>,
    ) -> Option<Windows> {
        let patterns: Vec<&[u8]> = windows.iter().map(|(w, _)| *w).collect();
        let owner = |(offset, i): (usize, usize)| Owner {
            offset,
            literal: literals[i].clone(),
            also: also.get(i).cloned().flatten(),
        };
        Some(Windows {
            teddy: teddy(&patterns)?,
            owners: windows
                .into_iter()
                .map(|(_, owners)| owners.into_iter().map(owner).collect())
                .collect(),
        })
    }

    fn mark_lines(&self, haystack: &[u8], starts: &mut Vec<usize>) {
        // `line`: the start of the line the search is in (all before it is
        // marked or holds no literal); `from`: where the search resumes.
        let (mut line, mut from) = (0, 0);
        let mut failed = Failed::default();
        while from < haystack.len() {
            let Some(hit) = self
                .teddy
                .find_in(haystack, aho_corasick::Span::from(from..haystack.len()))
            else {
                return;
            };
            let at = hit.start();
            // A literal the window belongs to that is there and passes its
            // test marks the line. One that starts before `line` runs
            // across a line end: no line holds it.
            let next = self.owners[hit.pattern().as_usize()]
                .iter()
                .filter(|owner| owner.offset <= at && at - owner.offset >= line)
                .filter(|owner| haystack[at - owner.offset..].starts_with(&owner.literal))
                .find_map(|owner| {
                    mark_line(
                        haystack,
                        line,
                        at - owner.offset,
                        owner.also.as_deref(),
                        starts,
                        &mut failed,
                    )
                });
            match next {
                Some(next) => (line, from) = (next, next),
                None => from = at + 1,
            }
        }
    }
}

/// The last line a hit's second test failed on (its start and end) and
/// the tests it failed: however many hits a line holds (a long line may
/// hold a family's gate many times), it is found once and each test made
/// on it once.
#[derive(Default)]
struct Failed<'m> {
    start: usize,
    end: usize,
    tests: Vec<&'m Also>,
}

/// Pushes the start of the line that holds `at` (searching back no further
/// than `line`, a line start) if the line passes `also`, and then returns
/// where the next line starts.
fn mark_line<'m>(
    haystack: &[u8],
    line: usize,
    at: usize,
    also: Option<&'m Also>,
    starts: &mut Vec<usize>,
    failed: &mut Failed<'m>,
) -> Option<usize> {
    let known = failed.start <= at && at < failed.end;
    let (start, end) = if known {
        (failed.start, failed.end)
    } else {
        let start = memchr::memrchr(b'\n', &haystack[line..at]).map_or(line, |nl| line + nl + 1);
        let end = memchr::memchr(b'\n', &haystack[at..]).map_or(haystack.len(), |nl| at + nl);
        (start, end)
    };
    if let Some(also) = also {
        if known && failed.tests.iter().any(|t| std::ptr::eq(*t, also)) {
            return None;
        }
        if !also.holds(&haystack[start..end]) {
            if !known {
                (failed.start, failed.end) = (start, end);
                failed.tests.clear();
            }
            failed.tests.push(also);
            return None;
        }
    }
    starts.push(start);
    Some((end + 1).min(haystack.len()))
}

/// The windows one searcher looks for, distinct, each with the literals
/// it was taken from (the window's offset in the literal, the literal's
/// index).
type Windowed<'l> = Vec<(&'l [u8], Vec<(usize, usize)>)>;

/// The windows one searcher over the literals `group` picks from
/// `literals` looks for: the shortest literal's length (at most
/// [`WINDOW`]), each literal's least common one, or with `tuning` a
/// [`cover`] of the literals by a sample and a pattern cost. `None` for no
/// literals.
fn windows_of<'l>(
    literals: &'l [Box<[u8]>],
    group: &[usize],
    tuning: Option<(&Tally<'_>, u64)>,
) -> Option<Windowed<'l>> {
    let width = group.iter().map(|&i| literals[i].len()).min()?.min(WINDOW);
    let offsets: Vec<usize> = match tuning {
        Some((tally, pattern)) => cover(literals, group, width, tally, pattern),
        None => group
            .iter()
            .map(|&i| least_common_window(&literals[i], width))
            .collect(),
    };
    let mut windows: Windowed<'l> = Vec::new();
    for (&i, at) in group.iter().zip(offsets) {
        let window = &literals[i][at..at + width];
        let owner = (at, i);
        match windows.iter_mut().find(|(w, _)| *w == window) {
            Some((_, owners)) => owners.push(owner),
            None => windows.push((window, vec![owner])),
        }
    }
    Some(windows)
}

/// The offset of `literal`'s window of `width` bytes whose bytes are the
/// least common in log text (the first of equals).
fn least_common_window(literal: &[u8], width: usize) -> usize {
    (0..=literal.len() - width)
        .min_by_key(|&at| window_commonness(&literal[at..at + width]))
        .unwrap_or(0)
}

/// How common a window's bytes are in log text ([`literal::commonness`]).
fn window_commonness(window: &[u8]) -> u32 {
    window.iter().map(|&b| literal::commonness(b)).sum()
}

/// Windows of `width` bytes such that each literal of `group` holds one,
/// picked for the least cost by `tally`: a window costs [`HIT_COST`] per
/// occurrence in the sample and `pattern` (picoseconds) per byte of it,
/// shared by the literals it covers. Greedy, as set covers are: the window
/// of least cost per literal it adds, then the least common bytes. Returns
/// the offset of each literal's window, in `group`'s order.
///
/// # Performance
/// The e2e bench's 100-rule gate holds 30 literals such as `failed to copy
/// f` and `unable to send p`: a window each, by its own count in the
/// sample, made 28 Teddy patterns, which let 451 k candidates through per
/// 30 MB of its log (18 ms); covered, 6 patterns (`fail`, `unab`, …) and
/// 37 k (5 ms).
fn cover(
    literals: &[Box<[u8]>],
    group: &[usize],
    width: usize,
    tally: &Tally<'_>,
    pattern: u64,
) -> Vec<usize> {
    // Each window of the literals, with the literals (by position in
    // `group`) that hold it.
    let mut holders: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (k, &i) in group.iter().enumerate() {
        for window in literals[i].windows(width) {
            let held = holders.entry(window).or_default();
            if held.last() != Some(&k) {
                held.push(k);
            }
        }
    }
    let pattern = tally.sample.len() as u64 * pattern;
    let mut chosen: Vec<Option<&[u8]>> = vec![None; group.len()];
    loop {
        let best = holders
            .iter()
            .filter_map(|(&window, held)| {
                let adds = held.iter().filter(|&&k| chosen[k].is_none()).count() as u64;
                let cost = u64::from(tally.count(window)) * HIT_COST + pattern;
                (adds > 0).then(|| {
                    (
                        cost.saturating_mul(64) / adds,
                        window_commonness(window),
                        window,
                    )
                })
            })
            .min();
        let Some((_, _, window)) = best else { break };
        for &k in &holders[window] {
            chosen[k].get_or_insert(window);
        }
    }
    group
        .iter()
        .zip(chosen)
        .map(|(&i, window)| {
            let lit = &literals[i];
            window
                .and_then(|w| lit.windows(width).position(|x| x == w))
                .unwrap_or(0)
        })
        .collect()
}

/// A sample of text, and how often the windows of some literals (each run
/// of 1 to [`WINDOW`] of their bytes) occur in it.
struct Tally<'s> {
    sample: &'s [u8],
    /// Occurrences by window ([`Tally::key`]).
    counts: HashMap<u64, u32>,
}

impl Tally<'_> {
    fn new<'s>(sample: &'s [u8], literals: &[Box<[u8]>]) -> Tally<'s> {
        let mut counts = HashMap::new();
        // The first two bytes of the windows (one for a 1-byte window):
        // only sample positions that start like one are looked up.
        let mut starts = vec![false; 1 << 16];
        let mut singles = [false; 256];
        for lit in literals {
            for width in 1..=lit.len().min(WINDOW) {
                for window in lit.windows(width) {
                    counts.insert(Tally::key(window), 0);
                    match window {
                        [b] => singles[usize::from(*b)] = true,
                        [a, b, ..] => starts[usize::from(*a) << 8 | usize::from(*b)] = true,
                        [] => {}
                    }
                }
            }
        }
        for at in 0..sample.len() {
            let rest = &sample[at..sample.len().min(at + WINDOW)];
            if singles[usize::from(rest[0])] {
                counts.entry(Tally::key(&rest[..1])).and_modify(|n| *n += 1);
            }
            if let [a, b, ..] = rest
                && starts[usize::from(*a) << 8 | usize::from(*b)]
            {
                for width in 2..=rest.len() {
                    counts
                        .entry(Tally::key(&rest[..width]))
                        .and_modify(|n| *n += 1);
                }
            }
        }
        Tally { sample, counts }
    }

    /// A window (at most [`WINDOW`] bytes) as a map key: its bytes and its
    /// length.
    fn key(window: &[u8]) -> u64 {
        let mut bytes = [0u8; WINDOW];
        bytes[..window.len()].copy_from_slice(window);
        u64::from(u32::from_le_bytes(bytes)) | (window.len() as u64) << 32
    }

    /// Occurrences of `window` in the sample (0 for a window of no literal).
    fn count(&self, window: &[u8]) -> u32 {
        self.counts.get(&Tally::key(window)).copied().unwrap_or(0)
    }

    /// What marking text like the sample would cost with one Teddy
    /// searcher over `windows`: a pass ([`PASS_COST`] per byte), its
    /// candidates ([`CANDIDATE_COST`], [`Tally::candidates`]) and its hits
    /// ([`HIT_COST`]).
    fn cost(&self, windows: &Windowed<'_>) -> u64 {
        let patterns: Vec<&[u8]> = windows.iter().map(|(w, _)| *w).collect();
        let width = patterns.iter().map(|w| w.len()).min().unwrap_or(0);
        let hits: u64 = patterns.iter().map(|w| u64::from(self.count(w))).sum();
        self.sample.len() as u64 * PASS_COST[width.min(WINDOW)]
            + self.candidates(&patterns) * CANDIDATE_COST
            + hits * HIT_COST
    }

    /// How many candidates a Teddy searcher over `patterns` (windows of
    /// one length, at most [`WINDOW`]) would verify in the sample: per
    /// position, the buckets of patterns whose fingerprints its bytes
    /// match. Teddy (aho-corasick 1.1) puts patterns in 8 buckets (16 above
    /// 32 patterns), patterns whose bytes' low nibbles are equal in one;
    /// a bucket's fingerprint of each byte is the set of low nibbles and
    /// the set of high nibbles its patterns hold there, and a position
    /// matches it when every byte's nibbles are in both. A model: should
    /// Teddy change, tuning picks slower windows, never wrong lines.
    fn candidates(&self, patterns: &[&[u8]]) -> u64 {
        let width = patterns.iter().map(|w| w.len()).min().unwrap_or(0);
        if width == 0 || self.sample.len() < width {
            return 0;
        }
        let buckets = if patterns.len() > 32 { 16 } else { 8 };
        let mut bucket_of: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut low = [[0u16; 16]; WINDOW];
        let mut high = [[0u16; 16]; WINDOW];
        for (id, pattern) in patterns.iter().enumerate() {
            let nibbles: Vec<u8> = pattern[..width].iter().map(|b| b & 0xF).collect();
            let bucket = *bucket_of
                .entry(nibbles)
                .or_insert(buckets - 1 - id % buckets);
            for (j, &b) in pattern[..width].iter().enumerate() {
                low[j][usize::from(b & 0xF)] |= 1 << bucket;
                high[j][usize::from(b >> 4)] |= 1 << bucket;
            }
        }
        self.sample
            .windows(width)
            .map(|bytes| {
                let mut hit = u16::MAX;
                for (j, &b) in bytes.iter().enumerate() {
                    hit &= low[j][usize::from(b & 0xF)] & high[j][usize::from(b >> 4)];
                }
                u64::from(hit.count_ones())
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_prefer_codes_and_rare_letters_to_common_words() {
        let window = |lit: &str, width: usize| {
            let at = least_common_window(lit.as_bytes(), width);
            lit[at..at + width].to_string()
        };
        assert_eq!(window(" for job J0042", 4), "0042");
        assert_eq!(window(" failed for ", 4), "fail");
        assert_eq!(window("Waiting for an available thread", 4), "labl");
        assert_eq!(window("_5", 2), "_5");
        assert_eq!(window("abc", 3), "abc");
    }

    /// The windows searched for, per searcher.
    fn plan(marker: &Marker) -> Vec<Vec<String>> {
        let Search::Windows(groups) = &marker.search else {
            return Vec::new();
        };
        groups
            .iter()
            .map(|g| {
                let owners = || g.owners.iter().flat_map(|owners| owners.iter());
                let width = owners()
                    .map(|o| o.literal.len())
                    .min()
                    .unwrap_or(0)
                    .min(WINDOW);
                let mut windows: Vec<String> = owners()
                    .map(|o| String::from_utf8_lossy(&o.literal[o.offset..o.offset + width]).into())
                    .collect();
                windows.sort();
                windows.dedup();
                windows
            })
            .collect()
    }

    fn marker(literals: &[&str]) -> Marker {
        let marks: Vec<Mark> = literals
            .iter()
            .map(|l| Mark {
                literal: l.as_bytes().to_vec(),
                also: None,
            })
            .collect();
        Marker::build(&marks).unwrap()
    }

    /// Tuned to a sample of SMS lines, a marker fingerprints each literal
    /// at a window the sample does not hold (not `00` or `0x`, on every
    /// line), and with such rare 2-byte windows one pass over the text
    /// replaces a 4-byte and a 2-byte one.
    #[test]
    fn tuned_windows_are_rare_in_the_sample_and_share_one_pass() {
        let m = marker(&[" for job J0000", " = 0x80040002", "_5"]);
        assert_eq!(plan(&m), [vec!["_5"], vec!["0000", "0x80"]]);
        let sample: String = (0..400)
            .map(|i| {
                format!(
                    "Copied package CS{i:06} for job J{:04} to \\\\SRV{i}  \
                     $$<SMS_DISTRIBUTION_MANAGER><11-28-2026 00:00:{:02}.082+300><thread={i} (0x{i:X})>\n",
                    1000 + i,
                    i % 60
                )
            })
            .collect();
        let tuned = m.tuned(sample.as_bytes());
        let plan = plan(&tuned);
        assert_eq!(plan.len(), 1, "{plan:?}");
        for window in &plan[0] {
            assert!(
                !sample.contains(window.as_str()),
                "{window:?} is in the sample"
            );
        }
    }

    /// When the short literal's length makes every other window common in
    /// the sample, the literals keep a searcher per window length.
    #[test]
    fn tuning_keeps_two_passes_when_short_windows_hit_often() {
        let m = marker(&["xqzj", "_5"]);
        let sample = "xqa qzb zjc ".repeat(500);
        assert_eq!(
            plan(&m.tuned(sample.as_bytes())),
            [vec!["_5"], vec!["xqzj"]]
        );
    }

    /// Literals written from one template (`Failed to copy package`,
    /// `Unable to send file`, … cut to 16 bytes) share windows. By letter
    /// ranking alone they are found by `Fail`, `Unab`, `Cann`, which a log
    /// may be full of; tuned to it, by a few others (`copy`, `move`, …),
    /// not a window per literal, and Teddy lets far fewer positions
    /// through to verify.
    #[test]
    fn tuned_windows_cover_template_literals_with_few_patterns() {
        let mut literals = Vec::new();
        for verb in ["Failed", "Unable", "Cannot"] {
            for act in ["copy", "move", "delete", "send"] {
                for obj in ["package", "file", "instruction"] {
                    let mut lit = format!("{verb} to {act} {obj}").into_bytes();
                    lit.truncate(16);
                    literals.push(String::from_utf8(lit).unwrap());
                }
            }
        }
        let literals: Vec<&str> = literals.iter().map(String::as_str).collect();
        let m = marker(&literals);
        let sample: String = (0..400)
            .map(|i| {
                let verb = ["Failed", "Unable", "Cannot"][i % 3];
                format!(
                    "{verb} to open {i:08X}.PKG for site S{:02}  \
                     $$<SMS_DISTRIBUTION_MANAGER><11-28-2026 00:00:{:02}.082+300><thread={i} (0x{i:X})>\n",
                    i % 7,
                    i % 60
                )
            })
            .collect();
        let tuned = m.tuned(sample.as_bytes());
        let windows = plan(&tuned).iter().map(Vec::len).sum::<usize>();
        assert!(windows <= 6, "{:?}", plan(&tuned));
        let candidates = |m: &Marker| {
            let Search::Windows(groups) = &m.search else {
                unreachable!("Teddy takes 36 literals")
            };
            let tally = Tally::new(sample.as_bytes(), &m.literals);
            groups
                .iter()
                .map(|g| {
                    let windows: Vec<&[u8]> = g
                        .owners
                        .iter()
                        .map(|o| &o[0].literal[o[0].offset..o[0].offset + WINDOW])
                        .collect();
                    tally.candidates(&windows)
                })
                .sum::<u64>()
        };
        let (before, after) = (candidates(&m), candidates(&tuned));
        assert!(
            after * 10 < before,
            "{after} vs {before}: {:?}",
            plan(&tuned)
        );
    }

    /// A long line holding a literal many times is marked when it also
    /// holds one of the literal's second test's literals, wherever, and
    /// left out when it does not (found once and tested once, not once per
    /// hit: 20,000 hits in a 100 KB line).
    #[test]
    fn a_long_line_of_hits_is_tested_once() {
        let marks = [Mark {
            literal: b"gate".to_vec(),
            also: Some(vec![b"own".to_vec()]),
        }];
        let marker = Marker::build(&marks).unwrap();
        let hits = "gate ".repeat(20_000);
        for (text, want) in [
            (format!("x\n{hits}own\n{hits}\ny"), vec![2]),
            (format!("{hits}\nown gate"), vec![hits.len() + 1]),
        ] {
            for m in [&marker, &marker.tuned(text.as_bytes())] {
                let mut starts = Vec::new();
                m.mark_lines(text.as_bytes(), &mut starts);
                assert_eq!(starts, want);
            }
        }
    }

    /// The model of Teddy's candidates: one pattern lets through exactly
    /// its occurrences; patterns sharing a bucket (the ninth of eight)
    /// also let through mixes of their bytes' nibbles.
    #[test]
    fn teddy_model_counts_fingerprint_collisions() {
        let sample = b"ab xx ad ad cd";
        let tally = Tally::new(sample, &[]);
        assert_eq!(tally.candidates(&[b"ab"]), 1);
        assert_eq!(tally.candidates(&[b"ad"]), 2);
        let mut patterns: Vec<&[u8]> = vec![b"ab", b"q0", b"q1", b"q2", b"q3", b"q4", b"q5", b"q6"];
        assert_eq!(tally.candidates(&patterns), 1);
        patterns.push(b"cd");
        // `ab` and `cd` in one bucket: `ad` (twice) matches its fingerprint.
        assert_eq!(tally.candidates(&patterns), 4);
    }

    proptest::proptest! {
        /// One pass over lines laid end to end marks every line that holds
        /// a literal and passes its test (hits overlapping, across two
        /// lines, windows shared by several literals, a literal given
        /// twice: the alphabet is small so that they are common), and only
        /// starts of lines, in increasing order per searcher.
        #[test]
        fn marking_misses_no_line_with_a_literal(
            marks in proptest::collection::vec(
                ("[ab_J0]{1,7}", proptest::option::weighted(
                    0.4,
                    proptest::collection::vec("[ab_J0c]{1,3}", 0..3),
                )),
                1..12,
            ),
            lines in proptest::collection::vec("[ab_ J0c]{0,14}", 0..40),
            last_ended in proptest::bool::ANY,
            automaton in proptest::bool::ANY,
            tuned in proptest::bool::ANY,
        ) {
            let marks: Vec<Mark> = marks
                .into_iter()
                .map(|(literal, also)| Mark {
                    literal: literal.into_bytes(),
                    also: also.map(|a| a.into_iter().map(String::into_bytes).collect()),
                })
                .collect();
            let mut haystack = lines.join("\n");
            if last_ended && !lines.is_empty() {
                haystack.push('\n');
            }
            let mut marker = Marker::build(&marks).unwrap();
            if tuned {
                // Tuned to the text itself: windows and grouping change.
                marker = marker.tuned(haystack.as_bytes());
            }
            if automaton {
                marker.search = Search::automaton(&marker.literals).unwrap();
            }
            let mut starts = Vec::new();
            marker.mark_lines(haystack.as_bytes(), &mut starts);
            starts.sort_unstable();
            let holds = |line: &str, lit: &[u8]| line.as_bytes().windows(lit.len()).any(|w| w == lit);
            let mut at = 0;
            for line in &lines {
                let marked = marks.iter().any(|m| {
                    holds(line, &m.literal)
                        && m.also.as_ref().is_none_or(|a| a.iter().any(|l| holds(line, l)))
                });
                proptest::prop_assert_eq!(starts.contains(&at), marked, "{:?} by {:?}", line, marks);
                at += line.len() + 1;
            }
            for &s in &starts {
                proptest::prop_assert!(s == 0 || haystack.as_bytes()[s - 1] == b'\n', "{} is no line start", s);
            }
        }
    }
}
