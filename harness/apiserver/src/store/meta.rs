//! Reading and writing `metadata` fields of JSON objects.

use serde_json::{Map, Value};

use super::Key;

pub(crate) fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata")?.as_object()
}

/// The metadata map, created if missing (callers checked `obj` is an object).
pub(crate) fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let root = obj.as_object_mut().expect("object");
    let m = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("metadata object")
}

pub(crate) fn str_field<'a>(obj: &'a Value, field: &str) -> &'a str {
    metadata(obj)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(crate) fn set_str(obj: &mut Value, field: &str, value: &str) {
    metadata_mut(obj).insert(field.into(), Value::String(value.into()));
}

pub(crate) fn name(obj: &Value) -> &str {
    str_field(obj, "name")
}

pub(crate) fn namespace(obj: &Value) -> &str {
    str_field(obj, "namespace")
}

pub(crate) fn uid(obj: &Value) -> &str {
    str_field(obj, "uid")
}

pub(crate) fn resource_version(obj: &Value) -> &str {
    str_field(obj, "resourceVersion")
}

pub(crate) fn key(obj: &Value) -> Key {
    (namespace(obj).to_string(), name(obj).to_string())
}

pub(crate) fn deletion_timestamp(obj: &Value) -> Option<&str> {
    metadata(obj)?.get("deletionTimestamp")?.as_str()
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    strings(metadata(obj).and_then(|m| m.get("finalizers")))
}

/// A string field of any JSON object; empty when absent or not a string.
pub(crate) fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The strings of a JSON list; none when it is absent or not a list.
pub(crate) fn strings(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn set_finalizers(obj: &mut Value, finalizers: &[String]) {
    let m = metadata_mut(obj);
    if finalizers.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), finalizers.into());
    }
}

pub(crate) fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    metadata(obj)?.get("labels")?.as_object()
}

pub(crate) fn owner_refs(obj: &Value) -> Vec<Value> {
    metadata(obj)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn owner_uids(obj: &Value) -> Vec<String> {
    owner_refs(obj)
        .iter()
        .filter_map(|r| r.get("uid")?.as_str().map(String::from))
        .collect()
}

/// Reads a dotted path like `.spec.replicas` or `spec.nodeName`.
pub(crate) fn path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    for part in path.trim_start_matches('.').split('.') {
        if part.is_empty() {
            continue;
        }
        cur = cur.get(part)?;
    }
    Some(cur)
}

/// Writes a dotted path, creating intermediate objects.
pub(crate) fn set_path(obj: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path
        .trim_start_matches('.')
        .split('.')
        .filter(|p| !p.is_empty())
        .collect();
    let mut cur = obj;
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().expect("object");
        if i + 1 == parts.len() {
            map.insert(part.to_string(), value);
            return;
        }
        cur = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// The object without the parts that do not count as a spec change
/// (metadata, status, type meta), for generation bumps.
pub(crate) fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

/// Renders a value as a field selector compares it.
pub(crate) fn as_selector_string(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
