//! From records to correlator inputs: decides each record's time, asks the
//! matcher which rules match, builds [`Hit`]s for those, notes source
//! activity for `absence` rules, and turns the records that feed a gauge
//! (`[[gauge]]` with `source` and `regex`) into [`GaugeSample`]s.
//!
//! Shared by `run`, `replay` and `test`, so that all three turn the same
//! record into the same inputs. Pure: the read time and the wall clock (for
//! the skew check) come in as parameters.
//!
//! # Gauges fed from log lines
//!
//! A gauge's feed is a building-block match rule with the gauge's id (see
//! [`crate::rule::model`]); its hits become samples at the record's time,
//! never hits. The metrics are the regex's captures `files`, `bytes` and
//! `oldest_age_s` (seconds); a metric the regex does not capture, or whose
//! group took no part in the match, is 0. A captured value that is not a
//! whole number (too large, say) is skipped, counted in
//! [`IngestStats::gauge_rejected`] and logged.
//!
//! A gauge that also has a folder (`path`) is sampled from that folder by
//! the live agent, which sees the folder as it is now: its log feed is used
//! only where the folder cannot be seen as it was, in `replay` and `test`.
//! Which of the two applies is told by the wall clock given to
//! [`Ingest::record`]: only the live agent gives one.
//!
//! **Architecture invariant:** a record that matches no rule and feeds no
//! `absence` rule costs one matcher call and allocates nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::event::{FileKey, GaugeId, GaugeSample, Hit, Input, Origin, Record, RuleId, SourceId};
use crate::matcher::Matcher;
use crate::rule::{RuleKind, RuleSet};
use crate::time::Timestamp;

/// Activity of a source is reported at most this often per source (absence
/// rules work in minutes; one input per record would be waste).
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);

/// The live agent's view of the moment a record is read: what the clock
/// checks compare a record's own timestamp with.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Wall {
    /// The machine's clock.
    pub now: Timestamp,
    /// Whether the record was written moments ago: its file had been read
    /// to its end before (a line appended while the agent follows the file,
    /// not history being caught up on).
    pub fresh: bool,
}

/// Counters of the ingest stage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Records seen.
    pub records: u64,
    /// Records that matched at least one rule.
    pub matched: u64,
    /// Records cut at the line cap.
    pub cut: u64,
    /// Records whose own timestamp was too far ahead of the wall clock and
    /// was replaced by the read time.
    pub skewed: u64,
    /// Freshly written records whose own timestamp was too far behind the
    /// wall clock (kept: the correlator applies what is late at its current
    /// time).
    pub lagging: u64,
    /// Gauge samples taken from log lines.
    pub gauge_samples: u64,
    /// Log lines that matched a gauge's regex with a value that is not a
    /// whole number (skipped).
    pub gauge_rejected: u64,
}

/// What turns a feed rule's hit into a gauge sample.
#[derive(Clone, Debug)]
struct Feed {
    gauge: GaugeId,
    /// The gauge also has a folder, which the live agent samples instead.
    folder: bool,
    /// Positions of `files`, `bytes`, `oldest_age_s` in the rule's group values.
    slots: [Option<usize>; 3],
}

/// Turns records into inputs.
#[derive(Debug)]
pub struct Ingest {
    rules: Arc<RuleSet>,
    matcher: Matcher,
    host: String,
    /// Per source: whether an absence rule watches it.
    watched: Vec<bool>,
    /// Per source: the last activity reported.
    last_activity: Vec<Option<Timestamp>>,
    /// Reused buffer of matching rule ids.
    found: Vec<RuleId>,
    /// Per rule: the gauge it feeds, for the feed rules of log-fed gauges.
    feeds: Vec<Option<Feed>>,
    /// `replay --explain`: the rule whose rejected records are reported.
    explain: Option<RuleId>,
    stats: IngestStats,
}

impl Ingest {
    /// An ingest stage for `rules` on an agent whose alerts carry `host`.
    /// When [`Ingest::record`] is given the wall clock, a record timestamp
    /// more than its source's `clock_tolerance` ahead of it is reported and
    /// replaced by the read time, and one as far behind it on a freshly
    /// written line is reported.
    pub fn new(rules: Arc<RuleSet>, matcher: Matcher, host: String) -> Ingest {
        let mut watched = vec![false; rules.sources.len()];
        for r in &rules.rules {
            if let RuleKind::Absence(a) = &r.kind {
                for s in &a.sources {
                    watched[s.index()] = true;
                }
            }
        }
        let feeds = (0..rules.rules.len())
            .map(|i| {
                let rule = RuleId(i as u32);
                let gauge = rules.fed_gauge(rule)?;
                let group = rules.rule(rule).group_by();
                let slot = |name: &str| group.iter().position(|g| g.name() == name);
                Some(Feed {
                    gauge,
                    folder: rules.gauges[gauge.index()].is_folder(),
                    slots: [slot("files"), slot("bytes"), slot("oldest_age_s")],
                })
            })
            .collect();
        Ingest {
            feeds,
            last_activity: vec![None; rules.sources.len()],
            rules,
            matcher,
            host,
            watched,
            found: Vec::new(),
            explain: None,
            stats: IngestStats::default(),
        }
    }

    /// Reports, as [`Input::Explain`], every record of `rule`'s sources
    /// that its pattern matches but a filter rejects.
    pub fn set_explain(&mut self, rule: Option<RuleId>) {
        self.explain = rule;
    }

    /// Whether records of `source` matter beyond their rules' hits: an
    /// `absence` rule watches the source, or `replay --explain` reports
    /// records that a filter rejects. Records of other sources that match
    /// no rule may be counted with [`Ingest::skipped`] instead of handled
    /// one by one.
    pub fn needs_every_record(&self, source: SourceId) -> bool {
        self.explain.is_some() || self.watched.get(source.index()).copied().unwrap_or(false)
    }

    /// Counts `records` records that match no rule, `cut` of them cut at
    /// the line cap, without handling them one by one (see
    /// [`Ingest::needs_every_record`]).
    pub fn skipped(&mut self, records: u64, cut: u64) {
        self.stats.records += records;
        self.stats.cut += cut;
    }

    /// Counters.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }

    /// The rule set.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Handles one record of `source` read from file `file` at `path`.
    /// `read_time` is the record's time when it has no timestamp of its own;
    /// `wall` (live mode only) enables the clock-skew checks. Appends inputs
    /// to `out` and returns the record time used.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        source: SourceId,
        file: FileKey,
        path: &Arc<str>,
        record: &Record<'_>,
        read_time: Timestamp,
        wall: Option<Wall>,
        out: &mut Vec<Input>,
    ) -> Timestamp {
        let mut found = std::mem::take(&mut self.found);
        found.clear();
        self.matcher.find(source, record, &mut found);
        let time = self.record_matched(source, file, path, record, &found, read_time, wall, out);
        self.found = found;
        time
    }

    /// [`Ingest::record`] for a record already matched: `found` is what
    /// [`Matcher::find`] (of this ingest's matcher or a clone of it) gave
    /// for it. Lets matching run on other threads than the one that keeps
    /// the per-source state.
    #[allow(clippy::too_many_arguments)]
    pub fn record_matched(
        &mut self,
        source: SourceId,
        file: FileKey,
        path: &Arc<str>,
        record: &Record<'_>,
        found: &[RuleId],
        read_time: Timestamp,
        wall: Option<Wall>,
        out: &mut Vec<Input>,
    ) -> Timestamp {
        self.stats.records += 1;
        if record.cut {
            self.stats.cut += 1;
        }
        let tolerance = self.rules.sources[source.index()].clock_tolerance;
        let time = match (record.time, wall) {
            (Some(t), Some(w)) if t > w.now.saturating_add(tolerance) => {
                self.stats.skewed += 1;
                if self.stats.skewed.is_power_of_two() {
                    tracing::warn!(
                        source = %self.rules.sources[source.index()].id,
                        path = %path,
                        record_time = %t,
                        wall = %w.now,
                        count = self.stats.skewed,
                        "record timestamps are ahead of this machine's clock; using the read time (check the source's timezone or the writer's clock)"
                    );
                }
                read_time
            }
            (Some(t), Some(w)) if w.fresh && t.saturating_add(tolerance) < w.now => {
                self.stats.lagging += 1;
                if self.stats.lagging.is_power_of_two() {
                    tracing::warn!(
                        source = %self.rules.sources[source.index()].id,
                        path = %path,
                        record_time = %t,
                        wall = %w.now,
                        count = self.stats.lagging,
                        "freshly written records carry timestamps behind this machine's clock (check the source's timezone or the writer's clock); they count at the time they are read"
                    );
                }
                t
            }
            (Some(t), _) => t,
            (None, _) => read_time,
        };
        if self.watched.get(source.index()).copied().unwrap_or(false) {
            let last = &mut self.last_activity[source.index()];
            if last.is_none_or(|l| time >= l.saturating_add(ACTIVITY_EVERY)) {
                *last = Some(time);
                out.push(Input::Activity { source, time });
            }
        }
        if let Some(rule) = self.explain
            && !found.contains(&rule)
            && self
                .rules
                .rule(rule)
                .line()
                .is_some_and(|l| l.sources.contains(&source))
            && let Some(crate::matcher::Verdict::Rejected(text)) =
                self.matcher.explain(rule, record)
        {
            out.push(Input::Explain {
                time,
                rule,
                at: format!("{path}:{}", record.offset),
                text: format!("the pattern matches but {text}: not counted"),
            });
        }
        if found.is_empty() {
            return time;
        }
        self.stats.matched += 1;
        for &rule in found {
            if let Some(feed) = self.feeds.get(rule.index()).and_then(Option::as_ref) {
                if !(feed.folder && wall.is_some()) {
                    let values = self.matcher.group_values(rule, record, path, &self.host);
                    match sample(feed, &values, time) {
                        Some(s) => {
                            self.stats.gauge_samples += 1;
                            out.push(Input::Gauge(s));
                        }
                        None => {
                            self.stats.gauge_rejected += 1;
                            if self.stats.gauge_rejected.is_power_of_two() {
                                tracing::warn!(
                                    gauge = %self.rules.gauges[feed.gauge.index()].id,
                                    path = %path,
                                    offset = record.offset,
                                    values = ?values,
                                    count = self.stats.gauge_rejected,
                                    "a line matched a gauge's regex but a captured value is not a whole number; line skipped"
                                );
                            }
                        }
                    }
                }
                continue;
            }
            let group = match self.rules.rule(rule).group_by().is_empty() {
                true => Box::default(),
                false => self.matcher.group_values(rule, record, path, &self.host),
            };
            out.push(Input::Hit(Hit {
                rule,
                time,
                origin: Origin {
                    file,
                    path: Arc::clone(path),
                    offset: record.offset,
                },
                message: Box::from(record.message),
                group,
            }));
        }
        time
    }
}

/// The sample a feed rule's group values make: `None` when a captured value
/// is not a whole number.
fn sample(feed: &Feed, values: &[Box<str>], time: Timestamp) -> Option<GaugeSample> {
    let metric = |slot: Option<usize>| -> Option<u64> {
        match slot.and_then(|i| values.get(i)).map(|v| v.trim()) {
            None | Some("") => Some(0),
            Some(v) => v.parse().ok(),
        }
    };
    Some(GaugeSample {
        gauge: feed.gauge,
        time,
        files: metric(feed.slots[0])?,
        bytes: metric(feed.slots[1])?,
        oldest_age: Duration::from_secs(metric(feed.slots[2])?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{RuleText, compile};

    const RULES: &str = r#"
[[source]]
id = "inboxmon"
path = 'Logs\inboxmon.log'

[[source]]
id = "despool"
path = 'Logs\despool.log'
clock_tolerance = "1m"

[[gauge]]
id = "receive"
path = 'Inboxes\despoolr.box\receive'
source = "inboxmon"
regex = '(?i)^File count for directory .*\\despoolr\.box\\receive is (?P<files>\d+)\.'

[[gauge]]
id = "threads"
source = "despool"
regex = 'Used (?P<files>\d+) out of \d+ despooling threads|Despooler successfully executed one instruction'

[[match]]
id = "used"
source = "despool"
contains = "despooling threads"
"#;

    fn ingest() -> Ingest {
        let set = compile(&[RuleText {
            path: "rules.toml".into(),
            text: RULES.to_owned(),
        }])
        .unwrap();
        let rules = Arc::new(set);
        let matcher = Matcher::new(&rules).unwrap();
        Ingest::new(rules, matcher, "PRI01".into())
    }

    /// Feeds `message` as a record of `source` at second `at`; returns a
    /// short description of every input it made.
    fn check(ingest: &mut Ingest, source: u32, message: &str, live: bool, want: &[&str]) {
        let at = Timestamp::from_unix_secs(1_000);
        let record = Record {
            raw: message,
            message,
            component: None,
            thread: None,
            severity: None,
            time: Some(at),
            offset: 7,
            cut: false,
        };
        let path: Arc<str> = Arc::from("Logs/x.log");
        let mut out = Vec::new();
        let wall = live.then_some(Wall {
            now: at,
            fresh: false,
        });
        ingest.record(
            SourceId(source),
            FileKey(1),
            &path,
            &record,
            at,
            wall,
            &mut out,
        );
        let got: Vec<String> = out
            .iter()
            .map(|i| match i {
                Input::Gauge(g) => format!(
                    "gauge {} files={} bytes={} age={}s at {}",
                    g.gauge.0,
                    g.files,
                    g.bytes,
                    g.oldest_age.as_secs(),
                    g.time.as_unix_millis() / 1000
                ),
                Input::Hit(h) => format!("hit {}", h.rule.0),
                Input::Activity { .. } => "activity".to_owned(),
                Input::Explain { .. } => "explain".to_owned(),
            })
            .collect();
        assert_eq!(got, want, "{message}");
    }

    #[test]
    fn lines_that_feed_a_gauge_become_samples_at_their_time() {
        let mut i = ingest();
        check(
            &mut i,
            0,
            r"File count for directory E:\SMS\inboxes\despoolr.box\receive is 812.",
            false,
            &["gauge 0 files=812 bytes=0 age=0s at 1000"],
        );
        check(
            &mut i,
            0,
            r"File count for directory E:\SMS\inboxes\ddm.box is 3.",
            false,
            &[],
        );
        // A line rule and a gauge's feed on the same record: a hit and a sample.
        check(
            &mut i,
            1,
            "Used 3 out of 3 despooling threads",
            false,
            &["hit 0", "gauge 1 files=3 bytes=0 age=0s at 1000"],
        );
        // A metric whose group took no part in the match is 0.
        check(
            &mut i,
            1,
            "Despooler successfully executed one instruction.",
            false,
            &["gauge 1 files=0 bytes=0 age=0s at 1000"],
        );
        assert_eq!(i.stats().gauge_samples, 3);
        assert_eq!(i.stats().matched, 3);
    }

    #[test]
    fn the_live_agent_samples_a_gauge_with_a_folder_from_the_folder() {
        let mut i = ingest();
        check(
            &mut i,
            0,
            r"File count for directory E:\SMS\inboxes\despoolr.box\receive is 812.",
            true,
            &[],
        );
        // A gauge without a folder is fed from its log, live too.
        check(
            &mut i,
            1,
            "Used 2 out of 3 despooling threads",
            true,
            &["hit 0", "gauge 1 files=2 bytes=0 age=0s at 1000"],
        );
    }

    #[test]
    fn a_value_that_is_not_a_whole_number_is_counted_and_skipped() {
        let mut i = ingest();
        check(
            &mut i,
            0,
            r"File count for directory E:\SMS\inboxes\despoolr.box\receive is 99999999999999999999999.",
            false,
            &[],
        );
        assert_eq!(i.stats().gauge_rejected, 1);
        assert_eq!(i.stats().gauge_samples, 0);
    }

    /// One record of source 1 (`despool`, `clock_tolerance = "1m"`) with
    /// its own time `own` (seconds), read at 1,000 s: the time used.
    fn clocked(i: &mut Ingest, own: i64, fresh: bool) -> Timestamp {
        let record = Record {
            raw: "x",
            message: "x",
            component: None,
            thread: None,
            severity: None,
            time: Some(Timestamp::from_unix_secs(own)),
            offset: 0,
            cut: false,
        };
        let now = Timestamp::from_unix_secs(1_000);
        let path: Arc<str> = Arc::from("Logs/despool.log");
        let wall = Wall { now, fresh };
        i.record(
            SourceId(1),
            FileKey(1),
            &path,
            &record,
            now,
            Some(wall),
            &mut Vec::new(),
        )
    }

    #[test]
    fn timestamps_beyond_the_sources_clock_tolerance_are_reported() {
        let mut i = ingest();
        assert_eq!(
            i.rules().sources[1].clock_tolerance,
            Duration::from_secs(60)
        );
        // Within a minute either way: the record's own time, nothing counted.
        assert_eq!(
            clocked(&mut i, 1_059, true),
            Timestamp::from_unix_secs(1_059)
        );
        assert_eq!(clocked(&mut i, 941, true), Timestamp::from_unix_secs(941));
        assert_eq!((i.stats().skewed, i.stats().lagging), (0, 0));
        // Ahead: replaced by the read time.
        assert_eq!(
            clocked(&mut i, 1_061, false),
            Timestamp::from_unix_secs(1_000)
        );
        assert_eq!(i.stats().skewed, 1);
        // Behind on a line written moments ago: counted, its time kept.
        assert_eq!(clocked(&mut i, 939, true), Timestamp::from_unix_secs(939));
        assert_eq!(i.stats().lagging, 1);
        // Behind in history being caught up on: normal.
        assert_eq!(clocked(&mut i, 10, false), Timestamp::from_unix_secs(10));
        assert_eq!((i.stats().skewed, i.stats().lagging), (1, 1));
    }
}
