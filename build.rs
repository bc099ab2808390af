//! Bundles the project's rule pack into the binary: lists `rules/**/*.toml`
//! (skipping folders named `tests`, any case, and dot-names, exactly as
//! `rule::read_paths` does) and writes `$OUT_DIR/bundled_rules.rs`, a table
//! of `(path, include_str!(…))` read by `rule::bundled()`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=rules");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let root = manifest.join("rules");
    let mut files = Vec::new();
    if root.is_dir() {
        walk(&root, &mut files);
    }
    files.sort();
    let mut code = String::from(
        "/// Every bundled rule file: its path as shown in diagnostics, and its text.\n\
         pub(super) static FILES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let shown = file
            .strip_prefix(&manifest)
            .unwrap_or(file)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let _ = writeln!(
            code,
            "    ({shown:?}, include_str!({:?})),",
            file.to_string_lossy()
        );
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("bundled_rules.rs"), code)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if !name.eq_ignore_ascii_case("tests") {
                walk(&path, files);
            }
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            files.push(path);
        }
    }
}
