//! `[[override]]`: per-site changes to rules, sources and gauges defined in
//! another file (usually the bundled pack), without copying them; and
//! `bundled = true`, which loads the bundled pack under a rule file.
//!
//! ```toml
//! bundled = true                 # build on the bundled pack
//!
//! [[override]]
//! id = "despoolr-backlog"        # a rule, source or gauge of any loaded file
//! for = "5m"                     # keys of the target's kind, replaced whole
//! severity = "critical"
//! ```
//!
//! An override names its target by `id` and carries keys of the target's
//! kind; each replaces the target's key of that name (a list such as `any`
//! or `group_by` is replaced whole; a key the target lacks is added).
//! Setting one key of an exclusive group (`contains` / `contains_any` /
//! `regex`, `any` / `all`, `all_of` / `sequence`) drops the others. Several
//! overrides of one target apply in load order: later files, and later
//! tables of one file, win.
//!
//! Overrides apply before compilation. The target table and the keys of its
//! overrides are pieced together into one table, a synthetic text of
//! verbatim slices of their files (see `raw::SpanMap`), which `compile.rs`
//! then reads like any other table: every check of the language applies to
//! the *effective* rule, and every problem is reported where the offending
//! key is written, in whichever file that is.
//!
//! Owns: finding targets, checking overrides against their target's kind
//! (unknown id, key not valid for that kind, nothing to change), and
//! building the merged text. Does not know what keys mean (`compile.rs`
//! does) and does no I/O.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::compile::{KINDS, Kind};
use super::raw::{self, Doc, Section, suggest};

/// Keys of which a table may carry only one: setting one drops the others.
const EXCLUSIVE: &[&[&str]] = &[
    &["contains", "contains_any", "regex"],
    &["any", "all"],
    &["all_of", "sequence"],
];

/// Whether the rule file `text` asks for the bundled pack (`bundled = true`
/// at its top level). A file that does not parse does not.
pub(super) fn asks_for_pack(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (root, _) = DeTable::parse_recoverable(text);
    matches!(
        root.get_ref().get("bundled").map(|v| v.get_ref()),
        Some(DeValue::Boolean(true))
    )
}

/// Where a table kind's table is: file, kind, position in that file's array.
pub(super) type TableRef = (usize, Kind, usize);

/// One target and the synthetic text of its merged table.
pub(super) struct Merge {
    /// The target table.
    pub(super) target: TableRef,
    /// The merged table as TOML text (`key = value` lines).
    pub(super) text: String,
    /// `(start in text, length, file, start in that file)` of every piece.
    pub(super) pieces: Vec<(usize, usize, usize, usize)>,
    /// Where the copy of the target's header is in `text`.
    pub(super) header: Range<usize>,
    /// The first override of the target: its file and the offset of its `id`.
    pub(super) by: (usize, usize),
}

/// A `key = value` to put in a merged table: its name, file and spans there.
#[derive(Clone)]
struct Entry {
    key: String,
    file: usize,
    key_span: Range<usize>,
    value_span: Range<usize>,
}

/// A table an override may target.
struct Target<'t, 'i> {
    at: TableRef,
    table: &'t DeTable<'i>,
    header: Range<usize>,
}

/// Reads every `[[override]]` of `roots` (reporting its problems in `docs`)
/// and returns the merged text of every target that has a valid one.
/// `pack_loaded`: whether the bundled pack is among the files (for the hint
/// on an unknown id).
pub(super) fn plan(docs: &mut [Doc<'_>], roots: &[DeTable<'_>], pack_loaded: bool) -> Vec<Merge> {
    let targets = find_targets(docs, roots);
    let mut changes: BTreeMap<TableRef, (Range<usize>, usize, Vec<Entry>)> = BTreeMap::new();
    for (file, root) in roots.iter().enumerate() {
        if docs[file].is_broken() {
            continue;
        }
        let Some(value) = root.get("override") else {
            continue;
        };
        let items = match value.get_ref() {
            DeValue::Array(items) => items,
            DeValue::Table(_) => {
                docs[file].error(
                    value.span(),
                    "\"override\" must be an array of tables: write [[override]] with double brackets, not [override]",
                );
                continue;
            }
            other => {
                docs[file].error(
                    value.span(),
                    format!(
                        "\"override\" must be an array of tables ([[override]]), not {}",
                        raw::a_type(other)
                    ),
                );
                continue;
            }
        };
        for item in items.iter() {
            let DeValue::Table(t) = item.get_ref() else {
                docs[file].error(
                    item.span(),
                    format!(
                        "entries of \"override\" must be tables ([[override]]), not {}",
                        raw::a_type(item.get_ref())
                    ),
                );
                continue;
            };
            if let Some((target, id_span, entries)) =
                read_override(&mut docs[file], file, t, item.span(), &targets, pack_loaded)
            {
                changes
                    .entry(target.at)
                    .or_insert_with(|| (id_span, file, Vec::new()))
                    .2
                    .extend(entries);
            }
        }
    }
    let mut merges = Vec::new();
    for (at, (id_span, id_file, entries)) in changes {
        let Some(target) = targets.values().find(|t| t.at == at) else {
            continue;
        };
        if let Some(m) = merge(docs, target, entries, id_file, id_span) {
            merges.push(m);
        }
    }
    merges
}

/// The first definition of every id in the files whose syntax is sound.
fn find_targets<'t, 'i>(
    docs: &[Doc<'_>],
    roots: &'t [DeTable<'i>],
) -> HashMap<String, Target<'t, 'i>> {
    let mut targets = HashMap::new();
    for (file, root) in roots.iter().enumerate() {
        if docs[file].is_broken() {
            continue;
        }
        for kind in KINDS {
            let Some(DeValue::Array(items)) = root.get(kind.key()).map(|v| v.get_ref()) else {
                continue;
            };
            for (index, item) in items.iter().enumerate() {
                let DeValue::Table(t) = item.get_ref() else {
                    continue;
                };
                let Some(id) = t.get("id").and_then(|v| v.get_ref().as_str()) else {
                    continue;
                };
                targets.entry(id.to_owned()).or_insert(Target {
                    at: (file, kind, index),
                    table: t,
                    header: item.span(),
                });
            }
        }
    }
    targets
}

/// Checks one `[[override]]` table; returns its target, the span of its `id`
/// value and its valid keys.
fn read_override<'m, 't, 'i>(
    doc: &mut Doc<'_>,
    file: usize,
    t: &DeTable<'_>,
    header: Range<usize>,
    targets: &'m HashMap<String, Target<'t, 'i>>,
    pack_loaded: bool,
) -> Option<(&'m Target<'t, 'i>, Range<usize>, Vec<Entry>)> {
    let id = t.get("id").and_then(|v| v.get_ref().as_str());
    let s = Section {
        table: t,
        header,
        ctx: match id {
            Some(id) => format!("[[override]] {id:?}"),
            None => "[[override]]".to_owned(),
        },
    };
    let id_field = match s.field("id") {
        Some(f) => f,
        None => {
            doc.missing(
                &s,
                "id",
                "id = \"despoolr-backlog\" (the rule, source or gauge to change)",
            );
            return None;
        }
    };
    let id = doc.nonempty(id_field)?;
    let id_span = id_field.span();
    let Some(target) = targets.get(&id) else {
        let extra = match suggest(&id, targets.keys().map(String::as_str)) {
            Some(best) => format!("did you mean {best:?}?"),
            None if !pack_loaded && pack_ids().contains(&id) => format!(
                "{id:?} is in the bundled pack: add bundled = true at the top of this file to build on it"
            ),
            None => "no rule, source or gauge of the loaded files has this id".to_owned(),
        };
        doc.error(
            id_span,
            format!("unknown id {id:?} in [[override]] ({extra})"),
        );
        return None;
    };
    let kind = target.at.1;
    let allowed: Vec<&str> = kind.keys().into_iter().filter(|k| *k != "id").collect();
    let mut entries = Vec::new();
    let mut ok = true;
    for (key, value) in t.iter() {
        let name: &str = key.get_ref();
        if name == "id" {
            continue;
        }
        if !allowed.contains(&name) {
            let extra = match suggest(name, allowed.iter().copied()) {
                Some(best) => format!("did you mean {best:?}?"),
                None => format!("its keys are {}", allowed.join(", ")),
            };
            doc.error(
                key.span(),
                format!(
                    "{name:?} is not a key of {} ({id:?} is a {}; {extra})",
                    kind.table(),
                    kind.table()
                ),
            );
            ok = false;
            continue;
        }
        if !inline(doc.text, value) {
            doc.error(
                key.span(),
                format!(
                    "write {name:?} of {} as one inline value (name = value on one key, not a [table] section): an override replaces the key whole",
                    s.ctx
                ),
            );
            ok = false;
            continue;
        }
        entries.push(Entry {
            key: name.to_owned(),
            file,
            key_span: key.span(),
            value_span: value.span(),
        });
    }
    if entries.is_empty() && ok {
        doc.error(
            s.header.clone(),
            format!(
                "{} changes nothing: add the keys of the {} to replace, e.g. severity = \"high\"",
                s.ctx,
                kind.table()
            ),
        );
        return None;
    }
    Some((target, id_span, entries))
}

/// Whether `value` is written as one inline value (`key = …`) whose text,
/// copied on its own, reads back as the same value: not a `[table]` section
/// or dotted keys, which a merge cannot copy.
fn inline(text: &str, value: &raw::Value<'_>) -> bool {
    let Some(slice) = text.get(value.span()) else {
        return false;
    };
    let probe = format!("k = {slice}\n");
    let (root, errors) = DeTable::parse_recoverable(&probe);
    if !errors.is_empty() {
        return false;
    }
    let Some(copy) = root.get_ref().get("k") else {
        return false;
    };
    same_shape(copy.get_ref(), value.get_ref())
}

/// Same type, and for arrays and tables the same length (a value assembled
/// from `[[x.y]]` sections would read back as something else).
fn same_shape(a: &DeValue<'_>, b: &DeValue<'_>) -> bool {
    match (a, b) {
        (DeValue::Array(x), DeValue::Array(y)) => x.len() == y.len(),
        (DeValue::Table(x), DeValue::Table(y)) => x.len() == y.len(),
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// Pieces the target's own keys and its overrides' keys into one table.
/// `None` (with a problem reported at the first override's `id`) when a key
/// of the target cannot be copied.
fn merge(
    docs: &mut [Doc<'_>],
    target: &Target<'_, '_>,
    changes: Vec<Entry>,
    id_file: usize,
    id_span: Range<usize>,
) -> Option<Merge> {
    let (file, kind, _) = target.at;
    let mut entries: Vec<Entry> = Vec::new();
    for (key, value) in target.table.iter() {
        if !inline(docs[file].text, value) {
            let loc = docs[file].location(key.span().start);
            docs[id_file].error(
                id_span,
                format!(
                    "cannot override {} {:?}: its key {:?} ({}:{}:{}) is written as a [table] section or dotted keys; write it inline there (name = value)",
                    kind.table(),
                    target.table.get("id").and_then(|v| v.get_ref().as_str()).unwrap_or(""),
                    key.get_ref(),
                    loc.file.display(),
                    loc.line,
                    loc.column
                ),
            );
            return None;
        }
        entries.push(Entry {
            key: key.get_ref().to_string(),
            file,
            key_span: key.span(),
            value_span: value.span(),
        });
    }
    for change in changes {
        let group: &[&str] = EXCLUSIVE
            .iter()
            .find(|g| g.contains(&change.key.as_str()))
            .copied()
            .unwrap_or(&[]);
        entries.retain(|e| e.key != change.key && !group.contains(&e.key.as_str()));
        entries.push(change);
    }
    let mut text = String::from("#");
    let mut pieces = Vec::new();
    let header_text = docs[file]
        .text
        .get(target.header.clone())
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    let header = 1..1 + header_text.len();
    text.push_str(header_text);
    pieces.push((header.start, header.len(), file, target.header.start));
    text.push('\n');
    for e in &entries {
        let source = docs[e.file].text;
        let key = source.get(e.key_span.clone()).unwrap_or(&e.key);
        let value = source.get(e.value_span.clone()).unwrap_or("");
        pieces.push((text.len(), key.len(), e.file, e.key_span.start));
        text.push_str(key);
        text.push_str(" = ");
        pieces.push((text.len(), value.len(), e.file, e.value_span.start));
        text.push_str(value);
        text.push('\n');
    }
    Some(Merge {
        target: target.at,
        text,
        pieces,
        header,
        by: (id_file, id_span.start),
    })
}

/// Every id defined in the bundled pack (for the hint on an unknown id).
fn pack_ids() -> Vec<String> {
    let mut ids = Vec::new();
    for f in super::bundled() {
        let (root, _) = DeTable::parse_recoverable(&f.text);
        for kind in KINDS {
            if let Some(DeValue::Array(items)) = root.get_ref().get(kind.key()).map(|v| v.get_ref())
            {
                for item in items.iter() {
                    if let Some(id) = item
                        .get_ref()
                        .as_table()
                        .and_then(|t| t.get("id"))
                        .and_then(|v| v.get_ref().as_str())
                    {
                        ids.push(id.to_owned());
                    }
                }
            }
        }
    }
    ids
}
