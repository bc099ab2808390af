//! Which line rules match a record: a literal prefilter and a multi-pattern
//! regex find the candidates in one pass; captures run only for rules that
//! matched.
//!
//! Owns the compiled form of the `match` and `threshold` rules' line
//! conditions (SPEC §3 "What a line rule looks at"): pattern, `not_contains`,
//! `component`, `severity_at_least`, `thread`, `raw`, and the `group_by`
//! values of a hit. Does not count, window or alert (the correlator's job)
//! and does not parse records.
//!
//! # How a record is matched
//!
//! Rules are routed by source at build time, so a record only meets the rules
//! of its own source. Per source, the rules that look at the message and
//! those that look at the raw record form two *lanes* (`lane.rs`). A lane
//! holds:
//!
//! - a literal prefilter over `contains` / `contains_any` literals and the
//!   *required literals* of each regex that has selective ones
//!   (`literal.rs`, from `regex_syntax::hir::literal`, including inner
//!   literals after a leading class). A leftmost-first Aho-Corasick search,
//!   which can use the SIMD Teddy searcher, rejects a line without any
//!   literal; only a line with one pays for the overlapping pass that names
//!   every literal in it. A literal rule's hit is final; a regex's hit makes
//!   it a candidate, confirmed by running that regex alone. Case-insensitive
//!   literals are searched in an ASCII-lower-cased copy of the text (Teddy
//!   has no case-insensitive mode).
//! - a regex set over the regexes without a selective literal (no literal
//!   at all, or only markup like `<thread=` that is on every line): one
//!   multi-pattern regex (`meta::Regex` built from many patterns,
//!   `MatchKind::All`) per *family*, its lazy DFA cache sized by its
//!   pattern count.
//!
//! Where a lane has more literals than Teddy takes (64), [`Strategy::Auto`]
//! puts all of its rules in the regex set instead: measured, an automaton
//! walk over the literals (or several Teddy passes) is slower than the
//! set's lazy DFA, and every hit would still pay its own regex run. The set
//! is gated by literals its patterns require, however unselective: when
//! they fit one Teddy search together, the set is one family run on lines
//! with any of them; otherwise rules that share a literal set (`(Failed|
//! Unable) to … job J0042`, a thousand job numbers) form a family, the
//! literals are cut shorter until they fit Teddy, and a line runs only the
//! families whose literals it holds. (One 1,000-pattern automaton never
//! stopped building states: most of its time went there.) Rules without any
//! literal form a family run on every line.
//!
//! A rule's own regex (to confirm a prefilter candidate, and for captures)
//! is compiled the first time it is needed: in a large rule set most rules
//! never need it. (An ASCII-only twin
//! of the set for ASCII lines was also built and measured: no gain, since
//! the lazy DFA only builds states for bytes it sees, and its byte classes
//! blew the set's own prefix prefilter past what Teddy takes; so there is
//! none.)
//!
//! Flags never leak between rules: patterns are parsed one by one and
//! combined as separate patterns of one automaton, never concatenated into
//! one pattern string.
//!
//! **Architecture invariant:** no I/O, no clock, and a record that matches no
//! rule allocates nothing (after the per-thread scratch space and the lazy
//! DFA caches have warmed up; see `benches/matcher.rs`).

mod lane;
mod literal;
mod marker;
#[cfg(test)]
mod prop;

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::{Arc, OnceLock};

use memchr::memmem::Finder;
use regex_automata::PatternSet;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::pool::Pool;

use crate::event::{Record, RuleId, Severity, SourceId};
use crate::rule::{GroupField, Pattern, RuleSet};

use lane::{Lane, LaneRule, LaneScratch, PlannedText};

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
    /// The combined automaton of a source's rules could not be built.
    #[error("source {source_index}: {message}")]
    Combine {
        /// Index of the source whose rules were being combined.
        source_index: usize,
        /// What the automaton builder said.
        message: String,
    },
}

/// How a [`Matcher`] splits a source's regexes between the literal prefilter
/// and the multi-pattern regex pass. Only speed differs; every strategy finds
/// the same rules.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// A regex goes to the prefilter when its required literals are
    /// selective (at least 3 bytes, not SMS/CMTrace markup, at most 64), else
    /// to the regex set; but a source whose prefilter would hold more
    /// literals than Teddy handles (64) gets [`Strategy::Set`], which
    /// measured faster there. The default.
    #[default]
    Auto,
    /// Every regex that has any required literal goes to the prefilter.
    Prefilter,
    /// No prefilter: every rule, literals included, goes to the regex set
    /// (one full multi-pattern pass per record, as a plain `RegexSet`).
    Set,
}

/// The compiled line rules of a [`RuleSet`].
///
/// `Matcher` is `Send + Sync`: threads share one and each gets its own
/// scratch space and regex caches from internal pools.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use logwarden::event::{Record, RuleId, SourceId};
/// use logwarden::matcher::Matcher;
/// use logwarden::rule::{
///     GroupField, LineCondition, Location, MatchRule, Pattern, Rule, RuleKind, RuleMeta, RuleSet,
/// };
///
/// let line = LineCondition {
///     sources: vec![SourceId(0)],
///     pattern: Pattern::Regex(r"(?i)waiting for an available (?P<what>\w+) thread".into()),
///     not_contains: None,
///     component: Some("sms_despooler".into()),
///     severity_at_least: None,
///     thread: None,
///     raw: false,
/// };
/// let rules = RuleSet {
///     rules: vec![Rule {
///         id: "despool-waiting".into(),
///         meta: RuleMeta::default(),
///         kind: RuleKind::Match(MatchRule {
///             line,
///             suppress_for: Duration::ZERO,
///             group_by: vec![GroupField::HostName, GroupField::Capture("what".into())],
///         }),
///         location: Location::default(),
///     }],
///     ..RuleSet::default()
/// };
/// let matcher = Matcher::new(&rules)?;
///
/// let record = Record {
///     raw: "Waiting for an available despooling thread  $$<SMS_DESPOOLER><…><thread=4844 (0x12EC)>",
///     message: "Waiting for an available despooling thread",
///     component: Some("SMS_DESPOOLER"),
///     thread: Some(4844),
///     severity: None,
///     time: None,
///     offset: 0,
///     cut: false,
/// };
/// let mut hits = Vec::new();
/// matcher.find(SourceId(0), &record, &mut hits);
/// assert_eq!(hits, [RuleId(0)]);
/// let group = matcher.group_values(RuleId(0), &record, r"Logs\despool.log", "PRI01");
/// assert_eq!(&*group, [Box::from("PRI01"), Box::from("despooling")]);
/// # Ok::<(), logwarden::matcher::MatcherError>(())
/// ```
pub struct Matcher {
    /// Line rules in ascending [`RuleId`] order; a candidate code's rule
    /// part indexes this.
    rules: Vec<LineRule>,
    /// Per [`SourceId`] index: the lanes of that source's rules.
    sources: Vec<SourceLanes>,
    /// Per-thread candidate buffer and pattern sets.
    scratch: Pool<Scratch, ScratchFn>,
    /// Capacity of each scratch pattern set, by set slot.
    set_sizes: Vec<usize>,
}

type ScratchFn = Box<dyn Fn() -> Scratch + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// What [`Matcher::find`] reuses from record to record.
#[derive(Debug)]
struct Scratch {
    /// Candidate codes (`dense << 1 | confirm`).
    cand: Vec<u32>,
    /// One pattern set per regex set, by slot.
    patsets: Vec<PatternSet>,
    /// Lower-cased copy of the text for folded prefilters.
    folded: Vec<u8>,
    /// Lower-cased copy of a block for folded line markers: a buffer of its
    /// own, so that it keeps a block's length (sharing `folded`, which a
    /// record's text shrinks, zero-filled it anew for every block: 2% of a
    /// 100-rule replay's CPU).
    folded_block: Vec<u8>,
    /// The regex families a text runs.
    families: Vec<u32>,
}

#[derive(Clone, Debug, Default)]
struct SourceLanes {
    message: Option<Lane>,
    raw: Option<Lane>,
}

/// What [`Matcher::explain`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The rule matches the record.
    Matched,
    /// The text test matched but a filter rejected the record: which, and why.
    Rejected(String),
}

/// One compiled `match` or `threshold` line condition.
#[derive(Clone, Debug)]
struct LineRule {
    id: RuleId,
    raw: bool,
    text: Text,
    not_contains: Option<Finder<'static>>,
    component: Option<Box<str>>,
    severity_at_least: Option<Severity>,
    thread: Option<u32>,
    group_by: Box<[GroupField]>,
}

/// A rule's own text test: what confirms a prefilter candidate.
#[derive(Clone, Debug)]
enum Text {
    Literals(Box<[Finder<'static>]>),
    /// Shared by the matcher's clones, so that it is compiled once.
    Regex(Arc<LazyRegex>),
}

/// A rule's own regex, compiled when first needed: it runs only on lines
/// that are candidates for the rule and on its hits (for captures), and
/// in a large rule set most rules never see either. Measured at 1,000
/// rules: compiling them all was a quarter of the start-up time.
#[derive(Debug)]
struct LazyRegex {
    /// The rule's id, for the report if it cannot be compiled.
    rule: String,
    /// Shared with the lane that builds the rule into a regex set.
    hir: Arc<regex_syntax::hir::Hir>,
    /// For [`LazyRegex::is_match`]; `None` when it could not be compiled
    /// (reported once).
    matcher: OnceLock<Option<meta::Regex>>,
    /// For [`LazyRegex::captures`], likewise.
    captures: OnceLock<Option<meta::Regex>>,
}

impl LazyRegex {
    fn new(rule: String, hir: Arc<regex_syntax::hir::Hir>) -> LazyRegex {
        LazyRegex {
            rule,
            hir,
            matcher: OnceLock::new(),
            captures: OnceLock::new(),
        }
    }

    /// Whether the regex matches `text`: a lazy DFA without captures, for
    /// the prefilter's confirmations (many lines).
    fn is_match(&self, text: &str) -> bool {
        self.compile(&self.matcher, || {
            meta::Config::new()
                .onepass(false)
                .which_captures(WhichCaptures::None)
        })
        .is_some_and(|re| re.is_match(text))
    }

    /// The regex's capture groups in `text`: without the lazy DFAs, as this
    /// runs only on lines that matched (measured at 1,000 capturing rules
    /// that all see hits: 102 → 56 MiB after load).
    fn captures(&self, text: &str) -> Option<regex_automata::util::captures::Captures> {
        let re = self.compile(&self.captures, || {
            meta::Config::new().onepass(false).hybrid(false)
        })?;
        let mut caps = re.create_captures();
        re.captures(text, &mut caps);
        Some(caps)
    }

    /// The compiled regex in `slot`, built on first use with `config`;
    /// `None` (reported once) when it cannot be built, which rule
    /// validation, compiling the same pattern under the same limits, rules
    /// out. The one-pass DFA, a table per regex that is large for Unicode
    /// classes such as `\d` (about 150 KB each), is never worth its memory
    /// for a regex that runs this rarely (measured at 1,000 rules: 262 →
    /// 111 MiB at start).
    fn compile<'a>(
        &self,
        slot: &'a OnceLock<Option<meta::Regex>>,
        config: impl FnOnce() -> meta::Config,
    ) -> Option<&'a meta::Regex> {
        slot.get_or_init(|| {
            meta::Builder::new()
                .configure(config())
                .build_from_hir(&self.hir)
                .inspect_err(|e| {
                    tracing::error!(rule = %self.rule, error = %e, "a rule's regex cannot be compiled; the rule never matches");
                })
                .ok()
        })
        .as_ref()
    }
}

impl Matcher {
    /// Compiles every `match` and `threshold` rule of `rules` with
    /// [`Strategy::Auto`].
    ///
    /// # Errors
    /// When a pattern does not compile.
    ///
    /// # Performance
    /// Compiles each regex once alone (for confirmation and captures) and
    /// once per source in a combined automaton; a thousand rules take well
    /// under a second.
    pub fn new(rules: &RuleSet) -> Result<Matcher, MatcherError> {
        Matcher::with_strategy(rules, Strategy::Auto)
    }

    /// Compiles every `match` and `threshold` rule of `rules` with a chosen
    /// [`Strategy`] (benchmarks and tests compare them).
    ///
    /// # Errors
    /// When a pattern does not compile.
    pub fn with_strategy(rules: &RuleSet, strategy: Strategy) -> Result<Matcher, MatcherError> {
        let mut compiled = Vec::new();
        let mut planned = Vec::new();
        let mut routes: Vec<SourceRoutes> = Vec::new();
        for (i, rule) in rules.rules.iter().enumerate() {
            let Some(line) = rule.line() else { continue };
            let build_err = |message: String| MatcherError::Build {
                rule: rule.id.clone(),
                message,
            };
            let (text, plan) = match &line.pattern {
                Pattern::Contains(s) => literals(std::slice::from_ref(s)),
                Pattern::ContainsAny(v) => literals(v),
                Pattern::Regex(p) => {
                    let hir =
                        Arc::new(regex_syntax::parse(p).map_err(|e| build_err(e.to_string()))?);
                    let re = Arc::new(LazyRegex::new(rule.id.clone(), Arc::clone(&hir)));
                    (Text::Regex(re), PlannedText::regex(hir))
                }
            };
            let dense =
                u32::try_from(compiled.len()).map_err(|_| build_err("too many rules".into()))?;
            for source in &line.sources {
                if routes.len() <= source.index() {
                    routes.resize_with(source.index() + 1, SourceRoutes::default);
                }
                let route = &mut routes[source.index()];
                if line.raw {
                    &mut route.raw
                } else {
                    &mut route.message
                }
                .push(dense);
            }
            compiled.push(LineRule {
                id: RuleId(i as u32),
                raw: line.raw,
                text,
                not_contains: line
                    .not_contains
                    .as_ref()
                    .map(|s| Finder::new(s.as_bytes()).into_owned()),
                component: line.component.as_deref().map(Box::from),
                severity_at_least: line.severity_at_least,
                thread: line.thread,
                group_by: rule.group_by().into(),
            });
            planned.push(plan);
        }

        let mut set_sizes = Vec::new();
        let mut sources = Vec::with_capacity(routes.len());
        for (source_index, route) in routes.iter().enumerate() {
            let mut build = |dense: &[u32]| -> Result<Option<Lane>, MatcherError> {
                if dense.is_empty() {
                    return Ok(None);
                }
                let lane_rules: Vec<LaneRule<'_>> = dense
                    .iter()
                    .map(|&d| LaneRule {
                        dense: d,
                        text: &planned[d as usize],
                    })
                    .collect();
                Lane::build(&lane_rules, strategy, &mut set_sizes)
                    .map(Some)
                    .map_err(|e| MatcherError::Combine {
                        source_index,
                        message: e.to_string(),
                    })
            };
            let message = build(&route.message)?;
            let raw = build(&route.raw)?;
            sources.push(SourceLanes { message, raw });
        }

        Ok(Matcher {
            rules: compiled,
            sources,
            scratch: scratch_pool(&set_sizes),
            set_sizes,
        })
    }

    /// Appends to `out`, in ascending order, the ids of the line rules of
    /// `source` that match `record`.
    ///
    /// # Performance
    /// One pass of the source's literal automaton and, when some of its
    /// regexes have no selective literal, one pass of its regex set; then
    /// only the candidate rules are checked one by one. Allocates nothing
    /// unless `out` grows (after per-thread warm-up).
    pub fn find(&self, source: SourceId, record: &Record<'_>, out: &mut Vec<RuleId>) {
        let Some(lanes) = self.sources.get(source.index()) else {
            return;
        };
        if lanes.message.is_none() && lanes.raw.is_none() {
            return;
        }
        let mut scratch = self.scratch.get();
        let Scratch {
            cand,
            patsets,
            folded,
            families,
            ..
        } = &mut *scratch;
        cand.clear();
        let mut lane_scratch = LaneScratch {
            patsets,
            folded,
            cand,
            families,
        };
        if let Some(lane) = &lanes.message {
            lane.scan(record.message, &mut lane_scratch);
        }
        if let Some(lane) = &lanes.raw {
            lane.scan(record.raw, &mut lane_scratch);
        }
        if cand.is_empty() {
            return;
        }
        // Codes sort by rule, and for one rule "already matched" (confirm
        // bit clear) before "to confirm": keep the first of each rule.
        cand.sort_unstable();
        cand.dedup_by_key(|code| *code >> 1);
        for &code in cand.iter() {
            let Some(rule) = self.rules.get((code >> 1) as usize) else {
                continue;
            };
            if rule.accepts(record, code & 1 == 1) {
                out.push(rule.id);
            }
        }
    }

    /// Which lines of a block of `source` may match one of its rules, when
    /// that can be told without parsing them: `text` holds the lines, each
    /// ended by `\n` (the last one may lack it). Fills `starts` with, in
    /// increasing order and once each, the start of each line that holds a
    /// literal some rule needs (a superset: the literal may lie outside the
    /// text the rule looks at); a line left out matches no rule of the
    /// source. Returns `false`, leaving `starts` alone, when some rule can match
    /// without any literal (an empty literal, a regex without one): then
    /// every line has to be matched.
    ///
    /// # Performance
    /// Each literal searcher runs once over the whole block, and a line
    /// without a hit is never looked at again: replay counts the lines
    /// between the pushed ones without splitting them (the e2e bench's 100
    /// rules: about one line in six pushed).
    pub fn candidate_lines(&self, source: SourceId, text: &[u8], starts: &mut Vec<usize>) -> bool {
        let Some(lanes) = self.sources.get(source.index()) else {
            return true;
        };
        let lanes = [&lanes.message, &lanes.raw];
        if !lanes.iter().all(|l| l.as_ref().is_none_or(Lane::is_gated)) {
            return false;
        }
        let mut scratch = self.scratch.get();
        starts.clear();
        for lane in lanes.into_iter().flatten() {
            lane.mark_lines(text, &mut scratch.folded_block, starts);
        }
        // Each searcher's lines are in order; several are merged.
        if !starts.is_sorted() {
            starts.sort_unstable();
        }
        starts.dedup();
        true
    }

    /// Tunes [`Matcher::candidate_lines`] for `source` to `sample`, text
    /// like the text it will be given (the start of a log about to be
    /// replayed): its literal searches look for the parts of the literals
    /// that a model of the search says cost least on the sample (see
    /// `marker.rs`). Which lines are found does not change, only how fast.
    pub fn tune_candidate_lines(&mut self, source: SourceId, sample: &[u8]) {
        let Some(lanes) = self.sources.get_mut(source.index()) else {
            return;
        };
        let mut folded = Vec::new();
        for lane in [&mut lanes.message, &mut lanes.raw].into_iter().flatten() {
            lane.tune_markers(sample, &mut folded);
        }
    }

    /// The values of `rule`'s `group_by` fields for `record`, in the rule's
    /// order: named captures from the rule's regex, the record's component,
    /// thread and severity, `path` for `log.file.path`, `host` for
    /// `host.name`. A field without a value is the empty string.
    ///
    /// Returns an empty list for a rule that is not a line rule of this
    /// matcher. Captures come from the leftmost match of the rule's regex in
    /// the text the rule looks at (message, or raw record).
    ///
    /// # Performance
    /// Runs the rule's regex with captures once, only when the rule groups
    /// by a capture; meant for records that [`Matcher::find`] reported.
    pub fn group_values(
        &self,
        rule: RuleId,
        record: &Record<'_>,
        path: &str,
        host: &str,
    ) -> Box<[Box<str>]> {
        let Ok(at) = self.rules.binary_search_by_key(&rule, |r| r.id) else {
            return Box::new([]);
        };
        let rule = &self.rules[at];
        let text = rule.text_of(record);
        let captures = match &rule.text {
            Text::Regex(re)
                if rule
                    .group_by
                    .iter()
                    .any(|f| matches!(f, GroupField::Capture(_))) =>
            {
                re.captures(text)
            }
            _ => None,
        };
        rule.group_by
            .iter()
            .map(|field| -> Box<str> {
                match field {
                    GroupField::HostName => host.into(),
                    GroupField::FilePath => path.into(),
                    GroupField::Component => record.component.unwrap_or("").into(),
                    GroupField::Thread => record
                        .thread
                        .map(|t| t.to_string().into_boxed_str())
                        .unwrap_or_default(),
                    GroupField::Severity => {
                        record.severity.map(Severity::as_str).unwrap_or("").into()
                    }
                    GroupField::Capture(name) => captures
                        .as_ref()
                        .and_then(|c| c.get_group_by_name(name))
                        .and_then(|span| text.get(span.range()))
                        .unwrap_or("")
                        .into(),
                }
            })
            .collect()
    }

    /// Why `rule` does or does not match `record`, for `replay --explain`:
    /// `None` when the rule's text test does not match (the common case,
    /// not worth a word); otherwise the verdict, naming the filter that
    /// rejected the record.
    ///
    /// # Performance
    /// Runs the rule's own test alone; for explaining one rule, not for the
    /// hot path.
    pub fn explain(&self, rule: RuleId, record: &Record<'_>) -> Option<Verdict> {
        let at = self.rules.binary_search_by_key(&rule, |r| r.id).ok()?;
        let rule = &self.rules[at];
        let text = rule.text_of(record);
        if !rule.text.is_match(text) {
            return None;
        }
        if let Some(nc) = &rule.not_contains
            && nc.find(text.as_bytes()).is_some()
        {
            return Some(Verdict::Rejected(format!(
                "contains the not_contains text {:?}",
                String::from_utf8_lossy(nc.needle())
            )));
        }
        if let Some(want) = &rule.component
            && record.component.is_none_or(|c| !same_component(c, want))
        {
            return Some(Verdict::Rejected(format!(
                "component is {:?}, the rule wants {want:?}",
                record.component.unwrap_or("(none)")
            )));
        }
        if let Some(min) = rule.severity_at_least
            && record.severity.is_none_or(|s| s < min)
        {
            return Some(Verdict::Rejected(format!(
                "severity is {}, the rule wants at least {}",
                record.severity.map_or("(none)", Severity::as_str),
                min.as_str()
            )));
        }
        if rule.thread.is_some() && record.thread != rule.thread {
            return Some(Verdict::Rejected(format!(
                "thread is {}, the rule wants {}",
                record.thread.map_or("(none)".to_owned(), |t| t.to_string()),
                rule.thread.map_or(String::new(), |t| t.to_string())
            )));
        }
        Some(Verdict::Matched)
    }

    /// Per source: the (gated, ungated) regex families of its message lane.
    #[cfg(test)]
    fn families(&self) -> Vec<(usize, usize)> {
        self.sources
            .iter()
            .map(|s| s.message.as_ref().map_or((0, 0), Lane::families))
            .collect()
    }

    /// Number of line rules compiled.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the rule set has no line rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// A pool of [`Scratch`] spaces for regex sets of these sizes.
fn scratch_pool(set_sizes: &[usize]) -> Pool<Scratch, ScratchFn> {
    let sizes = set_sizes.to_vec();
    let create: ScratchFn = Box::new(move || Scratch {
        cand: Vec::new(),
        patsets: sizes.iter().map(|&n| PatternSet::new(n)).collect(),
        folded: Vec::new(),
        folded_block: Vec::new(),
        families: Vec::new(),
    });
    Pool::new(create)
}

/// A clone shares the compiled automata (cheap: no recompilation) and has
/// caches of its own. Threads that match side by side for long should each
/// hold a clone: a shared matcher hands its caches out through a pool that
/// only its first user reaches without a lock.
impl Clone for Matcher {
    fn clone(&self) -> Matcher {
        Matcher {
            rules: self.rules.clone(),
            sources: self.sources.clone(),
            scratch: scratch_pool(&self.set_sizes),
            set_sizes: self.set_sizes.clone(),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("rules", &self.rules)
            .field("sources", &self.sources)
            .field("set_sizes", &self.set_sizes)
            .finish_non_exhaustive()
    }
}

/// Dense rule indices of one source, by the text they look at.
#[derive(Debug, Default)]
struct SourceRoutes {
    message: Vec<u32>,
    raw: Vec<u32>,
}

/// The compiled and planned forms of a `contains` / `contains_any` test.
fn literals(lits: &[String]) -> (Text, PlannedText) {
    (
        Text::Literals(
            lits.iter()
                .map(|s| Finder::new(s.as_bytes()).into_owned())
                .collect(),
        ),
        PlannedText::Literals(lits.to_vec()),
    )
}

impl LineRule {
    /// The text this rule's pattern and `not_contains` look at.
    fn text_of<'a>(&self, record: &Record<'a>) -> &'a str {
        if self.raw { record.raw } else { record.message }
    }

    /// Whether `record` passes this rule's filters and `not_contains`, and,
    /// when `confirm`, its text test.
    fn accepts(&self, record: &Record<'_>, confirm: bool) -> bool {
        if self.thread.is_some() && record.thread != self.thread {
            return false;
        }
        if let Some(min) = self.severity_at_least {
            // A record without a severity fails the filter.
            if record.severity.is_none_or(|s| s < min) {
                return false;
            }
        }
        if let Some(want) = &self.component
            && record.component.is_none_or(|c| !same_component(c, want))
        {
            return false;
        }
        let text = self.text_of(record);
        if confirm && !self.text.is_match(text) {
            return false;
        }
        self.not_contains
            .as_ref()
            .is_none_or(|nc| nc.find(text.as_bytes()).is_none())
    }
}

impl Text {
    fn is_match(&self, text: &str) -> bool {
        match self {
            Text::Literals(finders) => finders.iter().any(|f| f.find(text.as_bytes()).is_some()),
            Text::Regex(re) => re.is_match(text),
        }
    }
}

/// Case-insensitive equality of component names: ASCII folding for the
/// usual `SMS_DESPOOLER`, per-character Unicode lower case otherwise (no
/// allocation either way).
fn same_component(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

#[cfg(test)]
mod tests;
