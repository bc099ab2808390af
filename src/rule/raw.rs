//! The spanned TOML walk shared by rule files and rule test files.
//!
//! Parses with `toml::de::DeTable::parse_recoverable` (spans on every key and
//! value) and reads tables key by key, turning every unknown key, wrong type
//! and bad value into a located [`Diagnostic`] instead of stopping at the
//! first, the way serde derive would.
//!
//! Owns: TOML syntax errors, type checks, enum words, durations, "did you
//! mean" suggestions, and mapping a byte offset inside a string value back to
//! the file (so that a regex error can point inside the pattern). Does not
//! know what any key means: [`super::compile`] and [`super::testfile`] do.
//!
//! When the TOML itself is broken (anything but a duplicate key), the tree the
//! parser recovers is a guess, so only the syntax errors of that file are
//! reported: meaning-level complaints about a half-parsed table would be noise.
//!
//! A [`Doc`] may also stand for a table merged from several files (a rule
//! and the `[[override]]` tables that change it, see `overlay.rs`): its text
//! is then synthetic, pieced together from verbatim slices of those files,
//! and a [`SpanMap`] sends every problem back to the file and spot its piece
//! came from.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, line_column};
use crate::rule::Location;
use crate::time::{TimeError, parse_duration};

/// A TOML value with its span.
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// One file being read: its text and the problems found so far.
pub(crate) struct Doc<'a> {
    /// The file, for diagnostics.
    pub(crate) file: &'a Path,
    /// Its contents.
    pub(crate) text: &'a str,
    /// Problems found so far, in discovery order.
    pub(crate) diags: Vec<Diagnostic>,
    /// True when the TOML syntax is broken: meaning-level problems are dropped.
    broken: bool,
    /// For a merged table: where each piece of `text` came from.
    map: Option<SpanMap<'a>>,
}

/// Where the pieces of a synthetic text came from: problems found in it are
/// reported in the original files.
#[derive(Debug, Default)]
pub(crate) struct SpanMap<'a> {
    /// `(start in the synthetic text, length, file, start in that file)`,
    /// ascending and not overlapping.
    pieces: Vec<(usize, usize, usize, usize)>,
    /// The files pieces come from: path and text.
    files: Vec<(&'a Path, &'a str)>,
}

impl<'a> SpanMap<'a> {
    /// Records that `len` bytes at `at` of the synthetic text are a copy of
    /// the bytes at `from` of `text`, the contents of `path`.
    pub(crate) fn piece(
        &mut self,
        at: usize,
        len: usize,
        path: &'a Path,
        text: &'a str,
        from: usize,
    ) {
        let file = match self
            .files
            .iter()
            .position(|(p, t)| *p == path && std::ptr::eq(*t, text))
        {
            Some(i) => i,
            None => {
                self.files.push((path, text));
                self.files.len() - 1
            }
        };
        self.pieces.push((at, len, file, from));
    }

    /// The file, its text and the span there of `span` of the synthetic
    /// text. A span that runs past its piece is cut at the piece's end; one
    /// that starts between pieces (glue the merge wrote) moves to the start
    /// of the next piece.
    fn locate(&self, span: &Range<usize>) -> Option<(&'a Path, &'a str, Range<usize>)> {
        let (at, len, file, from) = self
            .pieces
            .iter()
            .find(|(at, len, _, _)| span.start < at + len || (*len == 0 && span.start == *at))
            .or_else(|| self.pieces.last())?;
        let start = span.start.clamp(*at, at + len) - at;
        let end = span.end.clamp(at + start, at + len) - at;
        let (path, text) = self.files.get(*file)?;
        Some((path, text, from + start..from + end))
    }
}

/// Parses `text` and returns its root table with a [`Doc`] that already holds
/// every syntax error.
pub(crate) fn parse<'a>(file: &'a Path, text: &'a str) -> (DeTable<'a>, Doc<'a>) {
    let (root, errors) = DeTable::parse_recoverable(text);
    let mut doc = Doc {
        file,
        text,
        diags: Vec::new(),
        broken: false,
        map: None,
    };
    for e in errors {
        let span = e.span().unwrap_or(0..0);
        let message = if e.message() == "duplicate key" {
            let key = text.get(span.clone()).unwrap_or("").trim();
            format!("duplicate key {key:?}: a key (or [table]) may appear only once in a table")
        } else {
            doc.broken = true;
            format!("TOML syntax error: {}", e.message().trim())
        };
        doc.diags.push(Diagnostic::new(
            file,
            text,
            span,
            message.trim_end_matches('.'),
        ));
    }
    (root.into_inner(), doc)
}

/// Parses a synthetic `text` pieced together from other files (see
/// [`SpanMap`]); `file` names it in messages that have no piece to point
/// at. Its syntax errors, which the merge should never produce, are reported
/// like any others, mapped.
pub(crate) fn parse_mapped<'a>(
    file: &'a Path,
    text: &'a str,
    map: SpanMap<'a>,
) -> (DeTable<'a>, Doc<'a>) {
    let (root, mut doc) = parse(file, text);
    let raw: Vec<Diagnostic> = std::mem::take(&mut doc.diags);
    doc.map = Some(map);
    for d in raw {
        let broken = doc.broken;
        doc.broken = false;
        doc.error(d.span, d.message);
        doc.broken = broken;
    }
    (root, doc)
}

/// A table being read: its keys, where its header is and how to name it.
pub(crate) struct Section<'t, 'i> {
    /// The table.
    pub(crate) table: &'t DeTable<'i>,
    /// Where a missing key is reported: the `[[header]]` or the inline table.
    pub(crate) header: Range<usize>,
    /// How messages name it: `[[match]] "x"`, `preceded_by of [[correlate]] "c"`.
    pub(crate) ctx: String,
}

impl<'t, 'i> Section<'t, 'i> {
    /// The value of `key`, if present.
    pub(crate) fn field<'s>(&'s self, key: &'s str) -> Option<Field<'s, 'i>> {
        self.table.get(key).map(|value| Field {
            key,
            value,
            ctx: &self.ctx,
        })
    }

    /// True when `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// The span of `key` itself (not its value), if present.
    pub(crate) fn key_span(&self, key: &str) -> Option<Range<usize>> {
        self.table.get_key_value(key).map(|(k, _)| k.span())
    }
}

/// One `key = value` being read, with the name of its table for messages.
#[derive(Clone, Copy)]
pub(crate) struct Field<'v, 'i> {
    /// The key as written.
    pub(crate) key: &'v str,
    /// The value.
    pub(crate) value: &'v Value<'i>,
    /// The table's name for messages.
    pub(crate) ctx: &'v str,
}

impl Field<'_, '_> {
    /// The value's span.
    pub(crate) fn span(&self) -> Range<usize> {
        self.value.span()
    }
}

/// "a string", "an integer", … for "must be X, not Y" messages.
pub(crate) fn a_type(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a> Doc<'a> {
    /// Records a meaning-level problem at `span` (dropped when the TOML is broken).
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        if self.broken {
            return;
        }
        let d = match self.map.as_ref().and_then(|m| m.locate(&span)) {
            Some((file, text, span)) => Diagnostic::new(file, text, span, message),
            None => Diagnostic::new(self.file, self.text, span, message),
        };
        self.diags.push(d);
    }

    /// Where byte `offset` is, for [`Location`] fields of the model.
    pub(crate) fn location(&self, offset: usize) -> Location {
        let (file, text, offset) = match self.map.as_ref().and_then(|m| m.locate(&(offset..offset)))
        {
            Some((file, text, span)) => (file, text, span.start),
            None => (self.file, self.text, offset),
        };
        let (line, column) = line_column(text, offset);
        Location {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    /// True when the file's TOML syntax is broken (its tables cannot be trusted).
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Reports a wrong type: `"key" in ctx must be EXPECTED, not a string`.
    pub(crate) fn wrong_type(&mut self, f: Field<'_, '_>, expected: &str) {
        self.error(
            f.span(),
            format!(
                "{:?} in {} must be {expected}, not {}",
                f.key,
                f.ctx,
                a_type(f.value.get_ref())
            ),
        );
    }

    /// Reports every key of `s` that is not in `allowed`, with a suggestion:
    /// `hint` may name where the key belongs instead (`"count" is a key of
    /// [[threshold]]`); otherwise the closest allowed key is offered.
    pub(crate) fn unknown_keys(
        &mut self,
        s: &Section<'_, '_>,
        allowed: &[&str],
        hint: &dyn Fn(&str) -> Option<String>,
    ) {
        for (key, _) in s.table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let extra = match hint(name) {
                Some(h) => format!(" ({h})"),
                None => match suggest(name, allowed.iter().copied()) {
                    Some(best) => format!(" (did you mean {best:?}?)"),
                    None => format!(" (known keys: {})", allowed.join(", ")),
                },
            };
            self.error(
                key.span(),
                format!("unknown key {name:?} in {}{extra}", s.ctx),
            );
        }
    }

    /// Reports a missing required key at the table's header.
    pub(crate) fn missing(&mut self, s: &Section<'_, '_>, key: &str, example: &str) {
        self.error(
            s.header.clone(),
            format!("missing key {key:?} in {} (add e.g. {example})", s.ctx),
        );
    }

    /// Reads `key` with `read` when present.
    pub(crate) fn opt<'s, 'i, T>(
        &mut self,
        s: &'s Section<'_, 'i>,
        key: &'s str,
        read: impl FnOnce(&mut Self, Field<'s, 'i>) -> Option<T>,
    ) -> Option<T> {
        s.field(key).and_then(|f| read(self, f))
    }

    /// Reads `key` with `read`, reporting it as missing (with `example`) when absent.
    pub(crate) fn req<'s, 'i, T>(
        &mut self,
        s: &'s Section<'_, 'i>,
        key: &'s str,
        example: &str,
        read: impl FnOnce(&mut Self, Field<'s, 'i>) -> Option<T>,
    ) -> Option<T> {
        match s.field(key) {
            Some(f) => read(self, f),
            None => {
                self.missing(s, key, example);
                None
            }
        }
    }

    /// A string.
    pub(crate) fn string(&mut self, f: Field<'_, '_>) -> Option<String> {
        match f.value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(f, "a string");
                None
            }
        }
    }

    /// A string that is not empty (nor only blanks).
    pub(crate) fn nonempty(&mut self, f: Field<'_, '_>) -> Option<String> {
        let s = self.string(f)?;
        if s.trim().is_empty() {
            self.error(
                f.span(),
                format!("{:?} in {} must not be empty", f.key, f.ctx),
            );
            return None;
        }
        Some(s)
    }

    /// `true` or `false`.
    pub(crate) fn boolean(&mut self, f: Field<'_, '_>) -> Option<bool> {
        match f.value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            DeValue::String(s) if s == "true" || s == "false" => {
                self.error(
                    f.span(),
                    format!(
                        "{:?} in {} must be a boolean, not a string (write {} = {s} without quotes)",
                        f.key, f.ctx, f.key
                    ),
                );
                None
            }
            _ => {
                self.wrong_type(f, "true or false");
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub(crate) fn integer(&mut self, f: Field<'_, '_>, min: i64, max: i64) -> Option<i64> {
        let n = match f.value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            DeValue::String(s) if s.trim().parse::<i64>().is_ok() => {
                self.error(
                    f.span(),
                    format!(
                        "{:?} in {} must be a number, not a string (write {} = {} without quotes)",
                        f.key,
                        f.ctx,
                        f.key,
                        s.trim()
                    ),
                );
                return None;
            }
            _ => {
                self.wrong_type(f, "a whole number");
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let range = if max == i64::MAX {
                    format!("at least {min}")
                } else {
                    format!("between {min} and {max}")
                };
                self.error(
                    f.span(),
                    format!("{:?} in {} must be {range}", f.key, f.ctx),
                );
                None
            }
        }
    }

    /// A finite, non-negative number (integer or float).
    pub(crate) fn number(&mut self, f: Field<'_, '_>) -> Option<f64> {
        let n = match f.value.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(x) => x.as_str().parse::<f64>().ok(),
            _ => {
                self.wrong_type(f, "a number");
                return None;
            }
        };
        match n {
            Some(n) if n.is_finite() && n >= 0.0 => Some(n),
            _ => {
                self.error(
                    f.span(),
                    format!(
                        "{:?} in {} must be a finite number of at least 0",
                        f.key, f.ctx
                    ),
                );
                None
            }
        }
    }

    /// A duration string (`"250ms"`, `"30s"`, `"10m"`, `"2h"`, `"1d"`).
    pub(crate) fn duration(&mut self, f: Field<'_, '_>) -> Option<Duration> {
        match f.value.get_ref() {
            DeValue::String(s) => match parse_duration(s) {
                Ok(d) => Some(d),
                Err(TimeError::Duration { reason, .. }) => {
                    self.error(
                        f.span(),
                        format!(
                            "invalid duration {s:?} for {:?} in {}: {reason} (write a number and a unit: \"250ms\", \"30s\", \"10m\", \"2h\", \"1d\")",
                            f.key, f.ctx
                        ),
                    );
                    None
                }
                Err(e) => {
                    self.error(f.span(), e.to_string());
                    None
                }
            },
            DeValue::Integer(i) => {
                self.error(
                    f.span(),
                    format!(
                        "{:?} in {} must be a duration string with a unit, not a number (write {} = \"{}s\")",
                        f.key,
                        f.ctx,
                        f.key,
                        i.as_str()
                    ),
                );
                None
            }
            _ => {
                self.wrong_type(f, "a duration string like \"10m\"");
                None
            }
        }
    }

    /// A duration longer than zero.
    pub(crate) fn positive_duration(&mut self, f: Field<'_, '_>) -> Option<Duration> {
        let d = self.duration(f)?;
        if d.is_zero() {
            self.error(
                f.span(),
                format!("{:?} in {} must be longer than 0s", f.key, f.ctx),
            );
            return None;
        }
        Some(d)
    }

    /// One of `words` (case-sensitive), mapped to its value.
    pub(crate) fn word<T: Copy>(&mut self, f: Field<'_, '_>, words: &[(&str, T)]) -> Option<T> {
        let s = self.string(f)?;
        if let Some((_, v)) = words.iter().find(|(w, _)| *w == s) {
            return Some(*v);
        }
        let names: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
        let extra = match suggest(&s, names.iter().copied()) {
            Some(best) => format!("did you mean {best:?}?"),
            None => format!(
                "write one of {}",
                names
                    .iter()
                    .map(|n| format!("{n:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        self.error(
            f.span(),
            format!("unknown {} {s:?} in {} ({extra})", f.key, f.ctx),
        );
        None
    }

    /// A list of non-empty strings, each with its span. `at_least_one`: an
    /// empty list is an error.
    pub(crate) fn strings(
        &mut self,
        f: Field<'_, '_>,
        at_least_one: bool,
    ) -> Option<Vec<Spanned<String>>> {
        let DeValue::Array(items) = f.value.get_ref() else {
            self.wrong_type(f, "a list of strings");
            return None;
        };
        if at_least_one && items.is_empty() {
            self.error(
                f.span(),
                format!("{:?} in {} needs at least one entry", f.key, f.ctx),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) if !s.is_empty() => {
                    out.push(Spanned::new(item.span(), s.to_string()));
                }
                DeValue::String(_) => {
                    self.error(
                        item.span(),
                        format!("entries of {:?} in {} must not be empty", f.key, f.ctx),
                    );
                    ok = false;
                }
                other => {
                    self.error(
                        item.span(),
                        format!(
                            "entries of {:?} in {} must be strings, not {}",
                            f.key,
                            f.ctx,
                            a_type(other)
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// One string or a non-empty list of strings (`source = "a"` or
    /// `source = ["a", "b"]`).
    pub(crate) fn string_or_list(&mut self, f: Field<'_, '_>) -> Option<Vec<Spanned<String>>> {
        match f.value.get_ref() {
            DeValue::String(s) if !s.is_empty() => {
                Some(vec![Spanned::new(f.span(), s.to_string())])
            }
            DeValue::String(_) => {
                self.error(
                    f.span(),
                    format!("{:?} in {} must not be empty", f.key, f.ctx),
                );
                None
            }
            DeValue::Array(_) => self.strings(f, true),
            _ => {
                self.wrong_type(f, "a string or a list of strings");
                None
            }
        }
    }

    /// A table of string values (`labels = { site_code = "PS1" }`); integers
    /// and booleans are accepted and kept as written.
    pub(crate) fn string_map(
        &mut self,
        f: Field<'_, '_>,
    ) -> Option<Vec<(Spanned<String>, String)>> {
        let DeValue::Table(t) = f.value.get_ref() else {
            self.wrong_type(f, "a table like { name = \"value\" }");
            return None;
        };
        let mut out = Vec::with_capacity(t.len());
        let mut ok = true;
        for (k, v) in t.iter() {
            let value = match v.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(i) => i.to_string(),
                DeValue::Boolean(b) => b.to_string(),
                other => {
                    self.error(
                        v.span(),
                        format!(
                            "values of {:?} in {} must be strings, not {}",
                            f.key,
                            f.ctx,
                            a_type(other)
                        ),
                    );
                    ok = false;
                    continue;
                }
            };
            out.push((Spanned::new(k.span(), k.get_ref().to_string()), value));
        }
        ok.then_some(out)
    }

    /// Reports the keys of `choices` present in `s` beyond the first (in file
    /// order) as conflicting, and returns that first one.
    pub(crate) fn one_of<'k>(
        &mut self,
        s: &Section<'_, '_>,
        choices: &[&'k str],
    ) -> Option<&'k str> {
        let mut present: Vec<(Range<usize>, &'k str)> = choices
            .iter()
            .filter_map(|k| s.key_span(k).map(|span| (span, *k)))
            .collect();
        present.sort_by_key(|(span, _)| span.start);
        let first = present.first().map(|(_, k)| *k)?;
        for (span, k) in present.iter().skip(1) {
            self.error(
                span.clone(),
                format!(
                    "{k:?} cannot be combined with {first:?} in {}: keep one of them",
                    s.ctx
                ),
            );
        }
        Some(first)
    }

    /// Reports entries listed twice; returns true when there is none.
    pub(crate) fn no_repeats(&mut self, names: &[Spanned<String>], key: &str, ctx: &str) -> bool {
        let mut ok = true;
        for (i, n) in names.iter().enumerate() {
            if names[..i].iter().any(|m| m.get_ref() == n.get_ref()) {
                self.error(
                    n.span(),
                    format!("{:?} is listed twice in {key:?} of {ctx}", n.get_ref()),
                );
                ok = false;
            }
        }
        ok
    }

    /// The file span of bytes `range` of the string value `v` (a regex error
    /// inside a pattern, say). Exact for every string form TOML has, escapes
    /// included; falls back to the whole value when the token cannot be
    /// decoded the way the parser did.
    pub(crate) fn span_in_string(&self, v: &Value<'_>, range: Range<usize>) -> Range<usize> {
        let span = v.span();
        let (Some(token), Some(decoded)) = (self.text.get(span.clone()), v.get_ref().as_str())
        else {
            return span;
        };
        match string_offsets(token, decoded) {
            Some(map) => {
                let at = |i: usize| map.get(i.min(map.len().saturating_sub(1))).copied();
                match (at(range.start), at(range.end)) {
                    (Some(s), Some(e)) => span.start + s..span.start + e.max(s),
                    _ => span,
                }
            }
            None => span,
        }
    }
}

/// For a TOML string token (quotes included) and the string the parser
/// decoded from it, the offset in the token of every byte of the decoded
/// string, plus one entry for its end. `None` when the token is not a string
/// or decodes differently (then callers fall back to the whole token).
pub(crate) fn string_offsets(token: &str, decoded: &str) -> Option<Vec<usize>> {
    let len = token.len();
    let (start, end, basic) = if len >= 6 && token.starts_with("'''") {
        (3, len - 3, false)
    } else if len >= 6 && token.starts_with("\"\"\"") {
        (3, len - 3, true)
    } else if len >= 2 && token.starts_with('\'') {
        (1, len - 1, false)
    } else if len >= 2 && token.starts_with('"') {
        (1, len - 1, true)
    } else {
        return None;
    };
    let multi = start == 3;
    let bytes = token.as_bytes();
    let mut i = start;
    // A newline right after the opening delimiter of a multi-line string is trimmed.
    if multi {
        if token[i..].starts_with("\r\n") {
            i += 2;
        } else if token[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut out = String::with_capacity(decoded.len());
    let mut map = Vec::with_capacity(decoded.len() + 1);
    while i < end {
        if basic && bytes[i] == b'\\' {
            let esc = i;
            let next = *bytes.get(i + 1)?;
            let (c, width) = match next {
                b'b' => ('\u{8}', 2),
                b't' => ('\t', 2),
                b'n' => ('\n', 2),
                b'f' => ('\u{c}', 2),
                b'r' => ('\r', 2),
                b'e' => ('\u{1b}', 2),
                b'"' => ('"', 2),
                b'\\' => ('\\', 2),
                b'x' => (hex_char(token.get(i + 2..i + 4)?)?, 4),
                b'u' => (hex_char(token.get(i + 2..i + 6)?)?, 6),
                b'U' => (hex_char(token.get(i + 2..i + 10)?)?, 10),
                b' ' | b'\t' | b'\r' | b'\n' if multi => {
                    // A line-ending backslash: drop every blank and newline after it.
                    i += 1;
                    while i < end && matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n') {
                        i += 1;
                    }
                    continue;
                }
                _ => return None,
            };
            out.push(c);
            map.extend(std::iter::repeat_n(esc, c.len_utf8()));
            i += width;
        } else {
            let c = token.get(i..)?.chars().next()?;
            out.push(c);
            map.extend(i..i + c.len_utf8());
            i += c.len_utf8();
        }
    }
    map.push(end);
    (out == decoded).then_some(map)
}

fn hex_char(digits: &str) -> Option<char> {
    u32::from_str_radix(digits, 16)
        .ok()
        .and_then(char::from_u32)
}

/// The candidate closest to `word` by edit distance (case-insensitive), if
/// any is close enough to be a likely typo.
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let w = word.to_lowercase();
    let limit = (w.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_lowercase();
            // A clipped word ("warn" for "warning") is as likely as a typo.
            let clipped = w.chars().count() >= 3 && lc.starts_with(&w);
            (if clipped { 1 } else { edit_distance(&w, &lc) }, c)
        })
        .filter(|(d, _)| *d <= limit.max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, with a swap of two neighbours counting as one edit
/// (the commonest typo: `contians`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `key = <token>` and checks that byte `at` of the decoded
    /// string maps to the file text `expected` starts with.
    fn check(token: &str, at: usize, expected: &str) {
        let text = format!("k = {token}\n");
        let (root, doc) = parse(Path::new("t.toml"), &text);
        assert!(doc.diags.is_empty(), "{:?}", doc.diags);
        let v = root.get("k").unwrap();
        let span = doc.span_in_string(v, at..at + 1);
        assert!(
            text[span.start..].starts_with(expected),
            "{token}: byte {at} maps to {:?}",
            &text[span.start..]
        );
    }

    #[test]
    fn offsets_inside_every_string_form() {
        check("'a(b'", 1, "(b'");
        check("'''\na(b'''", 1, "(b'''");
        check("'''\r\na(b'''", 1, "(b'''");
        check(r#""a\tb(c""#, 3, "(c");
        check(r#""a\\(b""#, 1, r"\\(b");
        check(r#""a\\(b""#, 2, "(b");
        check(r#""\u00e9(x""#, 2, "(x");
        check(r#""é\u00e9(x""#, 4, "(x");
        check("\"\"\"\nab \\\n   c(d\"\"\"", 4, "(d");
    }

    #[test]
    fn offsets_fall_back_to_the_whole_value() {
        assert_eq!(string_offsets("x", "x"), None);
        assert_eq!(string_offsets("'ab'", "zz"), None);
        assert_eq!(string_offsets(r#""\q""#, "q"), None);
    }

    #[test]
    fn suggestions() {
        let keys = ["contains", "contains_any", "regex", "not_contains"];
        assert_eq!(suggest("contians", keys), Some("contains"));
        assert_eq!(suggest("regx", keys), Some("regex"));
        assert_eq!(suggest("REGEX", keys), Some("regex"));
        assert_eq!(suggest("window", keys), None);
        assert_eq!(
            suggest("warn", ["info", "warning", "error"]),
            Some("warning")
        );
        assert_eq!(suggest("hi", ["low", "high"]), None);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
