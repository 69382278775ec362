//! Per-kind rules kube-apiserver applies on create and update: status reset
//! on create, the defaults clients read back, and the immutable fields users
//! trip over (StatefulSet spec, PVC spec).

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::store::ops::{Part, target};
use crate::store::{State, meta};

fn is(info: &ResourceInfo, group: &str, plural: &str) -> bool {
    info.group == group && info.plural == plural
}

fn default(obj: &mut Value, path: &str, value: Value) {
    if meta::path(obj, path).is_none_or(Value::is_null) {
        meta::set_path(obj, path, value);
    }
}

pub(crate) fn prepare_create(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
    strict: bool,
) -> Result<(), ApiError> {
    prune_builtin(info, version, obj, strict)?;
    if info.status && !is(info, "", "nodes") {
        // Create cannot set status where status has its own subresource.
        obj.as_object_mut().expect("object").remove("status");
    }
    crate::defaults::apply(&info.group, &info.plural, obj);
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => {
            validate_pod(info, obj)?;
            default_pod_spec(obj, "spec");
            let qos = pod_qos(obj);
            meta::set_path(obj, ".status", json!({"phase": "Pending", "qosClass": qos}));
        }
        ("", "namespaces") => {
            let name = meta::name(obj).to_string();
            meta::set_path(obj, ".spec.finalizers", json!(["kubernetes"]));
            meta::set_path(obj, ".status", json!({"phase": "Active"}));
            let labels = meta::metadata_mut(obj)
                .entry("labels")
                .or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.insert("kubernetes.io/metadata.name".into(), name.into());
            }
        }
        ("", "persistentvolumeclaims") => {
            default(obj, ".spec.volumeMode", "Filesystem".into());
            meta::set_path(obj, ".status", json!({"phase": "Pending"}));
        }
        ("", "persistentvolumes") => {
            default(obj, ".spec.persistentVolumeReclaimPolicy", "Retain".into());
            default(obj, ".spec.volumeMode", "Filesystem".into());
            meta::set_path(obj, ".status", json!({"phase": "Pending"}));
        }
        ("", "services") => crate::services::prepare_create(st, info, obj)?,
        ("apps", "statefulsets") => {
            default(obj, ".spec.replicas", 1.into());
            default(obj, ".spec.podManagementPolicy", "OrderedReady".into());
            default(
                obj,
                ".spec.updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
            );
            default(obj, ".spec.revisionHistoryLimit", 10.into());
            default(
                obj,
                ".spec.persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            default_pod_spec(obj, "spec/template/spec");
            meta::set_path(
                obj,
                ".status",
                json!({"replicas": 0, "availableReplicas": 0}),
            );
        }
        ("apps", "deployments") => {
            default(obj, ".spec.replicas", 1.into());
            default(obj, ".spec.revisionHistoryLimit", 10.into());
            default(obj, ".spec.progressDeadlineSeconds", 600.into());
            default(
                obj,
                ".spec.strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            default_pod_spec(obj, "spec/template/spec");
            meta::set_path(obj, ".status", json!({}));
        }
        ("apps", "replicasets") | ("", "replicationcontrollers") => {
            default(obj, ".spec.replicas", 1.into());
            meta::set_path(obj, ".status", json!({"replicas": 0}));
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            crate::crd::prepare(st, obj, None)?;
        }
        _ if info.custom => crate::crd::validate_custom(info, version, obj, strict)?,
        _ => {}
    }
    Ok(())
}

pub(crate) fn prepare_update(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    old: &Value,
    new: &mut Value,
    part: Part,
    strict: bool,
) -> Result<(), ApiError> {
    let name = meta::name(old).to_string();
    let forbid = |field: &str, msg: &str| {
        ApiError::invalid(
            &info.kind,
            target(info, &name),
            &[(field.to_string(), format!("Forbidden: {msg}"))],
        )
    };
    prune_builtin(info, version, new, strict)?;
    if part == Part::Main {
        crate::defaults::apply(&info.group, &info.plural, new);
    }
    match (info.group.as_str(), info.plural.as_str(), part) {
        ("apps", "statefulsets", Part::Main) => {
            let strip = |v: &Value| {
                let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(m) = s.as_object_mut() {
                    for f in [
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                    ] {
                        m.remove(f);
                    }
                }
                s
            };
            default_pod_spec(new, "spec/template/spec");
            if strip(old) != strip(new) {
                return Err(forbid(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        ("", "persistentvolumeclaims", Part::Main) => {
            let strip = |v: &Value| {
                let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(m) = s.as_object_mut() {
                    m.remove("resources");
                    m.remove("volumeAttributesClassName");
                    // Binding fills volumeName once.
                    if m.get("volumeName").is_some() {
                        m.remove("volumeName");
                    }
                }
                s
            };
            if strip(old) != strip(new) {
                return Err(forbid(
                    "spec",
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                ));
            }
            let size = |v: &Value| {
                v.pointer("/spec/resources/requests/storage")
                    .and_then(Value::as_str)
                    .and_then(crate::quantity::parse_bytes)
            };
            if let (Some(a), Some(b)) = (size(old), size(new))
                && b < a
            {
                return Err(forbid(
                    "spec.resources.requests.storage",
                    "field can not be less than status.capacity",
                ));
            }
        }
        ("", "pods", Part::Main) => {
            default_pod_spec(new, "spec");
            validate_pod(info, new)?;
        }
        ("", "services", Part::Main) => crate::services::prepare_update(st, info, old, new)?,
        ("", "namespaces", Part::Main) => {
            // spec.finalizers only changes through /finalize.
            if let Some(f) = old.pointer("/spec/finalizers").cloned() {
                meta::set_path(new, ".spec.finalizers", f);
            }
        }
        ("apiextensions.k8s.io", "customresourcedefinitions", Part::Main) => {
            crate::crd::prepare(st, new, Some(old))?;
        }
        _ if info.custom => crate::crd::validate_custom(info, version, new, strict)?,
        _ => {}
    }
    Ok(())
}

/// A built-in kind's body as Go's decoding into its type leaves it
/// (custom kinds are pruned by their schema in `crd`).
fn prune_builtin(
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
    strict: bool,
) -> Result<(), ApiError> {
    if info.custom {
        return Ok(());
    }
    let api_version = if info.group.is_empty() {
        version.to_string()
    } else {
        format!("{}/{version}", info.group)
    };
    let unknown = crate::go_types::prune(&api_version, &info.kind, obj);
    if strict && !unknown.is_empty() {
        return Err(ApiError::strict_decoding(&info.kind, version, &unknown));
    }
    Ok(())
}

fn default_pod_spec(obj: &mut Value, at: &str) {
    let Some(spec) = obj.pointer_mut(&format!("/{at}")) else {
        return;
    };
    if !spec.is_object() {
        return;
    }
    default(spec, ".restartPolicy", "Always".into());
    default(spec, ".terminationGracePeriodSeconds", 30.into());
    default(spec, ".dnsPolicy", "ClusterFirst".into());
    default(spec, ".schedulerName", "default-scheduler".into());
    default(spec, ".securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter(|c| c.is_object()) {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                let tagless =
                    !image.rsplit('/').next().unwrap_or("").contains(':') && !image.contains('@');
                let policy = if tagless || image.ends_with(":latest") {
                    "Always"
                } else {
                    "IfNotPresent"
                };
                default(c, ".imagePullPolicy", policy.into());
                default(c, ".terminationMessagePath", "/dev/termination-log".into());
                default(c, ".terminationMessagePolicy", "File".into());
                default(c, ".resources", json!({}));
            }
        }
    }
}

fn validate_pod(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let name = meta::name(obj);
    let mut causes = Vec::new();
    match obj.pointer("/spec/containers").and_then(Value::as_array) {
        Some(cs) if !cs.is_empty() => {
            for (i, c) in cs.iter().enumerate() {
                if c.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push((
                        format!("spec.containers[{i}].name"),
                        "Required value".to_string(),
                    ));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push((
                        format!("spec.containers[{i}].image"),
                        "Required value".to_string(),
                    ));
                }
            }
        }
        _ => causes.push(("spec.containers".into(), "Required value".into())),
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&info.kind, target(info, name), &causes))
    }
}

/// BestEffort, Burstable or Guaranteed, from the containers' resources.
fn pod_qos(obj: &Value) -> &'static str {
    let cs = obj
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !cs.is_empty();
    for c in &cs {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        if req.is_some_and(|m| !m.is_empty()) || lim.is_some_and(|m| !m.is_empty()) {
            any = true;
        }
        let full = ["cpu", "memory"].iter().all(|r| {
            let l = lim.and_then(|m| m.get(*r));
            let q = req.and_then(|m| m.get(*r)).or(l);
            l.is_some() && q == l
        });
        guaranteed &= full;
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}
