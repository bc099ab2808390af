//! Scenario tests of the tailer: each is a precise sequence of file
//! operations on a temp site and the exact records expected, every line once,
//! in order per file. Time is passed in; nothing sleeps.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::rule::{Format, Location};
use crate::time::TimeZoneSpec;

/// One record as a sink saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Got {
    pub file: String,
    pub key: FileKey,
    pub offset: u64,
    pub message: String,
    pub cut: bool,
}

pub(super) fn source(id: &str, path: &str) -> SourceDef {
    SourceDef {
        id: id.to_owned(),
        path: path.to_owned(),
        format: Format::Plain,
        timezone: TimeZoneSpec::Utc,
        clock_tolerance: crate::rule::DEFAULT_CLOCK_TOLERANCE,
        location: Location::default(),
    }
}

/// A temp site, a tailer over it, and the clock the tests move.
pub(super) struct Harness {
    pub site: tempfile::TempDir,
    pub sources: Vec<SourceDef>,
    pub options: TailOptions,
    pub tailer: Tailer,
    pub now: Timestamp,
    /// Bytes per read.
    pub chunk: usize,
}

impl Harness {
    pub fn new(sources: &[(&str, &str)], read_from: ReadFrom) -> Harness {
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir(site.path().join("Logs")).unwrap();
        let sources: Vec<SourceDef> = sources.iter().map(|(id, p)| source(id, p)).collect();
        let options = TailOptions {
            site: site.path().to_path_buf(),
            read_from,
            max_line_bytes: 1 << 16,
            rotated_grace: Duration::from_secs(5),
            max_open_files: 512,
        };
        let tailer = Tailer::new(sources.clone(), options.clone(), Checkpoints::default());
        Harness {
            site,
            sources,
            options,
            tailer,
            now: Timestamp::from_unix_secs(1_000_000),
            chunk: 4096,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.site.path().join(rel)
    }

    /// Appends `text` to `rel`, creating it when missing.
    pub fn write(&self, rel: &str, text: &str) {
        append(&self.path(rel), text);
    }

    pub fn rename(&self, from: &str, to: &str) {
        std::fs::rename(self.path(from), self.path(to)).unwrap();
    }

    /// Copy-then-truncate, the ConfigMgr way.
    pub fn copytruncate(&self, from: &str, to: &str) {
        std::fs::copy(self.path(from), self.path(to)).unwrap();
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.path(from))
            .unwrap();
    }

    pub fn truncate(&self, rel: &str) {
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.path(rel))
            .unwrap();
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = self.now.saturating_add(Duration::from_secs(secs));
    }

    /// Rescans, then reads every ready file to its end; returns the records.
    pub fn poll_full(&mut self) -> Vec<Got> {
        self.tailer.rescan(self.now);
        drain(&mut self.tailer, self.chunk)
    }

    /// [`Harness::poll_full`], messages only.
    pub fn poll(&mut self) -> Vec<String> {
        self.poll_full().into_iter().map(|g| g.message).collect()
    }

    /// A graceful restart: checkpoints saved to disk, loaded, new tailer.
    pub fn restart(&mut self) {
        let cp = self.tailer.checkpoints();
        self.start_from(cp);
    }

    /// A new tailer from `checkpoints`, through a save and a load.
    pub fn start_from(&mut self, checkpoints: Checkpoints) {
        let state = self.site.path().join("checkpoints.json");
        checkpoints.save(&state).unwrap();
        let loaded = Checkpoints::load(&state).unwrap();
        assert_eq!(loaded, checkpoints);
        self.tailer = Tailer::new(self.sources.clone(), self.options.clone(), loaded);
    }
}

pub(super) fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Reads every ready file until each reports `eof`.
pub(super) fn drain(tailer: &mut Tailer, chunk: usize) -> Vec<Got> {
    let mut got = Vec::new();
    for _round in 0..1000 {
        let ready = tailer.ready();
        if ready.is_empty() {
            return got;
        }
        for i in ready {
            for _ in 0..1_000_000 {
                let st = tailer
                    .read(i, chunk, |v, r| {
                        got.push(Got {
                            file: Path::new(&**v.path)
                                .file_name()
                                .unwrap()
                                .to_string_lossy()
                                .into_owned(),
                            key: v.key,
                            offset: r.offset,
                            message: r.message.to_owned(),
                            cut: r.cut,
                        })
                    })
                    .unwrap();
                if st.eof {
                    break;
                }
            }
        }
    }
    panic!("files stay ready forever: {:?}", tailer.ready());
}

/// Lines `prefix0..prefixN` each with a newline, and the messages they give.
fn lines(prefix: &str, range: std::ops::Range<usize>) -> (String, Vec<String>) {
    let msgs: Vec<String> = range.map(|i| format!("{prefix}{i}")).collect();
    let text = msgs.iter().map(|m| format!("{m}\n")).collect();
    (text, msgs)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn partial_lines_wait_for_their_newline_and_crlf_and_empty_lines_are_lines() {
    let mut h = Harness::new(&[("s", r"Logs\x.log")], ReadFrom::Beginning);
    h.write("Logs/x.log", "one\r\ntw");
    assert_eq!(h.poll(), strs(&["one"]));
    // Still partial at EOF of a live file: nothing, however often we look.
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/x.log", "o\n\n\r\nthree");
    assert_eq!(h.poll(), strs(&["two", "", ""]));
    h.write("Logs/x.log", "\n");
    let got = h.poll_full();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].message.as_str(), got[0].offset), ("three", 12));
}

#[test]
fn any_chunking_gives_the_same_lines() {
    let (text, want) = lines("line ", 0..50);
    for chunk in [1, 2, 3, 7, 64, 4096] {
        let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
        h.chunk = chunk;
        h.write("Logs/x.log", &text);
        assert_eq!(h.poll(), want, "chunk {chunk}");
    }
}

#[test]
fn paths_match_case_insensitively_and_missing_folders_appear_later() {
    let mut h = Harness::new(&[("s", r"LOGS\sub\DESPOOL.log")], ReadFrom::Beginning);
    assert_eq!(h.poll(), Vec::<String>::new());
    std::fs::create_dir(h.path("Logs/Sub")).unwrap();
    h.write("Logs/Sub/Despool.LOG", "hello\n");
    assert_eq!(h.poll(), strs(&["hello"]));
}

#[test]
fn read_from_end_skips_history_but_not_later_files() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::End);
    h.write("Logs/a.log", "old1\nold2\npar");
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/a.log", "tial\nnew\n");
    h.write("Logs/b.log", "b1\n");
    assert_eq!(h.poll(), strs(&["partial", "new", "b1"]));
}

#[test]
fn read_from_end_does_not_apply_to_a_source_with_checkpoints() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::End);
    h.write("Logs/a.log", "a1\n");
    h.poll();
    h.write("Logs/a.log", "a2\n");
    let cp = h.tailer.checkpoints();
    // Created while the agent was stopped: read from its beginning.
    h.write("Logs/b.log", "b1\n");
    h.start_from(cp);
    assert_eq!(h.poll(), strs(&["a2", "b1"]));
}

#[test]
fn read_from_end_does_not_apply_to_a_source_scanned_before_without_files() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::End);
    assert_eq!(h.poll(), Vec::<String>::new());
    let cp = h.tailer.checkpoints();
    assert_eq!((cp.files.len(), cp.scanned.clone()), (0, strs(&["s"])));
    // The first log of the source appears while the agent is stopped.
    h.write("Logs/a.log", "a1\n");
    h.start_from(cp);
    assert_eq!(h.poll(), strs(&["a1"]));
    // A real first start still skips history.
    h.start_from(Checkpoints::default());
    assert_eq!(h.poll(), Vec::<String>::new());
}

#[test]
fn rename_rotation_with_and_without_unread_data() {
    for unread in [false, true] {
        let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
        h.write("Logs/x.log", "a1\n");
        assert_eq!(h.poll(), strs(&["a1"]));
        if unread {
            h.write("Logs/x.log", "a2\na3\n");
        }
        h.rename("Logs/x.log", "Logs/x.lo_");
        h.write("Logs/x.log", "b1\n");
        let got = h.poll_full();
        let want = if unread {
            strs(&["a2", "a3", "b1"])
        } else {
            strs(&["b1"])
        };
        assert_eq!(
            got.iter().map(|g| g.message.clone()).collect::<Vec<_>>(),
            want
        );
        assert_eq!(got.last().unwrap().offset, 0);
        if unread {
            assert_ne!(got[0].key, got[2].key);
        }
        assert_eq!(h.tailer.stats().rotations, 1);
    }
}

#[test]
fn late_writes_to_a_rotated_file_are_read_until_the_grace_period_ends() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    let mut writer = OpenOptions::new()
        .create(true)
        .append(true)
        .open(h.path("Logs/x.log"))
        .unwrap();
    writer.write_all(b"a1\n").unwrap();
    assert_eq!(h.poll(), strs(&["a1"]));
    h.rename("Logs/x.log", "Logs/x.lo_");
    h.write("Logs/x.log", "b1\n");
    assert_eq!(h.poll(), strs(&["b1"]));
    h.advance(3);
    writer.write_all(b"a2 late\n").unwrap();
    assert_eq!(h.poll(), strs(&["a2 late"]));
    // Quiet since the late write: still open at 4 s, closed at 5 s.
    h.advance(4);
    assert_eq!(h.poll(), Vec::<String>::new());
    assert_eq!(h.tailer.stats().files_open, 2);
    h.advance(1);
    assert_eq!(h.poll(), Vec::<String>::new());
    assert_eq!(h.tailer.stats().files_open, 1);
    assert_eq!(h.tailer.stats().files_closed, 1);
    // Closed means closed: later writes through the old handle are not read.
    writer.write_all(b"a3 too late\n").unwrap();
    h.write("Logs/x.log", "b2\n");
    assert_eq!(h.poll(), strs(&["b2"]));
}

#[test]
fn a_rotated_file_with_a_partial_last_line_hands_it_out_when_closed() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a1\na2 unfinished");
    assert_eq!(h.poll(), strs(&["a1"]));
    h.rename("Logs/x.log", "Logs/x.lo_");
    assert_eq!(h.poll(), Vec::<String>::new());
    h.advance(5);
    assert_eq!(h.poll(), strs(&["a2 unfinished"]));
    assert_eq!(h.tailer.stats().files_open, 0);
}

#[test]
fn lo_replaced_twice_under_a_glob_that_matches_it() {
    let mut h = Harness::new(&[("s", "Logs/x.*")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a1\n");
    assert_eq!(h.poll(), strs(&["a1"]));
    h.write("Logs/x.log", "a2\n");
    h.rename("Logs/x.log", "Logs/x.lo_");
    h.write("Logs/x.log", "b1\n");
    assert_eq!(h.poll(), strs(&["a2", "b1"]));
    h.advance(10);
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/x.log", "b2\n");
    // The second rotation replaces the first `.lo_` while unread data waits.
    h.rename("Logs/x.log", "Logs/x.lo_");
    h.write("Logs/x.log", "c1\n");
    assert_eq!(h.poll(), strs(&["b2", "c1"]));
    h.advance(10);
    assert_eq!(h.poll(), Vec::<String>::new());
    h.advance(10);
    h.write("Logs/x.log", "c2\n");
    assert_eq!(h.poll(), strs(&["c2"]));
    assert_eq!(h.tailer.stats().files_open, 1);
    // And after a restart the `.lo_` is still known as read.
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
}

#[test]
fn copytruncate_reads_new_content_from_the_start_and_never_rereads_the_copy() {
    for glob in ["Logs/x.log", "Logs/x.*"] {
        let mut h = Harness::new(&[("s", glob)], ReadFrom::Beginning);
        h.write("Logs/x.log", "a1\na2\n");
        assert_eq!(h.poll(), strs(&["a1", "a2"]));
        h.write("Logs/x.log", "a3\n");
        h.copytruncate("Logs/x.log", "Logs/x.lo_");
        h.write("Logs/x.log", "b1\n");
        let got = h.poll_full();
        let msgs: Vec<_> = got.iter().map(|g| g.message.clone()).collect();
        assert_eq!(msgs, strs(&["a3", "b1"]), "{glob}");
        // a3 comes from the copy under the original's key and offset.
        assert_eq!((got[0].file.as_str(), got[0].offset), ("x.lo_", 6));
        assert_eq!((got[1].file.as_str(), got[1].offset), ("x.log", 0));
        assert_ne!(got[0].key, got[1].key);
        h.advance(10);
        h.write("Logs/x.log", "b2\n");
        assert_eq!(h.poll(), strs(&["b2"]), "{glob}");
        h.restart();
        h.write("Logs/x.log", "b3\n");
        assert_eq!(h.poll(), strs(&["b3"]), "{glob}");
        assert_eq!(h.tailer.stats().gaps, 0);
    }
}

#[test]
fn copytruncate_seen_between_the_copy_and_the_truncation() {
    let mut h = Harness::new(&[("s", "Logs/x.*")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a1\n");
    assert_eq!(h.poll(), strs(&["a1"]));
    h.write("Logs/x.log", "a2\n");
    std::fs::copy(h.path("Logs/x.log"), h.path("Logs/x.lo_")).unwrap();
    // The copy is recognised; a2 comes from the original.
    assert_eq!(h.poll(), strs(&["a2"]));
    h.truncate("Logs/x.log");
    h.write("Logs/x.log", "b1\n");
    assert_eq!(h.poll(), strs(&["b1"]));
}

/// ConfigMgr copies a big log before truncating it: a scan may find the
/// copy half written. It is neither read as a new file nor resumed as a
/// file "written to again" while it grows.
#[test]
fn a_copy_seen_while_it_is_being_written_is_not_read_again() {
    let mut h = Harness::new(&[("s", "Logs/x.*")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a1\na2\n");
    assert_eq!(h.poll(), strs(&["a1", "a2"]));
    // Empty, then shorter than what was read: in progress.
    h.write("Logs/x.lo_", "");
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/x.lo_", "a1\na");
    assert_eq!(h.poll(), Vec::<String>::new());
    // Past what was read, mid-line: a copy, still growing.
    h.write("Logs/x.log", "a3\n");
    h.write("Logs/x.lo_", "2\na");
    assert_eq!(h.poll(), strs(&["a3"]));
    h.write("Logs/x.lo_", "3\n");
    assert_eq!(h.poll(), Vec::<String>::new());
    h.truncate("Logs/x.log");
    h.write("Logs/x.log", "b1\n");
    assert_eq!(h.poll(), strs(&["b1"]));
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
    // Another file at the rotated name is a new file.
    std::fs::remove_file(h.path("Logs/x.lo_")).unwrap();
    h.write("Logs/x.lo_", "other\n");
    assert_eq!(h.poll(), strs(&["other"]));
    assert_eq!(h.tailer.stats().gaps, 0);
}

/// The live agent checks followed files more often than it lists folders:
/// a truncation can be handled before any scan has seen the copy. A copy
/// holding only what was read is then known as read all the same.
#[test]
fn a_copy_first_seen_when_the_truncation_is_handled_is_not_read_again() {
    let mut h = Harness::new(&[("s", "Logs/x.*")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a1\na2\n");
    assert_eq!(h.poll(), strs(&["a1", "a2"]));
    h.write("Logs/x.log", "a3\n");
    assert_eq!(h.poll(), strs(&["a3"]));
    h.copytruncate("Logs/x.log", "Logs/x.lo_");
    h.write("Logs/x.log", "b1\n");
    h.tailer.poll(h.now);
    let got: Vec<String> = drain(&mut h.tailer, 4096)
        .into_iter()
        .map(|g| g.message)
        .collect();
    assert_eq!(got, strs(&["b1"]));
    assert_eq!(h.poll(), Vec::<String>::new());
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
    assert_eq!(h.tailer.stats().gaps, 0);
}

#[test]
fn truncate_and_regrow_faster_than_a_poll_is_seen_by_content() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.write("Logs/x.log", "aaaa\nbbbb\n");
    assert_eq!(h.poll(), strs(&["aaaa", "bbbb"]));
    h.truncate("Logs/x.log");
    h.write("Logs/x.log", "cccc\ndddd\neeee\n");
    assert_eq!(h.poll(), strs(&["cccc", "dddd", "eeee"]));
    // Same size, other content.
    h.truncate("Logs/x.log");
    h.write("Logs/x.log", "ffff\ngggg\nhhhh\n");
    assert_eq!(h.poll(), strs(&["ffff", "gggg", "hhhh"]));
    assert_eq!(h.tailer.stats().truncations, 2);
}

#[test]
fn truncate_to_smaller_then_grow() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a long first line\n");
    assert_eq!(h.poll(), strs(&["a long first line"]));
    h.truncate("Logs/x.log");
    h.write("Logs/x.log", "b\n");
    assert_eq!(h.poll(), strs(&["b"]));
    h.write("Logs/x.log", "c\n");
    assert_eq!(h.poll(), strs(&["c"]));
}

#[test]
fn the_same_header_line_in_every_file_does_not_make_them_one_file() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::Beginning);
    h.write("Logs/a.log", "HEADER\na1\n");
    h.write("Logs/b.log", "HEADER\n");
    let got = h.poll_full();
    let msgs: Vec<_> = got.iter().map(|g| g.message.clone()).collect();
    assert_eq!(msgs, strs(&["HEADER", "a1", "HEADER"]));
    assert_ne!(got[0].key, got[2].key);
    // A new file that is only the header, and a rewrite of `a` with it.
    h.write("Logs/c.log", "HEADER\n");
    h.write("Logs/b.log", "b1\n");
    assert_eq!(h.poll(), strs(&["b1", "HEADER"]));
    h.truncate("Logs/a.log");
    h.write("Logs/a.log", "HEADER\na2\n");
    let got = h.poll_full();
    let msgs: Vec<_> = got.iter().map(|g| g.message.clone()).collect();
    assert_eq!(msgs, strs(&["HEADER", "a2"]));
    assert_ne!(got[0].key, FileKey(0));
}

#[test]
fn graceful_restart_rereads_nothing() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::Beginning);
    h.write("Logs/a.log", "a1\na2\npart");
    h.write("Logs/b.log", "b1\n");
    let first = h.poll_full();
    assert_eq!(first.len(), 3);
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/a.log", "ial\na3\n");
    let got = h.poll_full();
    let msgs: Vec<_> = got.iter().map(|g| g.message.clone()).collect();
    assert_eq!(msgs, strs(&["partial", "a3"]));
    // The key survives the restart.
    assert_eq!(got[0].key, first[0].key);
}

#[test]
fn after_a_crash_rereads_carry_the_same_key_and_offsets() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.write("Logs/x.log", "a1\n");
    let early = h.poll_full();
    let stale = h.tailer.checkpoints();
    h.write("Logs/x.log", "a2\na3\n");
    let before = h.poll_full();
    // kill -9: the last saved checkpoints are the stale ones.
    h.start_from(stale);
    let again = h.poll_full();
    assert_eq!(again, before);
    assert_eq!(again[0].key, early[0].key);
    // Even with no checkpoint at all, the key is derived the same way.
    h.start_from(Checkpoints::default());
    let all = h.poll_full();
    assert_eq!(all[0], early[0]);
}

#[test]
fn rotation_while_stopped_drains_the_rotated_file_first() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::End);
    h.write("Logs/x.log", "history\n");
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/x.log", "a1\n");
    assert_eq!(h.poll(), strs(&["a1"]));
    h.write("Logs/x.log", "a2\n");
    let cp = h.tailer.checkpoints();
    h.rename("Logs/x.log", "Logs/x.lo_");
    h.write("Logs/x.log", "b1\n");
    h.start_from(cp);
    assert_eq!(h.poll(), strs(&["a2", "b1"]));
    h.advance(10);
    assert_eq!(h.poll(), Vec::<String>::new());
    assert_eq!(h.tailer.stats().files_open, 1);
}

#[test]
fn copytruncate_while_stopped_drains_the_copy_first() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.write("Logs/x.log", "HEADER\na1\n");
    assert_eq!(h.poll(), strs(&["HEADER", "a1"]));
    h.write("Logs/x.log", "a2\n");
    let cp = h.tailer.checkpoints();
    h.copytruncate("Logs/x.log", "Logs/x.lo_");
    h.write("Logs/x.log", "HEADER\nb1\n");
    h.start_from(cp);
    let got = h.poll_full();
    let msgs: Vec<_> = got.iter().map(|g| g.message.clone()).collect();
    assert_eq!(msgs, strs(&["a2", "HEADER", "b1"]));
    // Same handle, same header: still a new key for the new incarnation.
    assert_ne!(got[0].key, got[1].key);
}

#[test]
fn two_hundred_files_created_while_running() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::End);
    assert_eq!(h.poll(), Vec::<String>::new());
    let mut want = Vec::new();
    for i in 0..200 {
        h.write(
            &format!("Logs/f{i:03}.log"),
            &format!("f{i} one\nf{i} two\n"),
        );
        want.push(format!("f{i} one"));
        want.push(format!("f{i} two"));
    }
    let mut got = h.poll();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(h.tailer.stats().files_open, 200);
    assert_eq!(h.poll(), Vec::<String>::new());
    h.write("Logs/f007.log", "f7 three\n");
    assert_eq!(h.poll(), strs(&["f7 three"]));
}

#[test]
fn deletion_while_draining_reads_the_rest_then_closes() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    let (text, want) = lines("line ", 0..20);
    h.write("Logs/x.log", &text);
    h.tailer.rescan(h.now);
    let mut got = Vec::new();
    let i = h.tailer.ready()[0];
    h.tailer
        .read(i, 20, |_, r| got.push(r.message.to_owned()))
        .unwrap();
    assert_eq!(got, strs(&["line 0", "line 1"]));
    std::fs::remove_file(h.path("Logs/x.log")).unwrap();
    got.extend(h.poll());
    assert_eq!(got, want);
    assert_eq!(h.poll(), Vec::<String>::new());
    assert_eq!(h.tailer.stats().files_open, 0);
    assert_eq!(h.tailer.stats().files_closed, 1);
    h.write("Logs/x.log", "new\n");
    assert_eq!(h.poll(), strs(&["new"]));
}

#[test]
fn long_lines_are_cut_flagged_and_counted() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.options.max_line_bytes = 16;
    h.tailer = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
    h.chunk = 7;
    h.write(
        "Logs/x.log",
        &format!("short\n{}\nafter\n", "x".repeat(100)),
    );
    let got = h.poll_full();
    // The cut itself is the line buffer's (crate::parse::lines); here: the
    // file stays followed, the cut record is flagged and counted, and the
    // line after it comes out whole.
    let summary: Vec<_> = got.iter().map(|g| (g.message.as_str(), g.cut)).collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert_eq!(
        (summary[0], summary[2]),
        (("short", false), ("after", false))
    );
    let long = &got[1];
    assert!("x".repeat(100).starts_with(&long.message));
    assert_eq!(long.cut, long.message.len() < 100);
    let cut = got.iter().filter(|g| g.cut).count() as u64;
    assert_eq!(h.tailer.stats().lines_cut, cut);
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
}

#[test]
fn a_restart_while_a_cut_line_is_skipped_does_not_repeat_it() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.options.max_line_bytes = 16;
    h.tailer = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
    h.write("Logs/x.log", &format!("a\n{}", "x".repeat(100)));
    let got = h.poll_full();
    assert_eq!(got.len(), 2);
    assert!(got[1].cut);
    // Stopped while the rest of the long line is still being skipped: the
    // checkpoint stays on the cut line (so its tail is not taken for a line
    // of its own) and says that its record was handed out.
    let cp = h.tailer.checkpoints();
    assert_eq!((cp.files[0].offset, cp.files[0].skip_before), (2, 3));
    h.restart();
    h.write("Logs/x.log", &format!("{}\nafter\n", "y".repeat(50)));
    assert_eq!(h.poll(), strs(&["after"]));
}

/// A CMTrace record (`format = "cmtrace"`) with the KB-style attributes.
fn cmtrace(message: &str) -> String {
    format!(
        "<![LOG[{message}]LOG]!><time=\"10:35:27.046+300\" date=\"01-15-2009\" component=\"SMS_DESPOOLER\" context=\"\" type=\"1\" thread=\"4844\" file=\"despool.cpp:1\">"
    )
}

#[test]
fn a_cmtrace_record_held_across_a_restart_is_neither_cut_nor_repeated() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    h.sources[0].format = Format::Cmtrace;
    h.tailer = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
    // Two records and the start of a third on one line.
    h.write(
        "Logs/x.log",
        &format!("{}{}<![LOG[c starts\n", cmtrace("a"), cmtrace("b")),
    );
    assert_eq!(h.poll(), strs(&["a", "b"]));
    let before_crash = h.tailer.checkpoints();
    assert_eq!(before_crash.files[0].offset, 0);
    h.write("Logs/x.log", "c goes on\n");
    assert_eq!(h.poll(), Vec::<String>::new());
    // A graceful restart while `c` is held: nothing is handed out again.
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
    let end = cmtrace("c ends");
    let end = &end["<![LOG[".len()..];
    h.write("Logs/x.log", &format!("{end}{}\n", cmtrace("d")));
    let resumed = h.poll_full();
    // Exactly what one uninterrupted read of the file gives, same offsets
    // and key (so the same `event.id`s).
    let mut fresh = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
    fresh.rescan(h.now);
    let whole = drain(&mut fresh, 4096);
    let msgs: Vec<_> = whole.iter().map(|g| g.message.clone()).collect();
    assert_eq!(msgs, strs(&["a", "b", "c starts\nc goes on\nc ends", "d"]));
    assert_eq!(resumed, whole[2..]);
    // After a crash, from the checkpoint taken while `c` had just started:
    // `c` and `d` again, identical; `a` and `b` not.
    h.start_from(before_crash);
    assert_eq!(h.poll_full(), whole[2..]);
}

#[test]
fn checkpoints_that_match_nothing_are_not_trusted() {
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::End);
    h.write("Logs/x.log", "a1\na2\n");
    h.poll();
    let mut cp = h.tailer.checkpoints();
    // The file at the path is not what the checkpoint describes.
    cp.files[0].head.hash ^= 1;
    h.start_from(cp);
    assert_eq!(h.poll(), strs(&["a1", "a2"]));
    // A checkpoint file that is garbage is an error the caller logs; the
    // tailer then starts as on a first start.
    let state = h.path("checkpoints.json");
    std::fs::write(&state, b"{\"version\": 1, \"files\": [").unwrap();
    assert!(Checkpoints::load(&state).is_err());
}

#[test]
fn bad_indices_and_bad_patterns_are_errors_not_panics() {
    let mut h = Harness::new(
        &[("s", "Logs/[x.log"), ("t", "Logs/t.log")],
        ReadFrom::Beginning,
    );
    h.write("Logs/t.log", "t1\n");
    assert_eq!(h.poll(), strs(&["t1"]));
    // An absurd read size is bounded, not an allocation failure.
    h.write("Logs/t.log", "t2\n");
    h.tailer.rescan(h.now);
    let i = h.tailer.ready()[0];
    let mut got = Vec::new();
    let st = h
        .tailer
        .read(i, usize::MAX, |_, r| got.push(r.message.to_owned()))
        .unwrap();
    assert_eq!((st.bytes, st.eof, got), (3, true, strs(&["t2"])));
    let err = h.tailer.read(99, 10, |_, _| {}).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(h.tailer.file(0).is_some());
    assert!(h.tailer.file(99).is_none());
}

#[test]
fn one_file_matched_by_two_sources_feeds_both() {
    let mut h = Harness::new(
        &[("a", "Logs/*.log"), ("b", "Logs/x.log")],
        ReadFrom::Beginning,
    );
    h.write("Logs/x.log", "x1\n");
    let mut got = Vec::new();
    h.tailer.rescan(h.now);
    for i in h.tailer.ready() {
        while !h
            .tailer
            .read(i, 100, |v, r| got.push((v.source, r.message.to_owned())))
            .unwrap()
            .eof
        {}
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (SourceId(0), "x1".to_owned()),
            (SourceId(1), "x1".to_owned())
        ]
    );
}

#[test]
fn poll_sees_growth_of_followed_files_but_not_new_files() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::Beginning);
    h.write("Logs/a.log", "a1\n");
    assert_eq!(h.poll(), strs(&["a1"]));
    h.write("Logs/a.log", "a2\n");
    h.write("Logs/b.log", "b1\n");
    h.tailer.poll(h.now);
    assert_eq!(
        drain(&mut h.tailer, 64)
            .into_iter()
            .map(|g| g.message)
            .collect::<Vec<_>>(),
        strs(&["a2"])
    );
    assert_eq!(h.poll(), strs(&["b1"]));
}

#[test]
fn the_tailer_can_move_to_the_reader_thread() {
    fn send<T: Send>(_: &T) {}
    let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
    send(&h.tailer);
    h.write("Logs/x.log", "a\n");
    let got = h.poll_full();
    assert_eq!(got[0].file, "x.log");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, failure_persistence: None, ..Default::default() })]

    /// Appends in any chunking, read in any chunk size, with polls at random
    /// moments: every complete line once, in order; the unfinished tail never.
    #[test]
    fn random_chunking(
        text in "([a-z ]{0,12}(\r?\n)){0,20}[a-z]{0,5}",
        cuts in proptest::collection::vec(0usize..200, 0..8),
        chunk in 1usize..40,
    ) {
        let mut h = Harness::new(&[("s", "Logs/x.log")], ReadFrom::Beginning);
        h.chunk = chunk;
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
        cuts.push(text.len());
        cuts.sort_unstable();
        let mut got = Vec::new();
        let mut at = 0;
        for cut in cuts {
            h.write("Logs/x.log", &text[at..cut]);
            at = cut;
            got.extend(h.poll());
        }
        let mut want: Vec<String> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect();
        want.pop(); // the unfinished tail (empty when the text ends with a newline)
        proptest::prop_assert_eq!(got, want);
    }
}

/// The real SMS lines of the KB corpus (`../shared/corpus`), written with
/// CRLF in uneven chunks across a rename rotation, come out once each, in
/// order, as whole records.
#[test]
fn kb_corpus_lines_survive_chunking_and_rotation() {
    let corpus = std::fs::read_to_string("../shared/corpus/kb-sms-log-lines.txt").unwrap();
    let lines: Vec<&str> = corpus.lines().filter(|l| !l.starts_with("# ")).collect();
    assert!(lines.len() > 100, "corpus too small: {}", lines.len());
    let mut h = Harness::new(&[("despool", r"Logs\Despool.log")], ReadFrom::Beginning);
    h.sources[0].format = Format::Sms;
    h.tailer = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
    h.chunk = 97;
    let mut got = Vec::new();
    let mut poll = |h: &mut Harness| {
        h.tailer.rescan(h.now);
        for _ in 0..1000 {
            let ready = h.tailer.ready();
            if ready.is_empty() {
                break;
            }
            for i in ready {
                while !h
                    .tailer
                    .read(i, h.chunk, |_, r| got.push(r.raw.to_owned()))
                    .unwrap()
                    .eof
                {}
            }
        }
    };
    let text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    let half = text.len() / 2;
    let mut at = 0;
    let mut rotated = false;
    for (i, step) in [1usize, 700, 33, 4096, 5].iter().cycle().enumerate() {
        if at >= text.len() {
            break;
        }
        let mut end = (at + step).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if !rotated && end >= half {
            rotated = true;
            // Rotate at a line boundary, with unread lines in the old file.
            let cut = at + text[at..].find("\r\n").map_or(0, |p| p + 2);
            h.write("Logs/Despool.log", &text[at..cut]);
            h.rename("Logs/Despool.log", "Logs/Despool.lo_");
            at = cut;
            continue;
        }
        h.write("Logs/Despool.log", &text[at..end]);
        at = end;
        if i % 3 == 0 {
            poll(&mut h);
        }
    }
    poll(&mut h);
    assert_eq!(got, lines);
    assert_eq!(h.tailer.stats().rotations, 1);
}

#[test]
fn open_handles_stay_under_the_cap_and_parked_files_wake_up() {
    let mut h = Harness::new(&[("s", "Logs/*.log")], ReadFrom::Beginning);
    h.options.max_open_files = 5;
    h.tailer = Tailer::new(h.sources.clone(), h.options.clone(), Checkpoints::default());
    let mut want = Vec::new();
    for i in 0..20 {
        h.write(&format!("Logs/f{i:02}.log"), &format!("f{i} one\n"));
        want.push(format!("f{i} one"));
    }
    let mut got = h.poll();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // Read to their end now: the next scan parks all but five.
    assert_eq!(h.poll(), Vec::<String>::new());
    assert_eq!(h.tailer.stats().files_open, 5);
    assert_eq!(h.tailer.stats().files_parked, 15);
    // A parked file that grows is reopened and read.
    h.write("Logs/f00.log", "f0 two\n");
    assert_eq!(h.poll(), strs(&["f0 two"]));
    // One rotated while parked, with unread lines: found by identity.
    h.write("Logs/f01.log", "f1 two\n");
    h.rename("Logs/f01.log", "Logs/f01.lo_");
    h.write("Logs/f01.log", "f1 new\n");
    assert_eq!(h.poll(), strs(&["f1 two", "f1 new"]));
    // One truncated while parked.
    h.truncate("Logs/f02.log");
    h.write("Logs/f02.log", "f2 again\n");
    assert_eq!(h.poll(), strs(&["f2 again"]));
    h.advance(10);
    assert_eq!(h.poll(), Vec::<String>::new());
    assert!(h.tailer.stats().files_open <= 5, "{:?}", h.tailer.stats());
    // A restart re-reads nothing, parked or not.
    h.restart();
    assert_eq!(h.poll(), Vec::<String>::new());
}
