//! Reading CRD manifests from a directory, as users keep them in
//! `manifests/` (multi-document YAML, possibly mixed with other kinds).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;

fn manifest_err(path: &Path, message: impl Into<String>) -> Error {
    Error::CrdManifest {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Every CustomResourceDefinition document in `dir` (not recursive),
/// files in name order; other kinds are skipped.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<(String, Value)>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| manifest_err(dir, e.to_string()))?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|e| manifest_err(&path, e.to_string()))?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc)
                .map_err(|e| manifest_err(&path, format!("invalid YAML: {e}")))?;
            if value.is_null() {
                continue;
            }
            if value.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                out.push((path.display().to_string(), value));
            }
        }
    }
    Ok(out)
}
