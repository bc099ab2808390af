//! The rule language: rule files (TOML) → validated, compiled [`RuleSet`];
//! rule test files (SPEC §6) → [`testfile::TestFile`].
//!
//! Loading collects *every* problem in every file as a located
//! [`Diagnostic`]; it never stops at the first. Reading files
//! ([`read_paths`]) is the only I/O here; validation and compilation
//! ([`compile`]) are pure. What the compiled model means is documented in
//! [`model`]; this page is the reference for rule authors.
//!
//! # Files
//!
//! `--rules PATH` (and the config's `rules`) names rule files or folders.
//! A folder is searched recursively for `*.toml` (any case), skipping
//! folders named `tests` (any case: they hold rule tests, SPEC §6) and
//! files and folders whose name starts with `.` (editor and VCS clutter).
//! Files of one folder load in path order; arguments load in the order
//! given; a file named twice (directly or through a folder) loads once. A
//! path that does not exist, or a folder without any rule file, is an
//! error. Files may be UTF-8 (with or without BOM) or UTF-16 with a BOM (as
//! Notepad saves "Unicode").
//!
//! Without `--rules`, the pack compiled into the binary ([`bundled`]) is
//! used; its diagnostics name files as `rules/…` (their place in the
//! project). With `--rules`, the files given replace the pack, unless one
//! of them says `bundled = true` at its top level: then the pack is loaded
//! first (once), and the files build on it. This is decided by [`compile`]
//! itself, so `check`, `run`, `replay` and rule tests agree.
//!
//! The author's guide is `docs/rules.md`.
//!
//! # Keys
//!
//! Everything of SPEC §3, with these rules where the contract is silent:
//!
//! - `schema = 1` may be omitted (it means 1); any other value is an error,
//!   so a file written for a later language version is never misread.
//! - `bundled = true` (a boolean) loads the bundled pack before all files.
//! - `[[override]]` (see `overlay.rs`): `id` names a source, gauge or rule
//!   of any loaded file (unknown: error, with a hint when the id is in the
//!   pack and `bundled = true` is missing); every other key must be a key of
//!   the target's kind and replaces the target's key (lists whole; one key
//!   of an exclusive group drops the others); later overrides win. The
//!   merged table is then read like any other, every problem located in the
//!   file its key comes from. A key the merge cannot copy (a target's key
//!   written as a `[table]` section or dotted keys) is an error naming it.
//! - `[defaults]` (`host`, `labels`) may appear in several files; later
//!   files win key by key, and `labels` merge label by label. Label values
//!   are strings; integers and booleans are accepted and kept as written.
//! - Sources, gauges and rules share one id namespace across all files.
//!   An id is non-empty and uses only ASCII letters, digits, `-`, `_` and
//!   `.`, because ids travel into alerts, command lines and file names.
//! - Every table kind must be written as an array of tables (`[[match]]`);
//!   `[match]` is an error that says so.
//! - Enum words (`format`, `severity`, `severity_at_least`, `metric`,
//!   `status`) are lower case, exactly as documented.
//! - Durations: see [`crate::time::parse_duration`]. These must be longer
//!   than zero: a threshold's `window`, a correlation's `within`, the
//!   `within` of `preceded_by`, an absence's `for`, a gauge's `every`, a
//!   backlog condition's `rise`. `suppress_for`, `resolve_after`, a
//!   backlog's `for` and `keep_firing_for` may be `"0s"`.
//! - `source.path` and `gauge.include` are checked as globs (`\` is read as
//!   a path separator, never as an escape).
//! - A gauge has a folder (`path`, with `include` and `every`), log lines
//!   (`source`, one id, and `regex`, both or neither), or both; `include`
//!   and `every` need `path`. The regex names a capture `files` and no
//!   capture but `files`, `bytes` and `oldest_age_s`. A log-fed gauge adds
//!   a feed rule to the set (see [`model`]).
//! - Line rules: exactly one of `contains`, `contains_any`, `regex`. An
//!   empty `contains` (or `not_contains`) is an error: it would match (or
//!   skip) every line; write `regex = ''` to match every line on purpose.
//!   `thread` is a whole number in `0..=4294967295`.
//! - `regex` must compile with the `regex` crate's default limits
//!   (nesting depth, compiled size); the diagnostic points at the offending
//!   character inside the pattern.
//! - `group_by` of a line rule names `host.name`, `component`, `thread`,
//!   `severity`, `log.file.path` or a named capture of the rule's regex.
//!   `group_by` of a correlation names `host.name` or a field some member
//!   groups by (otherwise it could never have a value). A field listed
//!   twice is an error, as is any id listed twice in `source`,
//!   `contains_any`, `all_of` or `sequence`.
//! - `threshold.count` is 1 to 4294967295; `resolve_after` defaults to
//!   `window`.
//! - Backlog conditions: `metric` and exactly one of `above`, `at_least`,
//!   `below`; `rise` only with `at_least`. Values are non-negative numbers
//!   for `files` and `bytes`, duration strings for `oldest_age`.
//! - A correlation needs at least two members. Members and `preceded_by`
//!   name rules (never sources or gauges); a correlation that reaches
//!   itself through other correlations is a cycle, reported on every
//!   correlation in it.
//!
//! # Diagnostics
//!
//! Each problem is one sentence at the exact spot (the key for an unknown
//! key, the value for a bad value, the table header for a missing key, the
//! character inside a regex), with a suggestion when a close spelling
//! exists. They come sorted by file (in load order), then by position.
//! When a file's TOML syntax is broken, only its syntax errors are
//! reported: the rest of that file cannot be read reliably.

mod compile;
pub mod model;
mod overlay;
mod pattern;
pub(crate) mod raw;
pub mod testfile;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub use model::*;

use crate::diag::{Diagnostic, Diagnostics};

/// The text of one rule file and the path it is reported under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleText {
    /// Path shown in diagnostics and used to resolve nothing else.
    pub path: PathBuf,
    /// The TOML text.
    pub text: String,
}

mod pack {
    // Generated by build.rs: `FILES: &[(&str, &str)]`, path and contents of
    // every bundled rule file.
    include!(concat!(env!("OUT_DIR"), "/bundled_rules.rs"));
}

/// The rule pack compiled into the binary (the project's `rules/` folder,
/// without `rules/tests`), in path order, reported as `rules/…`.
pub fn bundled() -> Vec<RuleText> {
    pack::FILES
        .iter()
        .map(|(path, text)| RuleText {
            path: PathBuf::from(path),
            text: text.strip_prefix('\u{feff}').unwrap_or(text).to_owned(),
        })
        .collect()
}

/// Collects the rule files named by `paths`: each is a `.toml` file, or a
/// folder searched recursively for `*.toml`, skipping folders named `tests`.
/// Files are returned sorted by path so that loading is deterministic.
///
/// # Errors
/// A diagnostic per path that does not exist or cannot be read, and per
/// folder that holds no rule file.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<RuleText>, Diagnostics> {
    let (texts, problems) = read_all(paths);
    if problems.is_empty() {
        Ok(texts)
    } else {
        Err(Diagnostics(problems))
    }
}

/// Parses, validates and compiles rule files into one [`RuleSet`].
///
/// # Errors
/// Every problem in every file, located, sorted by file (in the order of
/// `files`) then position.
pub fn compile(files: &[RuleText]) -> Result<RuleSet, Diagnostics> {
    compile::compile(files)
}

/// [`read_paths`] then [`compile`]. The files that could be read are
/// compiled even when others could not, so one run reports everything.
///
/// # Errors
/// As those two: problems reading come first, then problems in the files.
pub fn load(paths: &[PathBuf]) -> Result<RuleSet, Diagnostics> {
    let (texts, mut problems) = read_all(paths);
    match compile(&texts) {
        Ok(set) if problems.is_empty() => Ok(set),
        Ok(_) => Err(Diagnostics(problems)),
        Err(Diagnostics(more)) => {
            problems.extend(more);
            Err(Diagnostics(problems))
        }
    }
}

/// Loads one file (used by tests and `check`).
///
/// # Errors
/// As [`load`].
pub fn load_file(path: &Path) -> Result<RuleSet, Diagnostics> {
    load(&[path.to_path_buf()])
}

/// Reads every rule file under `paths`; never stops at the first problem.
fn read_all(paths: &[PathBuf]) -> (Vec<RuleText>, Vec<Diagnostic>) {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(
                Diagnostic::whole_file(p, "no such rule file or folder (check the path)"),
            ),
            Err(e) => problems.push(Diagnostic::whole_file(
                p,
                format!("cannot read rule path: {e}"),
            )),
            Ok(m) if m.is_dir() => {
                let mut found = Vec::new();
                let mut seen = HashSet::new();
                walk(p, &mut found, &mut problems, &mut seen);
                found.sort();
                if found.is_empty() {
                    problems.push(Diagnostic::whole_file(
                        p,
                        "this folder holds no *.toml rule file (folders named tests are skipped)",
                    ));
                }
                files.extend(found);
            }
            Ok(_) => files.push(p.clone()),
        }
    }
    let mut loaded = HashSet::new();
    let mut texts = Vec::with_capacity(files.len());
    for path in files {
        // The same file named twice (directly and through its folder) would
        // otherwise report every id in it as a duplicate.
        let identity = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if !loaded.insert(identity) {
            continue;
        }
        match read_text(&path) {
            Ok(text) => texts.push(RuleText { path, text }),
            Err(message) => problems.push(Diagnostic::whole_file(&path, message)),
        }
    }
    (texts, problems)
}

/// Collects `*.toml` under `dir`, skipping `tests` folders and dot-names.
/// `seen` holds the folders already walked, so a symlink loop ends.
fn walk(
    dir: &Path,
    found: &mut Vec<PathBuf>,
    problems: &mut Vec<Diagnostic>,
    seen: &mut HashSet<PathBuf>,
) {
    let identity = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(identity) {
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Diagnostic::whole_file(
                dir,
                format!("cannot list rule folder: {e}"),
            ));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(Diagnostic::whole_file(
                    dir,
                    format!("cannot list rule folder: {e}"),
                ));
                continue;
            }
        };
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        // Follows symlinks: a linked rule file or folder counts like a real one.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            if !name.eq_ignore_ascii_case("tests") {
                walk(&path, found, problems, seen);
            }
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            found.push(path);
        }
    }
}

/// Reads a rule or test file as text: UTF-8 (a BOM is dropped) or UTF-16
/// with a BOM.
///
/// # Errors
/// One sentence naming the problem, for a whole-file diagnostic.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read file: {e}"))?;
    decode_text(&bytes)
}

fn decode_text(bytes: &[u8]) -> Result<String, String> {
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(bytes)
        && encoding != encoding_rs::UTF_8
    {
        let (text, had_errors) = encoding.decode_with_bom_removal(bytes);
        if had_errors {
            return Err(format!(
                "file is not valid {} text (save it as UTF-8)",
                encoding.name()
            ));
        }
        return Ok(text.into_owned());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).map_err(|e| {
        format!(
            "file is not valid UTF-8 text (invalid byte at offset {}; save it as UTF-8)",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests;
