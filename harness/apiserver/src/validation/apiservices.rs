//! apiregistration.k8s.io/v1 APIServices: `ValidateAPIService` and
//! `ValidateAPIServiceStatus` (kube-aggregator's
//! pkg/apis/apiregistration/validation/validation.go, v1.33). The name is a
//! path segment (checked with the other metadata) that must spell
//! `version.group`, since the aggregator routes by it.

use serde_json::Value;

use super::{DNS_SUBDOMAIN_ERROR, is_label_segment};
use crate::store::meta;
use crate::store::ops::Part;

/// apimachinery's `IsDNS1035Label` message.
const DNS_1035_ERROR: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn dns_1035_causes(v: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    if v.len() > 63 {
        out.push("must be no more than 63 characters");
    }
    let b = v.as_bytes();
    let ok = b.first().is_some_and(u8::is_ascii_lowercase)
        && b.last()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !ok {
        out.push(DNS_1035_ERROR);
    }
    out
}

/// The causes of a write; a status write checks only the conditions.
pub(crate) fn causes(obj: &Value, part: Part) -> Vec<(String, String)> {
    if part == Part::Status {
        return status_causes(obj);
    }
    let text = |ptr: &str| obj.pointer(ptr).and_then(Value::as_str).unwrap_or_default();
    let int = |ptr: &str| obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0);
    let (group, version) = (text("/spec/group"), text("/spec/version"));
    let mut out = Vec::new();
    let required = format!("{version}.{group}");
    let name = meta::name(obj);
    if name != required && !name.is_empty() {
        out.push((
            "metadata.name".into(),
            format!(
                "Invalid value: {name:?}: must be `spec.version+\".\"+spec.group`: {required:?}"
            ),
        ));
    }
    if group.is_empty() && version != "v1" {
        out.push((
            "spec.group".into(),
            "Required value: only v1 may have an empty group and it better be legacy kube".into(),
        ));
    }
    if !group.is_empty() {
        if group.len() > 253 {
            out.push((
                "spec.group".into(),
                format!("Invalid value: {group:?}: must be no more than 253 characters"),
            ));
        }
        // The regular expression alone, length aside.
        if !group.split('.').all(|p| is_label_segment(p, usize::MAX)) {
            out.push((
                "spec.group".into(),
                format!("Invalid value: {group:?}: {DNS_SUBDOMAIN_ERROR}"),
            ));
        }
    }
    for message in dns_1035_causes(version) {
        out.push((
            "spec.version".into(),
            format!("Invalid value: {version:?}: {message}"),
        ));
    }
    let group_priority = int("/spec/groupPriorityMinimum");
    if !(1..=20000).contains(&group_priority) {
        out.push((
            "spec.groupPriorityMinimum".into(),
            format!("Invalid value: {group_priority}: must be positive and less than 20000"),
        ));
    }
    let version_priority = int("/spec/versionPriority");
    if !(1..=1000).contains(&version_priority) {
        out.push((
            "spec.versionPriority".into(),
            format!("Invalid value: {version_priority}: must be positive and less than 1000"),
        ));
    }
    // caBundle is base64 on the wire; its byte count is what Go reports.
    let ca_bytes = {
        use base64::Engine;
        let b64 = text("/spec/caBundle");
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(|b| b.len())
            .unwrap_or(b64.len())
    };
    let insecure = obj
        .pointer("/spec/insecureSkipTLSVerify")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match obj.pointer("/spec/service").filter(|s| !s.is_null()) {
        None => {
            if ca_bytes != 0 {
                out.push((
                    "spec.caBundle".into(),
                    format!(
                        "Invalid value: \"{ca_bytes} bytes\": local APIServices may not have a caBundle"
                    ),
                ));
            }
            if insecure {
                out.push((
                    "spec.insecureSkipTLSVerify".into(),
                    "Invalid value: true: local APIServices may not have insecureSkipTLSVerify"
                        .into(),
                ));
            }
        }
        Some(service) => {
            for field in ["namespace", "name"] {
                if service
                    .get(field)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    out.push((format!("spec.service.{field}"), "Required value".into()));
                }
            }
            if let Some(port) = service.get("port").and_then(Value::as_i64)
                && !(1..=65535).contains(&port)
            {
                out.push((
                    "spec.service.port".into(),
                    format!(
                        "Invalid value: {port}: port is not valid: must be between 1 and 65535, inclusive"
                    ),
                ));
            }
            if insecure && ca_bytes > 0 {
                out.push((
                    "spec.insecureSkipTLSVerify".into(),
                    "Invalid value: true: may not be true if caBundle is present".into(),
                ));
            }
        }
    }
    out
}

fn status_causes(obj: &Value) -> Vec<(String, String)> {
    let conditions = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let status = c.get("status").and_then(Value::as_str).unwrap_or_default();
            (!matches!(status, "True" | "False" | "Unknown")).then(|| {
                (
                    format!("status.conditions[{i}].status"),
                    format!(
                        "Unsupported value: {status:?}: supported values: \"True\", \"False\", \"Unknown\""
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_dns_1035_labels() {
        assert!(dns_1035_causes("v1beta1").is_empty());
        assert_eq!(dns_1035_causes("1v"), [DNS_1035_ERROR]);
        assert_eq!(dns_1035_causes("v1-"), [DNS_1035_ERROR]);
        assert_eq!(dns_1035_causes("V1"), [DNS_1035_ERROR]);
        assert_eq!(dns_1035_causes(""), [DNS_1035_ERROR]);
    }
}
