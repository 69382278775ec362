//! Strategic merge patch (`application/strategic-merge-patch+json`).
//!
//! Like a JSON merge patch, except that lists with a merge key merge item by
//! item instead of being replaced, and the patch may carry directives:
//! `$patch: replace|delete|merge`, `$retainKeys`, `$setElementOrder/<field>`
//! and `$deleteFromPrimitiveList/<field>`. This is what `kubectl patch` and
//! client-side `kubectl apply` send for built-in kinds.

use serde_json::{Map, Value};

use super::PatchError;
use super::lists::{ListKind, list_kind};

const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `original`; both are whole objects of `kind`.
pub(super) fn patch(kind: &str, original: &Value, patch: &Value) -> Result<Value, PatchError> {
    let (Value::Object(orig), Value::Object(p)) = (original, patch) else {
        return Err(PatchError::BadRequest(
            "strategic merge patch body must be a JSON object".into(),
        ));
    };
    let mut path = Vec::new();
    match merge_map(kind, &mut path, orig, p)? {
        Some(map) => Ok(Value::Object(map)),
        None => Err(PatchError::BadRequest(
            "a strategic merge patch cannot delete the whole object ($patch: delete at the root)"
                .into(),
        )),
    }
}

/// Merges one object; `None` means the patch asked to delete it.
fn merge_map(
    kind: &str,
    path: &mut Vec<String>,
    orig: &Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, PatchError> {
    match patch.get("$patch") {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "replace" => {
            return merge_map(kind, path, &Map::new(), &without_directive(patch));
        }
        Some(Value::String(d)) if d == "delete" => return Ok(None),
        Some(other) => {
            return Err(PatchError::BadRequest(format!(
                "Unknown patch type: {other} in {}",
                dotted(path)
            )));
        }
    }

    let mut out = orig.clone();
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(DELETE_PRIMITIVE) {
            let Value::Array(gone) = value else {
                return Err(bad_directive(path, key, "a list"));
            };
            if let Some(Value::Array(items)) = out.get_mut(field) {
                items.retain(|item| !gone.contains(item));
            }
        }
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        path.push(key.clone());
        match value {
            Value::Null => {
                out.remove(key);
            }
            Value::Object(p) => {
                let empty = Map::new();
                let o = match out.get(key) {
                    Some(Value::Object(o)) => o,
                    _ => &empty,
                };
                match merge_map(kind, path, o, p)? {
                    Some(m) => {
                        out.insert(key.clone(), Value::Object(m));
                    }
                    None => {
                        out.remove(key);
                    }
                }
            }
            Value::Array(p) => {
                let merged = merge_list(kind, path, out.get(key), p)?;
                out.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                out.insert(key.clone(), scalar.clone());
            }
        }
        path.pop();
    }
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(SET_ORDER) {
            let Value::Array(order) = value else {
                return Err(bad_directive(path, key, "a list"));
            };
            path.push(field.to_owned());
            let merge_key = list_kind(kind, path, false).merge_key();
            path.pop();
            if let Some(Value::Array(items)) = out.get_mut(field) {
                reorder(items, order, merge_key);
            }
        }
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let Value::Array(keys) = retain else {
            return Err(bad_directive(path, "$retainKeys", "a list of field names"));
        };
        out.retain(|k, _| keys.iter().any(|r| r.as_str() == Some(k)));
    }
    Ok(Some(out))
}

fn merge_list(
    kind: &str,
    path: &mut Vec<String>,
    orig: Option<&Value>,
    patch: &[Value],
) -> Result<Vec<Value>, PatchError> {
    let strategy = list_kind(kind, path, false);
    if strategy == ListKind::Atomic {
        return Ok(patch.to_vec());
    }
    // `{"$patch": "replace"}` as an item replaces the whole list with the rest.
    let replace_all = patch
        .iter()
        .any(|item| item.get("$patch").and_then(Value::as_str) == Some("replace"));
    let empty = Vec::new();
    let orig: &Vec<Value> = match orig {
        Some(Value::Array(items)) if !replace_all => items,
        _ => &empty,
    };
    let patch: Vec<&Value> = patch
        .iter()
        .filter(|item| item.get("$patch").and_then(Value::as_str) != Some("replace"))
        .collect();

    let Some(key) = strategy.merge_key() else {
        // A merged set of scalars: keep the original order, append new ones.
        let mut out = orig.clone();
        for item in patch {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Ok(out);
    };

    let mut out = orig.clone();
    for item in patch {
        let Value::Object(p) = item else {
            return Err(PatchError::BadRequest(format!(
                "{}: list items must be objects with merge key {key:?}, found {item}",
                dotted(path)
            )));
        };
        let Some(id) = p.get(key) else {
            return Err(PatchError::BadRequest(format!(
                "map: {item} does not contain declared merge key: {key}"
            )));
        };
        let pos = out.iter().position(|o| o.get(key) == Some(id));
        if p.get("$patch").and_then(Value::as_str) == Some("delete") {
            out.retain(|o| o.get(key) != Some(id));
            continue;
        }
        let empty = Map::new();
        let base = match pos.map(|i| &out[i]) {
            Some(Value::Object(o)) => o,
            _ => &empty,
        };
        let merged = merge_map(kind, path, base, p)?;
        match (pos, merged) {
            (Some(i), Some(m)) => out[i] = Value::Object(m),
            (Some(i), None) => {
                out.remove(i);
            }
            (None, Some(m)) => out.push(Value::Object(m)),
            (None, None) => {}
        }
    }
    Ok(out)
}

/// `$setElementOrder`: the items the order names take the order's sequence,
/// filling the slots such items occupy; items only the server has keep
/// their place.
fn reorder(items: &mut [Value], order: &[Value], merge_key: Option<&str>) {
    let rank = |item: &Value| -> Option<usize> {
        order.iter().position(|o| match merge_key {
            Some(k) => o.get(k).is_some() && o.get(k) == item.get(k),
            None => o == item,
        })
    };
    let slots: Vec<usize> = (0..items.len())
        .filter(|&i| rank(&items[i]).is_some())
        .collect();
    let mut ranked: Vec<Value> = slots.iter().map(|&i| items[i].clone()).collect();
    ranked.sort_by_key(|v| rank(v).unwrap_or(usize::MAX));
    for (slot, value) in slots.into_iter().zip(ranked) {
        items[slot] = value;
    }
}

fn without_directive(patch: &Map<String, Value>) -> Map<String, Value> {
    patch
        .iter()
        .filter(|(k, _)| k.as_str() != "$patch")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn bad_directive(path: &[String], key: &str, expected: &str) -> PatchError {
    PatchError::BadRequest(format!("{key} in {} must be {expected}", dotted(path)))
}

fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        ".".into()
    } else {
        path.iter().map(|p| format!(".{p}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "web", "tier": "fe"}, "finalizers": ["a"]},
            "spec": {
                "containers": [
                    {"name": "app", "image": "app:1",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80}],
                     "args": ["--x"]},
                    {"name": "sidecar", "image": "side:1"}
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"key": "k1", "operator": "Exists"}]
            }
        })
    }

    fn smp(p: Value) -> Result<Value, PatchError> {
        patch("Pod", &pod(), &p)
    }

    #[test]
    fn containers_merge_by_name_and_keep_unpatched_items() {
        let out =
            smp(json!({"spec": {"containers": [{"name": "app", "image": "app:2"}]}})).unwrap();
        let c = &out["spec"]["containers"];
        assert_eq!(c.as_array().unwrap().len(), 2);
        assert_eq!(c[0]["image"], "app:2");
        assert_eq!(c[0]["env"][1]["value"], "2", "nested fields survive");
        assert_eq!(c[1]["name"], "sidecar");
    }

    #[test]
    fn new_items_are_appended_and_nested_lists_merge_too() {
        let out = smp(json!({"spec": {"containers": [
            {"name": "app", "env": [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}]},
            {"name": "third", "image": "t:1"}
        ]}}))
        .unwrap();
        let c = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[2]["name"], "third");
        assert_eq!(
            c[0]["env"],
            json!([{"name": "A", "value": "9"}, {"name": "B", "value": "2"}, {"name": "C", "value": "3"}])
        );
    }

    #[test]
    fn atomic_lists_are_replaced() {
        let out = smp(
            json!({"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}],
            "containers": [{"name": "app", "args": ["--y"]}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "k2", "operator": "Exists"}])
        );
        assert_eq!(out["spec"]["containers"][0]["args"], json!(["--y"]));
    }

    #[test]
    fn null_deletes_a_field() {
        let out = smp(json!({"metadata": {"labels": {"tier": null}}})).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    }

    #[test]
    fn patch_delete_removes_a_list_item() {
        let out = smp(json!({"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}))
            .unwrap();
        let names: Vec<_> = out["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("app")]);
    }

    #[test]
    fn patch_replace_replaces_a_map_and_a_list() {
        let out =
            smp(json!({"metadata": {"labels": {"only": "this", "$patch": "replace"}}})).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"only": "this"}));
        let out = smp(
            json!({"spec": {"volumes": [{"$patch": "replace"}, {"name": "new", "emptyDir": {}}]}}),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["volumes"],
            json!([{"name": "new", "emptyDir": {}}])
        );
    }

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let out = smp(json!({"metadata": {"finalizers": ["b", "a"]}})).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        let out = smp(json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!([]));
    }

    #[test]
    fn retain_keys_drops_unlisted_fields() {
        let out = smp(json!({"spec": {"volumes": [
            {"name": "data", "hostPath": {"path": "/x"}, "$retainKeys": ["name", "hostPath"]}
        ]}}))
        .unwrap();
        assert_eq!(
            out["spec"]["volumes"],
            json!([{"name": "data", "hostPath": {"path": "/x"}}])
        );
    }

    #[test]
    fn set_element_order_reorders_merged_items() {
        let out = smp(json!({"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "app", "image": "app:3"}]
        }}))
        .unwrap();
        assert_eq!(out["spec"]["containers"][0]["name"], "sidecar");
        assert_eq!(out["spec"]["containers"][1]["image"], "app:3");
    }

    #[test]
    fn missing_merge_key_and_unknown_directive_are_bad_requests() {
        let err = smp(json!({"spec": {"containers": [{"image": "x"}]}})).unwrap_err();
        assert!(
            matches!(err, PatchError::BadRequest(ref m) if m.contains("merge key: name")),
            "{err}"
        );
        let err = smp(json!({"spec": {"$patch": "explode"}})).unwrap_err();
        assert!(
            matches!(err, PatchError::BadRequest(ref m) if m.contains("Unknown patch type")),
            "{err}"
        );
    }
}
