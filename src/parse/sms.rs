//! The SMS / Configuration Manager "simple" log format: one record per
//! physical line, `message  $$<COMPONENT><TIME><thread=N (0xH)>`.
//!
//! Owns: finding and reading the trailer. Does not own: the timestamp forms
//! ([`crate::parse::timestamp`]) or line splitting.
//!
//! The trailer is searched from the right, so a message that itself contains
//! `$$<` or `<…>` is kept whole. Odd forms seen in real logs (SMS 1.x–2003,
//! as quoted by the Microsoft KB) that are read:
//! - `$<` instead of `$$<` (accepted only when a `<COMPONENT>` closed by `>`
//!   ends the line or is followed by `<` or `...`, so that a message
//!   mentioning `$<` is not taken for a trailer);
//! - a component with spaces, dots or a path, with surrounding spaces
//!   (`<APM >` → `APM`), or without its closing `>` (`$$<CCIM32<Tue …>`);
//! - an elided middle (`$$<SMS_OFFER_MANAGER>...<thread=1720 (0x6B8)>`), no
//!   time (`$$<CliEx32.dll>`), or no thread;
//! - `>>thread=` for `><thread=`;
//! - `thread=N (0xH)` → N; SMS 1.x `thread=E0` (no `(0x…)`) is hexadecimal.
//!
//! Decisions where the contract is silent:
//! - The message is the text before the trailer with spaces and tabs trimmed
//!   on the right only; leading text and `~` are kept as written.
//! - An empty component (`$$<>`) is no trailer: the line is a plain record.
//! - A time field that cannot be read leaves `time: None`; a thread number
//!   that does not fit `u32` leaves `thread: None`. Neither drops the record.

use crate::event::Record;
use crate::parse::timestamp::TimeResolver;

/// The parts of an SMS trailer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trailer<'a> {
    /// Byte index of the `$` that opens the trailer.
    pub(crate) start: usize,
    /// The component, trimmed.
    pub(crate) component: &'a str,
    /// The text of the time field, if there is one.
    pub(crate) time: Option<&'a str>,
    /// The thread id, if there is a readable one.
    pub(crate) thread: Option<u32>,
}

/// Finds the trailer of `line`, searching from the right.
pub(crate) fn trailer(line: &str) -> Option<Trailer<'_>> {
    let bytes = line.as_bytes();
    let mut end = bytes.len();
    while let Some(i) = memchr::memrchr(b'$', &bytes[..end]) {
        end = i;
        if bytes.get(i + 1) != Some(&b'<') {
            continue;
        }
        let doubled = i >= 1 && bytes[i - 1] == b'$';
        let start = if doubled { i - 1 } else { i };
        if let Some(t) = read_trailer(line, start, i + 2, !doubled) {
            return Some(t);
        }
        end = start;
    }
    None
}

/// Reads a trailer whose component starts at `body`; `strict` for the `$<`
/// typo, which must look exactly like a trailer.
fn read_trailer(line: &str, start: usize, body: usize, strict: bool) -> Option<Trailer<'_>> {
    let rest = line.get(body..)?;
    let (component, closed, after) = match memchr::memchr2(b'>', b'<', rest.as_bytes()) {
        Some(j) if rest.as_bytes()[j] == b'>' => (&rest[..j], true, &rest[j + 1..]),
        Some(j) => (&rest[..j], false, &rest[j..]),
        None => (rest, false, ""),
    };
    let component = component.trim();
    if component.is_empty() {
        return None;
    }
    if strict && !(closed && (after.is_empty() || after.starts_with(['<', '.']))) {
        return None;
    }
    let mut after = after.strip_prefix("...").unwrap_or(after);
    let mut time = None;
    if let Some(inner) = after.strip_prefix('<')
        && !inner.starts_with("thread=")
    {
        let close = memchr::memchr2(b'>', b'<', inner.as_bytes()).unwrap_or(inner.len());
        time = Some(&inner[..close]);
        after = &inner[close..];
    }
    let thread = after
        .trim_start_matches(['>', '<', ' '])
        .strip_prefix("thread=")
        .and_then(thread_id);
    Some(Trailer {
        start,
        component,
        time,
        thread,
    })
}

/// `N (0xH)` → N (decimal, or the hex in parentheses if N is unreadable);
/// `H` alone (SMS 1.x) → hexadecimal.
fn thread_id(text: &str) -> Option<u32> {
    let end = text
        .bytes()
        .position(|b| matches!(b, b' ' | b'>' | b'('))
        .unwrap_or(text.len());
    let token = &text[..end];
    if token.is_empty() {
        return None;
    }
    let after = text[end..].trim_start_matches(' ');
    match after
        .strip_prefix("(0x")
        .or_else(|| after.strip_prefix("(0X"))
    {
        Some(hex) => digits(token, 10).or_else(|| {
            let hex_end = hex
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(hex.len());
            digits(&hex[..hex_end], 16)
        }),
        None => digits(token, 16),
    }
}

/// Digits only (no sign), in `radix`, fitting `u32`.
fn digits(text: &str, radix: u32) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u32, |n, b| {
        n.checked_mul(radix)?
            .checked_add(char::from(b).to_digit(radix)?)
    })
}

/// `text` without the spaces and tabs that end it.
fn trim_blanks_end(text: &str) -> &str {
    let kept = text
        .bytes()
        .rposition(|b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    // Spaces and tabs are ASCII: `kept` is a character boundary.
    text.get(..kept).unwrap_or(text)
}

/// The record for one physical line, and whether it had a trailer.
pub(crate) fn record<'a>(
    line: &'a str,
    offset: u64,
    cut: bool,
    times: &mut TimeResolver,
) -> (Record<'a>, bool) {
    match trailer(line) {
        Some(t) => {
            let time = t.time.and_then(|text| times.sms(text));
            let record = Record {
                raw: line,
                message: trim_blanks_end(&line[..t.start]),
                component: Some(t.component),
                thread: t.thread,
                severity: None,
                time,
                offset,
                cut,
            };
            (record, true)
        }
        None => (crate::parse::plain::record(line, offset, cut), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{TimeZoneSpec, Timestamp};
    use proptest::prelude::*;

    /// What a line should parse to: message, component, thread, time (RFC
    /// 3339, in a source at UTC−06:00).
    fn check(
        line: &str,
        message: &str,
        component: Option<&str>,
        thread: Option<u32>,
        time: Option<&str>,
    ) {
        let mut times = TimeResolver::new(TimeZoneSpec::Fixed(-6 * 3_600));
        let (r, had) = record(line, 7, false, &mut times);
        assert_eq!(r.message, message, "message of {line:?}");
        assert_eq!(r.component, component, "component of {line:?}");
        assert_eq!(had, component.is_some());
        assert_eq!(r.thread, thread, "thread of {line:?}");
        assert_eq!(
            r.time,
            time.map(|t| Timestamp::parse_rfc3339(t).unwrap()),
            "time of {line:?}"
        );
        assert_eq!((r.raw, r.offset, r.cut, r.severity), (line, 7, false, None));
    }

    #[test]
    fn configmgr_lines() {
        check(
            "Waiting for an available despooling thread  $$<SMS_DESPOOLER><01-15-2009 10:35:27.046+300><thread=4844 (0x12EC)>",
            "Waiting for an available despooling thread",
            Some("SMS_DESPOOLER"),
            Some(4844),
            Some("2009-01-15T15:35:27.046Z"),
        );
        check(
            "Backup completed - Fri Jul 14 08:37:37 2000~  $$<SMS_SITE_BACKUP><07-14-2000 08:37:37.180-120><thread=3392 (0xD40)>",
            "Backup completed - Fri Jul 14 08:37:37 2000~",
            Some("SMS_SITE_BACKUP"),
            Some(3392),
            Some("2000-07-14T06:37:37.180Z"),
        );
        check(
            "  $$<SMS_EXECUTIVE><02-28-2010 23:59:59.999+000><thread=1 (0x1)>",
            "",
            Some("SMS_EXECUTIVE"),
            Some(1),
            Some("2010-02-28T23:59:59.999Z"),
        );
    }

    /// One line of every odd form in the corpus.
    #[test]
    fn corpus_forms() {
        // SMS 1.x: no milliseconds, `~`, hex thread without (0x…).
        check(
            "~Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|INVENTORY   $$<SMS_DESPOOLER><Mon Dec 04 15:41:45 1995~><thread=E0>",
            "~Executing instruction of type MICROSOFT|SMS|MINIJOBINSTRUCTION|INVENTORY",
            Some("SMS_DESPOOLER"),
            Some(0xE0),
            Some("1995-12-04T21:41:45Z"),
        );
        check(
            "~Domain (DOMAINA) user groups previously enumerated   $$<SMS_SITE_CONFIG_MANAGER><Wed Jun 18 15:49:57 1997~><thread=12E>",
            "~Domain (DOMAINA) user groups previously enumerated",
            Some("SMS_SITE_CONFIG_MANAGER"),
            Some(0x12E),
            Some("1997-06-18T21:49:57Z"),
        );
        // Leading spaces are kept; one-space gap.
        check(
            " ** Beginning INVENTORY UPDATE procedure on parent site...~   $$<SMS_DESPOOLER><Mon Dec 04 15:41:45 1995~><thread=E0>",
            " ** Beginning INVENTORY UPDATE procedure on parent site...~",
            Some("SMS_DESPOOLER"),
            Some(0xE0),
            Some("1995-12-04T21:41:45Z"),
        );
        // Elided trailer with nothing after it.
        check(
            ">>Msg>> Your server command (process id 15) was deadlocked with another process and has been chosen as deadlock victim. Re-run your command~~   $$<SMS_ALERTER>...",
            ">>Msg>> Your server command (process id 15) was deadlocked with another process and has been chosen as deadlock victim. Re-run your command~~",
            Some("SMS_ALERTER"),
            None,
            None,
        );
        // Elided time, thread kept.
        check(
            "~SQL Msg #3606> Arithmetic overflow occurred.~ $$<SMS_OFFER_MANAGER>...<thread=1720 (0x6B8)>",
            "~SQL Msg #3606> Arithmetic overflow occurred.~",
            Some("SMS_OFFER_MANAGER"),
            Some(1720),
            None,
        );
        // SMS 2.0 with a zone name.
        check(
            "Starting bootstrap operations...  $$<SMS_SITE_COMPONENT_MANAGER><Fri Mar 26 10:43:41.547 1999 Eastern Standard Time><thread=281 (0x119)>",
            "Starting bootstrap operations...",
            Some("SMS_SITE_COMPONENT_MANAGER"),
            Some(281),
            Some("1999-03-26T15:43:41.547Z"),
        );
        check(
            "Could not install the performance counters.  $$<SMS_SITE_COMPONENT_MANAGER><Mon Jul 03 12:25:46.750 2000 GMT Daylight Time><thread=43 (0x2B)>",
            "Could not install the performance counters.",
            Some("SMS_SITE_COMPONENT_MANAGER"),
            Some(43),
            Some("2000-07-03T11:25:46.750Z"),
        );
        // One-digit day and hour; a message full of `<`, `>`, `=` and quotes.
        check(
            "STATMSG: ID=523 SEV=W LEV=M SOURCE=\"SMS Server\" COMP=\"SMS_SOFTWARE_INVENTORY_PROCESSOR\" GMTDATE=Wed Jul 04 14:46:43.146 2001 NUMATTRS=0  $$<SMS_SOFTWARE_INVENTORY_PROCESSOR><Wed Jul 4 9:46:43.146 2001 Central Standard Time><thread=1028 (0x404)>",
            "STATMSG: ID=523 SEV=W LEV=M SOURCE=\"SMS Server\" COMP=\"SMS_SOFTWARE_INVENTORY_PROCESSOR\" GMTDATE=Wed Jul 04 14:46:43.146 2001 NUMATTRS=0",
            Some("SMS_SOFTWARE_INVENTORY_PROCESSOR"),
            Some(1028),
            Some("2001-07-04T15:46:43.146Z"),
        );
        check(
            "<<<<<<<<<<<<< EXCEPTION EXCEPTION EXCEPTION >>>>>>>>>>>>>  $$<C:\\WINDOWS\\sms_temp\\CCMBtLdr.exe><Thu Jul 26 14:22:53.512 2001 Pacific Standard Time><thread=1600 (0x640)>",
            "<<<<<<<<<<<<< EXCEPTION EXCEPTION EXCEPTION >>>>>>>>>>>>>",
            Some("C:\\WINDOWS\\sms_temp\\CCMBtLdr.exe"),
            Some(1600),
            Some("2001-07-26T22:22:53.512Z"),
        );
        // No time: component only; a path component.
        check(
            "   Site Key #0: \"MEX\"  $$<CliEx32.dll>",
            "   Site Key #0: \"MEX\"",
            Some("CliEx32.dll"),
            None,
            None,
        );
        check(
            " Unable to continue; exiting  $$<C:\\WINNT\\MS\\SMS\\CORE\\BIN\\Boot32wn.exe>",
            " Unable to continue; exiting",
            Some("C:\\WINNT\\MS\\SMS\\CORE\\BIN\\Boot32wn.exe"),
            None,
            None,
        );
        // The `$<` typo.
        check(
            "~SQL Msg #3606> Arithmetic overflow occurred.~ $<SMS_DISTRIBUTION_MANAGER>",
            "~SQL Msg #3606> Arithmetic overflow occurred.~",
            Some("SMS_DISTRIBUTION_MANAGER"),
            None,
            None,
        );
        // Runs of spaces in the time; no zone name: the source zone.
        check(
            "SCHEDULER   : Remote Name is \\\\FSNSMS01\\CAP_FLN~  $$<APM><Thu Apr 22       09:36:15.685 1999><thread=561 (0x231)>",
            "SCHEDULER   : Remote Name is \\\\FSNSMS01\\CAP_FLN~",
            Some("APM"),
            Some(561),
            Some("1999-04-22T15:36:15.685Z"),
        );
        // A component with a trailing space.
        check(
            "SCHEDULER   : Calculated Speed = 7400 bps~  $$<APM ><Thu Apr 22          09:36:15.685 1999><thread=561 (0x231)>",
            "SCHEDULER   : Calculated Speed = 7400 bps~",
            Some("APM"),
            Some(561),
            Some("1999-04-22T15:36:15.685Z"),
        );
        // `>>thread=`.
        check(
            "SCHEDULER   : Not scheduling job because it's not mandatory over a slow    link~  $$<APM><Thu Apr 22 09:36:15.716 1999>>thread=561 (0x231)>",
            "SCHEDULER   : Not scheduling job because it's not mandatory over a slow    link~",
            Some("APM"),
            Some(561),
            Some("1999-04-22T15:36:15.716Z"),
        );
        // Missing `>` after the component; thread above i32::MAX.
        check(
            "Component \"Available Programs Manager Win32\" install/verify/upgrade last done at 01:25:22 June 22, 1999 $$<CCIM32<Tue Jun 22 01:26:12.050 1999><thread=4294798339 (0xFFFD6C03)>",
            "Component \"Available Programs Manager Win32\" install/verify/upgrade last done at 01:25:22 June 22, 1999",
            Some("CCIM32"),
            Some(4_294_798_339),
            Some("1999-06-22T07:26:12.050Z"),
        );
        // A zone name followed by a space; a component with spaces.
        check(
            "Writing local TCF file C:\\WINDOWS\\MS\\SMS\\CORE\\DATA\\temp.tcf  $$<C:\\WINDOWS\\MS\\SMS\\CORE\\BIN\\BOOT32WN.EXE><Wed May 10 09:15:12.360 2000 ><thread=4294758987 (0xFFFCD24B)>",
            "Writing local TCF file C:\\WINDOWS\\MS\\SMS\\CORE\\DATA\\temp.tcf",
            Some("C:\\WINDOWS\\MS\\SMS\\CORE\\BIN\\BOOT32WN.EXE"),
            Some(4_294_758_987),
            Some("2000-05-10T15:15:12.360Z"),
        );
        check(
            "CLASS - Process Class: Win32_NTLogEvent $$<Hardware Inventory Agent><Fri May 05 10:00:21.186 2000><thread=175 (0xAF)>",
            "CLASS - Process Class: Win32_NTLogEvent",
            Some("Hardware Inventory Agent"),
            Some(175),
            Some("2000-05-05T16:00:21.186Z"),
        );
        // A message that contains `<…>` itself.
        check(
            "~Working on logon server <logonserver> $$<SMS_MAINTENANCE_MANAGER><Fri Feb 06 10:43:33 1998~><thread=12D>",
            "~Working on logon server <logonserver>",
            Some("SMS_MAINTENANCE_MANAGER"),
            Some(0x12D),
            Some("1998-02-06T16:43:33Z"),
        );
    }

    #[test]
    fn lines_without_a_trailer_are_plain() {
        for line in [
            "",
            "plain text",
            "costs $<5 or $$<>",
            "a $$<",
            "$<X",
            "price $<X> is fine",
            "<![LOG[not sms]LOG]!>",
        ] {
            check(line, line, None, None, None);
        }
    }

    #[test]
    fn odd_threads_and_times() {
        // Decimal overflowing u32 falls back to the hex in parentheses.
        assert_eq!(thread_id("99999999999 (0x10)>"), Some(16));
        assert_eq!(thread_id("E0>"), Some(0xE0));
        assert_eq!(thread_id("FFFFFFFFF>"), None);
        assert_eq!(thread_id("-1 (0x1)>"), Some(1));
        assert_eq!(thread_id(">"), None);
        assert_eq!(thread_id("12 (0x"), Some(12));
        // An unreadable time keeps the rest of the trailer.
        check(
            "x $$<C><not a time><thread=5 (0x5)>",
            "x",
            Some("C"),
            Some(5),
            None,
        );
        // A cut line: the trailer is incomplete.
        check(
            "x $$<SMS_DESPOOLER><01-15-2009 10:3",
            "x",
            Some("SMS_DESPOOLER"),
            None,
            None,
        );
    }

    /// The KB corpus: every line parses, and the structure found matches
    /// what the line visibly contains.
    #[test]
    fn whole_corpus() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/kb-sms-log-lines.txt"
        );
        let text = std::fs::read_to_string(path).expect("corpus in ../shared/corpus");
        let full_time = regex::Regex::new(
            r"\$\$?<[^<>]+>?<(\w{3} \w{3} +\d{1,2} +\d{1,2}:\d\d:\d\d(\.\d{3})? +\d{4}|\d\d-\d\d-\d{4} [0-9:.]+[+-]\d+)[^<>]*>",
        )
        .unwrap();
        let mut times = TimeResolver::new(TimeZoneSpec::Utc);
        let (mut lines, mut with_time, mut with_thread) = (0, 0, 0);
        for line in text.lines().filter(|l| !l.starts_with("# Q")) {
            lines += 1;
            let (r, had) = record(line, 0, false, &mut times);
            assert_eq!(r.raw, line);
            if line.contains("$$<") || line.contains(" $<") {
                assert!(had, "no trailer found in {line:?}");
                let c = r.component.unwrap();
                assert!(
                    !c.is_empty() && c.trim() == c && !c.contains(['<', '>']),
                    "{line:?}"
                );
                assert!(!r.message.ends_with(' '), "{line:?}");
                assert!(line.starts_with(r.message), "{line:?}");
            } else {
                assert!(!had, "{line:?}");
                assert_eq!(r.message, line);
            }
            // A complete SMS 2.0 / 1.x / ConfigMgr time yields a time, and
            // only a time field yields one.
            if full_time.is_match(line) {
                assert!(r.time.is_some(), "no time in {line:?}");
                with_time += 1;
            } else {
                assert!(r.time.is_none(), "a time from nowhere in {line:?}");
            }
            if line.contains("thread=") {
                assert!(r.thread.is_some(), "no thread in {line:?}");
                with_thread += 1;
            }
        }
        assert!(lines > 240, "{lines} lines");
        assert!(with_time > 150, "{with_time} with time");
        assert!(with_thread > 150, "{with_thread} with thread");
    }

    proptest! {
        #[test]
        fn never_panics(line in "(\\PC|\\$\\$<|\\$<|<|>|thread=| \\(0x|~|\\.\\.\\.|[0-9: -]){0,60}") {
            let mut times = TimeResolver::new(TimeZoneSpec::Local);
            let (r, had) = record(&line, 0, false, &mut times);
            prop_assert_eq!(r.raw, line.as_str());
            prop_assert!(line.starts_with(r.message));
            prop_assert_eq!(had, r.component.is_some());
        }

        #[test]
        fn message_and_trailer_round_trip(
            message in "[^$]{0,40}",
            component in "[A-Za-z_. \\\\:]{0,20}[A-Za-z_]",
            thread in any::<u32>(),
            ms in 0u32..1000,
        ) {
            let line = format!("{message}  $$<{component}><01-15-2009 10:35:27.{ms:03}+300><thread={thread} (0x{thread:X})>");
            let mut times = TimeResolver::new(TimeZoneSpec::Utc);
            let (r, had) = record(&line, 0, false, &mut times);
            prop_assert!(had);
            prop_assert_eq!(r.message, message.trim_end_matches([' ', '\t']));
            prop_assert_eq!(r.component, Some(component.trim()));
            prop_assert_eq!(r.thread, Some(thread));
            prop_assert_eq!(r.time.map(|t| t.as_unix_millis() % 1000), Some(i64::from(ms)));
        }
    }
}
