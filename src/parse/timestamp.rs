//! Timestamps written inside log records, and their conversion to UTC.
//!
//! Owns: hand-written parsers for the three SMS trailer forms and the CMTrace
//! `time`/`date` attributes, and the per-file [`TimeResolver`] that turns
//! their civil time into a [`Timestamp`]. Does not own: the [`Timestamp`] and
//! [`TimeZoneSpec`] types ([`crate::time`]), or finding the timestamp in a
//! line (the format parsers).
//!
//! Forms:
//! - ConfigMgr: `MM-DD-YYYY HH:MM:SS.mmm±BIAS`, BIAS in minutes with
//!   UTC = local + BIAS (US Eastern daylight is `+240`).
//! - SMS 2.0/2003: `Www Mmm dd HH:MM:SS.mmm YYYY <Windows zone name>`.
//! - SMS 1.x: `Www Mmm dd HH:MM:SS YYYY~`.
//! - CMTrace: `time="HH:MM:SS.fffffff±BIAS" date="M-D-YYYY"`.
//!
//! Decisions where the contract is silent:
//! - Runs of spaces or tabs are accepted between every field, the weekday is
//!   optional and not checked against the date, month names are matched on
//!   their first three letters, and day, hour, minute and second may have
//!   one or two digits. The fraction may have 1–9 digits (more are read and
//!   ignored).
//! - A bias outside ±24 h, an impossible date, or a field that is not a
//!   number makes the timestamp unreadable (`None`), never a guess.
//! - A Windows zone name in the line wins over the source's configured zone
//!   (the writer knew its zone); a name not in [`crate::parse::winzone`]
//!   falls back to the source's zone, like a missing one.
//! - For a source in a zone with daylight saving (`local` or an IANA name),
//!   the offset is looked up once per civil hour and cached: transitions are
//!   assumed to fall on whole hours (true of every zone in use today), the
//!   repeated hour resolves to the earlier instant and the skipped hour moves
//!   forward, as [`TimeZoneSpec::to_utc`] does.

use crate::time::{Civil, TimeZoneSpec, Timestamp};

/// What a timestamp says about its zone.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Zone<'a> {
    /// A ConfigMgr/CMTrace bias in minutes: UTC = local + bias.
    Bias(i32),
    /// A Windows zone name (SMS 2.0/2003).
    Windows(&'a str),
    /// Nothing: the source's zone applies.
    Source,
}

/// A civil time as written, and its zone.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stamp<'a> {
    pub(crate) civil: Civil,
    pub(crate) zone: Zone<'a>,
}

/// Where the seconds of an SMS time field start: after the clock's second
/// colon (no form has a colon before its clock).
fn seconds_at(text: &str) -> Option<usize> {
    let first = memchr::memchr(b':', text.as_bytes())?;
    let second = memchr::memchr(b':', &text.as_bytes()[first + 1..])?;
    Some(first + second + 2)
}

/// Parses the time field of an SMS trailer (the text between `<` and `>`):
/// ConfigMgr form when it starts with a digit, else SMS 2.0 / 1.x form.
pub(crate) fn parse_sms(text: &str) -> Option<Stamp<'_>> {
    let mut c = Cursor::new(text);
    c.spaces();
    if c.peek()?.is_ascii_digit() {
        parse_configmgr(c)
    } else {
        parse_sms2(c, text)
    }
}

/// `MM-DD-YYYY HH:MM:SS.mmm±BIAS` (the bias may be absent).
fn parse_configmgr(mut c: Cursor<'_>) -> Option<Stamp<'static>> {
    let (year, month, day) = c.date()?;
    if c.spaces() == 0 {
        return None;
    }
    let (hour, minute, second, nanos) = c.clock()?;
    let zone = c.bias()?;
    c.spaces();
    if !c.done() {
        return None;
    }
    Some(Stamp {
        civil: Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        },
        zone,
    })
}

/// `Www Mmm dd HH:MM:SS[.mmm] YYYY[~] [zone name]`.
fn parse_sms2<'a>(mut c: Cursor<'a>, text: &'a str) -> Option<Stamp<'a>> {
    let mut month = month_number(c.word())?;
    if month == 0 {
        // That was the weekday.
        c.spaces();
        month = month_number(c.word())?;
    }
    if month == 0 {
        return None;
    }
    c.spaces();
    let day = c.number(1, 2)?;
    c.spaces();
    let (hour, minute, second, nanos) = c.clock()?;
    if c.spaces() == 0 {
        return None;
    }
    let year = c.number(4, 4)?;
    let rest = text.get(c.at..)?;
    let name = rest.trim_matches(|ch: char| ch == '~' || ch == ' ' || ch == '\t');
    let zone = if name.is_empty() {
        Zone::Source
    } else {
        Zone::Windows(name)
    };
    if !rest.is_empty() && !rest.starts_with([' ', '\t', '~']) {
        return None;
    }
    Some(Stamp {
        civil: Civil {
            year: year as i32,
            month: day_field(month)?,
            day: day_field(day)?,
            hour,
            minute,
            second,
            nanos,
        },
        zone,
    })
}

/// CMTrace `time="HH:MM:SS.fffffff±BIAS"` and `date="M-D-YYYY"`.
pub(crate) fn parse_cmtrace(time: &str, date: &str) -> Option<Stamp<'static>> {
    let mut d = Cursor::new(date.trim());
    let (year, month, day) = d.date()?;
    if !d.done() {
        return None;
    }
    let mut t = Cursor::new(time.trim());
    let (hour, minute, second, nanos) = t.clock()?;
    let zone = t.bias()?;
    if !t.done() {
        return None;
    }
    Some(Stamp {
        civil: Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        },
        zone,
    })
}

/// 1–12 for a month name (first three letters, any case), 0 for a weekday
/// name, `None` for anything else.
fn month_number(word: &[u8]) -> Option<u32> {
    let key = word.get(..3)?;
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    const DAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
    if let Some(i) = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(key)) {
        return Some(i as u32 + 1);
    }
    DAYS.iter()
        .any(|d| d.eq_ignore_ascii_case(key))
        .then_some(0)
}

fn day_field(n: u32) -> Option<u8> {
    u8::try_from(n).ok()
}

/// A byte cursor over ASCII fields.
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            s: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn done(&self) -> bool {
        self.at >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs; returns how many.
    fn spaces(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
        self.at - start
    }

    /// A run of ASCII letters.
    fn word(&mut self) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.at += 1;
        }
        &self.s[start..self.at]
    }

    /// A decimal number of `min..=max` digits, not followed by another digit.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.at;
        let mut n: u32 = 0;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            if self.at - start == max {
                return None;
            }
            n = n * 10 + u32::from(b - b'0');
            self.at += 1;
        }
        (self.at - start >= min).then_some(n)
    }

    /// `M-D-YYYY` (month and day with one or two digits).
    fn date(&mut self) -> Option<(i32, u8, u8)> {
        let month = self.number(1, 2)?;
        if !self.eat(b'-') {
            return None;
        }
        let day = self.number(1, 2)?;
        if !self.eat(b'-') {
            return None;
        }
        let year = self.number(4, 4)?;
        Some((year as i32, day_field(month)?, day_field(day)?))
    }

    /// `H:MM:SS[.fraction]` → (hour, minute, second, nanoseconds).
    fn clock(&mut self) -> Option<(u8, u8, u8, u32)> {
        let hour = self.number(1, 2)?;
        if !self.eat(b':') {
            return None;
        }
        let minute = self.number(1, 2)?;
        if !self.eat(b':') {
            return None;
        }
        let (second, nanos) = self.seconds()?;
        Some((
            day_field(hour)?,
            day_field(minute)?,
            day_field(second)?,
            nanos,
        ))
    }

    /// `SS[.fraction]` → (second, nanoseconds).
    fn seconds(&mut self) -> Option<(u32, u32)> {
        let second = self.number(1, 2)?;
        let mut nanos = 0;
        if self.eat(b'.') {
            let start = self.at;
            let mut scale = 100_000_000;
            while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
                nanos += u32::from(b - b'0') * scale;
                scale /= 10;
                self.at += 1;
            }
            if self.at == start {
                return None;
            }
        }
        Some((second, nanos))
    }

    /// An optional `±MINUTES` bias: `Some(Zone::Source)` when absent,
    /// `None` when malformed or beyond ±24 hours.
    fn bias(&mut self) -> Option<Zone<'static>> {
        let sign = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Some(Zone::Source),
        };
        self.at += 1;
        let minutes = self.number(1, 4)?;
        if minutes > 24 * 60 {
            return None;
        }
        Some(Zone::Bias(sign * minutes as i32))
    }
}

/// Turns parsed [`Stamp`]s of one file into UTC [`Timestamp`]s.
///
/// # Performance
/// Fixed offsets are arithmetic. A source zone with daylight saving costs a
/// time-zone database lookup once per civil hour of log (cached), and a
/// Windows zone name a table scan once per distinct name in a row (cached).
#[derive(Debug)]
pub(crate) struct TimeResolver {
    /// The source's zone; `Local` is resolved to the system zone once.
    source: TimeZoneSpec,
    /// The civil hour (`YYYYMMDDHH`) whose offset is cached, if any.
    hour: Option<i64>,
    /// The source's offset east of UTC in seconds during `hour`.
    hour_offset: i32,
    /// The Windows zone name looked up last, and what it gave.
    zone_name: String,
    zone_offset: Option<i32>,
    /// The last SMS time field read around its seconds (see
    /// [`TimeResolver::sms`]), and its instant at second 0 in nanoseconds.
    minute_head: String,
    minute_tail: String,
    minute_base: Option<i64>,
}

impl TimeResolver {
    /// A resolver for a source whose offset-less timestamps are in `source`.
    pub(crate) fn new(source: TimeZoneSpec) -> TimeResolver {
        let source = match source {
            // Read the system zone once, not on every cache miss.
            TimeZoneSpec::Local => TimeZoneSpec::Named(jiff::tz::TimeZone::system()),
            other => other,
        };
        TimeResolver {
            source,
            hour: None,
            hour_offset: 0,
            zone_name: String::new(),
            zone_offset: None,
            minute_head: String::new(),
            minute_tail: String::new(),
            minute_base: None,
        }
    }

    /// The instant the time field of an SMS trailer stands for
    /// ([`parse_sms`] then [`TimeResolver::resolve`]), remembering the last
    /// minute: a field that differs from the previous one only in its
    /// seconds (most lines of a log) costs a few comparisons and one small
    /// number. The instant is linear in the seconds, and the zone offset is
    /// fixed for the minute, so the result is the same as the full parse.
    pub(crate) fn sms(&mut self, text: &str) -> Option<Timestamp> {
        let split = seconds_at(text);
        if let (Some(p), Some(base)) = (split, self.minute_base)
            && text.as_bytes()[..p] == *self.minute_head.as_bytes()
        {
            let mut c = Cursor::new(text);
            c.at = p;
            if let Some((second, nanos)) = c.seconds()
                && second <= 60
                && text.as_bytes()[c.at..] == *self.minute_tail.as_bytes()
            {
                let offset = i64::from(second) * 1_000_000_000 + i64::from(nanos);
                return base.checked_add(offset).map(Timestamp::from_unix_nanos);
            }
        }
        let stamp = parse_sms(text)?;
        let (second, nanos) = (stamp.civil.second, stamp.civil.nanos);
        let time = self.resolve(stamp)?;
        self.minute_base = None;
        if let Some(p) = split {
            let mut c = Cursor::new(text);
            c.at = p;
            if c.seconds() == Some((u32::from(second), nanos)) {
                self.minute_head.clear();
                self.minute_head.push_str(&text[..p]);
                self.minute_tail.clear();
                self.minute_tail.push_str(&text[c.at..]);
                let offset = i64::from(second) * 1_000_000_000 + i64::from(nanos);
                self.minute_base = time.as_unix_nanos().checked_sub(offset);
            }
        }
        Some(time)
    }

    /// The instant a stamp stands for; `None` for an impossible date or time.
    pub(crate) fn resolve(&mut self, stamp: Stamp<'_>) -> Option<Timestamp> {
        let wall = Timestamp::from_civil_utc(stamp.civil)?;
        // Seconds to add to the wall time read as UTC.
        let shift = match stamp.zone {
            Zone::Bias(minutes) => i64::from(minutes) * 60,
            Zone::Windows(name) => match self.windows_offset(name) {
                Some(east) => -i64::from(east),
                None => -i64::from(self.source_offset(stamp.civil)?),
            },
            Zone::Source => -i64::from(self.source_offset(stamp.civil)?),
        };
        let nanos = wall
            .as_unix_nanos()
            .checked_add(shift.checked_mul(1_000_000_000)?)?;
        Some(Timestamp::from_unix_nanos(nanos))
    }

    fn windows_offset(&mut self, name: &str) -> Option<i32> {
        if self.zone_name != name {
            self.zone_name.clear();
            self.zone_name.push_str(name);
            self.zone_offset = crate::parse::winzone::offset_of(name);
        }
        self.zone_offset
    }

    /// The source zone's offset east of UTC, in seconds, at a civil time.
    fn source_offset(&mut self, civil: Civil) -> Option<i32> {
        match &self.source {
            TimeZoneSpec::Utc => return Some(0),
            TimeZoneSpec::Fixed(secs) => return Some(*secs),
            TimeZoneSpec::Local | TimeZoneSpec::Named(_) => {}
        }
        let key = i64::from(civil.year) * 1_000_000
            + i64::from(civil.month) * 10_000
            + i64::from(civil.day) * 100
            + i64::from(civil.hour);
        if self.hour != Some(key) {
            let probe = Civil {
                minute: 0,
                second: 0,
                nanos: 0,
                ..civil
            };
            let utc = self.source.to_utc(probe)?;
            let wall = Timestamp::from_civil_utc(probe)?;
            let secs = (wall.as_unix_nanos() - utc.as_unix_nanos()) / 1_000_000_000;
            self.hour_offset = i32::try_from(secs).ok()?;
            self.hour = Some(key);
        }
        Some(self.hour_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    /// Parses an SMS trailer time in a source at UTC−06:00 and compares with
    /// an RFC 3339 instant (`None`: unreadable).
    fn check(text: &str, expected: Option<&str>) {
        let mut r = TimeResolver::new(TimeZoneSpec::Fixed(-6 * 3_600));
        let got = parse_sms(text).and_then(|s| r.resolve(s));
        assert_eq!(got, expected.map(utc), "{text:?}");
    }

    #[test]
    fn configmgr_form() {
        check(
            "01-15-2009 10:35:27.046+300",
            Some("2009-01-15T15:35:27.046Z"),
        );
        check(
            "07-14-2000 08:37:37.180+240",
            Some("2000-07-14T12:37:37.180Z"),
        );
        check(
            "01-15-2009 10:35:27.046-60",
            Some("2009-01-15T09:35:27.046Z"),
        );
        check("1-5-2009 1:02:03.4+000", Some("2009-01-05T01:02:03.400Z"));
        // No bias: the source zone (UTC−6 here).
        check("01-15-2009 10:35:27.046", Some("2009-01-15T16:35:27.046Z"));
        for bad in [
            "13-15-2009 10:35:27.046+300",
            "02-30-2009 10:35:27.046+300",
            "01-15-2009 24:35:27.046+300",
            "01-15-2009 10:35:27.046+9999",
            "01-15-2009 10:35:27.+300",
            "01-15-09 10:35:27.046+300",
            "01-15-2009 10:35:27.046+300 junk",
            "01-15-2009",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn sms2_form() {
        check(
            "Fri Mar 26 10:43:41.547 1999 Eastern Standard Time",
            Some("1999-03-26T15:43:41.547Z"),
        );
        check(
            "Mon May 24 03:56:30.377 1999 Eastern Daylight Time",
            Some("1999-05-24T07:56:30.377Z"),
        );
        check(
            "Mon Jul 03 12:25:46.750 2000 GMT Daylight Time",
            Some("2000-07-03T11:25:46.750Z"),
        );
        check(
            "Wed Jul 4 9:46:43.146 2001 Central Standard Time",
            Some("2001-07-04T15:46:43.146Z"),
        );
        // Runs of spaces, no zone, a zone followed by a space: source zone.
        check(
            "Thu Apr 22       09:36:15.685 1999",
            Some("1999-04-22T15:36:15.685Z"),
        );
        check(
            "Thu Apr 22 09:36:15.685         1999",
            Some("1999-04-22T15:36:15.685Z"),
        );
        check(
            "Wed May 10 09:15:12.360 2000 ",
            Some("2000-05-10T15:15:12.360Z"),
        );
        // An unknown zone name: source zone.
        check(
            "Wed May 10 09:15:12.360 2000 Mars Standard Time",
            Some("2000-05-10T15:15:12.360Z"),
        );
        for bad in [
            "Thu Foo 22 09:36:15.685 1999",
            "Thu Apr 32 09:36:15.685 1999",
            "Thu Apr 22 09:36 1999",
            "Thu Apr 22 09:36:15.685 99",
            "Thu Apr 22 09:36:15.6851999",
            "Thu",
            "",
            "   ",
        ] {
            check(bad, None);
        }
    }

    #[test]
    fn sms1_form() {
        check(
            "Mon Dec 04 15:41:45 1995~",
            Some("1995-12-04T21:41:45.000Z"),
        );
        check("Sat Dec 02 15:16:59 1995", Some("1995-12-02T21:16:59.000Z"));
    }

    #[test]
    fn cmtrace_form() {
        let mut r = TimeResolver::new(TimeZoneSpec::Utc);
        let mut at = |time, date| parse_cmtrace(time, date).and_then(|s| r.resolve(s));
        assert_eq!(
            at("10:35:27.0461234+300", "1-15-2009"),
            Some(utc("2009-01-15T15:35:27.046123400Z"))
        );
        assert_eq!(
            at("10:35:27.046", "01-15-2009"),
            Some(utc("2009-01-15T10:35:27.046Z"))
        );
        assert_eq!(
            at("23:59:59.999-60", "12-31-2008"),
            Some(utc("2008-12-31T22:59:59.999Z"))
        );
        assert_eq!(at("10:35:27", "2009-01-15"), None);
        assert_eq!(at("", "1-15-2009"), None);
    }

    #[test]
    fn named_source_zone_is_cached_per_hour() {
        let tz = TimeZoneSpec::parse("America/New_York").unwrap();
        let mut r = TimeResolver::new(tz);
        let mut at = |text| parse_sms(text).and_then(|s| r.resolve(s));
        // Summer (EDT, −4) then winter (EST, −5) in the same resolver.
        assert_eq!(
            at("Fri Jul 14 08:37:37.180 2000"),
            Some(utc("2000-07-14T12:37:37.180Z"))
        );
        assert_eq!(
            at("Fri Jul 14 08:59:59.999 2000"),
            Some(utc("2000-07-14T12:59:59.999Z"))
        );
        assert_eq!(
            at("Mon Dec 04 15:41:45 1995~"),
            Some(utc("1995-12-04T20:41:45Z"))
        );
        // The skipped hour moves forward; the repeated hour takes the
        // earlier instant (daylight time).
        assert_eq!(
            at("Sun Apr 02 02:30:00.000 2000"),
            Some(utc("2000-04-02T07:30:00Z"))
        );
        assert_eq!(
            at("Sun Oct 29 01:30:00.000 2000"),
            Some(utc("2000-10-29T05:30:00Z"))
        );
        // An explicit zone name wins over the source zone.
        assert_eq!(
            at("Sun Oct 29 01:30:00.000 2000 Eastern Standard Time"),
            Some(utc("2000-10-29T06:30:00Z"))
        );
    }

    #[test]
    fn never_panics_on_odd_text() {
        let mut r = TimeResolver::new(TimeZoneSpec::Local);
        for text in [
            "99-99-9999 99:99:99.9999999999+99999",
            "0-0-0000 0:0:0.0-0",
            "Mon Jan 1 0:0:0.0 0000",
            "Mon Jan 1 0:0:0.0 9999 UTC",
            "12-31-9999 23:59:59.999-1440",
            "\u{FFFD}\u{FFFD}",
            "Mon Jan 1 0:0:0.0 1999\u{e9}",
        ] {
            let _ = parse_sms(text).and_then(|s| r.resolve(s));
        }
    }

    /// The minute memo of [`TimeResolver::sms`] gives what a fresh parse
    /// gives, for fields that share their minute or not, well formed or
    /// not, in every zone kind.
    #[test]
    fn the_minute_memo_agrees_with_a_fresh_parse() {
        use proptest::prelude::*;
        let field = prop_oneof![
            (
                0u8..3,
                0u8..3,
                0u32..70,
                prop::sample::select(vec!["", ".1", ".123", ".1234567", ".", ".0000000009"]),
                prop::sample::select(vec!["+300", "-120", "", "+99999", "+0", " ", "x"])
            )
                .prop_map(|(d, m, s, frac, bias)| format!(
                    "01-1{d}-2009 10:3{m}:{s:02}{frac}{bias}"
                )),
            (
                0u8..3,
                0u32..70,
                prop::sample::select(vec!["", ".5", ".250"]),
                prop::sample::select(vec![
                    "",
                    "~",
                    " Eastern Standard Time",
                    " Nowhere Time",
                    " 2000"
                ])
            )
                .prop_map(|(m, s, frac, zone)| format!("Sun Oct 29 01:3{m}:{s}{frac} 2000{zone}")),
            "[0-9: .+-]{0,24}",
        ];
        let zones = prop::sample::select(vec![
            TimeZoneSpec::Utc,
            TimeZoneSpec::Fixed(-6 * 3_600),
            TimeZoneSpec::Named(jiff::tz::TimeZone::get("America/New_York").unwrap()),
        ]);
        proptest!(|(zone in zones, fields in prop::collection::vec(field, 1..40))| {
            let mut memo = TimeResolver::new(zone.clone());
            for text in &fields {
                let mut fresh = TimeResolver::new(zone.clone());
                let want = parse_sms(text).and_then(|s| fresh.resolve(s));
                prop_assert_eq!(memo.sms(text), want, "{:?}", text);
            }
        });
    }
}
