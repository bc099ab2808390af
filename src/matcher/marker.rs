//! Line marking: which lines of a block of text hold one of a set of
//! literals, found by one SIMD pass over the block (replay leaves the other
//! lines unparsed, see [`super::Matcher::candidate_lines`]).
//!
//! Teddy, the SIMD literal searcher, fingerprints the *first* bytes of each
//! literal, and a literal of a log rule often starts with a common word
//! (` for job J0042`, ` failed for `): every ` for` in the text is then a
//! candidate to verify, which was most of the pass (measured below). A
//! [`Marker`] fingerprints each literal at its rarest window instead and
//! checks the whole literal around a window hit itself. Rarest by a
//! byte-frequency heuristic for log text (`J000` before ` for`), or, once
//! [`Marker::tuned`] to a sample of the text to come (replay samples the
//! start of each source's first log), by how often each window occurs in
//! it; the sample also decides whether short literals get a pass of their
//! own ([`PASS_COST`], [`HIT_COST`]).
//!
//! Owns the window choice and the hit verification; knows nothing of rules.

use std::collections::HashMap;

use aho_corasick::packed::Searcher;
use aho_corasick::{AhoCorasick, Input, MatchKind as AcMatchKind};

use super::lane::{TEDDY_PATTERNS, teddy};
use super::literal;

/// Teddy's longest fingerprint: longer windows gain nothing.
const WINDOW: usize = 4;

/// The cost of one Teddy pass, per byte searched, by window length (index
/// 1 to [`WINDOW`]; relative, as perf measured them on the e2e bench's
/// log: the 4-byte pass took about 1.5× the 2-byte one).
const PASS_COST: [u32; WINDOW + 1] = [0, 2, 2, 3, 3];

/// The cost of one window hit (its literal checked, the line found), in
/// [`PASS_COST`]'s unit: roughly 400 bytes of searching.
const HIT_COST: u32 = 1_000;

/// Finds the lines of a text that hold one of some literals.
#[derive(Clone, Debug)]
pub(crate) struct Marker {
    /// The literals (none empty, sorted, deduplicated).
    literals: Box<[Box<[u8]>]>,
    search: Search,
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
}

impl Marker {
    /// A marker for `literals` (none empty; duplicates allowed), or `None`
    /// when there are none or an automaton cannot be built. Each literal is
    /// fingerprinted at the window whose bytes are the least common in log
    /// text; [`Marker::tuned`] picks by a sample of the text instead.
    pub(crate) fn build(literals: &[Vec<u8>]) -> Option<Marker> {
        let mut literals: Vec<Box<[u8]>> = literals
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| Box::from(l.as_slice()))
            .collect();
        literals.sort_unstable();
        literals.dedup();
        if literals.is_empty() {
            return None;
        }
        let literals = literals.into_boxed_slice();
        let search = Search::build(&literals, None)?;
        Some(Marker { literals, search })
    }

    /// The same marker with its windows picked by how often they occur in
    /// `sample`, text like the text it will mark (the start of a log about
    /// to be replayed): the rarest in the sample, the least common by
    /// letter ranking among equals, and the literals in one searcher or
    /// one per window length, whichever the sample says costs less. Which
    /// lines are marked does not change, only how fast.
    ///
    /// # Performance
    /// The e2e bench's 10 rules hold `_5`, `_8`, `_9`: by letter ranking
    /// the other literals' 2-byte windows were `00` and `0x` (on most
    /// lines), so they took a 4-byte pass of their own; by the sample,
    /// windows such as `J0`, and one 2-byte pass does (0.16 → 0.13 s).
    pub(crate) fn tuned(&self, sample: &[u8]) -> Marker {
        if self.literals.len() > TEDDY_PATTERNS {
            // An automaton: no windows.
            return self.clone();
        }
        let tally = Tally::new(sample, &self.literals);
        match Search::build(&self.literals, Some(&tally)) {
            Some(search) => Marker {
                literals: self.literals.clone(),
                search,
            },
            None => self.clone(),
        }
    }

    /// Pushes onto `starts` the start of each line of `haystack` (lines end
    /// at `\n`) in which one of the literals starts, each searcher's lines
    /// in increasing order (several searchers' lines are not merged): a
    /// line left out holds none.
    pub(crate) fn mark_lines(&self, haystack: &[u8], starts: &mut Vec<usize>) {
        match &self.search {
            Search::Windows(groups) => {
                for group in groups {
                    group.mark_lines(haystack, starts);
                }
            }
            Search::Automaton(ac) => {
                let mut from = 0;
                while from < haystack.len() {
                    let at = match ac.try_find(Input::new(haystack).span(from..haystack.len())) {
                        Ok(Some(hit)) => hit.start(),
                        Ok(None) => return,
                        // Cannot happen (unanchored): stay correct, mark
                        // the rest line by line.
                        Err(_) => from,
                    };
                    from = mark_line(haystack, from, at, starts);
                }
            }
        }
    }
}

impl Search {
    /// Teddy searchers over windows of `literals` (picked by `tally` when
    /// given), else an automaton; `None` if that cannot be built either.
    fn build(literals: &[Box<[u8]>], tally: Option<&Tally>) -> Option<Search> {
        if literals.len() <= TEDDY_PATTERNS {
            let all: Vec<&[u8]> = literals.iter().map(|l| &l[..]).collect();
            let (short, long): (Vec<&[u8]>, Vec<&[u8]>) =
                all.iter().partition(|l| l.len() < WINDOW);
            let split: Vec<Vec<&[u8]>> = [short, long]
                .into_iter()
                .filter(|group| !group.is_empty())
                .collect();
            // One searcher at the shortest literal's length, when the
            // sample says its hits cost less than a second pass.
            let plan = match tally {
                Some(tally)
                    if split.len() > 1
                        && tally.cost(&all) < split.iter().map(|g| tally.cost(g)).sum() =>
                {
                    vec![all]
                }
                _ => split,
            };
            let groups: Option<Vec<Windows>> = plan
                .iter()
                .map(|group| Windows::build(group, tally))
                .collect();
            if let Some(groups) = groups {
                return Some(Search::Windows(groups.into_boxed_slice()));
            }
        }
        AhoCorasick::builder()
            .match_kind(AcMatchKind::LeftmostFirst)
            .build(literals)
            .ok()
            .map(Search::Automaton)
    }
}

impl Windows {
    /// Teddy over a window of each of `literals` (the shortest one's
    /// length, at most [`WINDOW`]), if it can be built.
    fn build(literals: &[&[u8]], tally: Option<&Tally>) -> Option<Windows> {
        let windows = windows_of(literals, tally)?;
        let patterns: Vec<&[u8]> = windows.iter().map(|(w, _)| *w).collect();
        Some(Windows {
            teddy: teddy(&patterns)?,
            owners: windows
                .into_iter()
                .map(|(_, owners)| owners.into_boxed_slice())
                .collect(),
        })
    }

    fn mark_lines(&self, haystack: &[u8], starts: &mut Vec<usize>) {
        // `line`: the start of the line the search is in (all before it is
        // marked or holds no literal); `from`: where the search resumes.
        let (mut line, mut from) = (0, 0);
        while from < haystack.len() {
            let Some(hit) = self
                .teddy
                .find_in(haystack, aho_corasick::Span::from(from..haystack.len()))
            else {
                return;
            };
            let at = hit.start();
            // The literal the window belongs to, if it is there: its start.
            let start = self.owners[hit.pattern().as_usize()]
                .iter()
                .filter(|owner| owner.offset <= at)
                .map(|owner| (at - owner.offset, &owner.literal))
                .find(|(start, lit)| haystack[*start..].starts_with(lit))
                .map(|(start, _)| start);
            match start {
                // A literal that starts before `line` runs across a line
                // end: no line holds it.
                Some(start) if start >= line => {
                    from = mark_line(haystack, line, start, starts);
                    line = from;
                }
                _ => from = at + 1,
            }
        }
    }
}

/// Pushes the start of the line that holds `at` (searching back no further
/// than `line`, a line start) and returns where the next line starts.
fn mark_line(haystack: &[u8], line: usize, at: usize, starts: &mut Vec<usize>) -> usize {
    starts.push(memchr::memrchr(b'\n', &haystack[line..at]).map_or(line, |nl| line + nl + 1));
    memchr::memchr(b'\n', &haystack[at..]).map_or(haystack.len(), |nl| at + nl + 1)
}

/// The windows one searcher over `literals` looks for (the shortest
/// literal's length, at most [`WINDOW`]; each literal's rarest, picked by
/// `tally` when given), distinct, each with the literals it was taken from;
/// `None` for no literals.
fn windows_of<'l>(
    literals: &[&'l [u8]],
    tally: Option<&Tally>,
) -> Option<Vec<(&'l [u8], Vec<Owner>)>> {
    let width = literals.iter().map(|l| l.len()).min()?.min(WINDOW);
    let mut windows: Vec<(&[u8], Vec<Owner>)> = Vec::new();
    for lit in literals {
        let at = rarest_window(lit, width, tally);
        let window = &lit[at..at + width];
        let owner = Owner {
            offset: at,
            literal: Box::from(*lit),
        };
        match windows.iter_mut().find(|(w, _)| *w == window) {
            Some((_, owners)) => owners.push(owner),
            None => windows.push((window, vec![owner])),
        }
    }
    Some(windows)
}

/// The offset of `literal`'s window of `width` bytes seen least often in
/// `tally`'s sample; of equals, the one whose bytes are the least common in
/// log text; of those, the first.
fn rarest_window(literal: &[u8], width: usize, tally: Option<&Tally>) -> usize {
    (0..=literal.len() - width)
        .min_by_key(|&at| {
            let window = &literal[at..at + width];
            let seen = tally.map_or(0, |t| t.count(window));
            let common: u32 = window.iter().map(|&b| literal::commonness(b)).sum();
            (seen, common)
        })
        .unwrap_or(0)
}

/// How often the windows of some literals (each run of 1 to [`WINDOW`] of
/// their bytes) occur in a sample of text.
struct Tally {
    /// The sample's length.
    len: usize,
    /// Occurrences by window ([`Tally::key`]).
    counts: HashMap<u64, u32>,
}

impl Tally {
    fn new(sample: &[u8], literals: &[Box<[u8]>]) -> Tally {
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
        Tally {
            len: sample.len(),
            counts,
        }
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

    /// What marking text like the sample would cost with one searcher over
    /// `literals` ([`PASS_COST`], [`HIT_COST`]).
    fn cost(&self, literals: &[&[u8]]) -> u64 {
        let Some(windows) = windows_of(literals, Some(self)) else {
            return 0;
        };
        let width = windows.first().map_or(0, |(w, _)| w.len());
        let hits: u64 = windows.iter().map(|(w, _)| u64::from(self.count(w))).sum();
        self.len as u64 * u64::from(PASS_COST[width]) + hits * u64::from(HIT_COST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_prefer_codes_and_rare_letters_to_common_words() {
        let window = |lit: &str, width: usize| {
            let at = rarest_window(lit.as_bytes(), width, None);
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
        let literals: Vec<Vec<u8>> = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
        Marker::build(&literals).unwrap()
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

    proptest::proptest! {
        /// One pass over lines laid end to end marks every line that holds
        /// a literal (hits overlapping, across two lines, windows shared
        /// by several literals: the alphabet is small so that they are
        /// common), and only starts of lines, in increasing order per
        /// searcher.
        #[test]
        fn marking_misses_no_line_with_a_literal(
            literals in proptest::collection::vec("[ab_J0]{1,7}", 1..12),
            lines in proptest::collection::vec("[ab_ J0c]{0,14}", 0..40),
            last_ended in proptest::bool::ANY,
            automaton in proptest::bool::ANY,
            tuned in proptest::bool::ANY,
        ) {
            let literals: Vec<Vec<u8>> = literals.into_iter().map(String::into_bytes).collect();
            let mut haystack = lines.join("\n");
            if last_ended && !lines.is_empty() {
                haystack.push('\n');
            }
            let mut marker = Marker::build(&literals).unwrap();
            if tuned {
                // Tuned to the text itself: windows and grouping change.
                marker = marker.tuned(haystack.as_bytes());
            }
            if automaton {
                marker.search = Search::Automaton(AhoCorasick::builder().match_kind(AcMatchKind::LeftmostFirst).build(&literals).unwrap());
            }
            let mut starts = Vec::new();
            marker.mark_lines(haystack.as_bytes(), &mut starts);
            starts.sort_unstable();
            let mut at = 0;
            for line in &lines {
                let holds = literals.iter().any(|l| line.as_bytes().windows(l.len()).any(|w| w == &l[..]));
                proptest::prop_assert_eq!(starts.contains(&at), holds, "{:?} in {:?}", line, literals);
                at += line.len() + 1;
            }
            for &s in &starts {
                proptest::prop_assert!(s == 0 || haystack.as_bytes()[s - 1] == b'\n', "{} is no line start", s);
            }
        }
    }
}
