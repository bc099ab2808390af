//! The benchmark's log: Configuration Manager simple-format lines
//! (`message  $$<COMPONENT><MM-DD-YYYY HH:MM:SS.mmm+BIAS><thread=N (0xH)>`,
//! CRLF) of a busy site server's everyday chatter, with a few lines planted
//! for the rules (see [`Hits`]).
//!
//! The chatter is drawn from the messages the components really write (the
//! KB quotes in `/work/shared/corpus`, `examples/gen-site`), and some of it
//! comes near the rules on purpose: "Successfully copied package … for job
//! J0042", "MoveFileEx failed for ….PKG, HRESULT = 0x80070005", "Backup of
//! site PS1 completed with code 0", "12 files pending in despoolr.box", so
//! that a rule's common words are no filter and only its token is. None of
//! it matches a rule. Time starts on 28 November 2026 at midnight, US
//! Eastern (bias +300), and moves 0–86 ms a line: 2,000,000 lines are a day.

use std::io::{self, Write};

use crate::Rng;
use crate::rules::{Shape, package, server};

/// Which lines are planted for a rule: 1 % of the lines, 40 % of them for
/// rule 0, 20 % each for rules 1–9, 10–99 and 100–999; so a pack of the
/// first 1, 10, 100 or 1,000 rules matches about 0.4, 0.6, 0.8 or 1 % of
/// the lines, the one rule of the smallest pack being the chattiest.
pub struct Hits {
    /// Lines planted for each rule.
    pub per_rule: Vec<u64>,
}

impl Hits {
    /// Lines that a pack of the first `n` rules matches.
    pub fn pack(&self, n: usize) -> u64 {
        self.per_rule.iter().take(n).sum()
    }
}

/// Writes `lines` lines to `out`, planting lines for the rules of `shapes`
/// (index = rule number, 1,000 of them).
pub fn write(
    out: &mut impl Write,
    lines: u64,
    shapes: &[Shape],
    rng: &mut Rng,
) -> io::Result<Hits> {
    let mut hits = Hits {
        per_rule: vec![0; shapes.len()],
    };
    let mut clock = Clock::default();
    let mut line = String::with_capacity(512);
    for _ in 0..lines {
        line.clear();
        let (component, message) = if rng.below(10_000) < 100 {
            let k = match rng.below(10) {
                0..4 => 0,
                4..6 => 1 + rng.below(9),
                6..8 => 10 + rng.below(90),
                _ => 100 + rng.below(900),
            } as usize;
            hits.per_rule[k] += 1;
            (
                COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize],
                shapes[k].sample(k, rng),
            )
        } else {
            chatter(rng)
        };
        let thread = 1000 + rng.below(8000);
        clock.advance(rng.below(87));
        line.push_str(&message);
        line.push_str("  $$<");
        line.push_str(component);
        line.push_str("><");
        clock.render(&mut line);
        line.push_str(&format!("><thread={thread} (0x{thread:X})>\r\n"));
        out.write_all(line.as_bytes())?;
    }
    Ok(hits)
}

const COMPONENTS: &[&str] = &[
    "SMS_DESPOOLER",
    "SMS_DISTRIBUTION_MANAGER",
    "SMS_INBOX_MONITOR",
    "SMS_SOFTWARE_INVENTORY_PROCESSOR",
    "SMS_DISCOVERY_DATA_MANAGER",
    "SMS_DATABASE_NOTIFICATION_MONITOR",
    "SMS_HIERARCHY_MANAGER",
    "SMS_SITE_BACKUP",
    "SMS_EXECUTIVE",
    "SMS_SCHEDULER",
    "SMS_INVENTORY_DATA_LOADER",
    "SMS_OFFER_MANAGER",
];

const ROOT: &str = r"C:\Program Files\Microsoft Configuration Manager\inboxes";
const BOXES: &[&str] = &[
    r"despoolr.box\receive",
    r"schedule.box\requests",
    r"statmgr.box\statmsgs",
    r"auth\ddm.box",
    r"auth\dataldr.box",
    "distmgr.box",
    "hman.box",
];

/// One line of everyday chatter: the component and its message.
fn chatter(rng: &mut Rng) -> (&'static str, String) {
    let n = rng.below(100_000);
    let pkg = package(rng);
    match rng.below(34) {
        0 => (
            "SMS_DESPOOLER",
            "~Waiting for ready instruction file....".to_owned(),
        ),
        1 => (
            "SMS_DESPOOLER",
            format!(
                "~Found ready instruction {}.sni",
                rng.name(8).to_lowercase()
            ),
        ),
        2 => (
            "SMS_DESPOOLER",
            format!("~Used {} out of 3 despooling threads", rng.below(3)),
        ),
        3 => (
            "SMS_DESPOOLER",
            format!("~Created a new despooling thread {:X}", 3000 + n % 900),
        ),
        4 => (
            "SMS_DESPOOLER",
            "~Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|PACKAGE".to_owned(),
        ),
        5 => (
            "SMS_DESPOOLER",
            "~Despooler successfully executed one instruction.".to_owned(),
        ),
        6 => (
            "SMS_DESPOOLER",
            format!(
                r"~Received package {pkg} version {}. Compressed file -  {ROOT}\despoolr.box\receive\{}.PCK",
                1 + n % 40,
                rng.name(8)
            ),
        ),
        7 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!("Found package properties updated notification for package '{pkg}'"),
        ),
        8 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!("Adding package '{pkg}' to package processing queue."),
        ),
        9 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!(
                "~Currently using {} out of 3 allowed package processing threads.",
                rng.below(3)
            ),
        ),
        10 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!(
                "~Started package processing thread for package '{pkg}', thread ID = 0x{:X} ({})",
                2000 + n % 900,
                2000 + n % 900
            ),
        ),
        11 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!(
                r"~Successfully copied package {pkg} for job J{:04} to \\{}\SMSPKGD$\{pkg}",
                n % 10_000,
                server(rng)
            ),
        ),
        12 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!("~Exiting package processing thread for package {pkg}."),
        ),
        13 => (
            "SMS_DISTRIBUTION_MANAGER",
            format!(
                "STATMSG: ID=2301 SEV=I LEV=M SOURCE=\"SMS Server\" COMP=\"SMS_DISTRIBUTION_MANAGER\" SYS={}.CONTOSO.COM SITE=PS1 PID={} TID={} GMTDATE=Sat Nov 28 {:02}:{:02}:{:02}.{:03} 2026 ISTR0=\"{pkg}\" ISTR1=\"\" NUMATTRS=1 AID0=400 AVAL0=\"{pkg}\"",
                server(rng),
                1000 + n % 9000,
                1000 + rng.below(9000),
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.below(1000)
            ),
        ),
        14 => {
            let dir = BOXES[rng.below(BOXES.len() as u64) as usize];
            (
                "SMS_INBOX_MONITOR",
                format!("File count for directory {ROOT}\\{dir} is {}.", n % 300),
            )
        }
        15 => (
            "SMS_INBOX_MONITOR",
            format!(
                "{} files pending in {}.box",
                n % 500,
                ["despoolr", "schedule", "distmgr", "statmgr"][rng.below(4) as usize]
            ),
        ),
        16 => (
            "SMS_SOFTWARE_INVENTORY_PROCESSOR",
            format!(r"Processing file: E:\SMS\inboxes\sinv.box\{}.sid", rng.name(8)),
        ),
        17 => (
            "SMS_SOFTWARE_INVENTORY_PROCESSOR",
            format!("Processing Inventory for Resource Id: {}", 16_777_216 + n),
        ),
        18 => (
            "SMS_SOFTWARE_INVENTORY_PROCESSOR",
            format!("Successfully Processed file {}.sid !!!", rng.name(8)),
        ),
        19 => (
            "SMS_SOFTWARE_INVENTORY_PROCESSOR",
            "WARNING - This file is out-of-date and will be skipped.".to_owned(),
        ),
        20 => (
            "SMS_DISCOVERY_DATA_MANAGER",
            format!("~Processing file {}.DDR", rng.name(8).to_lowercase()),
        ),
        21 => (
            "SMS_DATABASE_NOTIFICATION_MONITOR",
            format!(
                "RCV: INSERT on PkgNotification for PkgNotify_Add [{pkg}   ][{}]",
                1_035_000 + n % 1000
            ),
        ),
        22 => (
            "SMS_DATABASE_NOTIFICATION_MONITOR",
            format!(
                r"SND: Dropped {ROOT}\distmgr.box\{pkg}.PKN [{}]",
                1_035_000 + n % 1000
            ),
        ),
        23 => (
            "SMS_DATABASE_NOTIFICATION_MONITOR",
            "CTriggerManager::RouteFiles - waiting on named pipe...".to_owned(),
        ),
        24 => (
            "SMS_HIERARCHY_MANAGER",
            "Checking for remote Site Control File changes ...".to_owned(),
        ),
        25 => (
            "SMS_HIERARCHY_MANAGER",
            format!(
                r"~Failed to connect to site server \\{} for site {}, will retry in {} seconds",
                server(rng),
                ["PS1", "CS1", "SS2"][rng.below(3) as usize],
                60 * (1 + n % 30)
            ),
        ),
        26 => (
            "SMS_SITE_BACKUP",
            format!(
                "Backup of site {} completed with code 0",
                ["PS1", "CS1", "SS2"][rng.below(3) as usize]
            ),
        ),
        27 => (
            "SMS_EXECUTIVE",
            format!(
                "SMS_EXECUTIVE started {} as thread ID {n} (0x{n:X}).",
                COMPONENTS[rng.below(COMPONENTS.len() as u64) as usize]
            ),
        ),
        28 => (
            "SMS_EXECUTIVE",
            format!("~Memory usage: blocks={} bytes={n}", rng.below(500)),
        ),
        29 => (
            "SMS_SCHEDULER",
            format!(
                r"Creating package file '\\PRI01\SMS_SHRI\site.srv\sender.box\tosend\{pkg}.S00'.~"
            ),
        ),
        30 => (
            "SMS_SCHEDULER",
            format!(
                "~Package {pkg}: sent {}/{} blocks to site CS1, {} bytes/s",
                n % 100,
                100 + n % 100,
                rng.below(1_000_000)
            ),
        ),
        31 => (
            "SMS_INVENTORY_DATA_LOADER",
            format!(
                "{} failed for {}.{}, {} = 0x8007{:04X}",
                ["CreateFile", "MoveFileEx"][rng.below(2) as usize],
                rng.name(8),
                ["MIF", "PKG", "SNI"][rng.below(3) as usize],
                ["HRESULT", "error"][rng.below(2) as usize],
                [5, 32, 53, 112][rng.below(4) as usize]
            ),
        ),
        32 => (
            "SMS_INVENTORY_DATA_LOADER",
            "Updating group: MICROSOFT|IDENTIFICATION|1.0...".to_owned(),
        ),
        _ => (
            "SMS_OFFER_MANAGER",
            "Error: Could not get a SQL connection from the connection cache. Will try again in 60 seconds. : The handle is invalid.~~".to_owned(),
        ),
    }
}

/// Local time of the log: a calendar day and milliseconds since its midnight.
struct Clock {
    year: u32,
    month: u32,
    day: u32,
    ms: u64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            year: 2026,
            month: 11,
            day: 28,
            ms: 0,
        }
    }
}

impl Clock {
    fn advance(&mut self, ms: u64) {
        self.ms += ms;
        while self.ms >= 86_400_000 {
            self.ms -= 86_400_000;
            self.day += 1;
            let days = match self.month {
                2 if self.year.is_multiple_of(4)
                    && (!self.year.is_multiple_of(100) || self.year.is_multiple_of(400)) =>
                {
                    29
                }
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            if self.day > days {
                self.day = 1;
                self.month += 1;
                if self.month > 12 {
                    self.month = 1;
                    self.year += 1;
                }
            }
        }
    }

    /// `MM-DD-YYYY HH:MM:SS.mmm+300`.
    fn render(&self, out: &mut String) {
        let s = self.ms / 1000;
        out.push_str(&format!(
            "{:02}-{:02}-{} {:02}:{:02}:{:02}.{:03}+300",
            self.month,
            self.day,
            self.year,
            s / 3600,
            s / 60 % 60,
            s % 60,
            self.ms % 1000
        ));
    }
}
