//! Pod specs, alone and as workload templates (`pkg/apis/core/validation`):
//! the checks a test's hand-written pod trips over.

use serde_json::Value;

/// `ValidatePodSpec`'s container checks, at `path` (`spec` of a pod,
/// `spec.template.spec` of a workload).
pub(crate) fn spec(path: &str, spec: Option<&Value>, causes: &mut Vec<(String, String)>) {
    match spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
    {
        Some(cs) if !cs.is_empty() => {
            for (i, c) in cs.iter().enumerate() {
                for field in ["name", "image"] {
                    if c.get(field)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        causes.push((
                            format!("{path}.containers[{i}].{field}"),
                            "Required value".to_string(),
                        ));
                    }
                }
            }
        }
        _ => causes.push((format!("{path}.containers"), "Required value".into())),
    }
}
