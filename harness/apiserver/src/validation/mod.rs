//! Validation of what clients write, answering 422 Invalid with one cause
//! per field like kube-apiserver does: object metadata (names, labels) here,
//! kinds in their own modules.

pub(crate) mod apiservices;
pub(crate) mod certificates;
pub(crate) mod go_values;
pub(crate) mod pod_resize;
pub(crate) mod pods;
pub(crate) mod workloads;

use serde_json::Value;

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::store::meta;
use crate::store::ops::target;

/// apimachinery's `IsDNS1123Label` message (`RegexError`, with its double
/// space).
pub(crate) const DNS_LABEL_ERROR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// apimachinery's `IsDNS1123Subdomain` message.
pub(crate) const DNS_SUBDOMAIN_ERROR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_label_segment(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 label: what namespace and service names must be.
pub(crate) fn is_dns_label(s: &str) -> bool {
    is_label_segment(s, 63)
}

/// RFC 1123 subdomain: what most object names must be.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|p| is_label_segment(p, 253))
}

fn is_label_value(s: &str) -> bool {
    s.len() <= 63
        && (s.is_empty()
            || (s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && s.as_bytes()[0].is_ascii_alphanumeric()
                && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()))
}

/// A qualified name: `[prefix/]name`, the form of label and annotation keys.
pub(crate) fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if prefix.is_some_and(|p| !is_dns_subdomain(p)) {
        return false;
    }
    !name.is_empty() && is_label_value(name)
}

pub(crate) fn validate_meta(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let name = meta::name(obj);
    let mut causes: Vec<(String, String)> = Vec::new();
    let label_names =
        info.group.is_empty() && matches!(info.plural.as_str(), "namespaces" | "services");
    // RBAC names are path segments (`ValidateRBACName` is
    // `path.IsValidPathSegmentName`): `system:basic-user` is a valid name.
    // A CSR's name is not validated (`ValidateCertificateRequestName`), so
    // only the store's path-segment rule applies; an APIService's must also
    // spell `version.group`, which its own checks see to.
    let path_segment_names = !info.custom
        && (info.group == "rbac.authorization.k8s.io"
            && matches!(
                info.plural.as_str(),
                "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
            )
            || info.group == "certificates.k8s.io" && info.plural == "certificatesigningrequests"
            || info.group == "apiregistration.k8s.io" && info.plural == "apiservices");
    if path_segment_names {
        if name == "." || name == ".." {
            causes.push((
                "metadata.name".into(),
                format!("Invalid value: {name:?}: may not be '{name}'"),
            ));
        } else {
            for illegal in ["/", "%"] {
                if name.contains(illegal) {
                    causes.push((
                        "metadata.name".into(),
                        format!("Invalid value: {name:?}: may not contain '{illegal}'"),
                    ));
                }
            }
        }
    } else if label_names {
        if !is_dns_label(name) {
            causes.push((
                "metadata.name".into(),
                format!("Invalid value: {name:?}: {DNS_LABEL_ERROR}"),
            ));
        }
    } else if !is_dns_subdomain(name) {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: {DNS_SUBDOMAIN_ERROR}"),
        ));
    }
    match meta::metadata(obj).and_then(|m| m.get("labels")) {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (k, v) in labels {
                if !is_qualified_name(k) {
                    causes.push((
                        "metadata.labels".into(),
                        format!("Invalid value: {k:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                    ));
                }
                match v.as_str() {
                    Some(v) if is_label_value(v) => {}
                    _ => causes.push((
                        "metadata.labels".into(),
                        format!("Invalid value: {v}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
                    )),
                }
            }
        }
        Some(_) => causes.push((
            "metadata.labels".into(),
            "Invalid value: must be a map of strings".into(),
        )),
    }
    if let Some(a) = meta::metadata(obj).and_then(|m| m.get("annotations")) {
        let ok = a.is_null()
            || a.as_object()
                .is_some_and(|m| m.values().all(Value::is_string));
        if !ok {
            causes.push((
                "metadata.annotations".into(),
                "Invalid value: must be a map of strings".into(),
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&info.kind, target(info, name), &causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_rfc1123() {
        assert!(is_dns_subdomain("web-0.example"));
        assert!(!is_dns_subdomain("Web"));
        assert!(!is_dns_subdomain("-web"));
        assert!(!is_dns_subdomain(""));
        assert!(is_dns_label("kube-system"));
        assert!(!is_dns_label("a.b"));
    }

    #[test]
    fn label_keys_may_carry_a_prefix() {
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(is_qualified_name("app"));
        assert!(!is_qualified_name("bad key"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(is_label_value(""));
        assert!(!is_label_value("-x"));
    }
}
