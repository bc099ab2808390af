//! Deterministic identities: `logwarden.alert.id`, `logwarden.alert.uuid`
//! and `event.id` are hashes of the input that caused them, so that a line
//! re-read after a crash yields documents with the same ids.
//!
//! The hash is XXH3-128, whose output is fixed by its specification: ids stay
//! stable across logwarden versions and platforms.

use xxhash_rust::xxh3::Xxh3;

use crate::event::FileKey;
use crate::time::Timestamp;

/// What caused a transition, reduced to the facts an id is derived from.
#[derive(
    Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Cause {
    /// A record: its file incarnation and byte offset.
    Record {
        /// File identity.
        file: u64,
        /// Byte offset.
        offset: u64,
    },
    /// A gauge sample: the gauge index and sample time.
    Sample {
        /// Gauge index.
        gauge: u32,
        /// Sample time (nanoseconds since the epoch).
        at: i64,
    },
    /// Time passing: a timer of the rule that came due.
    Timer {
        /// Due time (nanoseconds since the epoch).
        at: i64,
    },
    /// Another transition (a correlation completed by a member's transition).
    Derived(u128),
}

impl Cause {
    /// The cause of a record read from `file` at `offset`.
    pub fn record(file: FileKey, offset: u64) -> Cause {
        Cause::Record {
            file: file.0,
            offset,
        }
    }

    /// The cause of a timer due at `at`.
    pub fn timer(at: Timestamp) -> Cause {
        Cause::Timer {
            at: at.as_unix_nanos(),
        }
    }

    fn feed(&self, h: &mut Xxh3) {
        match *self {
            Cause::Record { file, offset } => {
                h.update(b"r");
                h.update(&file.to_le_bytes());
                h.update(&offset.to_le_bytes());
            }
            Cause::Sample { gauge, at } => {
                h.update(b"s");
                h.update(&gauge.to_le_bytes());
                h.update(&at.to_le_bytes());
            }
            Cause::Timer { at } => {
                h.update(b"t");
                h.update(&at.to_le_bytes());
            }
            Cause::Derived(x) => {
                h.update(b"d");
                h.update(&x.to_le_bytes());
            }
        }
    }
}

/// The stable fingerprint of an alert: rule id + group values.
pub fn alert_id(rule: &str, group: &[(String, String)]) -> u128 {
    let mut h = Xxh3::new();
    h.update(b"logwarden.alert.id\0");
    h.update(rule.as_bytes());
    for (k, v) in group {
        h.update(b"\0");
        h.update(k.as_bytes());
        h.update(b"=");
        h.update(v.as_bytes());
    }
    h.digest128()
}

/// The id of one firing episode (or one match): the alert id and its cause.
pub fn episode_id(alert: u128, cause: &Cause) -> u128 {
    let mut h = Xxh3::new();
    h.update(b"logwarden.alert.uuid\0");
    h.update(&alert.to_le_bytes());
    cause.feed(&mut h);
    h.digest128()
}

/// The id of one document: the episode and the transition.
pub fn event_id(episode: u128, status: &str) -> u128 {
    let mut h = Xxh3::new();
    h.update(b"event.id\0");
    h.update(&episode.to_le_bytes());
    h.update(status.as_bytes());
    h.digest128()
}

/// Formats a 128-bit id as a UUID (version 8, RFC 9562 "custom"): the form
/// SIEMs index as a keyword without surprises.
pub fn format_uuid(x: u128) -> String {
    let mut x = x;
    // Set the version (8) and variant (10xx) bits.
    x &= !(0xF_u128 << 76);
    x |= 0x8_u128 << 76;
    x &= !(0x3_u128 << 62);
    x |= 0x2_u128 << 62;
    let b = x.to_be_bytes();
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().map(|v| format!("{v:02x}")).collect::<String>();
    format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// Formats a 128-bit id as 32 hex digits.
pub fn format_hex(x: u128) -> String {
    format!("{x:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = alert_id("despool-waiting", &[("host.name".into(), "PRI01".into())]);
        assert_eq!(
            a,
            alert_id("despool-waiting", &[("host.name".into(), "PRI01".into())])
        );
        assert_ne!(
            a,
            alert_id("despool-waiting", &[("host.name".into(), "PRI02".into())])
        );
        let e1 = episode_id(
            a,
            &Cause::Record {
                file: 1,
                offset: 10,
            },
        );
        let e2 = episode_id(
            a,
            &Cause::Record {
                file: 1,
                offset: 11,
            },
        );
        assert_ne!(e1, e2);
        assert_ne!(event_id(e1, "firing"), event_id(e1, "resolved"));
        let u = format_uuid(e1);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn hash_is_the_specified_xxh3() {
        // Pin one value so that an accidental change of the derivation (which
        // would break dedup across upgrades) fails loudly.
        assert_eq!(
            format_hex(alert_id("r", &[])),
            format_hex(xxhash_rust::xxh3::xxh3_128(b"logwarden.alert.id\0r"))
        );
    }
}
