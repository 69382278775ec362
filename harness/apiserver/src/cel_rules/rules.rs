//! `x-kubernetes-validations` on a custom object, as apiextensions'
//! `pkg/apiserver/schema/cel/validation.go` runs them: every node's rules
//! with `self` (and `oldSelf` where the old object correlates), errors at the
//! node's path worded as `field.Error` renders them, and ratcheting (a
//! failing rule on a value the update left unchanged is only a warning).

use std::sync::Arc;

use kube_cel::cel;
use kube_cel::cel::objects::OptionalValue;
use serde_json::Value as Json;

use crate::store::meta::text;

use super::value;

/// What the rules found: 422 causes (field, body) and Warning texts.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub errors: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

/// Runs every rule of `schema` on `new`; `old` is the stored object on an
/// update.
pub(crate) fn validate(schema: &Json, new: &Json, old: Option<&Json>) -> Outcome {
    let mut out = Outcome::default();
    if !declares_rules(schema) {
        return out;
    }
    let unchanged = old.is_some_and(|o| o == new);
    node(&mut out, schema, &Path::Nil, new, old, unchanged, true);
    out
}

/// A field path as apimachinery's `field.Path` renders it: the root is
/// `<nil>`, children join with `.`, keys and indexes in unquoted brackets.
#[derive(Clone)]
enum Path {
    Nil,
    At(String),
}

impl Path {
    fn child(&self, name: &str) -> Path {
        match self {
            Path::Nil => Path::At(name.to_string()),
            Path::At(p) => Path::At(format!("{p}.{name}")),
        }
    }

    fn key(&self, k: &str) -> Path {
        match self {
            Path::Nil => Path::At(format!("[{k}]")),
            Path::At(p) => Path::At(format!("{p}[{k}]")),
        }
    }

    fn render(&self) -> String {
        match self {
            Path::Nil => "<nil>".into(),
            Path::At(p) => p.clone(),
        }
    }
}

fn schema_type(schema: &Json) -> &str {
    schema.get("type").and_then(Json::as_str).unwrap_or("")
}

/// `ruleMessageOrDefault`.
fn message_or_default(rule: &Json) -> String {
    let message = text(rule, "message");
    if message.is_empty() {
        format!("failed rule: {}", text(rule, "rule").trim())
    } else {
        message.trim().to_string()
    }
}

/// `ruleErrorString`: what runtime errors quote.
fn error_string(rule: &Json) -> String {
    let message = text(rule, "message").trim();
    if message.is_empty() {
        text(rule, "rule").trim().to_string()
    } else {
        message.to_string()
    }
}

fn node(
    out: &mut Outcome,
    schema: &Json,
    path: &Path,
    new: &Json,
    old: Option<&Json>,
    unchanged: bool,
    root: bool,
) {
    if new.is_null() {
        return;
    }
    let mut rules: Vec<&Json> = rules_of(schema).collect();
    for sub in schema
        .get("allOf")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        rules.extend(rules_of(sub));
    }
    if !rules.is_empty() {
        let this = if root {
            value::root(schema, new)
        } else {
            value::to_cel(schema, new)
        };
        let previous = old.map(|o| {
            if root {
                value::root(schema, o)
            } else {
                value::to_cel(schema, o)
            }
        });
        for rule in rules {
            evaluate(out, schema, path, rule, &this, previous.as_ref(), unchanged);
        }
    }
    children(out, schema, path, new, old, unchanged);
}

/// Whether any node of `schema` has rules: most CRDs have none, and their
/// writes need not walk the object.
fn declares_rules(schema: &Json) -> bool {
    match schema {
        Json::Object(m) => {
            m.contains_key("x-kubernetes-validations") || m.values().any(declares_rules)
        }
        Json::Array(items) => items.iter().any(declares_rules),
        _ => false,
    }
}

fn rules_of(schema: &Json) -> impl Iterator<Item = &Json> {
    schema
        .get("x-kubernetes-validations")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
}

fn children(
    out: &mut Outcome,
    schema: &Json,
    path: &Path,
    new: &Json,
    old: Option<&Json>,
    unchanged: bool,
) {
    match new {
        Json::Object(map) => {
            let props = schema.get("properties").and_then(Json::as_object);
            let extra = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, v) in map {
                let (child_schema, child_path) = match (props.and_then(|p| p.get(k)), extra) {
                    (Some(ps), _) => (ps, path.child(k)),
                    (None, Some(item)) => (item, path.key(k)),
                    (None, None) => continue,
                };
                let before = old.and_then(|o| o.get(k));
                let same = before.map_or(unchanged, |b| b == v);
                node(out, child_schema, &child_path, v, before, same, false);
            }
        }
        Json::Array(items) => {
            let Some(item_schema) = schema.get("items") else {
                return;
            };
            let keys: Vec<&str> = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Json::as_array)
                .map(|ks| ks.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let is_map = schema.get("x-kubernetes-list-type").and_then(Json::as_str) == Some("map");
            for (i, item) in items.iter().enumerate() {
                // Only list-type=map items correlate (by their keys); others
                // take their list's ratcheting.
                let before = old
                    .and_then(Json::as_array)
                    .filter(|_| is_map && !keys.is_empty())
                    .and_then(|olds| {
                        olds.iter()
                            .find(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
                    });
                let same = before.map_or(unchanged, |b| b == item);
                node(
                    out,
                    item_schema,
                    &path.key(&i.to_string()),
                    item,
                    before,
                    same,
                    false,
                );
            }
        }
        _ => {}
    }
}

fn evaluate(
    out: &mut Outcome,
    schema: &Json,
    path: &Path,
    rule: &Json,
    this: &cel::Value,
    old: Option<&cel::Value>,
    unchanged: bool,
) {
    let ty = schema_type(schema);
    let invalid = |detail: &str| (path.render(), format!("Invalid value: {ty:?}: {detail}"));
    let compiled = match super::compile(text(rule, "rule")) {
        Ok(c) => c,
        Err(e) => {
            out.errors
                .push(invalid(&format!("rule compile error: {e}")));
            return;
        }
    };
    let optional_old = rule.get("optionalOldSelf").and_then(Json::as_bool) == Some(true);
    let old_self = match (compiled.uses_old_self, old, optional_old) {
        (false, _, _) => None,
        (true, Some(o), false) => Some(o.clone()),
        (true, None, false) => return,
        (true, o, true) => Some(cel::Value::Opaque(Arc::new(match o {
            Some(o) => OptionalValue::of(o.clone()),
            None => OptionalValue::none(),
        }))),
    };
    match super::eval(&compiled, this.clone(), old_self) {
        Ok(cel::Value::Bool(true)) => {}
        Ok(_) => {
            let at = match normalized_field_path(schema, text(rule, "fieldPath")) {
                Some(fp) => path.child(&fp),
                None => path.clone(),
            };
            let detail = message(rule, this, old.filter(|_| compiled.uses_old_self));
            let body = match text(rule, "reason") {
                "FieldValueForbidden" => format!("Forbidden: {detail}"),
                "FieldValueRequired" => format!("Required value: {detail}"),
                "FieldValueDuplicate" => format!("Duplicate value: {ty:?}"),
                _ => format!("Invalid value: {ty:?}: {detail}"),
            };
            let field = at.render();
            if unchanged && !compiled.uses_old_self {
                out.warnings.push(format!("{field}: {body}"));
            } else {
                out.errors.push((field, body));
            }
        }
        Err(e) => {
            let text = super::error_text(&e);
            let detail = if text.starts_with("no such overload") {
                format!(
                    "'{text}': call arguments did not match a supported operator, function or macro signature for rule: {}",
                    error_string(rule)
                )
            } else {
                format!("{text} evaluating rule: {}", error_string(rule))
            };
            out.errors.push(invalid(&detail));
        }
    }
}

/// The detail of a failed rule: its `messageExpression` when that yields a
/// usable one-line string, else `message` or the default.
fn message(rule: &Json, this: &cel::Value, old: Option<&cel::Value>) -> String {
    let expr = text(rule, "messageExpression");
    if expr.is_empty() {
        return message_or_default(rule);
    }
    let computed = super::compile(expr)
        .ok()
        .and_then(|c| super::eval(&c, this.clone(), old.cloned()).ok());
    match computed {
        Some(cel::Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || s.contains('\n') || s.len() > MAX_MESSAGE_BYTES {
                message_or_default(rule)
            } else {
                s.to_string()
            }
        }
        _ => message_or_default(rule),
    }
}

/// `MaxEvaluatedMessageExpressionSizeBytes`.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// A rule's `fieldPath` (`.a.b`, `.m['k.x']`) normalized to the field-path
/// string it reports under, resolved against the declaring node's schema
/// (`ValidFieldPath`); `None` when it does not resolve.
pub(crate) fn normalized_field_path(schema: &Json, field_path: &str) -> Option<String> {
    if field_path.is_empty() {
        return None;
    }
    let mut rest = field_path;
    let mut at = schema;
    let mut out = String::new();
    while !rest.is_empty() {
        let name = if let Some(r) = rest.strip_prefix("['") {
            let (name, tail) = quoted(r)?;
            rest = tail.strip_prefix(']')?;
            name
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            rest = &r[end..];
            r[..end].to_string()
        } else {
            return None;
        };
        if let Some(ps) = at.get("properties").and_then(|p| p.get(&name)) {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&name);
            at = ps;
        } else if let Some(item) = at.get("additionalProperties").filter(|a| a.is_object()) {
            out.push_str(&format!("[{name}]"));
            at = item;
        } else {
            return None;
        }
    }
    Some(out)
}

/// A single-quoted name with its escapes, and what follows the closing quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut name = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => return Some((name, &s[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                name.push(match e {
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'v' => '\u{b}',
                    '\'' | '\\' => e,
                    _ => return None,
                });
            }
            c => name.push(c),
        }
    }
    None
}
