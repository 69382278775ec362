//! rbac.authorization.k8s.io/v1 defaults (`pkg/apis/rbac/v1/defaults.go`).

use serde_json::Value;

use super::{at, fill_zero, items};

const GROUP: &str = "rbac.authorization.k8s.io";

/// `SetDefaults_RoleBinding`, `SetDefaults_ClusterRoleBinding` and
/// `SetDefaults_Subject`: users and groups are RBAC's (a service account's
/// group is the core one, `""`, which JSON leaves out).
pub(super) fn binding(obj: &mut Value) {
    if let Some(role_ref) = at(obj, "/roleRef") {
        fill_zero(role_ref, "apiGroup", GROUP);
    }
    for subject in items(obj, "subjects") {
        if matches!(
            subject.get("kind").and_then(Value::as_str),
            Some("User" | "Group")
        ) {
            fill_zero(subject, "apiGroup", GROUP);
        }
    }
}
