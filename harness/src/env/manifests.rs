//! Applying YAML the way a user would with `kubectl apply -f`: multi-document
//! files, any kind the server knows (found through discovery), namespaced
//! objects defaulted to the test's namespace.

use std::path::Path;
use std::time::Duration;

use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use serde_json::Value;

use super::error::EnvError;

/// Parse every non-empty document of a YAML stream. `source` names the input in errors.
pub fn parse_documents(source: &str, text: &str) -> Result<Vec<Value>, EnvError> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).map_err(|e| {
            EnvError::Manifest {
                source_name: format!("{source} (document {})", i + 1),
                message: e.to_string(),
            }
        })?;
        if value.is_null() {
            continue;
        }
        let json: Value = serde_json::to_value(value).map_err(|e| EnvError::Manifest {
            source_name: format!("{source} (document {})", i + 1),
            message: e.to_string(),
        })?;
        // A `kind: List` is flattened, as kubectl does.
        if json.get("kind").and_then(Value::as_str) == Some("List") {
            out.extend(json["items"].as_array().cloned().unwrap_or_default());
            continue;
        }
        for field in ["apiVersion", "kind"] {
            if json
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(EnvError::Manifest {
                    source_name: format!("{source} (document {})", i + 1),
                    message: format!("missing `{field}`"),
                });
            }
        }
        out.push(json);
    }
    Ok(out)
}

/// The YAML files of a folder (`.yaml`, `.yml`, `.json`), sorted by name.
pub fn read_folder(dir: &Path) -> Result<Vec<(String, String)>, EnvError> {
    let err = |message: String| EnvError::Manifest {
        source_name: dir.display().to_string(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot read folder: {e}")))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            std::fs::read_to_string(&p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|e| err(format!("cannot read {}: {e}", p.display())))
        })
        .collect()
}

fn gvk_of(obj: &Value) -> GroupVersionKind {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, obj["kind"].as_str().unwrap_or_default())
}

/// Create the object, or replace it if it exists (last writer wins: a PUT,
/// not `kubectl apply`'s three-way merge). Returns the stored object.
pub async fn apply_value(
    client: &Client,
    ns: &str,
    mut obj: Value,
) -> Result<DynamicObject, EnvError> {
    let gvk = gvk_of(&obj);
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let what = format!("apply {}/{name}", gvk.kind);
    let (ar, caps) = discovery::pinned_kind(client, &gvk)
        .await
        .map_err(EnvError::api(format!(
            "{what}: discover {}/{}",
            gvk.api_version(),
            gvk.kind
        )))?;
    let api: Api<DynamicObject> = if caps.scope == Scope::Namespaced {
        let target_ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(ns)
            .to_owned();
        obj["metadata"]["namespace"] = Value::String(target_ns.clone());
        Api::namespaced_with(client.clone(), &target_ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    let mut dynamic: DynamicObject =
        serde_json::from_value(obj).map_err(|e| EnvError::Manifest {
            source_name: what.clone(),
            message: e.to_string(),
        })?;
    match api.create(&PostParams::default(), &dynamic).await {
        Ok(o) => Ok(o),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let current = api.get(&name).await.map_err(EnvError::api(what.clone()))?;
            dynamic.metadata.resource_version = current.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &dynamic)
                .await
                .map_err(EnvError::api(what))
        }
        Err(e) => Err(EnvError::api(what)(e)),
    }
}

/// Wait until every named CRD reports `Established=True` (real clusters),
/// with kube-runtime's `await_condition` (a watch, not a polling loop).
pub async fn wait_established(client: &Client, names: &[String]) -> Result<(), EnvError> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::wait::{await_condition, conditions};
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let established = await_condition(api.clone(), name, conditions::is_crd_established());
        match tokio::time::timeout(Duration::from_secs(60), established).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(EnvError::Manifest {
                    source_name: format!("CRD {name}"),
                    message: format!("watching for Established failed: {e}"),
                });
            }
            Err(_) => {
                return Err(EnvError::Manifest {
                    source_name: format!("CRD {name}"),
                    message: "not Established after 60s".into(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_is_split_and_lists_flattened() {
        let docs = parse_documents(
            "m.yaml",
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n",
        )
        .unwrap();
        let kinds: Vec<_> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ConfigMap", "Secret"]);
    }

    #[test]
    fn bad_documents_are_named() {
        let e = parse_documents(
            "m.yaml",
            "apiVersion: v1\nkind: ConfigMap\n---\nkind: Pod\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "manifest m.yaml (document 2): missing `apiVersion`"
        );
        let e = parse_documents("m.yaml", "a: [").unwrap_err();
        assert!(
            e.to_string().starts_with("manifest m.yaml (document 1):"),
            "{e}"
        );
    }

    #[test]
    fn folders_are_read_in_name_order_and_missing_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "b").unwrap();
        std::fs::write(dir.path().join("a.yml"), "a").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let files = read_folder(dir.path()).unwrap();
        let texts: Vec<_> = files.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
        let e = read_folder(&dir.path().join("nope")).unwrap_err();
        assert!(e.to_string().contains("cannot read folder"), "{e}");
    }
}
