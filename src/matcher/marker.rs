//! Line marking: which lines of a block of text hold one of a set of
//! literals, found by one SIMD pass over the block (replay leaves the other
//! lines unparsed, see [`super::Matcher::candidate_lines`]).
//!
//! Teddy, the SIMD literal searcher, fingerprints the *first* bytes of each
//! literal, and a literal of a log rule often starts with a common word
//! (` for job J0042`, ` failed for `): every ` for` in the text is then a
//! candidate to verify, which was most of the pass (measured below). A
//! [`Marker`] fingerprints each literal at its rarest window instead (by a
//! byte-frequency heuristic for log text: `J000` before ` for`) and checks
//! the whole literal around a window hit itself.
//!
//! Owns the window choice and the hit verification; knows nothing of rules.

use aho_corasick::packed::Searcher;
use aho_corasick::{AhoCorasick, Input, MatchKind as AcMatchKind};

use super::lane::{TEDDY_PATTERNS, teddy};
use super::literal;
/// Teddy's longest fingerprint: longer windows gain nothing.
const WINDOW: usize = 4;

/// Finds the lines of a text that hold one of some literals.
#[derive(Clone, Debug)]
pub(crate) enum Marker {
    /// Teddy over each literal's rarest window, one searcher per window
    /// length (literals shorter than [`WINDOW`] are their own window, and
    /// one short window would shorten every fingerprint of the searcher).
    Windows(Box<[Windows]>),
    /// More literals than Teddy takes (or no Teddy on this CPU): an
    /// Aho-Corasick automaton over the literals themselves.
    Automaton(AhoCorasick),
}

/// One Teddy searcher over windows of the same length.
#[derive(Clone, Debug)]
pub(crate) struct Windows {
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
    /// when there are none or an automaton cannot be built.
    pub(crate) fn build(literals: &[Vec<u8>]) -> Option<Marker> {
        let mut literals: Vec<&[u8]> = literals
            .iter()
            .map(Vec::as_slice)
            .filter(|l| !l.is_empty())
            .collect();
        literals.sort_unstable();
        literals.dedup();
        if literals.is_empty() {
            return None;
        }
        if literals.len() <= TEDDY_PATTERNS {
            let (short, long): (Vec<&[u8]>, Vec<&[u8]>) =
                literals.iter().partition(|l| l.len() < WINDOW);
            let groups: Option<Vec<Windows>> = [short, long]
                .into_iter()
                .filter(|group| !group.is_empty())
                .map(|group| Windows::build(&group))
                .collect();
            if let Some(groups) = groups {
                return Some(Marker::Windows(groups.into_boxed_slice()));
            }
        }
        AhoCorasick::builder()
            .match_kind(AcMatchKind::LeftmostFirst)
            .build(&literals)
            .ok()
            .map(Marker::Automaton)
    }

    /// Pushes onto `starts` the start of each line of `haystack` (lines end
    /// at `\n`) in which one of the literals starts, each searcher's lines
    /// in increasing order (several searchers' lines are not merged): a
    /// line left out holds none.
    pub(crate) fn mark_lines(&self, haystack: &[u8], starts: &mut Vec<usize>) {
        match self {
            Marker::Windows(groups) => {
                for group in groups {
                    group.mark_lines(haystack, starts);
                }
            }
            Marker::Automaton(ac) => {
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

impl Windows {
    /// Teddy over the rarest window of each of `literals` (the shortest
    /// one's length, at most [`WINDOW`]), if it can be built.
    fn build(literals: &[&[u8]]) -> Option<Windows> {
        let width = literals.iter().map(|l| l.len()).min()?.min(WINDOW);
        let mut windows: Vec<&[u8]> = Vec::new();
        let mut owners: Vec<Vec<Owner>> = Vec::new();
        for lit in literals {
            let at = rarest_window(lit, width);
            let window = &lit[at..at + width];
            let k = match windows.iter().position(|w| *w == window) {
                Some(k) => k,
                None => {
                    windows.push(window);
                    owners.push(Vec::new());
                    windows.len() - 1
                }
            };
            owners[k].push(Owner {
                offset: at,
                literal: Box::from(*lit),
            });
        }
        Some(Windows {
            teddy: teddy(&windows)?,
            owners: owners.into_iter().map(Vec::into_boxed_slice).collect(),
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

/// The offset of `literal`'s window of `width` bytes whose bytes are the
/// least common in log text (the first of equals).
fn rarest_window(literal: &[u8], width: usize) -> usize {
    (0..=literal.len() - width)
        .min_by_key(|&at| {
            literal[at..at + width]
                .iter()
                .map(|&b| literal::commonness(b))
                .sum::<u32>()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_prefer_codes_and_rare_letters_to_common_words() {
        let window = |lit: &str, width: usize| {
            let at = rarest_window(lit.as_bytes(), width);
            lit[at..at + width].to_string()
        };
        assert_eq!(window(" for job J0042", 4), "0042");
        assert_eq!(window(" failed for ", 4), "fail");
        assert_eq!(window("Waiting for an available thread", 4), "labl");
        assert_eq!(window("_5", 2), "_5");
        assert_eq!(window("abc", 3), "abc");
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
        ) {
            let literals: Vec<Vec<u8>> = literals.into_iter().map(String::into_bytes).collect();
            let marker = match automaton {
                true => Marker::Automaton(AhoCorasick::builder().match_kind(AcMatchKind::LeftmostFirst).build(&literals).unwrap()),
                false => Marker::build(&literals).unwrap(),
            };
            let mut haystack = lines.join("\n");
            if last_ended && !lines.is_empty() {
                haystack.push('\n');
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
