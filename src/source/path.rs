//! Path patterns of sources and gauges, resolved case-insensitively on every
//! platform.
//!
//! A pattern is written with `/` or `\` separators, relative to the site root
//! unless absolute, and may carry glob characters (`*`, `?`, `[…]`, `{a,b}`)
//! in any component; a component that is exactly `**` matches any depth of
//! folders. Every component is matched without regard to case, because SMS
//! writes `Despool.log` and `despool.log` alike. A literal component whose
//! exact spelling exists is taken as is (one `stat`, no listing); otherwise
//! the folder is listed and every case-insensitive match followed.
//!
//! Owns pattern parsing and resolution to existing paths. Does not open or
//! read files, and a missing folder is not an error: it resolves to nothing
//! and may appear later.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use globset::{GlobBuilder, GlobMatcher};

/// A source or gauge path that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// The pattern is empty.
    #[error("the path is empty")]
    Empty,
    /// A component is not a valid glob.
    #[error("invalid glob {component:?} in path {pattern:?}: {reason}")]
    Glob {
        /// The whole pattern.
        pattern: String,
        /// The component in error.
        component: String,
        /// What globset said.
        reason: String,
    },
}

/// How deep `**` descends: bounds the walk when a site has folder loops.
const MAX_DEPTH: usize = 16;

/// A parsed path pattern.
#[derive(Clone, Debug)]
pub struct PathPattern {
    text: String,
    root: PathBuf,
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    /// A literal name: as written, and lower-cased for comparison.
    Literal { name: String, lower: String },
    /// A glob over one name.
    Glob(GlobMatcher),
    /// `**`: zero or more folders.
    AnyDepth,
    /// `..`.
    Parent,
}

/// What the last component of a pattern must name.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Want {
    /// Regular files (sources).
    Files,
    /// Folders (gauges).
    Dirs,
}

impl PathPattern {
    /// Parses `pattern`, relative to `site` unless it is absolute.
    ///
    /// # Errors
    /// [`PathError`] when the pattern is empty or a component is not a valid glob.
    pub fn new(site: &Path, pattern: &str) -> Result<PathPattern, PathError> {
        let native: String = pattern
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' {
                    std::path::MAIN_SEPARATOR
                } else {
                    c
                }
            })
            .collect();
        if native.trim().is_empty() {
            return Err(PathError::Empty);
        }
        let path = Path::new(&native);
        let mut root = if path.is_absolute() {
            PathBuf::new()
        } else {
            site.to_path_buf()
        };
        let mut parts = Vec::new();
        for comp in path.components() {
            match comp {
                Component::Prefix(p) => root.push(p.as_os_str()),
                Component::RootDir => root.push(Component::RootDir.as_os_str()),
                Component::CurDir => {}
                Component::ParentDir => parts.push(Part::Parent),
                Component::Normal(name) => {
                    let name = name.to_string_lossy();
                    parts.push(Part::parse(pattern, &name)?);
                }
            }
        }
        if parts.is_empty() {
            return Err(PathError::Empty);
        }
        Ok(PathPattern {
            text: pattern.to_owned(),
            root,
            parts,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The longest leading part of the pattern without glob characters (the
    /// root and its literal components as written): the folder to watch for
    /// notifications about this pattern.
    pub fn literal_prefix(&self) -> PathBuf {
        let mut out = self.root.clone();
        for part in &self.parts {
            match part {
                Part::Literal { name, .. } => out.push(name),
                Part::Parent => out.push(".."),
                Part::Glob(_) | Part::AnyDepth => break,
            }
        }
        out
    }

    /// Every existing path the pattern matches, sorted: regular files or
    /// folders as `want` says. `listing` caches folder listings across the
    /// patterns of one scan.
    pub fn resolve(&self, want: Want, listing: &mut Listing) -> Vec<PathBuf> {
        let mut frontier = vec![self.root.clone()];
        let last = self.parts.len().saturating_sub(1);
        for (i, part) in self.parts.iter().enumerate() {
            let kind = if i == last {
                match want {
                    Want::Files => Kind::File,
                    Want::Dirs => Kind::Dir,
                }
            } else {
                Kind::Dir
            };
            let mut next = Vec::new();
            for dir in &frontier {
                match part {
                    Part::Parent => {
                        let up = dir.join("..");
                        if kind_of(&up) == Some(kind) {
                            next.push(up);
                        }
                    }
                    Part::Literal { name, lower } => {
                        let exact = dir.join(name);
                        if kind_of(&exact) == Some(kind) {
                            next.push(exact);
                            continue;
                        }
                        for e in listing.entries(dir).iter() {
                            if e.kind == Some(kind) && e.lower == *lower {
                                next.push(dir.join(&e.name));
                            }
                        }
                    }
                    Part::Glob(glob) => {
                        for e in listing.entries(dir).iter() {
                            if e.kind == Some(kind) && glob.is_match(&e.lossy) {
                                next.push(dir.join(&e.name));
                            }
                        }
                    }
                    Part::AnyDepth => {
                        // `**` as the last component means "every file below".
                        let mut dirs = vec![(dir.clone(), 0usize)];
                        while let Some((d, depth)) = dirs.pop() {
                            if kind == Kind::Dir {
                                next.push(d.clone());
                            }
                            for e in listing.entries(&d).iter() {
                                if e.kind == Some(Kind::Dir) && depth < MAX_DEPTH && !e.link {
                                    dirs.push((d.join(&e.name), depth + 1));
                                } else if e.kind == Some(Kind::File) && kind == Kind::File {
                                    next.push(d.join(&e.name));
                                }
                            }
                        }
                    }
                }
            }
            next.sort();
            next.dedup();
            frontier = next;
            if frontier.is_empty() {
                break;
            }
        }
        frontier
    }
}

impl Part {
    fn parse(pattern: &str, name: &str) -> Result<Part, PathError> {
        if name == "**" {
            return Ok(Part::AnyDepth);
        }
        if !name.contains(['*', '?', '[', '{']) {
            return Ok(Part::Literal {
                name: name.to_owned(),
                lower: name.to_lowercase(),
            });
        }
        let glob = GlobBuilder::new(name)
            .case_insensitive(true)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .map_err(|e| PathError::Glob {
                pattern: pattern.to_owned(),
                component: name.to_owned(),
                reason: e.kind().to_string(),
            })?;
        Ok(Part::Glob(glob.compile_matcher()))
    }
}

/// Compiles file-name globs (gauge `include`) into one case-insensitive set.
///
/// # Errors
/// [`PathError::Glob`] for the first invalid glob.
pub fn name_set(globs: &[String]) -> Result<globset::GlobSet, PathError> {
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g)
            .case_insensitive(true)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .map_err(|e| PathError::Glob {
                pattern: g.clone(),
                component: g.clone(),
                reason: e.kind().to_string(),
            })?;
        set.add(glob);
    }
    set.build().map_err(|e| PathError::Glob {
        pattern: globs.join(", "),
        component: String::new(),
        reason: e.kind().to_string(),
    })
}

/// The kind of a directory entry, following symbolic links.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        Some(Kind::File)
    } else if meta.is_dir() {
        Some(Kind::Dir)
    } else {
        None
    }
}

/// One entry of a folder listing.
#[derive(Clone, Debug)]
pub struct Entry {
    name: OsString,
    lossy: String,
    lower: String,
    kind: Option<Kind>,
    link: bool,
}

/// Folder listings taken during one scan, so that many patterns over the
/// same folder list it once. A folder that is missing or cannot be listed
/// lists as empty.
#[derive(Debug, Default)]
pub struct Listing {
    dirs: HashMap<PathBuf, Rc<[Entry]>>,
}

impl Listing {
    /// An empty cache.
    pub fn new() -> Listing {
        Listing::default()
    }

    fn entries(&mut self, dir: &Path) -> Rc<[Entry]> {
        if let Some(e) = self.dirs.get(dir) {
            return Rc::clone(e);
        }
        let entries: Rc<[Entry]> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|de| {
                    let name = de.file_name();
                    let lossy = name.to_string_lossy().into_owned();
                    let ft = de.file_type().ok();
                    let link = ft.is_some_and(|t| t.is_symlink());
                    let kind = match ft {
                        Some(t) if t.is_file() => Some(Kind::File),
                        Some(t) if t.is_dir() => Some(Kind::Dir),
                        _ => kind_of(&de.path()),
                    };
                    Entry {
                        lower: lossy.to_lowercase(),
                        lossy,
                        name,
                        kind,
                        link,
                    }
                })
                .collect(),
            Err(e) => {
                tracing::trace!(dir = %dir.display(), error = %e, "folder not listed");
                Rc::from(Vec::new())
            }
        };
        self.dirs.insert(dir.to_path_buf(), Rc::clone(&entries));
        entries
    }

    /// The files in `path`'s folder whose names equal `path`'s rotated name
    /// (`X.log` → `X.lo_`, the SMS and ConfigMgr convention), compared
    /// case-insensitively.
    pub fn rotated_siblings(&mut self, path: &Path) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Vec::new();
        };
        let Some(rotated) = rotated_name(&name.to_string_lossy()) else {
            return Vec::new();
        };
        let rotated = rotated.to_lowercase();
        self.entries(dir)
            .iter()
            .filter(|e| e.kind == Some(Kind::File) && e.lower == rotated)
            .map(|e| dir.join(&e.name))
            .collect()
    }
}

/// `X.log` → `X.lo_`: the name a log is rotated to. `None` for a name without
/// an extension or one that already ends in `_`.
pub fn rotated_name(name: &str) -> Option<String> {
    let dot = name.rfind('.')?;
    if dot + 1 >= name.len() || name.ends_with('_') {
        return None;
    }
    let mut out = name.to_owned();
    out.pop();
    out.push('_');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creates `files` (and their folders) under a temp site, resolves
    /// `pattern` and compares the matches, relative to the site and with `/`.
    fn check(files: &[&str], pattern: &str, want: Want, expected: &[&str]) {
        let site = tempfile::tempdir().unwrap();
        for f in files {
            let p = site.path().join(f);
            if let Some(stripped) = f.strip_suffix('/') {
                std::fs::create_dir_all(site.path().join(stripped)).unwrap();
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, b"x\n").unwrap();
            }
        }
        let pat = PathPattern::new(site.path(), pattern).unwrap();
        let got: Vec<String> = pat
            .resolve(want, &mut Listing::new())
            .iter()
            .map(|p| {
                p.strip_prefix(site.path())
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        assert_eq!(got, expected, "pattern {pattern:?}");
    }

    #[test]
    fn literal_paths_any_case_any_separator() {
        let files = ["Logs/Despool.log", "Logs/other.log"];
        check(
            &files,
            r"Logs\despool.log",
            Want::Files,
            &["Logs/Despool.log"],
        );
        check(
            &files,
            "logs/DESPOOL.LOG",
            Want::Files,
            &["Logs/Despool.log"],
        );
        check(&files, "Logs/missing.log", Want::Files, &[]);
        check(&files, "Nowhere/x.log", Want::Files, &[]);
        check(
            &files,
            "./Logs/../Logs/Despool.log",
            Want::Files,
            &["Logs/../Logs/Despool.log"],
        );
    }

    #[test]
    fn globs_in_any_component() {
        let files = [
            "Logs/a.log",
            "Logs/B.LOG",
            "Logs/c.lo_",
            "Logs/sub/d.log",
            "Inboxes/schedule.box/outboxes/LAN/1.job",
            "Inboxes/schedule.box/outboxes/RAS/",
            "Inboxes/schedule.box/outboxes/x.txt",
        ];
        check(
            &files,
            r"Logs\*.log",
            Want::Files,
            &["Logs/B.LOG", "Logs/a.log"],
        );
        check(
            &files,
            "l*/*.LO?",
            Want::Files,
            &["Logs/B.LOG", "Logs/a.log", "Logs/c.lo_"],
        );
        check(
            &files,
            "Logs/**/*.log",
            Want::Files,
            &["Logs/B.LOG", "Logs/a.log", "Logs/sub/d.log"],
        );
        check(
            &files,
            r"inboxes\Schedule.box\OUTBOXES\*",
            Want::Dirs,
            &[
                "Inboxes/schedule.box/outboxes/LAN",
                "Inboxes/schedule.box/outboxes/RAS",
            ],
        );
        check(
            &files,
            "Logs/{a,c}.*",
            Want::Files,
            &["Logs/a.log", "Logs/c.lo_"],
        );
    }

    #[test]
    fn absolute_patterns_ignore_the_site() {
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(site.path().join("Logs")).unwrap();
        std::fs::write(site.path().join("Logs/x.log"), b"").unwrap();
        let abs = format!("{}/LOGS/X.LOG", site.path().display());
        let pat = PathPattern::new(Path::new("/nonexistent"), &abs).unwrap();
        let got = pat.resolve(Want::Files, &mut Listing::new());
        assert_eq!(got, vec![site.path().join("Logs/x.log")]);
        assert_eq!(pat.literal_prefix(), PathBuf::from(&abs));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(matches!(
            PathPattern::new(Path::new("."), ""),
            Err(PathError::Empty)
        ));
        let err = PathPattern::new(Path::new("."), "Logs/[a.log").unwrap_err();
        assert!(err.to_string().contains("invalid glob \"[a.log\""), "{err}");
    }

    #[test]
    fn rotated_names() {
        assert_eq!(rotated_name("Despool.log").as_deref(), Some("Despool.lo_"));
        assert_eq!(rotated_name("x.lo_"), None);
        assert_eq!(rotated_name("noext"), None);
        let site = tempfile::tempdir().unwrap();
        std::fs::write(site.path().join("DESPOOL.LO_"), b"").unwrap();
        let got = Listing::new().rotated_siblings(&site.path().join("despool.log"));
        assert_eq!(got, vec![site.path().join("DESPOOL.LO_")]);
    }
}
