//! From records to correlator inputs: decides each record's time, asks the
//! matcher which rules match, builds [`Hit`]s for those, and notes source
//! activity for `absence` rules.
//!
//! Shared by `run`, `replay` and `test`, so that all three turn the same
//! record into the same inputs. Pure: the read time and the wall clock (for
//! the skew check) come in as parameters.
//!
//! **Architecture invariant:** a record that matches no rule and feeds no
//! `absence` rule costs one matcher call and allocates nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::event::{FileKey, Hit, Input, Origin, Record, RuleId, SourceId};
use crate::matcher::Matcher;
use crate::rule::{RuleKind, RuleSet};
use crate::time::Timestamp;

/// Activity of a source is reported at most this often per source (absence
/// rules work in minutes; one input per record would be waste).
const ACTIVITY_EVERY: Duration = Duration::from_secs(1);

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
    skew_tolerance: Duration,
    /// `replay --explain`: the rule whose rejected records are reported.
    explain: Option<RuleId>,
    stats: IngestStats,
}

impl Ingest {
    /// An ingest stage for `rules` on an agent whose alerts carry `host`.
    /// Record timestamps more than `skew_tolerance` ahead of the wall clock
    /// (when one is given to [`Ingest::record`]) are reported and replaced by
    /// the read time.
    pub fn new(
        rules: Arc<RuleSet>,
        matcher: Matcher,
        host: String,
        skew_tolerance: Duration,
    ) -> Ingest {
        let mut watched = vec![false; rules.sources.len()];
        for r in &rules.rules {
            if let RuleKind::Absence(a) = &r.kind {
                for s in &a.sources {
                    watched[s.index()] = true;
                }
            }
        }
        Ingest {
            last_activity: vec![None; rules.sources.len()],
            rules,
            matcher,
            host,
            watched,
            found: Vec::new(),
            skew_tolerance,
            explain: None,
            stats: IngestStats::default(),
        }
    }

    /// Reports, as [`Input::Explain`], every record of `rule`'s sources
    /// that its pattern matches but a filter rejects.
    pub fn set_explain(&mut self, rule: Option<RuleId>) {
        self.explain = rule;
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
    /// `wall` (live mode only) enables the clock-skew check. Appends inputs
    /// to `out` and returns the record time used.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        source: SourceId,
        file: FileKey,
        path: &Arc<str>,
        record: &Record<'_>,
        read_time: Timestamp,
        wall: Option<Timestamp>,
        out: &mut Vec<Input>,
    ) -> Timestamp {
        self.stats.records += 1;
        if record.cut {
            self.stats.cut += 1;
        }
        let time = match (record.time, wall) {
            (Some(t), Some(w)) if t > w.saturating_add(self.skew_tolerance) => {
                self.stats.skewed += 1;
                if self.stats.skewed.is_power_of_two() {
                    tracing::warn!(
                        source = %self.rules.sources[source.index()].id,
                        path = %path,
                        record_time = %t,
                        wall = %w,
                        count = self.stats.skewed,
                        "record timestamps are ahead of this machine's clock; using the read time (check the source's timezone or the writer's clock)"
                    );
                }
                read_time
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
        self.found.clear();
        self.matcher.find(source, record, &mut self.found);
        if let Some(rule) = self.explain
            && !self.found.contains(&rule)
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
        if self.found.is_empty() {
            return time;
        }
        self.stats.matched += 1;
        for &rule in &self.found {
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
