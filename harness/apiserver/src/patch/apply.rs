//! Server-side apply (`application/apply-patch+yaml`).
//!
//! The body is the manager's whole intent for the fields it cares about.
//! The server merges it into the live object, refuses to silently overrule a
//! field another manager set to a different value (409, unless `force`),
//! removes fields this manager applied before and no longer does (when
//! nobody else owns them), and records what each manager owns in
//! `managedFields`.

use serde_json::{Map, Value, json};

use super::fields::{FieldPath, FieldSet, Section, item_key, lookup, remove};
use super::lists::{ListKind, list_kind};
use super::managed::{self, APPLY, Entry, UPDATE};

/// The manager upstream names for fields that predate any tracking.
pub(super) const BEFORE_FIRST_APPLY: &str = "before-first-apply";
use super::{ApplyConflict, PatchContext, PatchError};

pub(super) fn apply(
    live: Option<&Value>,
    body: &[u8],
    ctx: &PatchContext,
) -> Result<Value, PatchError> {
    let manager = ctx
        .field_manager
        .as_deref()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            PatchError::BadRequest("fieldManager is required for apply requests".into())
        })?;
    let applied = parse_body(body)?;
    check_type(&applied, ctx)?;
    if !ctx.is_custom {
        typed(&applied, ctx)?;
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(PatchError::BadRequest(
            "metadata.managedFields must be nil in an apply configuration".into(),
        ));
    }

    let shape = ctx.shape();
    let applied = section_of(&applied, shape.section);
    let applied_set = FieldSet::of_object(&applied, shape);
    let base = match live {
        Some(v) => v.clone(),
        None => json!({"apiVersion": ctx.api_version, "kind": ctx.kind, "metadata": {}}),
    };
    let mut merged = base.clone();
    merge_into(&mut merged, &applied, &mut Vec::new(), ctx);

    let me = Entry::new(manager, APPLY, ctx);
    let mut entries = managed::read(&base);
    if entries.is_empty() && live.is_some() {
        // An object written without field tracking: upstream hands its
        // current fields to a pseudo-manager, so the first apply cannot
        // silently overwrite values it never set.
        let mut before = Entry::new(BEFORE_FIRST_APPLY, UPDATE, ctx);
        before.subresource = None;
        before.fields = FieldSet::of_object(&base, shape);
        entries.push(before);
    }

    // Conflicts: fields this apply changes that someone else owns.
    let mut conflicts = Vec::new();
    let mut conflicting: Vec<(usize, FieldPath)> = Vec::new();
    for p in applied_set.0.iter().filter(|p| applied_set.is_leaf(p)) {
        let old = lookup(&base, p);
        if old.is_none() || old == lookup(&merged, p) {
            continue;
        }
        for (i, e) in entries.iter().enumerate() {
            if !e.same_manager(&me) && e.fields.0.contains(p) {
                conflicts.push(ApplyConflict {
                    manager: e.manager.clone(),
                    field: super::fields::display(p),
                    description: e.describe(),
                });
                conflicting.push((i, p.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !ctx.force {
        conflicts.sort_by(|a, b| (&a.description, &a.field).cmp(&(&b.description, &b.field)));
        return Err(PatchError::Conflict { conflicts });
    }
    for (i, p) in conflicting {
        entries[i].fields.0.remove(&p);
    }

    // Fields this manager stopped applying go away unless someone else
    // still owns them (or something below them).
    let previous = entries
        .iter()
        .find(|e| e.same_manager(&me))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut others = FieldSet::default();
    for e in entries.iter().filter(|e| !e.same_manager(&me)) {
        others.0.extend(e.fields.0.iter().cloned());
    }
    let mut deleted: Vec<&FieldPath> = Vec::new();
    for p in previous.0.difference(&applied_set.0) {
        if deleted.iter().any(|d| p.starts_with(d)) || others.covers(p) || is_item_key(p) {
            continue;
        }
        remove(&mut merged, p);
        deleted.push(p);
    }

    let unchanged = strip_managed(&merged) == strip_managed(&base);
    match entries.iter_mut().find(|e| e.same_manager(&me)) {
        Some(e) => {
            if !(unchanged && e.fields == applied_set && e.api_version == me.api_version) {
                e.time = me.time.clone();
            }
            e.api_version = me.api_version.clone();
            e.fields = applied_set;
        }
        None => entries.push(Entry {
            fields: applied_set,
            ..me
        }),
    }
    managed::write(&mut merged, entries);
    Ok(merged)
}

/// Parses an apply body: YAML (of which JSON is a subset), one document,
/// an object.
fn parse_body(body: &[u8]) -> Result<Value, PatchError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => serde_yaml::from_slice(body)
            .map_err(|e| PatchError::BadRequest(format!("error decoding YAML: {e}")))?,
    };
    match value {
        Value::Object(_) => Ok(value),
        other => Err(PatchError::BadRequest(format!(
            "an apply configuration must be an object, found {}",
            type_name(&other)
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null (empty body)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The body must name the type the request is addressed to.
fn check_type(applied: &Value, ctx: &PatchContext) -> Result<(), PatchError> {
    for (field, expected) in [("apiVersion", &ctx.api_version), ("kind", &ctx.kind)] {
        match applied.get(field).and_then(Value::as_str) {
            None | Some("") => {
                return Err(PatchError::BadRequest(format!(
                    "{field} must be set in an apply configuration (expected {expected:?})"
                )));
            }
            Some(got) if !expected.is_empty() && got != expected => {
                return Err(PatchError::BadRequest(format!(
                    "the {field} in the data ({got}) does not match the expected {field} ({expected})"
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A built-in kind's apply configuration must fit its type: structured-
/// merge-diff refuses fields the type does not declare, before any
/// `fieldValidation` applies (`failed to create typed patch object` in
/// apimachinery's `managedfields/internal/structuredmerge.go`).
fn typed(applied: &Value, ctx: &PatchContext) -> Result<(), PatchError> {
    let mut copy = applied.clone();
    let unknown = crate::go_types::prune(&ctx.api_version, &ctx.kind, &mut copy);
    if unknown.is_empty() {
        return Ok(());
    }
    let errors: Vec<String> = unknown
        .iter()
        .map(|p| {
            let path = field_path(applied, &ctx.kind, p);
            format!(
                "{}: field not declared in schema",
                super::fields::display(&path)
            )
        })
        .collect();
    // structured-merge-diff's `ValidationErrors`: one error bare, several
    // listed under `errors:`.
    let errors = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    let meta = |f: &str| {
        applied
            .pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (group, version) = ctx
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", &ctx.api_version));
    Err(PatchError::Untyped(format!(
        "failed to create typed patch object ({}/{}; {group}/{version}, Kind={}): {errors}",
        meta("namespace"),
        meta("name"),
        ctx.kind
    )))
}

/// A pruning path as field-set elements: list items by their merge keys
/// where the list has them, map entries as fields.
fn field_path(applied: &Value, kind: &str, path: &[crate::go_types::Seg]) -> FieldPath {
    use crate::go_types::Seg;
    let mut out = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut cur = Some(applied);
    for seg in path {
        match seg {
            Seg::Field(f) | Seg::Key(f) => {
                out.push(format!("f:{f}"));
                names.push(f.clone());
                cur = cur.and_then(|v| v.get(f));
            }
            Seg::Index(i) => {
                let item = cur.and_then(|v| v.get(*i));
                let keyed = match (list_kind(kind, &names, false), item) {
                    (ListKind::Map(keys), Some(item)) => item_key(item, keys),
                    (ListKind::Set, Some(item)) => Some(format!("v:{item}")),
                    _ => None,
                };
                out.push(keyed.unwrap_or_else(|| format!("i:{i}")));
                cur = item;
            }
        }
    }
    out
}

/// The part of the apply configuration this endpoint may write.
fn section_of(applied: &Value, section: Section) -> Value {
    let Value::Object(map) = applied else {
        return applied.clone();
    };
    let keep = |k: &str| match section {
        Section::All => true,
        Section::NoStatus => k != "status",
        Section::StatusOnly => matches!(k, "status" | "apiVersion" | "kind" | "metadata"),
    };
    let mut out: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| keep(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if section == Section::StatusOnly {
        // Identity only: /status does not write labels and the like.
        if let Some(Value::Object(meta)) = out.get_mut("metadata") {
            meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace"));
        }
    }
    Value::Object(out)
}

/// Merges an apply configuration into an object: maps field by field,
/// keyed lists item by item, sets as unions, everything else replaced.
/// Nothing is deleted here; pruning is ownership's business.
fn merge_into(dst: &mut Value, src: &Value, names: &mut Vec<String>, ctx: &PatchContext) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                if v.is_null() {
                    continue;
                }
                names.push(k.clone());
                match d.get_mut(k) {
                    Some(existing) => merge_into(existing, v, names, ctx),
                    None => {
                        let mut fresh = empty_like(v);
                        merge_into(&mut fresh, v, names, ctx);
                        d.insert(k.clone(), fresh);
                    }
                }
                names.pop();
            }
        }
        (Value::Array(d), Value::Array(s)) => match list_kind(&ctx.kind, names, ctx.is_custom) {
            ListKind::Set => {
                for item in s {
                    if !d.contains(item) {
                        d.push(item.clone());
                    }
                }
            }
            ListKind::Map(keys)
                if s.iter()
                    .chain(d.iter())
                    .all(|i| item_key(i, keys).is_some()) =>
            {
                for item in s {
                    let key = item_key(item, keys);
                    match d.iter_mut().find(|o| item_key(o, keys) == key) {
                        Some(existing) => merge_into(existing, item, names, ctx),
                        None => {
                            let mut fresh = Value::Object(Map::new());
                            merge_into(&mut fresh, item, names, ctx);
                            d.push(fresh);
                        }
                    }
                }
            }
            _ => *d = s.clone(),
        },
        (d, s) => *d = s.clone(),
    }
}

/// A container of the same type, so nested nulls are dropped on insert.
fn empty_like(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::Object(Map::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        other => other.clone(),
    }
}

/// A key field of a list item (`name` under `k:{"name":…}`) is never
/// removed on its own: the item would lose its identity.
fn is_item_key(p: &FieldPath) -> bool {
    let [.., parent, last] = p.as_slice() else {
        return false;
    };
    let (Some(key), Some(field)) = (parent.strip_prefix("k:"), last.strip_prefix("f:")) else {
        return false;
    };
    serde_json::from_str::<Map<String, Value>>(key).is_ok_and(|k| k.contains_key(field))
}

fn strip_managed(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    v
}
