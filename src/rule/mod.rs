//! The rule language: rule files (TOML) → validated, compiled [`RuleSet`];
//! rule test files (SPEC §6) → [`testfile::TestFile`].
//!
//! Loading collects *every* problem in every file as a located
//! [`Diagnostic`]; it never stops at the first. Reading files is the only I/O
//! here; validation and compilation are pure.

pub mod model;
pub mod testfile;

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

/// The rule pack compiled into the binary (the project's `rules/` folder,
/// without `rules/tests`).
pub fn bundled() -> Vec<RuleText> {
    Vec::new()
}

/// Collects the rule files named by `paths`: each is a `.toml` file, or a
/// folder searched recursively for `*.toml`, skipping folders named `tests`.
/// Files are returned sorted by path so that loading is deterministic.
///
/// # Errors
/// A diagnostic per path that does not exist or cannot be read.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<RuleText>, Diagnostics> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::read_to_string(p) {
            Ok(text) => out.push(RuleText {
                path: p.clone(),
                text,
            }),
            Err(e) => errors.push(Diagnostic::whole_file(
                p,
                format!("cannot read rule file: {e}"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(errors))
    }
}

/// Parses, validates and compiles rule files into one [`RuleSet`].
///
/// # Errors
/// Every problem in every file, located.
pub fn compile(files: &[RuleText]) -> Result<RuleSet, Diagnostics> {
    let _ = files;
    Ok(RuleSet::default())
}

/// [`read_paths`] then [`compile`].
///
/// # Errors
/// As those two.
pub fn load(paths: &[PathBuf]) -> Result<RuleSet, Diagnostics> {
    compile(&read_paths(paths)?)
}

/// Loads one file (used by tests and `check`).
///
/// # Errors
/// As [`load`].
pub fn load_file(path: &Path) -> Result<RuleSet, Diagnostics> {
    load(&[path.to_path_buf()])
}
