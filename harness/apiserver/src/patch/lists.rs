//! How lists and maps of the built-in kinds merge, by field name and path.
//!
//! kube-apiserver reads this from Go struct tags (`patchStrategy`,
//! `patchMergeKey`, `listType`, `listMapKey`); we have no Go types, so this
//! table names the fields users actually patch. A list that is not listed is
//! atomic: a patch or an apply replaces it whole, as upstream does for lists
//! without a strategy (tolerations, args, command, volumeClaimTemplates, …).

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced whole.
    Atomic,
    /// Scalars merged as a set (`finalizers`).
    Set,
    /// Objects merged by the values of these fields. For strategic merge
    /// only the first is the `patchMergeKey`; server-side apply keys by all.
    Map(&'static [&'static str]),
}

impl ListKind {
    /// The strategic merge patch key (`patchMergeKey`), if the list merges.
    pub fn merge_key(self) -> Option<&'static str> {
        match self {
            ListKind::Map(keys) => keys.first().copied(),
            _ => None,
        }
    }
}

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

/// The merge strategy of the list at `path` (field names from the object
/// root, no indices) in an object of `kind`. Custom resources have no struct
/// tags, so only the metadata lists every object shares merge for them.
pub fn list_kind(kind: &str, path: &[String], is_custom: bool) -> ListKind {
    let Some(field) = path.last().map(String::as_str) else {
        return ListKind::Atomic;
    };
    let parent = path
        .len()
        .checked_sub(2)
        .and_then(|i| path.get(i))
        .map(String::as_str);
    let under_metadata = parent == Some("metadata");
    match field {
        "finalizers" if under_metadata => return ListKind::Set,
        "ownerReferences" if under_metadata => return ListKind::Map(&["uid"]),
        _ => {}
    }
    if is_custom {
        return ListKind::Atomic;
    }
    match field {
        f if CONTAINER_LISTS.contains(&f) => ListKind::Map(&["name"]),
        "ports" if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => {
            ListKind::Map(&["containerPort", "protocol"])
        }
        "ports" if kind == "Service" && path.len() == 2 => ListKind::Map(&["port", "protocol"]),
        "volumes" | "env" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => {
            ListKind::Map(&["name"])
        }
        "secrets" if kind == "ServiceAccount" => ListKind::Map(&["name"]),
        "volumeMounts" => ListKind::Map(&["mountPath"]),
        "volumeDevices" => ListKind::Map(&["devicePath"]),
        "resizePolicy" => ListKind::Map(&["resourceName"]),
        "hostAliases" | "podIPs" | "hostIPs" => ListKind::Map(&["ip"]),
        "topologySpreadConstraints" => ListKind::Map(&["topologyKey", "whenUnsatisfiable"]),
        "conditions" => ListKind::Map(&["type"]),
        "addresses" if kind == "Node" => ListKind::Map(&["type"]),
        _ => ListKind::Atomic,
    }
}

/// The default of a list-map key field an item may omit. Server-side
/// apply keys such an item by the default, so `{containerPort: 8080}` in an
/// apply configuration is the live `{containerPort: 8080, protocol: TCP}`,
/// not a second port (kubernetes#98576 gave `protocol` its OpenAPI default
/// for this; structured-merge-diff's `keyedAssociativeListItemToPathElement`
/// reads it). `protocol` is a key only in the port lists above, where it
/// defaults to TCP (`SetDefaults_ContainerPort`, `SetDefaults_ServicePort`
/// in pkg/apis/core/v1/defaults.go).
pub fn key_default(field: &str) -> Option<&'static str> {
    (field == "protocol").then_some("TCP")
}

/// Whether the object at `path` is a free-form map (`map[string]T` in Go,
/// such as labels) rather than a struct with named fields. Server-side apply
/// records ownership of such a map itself (the `.` entry in `fieldsV1`), not
/// only of its keys.
pub fn is_granular_map(kind: &str, path: &[String]) -> bool {
    let Some(field) = path.last().map(String::as_str) else {
        return false;
    };
    match field {
        "labels" | "annotations" | "matchLabels" | "nodeSelector" | "limits" | "requests"
        | "capacity" | "allocatable" => true,
        "data" | "binaryData" | "stringData" => path.len() == 1,
        "parameters" => kind == "StorageClass" && path.len() == 1,
        "selector" => matches!(kind, "Service" | "ReplicationController") && path.len() == 2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn containers_and_their_lists_merge_by_upstream_keys() {
        let k = |s| list_kind("Deployment", &p(s), false);
        assert_eq!(k("spec.template.spec.containers"), ListKind::Map(&["name"]));
        assert_eq!(
            k("spec.template.spec.containers.ports"),
            ListKind::Map(&["containerPort", "protocol"])
        );
        assert_eq!(
            k("spec.template.spec.containers.volumeMounts").merge_key(),
            Some("mountPath")
        );
        assert_eq!(k("spec.template.spec.tolerations"), ListKind::Atomic);
        assert_eq!(k("spec.template.spec.containers.args"), ListKind::Atomic);
        assert_eq!(k("metadata.finalizers"), ListKind::Set);
    }

    #[test]
    fn custom_resources_only_merge_metadata_lists() {
        assert_eq!(
            list_kind("Widget", &p("spec.containers"), true),
            ListKind::Atomic
        );
        assert_eq!(
            list_kind("Widget", &p("metadata.ownerReferences"), true),
            ListKind::Map(&["uid"])
        );
    }

    #[test]
    fn service_ports_differ_from_container_ports() {
        assert_eq!(
            list_kind("Service", &p("spec.ports"), false).merge_key(),
            Some("port")
        );
        assert_eq!(
            list_kind("EndpointSlice", &p("ports"), false),
            ListKind::Atomic
        );
    }
}
