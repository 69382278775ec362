//! Per-kind rules kube-apiserver's registry strategies apply on create and
//! update: status reset on create, generated selectors and template
//! generations, and the immutable fields users trip over (StatefulSet spec,
//! PVC spec). Defaults, which every write gets, are in `defaults`.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::store::ops::{FieldValidation, Part, WriteOpts, target};
use crate::store::{State, meta};
use crate::validation::{apiservices, certificates, pod_resize};

fn is(info: &ResourceInfo, group: &str, plural: &str) -> bool {
    info.group == group && info.plural == plural
}

pub(crate) fn prepare_create(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
    opts: &WriteOpts,
) -> Result<(), ApiError> {
    prune_builtin(info, version, obj, opts.field_validation)?;
    if info.status && !is(info, "", "nodes") {
        // Create cannot set status where status has its own subresource.
        obj.as_object_mut().expect("object").remove("status");
    }
    if is(info, "batch", "jobs") {
        job_selector(obj);
    }
    crate::defaults::apply(&info.group, &info.plural, obj);
    invalid_if(info, obj, workload_causes(info, obj, None))?;
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => {
            validate_pod(info, obj)?;
            let qos = pod_resize::compute_qos(obj);
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
            crate::admission::storage::default_class(st, obj);
            meta::set_path(obj, ".status", json!({"phase": "Pending"}));
        }
        ("", "persistentvolumes") => {
            meta::set_path(obj, ".status", json!({"phase": "Pending"}));
        }
        ("", "services") => crate::services::prepare_create(st, info, obj)?,
        ("certificates.k8s.io", "certificatesigningrequests") => {
            let user = opts
                .user
                .clone()
                .unwrap_or_else(crate::authz::User::requester);
            certificates::prepare_create(obj, &user);
            invalid_if(info, obj, certificates::causes(obj, None, Part::Main))?;
        }
        ("apiregistration.k8s.io", "apiservices") => {
            invalid_if(info, obj, apiservices::causes(obj, Part::Main))?
        }
        ("apps", "statefulsets") => {
            meta::set_path(
                obj,
                ".status",
                json!({"replicas": 0, "availableReplicas": 0}),
            );
        }
        ("apps", "daemonsets") => {
            // The internal TemplateGeneration, as v1 writes it out
            // (`Convert_apps_DaemonSet_To_v1_DaemonSet`).
            let annotations = meta::metadata_mut(obj)
                .entry("annotations")
                .or_insert_with(|| json!({}));
            if let Some(a) = annotations.as_object_mut() {
                a.insert(TEMPLATE_GENERATION.into(), "1".into());
            }
        }
        ("apps", "deployments") => meta::set_path(obj, ".status", json!({})),
        ("apps", "replicasets") | ("", "replicationcontrollers") => {
            meta::set_path(obj, ".status", json!({"replicas": 0}));
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            crate::crd::prepare(st, obj, None)?;
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => {
            invalid_if(info, obj, crate::admission::definitions::policy(obj))?
        }
        (
            "admissionregistration.k8s.io",
            plural @ ("validatingwebhookconfigurations" | "mutatingwebhookconfigurations"),
        ) => {
            let mutating = plural.starts_with("mutating");
            let causes = crate::admission::webhooks::definitions::configuration(obj, mutating);
            invalid_if(info, obj, causes)?
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => {
            invalid_if(info, obj, crate::admission::definitions::binding(obj))?
        }
        _ if info.custom => {
            crate::crd::validate_custom(info, version, obj, None, opts.field_validation)?
        }
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
    validation: FieldValidation,
) -> Result<(), ApiError> {
    let name = meta::name(old).to_string();
    let forbid = |field: &str, msg: &str| {
        ApiError::invalid(
            &info.kind,
            target(info, &name),
            &[(field.to_string(), format!("Forbidden: {msg}"))],
        )
    };
    prune_builtin(info, version, new, validation)?;
    if part != Part::Status {
        // A new ephemeral container is defaulted as the pod it joins.
        crate::defaults::apply(&info.group, &info.plural, new);
    }
    if part == Part::Main {
        invalid_if(info, new, workload_causes(info, new, Some(old)))?;
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
            if strip(old) != strip(new) {
                return Err(forbid(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        // `ValidatePersistentVolumeClaimUpdate` (pkg/apis/core/validation):
        // only a bound claim may change its storage request, and with
        // RecoverVolumeExpansionFailure (on in 1.33) it may go back down
        // to just above what it has.
        ("", "persistentvolumeclaims", Part::Main) => {
            let bound = old.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
            // A claim made without a class may be given one later (the
            // retroactive default class, `validateStorageClassUpgradeFromNil`),
            // and binding fills an empty volumeName once.
            let class_from_nil = old
                .pointer("/spec/storageClassName")
                .is_none_or(Value::is_null)
                && {
                    let beta = |v: &Value| {
                        v.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
                            .cloned()
                    };
                    beta(old).is_none_or(|a| Some(&a) == new.pointer("/spec/storageClassName"))
                };
            let volume_from_empty = old
                .pointer("/spec/volumeName")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            let strip = |v: &Value| {
                let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
                if bound
                    && let Some(r) = s
                        .pointer_mut("/resources/requests")
                        .and_then(Value::as_object_mut)
                {
                    r.remove("storage");
                }
                if let Some(m) = s.as_object_mut() {
                    m.remove("volumeAttributesClassName");
                    if volume_from_empty {
                        m.remove("volumeName");
                    }
                    if class_from_nil {
                        m.remove("storageClassName");
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
            let capacity = old
                .pointer("/status/capacity/storage")
                .and_then(Value::as_str)
                .and_then(crate::quantity::parse_bytes)
                .unwrap_or(0.0);
            let requested = crate::admission::storage::requested;
            let new_size = requested(new);
            if new_size < requested(old) && new_size <= capacity {
                return Err(forbid(
                    "spec.resources.requests.storage",
                    "field can not be less than status.capacity",
                ));
            }
        }
        ("", "pods", Part::Main) => validate_pod(info, new)?,
        ("certificates.k8s.io", "certificatesigningrequests", part) => {
            certificates::prepare_update(old, new, part, &st.now());
            invalid_if(info, new, certificates::causes(new, Some(old), part))?;
        }
        ("apiregistration.k8s.io", "apiservices", part) => {
            invalid_if(info, new, apiservices::causes(new, part))?
        }
        ("", "pods", Part::Resize) => {
            let mut spec = Vec::new();
            crate::validation::pods::spec("spec", new.get("spec"), &mut spec);
            invalid_if(info, new, pod_resize::causes(old, new, spec))?;
        }
        ("", "pods", Part::EphemeralContainers) => {
            validate_pod(info, new)?;
            invalid_if(info, new, ephemeral_container_causes(old, new))?;
        }
        ("apps", "daemonsets", Part::Main) => {
            // `daemonSetStrategy.PrepareForUpdate`: a new template is a new
            // template generation.
            let generation = |v: &Value| {
                v.pointer("/metadata/annotations")
                    .and_then(|a| a.get(TEMPLATE_GENERATION))
                    .and_then(Value::as_str)
                    .and_then(|g| g.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            let mut next = generation(old);
            if old.pointer("/spec/template") != new.pointer("/spec/template") {
                next += 1;
            }
            if next > 0 {
                let annotations = meta::metadata_mut(new)
                    .entry("annotations")
                    .or_insert_with(|| json!({}));
                if let Some(a) = annotations.as_object_mut() {
                    a.insert(TEMPLATE_GENERATION.into(), next.to_string().into());
                }
            }
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
        ("admissionregistration.k8s.io", "validatingadmissionpolicies", Part::Main) => {
            invalid_if(info, new, crate::admission::definitions::policy(new))?
        }
        (
            "admissionregistration.k8s.io",
            plural @ ("validatingwebhookconfigurations" | "mutatingwebhookconfigurations"),
            Part::Main,
        ) => {
            let mutating = plural.starts_with("mutating");
            let causes = crate::admission::webhooks::definitions::configuration(new, mutating);
            invalid_if(info, new, causes)?
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings", Part::Main) => {
            invalid_if(info, new, crate::admission::definitions::binding(new))?
        }
        _ if info.custom => crate::crd::validate_custom(info, version, new, Some(old), validation)?,
        _ => {}
    }
    Ok(())
}

/// A built-in kind's body as Go's decoding into its type leaves it
/// (custom kinds are pruned by their schema in `crd`).
pub(crate) fn prune_builtin(
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
    validation: FieldValidation,
) -> Result<(), ApiError> {
    if info.custom {
        return Ok(());
    }
    let unknown: Vec<String> = crate::go_types::prune(&info.api_version(version), &info.kind, obj)
        .iter()
        .map(|p| crate::go_types::dotted(p))
        .collect();
    validation.unknown_fields(&info.kind, version, &unknown)
}

/// The spec checks of the workload kinds (`old` on an update).
fn workload_causes(info: &ResourceInfo, obj: &Value, old: Option<&Value>) -> Vec<(String, String)> {
    use crate::validation::workloads;
    match (info.group.as_str(), info.plural.as_str()) {
        ("apps", "deployments") => workloads::deployment(obj, old),
        ("apps", "replicasets") => workloads::replica_set(obj, old),
        ("apps", "statefulsets") => workloads::stateful_set(obj),
        ("apps", "daemonsets") => workloads::daemon_set(obj, old),
        ("batch", "jobs") => workloads::job(obj, old),
        ("batch", "cronjobs") => workloads::cron_job(obj),
        _ => Vec::new(),
    }
}

/// A 422 with `causes`, if there are any.
fn invalid_if(
    info: &ResourceInfo,
    obj: &Value,
    causes: Vec<(String, String)>,
) -> Result<(), ApiError> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &info.kind,
            target(info, meta::name(obj)),
            &causes,
        ))
    }
}

const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// `generateSelector` in batch's job strategy (unless `manualSelector`):
/// the template carries the job's name and uid, and the selector the uid.
fn job_selector(obj: &mut Value) {
    if obj.pointer("/spec/manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    let name = meta::name(obj).to_string();
    let uid = obj
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let labels = [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ];
    if let Some(template) = obj.pointer_mut("/spec/template").filter(|t| t.is_object()) {
        let metadata = template
            .as_object_mut()
            .expect("checked")
            .entry("metadata")
            .or_insert_with(|| json!({}));
        if let Some(m) = metadata.as_object_mut() {
            let l = m.entry("labels").or_insert_with(|| json!({}));
            if let Some(l) = l.as_object_mut() {
                for (k, v) in labels {
                    l.entry(k).or_insert_with(|| v.clone().into());
                }
            }
        }
    }
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
        let selector = spec.entry("selector").or_insert_with(|| json!({}));
        if selector.is_null() {
            *selector = json!({});
        }
        if let Some(sel) = selector.as_object_mut() {
            let ml = sel.entry("matchLabels").or_insert_with(|| json!({}));
            if let Some(ml) = ml.as_object_mut() {
                ml.entry("batch.kubernetes.io/controller-uid")
                    .or_insert_with(|| uid.clone().into());
            }
        }
    }
}

/// `ValidatePodEphemeralContainersUpdate`: ephemeral containers are only
/// ever added; one that exists may be neither removed nor changed.
/// (Upstream follows "may not be changed" with a `cmp.Diff` of the two;
/// that diff is not reproduced.)
fn ephemeral_container_causes(old: &Value, new: &Value) -> Vec<(String, String)> {
    let by_name = |pod: &Value| -> Vec<(String, Value)> {
        pod.pointer("/spec/ephemeralContainers")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|c| {
                        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
                        (name.to_string(), c.clone())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let now = by_name(new);
    let mut causes = Vec::new();
    for (name, before) in by_name(old) {
        let field = "spec.ephemeralContainers".to_string();
        match now.iter().find(|(n, _)| *n == name) {
            None => causes.push((
                field,
                format!("Forbidden: existing ephemeral containers {name:?} may not be removed\n"),
            )),
            Some((_, after)) if *after != before => causes.push((
                field,
                format!("Forbidden: existing ephemeral containers {name:?} may not be changed\n"),
            )),
            Some(_) => {}
        }
    }
    causes
}

fn validate_pod(info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    crate::validation::pods::spec("spec", obj.get("spec"), &mut causes);
    invalid_if(info, obj, causes)
}
