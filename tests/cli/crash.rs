//! Crashes and broken state through the real binary (SPEC §8, issue 4):
//! `kill -9` at random points under load re-reads at most the lines since
//! the last saved checkpoint, and what it re-reads carries the same
//! `event.id`; a CMTrace record held across a restart is neither cut nor
//! repeated; corrupt, empty or half-written state is set aside and
//! reported; a state folder that cannot be written is refused at start and
//! reported (and retried) while running.

use std::collections::HashMap;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Rng, Site, bin, wait_until};
use crate::tail::{
    Doc, PROBE_FILE, WAIT, append, docs, every_line, expect, lines, settle, wait_docs,
};

/// The saved tail positions by file name: `(offset, skip_before)`.
fn saved_positions(site: &Site) -> HashMap<String, (u64, u64)> {
    let Ok(bytes) = std::fs::read(site.path("state/state.json")) else {
        return HashMap::new();
    };
    let state: Value = serde_json::from_slice(&bytes).unwrap();
    state["checkpoints"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = f["path"].as_str().unwrap();
            let name = path.rsplit(['/', '\\']).next().unwrap().to_owned();
            let skip = f.get("skip_before").and_then(Value::as_u64).unwrap_or(0);
            (name, (f["offset"].as_u64().unwrap(), skip))
        })
        .collect()
}

/// What was known when the agent was killed.
struct Kill {
    /// Complete documents in the alert file.
    docs: usize,
    /// The last saved positions.
    positions: HashMap<String, (u64, u64)>,
    /// How long before the kill they were saved.
    saved_ago: Duration,
}

/// Appends lines to two logs in random chunks (partial lines included)
/// until told to stop; returns how many lines each got.
fn writer(site_root: std::path::PathBuf, stop: mpsc::Receiver<()>) -> [usize; 2] {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let mut counts = [0usize; 2];
    let mut pending = [String::new(), String::new()];
    let names = ["w1.log", "w2.log"];
    let mut files: Vec<std::fs::File> = names
        .iter()
        .map(|n| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(site_root.join("Logs").join(n))
                .unwrap()
        })
        .collect();
    loop {
        let which = rng.below(2) as usize;
        for _ in 0..1 + rng.below(8) {
            counts[which] += 1;
            pending[which].push_str(&format!(
                "{} line {:06} {}\n",
                &names[which][..2],
                counts[which],
                "x".repeat(rng.below(60) as usize)
            ));
        }
        // Up to a random cut, so a kill may find a partial line.
        let cut = rng.below(pending[which].len() as u64 + 1) as usize;
        let cut = (0..=cut)
            .rev()
            .find(|&c| pending[which].is_char_boundary(c))
            .unwrap_or(0);
        let chunk: String = pending[which].drain(..cut).collect();
        std::io::Write::write_all(&mut files[which], chunk.as_bytes()).unwrap();
        // Paced by the stop signal (about 1,500 lines a second).
        match stop.recv_timeout(Duration::from_millis(3)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    for (f, rest) in files.iter_mut().zip(&pending) {
        std::io::Write::write_all(f, rest.as_bytes()).unwrap();
    }
    counts
}

#[test]
fn kill_9_at_random_points_under_load_loses_nothing_and_repeats_only_same_ids() {
    let site = Site::new();
    site.write("rules.toml", every_line(r"Logs\w*.log", "plain"));
    std::fs::create_dir_all(site.path("site/Logs")).unwrap();
    let mut rng = Rng(0x9E6C_63D0_676A_9A99);
    let mut agent = site.start("rules.toml", &[]);
    let (stop_tx, stop_rx) = mpsc::channel();
    let root = site.root();
    let writer = std::thread::spawn(move || writer(root, stop_rx));
    let mut kills = Vec::new();
    for round in 0..6 {
        // A random point in the stream; once right after the start.
        let now = docs(&site).len();
        let target = if round == 2 {
            now
        } else {
            now + 1 + rng.below(700) as usize
        };
        wait_until(WAIT, "documents before a kill", || {
            docs(&site).len() >= target
        });
        let out = agent.kill();
        assert!(!out.status.success());
        let saved = std::fs::metadata(site.path("state/state.json"))
            .and_then(|m| m.modified())
            .unwrap();
        kills.push(Kill {
            docs: docs(&site).len(),
            positions: saved_positions(&site),
            saved_ago: saved.elapsed().unwrap_or_default(),
        });
        agent = site.start("rules.toml", &[]);
    }
    stop_tx.send(()).unwrap();
    let counts = writer.join().unwrap();
    let mut want = Vec::new();
    for name in ["w1.log", "w2.log"] {
        let text = std::fs::read_to_string(site.path(&format!("site/Logs/{name}"))).unwrap();
        want.extend(expect(name, 0, &text));
    }
    assert_eq!(want.len(), counts[0] + counts[1]);
    let mut got = Vec::new();
    wait_until(WAIT, "every line after the last restart", || {
        got = docs(&site);
        let seen: std::collections::HashSet<(String, u64)> =
            got.iter().map(|d| (d.file.clone(), d.offset)).collect();
        want.iter().all(|w| seen.contains(&(w.0.clone(), w.1)))
    });
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let got = docs(&site);

    // No gap and nothing invented: every line, and only lines.
    let mut first: HashMap<(String, u64), &Doc> = HashMap::new();
    let mut repeats = 0;
    for d in &got {
        match first.get(&(d.file.clone(), d.offset)) {
            None => {
                first.insert((d.file.clone(), d.offset), d);
            }
            // A repeat is the same line with the same id.
            Some(f) => {
                assert_eq!((&f.message, &f.id), (&d.message, &d.id), "repeat of {f:?}");
                repeats += 1;
            }
        }
    }
    let mut unique: Vec<_> = first.values().map(|d| d.line()).collect();
    unique.sort();
    let mut sorted_want = want.clone();
    sorted_want.sort();
    assert_eq!(unique, sorted_want);
    // What each restart re-read starts exactly at the saved position: not
    // before it (graceful parts re-read nothing), not after it (no gap).
    for (k, kill) in kills.iter().enumerate() {
        for (name, (offset, _)) in &kill.positions {
            if let Some(d) = got[kill.docs..].iter().find(|d| &d.file == name) {
                assert_eq!(d.offset, *offset, "first line of {name} after kill {k}");
            }
        }
    }
    // Per file, in order (repeats aside).
    for name in ["w1.log", "w2.log"] {
        let mut offsets: Vec<u64> = got
            .iter()
            .filter(|d| d.file == name)
            .map(|d| d.offset)
            .collect();
        let mut seen = std::collections::HashSet::new();
        offsets.retain(|o| seen.insert(*o));
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{name} in order");
    }
    // What is re-read is bounded by time, not by a share of the documents:
    // positions are saved about every second under load, so each kill
    // re-reads at most the last second or so (kills here come faster than
    // that, so repeats can outnumber new lines; that is by design).
    for (k, kill) in kills.iter().enumerate() {
        assert!(
            kill.saved_ago < Duration::from_secs(3),
            "kill {k}: positions saved {:?} before it ({repeats} repeats of {} documents)",
            kill.saved_ago,
            got.len()
        );
    }
}

/// A CMTrace record in KB style.
fn record(message: &str) -> String {
    format!(
        "<![LOG[{message}]LOG]!><time=\"10:35:27.046+300\" date=\"01-15-2009\" component=\"SMS_DESPOOLER\" context=\"\" type=\"1\" thread=\"4844\" file=\"despool.cpp:1\">"
    )
}

/// The offset of the record whose message starts with `start` in `text`.
fn offset_of(text: &str, start: &str) -> u64 {
    text.find(&format!("<![LOG[{start}")).unwrap() as u64
}

#[test]
fn a_cmtrace_record_held_across_kills_and_restarts_is_neither_cut_nor_repeated() {
    let site = Site::new();
    site.write("rules.toml", every_line(r"Logs\*.log", "cmtrace"));
    site.write(&format!("site/Logs/{PROBE_FILE}"), "");
    let log = "Logs/ccm.log";
    let mut agent = site.start("rules.toml", &[]);
    // Two records and the start of a third on one line.
    let one = format!("{}{}<![LOG[c starts\r\n", record("a"), record("b"));
    append(&site, log, &one);
    wait_docs(&site, 2);
    // Once the position holding `c` is saved: kill.
    let held = offset_of(&one, "c");
    wait_until(WAIT, "the position of the held record", || {
        saved_positions(&site).get("ccm.log") == Some(&(0, held))
    });
    agent.kill();
    append(&site, log, "c goes on\r\n");
    agent = site.start("rules.toml", &[]);
    // Probes show that the restarted agent has read the file: still only
    // `a` and `b`, once each.
    settle(&site);
    assert_eq!(
        docs(&site)
            .iter()
            .map(|d| d.message.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    agent.kill();
    let end = record("c ends");
    let two = format!(
        "{}{}<![LOG[e starts\r\n",
        &end["<![LOG[".len()..],
        record("d")
    );
    append(&site, log, &two);
    agent = site.start("rules.toml", &[]);
    wait_docs(&site, 4);
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let end = record("e ends");
    append(&site, log, format!("{}\r\n", &end["<![LOG[".len()..]));
    agent = site.start("rules.toml", &[]);
    wait_docs(&site, 5);
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let text = std::fs::read_to_string(site.path(&format!("site/{log}"))).unwrap();
    let at = |m: &str| ("ccm.log".to_owned(), offset_of(&text, m), m.to_owned());
    let mut c = at("c starts");
    c.2 = "c starts\nc goes on\nc ends".into();
    let mut e = at("e starts");
    e.2 = "e starts\ne ends".into();
    assert_eq!(lines(&docs(&site)), [at("a"), at("b"), c, at("d"), e]);
}

#[test]
fn corrupt_empty_or_half_written_state_is_set_aside_reported_and_survived() {
    let site = Site::new();
    site.write("rules.toml", every_line(r"Logs\app.log", "plain"));
    let agent = site.start("rules.toml", &[]);
    append(&site, "Logs/app.log", "a1\n");
    wait_docs(&site, 1);
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let good = std::fs::read(site.path("state/state.json")).unwrap();
    // A save torn by a crash is only ever the temporary file: ignored.
    site.write("state/state.tmp", &good[..good.len() / 3]);
    let agent = site.start("rules.toml", &[]);
    append(&site, "Logs/app.log", "a2\n");
    wait_docs(&site, 2);
    let out = agent.stop();
    assert!(!out.stderr.contains("unreadable"), "{}", out.stderr);
    let good = std::fs::read(site.path("state/state.json")).unwrap();
    let mut want = expect("app.log", 0, "a1\na2\n");
    let mut offset = 6;
    for (i, bad) in [
        b"".to_vec(),
        good[..good.len() / 2].to_vec(),
        b"\x00\xffnot json".to_vec(),
    ]
    .iter()
    .enumerate()
    {
        site.write("state/state.json", bad);
        // Written while stopped: with no usable state this start is a
        // first start, and `--read-from end` skips it.
        let skipped = format!("while stopped {i}\n");
        append(&site, "Logs/app.log", &skipped);
        offset += skipped.len() as u64;
        let agent = site.start("rules.toml", &[]);
        let line = format!("after {i}\n");
        append(&site, "Logs/app.log", &line);
        want.extend(expect("app.log", offset, &line));
        offset += line.len() as u64;
        wait_docs(&site, want.len());
        let out = agent.stop();
        assert!(out.status.success(), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("the saved state is unreadable; starting afresh"),
            "{}",
            out.stderr
        );
        assert_eq!(
            std::fs::read(site.path("state/state.json.corrupt")).unwrap(),
            *bad
        );
        assert_eq!(lines(&docs(&site)), want);
    }
}

/// Runs `logwarden run` on `site` (no waiting for readiness) and returns
/// its exit code and stderr.
fn run_once(site: &Site, wrapper: Option<&str>) -> (Option<i32>, String) {
    let logwarden = env!("CARGO_BIN_EXE_logwarden");
    let args = [
        "run",
        "--site",
        &site.root().display().to_string(),
        "--rules",
        &site.path("rules.toml").display().to_string(),
        "--state",
        &site.path("state").display().to_string(),
        "--output",
        &site.alerts().display().to_string(),
    ]
    .map(|s| s.to_owned());
    let out = match wrapper {
        None => bin().args(&args).output().unwrap(),
        Some(script) => Command::new("unshare")
            .arg("--mount")
            .arg("--propagation")
            .arg("private")
            .arg("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(site.path("state"))
            .arg(logwarden)
            .args(&args)
            .output()
            .unwrap(),
    };
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_state_folder_that_cannot_be_written_is_refused_at_start() {
    let site = Site::new();
    site.write("rules.toml", every_line(r"Logs\app.log", "plain"));
    std::fs::create_dir_all(site.root()).unwrap();
    // Something in the way of the state's temporary file.
    std::fs::create_dir_all(site.path("state/state.tmp/x")).unwrap();
    let (code, err) = run_once(&site, None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot write to state folder"), "{err}");
    assert!(err.contains("pass --state with a writable folder"), "{err}");
    std::fs::remove_dir_all(site.path("state/state.tmp")).unwrap();

    // A read-only folder. Permission bits do not stop root (CI runs as
    // root): there, a read-only bind mount in a private mount namespace.
    use std::os::unix::fs::PermissionsExt;
    let state = site.path("state");
    let mode = std::fs::metadata(&state).unwrap().permissions().mode();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o555)).unwrap();
    let root = std::fs::write(state.join("probe"), "").is_ok();
    let (code, err) = if root {
        std::fs::remove_file(state.join("probe")).unwrap();
        run_once(
            &site,
            Some(
                r#"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@""#,
            ),
        )
    } else {
        run_once(&site, None)
    };
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(mode)).unwrap();
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot write to state folder") || err.contains("cannot use state folder"),
        "{err}"
    );
    assert!(
        err.contains("Read-only file system") || err.contains("ermission denied"),
        "{err}"
    );
}

#[test]
fn failed_saves_are_reported_and_retried_while_alerting_goes_on() {
    let site = Site::new();
    site.write("rules.toml", every_line(r"Logs\app.log", "plain"));
    let agent = site.start("rules.toml", &["--log-format", "json"]);
    // From now on every save fails (a folder where the temporary file goes).
    std::fs::create_dir_all(site.path("state/state.tmp/x")).unwrap();
    append(&site, "Logs/app.log", "a1\n");
    wait_docs(&site, 1);
    wait_until(WAIT, "a failed save to be reported", || {
        agent.stderr().contains("cannot save state")
    });
    append(&site, "Logs/app.log", "a2\n");
    wait_docs(&site, 2);
    std::fs::remove_dir_all(site.path("state/state.tmp")).unwrap();
    wait_until(WAIT, "saving to work again", || {
        agent.stderr().contains("state saved again")
    });
    let out = agent.stop();
    assert!(out.status.success(), "{}", out.stderr);
    let stopped = out
        .stderr
        .lines()
        .find(|l| l.contains("logwarden agent stopped"))
        .unwrap();
    let line: Value = serde_json::from_str(stopped).unwrap();
    assert!(
        line["fields"]["state_save_failures"].as_u64().unwrap() >= 1,
        "{stopped}"
    );
    // The positions were saved in the end: nothing is read twice.
    let agent = site.start("rules.toml", &[]);
    append(&site, "Logs/app.log", "a3\n");
    wait_docs(&site, 3);
    agent.stop();
    assert_eq!(lines(&docs(&site)), expect("app.log", 0, "a1\na2\na3\n"));
}
