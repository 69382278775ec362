//! JSON bodies of built-in kinds as Go's decoding leaves them: fields the
//! type does not have are dropped (and named, for `fieldValidation=Strict`),
//! and so are the empty values `omitempty` leaves out of the JSON
//! kube-apiserver writes back, so `labels: {}` or `args: []` is not a
//! phantom difference in `kubectl diff`.

use super::{Field, Schema, Type, is_opaque, is_zero};
use serde_json::Value;

/// One step of a path into an object: a struct field, a list index or a
/// map key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Field(String),
    Index(usize),
    Key(String),
}

/// A path as sigs.k8s.io/json's strict errors write it:
/// `spec.template.spec.containers[0].foo`.
pub(crate) fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(f) if out.is_empty() => out.push_str(f),
            Seg::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
            Seg::Key(k) => out.push_str(&format!("[{k}]")),
        }
    }
    out
}

/// Prunes `obj`, an `api_version` `kind`, in place; returns the paths of the
/// unknown fields dropped. Kinds not in the table are left alone.
pub(crate) fn prune(api_version: &str, kind: &str, obj: &mut Value) -> Vec<Vec<Seg>> {
    let schema = Schema::get();
    let mut unknown = Vec::new();
    if let Some(name) = schema.kind(api_version, kind) {
        walk(schema, &name, obj, &[], &mut unknown, 0);
    }
    unknown
}

fn walk(
    schema: &Schema,
    name: &str,
    v: &mut Value,
    path: &[Seg],
    unknown: &mut Vec<Vec<Seg>>,
    depth: usize,
) {
    if depth > 128 || is_opaque(name) {
        return;
    }
    let Some(message) = schema.message(name) else {
        return;
    };
    let Value::Object(map) = v else {
        // A wrong type is the validation's to refuse, not pruning's.
        return;
    };
    if message.list {
        return;
    }
    map.retain(|key, child| {
        let here = [path, &[Seg::Field(key.clone())]].concat();
        let Some(field) = message.by_json.get(key.as_str()) else {
            // TypeMeta is inlined without a protobuf tag, so the table does
            // not list it.
            if key == "apiVersion" || key == "kind" {
                return true;
            }
            unknown.push(here);
            return false;
        };
        if let Type::Message(inner) = field.ty {
            match child {
                Value::Object(entries) if field.map_key.is_some() => {
                    for (k, x) in entries.iter_mut() {
                        let at = [&here[..], &[Seg::Key(k.clone())]].concat();
                        walk(schema, inner, x, &at, unknown, depth + 1);
                    }
                }
                Value::Array(items) if field.repeated => {
                    for (i, x) in items.iter_mut().enumerate() {
                        let at = [&here[..], &[Seg::Index(i)]].concat();
                        walk(schema, inner, x, &at, unknown, depth + 1);
                    }
                }
                _ if field.repeated || field.map_key.is_some() => {}
                _ => walk(schema, inner, child, &here, unknown, depth + 1),
            }
        }
        !left_out(field, child)
    });
}

/// What Go's JSON encoding leaves out for an `omitempty` field: nil
/// pointers, slices and maps, empty slices and maps, and zero scalars that
/// are not behind a pointer. A struct is never left out, even empty.
fn left_out(field: &Field, v: &Value) -> bool {
    if !field.omitempty {
        return false;
    }
    let collection = field.repeated || field.map_key.is_some();
    let scalar = matches!(field.ty, Type::Scalar(_));
    match v {
        Value::Null => field.pointer || collection || scalar,
        Value::Array(a) => collection && a.is_empty(),
        Value::Object(m) => field.map_key.is_some() && m.is_empty(),
        other => scalar && !collection && !field.pointer && is_zero(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_dropped_and_named_with_their_path() {
        let mut deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {}, "bogus": 1},
            "spec": {
                "replicas": 0,
                "paused": false,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {
                    "containers": [{"name": "app", "image": "x", "args": [], "colour": "red"}],
                    "volumes": [{"name": "v", "emptyDir": {}, "sizeLimit": "1Gi"}]
                }},
                "strategy": {}
            },
            "extra": true
        });
        let unknown: Vec<String> = prune("apps/v1", "Deployment", &mut deploy)
            .iter()
            .map(|p| dotted(p))
            .collect();
        assert_eq!(
            unknown,
            [
                "metadata.bogus",
                "spec.template.spec.containers[0].colour",
                "spec.template.spec.volumes[0].sizeLimit",
                "extra"
            ]
        );
        assert_eq!(
            deploy,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {"spec": {
                        "containers": [{"name": "app", "image": "x"}],
                        "volumes": [{"name": "v", "emptyDir": {}}]
                    }},
                    "strategy": {}
                }
            }),
            "replicas is a pointer, so its zero stays; paused, labels and args are omitempty"
        );
    }

    #[test]
    fn opaque_values_and_unknown_kinds_are_left_alone() {
        let mut svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 0}]},
                             "metadata": {"creationTimestamp": null}});
        assert!(prune("v1", "Service", &mut svc).is_empty());
        assert_eq!(
            svc["spec"]["ports"][0]["targetPort"], 0,
            "IntOrString is a struct"
        );
        assert_eq!(
            svc["metadata"]["creationTimestamp"],
            Value::Null,
            "Time is a struct"
        );
        let mut widget = json!({"anything": {}});
        assert!(prune("example.com/v1", "Widget", &mut widget).is_empty());
        assert_eq!(widget, json!({"anything": {}}));
    }
}
