//! Instants, spans, time zones and the clock.
//!
//! This module owns every notion of time in logwarden: the [`Timestamp`] that
//! records, samples and alerts carry; the duration syntax of rule files
//! (`"250ms"`, `"30s"`, `"10m"`, `"2h"`, `"1d"`); the [`TimeZoneSpec`] a source
//! uses for timestamps without an offset; and the [`Clock`].
//!
//! **Architecture invariant:** this is the only module that reads the system
//! clock. Everything downstream of a source (the matcher, the correlator, the
//! rule tests) receives time as a parameter, which is what makes `replay` and
//! `test` give the same answers as `run`.

use std::fmt;
use std::time::Duration;

/// A UTC instant with nanosecond precision: nanoseconds since the Unix epoch.
///
/// Plain `i64` arithmetic keeps the hot path cheap; [`Timestamp::MIN`] and
/// [`Timestamp::MAX`] bound every saturating operation.
#[derive(
    Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable instant.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant.
    pub const MAX: Timestamp = Timestamp(i64::MAX);
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: i64) -> Timestamp {
        Timestamp(nanos)
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub const fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp(millis.saturating_mul(1_000_000))
    }

    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_unix_secs(secs: i64) -> Timestamp {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_unix_nanos(self) -> i64 {
        self.0
    }

    /// Whole milliseconds since the Unix epoch (rounded toward negative infinity).
    pub const fn as_unix_millis(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// `self + d`, saturating at [`Timestamp::MAX`].
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(duration_nanos(d)))
    }

    /// `self - d`, saturating at [`Timestamp::MIN`].
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(duration_nanos(d)))
    }

    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        let nanos = self.0.saturating_sub(earlier.0);
        if nanos <= 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(nanos as u64)
        }
    }

    /// Builds a timestamp from a civil (wall-clock) time that is already UTC.
    ///
    /// Returns `None` for impossible dates (February 30th, month 13, …) or a
    /// time outside `0..24h`. Uses plain arithmetic (Howard Hinnant's
    /// days-from-civil), so parsers may call it for every record.
    pub fn from_civil_utc(civil: Civil) -> Option<Timestamp> {
        let Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        } = civil;
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
            || nanos >= 1_000_000_000
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs =
            days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second);
        secs.checked_mul(1_000_000_000)?
            .checked_add(i64::from(nanos))
            .map(Timestamp)
    }

    /// The civil UTC fields of this instant.
    pub fn to_civil_utc(self) -> Civil {
        let secs = self.0.div_euclid(1_000_000_000);
        let nanos = self.0.rem_euclid(1_000_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (sod / 3_600) as u8,
            minute: ((sod % 3_600) / 60) as u8,
            second: (sod % 60) as u8,
            nanos,
        }
    }

    /// RFC 3339 in UTC with exactly three fraction digits:
    /// `2001-07-04T14:46:43.146Z`. This is the form of every timestamp in the
    /// alert document.
    pub fn to_rfc3339(self) -> String {
        let c = self.to_civil_utc();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            c.year,
            c.month,
            c.day,
            c.hour,
            c.minute,
            c.second,
            c.nanos / 1_000_000
        )
    }

    /// Parses an RFC 3339 timestamp (any offset; converted to UTC).
    ///
    /// # Errors
    /// When `s` is not RFC 3339.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimeError> {
        let ts: jiff::Timestamp = s.parse().map_err(|e: jiff::Error| TimeError::Rfc3339 {
            input: s.to_owned(),
            reason: e.to_string(),
        })?;
        i64::try_from(ts.as_nanosecond())
            .map(Timestamp)
            .map_err(|_| TimeError::Rfc3339 {
                input: s.to_owned(),
                reason: "out of range".to_owned(),
            })
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Civil date and time fields, as written in a log line.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Civil {
    /// Four-digit year.
    pub year: i32,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–60 (a leap second is accepted and rolls over).
    pub second: u8,
    /// Fraction of the second in nanoseconds.
    pub nanos: u32,
}

fn duration_nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

fn days_from_civil(year: i32, month: u8, day: u8) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = if m <= 2 { y + 1 } else { y };
    (y as i32, m, d)
}

/// Errors of this module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TimeError {
    /// A duration string that is not `<number><unit>`.
    #[error(
        "invalid duration {input:?}: {reason} (write a number and a unit: \"250ms\", \"30s\", \"10m\", \"2h\", \"1d\")"
    )]
    Duration {
        /// The text as written.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A timestamp that is not RFC 3339.
    #[error("invalid RFC 3339 timestamp {input:?}: {reason}")]
    Rfc3339 {
        /// The text as written.
        input: String,
        /// What the parser said.
        reason: String,
    },
    /// A time zone name that is neither `local`, `utc`, a fixed offset nor an
    /// IANA name known to this machine.
    #[error(
        "unknown time zone {input:?} (use \"local\", \"utc\", an offset like \"+02:00\", or an IANA name like \"Europe/Berlin\")"
    )]
    TimeZone {
        /// The text as written.
        input: String,
    },
}

/// Parses a rule-language duration: a non-negative integer followed by one of
/// `ms`, `s`, `m`, `h`, `d`. Several parts may be concatenated (`"1h30m"`).
///
/// # Errors
/// [`TimeError::Duration`] when the text is empty, has no unit, an unknown
/// unit, or overflows.
///
/// # Example
/// ```
/// use std::time::Duration;
/// assert_eq!(logwarden::time::parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(logwarden::time::parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert!(logwarden::time::parse_duration("10").is_err());
/// ```
pub fn parse_duration(input: &str) -> Result<Duration, TimeError> {
    let err = |reason| TimeError::Duration {
        input: input.to_owned(),
        reason,
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(err("it is empty"));
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total = Duration::ZERO;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err("expected a number"));
        }
        let n: u64 = s[start..i]
            .parse()
            .map_err(|_| err("the number is too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let part = match &s[ustart..i] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(
                n.checked_mul(60)
                    .ok_or_else(|| err("the number is too large"))?,
            ),
            "h" => Duration::from_secs(
                n.checked_mul(3_600)
                    .ok_or_else(|| err("the number is too large"))?,
            ),
            "d" => Duration::from_secs(
                n.checked_mul(86_400)
                    .ok_or_else(|| err("the number is too large"))?,
            ),
            "" => return Err(err("a unit is missing")),
            _ => return Err(err("unknown unit")),
        };
        total = total
            .checked_add(part)
            .ok_or_else(|| err("the number is too large"))?;
    }
    Ok(total)
}

/// Formats a duration the way rule files write it: `"15m"`, `"1h30m"`, `"250ms"`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    let mut ms = d.as_millis();
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    if out.is_empty() {
        out.push_str("0ms");
    }
    out
}

/// How a source's timestamps that carry no offset are turned into UTC.
#[derive(Clone, Debug)]
pub enum TimeZoneSpec {
    /// The machine's local zone (the default: SMS logs are written in local time).
    Local,
    /// UTC.
    Utc,
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
    /// An IANA zone from this machine's (or the bundled) tz database.
    Named(jiff::tz::TimeZone),
}

impl PartialEq for TimeZoneSpec {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (TimeZoneSpec::Local, TimeZoneSpec::Local) | (TimeZoneSpec::Utc, TimeZoneSpec::Utc) => {
                true
            }
            (TimeZoneSpec::Fixed(a), TimeZoneSpec::Fixed(b)) => a == b,
            (TimeZoneSpec::Named(a), TimeZoneSpec::Named(b)) => a.iana_name() == b.iana_name(),
            _ => false,
        }
    }
}

impl TimeZoneSpec {
    /// Parses `local`, `utc`, `+HH:MM` / `-HH:MM`, or an IANA name.
    ///
    /// # Errors
    /// [`TimeError::TimeZone`] for anything else.
    pub fn parse(input: &str) -> Result<TimeZoneSpec, TimeError> {
        let s = input.trim();
        if s.eq_ignore_ascii_case("local") {
            return Ok(TimeZoneSpec::Local);
        }
        if s.eq_ignore_ascii_case("utc")
            || s.eq_ignore_ascii_case("z")
            || s.eq_ignore_ascii_case("gmt")
        {
            return Ok(TimeZoneSpec::Utc);
        }
        if let Some(secs) = parse_fixed_offset(s) {
            return Ok(TimeZoneSpec::Fixed(secs));
        }
        jiff::tz::TimeZone::get(s)
            .map(TimeZoneSpec::Named)
            .map_err(|_| TimeError::TimeZone {
                input: input.to_owned(),
            })
    }

    /// Converts a civil time in this zone to UTC. Ambiguous local times (the
    /// repeated hour when daylight saving ends) resolve to the earlier
    /// instant; skipped ones (the hour that never happens) move forward.
    pub fn to_utc(&self, civil: Civil) -> Option<Timestamp> {
        match self {
            TimeZoneSpec::Utc => Timestamp::from_civil_utc(civil),
            TimeZoneSpec::Fixed(secs) => Timestamp::from_civil_utc(civil)
                .map(|t| Timestamp(t.0 - i64::from(*secs) * 1_000_000_000)),
            TimeZoneSpec::Local => zone_to_utc(&jiff::tz::TimeZone::system(), civil),
            TimeZoneSpec::Named(tz) => zone_to_utc(tz, civil),
        }
    }

    /// The offset east of UTC, in seconds, in effect at `at` in this zone.
    pub fn offset_at(&self, at: Timestamp) -> i32 {
        let tz = match self {
            TimeZoneSpec::Utc => return 0,
            TimeZoneSpec::Fixed(secs) => return *secs,
            TimeZoneSpec::Local => jiff::tz::TimeZone::system(),
            TimeZoneSpec::Named(tz) => tz.clone(),
        };
        match jiff::Timestamp::from_nanosecond(i128::from(at.0)) {
            Ok(ts) => tz.to_offset(ts).seconds(),
            Err(_) => 0,
        }
    }
}

fn parse_fixed_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => (&rest[..2], &rest[2..]),
        None => (rest, "0"),
    };
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3_600 + m * 60))
}

fn zone_to_utc(tz: &jiff::tz::TimeZone, c: Civil) -> Option<Timestamp> {
    let dt = jiff::civil::DateTime::new(
        i16::try_from(c.year).ok()?,
        i8::try_from(c.month).ok()?,
        i8::try_from(c.day).ok()?,
        i8::try_from(c.hour).ok()?,
        i8::try_from(c.minute).ok()?,
        i8::try_from(c.second.min(59)).ok()?,
        i32::try_from(c.nanos).ok()?,
    )
    .ok()?;
    let ts = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
    i64::try_from(ts.as_nanosecond()).ok().map(Timestamp)
}

/// A source of "now".
///
/// The agent uses [`SystemClock`]; rule tests and replay drive the engine
/// with record time and never consult a clock at all.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's wall clock.
#[derive(Copy, Clone, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp(duration_nanos(d))
    }
}

/// A monotonic stopwatch for measuring elapsed wall time (timeouts, poll
/// intervals). Lives here so that no other module touches `Instant::now`.
#[derive(Copy, Clone, Debug)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts a stopwatch now.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    /// Time elapsed since [`Stopwatch::start`].
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A time-lapse clock: starts at `origin` and runs `factor` times faster
/// than the wall clock. The demo runs the real agent on it so that a
/// half-hour incident plays in under a minute, with every component (log
/// timestamps, gauge samples, file ages) on the same clock.
#[derive(Debug)]
pub struct ScaledClock {
    origin: Timestamp,
    started: Stopwatch,
    factor: u32,
}

impl ScaledClock {
    /// A clock at `origin` now, running `factor` times faster.
    pub fn new(origin: Timestamp, factor: u32) -> ScaledClock {
        ScaledClock {
            origin,
            started: Stopwatch::start(),
            factor,
        }
    }

    /// The wall-clock span that `d` of this clock's time takes.
    pub fn real(&self, d: Duration) -> Duration {
        d / self.factor.max(1)
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        self.origin
            .saturating_add(self.started.elapsed() * self.factor.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn civil(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8, nanos: u32) -> Civil {
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        }
    }

    #[test]
    fn civil_roundtrip_and_rfc3339() {
        let t = Timestamp::from_civil_utc(civil(2001, 7, 4, 14, 46, 43, 146_000_000)).unwrap();
        assert_eq!(t.to_rfc3339(), "2001-07-04T14:46:43.146Z");
        assert_eq!(t.to_civil_utc(), civil(2001, 7, 4, 14, 46, 43, 146_000_000));
        assert_eq!(
            Timestamp::parse_rfc3339("2001-07-04T10:46:43.146-04:00"),
            Ok(t)
        );
        assert_eq!(Timestamp::EPOCH.to_rfc3339(), "1970-01-01T00:00:00.000Z");
        let before = Timestamp::from_civil_utc(civil(1969, 12, 31, 23, 59, 59, 0)).unwrap();
        assert_eq!(before.as_unix_nanos(), -1_000_000_000);
        assert_eq!(before.to_rfc3339(), "1969-12-31T23:59:59.000Z");
    }

    #[test]
    fn civil_rejects_impossible_dates() {
        assert_eq!(
            Timestamp::from_civil_utc(civil(2001, 2, 29, 0, 0, 0, 0)),
            None
        );
        assert!(Timestamp::from_civil_utc(civil(2000, 2, 29, 0, 0, 0, 0)).is_some());
        assert_eq!(
            Timestamp::from_civil_utc(civil(2001, 13, 1, 0, 0, 0, 0)),
            None
        );
        assert_eq!(
            Timestamp::from_civil_utc(civil(2001, 1, 1, 24, 0, 0, 0)),
            None
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "10", "m", "10x", "-5m", "1.5h", "99999999999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn zones() {
        let c = civil(2000, 7, 14, 8, 37, 37, 180_000_000);
        let utc = Timestamp::from_civil_utc(civil(2000, 7, 14, 12, 37, 37, 180_000_000));
        assert_eq!(TimeZoneSpec::parse("-04:00").unwrap().to_utc(c), utc);
        assert_eq!(
            TimeZoneSpec::parse("America/New_York").unwrap().to_utc(c),
            utc
        );
        assert_eq!(
            TimeZoneSpec::parse("UTC").unwrap().to_utc(c),
            Timestamp::from_civil_utc(c)
        );
        assert!(TimeZoneSpec::parse("Mars/Olympus").is_err());
    }
}
