//! The ASCII twin of a regex: the same pattern restricted to what can occur
//! in ASCII text, for a smaller and faster automaton on the (usual) ASCII
//! log line.
//!
//! The twin is derived from the Unicode HIR, not re-parsed with Unicode off:
//! re-parsing changes meaning where a non-ASCII character folds to an ASCII
//! one (`(?i)ſ` matches `s`, `(?i)\u{212A}` matches `k`). Intersecting every
//! class with ASCII and swapping Unicode word boundaries for ASCII ones keeps
//! every match on ASCII text and removes only what ASCII text cannot hold.
//!
//! Owns that transformation only; the caller decides when text is ASCII.

use regex_syntax::hir::{
    Capture, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind,
    Look, Repetition,
};

/// The ASCII twin of `hir`, or `None` when it would be the same automaton
/// (no class reaches past ASCII and no Unicode word boundary).
pub(crate) fn twin(hir: &Hir) -> Option<Hir> {
    let mut changed = false;
    let out = restrict(hir, &mut changed);
    changed.then_some(out)
}

fn restrict(hir: &Hir, changed: &mut bool) -> Hir {
    match hir.kind() {
        HirKind::Empty | HirKind::Literal(_) => hir.clone(),
        HirKind::Class(Class::Bytes(_)) => hir.clone(),
        HirKind::Class(Class::Unicode(class)) => {
            let mut ascii = class.clone();
            ascii.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\0', '\x7F')]));
            if ascii.ranges().len() != class.ranges().len() || !class.is_ascii() {
                *changed = true;
            }
            // Every range is now ASCII, so each char is its own byte.
            let bytes = ascii
                .ranges()
                .iter()
                .map(|r| ClassBytesRange::new(r.start() as u8, r.end() as u8));
            Hir::class(Class::Bytes(ClassBytes::new(bytes)))
        }
        HirKind::Look(look) => {
            let ascii = match look {
                Look::WordUnicode => Look::WordAscii,
                Look::WordUnicodeNegate => Look::WordAsciiNegate,
                Look::WordStartUnicode => Look::WordStartAscii,
                Look::WordEndUnicode => Look::WordEndAscii,
                Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
                Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
                other => *other,
            };
            *changed |= ascii != *look;
            Hir::look(ascii)
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(restrict(&rep.sub, changed)),
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(restrict(&cap.sub, changed)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(|h| restrict(h, changed)).collect()),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(|h| restrict(h, changed)).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that `pattern` has an ASCII twin (or not) and that the twin
    /// agrees with the original on each ASCII `text`.
    fn check(pattern: &str, has_twin: bool, texts: &[&str]) {
        let hir = regex_syntax::parse(pattern).unwrap();
        let twin = twin(&hir);
        assert_eq!(twin.is_some(), has_twin, "{pattern}");
        let Some(twin) = twin else { return };
        let full = regex_automata::meta::Regex::builder()
            .build_from_hir(&hir)
            .unwrap();
        let ascii = regex_automata::meta::Regex::builder()
            .build_from_hir(&twin)
            .unwrap();
        for text in texts {
            assert!(text.is_ascii());
            assert_eq!(
                full.is_match(text),
                ascii.is_match(text),
                "{pattern} on {text:?}"
            );
        }
    }

    #[test]
    fn plain_literal_needs_no_twin() {
        check("Waiting for", false, &[]);
        check("(?i)error", false, &[]);
    }

    #[test]
    fn unicode_classes_shrink() {
        check("\\w+>\\d", true, &["Err>5", "Err>", ">5", "_>5"]);
        check("a.b", true, &["a-b", "ab", "a\nb"]);
        check("[^x]y", true, &["xy", "zy", "y"]);
    }

    #[test]
    fn folds_into_ascii_are_kept() {
        check("(?i)ſ.", true, &["SQL", "s", "x"]);
        check("(?i)\u{212A}\\w", true, &["KB", "kb", "k"]);
    }

    #[test]
    fn word_boundaries_become_ascii() {
        check("\\bthread\\b", true, &["a thread.", "threads", "-thread-"]);
    }
}
