//! Validation of a line rule's `regex`: it must compile with the `regex`
//! crate's default limits, and when it does not, the diagnostic points at the
//! offending character inside the pattern, not at the start of the string.
//!
//! Owns only the check and the capture names; the matcher compiles the
//! patterns again its own way (one multi-pattern automaton). The check uses
//! the `regex` crate's default limits (nesting depth 250, compiled size
//! 10 MiB), so a pattern that passes compiles with `regex::Regex::new`.

use regex_automata::PatternID;
use regex_automata::nfa::thompson;

use crate::rule::raw::{Doc, Field};

/// The compiled-size limit of the `regex` crate's default builder (what a
/// `RegexBuilder::size_limit` would set), mirrored by the check.
const NFA_SIZE_LIMIT: usize = 10 * (1 << 20);

/// A regex that compiled, with its named captures in pattern order.
pub(crate) struct CheckedRegex {
    /// The pattern as written.
    pub(crate) pattern: String,
    /// Names of `(?P<name>…)` / `(?<name>…)` groups.
    pub(crate) captures: Vec<String>,
}

/// Checks the `regex` value of `f`, reporting a located problem when it does
/// not compile.
///
/// # Performance
/// Parses the pattern and builds its forward Thompson NFA under the same
/// size limit as the `regex` crate, which finds every error a full
/// `Regex::new` finds (syntax, nesting, size) at a tenth of the cost: a full
/// build also makes a reverse NFA and DFA engines, which for 250
/// case-insensitive Unicode `\w` patterns costs about half a second even in
/// a release build, too slow for "1,000 rules load well under a second".
pub(crate) fn check_regex(doc: &mut Doc<'_>, f: Field<'_, '_>) -> Option<CheckedRegex> {
    let pattern = doc.string(f)?;
    let hir = match regex_syntax::ParserBuilder::new().build().parse(&pattern) {
        Ok(hir) => hir,
        Err(e) => {
            let (span, what) = match locate(&e) {
                Some((range, what)) => (doc.span_in_string(f.value, range), what),
                None => (f.span(), e.to_string()),
            };
            doc.error(span, format!("invalid regex in {}: {what}", f.ctx));
            return None;
        }
    };
    let config = thompson::Config::new().nfa_size_limit(Some(NFA_SIZE_LIMIT));
    match thompson::Compiler::new()
        .configure(config)
        .build_from_hir(&hir)
    {
        Ok(nfa) => {
            let captures = nfa
                .group_info()
                .pattern_names(PatternID::ZERO)
                .flatten()
                .map(str::to_owned)
                .collect();
            Some(CheckedRegex { pattern, captures })
        }
        Err(e) => {
            let message = match e.size_limit() {
                Some(limit) => format!(
                    "regex in {} is too large once compiled (over {limit} bytes); simplify it (fewer repetitions like {{1000}}, fewer Unicode classes) or split it into several rules",
                    f.ctx
                ),
                None => format!("regex in {} cannot be compiled: {e}", f.ctx),
            };
            doc.error(f.span(), message);
            None
        }
    }
}

/// Where in the pattern the syntax error is (byte range) and what it is.
fn locate(e: &regex_syntax::Error) -> Option<(std::ops::Range<usize>, String)> {
    match e {
        regex_syntax::Error::Parse(e) => Some((
            e.span().start.offset..e.span().end.offset,
            e.kind().to_string(),
        )),
        regex_syntax::Error::Translate(e) => Some((
            e.span().start.offset..e.span().end.offset,
            e.kind().to_string(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::raw::{Section, parse};
    use std::path::Path;

    /// Checks `regex = <token>`: `Ok(captures)` or `Err(first line of the diagnostic, caret line)`.
    fn check(token: &str) -> Result<Vec<String>, (String, String)> {
        let text = format!("regex = {token}\n");
        let (root, mut doc) = parse(Path::new("r.toml"), &text);
        let s = Section {
            table: &root,
            header: 0..0,
            ctx: "[[match]] \"m\"".to_owned(),
        };
        let f = s.field("regex").unwrap();
        match check_regex(&mut doc, f) {
            Some(c) => Ok(c.captures),
            None => {
                let rendered = doc.diags[0].to_string();
                let lines: Vec<&str> = rendered.lines().collect();
                Err((lines[0].to_owned(), lines[3].to_owned()))
            }
        }
    }

    #[test]
    fn captures_are_listed() {
        assert_eq!(
            check(r"'(?P<box>\w+)\.box (?<n>\d+)'"),
            Ok(vec!["box".to_owned(), "n".to_owned()])
        );
    }

    #[test]
    fn caret_points_inside_literal_strings() {
        assert_eq!(
            check("'Waiting (for'"),
            Err((
                "r.toml:1:18: invalid regex in [[match]] \"m\": unclosed group".to_owned(),
                "  |                  ^".to_owned()
            ))
        );
        assert_eq!(
            check("'''\nab[z-a]'''"),
            Err((
                "r.toml:2:4: invalid regex in [[match]] \"m\": invalid character class range, the start must be <= the end".to_owned(),
                "  |    ^^^".to_owned()
            ))
        );
    }

    #[test]
    fn caret_points_through_escapes_in_basic_strings() {
        // Decoded pattern `\d+\q`: the bad escape is at decoded bytes 3..5,
        // written as `\\q` at columns 14..16 of the file.
        assert_eq!(
            check(r#""\\d+\\q""#),
            Err((
                "r.toml:1:14: invalid regex in [[match]] \"m\": unrecognized escape sequence"
                    .to_owned(),
                "  |              ^^^".to_owned()
            ))
        );
    }

    #[test]
    fn unicode_class_errors_are_located() {
        assert_eq!(
            check(r"'x\p{Klingon}'"),
            Err((
                "r.toml:1:11: invalid regex in [[match]] \"m\": Unicode property not found"
                    .to_owned(),
                "  |           ^^^^^^^^^^^".to_owned()
            ))
        );
    }

    #[test]
    fn the_check_agrees_with_the_regex_crate() {
        for p in [
            r"(?i)waiting for (?P<what>\w+)",
            r"a{2,1}",
            r"\w{1000}\w{1000}\w{1000}",
            r"(?-u:\xFF)",
            r"[[:alpha:]",
            r"(?x) a # comment",
            &"(".repeat(300),
        ] {
            let ours = check(&format!("'{p}'")).is_ok();
            assert_eq!(ours, regex::Regex::new(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn oversized_regex_is_reported_on_the_whole_value() {
        let (line, caret) = check(r"'\w{1000}\w{1000}\w{1000}'").unwrap_err();
        assert!(
            line.starts_with("r.toml:1:9: regex in [[match]] \"m\" is too large once compiled"),
            "{line}"
        );
        assert_eq!(caret, format!("  |         {}", "^".repeat(26)));
    }
}
