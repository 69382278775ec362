//! storage.k8s.io/v1 defaults (`pkg/apis/storage/v1/defaults.go`).

use serde_json::{Value, json};

use super::{fill, object};

/// `SetDefaults_StorageClass`.
pub(super) fn storage_class(obj: &mut Value) {
    fill(obj, "reclaimPolicy", "Delete");
    fill(obj, "volumeBindingMode", "Immediate");
}

/// `SetDefaults_CSIDriver`.
pub(super) fn csi_driver(obj: &mut Value) {
    let Some(spec) = object(obj, "spec") else {
        return;
    };
    fill(spec, "attachRequired", true);
    fill(spec, "podInfoOnMount", false);
    fill(spec, "storageCapacity", false);
    fill(spec, "fsGroupPolicy", "ReadWriteOnceWithFSType");
    let no_modes = spec
        .get("volumeLifecycleModes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_modes {
        spec["volumeLifecycleModes"] = json!(["Persistent"]);
    }
    fill(spec, "requiresRepublish", false);
    fill(spec, "seLinuxMount", false);
}
