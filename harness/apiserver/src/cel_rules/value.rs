//! JSON values as CEL sees them through their schema (apiextensions'
//! `pkg/apiserver/schema/cel/model` and apiserver's `pkg/cel/common`): the
//! schema, not the JSON, decides whether `5` is an int or a double, whether
//! an object is a struct of escaped property names or a map, and whether a
//! string is a timestamp.

use std::collections::HashMap;
use std::sync::Arc;

use kube_cel::cel;
use kube_cel::cel::objects::{Key, Map};
use serde_json::Value as Json;

/// The keywords CEL reserves; a property so named is reached as `__name__`.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// The name under which a property is visible to a rule, or `None` when no
/// escaping makes it an identifier (such properties are not accessible).
pub(crate) fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            out.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c == '_' || c.is_ascii_alphanumeric() => out.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    let starts_well = out
        .chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic());
    starts_well.then_some(out)
}

fn flag(schema: &Json, key: &str) -> bool {
    schema.get(key).and_then(Json::as_bool) == Some(true)
}

fn ty(schema: &Json) -> &str {
    schema.get("type").and_then(Json::as_str).unwrap_or("")
}

/// The value of a node whose schema says nothing: JSON's own shape, integers
/// as ints (also what admission policies see of objects, typed `dyn`).
pub(crate) fn untyped(v: &Json) -> cel::Value {
    match v {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => cel::Value::Int(i),
            None => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => cel::Value::String(Arc::new(s.clone())),
        Json::Array(items) => cel::Value::List(Arc::new(items.iter().map(untyped).collect())),
        Json::Object(m) => map(m.iter().map(|(k, v)| (k.clone(), untyped(v)))),
    }
}

fn map(entries: impl Iterator<Item = (String, cel::Value)>) -> cel::Value {
    let m: HashMap<Key, cel::Value> = entries
        .map(|(k, v)| (Key::String(Arc::new(k)), v))
        .collect();
    cel::Value::Map(Map { map: Arc::new(m) })
}

/// `v` as a rule's `self` sees it, typed by `schema`.
pub(crate) fn to_cel(schema: &Json, v: &Json) -> cel::Value {
    if flag(schema, "x-kubernetes-int-or-string") {
        return untyped(v);
    }
    match (ty(schema), v) {
        (_, Json::Null) => cel::Value::Null,
        ("number", Json::Number(n)) => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        ("string", Json::String(s)) => string(schema, s),
        ("array", Json::Array(items)) => {
            let item_schema = schema.get("items").unwrap_or(&Json::Null);
            cel::Value::List(Arc::new(
                items.iter().map(|i| to_cel(item_schema, i)).collect(),
            ))
        }
        (_, Json::Object(m)) => object(schema, m),
        _ => untyped(v),
    }
}

fn string(schema: &Json, s: &str) -> cel::Value {
    let format = schema.get("format").and_then(Json::as_str).unwrap_or("");
    let parsed = match format {
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .ok()
                .map(|b| cel::Value::Bytes(Arc::new(b)))
        }
        "date-time" => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(cel::Value::Timestamp),
        "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| cel::Value::Timestamp(t.and_utc().fixed_offset())),
        "duration" => go_duration(s).map(cel::Value::Duration),
        _ => None,
    };
    parsed.unwrap_or_else(|| cel::Value::String(Arc::new(s.to_string())))
}

/// Go's `time.ParseDuration` forms (`1h30m`, `1.5s`, `-2ms`), what a
/// `format: duration` string holds.
fn go_duration(s: &str) -> Option<chrono::Duration> {
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(chrono::Duration::zero());
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let amount: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        nanos += amount * scale;
    }
    let d = chrono::Duration::nanoseconds(nanos as i64);
    Some(if negative { -d } else { d })
}

fn object(schema: &Json, m: &serde_json::Map<String, Json>) -> cel::Value {
    let props = schema.get("properties").and_then(Json::as_object);
    let extra = schema.get("additionalProperties").filter(|a| a.is_object());
    match (props, extra) {
        (Some(props), _) => {
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            map(m.iter().filter_map(|(k, v)| {
                let value = match props.get(k) {
                    Some(ps) => to_cel(ps, v),
                    None if embedded && matches!(k.as_str(), "apiVersion" | "kind") => untyped(v),
                    None if embedded && k == "metadata" => visible_metadata(v),
                    None => return None,
                };
                Some((escape(k)?, value))
            }))
        }
        (None, Some(item)) => map(m.iter().map(|(k, v)| (k.clone(), to_cel(item, v)))),
        (None, None) => untyped(&Json::Object(m.clone())),
    }
}

/// The part of `metadata` a rule may read: `name` and `generateName`
/// (apiextensions' `model.WithTypeAndObjectMeta`).
fn visible_metadata(v: &Json) -> cel::Value {
    map(["name", "generateName"]
        .into_iter()
        .filter_map(|k| Some((k.to_string(), untyped(v.get(k)?)))))
}

/// The root object a top-level rule's `self` is: the schema's fields plus
/// `apiVersion`, `kind` and the visible metadata.
pub(crate) fn root(schema: &Json, obj: &Json) -> cel::Value {
    let Some(m) = obj.as_object() else {
        return untyped(obj);
    };
    let props = schema.get("properties").and_then(Json::as_object);
    map(m.iter().filter_map(|(k, v)| {
        let value = match k.as_str() {
            "apiVersion" | "kind" => untyped(v),
            "metadata" => visible_metadata(v),
            _ => match props.and_then(|p| p.get(k)) {
                Some(ps) => to_cel(ps, v),
                None if flag(schema, "x-kubernetes-preserve-unknown-fields") => untyped(v),
                None => return None,
            },
        };
        Some((escape(k)?, value))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn property_names_escape_as_apiextensions_does() {
        assert_eq!(escape("replicas").as_deref(), Some("replicas"));
        assert_eq!(escape("namespace").as_deref(), Some("__namespace__"));
        assert_eq!(
            escape("x-y.z/w").as_deref(),
            Some("x__dash__y__dot__z__slash__w")
        );
        assert_eq!(escape("a__b").as_deref(), Some("a__underscores__b"));
        assert_eq!(escape("1abc"), None);
        assert_eq!(escape("a b"), None);
    }

    #[test]
    fn the_schema_types_numbers_and_strings() {
        let s = json!({"type": "object", "properties": {
            "n": {"type": "number"}, "i": {"type": "integer"},
            "t": {"type": "string", "format": "date-time"},
            "d": {"type": "string", "format": "duration"}}});
        let v = to_cel(
            &s,
            &json!({"n": 5, "i": 5, "t": "2024-01-02T03:04:05Z", "d": "1h30m"}),
        );
        let cel::Value::Map(m) = v else {
            panic!("{v:?}")
        };
        let get = |k: &str| m.map.get(&Key::String(Arc::new(k.into()))).cloned();
        assert_eq!(get("n"), Some(cel::Value::Float(5.0)));
        assert_eq!(get("i"), Some(cel::Value::Int(5)));
        assert!(matches!(get("t"), Some(cel::Value::Timestamp(_))));
        assert_eq!(
            get("d"),
            Some(cel::Value::Duration(chrono::Duration::minutes(90)))
        );
    }
}
