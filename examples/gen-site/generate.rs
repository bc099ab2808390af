//! Synthetic SMS site logs: six hours of an SMS 2.0 site server or a
//! Configuration Manager site server, with the everyday noise of their
//! components, one log rotation to `.lo_`, and a few real incidents at fixed
//! times, deterministic from a seed.
//!
//! Used by the golden replays (`tests/cli/golden.rs`, which compiles this
//! file into the test binary) and by `cargo run --example gen-site` for
//! benchmarks and demonstrations. Writes files only under the folder it is
//! given; uses nothing but `std`.
//!
//! The seed changes only the noise (which instruction, package or record is
//! named, when the everyday lines are written); the incidents happen at the
//! same times whatever the seed, and the noise never comes near a rule of the
//! bundled pack, so the expected alerts do not depend on it. Times in this
//! file are local site time in seconds since the day's midnight; the site is
//! in US Eastern Standard Time (UTC−5), as the logs say.
//!
//! SMS 2.0 site (`Logs`, `Inboxes`), Tuesday 16 January 2001:
//! - 00:40, 01:00, 01:20: SMS_EXECUTIVE dies in SMS_SITE_SYSTEM_STATUS_SUMMARIZER
//!   (KB Q239828), a Crash.log each time; Site Component Manager starts it
//!   again four minutes later.
//! - 02:00: the site backup stops the services, 02:06 starts them again, and
//!   the despooler hangs (KB Q260366): "Waiting for an available despooling
//!   thread" every five minutes until the operator restarts SMS_EXECUTIVE at
//!   02:57. (Its logs carry no inbox counts, so replay cannot judge this one.)
//! - 03:00: Despool.log is rotated to Despool.lo_.
//! - 03:30: SQL Monitor stops on "CTriggerManager::RouteFiles - waiting on
//!   named pipe..." (KB Q247852) until it is restarted at 05:00.
//!
//! ConfigMgr site (`Logs`, `inboxes`), Tuesday 16 January 2024:
//! - 01:12–02:05: every despooling thread busy, none finishing; the receive
//!   inbox (inboxmon.log) climbs to 950 files and drains after.
//! - 03:00–03:50: every package processing thread of Distribution Manager busy,
//!   none exiting; distmgr.log is rotated to distmgr.lo_ at 03:20.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Which product's site to write.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// SMS 2.0: `Logs`, `Inboxes`, zone-name timestamps.
    Sms20,
    /// Configuration Manager: `Logs`, `inboxes`, `inboxes\auth`, bias timestamps.
    ConfigMgr,
}

/// How long the generated logs run.
pub const HOURS: u64 = 6;

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
/// UTC = local + this (US Eastern Standard Time).
const BIAS_MINUTES: u64 = 300;

/// A small deterministic PRNG (xorshift64*): the same seed, the same site.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// `n` characters of an SMS-style file name.
    fn name(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

/// The calendar day the logs are on.
#[derive(Copy, Clone)]
struct Day {
    year: i64,
    month: u32,
    day: u32,
    /// Days since 1970-01-01 (for the weekday and file times).
    epoch_day: i64,
}

impl Day {
    fn new(year: i64, month: u32, day: u32) -> Day {
        // Howard Hinnant's days_from_civil.
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Day {
            year,
            month,
            day,
            epoch_day: era * 146_097 + doe - 719_468,
        }
    }

    /// The instant of local time `t` (seconds since midnight) as a file time.
    fn system_time(self, t: u64) -> SystemTime {
        let secs = self.epoch_day * 86_400 + (t + BIAS_MINUTES * MINUTE) as i64;
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }
}

/// One log file being written: its lines by time, and where it rotates.
struct Log {
    /// Path under `Logs` (as the product spells it).
    name: &'static str,
    component: &'static str,
    lines: Vec<(u64, u32, String)>,
    /// Local time at which the log was rotated to `.lo_`, if it was.
    rotate_at: Option<u64>,
}

impl Log {
    fn new(name: &'static str, component: &'static str) -> Log {
        Log {
            name,
            component,
            lines: Vec::new(),
            rotate_at: None,
        }
    }

    /// A line written at local time `t` by thread `thread`.
    fn at(&mut self, t: u64, thread: u32, message: impl Into<String>) {
        self.lines.push((t, thread, message.into()));
    }
}

/// The trailer of a line: SMS 2.0 zone-name form or ConfigMgr bias form.
fn trailer(layout: Layout, day: Day, component: &str, t: u64, thread: u32) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (h, m, s) = (t / HOUR, t % HOUR / MINUTE, t % MINUTE);
    // Milliseconds make the lines look real and cost the golden nothing: a
    // fixed function of the time.
    let ms = (t * 37) % 1000;
    let time = match layout {
        Layout::Sms20 => format!(
            "{} {} {:02} {h:02}:{m:02}:{s:02}.{ms:03} {} Eastern Standard Time",
            DAYS[day.epoch_day.rem_euclid(7) as usize],
            MONTHS[(day.month as usize + 11) % 12],
            day.day,
            day.year
        ),
        Layout::ConfigMgr => format!(
            "{:02}-{:02}-{} {h:02}:{m:02}:{s:02}.{ms:03}+{BIAS_MINUTES}",
            day.month, day.day, day.year
        ),
    };
    format!("$$<{component}><{time}><thread={thread} (0x{thread:X})>")
}

/// Writes `log` under `logs`: the lines before its rotation to `X.lo_`, the
/// rest to `X.log`; CRLF, in time order (stable for equal times).
fn write_log(layout: Layout, day: Day, logs: &Path, mut log: Log) -> io::Result<()> {
    log.lines.sort_by_key(|(t, _, _)| *t);
    let render = |lines: &[(u64, u32, String)]| -> String {
        lines
            .iter()
            .map(|(t, thread, msg)| {
                format!(
                    "{msg}  {}\r\n",
                    trailer(layout, day, log.component, *t, *thread)
                )
            })
            .collect()
    };
    let path = logs.join(log.name);
    let split = log
        .rotate_at
        .map_or(0, |r| log.lines.partition_point(|(t, _, _)| *t < r));
    if split > 0 {
        fs::write(path.with_extension("lo_"), render(&log.lines[..split]))?;
    }
    fs::write(&path, render(&log.lines[split..]))?;
    // The file was last written at its last line.
    if let Some((t, _, _)) = log.lines.last() {
        File::options()
            .write(true)
            .open(&path)?
            .set_modified(day.system_time(*t))?;
    }
    Ok(())
}

/// Whether `t` falls in any of `windows` (`[start, end)`).
fn inside(t: u64, windows: &[(u64, u64)]) -> bool {
    windows.iter().any(|(a, b)| (*a..*b).contains(&t))
}

/// Writes a synthetic site of `layout` under `root` (created if missing),
/// deterministic from `seed`. Returns the folders created, relative to root.
///
/// # Errors
/// When a file or folder cannot be written.
pub fn generate(root: &Path, layout: Layout, seed: u64) -> io::Result<Vec<PathBuf>> {
    let (logs_dir, inboxes_dir) = match layout {
        Layout::Sms20 => ("Logs", "Inboxes"),
        Layout::ConfigMgr => ("Logs", "inboxes"),
    };
    let logs = root.join(logs_dir);
    fs::create_dir_all(&logs)?;
    let mut folders = vec![PathBuf::from(logs_dir)];
    let boxes: &[&str] = match layout {
        Layout::Sms20 => &[
            "despoolr.box/receive",
            "schedule.box/requests",
            "schedule.box/outboxes/LAN",
            "statmgr.box/statmsgs",
            "dataldr.box",
            "sinv.box",
            "ddm.box",
            "distmgr.box",
            "hman.box",
        ],
        Layout::ConfigMgr => &[
            "despoolr.box/receive",
            "schedule.box/requests",
            "schedule.box/outboxes/LAN",
            "statmgr.box/statmsgs",
            "auth/ddm.box",
            "auth/dataldr.box",
            "auth/sinv.box",
            "distmgr.box",
            "hman.box",
        ],
    };
    for b in boxes {
        let rel = Path::new(inboxes_dir).join(b);
        fs::create_dir_all(root.join(&rel))?;
        folders.push(rel);
    }
    let mut rng = Rng::new(seed);
    match layout {
        Layout::Sms20 => sms20(&logs, &mut rng)?,
        Layout::ConfigMgr => configmgr(&logs, &mut rng)?,
    }
    Ok(folders)
}

fn sms20(logs: &Path, rng: &mut Rng) -> io::Result<()> {
    let day = Day::new(2001, 1, 16);
    let end = HOURS * HOUR;
    // KB Q239828: the executive dies, Site Component Manager restarts it.
    let crashes = [40 * MINUTE, HOUR, HOUR + 20 * MINUTE];
    let restart_after = 4 * MINUTE;
    let backup = 2 * HOUR;
    let services_back = 2 * HOUR + 6 * MINUTE;
    let operator_restart = 2 * HOUR + 57 * MINUTE;
    let sqlmon_hang = 3 * HOUR + 30 * MINUTE;
    let sqlmon_restart = 5 * HOUR;

    // The executive is down from each crash until its restart, and during the
    // backup; the despooler hangs from the restart after the backup until the
    // operator restarts it.
    let mut down: Vec<(u64, u64)> = crashes.iter().map(|c| (*c, c + restart_after)).collect();
    down.push((backup, services_back));
    let hung = (services_back, operator_restart);

    let mut despool = Log::new("Despool.log", "SMS_DESPOOLER");
    despool.rotate_at = Some(3 * HOUR);
    // Each start of the executive gives the despooler a new thread.
    let starts: Vec<(u64, u32)> = crashes
        .iter()
        .map(|c| c + restart_after)
        .chain([services_back, operator_restart])
        .map(|at| (at, 300 + rng.range(1, 3000) as u32))
        .collect();
    let thread_at = |t: u64| {
        starts
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(1284, |(_, thread)| *thread)
    };
    let mut t = rng.range(MINUTE, 5 * MINUTE);
    while t < end {
        let thread = thread_at(t);
        if !inside(t, &down) && !inside(t, &[hung]) {
            let file = rng.name(8);
            despool.at(t, thread, "~Waiting for ready instruction file....");
            despool.at(
                t + 20,
                thread,
                format!("~Found ready instruction {file}.INS"),
            );
            despool.at(
                t + 21,
                thread,
                "~Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE",
            );
            despool.at(
                t + rng.range(40, 150),
                thread,
                "~Despooler successfully executed one instruction.",
            );
        }
        t += rng.range(4 * MINUTE, 9 * MINUTE);
    }
    for (at, thread) in &starts {
        despool.at(
            *at,
            *thread,
            format!("SMS_EXECUTIVE started SMS_DESPOOLER as thread ID {thread} (0x{thread:X})."),
        );
    }
    // KB Q260366: the hang after the backup.
    let mut w = services_back + 4 * MINUTE;
    while w < operator_restart {
        despool.at(
            w,
            thread_at(w),
            "Waiting for an available despooling thread",
        );
        w += 5 * MINUTE;
    }

    let mut backup_log = Log::new("smsbkup.log", "SMS_SITE_BACKUP");
    backup_log.at(backup, 212, "Stopping all SMS services...");
    backup_log.at(
        backup + MINUTE,
        212,
        r"Backing up the site database to D:\SMSbackup\SiteDBServer...",
    );
    backup_log.at(
        backup + 3 * MINUTE,
        212,
        r"Backing up the site server files to D:\SMSbackup\SiteServer...",
    );
    backup_log.at(backup + 5 * MINUTE, 212, "Backup completed");
    backup_log.at(services_back, 212, "Starting all SMS services...");

    let mut crash_logs = Vec::new();
    for (i, c) in crashes.iter().enumerate() {
        let (h, m) = (c / HOUR, c % HOUR / MINUTE);
        let folder = logs
            .join("CrashDumps")
            .join(format!("20010116_{h:02}{m:02}00_smsexec"));
        fs::create_dir_all(&folder)?;
        let text = format!(
            "================================================\r\nEXCEPTION INFORMATION\r\n\r\nTime = 01/16/2001 {h:02}:{m:02}:00\r\nService name = SMS_EXECUTIVE\r\nThread name = SMS_SITE_SYSTEM_STATUS_SUMMARIZER\r\nExecutable = C:\\SMS\\bin\\i386\\smsexec.exe\r\nProcess ID = {}\r\nThread ID = {}\r\nInstruction address = 0x7800153D\r\nException = 0xC0000005 (EXCEPTION_ACCESS_VIOLATION)\r\nDescription = \"The thread tried to read from the virtual address 0x00000000 for which it does not have the appropriate access.\"\r\n",
            100 + i * 17,
            rng.range(200, 900)
        );
        let path = folder.join("Crash.log");
        fs::write(&path, text)?;
        crash_logs.push((path, *c));
    }
    for (path, c) in crash_logs {
        File::options()
            .write(true)
            .open(&path)?
            .set_modified(day.system_time(c))?;
    }

    // SQL Monitor: changes every few minutes, each followed by its wait.
    let mut sqlmon = Log::new("SMSDBMON.LOG", "SMS_SQL_MONITOR");
    let tables = ["Collections", "SiteControl", "Packages", "Offers"];
    let mut t = rng.range(MINUTE, 4 * MINUTE);
    while t < end {
        if !inside(t, &[(sqlmon_hang, sqlmon_restart)]) {
            let table = tables[rng.range(0, 3) as usize];
            sqlmon.at(
                t,
                282,
                format!("CTriggerManager::ProcessTrigger - change in table {table}"),
            );
            sqlmon.at(
                t + 2,
                282,
                "CTriggerManager::RouteFiles - waiting on named pipe...",
            );
        }
        t += rng.range(3 * MINUTE, 9 * MINUTE);
    }
    // KB Q247852: the last line, then nothing until the service is restarted.
    sqlmon
        .lines
        .retain(|(t, _, _)| !(sqlmon_hang - 10 * MINUTE..sqlmon_restart).contains(t));
    sqlmon.at(
        sqlmon_hang,
        282,
        "CTriggerManager::ProcessTrigger - change in table Collections",
    );
    sqlmon.at(
        sqlmon_hang + 1,
        282,
        "CTriggerManager::RouteFiles - waiting on named pipe...",
    );
    sqlmon.at(sqlmon_restart, 412, "SMS_SQL_MONITOR service started.");

    let mut ddm = Log::new("ddm.log", "SMS_DISCOVERY_DATA_MANAGER");
    let mut t = rng.range(MINUTE, 3 * MINUTE);
    while t < end {
        if !inside(t, &down) {
            ddm.at(t, 318, format!("Processing file {}.DDR", rng.name(8)));
            ddm.at(t + 1, 318, "Done processing file.");
        }
        // A full refresh that completes (no hang).
        t += rng.range(2 * MINUTE, 6 * MINUTE);
    }
    ddm.at(4 * HOUR, 318, "Processing full refresh...");

    let mut distmgr = Log::new("distmgr.log", "SMS_DISTRIBUTION_MANAGER");
    let mut t = rng.range(5 * MINUTE, 20 * MINUTE);
    while t < end {
        if !inside(t, &down) {
            let pkg = format!("PS1000{:02}", rng.range(1, 60));
            distmgr.at(
                t,
                225,
                format!("Found package properties updated notification for package '{pkg}'"),
            );
            distmgr.at(
                t + 1,
                225,
                format!(
                    "~Starting package processing thread,thread ID = {}",
                    297 + rng.range(1, 40)
                ),
            );
            distmgr.at(
                t + rng.range(60, 300),
                297,
                format!("Successfully updated the package {pkg}"),
            );
        }
        t += rng.range(10 * MINUTE, 25 * MINUTE);
    }

    for log in [despool, backup_log, sqlmon, ddm, distmgr] {
        write_log(Layout::Sms20, day, logs, log)?;
    }
    Ok(())
}

fn configmgr(logs: &Path, rng: &mut Rng) -> io::Result<()> {
    let day = Day::new(2024, 1, 16);
    let end = HOURS * HOUR;
    let saturated = (HOUR + 10 * MINUTE, 2 * HOUR + 5 * MINUTE);
    let distmgr_stuck = (3 * HOUR, 3 * HOUR + 50 * MINUTE);

    let mut despool = Log::new("despool.log", "SMS_DESPOOLER");
    let main = 6128;
    let mut t = rng.range(MINUTE, 5 * MINUTE);
    while t < end {
        // Quiet around the incident so that it starts and ends on its own lines.
        if !inside(t, &[(saturated.0 - 10 * MINUTE, saturated.1 + 5 * MINUTE)]) {
            let worker = 3000 + rng.range(1, 900) as u32;
            let used = rng.range(0, 1);
            despool.at(
                t,
                main,
                format!(
                    "~Found ready instruction {}.sni",
                    rng.name(8).to_lowercase()
                ),
            );
            despool.at(
                t + 1,
                main,
                format!("~Used {used} out of 3 despooling threads"),
            );
            despool.at(
                t + 1,
                main,
                format!("~Created a new despooling thread {worker:X}"),
            );
            despool.at(
                t + 2,
                worker,
                "~Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE",
            );
            despool.at(
                t + rng.range(30, 120),
                worker,
                "~Despooler successfully executed one instruction.",
            );
        }
        t += rng.range(5 * MINUTE, 10 * MINUTE);
    }
    // Every thread taken, none comes back until 02:05.
    despool.at(saturated.0, main, "~Found ready instruction 202sqcs1.sni");
    despool.at(saturated.0 + 1, main, "~Used 2 out of 3 despooling threads");
    for (i, at) in [
        saturated.0 + 2 * MINUTE,
        HOUR + 25 * MINUTE,
        HOUR + 40 * MINUTE,
        HOUR + 55 * MINUTE,
    ]
    .into_iter()
    .enumerate()
    {
        despool.at(
            at,
            main,
            format!("~Found ready instruction 202sqc{i:02}.sni"),
        );
        despool.at(at + 1, main, "~Used 3 out of 3 despooling threads");
    }
    despool.at(
        saturated.1,
        3816,
        "~Despooler successfully executed one instruction.",
    );

    // Inbox Monitor: a count per inbox every quarter hour.
    let mut inboxmon = Log::new("inboxmon.log", "SMS_INBOX_MONITOR");
    let root = r"C:\Program Files\Microsoft Configuration Manager\inboxes";
    let incident: [(u64, u64); 6] = [
        (HOUR + 15 * MINUTE, 150),
        (HOUR + 30 * MINUTE, 420),
        (HOUR + 45 * MINUTE, 700),
        (2 * HOUR, 950),
        (2 * HOUR + 15 * MINUTE, 310),
        (2 * HOUR + 30 * MINUTE, 25),
    ];
    let mut t = 0;
    while t < end {
        let receive = incident
            .iter()
            .find(|(at, _)| *at == t)
            .map_or_else(|| rng.range(0, 30), |(_, n)| *n);
        for (dir, count) in [
            (r"despoolr.box\receive", receive),
            (r"schedule.box\requests", rng.range(0, 5)),
            (r"statmgr.box\statmsgs", rng.range(0, 200)),
            (r"auth\ddm.box", rng.range(0, 40)),
            (r"auth\dataldr.box", rng.range(0, 60)),
            ("ddm.box", rng.range(0, 10)),
            ("distmgr.box", rng.range(0, 4)),
            ("hman.box", rng.range(0, 2)),
        ] {
            inboxmon.at(
                t,
                5480,
                format!("File count for directory {root}\\{dir} is {count}."),
            );
        }
        t += 15 * MINUTE;
    }

    let mut distmgr = Log::new("distmgr.log", "SMS_DISTRIBUTION_MANAGER");
    distmgr.rotate_at = Some(3 * HOUR + 20 * MINUTE);
    let main = 4824;
    let mut t = rng.range(5 * MINUTE, 15 * MINUTE);
    while t < end {
        if !inside(
            t,
            &[(distmgr_stuck.0 - 15 * MINUTE, distmgr_stuck.1 + 5 * MINUTE)],
        ) {
            let pkg = format!("PS1000{:02}", rng.range(1, 60));
            let worker = 2000 + rng.range(1, 900) as u32;
            distmgr.at(
                t,
                main,
                format!("Found package properties updated notification for package '{pkg}'"),
            );
            distmgr.at(
                t,
                main,
                format!("Adding package '{pkg}' to package processing queue."),
            );
            distmgr.at(
                t + 1,
                main,
                format!(
                    "~Currently using {} out of 3 allowed package processing threads.",
                    rng.range(0, 1)
                ),
            );
            distmgr.at(t + 1, main, format!("~Started package processing thread for package '{pkg}', thread ID = 0x{worker:X} ({worker})"));
            let done = t + rng.range(2 * MINUTE, 8 * MINUTE);
            distmgr.at(
                done,
                worker,
                format!("~Processing package {pkg} (SourceVersion:1;StoredVersion:1)"),
            );
            distmgr.at(
                done + 1,
                worker,
                format!("~Exiting package processing thread for package {pkg}."),
            );
        }
        t += rng.range(12 * MINUTE, 25 * MINUTE);
    }
    // Three packages take every thread; a fourth waits; none finishes before 03:50.
    for (i, at) in [
        distmgr_stuck.0,
        distmgr_stuck.0 + 15 * MINUTE,
        distmgr_stuck.0 + 35 * MINUTE,
    ]
    .into_iter()
    .enumerate()
    {
        let pkg = format!("PS10002{i}");
        distmgr.at(
            at,
            main,
            format!("Adding package '{pkg}' to package processing queue."),
        );
        distmgr.at(
            at + 1,
            main,
            "~Currently using 3 out of 3 allowed package processing threads.",
        );
    }
    distmgr.at(
        distmgr_stuck.1,
        2364,
        "~Exiting package processing thread for package PS100020.",
    );

    let mut backup_log = Log::new("smsbkup.log", "SMS_SITE_BACKUP");
    let b = 30 * MINUTE;
    backup_log.at(b, 3452, "Starting the backup task...");
    backup_log.at(
        b + 4 * MINUTE,
        3452,
        "Backup completed - Tue Jan 16 00:34:00 2024",
    );
    backup_log.at(
        b + 4 * MINUTE,
        3452,
        "STATMSG: ID=5035 SEV=I LEV=M SOURCE=\"SMS Server\" COMP=\"SMS_SITE_BACKUP\" SYS=PS1SITE.CONTOSO.COM SITE=PS1 PID=2216 TID=3452 GMTDATE=Tue Jan 16 05:34:00.000 2024 ISTR0=\"\" ISTR1=\"\" ISTR2=\"\" ISTR3=\"\" ISTR4=\"\" ISTR5=\"\" ISTR6=\"\" ISTR7=\"\" ISTR8=\"\" ISTR9=\"\" NUMATTRS=0",
    );

    let mut ddm = Log::new("ddm.log", "SMS_DISCOVERY_DATA_MANAGER");
    let mut t = rng.range(MINUTE, 3 * MINUTE);
    while t < end {
        ddm.at(
            t,
            5212,
            format!("~Processing file {}.DDR", rng.name(8).to_lowercase()),
        );
        t += rng.range(2 * MINUTE, 7 * MINUTE);
    }

    let mut dbmon = Log::new("smsdbmon.log", "SMS_DATABASE_NOTIFICATION_MONITOR");
    let mut t = rng.range(MINUTE, 4 * MINUTE);
    while t < end {
        let pkg = format!("PS1000{:02}", rng.range(1, 60));
        let key = 1_035_000 + rng.range(1, 999);
        dbmon.at(
            t,
            1792,
            format!("RCV: INSERT on PkgNotification for PkgNotify_Add [{pkg}   ][{key}]"),
        );
        dbmon.at(
            t,
            1792,
            format!(r"SND: Dropped {root}\distmgr.box\{pkg}.PKN [{key}]"),
        );
        t += rng.range(3 * MINUTE, 10 * MINUTE);
    }

    for log in [despool, inboxmon, distmgr, backup_log, ddm, dbmon] {
        write_log(Layout::ConfigMgr, day, logs, log)?;
    }
    Ok(())
}
