//! Golden snapshots of whole Kubernetes objects through `insta`.
//!
//! The API server fills fields no test controls (uid, resourceVersion,
//! creation and transition timestamps, managedFields); left in, every run
//! would rewrite the snapshot. The preset replaces them with stable
//! placeholders while keeping the fields' presence visible.

/// Selector → placeholder pairs the preset applies (insta selector syntax;
/// `.**` matches at any depth, so lists of objects are covered too).
pub const K8S_REDACTIONS: &[(&str, &str)] = &[
    (".**.metadata.uid", "[uid]"),
    (".**.metadata.resourceVersion", "[resourceVersion]"),
    (".**.metadata.creationTimestamp", "[creationTimestamp]"),
    (".**.metadata.deletionTimestamp", "[deletionTimestamp]"),
    (".**.metadata.managedFields", "[managedFields]"),
    (".**.metadata.selfLink", "[selfLink]"),
    (".**.ownerReferences[].uid", "[uid]"),
    (
        ".**.conditions[].lastTransitionTime",
        "[lastTransitionTime]",
    ),
    (".**.conditions[].lastHeartbeatTime", "[lastHeartbeatTime]"),
    (".**.conditions[].lastUpdateTime", "[lastUpdateTime]"),
    (".**.conditions[].lastProbeTime", "[lastProbeTime]"),
];

/// Adds the Kubernetes redactions to `settings`.
pub fn redact_k8s(settings: &mut insta::Settings) {
    for (selector, placeholder) in K8S_REDACTIONS {
        settings.add_redaction(selector, *placeholder);
    }
}

/// `assert_k8s_snapshot!(obj)` / `assert_k8s_snapshot!("name", obj)`: a YAML
/// golden snapshot of a Kubernetes object (or list) with volatile metadata
/// redacted. Review and accept new snapshots with `cargo insta review`.
#[macro_export]
macro_rules! assert_k8s_snapshot {
    ($($arg:expr),+ $(,)?) => {{
        let mut settings = $crate::snapshot::__insta::Settings::clone_current();
        $crate::snapshot::redact_k8s(&mut settings);
        settings.bind(|| {
            $crate::snapshot::__insta::assert_yaml_snapshot!($($arg),+);
        });
    }};
}

#[doc(hidden)]
pub use insta as __insta;

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn volatile_metadata_is_redacted() {
        let cm = json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [{
                "apiVersion": "sei.io/v1",
                "kind": "NodeDeployment",
                "metadata": {
                    "name": "seid",
                    "namespace": "stuck-rollout-7f3k",
                    "uid": "3f1c2a8e-0000-4000-8000-000000000001",
                    "resourceVersion": "4711",
                    "generation": 2,
                    "creationTimestamp": "2026-11-23T10:00:00Z",
                    "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                    "ownerReferences": [{"kind": "Thing", "name": "t", "uid": "abc"}],
                },
                "spec": {"image": "sei:v2", "replicas": 3},
                "status": {
                    "phase": "Upgrading",
                    "conditions": [
                        {"type": "RolloutInProgress", "status": "True", "lastTransitionTime": "2026-11-23T10:00:01Z"},
                    ],
                },
            }],
        });
        crate::assert_k8s_snapshot!(cm);
    }
}
