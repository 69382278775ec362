//! The component schemas an OpenAPI document publishes: built-in kinds from
//! `builtin.json`, custom kinds from their CRD's `openAPIV3Schema`, each
//! tagged with the `x-kubernetes-group-version-kind` kubectl looks a kind up
//! by (`kubectl explain`, client-side validation).
//!
//! `builtin.json` is what k8s-openapi's `JsonSchema` impls (the upstream
//! definition names and doc comments) give for the kinds the server serves,
//! in OpenAPI v2 form. It is data rather than a dependency because this
//! library must not enable a k8s-openapi version feature (the user's
//! application picks theirs); the crate's tests, which do pick v1_33,
//! regenerate it and fail when it differs (`tests/api/openapi.rs`).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::registry::ResourceInfo;

/// kube-openapi publishes two dialects: OpenAPI v2 keeps a `$ref`'s
/// sibling `description`; v3 names components elsewhere and wraps such a
/// reference in `allOf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    V2,
    V3,
}

const V2_PREFIX: &str = "#/definitions/";
const V3_PREFIX: &str = "#/components/schemas/";

#[derive(Deserialize)]
struct Builtin {
    kinds: Vec<Kind>,
    definitions: Map<String, Value>,
}

#[derive(Deserialize)]
struct Kind {
    group: String,
    version: String,
    kind: String,
    definition: String,
}

fn builtin() -> &'static Builtin {
    static DATA: OnceLock<Builtin> = OnceLock::new();
    DATA.get_or_init(|| {
        serde_json::from_str(include_str!("builtin.json")).expect("builtin.json is valid")
    })
}

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// A custom kind's definition name: `group/version/kind` with the group
/// reversed (`com.example.v1.Widget`), as apiextensions-apiserver's
/// `openapi/builder` names it through kube-openapi's `ToRESTFriendlyName`.
pub(crate) fn custom_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!([{"group": group, "kind": kind, "version": version}])
}

/// The definitions for these served (resource, version) pairs and every
/// definition they refer to, in the dialect's form.
pub(crate) fn definitions<'a>(
    dialect: Dialect,
    served: impl IntoIterator<Item = (&'a ResourceInfo, &'a str)>,
) -> Map<String, Value> {
    let data = builtin();
    let mut out = Map::new();
    let mut wanted = Vec::new();
    for (info, version) in served {
        if info.custom {
            let name = custom_name(&info.group, version, &info.kind);
            out.insert(name, custom_definition(info, version));
            wanted.push(OBJECT_META.to_string());
            continue;
        }
        let found = data
            .kinds
            .iter()
            .find(|k| k.group == info.group && k.version == version && k.kind == info.kind);
        if let Some(k) = found {
            wanted.push(k.definition.clone());
        }
    }
    // The closure over references, from the built-in definitions.
    let mut seen = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(def) = data.definitions.get(&name) {
            references(def, &mut wanted);
            out.insert(name, def.clone());
        }
    }
    if dialect == Dialect::V3 {
        for def in out.values_mut() {
            to_v3(def);
        }
    }
    out
}

fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(name) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(V2_PREFIX))
            {
                out.push(name.to_string());
            }
            m.values().for_each(|v| references(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// v2 to v3: references point at `components/schemas`, and a reference
/// with siblings moves into `allOf` (kube-openapi's v3 builder writes a
/// field of a struct type so).
fn to_v3(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(to_v3);
            if let Some(Value::String(r)) = m.get("$ref") {
                let name = r.strip_prefix(V2_PREFIX).unwrap_or(r);
                let reference = Value::String(format!("{V3_PREFIX}{name}"));
                if m.len() > 1 {
                    m.remove("$ref");
                    m.insert("allOf".into(), json!([{"$ref": reference}]));
                } else {
                    m.insert("$ref".into(), reference);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(to_v3),
        _ => {}
    }
}

/// A custom kind's schema as apiextensions-apiserver publishes it: the
/// version's `openAPIV3Schema` with `apiVersion`, `kind` and a `metadata`
/// that refers to `ObjectMeta`, described as every built-in kind's are.
fn custom_definition(info: &ResourceInfo, version: &str) -> Value {
    let mut def = match info.schema(version) {
        Some(Value::Object(s)) => s.clone(),
        _ => Map::from_iter([("type".to_string(), json!("object"))]),
    };
    let type_meta = builtin()
        .definitions
        .get("io.k8s.api.core.v1.Pod")
        .and_then(|pod| pod.get("properties"))
        .and_then(Value::as_object);
    if let (Value::Object(properties), Some(type_meta)) = (
        def.entry("properties").or_insert_with(|| json!({})),
        type_meta,
    ) {
        for field in ["apiVersion", "kind", "metadata"] {
            if let Some(s) = type_meta.get(field) {
                properties.insert(field.into(), s.clone());
            }
        }
    }
    def.insert(
        "x-kubernetes-group-version-kind".into(),
        gvk(&info.group, version, &info.kind),
    );
    Value::Object(def)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_kind_has_a_schema() {
        let data = builtin();
        for info in crate::registry::builtin_resources() {
            for v in &info.versions {
                let kind = data
                    .kinds
                    .iter()
                    .find(|k| k.group == info.group && &k.version == v && k.kind == info.kind)
                    .unwrap_or_else(|| panic!("no schema for {}/{v} {}", info.group, info.kind));
                assert_eq!(
                    data.definitions[&kind.definition]["x-kubernetes-group-version-kind"],
                    gvk(&info.group, v, &info.kind)
                );
            }
        }
    }

    #[test]
    fn custom_names_reverse_the_group() {
        assert_eq!(
            custom_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
    }

    #[test]
    fn v3_wraps_a_described_reference_in_all_of() {
        let mut v = json!({
            "properties": {
                "spec": {"$ref": "#/definitions/a.Spec", "description": "d"},
                "items": {"type": "array", "items": {"$ref": "#/definitions/a.Item"}},
            }
        });
        to_v3(&mut v);
        assert_eq!(
            v,
            json!({
                "properties": {
                    "spec": {"allOf": [{"$ref": "#/components/schemas/a.Spec"}], "description": "d"},
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/a.Item"}},
                }
            })
        );
    }
}
