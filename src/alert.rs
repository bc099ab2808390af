//! The alert document: the JSON contract with SIEMs (SPEC §7).
//!
//! One JSON object per state change, written as one line, compatible with
//! the Elastic Common Schema; engine state lives under `logwarden.*`. The
//! JSON Schema in `docs/alert.schema.json` describes exactly what
//! [`AlertDocument`] serialises to, and tests validate every emitted document
//! against it. [`SCHEMA_VERSION`] changes whenever a field changes meaning.
//!
//! Wire format (every field always present unless marked optional):
//!
//! | field | meaning |
//! |---|---|
//! | `@timestamp` | RFC 3339 UTC (milliseconds), when the state change happened (record time) |
//! | `message` | one human sentence |
//! | `ecs.version` | the ECS version the document follows |
//! | `event.kind` | `"alert"` |
//! | `event.action` | `alert-firing`, `alert-resolved`, `alert-matched` |
//! | `event.type` | `["start"]`, `["end"]`, `["info"]` |
//! | `event.id` | UUID derived from the input: an idempotency key |
//! | `event.severity` | 1–5 |
//! | `event.created` | when the agent produced the document |
//! | `event.dataset` | `"logwarden.alert"` |
//! | `rule.id`, `rule.name` | from the rule |
//! | `rule.reference`, `rule.description` | from the rule (optional) |
//! | `host.name` | from defaults/config, else this machine's name |
//! | `labels` | from defaults/config (may be empty) |
//! | `observer.product`, `observer.version`, `observer.vendor` | `logwarden`, crate version |
//! | `logwarden.schema_version` | [`SCHEMA_VERSION`] |
//! | `logwarden.alert.status` | `firing`, `resolved`, `matched` |
//! | `logwarden.alert.severity` | the severity word |
//! | `logwarden.alert.id` | fingerprint of rule id + group values (32 hex digits) |
//! | `logwarden.alert.uuid` | one per firing episode; the resolution repeats it |
//! | `logwarden.alert.kind` | `match`, `threshold`, `backlog`, `absence`, `correlate` |
//! | `logwarden.alert.started` | for a resolution: when it started firing (optional) |
//! | `logwarden.alert.duration_ms` | for a resolution: how long it fired (optional) |
//! | `logwarden.alert.group` | the group-by fields and values (object) |
//! | `logwarden.alert.evidence` | up to N records: `message`, `log.file.path`, `log.offset`, `@timestamp` |
//! | `logwarden.alert.related` | correlations: each member's and precondition's state |
//! | `logwarden.alert.gauge` | backlog: the gauge values (optional) |
//! | `logwarden.alert.recommendation` | from the rule (optional) |
//! | `logwarden.alert.tags` | from the rule |

use std::collections::BTreeMap;

use serde::Serialize;

use crate::correlate::{Detail, GaugeValues, Related, Status, Transition, ids};
use crate::rule::RuleSet;
use crate::time::{Timestamp, format_duration};

/// Version of the document schema. Bump on any change of a field's meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// The ECS version the document follows.
pub const ECS_VERSION: &str = "8.11.0";

/// What every document carries besides the transition: who sends it.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `host.name`.
    pub host: String,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
}

/// One alert document. Serialises to the wire format in the module docs.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertDocument {
    /// `@timestamp`.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// `message`.
    pub message: String,
    /// `ecs`.
    pub ecs: Ecs,
    /// `event`.
    pub event: Event,
    /// `rule`.
    pub rule: RuleFields,
    /// `host`.
    pub host: Host,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `observer`.
    pub observer: Observer,
    /// `logwarden`.
    pub logwarden: Logwarden,
}

/// `ecs`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Ecs {
    /// `ecs.version`.
    pub version: &'static str,
}

/// `event`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Event {
    /// Always `alert`.
    pub kind: &'static str,
    /// `alert-firing`, `alert-resolved`, `alert-matched`.
    pub action: &'static str,
    /// `["start"]`, `["end"]`, `["info"]`.
    #[serde(rename = "type")]
    pub kind_type: [&'static str; 1],
    /// Idempotency key.
    pub id: String,
    /// 1–5.
    pub severity: u8,
    /// When the agent produced the document.
    pub created: String,
    /// `logwarden.alert`.
    pub dataset: &'static str,
}

/// `rule`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RuleFields {
    /// `rule.id`.
    pub id: String,
    /// `rule.name`.
    pub name: String,
    /// `rule.reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `rule.description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `host`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Host {
    /// `host.name`.
    pub name: String,
}

/// `observer`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Observer {
    /// `logwarden`.
    pub product: &'static str,
    /// The crate version.
    pub version: &'static str,
    /// `logwarden`.
    pub vendor: &'static str,
}

/// `logwarden`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Logwarden {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `logwarden.alert`.
    pub alert: AlertFields,
}

/// `logwarden.alert`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertFields {
    /// `firing`, `resolved`, `matched`.
    pub status: &'static str,
    /// The severity word.
    pub severity: &'static str,
    /// Fingerprint of rule id + group values.
    pub id: String,
    /// One per firing episode.
    pub uuid: String,
    /// The rule kind.
    pub kind: &'static str,
    /// For a resolution: when the episode started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// For a resolution: how long it fired, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    /// Group-by fields and values.
    pub group: BTreeMap<String, String>,
    /// Sample records.
    pub evidence: Vec<EvidenceFields>,
    /// Members' and preconditions' state (correlations).
    pub related: Vec<RelatedFields>,
    /// Gauge values (backlog rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gauge: Option<GaugeFields>,
    /// From the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    /// From the rule.
    pub tags: Vec<String>,
}

/// One evidence record.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EvidenceFields {
    /// The record's message.
    pub message: String,
    /// `log.file.path` and `log.offset`.
    pub log: LogFields,
    /// Record time.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
}

/// `log` of an evidence record.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogFields {
    /// `file.path`.
    pub file: FileFields,
    /// Byte offset of the record.
    pub offset: u64,
}

/// `log.file`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FileFields {
    /// The path.
    pub path: String,
}

/// A member's or precondition's state.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RelatedFields {
    /// The rule id.
    pub rule: String,
    /// `member` or `preceded_by`.
    pub role: String,
    /// `firing`, `resolved`, `matched` or `inactive`.
    pub status: String,
    /// Start of its current or last firing episode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The last moment it was active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
    /// Matching records counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Gauge values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gauge: Option<GaugeFields>,
}

/// Gauge values.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GaugeFields {
    /// The gauge id.
    pub id: String,
    /// Sample time.
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
    /// Age of the oldest file, in seconds.
    pub oldest_age_s: u64,
    /// Each `rise` condition: metric, look-back and the rise seen.
    pub rises: Vec<RiseFields>,
}

/// One rise.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RiseFields {
    /// `files`, `bytes` or `oldest_age`.
    pub metric: String,
    /// The look-back, as written in rules (`"10m"`).
    pub over: String,
    /// The rise seen.
    pub rise: f64,
}

fn gauge_fields(g: &GaugeValues) -> GaugeFields {
    GaugeFields {
        id: g.gauge.clone(),
        timestamp: g.time.to_rfc3339(),
        files: g.files,
        bytes: g.bytes,
        oldest_age_s: g.oldest_age.as_secs(),
        rises: g
            .rises
            .iter()
            .map(|(m, over, rise)| RiseFields {
                metric: m.clone(),
                over: format_duration(*over),
                rise: *rise,
            })
            .collect(),
    }
}

fn related_fields(r: &Related) -> RelatedFields {
    RelatedFields {
        rule: r.rule.clone(),
        role: r.role.clone(),
        status: r.status.clone(),
        since: r.since.map(Timestamp::to_rfc3339),
        last_active: r.last_active.map(Timestamp::to_rfc3339),
        count: r.count,
        gauge: r.gauge.as_ref().map(gauge_fields),
    }
}

/// Builds the document for `tr` of a rule in `rules`, produced at `created`.
pub fn document(
    tr: &Transition,
    rules: &RuleSet,
    ctx: &Context,
    created: Timestamp,
) -> AlertDocument {
    let rule = rules.rule(tr.rule);
    let (action, kind_type) = match tr.status {
        Status::Firing => ("alert-firing", "start"),
        Status::Resolved => ("alert-resolved", "end"),
        Status::Matched => ("alert-matched", "info"),
    };
    let gauge = match &tr.detail {
        Detail::Backlog { values } => Some(gauge_fields(values)),
        _ => None,
    };
    AlertDocument {
        timestamp: tr.time.to_rfc3339(),
        message: sentence(tr, rules, ctx),
        ecs: Ecs {
            version: ECS_VERSION,
        },
        event: Event {
            kind: "alert",
            action,
            kind_type: [kind_type],
            id: ids::format_uuid(tr.event_id),
            severity: rule.meta.severity.number(),
            created: created.to_rfc3339(),
            dataset: "logwarden.alert",
        },
        rule: RuleFields {
            id: rule.id.clone(),
            name: rule.display_name().to_owned(),
            reference: rule.meta.reference.clone(),
            description: rule.meta.description.clone(),
        },
        host: Host {
            name: ctx.host.clone(),
        },
        labels: ctx.labels.clone(),
        observer: Observer {
            product: "logwarden",
            version: env!("CARGO_PKG_VERSION"),
            vendor: "logwarden",
        },
        logwarden: Logwarden {
            schema_version: SCHEMA_VERSION,
            alert: AlertFields {
                status: tr.status.as_str(),
                severity: rule.meta.severity.as_str(),
                id: ids::format_hex(tr.alert_id),
                uuid: ids::format_uuid(tr.uuid),
                kind: rule.kind.name(),
                started: tr.since.map(Timestamp::to_rfc3339),
                duration_ms: tr
                    .since
                    .map(|s| tr.time.as_unix_millis().saturating_sub(s.as_unix_millis())),
                group: tr.group.iter().cloned().collect(),
                evidence: tr
                    .evidence
                    .iter()
                    .map(|e| EvidenceFields {
                        message: e.message.clone(),
                        log: LogFields {
                            file: FileFields {
                                path: e.path.clone(),
                            },
                            offset: e.offset,
                        },
                        timestamp: e.time.to_rfc3339(),
                    })
                    .collect(),
                related: tr.related.iter().map(related_fields).collect(),
                gauge,
                recommendation: rule.meta.recommendation.clone(),
                tags: rule.meta.tags.clone(),
            },
        },
    }
}

/// Serialises a document as one NDJSON line (with the trailing `\n`).
pub fn to_line(doc: &AlertDocument) -> String {
    // Serialising plain structs of strings and numbers cannot fail; fall
    // back to an empty object rather than panic if it ever did.
    let mut s = serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_owned());
    s.push('\n');
    s
}

fn group_text(tr: &Transition) -> String {
    let parts: Vec<String> = tr
        .group
        .iter()
        .filter(|(k, _)| k != "host.name")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

fn quote(s: &str) -> String {
    const MAX: usize = 120;
    let s = s.trim();
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{s}\"")
    }
}

fn gauge_text(g: &GaugeValues) -> String {
    let mut s = format!(
        "{}: {} files, {} bytes, oldest {}",
        g.gauge,
        g.files,
        g.bytes,
        format_duration(std::time::Duration::from_secs(g.oldest_age.as_secs()))
    );
    for (metric, over, rise) in &g.rises {
        s.push_str(&format!(
            ", {metric} {rise:+} in {}",
            format_duration(*over)
        ));
    }
    s
}

/// The one human sentence of a document: what happened, where, with the key
/// numbers.
fn sentence(tr: &Transition, rules: &RuleSet, ctx: &Context) -> String {
    let rule = rules.rule(tr.rule);
    let name = rule.display_name();
    let host = &ctx.host;
    let group = group_text(tr);
    let status = tr.status.as_str();
    let path = tr.evidence.last().map(|e| e.path.as_str()).unwrap_or("");
    match (&tr.detail, tr.status) {
        (Detail::Match, _) => {
            let msg = tr
                .evidence
                .last()
                .map(|e| quote(&e.message))
                .unwrap_or_default();
            format!("{name} on {host}{group}: {msg} in {path}.")
        }
        (Detail::Threshold { count, window, .. }, Status::Firing) => {
            let msg = tr
                .evidence
                .last()
                .map(|e| quote(&e.message))
                .unwrap_or_default();
            format!(
                "{name} firing on {host}{group}: {count} matching records within {} in {path}, latest {msg}.",
                format_duration(*window)
            )
        }
        (
            Detail::Threshold {
                count,
                resolve_after,
                last,
                ..
            },
            _,
        ) => format!(
            "{name} resolved on {host}{group}: no matching record for {} since {} ({count} while firing).",
            format_duration(*resolve_after),
            last.to_rfc3339()
        ),
        (Detail::Backlog { values }, _) => {
            format!("{name} {status} on {host}: {}.", gauge_text(values))
        }
        (
            Detail::Absence {
                silent_for,
                last_seen,
            },
            Status::Firing,
        ) => match last_seen {
            Some(t) => format!(
                "{name} firing on {host}: no record for {} (last at {}).",
                format_duration(*silent_for),
                t.to_rfc3339()
            ),
            None => format!(
                "{name} firing on {host}: no record for {} since the agent started.",
                format_duration(*silent_for)
            ),
        },
        (Detail::Absence { .. }, _) => {
            format!("{name} resolved on {host}: the log is written again.")
        }
        (Detail::Correlate { within, ordered }, _) => {
            let members: Vec<String> = tr
                .related
                .iter()
                .filter(|r| r.role == "member")
                .map(|r| {
                    let mut s = format!("{} ({}", r.rule, r.status);
                    if let Some(c) = r.count {
                        s.push_str(&format!(", {c} records"));
                    }
                    if let Some(g) = &r.gauge {
                        s.push_str(&format!(
                            ", {} files, oldest {}",
                            g.files,
                            format_duration(std::time::Duration::from_secs(g.oldest_age.as_secs()))
                        ));
                    }
                    s.push(')');
                    s
                })
                .collect();
            let joiner = if *ordered { " then " } else { " and " };
            let mut s = match tr.status {
                Status::Firing => format!(
                    "{name} firing on {host}{group}: {} within {}",
                    members.join(joiner),
                    format_duration(*within)
                ),
                _ => format!(
                    "{name} resolved on {host}{group}: members no longer coincide within {} ({})",
                    format_duration(*within),
                    members.join(", ")
                ),
            };
            for p in tr.related.iter().filter(|r| r.role == "preceded_by") {
                match p.last_active {
                    Some(t) if p.status != "inactive" => {
                        s.push_str(&format!("; preceded by {} at {}", p.rule, t.to_rfc3339()))
                    }
                    _ => s.push_str(&format!("; no {} seen before", p.rule)),
                }
            }
            s.push('.');
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::correlate::Evidence;
    use crate::event::RuleId;
    use crate::rule::{
        AbsenceRule, Defaults, LineCondition, Location, MatchRule, Pattern, Rule, RuleKind,
        RuleMeta,
    };

    fn rules() -> RuleSet {
        let line = LineCondition {
            sources: vec![],
            pattern: Pattern::Contains("x".into()),
            not_contains: None,
            component: None,
            severity_at_least: None,
            thread: None,
            raw: false,
        };
        let rule = |id: &str, kind| Rule {
            id: id.into(),
            meta: RuleMeta {
                reference: Some("KB Q260366".into()),
                recommendation: Some("Restart SMS_EXECUTIVE.".into()),
                alert: true,
                ..RuleMeta::default()
            },
            kind,
            location: Location::default(),
        };
        RuleSet {
            defaults: Defaults::default(),
            sources: vec![],
            gauges: vec![],
            rules: vec![
                rule(
                    "m",
                    RuleKind::Match(MatchRule {
                        line,
                        suppress_for: Duration::ZERO,
                        group_by: vec![],
                    }),
                ),
                rule(
                    "a",
                    RuleKind::Absence(AbsenceRule {
                        sources: vec![],
                        silent_for: Duration::from_secs(900),
                    }),
                ),
            ],
        }
    }

    fn transition(rule: u32, status: Status, detail: Detail) -> Transition {
        let t = Timestamp::from_unix_secs(962_544_226);
        Transition {
            rule: RuleId(rule),
            status,
            time: t,
            group: vec![("host.name".into(), "PRI01".into())],
            alert_id: 1,
            uuid: 2,
            event_id: 3,
            since: (status == Status::Resolved).then_some(Timestamp::from_unix_secs(962_540_000)),
            evidence: vec![Evidence {
                message: "Backup completed".into(),
                path: "Logs/smsbkup.log".into(),
                offset: 42,
                time: t,
            }],
            related: vec![Related {
                rule: "despool-waiting".into(),
                role: "member".into(),
                status: "firing".into(),
                since: Some(t),
                last_active: Some(t),
                count: Some(3),
                gauge: Some(GaugeValues {
                    gauge: "despoolr_receive".into(),
                    time: t,
                    files: 80,
                    bytes: 8_000,
                    oldest_age: Duration::from_secs(700),
                    rises: vec![("files".into(), Duration::from_secs(600), 77.0)],
                }),
            }],
            detail,
        }
    }

    /// Every kind of document validates against the shipped JSON Schema.
    #[test]
    fn documents_match_the_schema() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../docs/alert.schema.json")).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let rules = rules();
        let ctx = Context {
            host: "PRI01".into(),
            labels: [("site_code".to_owned(), "PS1".to_owned())].into(),
        };
        let cases = [
            transition(0, Status::Matched, Detail::Match),
            transition(
                1,
                Status::Firing,
                Detail::Absence {
                    silent_for: Duration::from_secs(900),
                    last_seen: None,
                },
            ),
            transition(
                1,
                Status::Resolved,
                Detail::Absence {
                    silent_for: Duration::from_secs(900),
                    last_seen: None,
                },
            ),
        ];
        for tr in &cases {
            let doc = document(tr, &rules, &ctx, Timestamp::from_unix_secs(962_544_300));
            let line = to_line(&doc);
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{errors:#?}\n{line}");
        }
        // A document that breaks the contract is rejected (the test can fail).
        let mut v: serde_json::Value = serde_json::from_str(&to_line(&document(
            &cases[0],
            &rules,
            &ctx,
            Timestamp::EPOCH,
        )))
        .unwrap();
        v["event"]["kind"] = "event".into();
        assert!(!validator.is_valid(&v));
    }

    #[test]
    fn fields_and_sentence() {
        let rules = rules();
        let ctx = Context {
            host: "PRI01".into(),
            labels: BTreeMap::new(),
        };
        let doc = document(
            &transition(0, Status::Matched, Detail::Match),
            &rules,
            &ctx,
            Timestamp::EPOCH,
        );
        assert_eq!(doc.timestamp, "2000-07-02T13:23:46.000Z");
        assert_eq!(doc.event.action, "alert-matched");
        assert_eq!(doc.event.kind_type, ["info"]);
        assert_eq!(doc.event.severity, 3);
        assert_eq!(doc.logwarden.alert.id, "00000000000000000000000000000001");
        assert_eq!(
            doc.message,
            "m on PRI01: \"Backup completed\" in Logs/smsbkup.log."
        );
        let resolved = document(
            &transition(
                1,
                Status::Resolved,
                Detail::Absence {
                    silent_for: Duration::from_secs(900),
                    last_seen: None,
                },
            ),
            &rules,
            &ctx,
            Timestamp::EPOCH,
        );
        assert_eq!(resolved.logwarden.alert.duration_ms, Some(4_226_000));
        assert_eq!(resolved.event.kind_type, ["end"]);
    }
}
