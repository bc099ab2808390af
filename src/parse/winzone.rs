//! Windows time-zone names → fixed UTC offsets, for SMS 2.0/2003 timestamps
//! such as `<Fri Mar 26 10:43:41.547 1999 Eastern Standard Time>`.
//!
//! Owns: the table of Windows zone names and the lookup. Does not own:
//! parsing timestamps ([`crate::parse::timestamp`]).
//!
//! SMS writes the zone's `StandardName` or `DaylightName` as Windows knows
//! it (`Eastern Standard Time`, `Eastern Daylight Time`), which says both the
//! zone and whether daylight saving was in effect: the name alone gives a
//! fixed offset. A daylight name is the standard name with `Standard`
//! replaced by `Daylight` (both 8 letters), and means the standard offset
//! plus the zone's daylight delta (one hour everywhere but Lord Howe and
//! Morocco).
//!
//! Decisions where the contract is silent:
//! - Names match case-insensitively, surrounding spaces ignored.
//! - Both the registry key names and the display `StandardName`s are listed
//!   where they differ (`Russian Standard Time` / `Russia TZ 2 Standard
//!   Time`), and a few names of Windows NT 4.0/2000 that were renamed later
//!   (`GFT`, `Saudi Arabia`, `Bombay`, `Jerusalem`, `Mexico … 2`).
//! - Zones whose offset changed use the value of the SMS 2.0/2003 era
//!   (1998–2010) when the name existed then (`Samoa` −11, `Venezuela` −4,
//!   `N. Central Asia` +6, `Jordan` and `Syria` +2), else today's.

/// One Windows zone: its standard name, standard offset east of UTC and
/// daylight delta, in minutes.
struct WindowsZone {
    standard: &'static str,
    offset: i16,
    daylight: i16,
}

const fn zone(standard: &'static str, offset: i16) -> WindowsZone {
    WindowsZone {
        standard,
        offset,
        daylight: 60,
    }
}

/// Every Windows zone, by its standard name. Sorted by offset for reading.
static ZONES: &[WindowsZone] = &[
    zone("Dateline Standard Time", -720),
    zone("UTC-11", -660),
    zone("Samoa Standard Time", -660),
    zone("Aleutian Standard Time", -600),
    zone("Hawaiian Standard Time", -600),
    zone("Marquesas Standard Time", -570),
    zone("Alaskan Standard Time", -540),
    zone("UTC-09", -540),
    zone("Pacific Standard Time (Mexico)", -480),
    zone("UTC-08", -480),
    zone("Pacific Standard Time", -480),
    zone("US Mountain Standard Time", -420),
    zone("Mountain Standard Time (Mexico)", -420),
    zone("Mexico Standard Time 2", -420),
    zone("Mountain Standard Time", -420),
    zone("Yukon Standard Time", -420),
    zone("Central America Standard Time", -360),
    zone("Central Standard Time", -360),
    zone("Easter Island Standard Time", -360),
    zone("Central Standard Time (Mexico)", -360),
    zone("Mexico Standard Time", -360),
    zone("Canada Central Standard Time", -360),
    zone("SA Pacific Standard Time", -300),
    zone("Eastern Standard Time (Mexico)", -300),
    zone("Eastern Standard Time", -300),
    zone("Haiti Standard Time", -300),
    zone("Cuba Standard Time", -300),
    zone("US Eastern Standard Time", -300),
    zone("Turks And Caicos Standard Time", -300),
    zone("Paraguay Standard Time", -240),
    zone("Atlantic Standard Time", -240),
    zone("Venezuela Standard Time", -240),
    zone("Central Brazilian Standard Time", -240),
    zone("SA Western Standard Time", -240),
    zone("Pacific SA Standard Time", -240),
    zone("Newfoundland Standard Time", -210),
    zone("Tocantins Standard Time", -180),
    zone("E. South America Standard Time", -180),
    zone("SA Eastern Standard Time", -180),
    zone("Argentina Standard Time", -180),
    zone("Greenland Standard Time", -180),
    zone("Montevideo Standard Time", -180),
    zone("Magallanes Standard Time", -180),
    zone("Saint Pierre Standard Time", -180),
    zone("Bahia Standard Time", -180),
    zone("UTC-02", -120),
    zone("Mid-Atlantic Standard Time", -120),
    zone("Azores Standard Time", -60),
    zone("Cape Verde Standard Time", -60),
    zone("UTC", 0),
    zone("Coordinated Universal Time", 0),
    zone("GMT Standard Time", 0),
    zone("Greenwich Standard Time", 0),
    zone("Sao Tome Standard Time", 0),
    WindowsZone {
        standard: "Morocco Standard Time",
        offset: 60,
        daylight: -60,
    },
    zone("W. Europe Standard Time", 60),
    zone("Central Europe Standard Time", 60),
    zone("Romance Standard Time", 60),
    zone("Central European Standard Time", 60),
    zone("W. Central Africa Standard Time", 60),
    zone("Jordan Standard Time", 120),
    zone("GTB Standard Time", 120),
    zone("GFT Standard Time", 120),
    zone("Middle East Standard Time", 120),
    zone("Egypt Standard Time", 120),
    zone("E. Europe Standard Time", 120),
    zone("Syria Standard Time", 120),
    zone("West Bank Standard Time", 120),
    zone("South Africa Standard Time", 120),
    zone("FLE Standard Time", 120),
    zone("Israel Standard Time", 120),
    zone("Jerusalem Standard Time", 120),
    zone("South Sudan Standard Time", 120),
    zone("Kaliningrad Standard Time", 120),
    zone("Russia TZ 1 Standard Time", 120),
    zone("Sudan Standard Time", 120),
    zone("Libya Standard Time", 120),
    zone("Namibia Standard Time", 120),
    zone("Arabic Standard Time", 180),
    zone("Turkey Standard Time", 180),
    zone("Arab Standard Time", 180),
    zone("Saudi Arabia Standard Time", 180),
    zone("Belarus Standard Time", 180),
    zone("Russian Standard Time", 180),
    zone("Russia TZ 2 Standard Time", 180),
    zone("E. Africa Standard Time", 180),
    zone("Volgograd Standard Time", 180),
    zone("Iran Standard Time", 210),
    zone("Arabian Standard Time", 240),
    zone("Astrakhan Standard Time", 240),
    zone("Azerbaijan Standard Time", 240),
    zone("Russia Time Zone 3", 240),
    zone("Russia TZ 3 Standard Time", 240),
    zone("Mauritius Standard Time", 240),
    zone("Saratov Standard Time", 240),
    zone("Georgian Standard Time", 240),
    zone("Caucasus Standard Time", 240),
    zone("Armenian Standard Time", 240),
    zone("Afghanistan Standard Time", 270),
    zone("West Asia Standard Time", 300),
    zone("Ekaterinburg Standard Time", 300),
    zone("Russia TZ 4 Standard Time", 300),
    zone("Pakistan Standard Time", 300),
    zone("Qyzylorda Standard Time", 300),
    zone("India Standard Time", 330),
    zone("Bombay Standard Time", 330),
    zone("Sri Lanka Standard Time", 330),
    zone("Nepal Standard Time", 345),
    zone("Central Asia Standard Time", 360),
    zone("Bangladesh Standard Time", 360),
    zone("Omsk Standard Time", 360),
    zone("Russia TZ 5 Standard Time", 360),
    zone("N. Central Asia Standard Time", 360),
    zone("Myanmar Standard Time", 390),
    zone("SE Asia Standard Time", 420),
    zone("Altai Standard Time", 420),
    zone("W. Mongolia Standard Time", 420),
    zone("North Asia Standard Time", 420),
    zone("Russia TZ 6 Standard Time", 420),
    zone("Novosibirsk Standard Time", 420),
    zone("Tomsk Standard Time", 420),
    zone("China Standard Time", 480),
    zone("North Asia East Standard Time", 480),
    zone("Russia TZ 7 Standard Time", 480),
    zone("Singapore Standard Time", 480),
    zone("Malay Peninsula Standard Time", 480),
    zone("W. Australia Standard Time", 480),
    zone("Taipei Standard Time", 480),
    zone("Ulaanbaatar Standard Time", 480),
    zone("Aus Central W. Standard Time", 525),
    zone("Transbaikal Standard Time", 540),
    zone("Tokyo Standard Time", 540),
    zone("North Korea Standard Time", 540),
    zone("Korea Standard Time", 540),
    zone("Yakutsk Standard Time", 540),
    zone("Russia TZ 8 Standard Time", 540),
    zone("Cen. Australia Standard Time", 570),
    zone("AUS Central Standard Time", 570),
    zone("E. Australia Standard Time", 600),
    zone("AUS Eastern Standard Time", 600),
    zone("West Pacific Standard Time", 600),
    zone("Tasmania Standard Time", 600),
    zone("Vladivostok Standard Time", 600),
    zone("Russia TZ 9 Standard Time", 600),
    WindowsZone {
        standard: "Lord Howe Standard Time",
        offset: 630,
        daylight: 30,
    },
    zone("Bougainville Standard Time", 660),
    zone("Russia TZ 10 Standard Time", 660),
    zone("Magadan Standard Time", 660),
    zone("Norfolk Standard Time", 660),
    zone("Sakhalin Standard Time", 660),
    zone("Central Pacific Standard Time", 660),
    zone("Russia TZ 11 Standard Time", 720),
    zone("Kamchatka Standard Time", 720),
    zone("New Zealand Standard Time", 720),
    zone("UTC+12", 720),
    zone("Fiji Standard Time", 720),
    zone("Chatham Islands Standard Time", 765),
    zone("UTC+13", 780),
    zone("Tonga Standard Time", 780),
    zone("Line Islands Standard Time", 840),
];

/// The offset east of UTC, in seconds, that a Windows zone name stands for:
/// the standard offset for a standard name, plus the daylight delta for a
/// daylight name. `None` for a name not in the table.
///
/// # Performance
/// A linear scan of about 160 names that mostly fails on the length; the
/// parser caches the last name looked up.
pub(crate) fn offset_of(name: &str) -> Option<i32> {
    let name = name.trim();
    ZONES.iter().find_map(|z| {
        if z.standard.eq_ignore_ascii_case(name) {
            Some(i32::from(z.offset) * 60)
        } else if is_daylight_name(z.standard, name) {
            Some(i32::from(z.offset + z.daylight) * 60)
        } else {
            None
        }
    })
}

/// Whether `name` is `standard` with `Standard` replaced by `Daylight`.
fn is_daylight_name(standard: &str, name: &str) -> bool {
    const STD: &str = "Standard";
    const DST: &str = "Daylight";
    if name.len() != standard.len() {
        return false;
    }
    let Some(at) = standard.find(STD) else {
        return false;
    };
    let end = at + STD.len();
    match (name.get(..at), name.get(at..end), name.get(end..)) {
        (Some(head), Some(word), Some(tail)) => {
            head.eq_ignore_ascii_case(&standard[..at])
                && word.eq_ignore_ascii_case(DST)
                && tail.eq_ignore_ascii_case(&standard[end..])
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `name` maps to `minutes` east of UTC.
    fn check(name: &str, minutes: i32) {
        assert_eq!(offset_of(name), Some(minutes * 60), "{name:?}");
    }

    #[test]
    fn standard_and_daylight_names() {
        check("Eastern Standard Time", -5 * 60);
        check("Eastern Daylight Time", -4 * 60);
        check("Central Standard Time", -6 * 60);
        check("Central Daylight Time", -5 * 60);
        check("Pacific Daylight Time", -7 * 60);
        check("GMT Standard Time", 0);
        check("GMT Daylight Time", 60);
        check("W. Europe Standard Time", 60);
        check("W. Europe Daylight Time", 120);
        check("India Standard Time", 330);
        check("Newfoundland Daylight Time", -150);
        check("Lord Howe Daylight Time", 660);
        check("Central Standard Time (Mexico)", -360);
        check("Central Daylight Time (Mexico)", -300);
        check("Mexico Daylight Time 2", -360);
        check("Coordinated Universal Time", 0);
        check("UTC-11", -660);
        // Case and surrounding spaces do not matter.
        check("  eastern STANDARD time ", -300);
    }

    #[test]
    fn unknown_names() {
        for name in ["", "Mars Standard Time", "Eastern", "Eastern Summer Time"] {
            assert_eq!(offset_of(name), None, "{name:?}");
        }
        // No daylight variant for names without "Standard".
        assert_eq!(offset_of("Coordinated Universal Daylight"), None);
    }

    #[test]
    fn table_is_sane() {
        let mut seen = std::collections::HashSet::new();
        for z in ZONES {
            assert!(
                seen.insert(z.standard.to_ascii_lowercase()),
                "duplicate {}",
                z.standard
            );
            assert!((-720..=840).contains(&z.offset), "{}", z.standard);
            assert!(z.standard.trim() == z.standard, "{}", z.standard);
        }
        assert!(ZONES.len() > 140);
    }
}
