//! Gauges: sampling a folder's file count, total size and oldest file age.
//!
//! Owns listing the folders a `[[gauge]]` path matches (resolved like source
//! paths: relative to the site, `/` or `\`, case-insensitive, globs allowed in
//! any component, every matched folder aggregated) and summing the regular
//! files whose names match an `include` glob, non-recursively.
//!
//! Does not decide what a sample means: backlog conditions live in
//! the correlator (`crate::correlate`). Never reads the clock: the sample time is a
//! parameter. A missing folder samples as empty (it may appear later); a file
//! that vanishes between the listing and its `stat` is skipped.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::event::{GaugeId, GaugeSample};
use crate::rule::GaugeDef;
use crate::source::path::{Listing, PathError, PathPattern, Want, name_set};
use crate::time::Timestamp;

/// Errors sampling a folder.
#[derive(Debug, thiserror::Error)]
pub enum GaugeError {
    /// The folder could not be listed.
    #[error("cannot list {path}: {source}")]
    List {
        /// The folder.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The gauge's path or an `include` glob is not usable.
    #[error("gauge {gauge:?}: {source}")]
    Pattern {
        /// The gauge id.
        gauge: String,
        /// What is wrong.
        source: PathError,
    },
}

/// Gauge paths found missing, so that each is logged once until it appears.
static MISSING: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Samples the folder of `def` (resolved against `site`) at `now`.
///
/// `oldest_age` is `now` minus the oldest modification time among the
/// matching files, zero when there are none or the file is from the future.
///
/// # Errors
/// When the folder exists but cannot be listed, or the gauge's path or
/// `include` globs are invalid. A missing folder is an empty one.
pub fn sample(
    def: &GaugeDef,
    id: GaugeId,
    site: &Path,
    now: Timestamp,
) -> Result<GaugeSample, GaugeError> {
    let pattern_error = |source| GaugeError::Pattern {
        gauge: def.id.clone(),
        source,
    };
    let pattern = PathPattern::new(site, &def.path).map_err(pattern_error)?;
    let default_include = ["*".to_owned()];
    let include = if def.include.is_empty() {
        &default_include[..]
    } else {
        &def.include[..]
    };
    let names = name_set(include).map_err(pattern_error)?;
    let folders = pattern.resolve(Want::Dirs, &mut Listing::new());
    note_missing(&def.id, &def.path, folders.is_empty());

    let mut out = GaugeSample {
        gauge: id,
        time: now,
        files: 0,
        bytes: 0,
        oldest_age: Duration::ZERO,
    };
    let mut oldest: Option<SystemTime> = None;
    for folder in folders {
        let entries = match std::fs::read_dir(&folder) {
            Ok(e) => e,
            // Removed between the resolution and now: empty.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(GaugeError::List {
                    path: folder.display().to_string(),
                    source,
                });
            }
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            if !names.is_match(entry.file_name().to_string_lossy().as_ref()) {
                continue;
            }
            // Follows symbolic links; a file gone since the listing is skipped.
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            out.files += 1;
            out.bytes += meta.len();
            if let Ok(m) = meta.modified() {
                oldest = Some(oldest.map_or(m, |o| o.min(m)));
            }
        }
    }
    if let Some(m) = oldest {
        out.oldest_age = now.saturating_since(to_timestamp(m));
    }
    Ok(out)
}

fn to_timestamp(t: SystemTime) -> Timestamp {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => Timestamp::from_unix_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
        Err(e) => Timestamp::from_unix_nanos(
            i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        ),
    }
}

/// Logs a missing gauge folder at debug level, once until it appears again.
fn note_missing(gauge: &str, path: &str, missing: bool) {
    let mut set = MISSING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if missing {
        if set.insert(gauge.to_owned()) {
            tracing::debug!(
                gauge,
                path,
                "gauge folder does not exist (yet); sampling it as empty"
            );
        }
    } else {
        set.remove(gauge);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Location;
    use std::fs::{File, FileTimes};

    fn def(path: &str, include: &[&str]) -> GaugeDef {
        GaugeDef {
            id: "g".to_owned(),
            path: path.to_owned(),
            include: include.iter().map(|s| (*s).to_owned()).collect(),
            every: Duration::from_secs(30),
            location: Location::default(),
        }
    }

    /// Creates `files` as (path, size, mtime in seconds since the epoch),
    /// samples at 1000 s and compares `(files, bytes, oldest_age seconds)`.
    fn check(files: &[(&str, usize, u64)], path: &str, include: &[&str], want: (u64, u64, u64)) {
        let site = tempfile::tempdir().unwrap();
        for (p, size, mtime) in files {
            let full = site.path().join(p);
            if let Some(dir) = p.strip_suffix('/') {
                std::fs::create_dir_all(site.path().join(dir)).unwrap();
                continue;
            }
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, vec![b'x'; *size]).unwrap();
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(*mtime);
            File::options()
                .write(true)
                .open(&full)
                .unwrap()
                .set_times(FileTimes::new().set_modified(t))
                .unwrap();
        }
        let now = Timestamp::from_unix_secs(1000);
        let s = sample(&def(path, include), GaugeId(3), site.path(), now).unwrap();
        assert_eq!(s.gauge, GaugeId(3));
        assert_eq!(s.time, now);
        assert_eq!(
            (s.files, s.bytes, s.oldest_age.as_secs()),
            want,
            "{path} {include:?}"
        );
    }

    #[test]
    fn counts_sizes_and_ages() {
        let files = [
            ("Inboxes/despoolr.box/receive/a.ins", 10, 400),
            ("Inboxes/despoolr.box/receive/B.INS", 5, 900),
            ("Inboxes/despoolr.box/receive/c.tmp", 7, 100),
            ("Inboxes/despoolr.box/receive/sub/d.ins", 100, 1),
        ];
        check(&files, r"Inboxes\despoolr.box\receive", &[], (3, 22, 900));
        check(
            &files,
            r"inboxes\DESPOOLR.BOX\Receive",
            &["*"],
            (3, 22, 900),
        );
        check(
            &files,
            "Inboxes/despoolr.box/receive",
            &["*.ins"],
            (2, 15, 600),
        );
        check(
            &files,
            "Inboxes/despoolr.box/receive",
            &["*.INS", "*.tmp"],
            (3, 22, 900),
        );
        check(
            &files,
            "Inboxes/despoolr.box/receive",
            &["*.nothing"],
            (0, 0, 0),
        );
    }

    #[test]
    fn globbed_folders_aggregate_and_missing_is_empty() {
        let files = [
            ("Inboxes/schedule.box/outboxes/LAN/1.job", 1, 500),
            ("Inboxes/schedule.box/outboxes/RAS/2.job", 2, 700),
            ("Inboxes/schedule.box/outboxes/empty/", 0, 0),
        ];
        check(&files, r"Inboxes\schedule.box\outboxes\*", &[], (2, 3, 500));
        check(&files, r"Inboxes\nowhere", &[], (0, 0, 0));
        // A file from the future has age zero.
        check(&[("q/a", 1, 5000)], "q", &[], (1, 1, 0));
    }

    #[cfg(unix)]
    #[test]
    fn entries_that_vanish_before_their_stat_are_skipped() {
        let site = tempfile::tempdir().unwrap();
        let dir = site.path().join("box");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("real"), b"abc").unwrap();
        // Listed, but its stat fails as for a file deleted in between.
        std::os::unix::fs::symlink(dir.join("gone"), dir.join("dangling")).unwrap();
        let s = sample(&def("box", &[]), GaugeId(0), site.path(), Timestamp::EPOCH).unwrap();
        assert_eq!((s.files, s.bytes), (1, 3));
    }

    #[test]
    fn invalid_globs_are_errors() {
        let site = tempfile::tempdir().unwrap();
        let err = sample(
            &def("q", &["[x"]),
            GaugeId(0),
            site.path(),
            Timestamp::EPOCH,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid glob"), "{err}");
    }
}
