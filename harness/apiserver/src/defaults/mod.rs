//! Defaults kube-apiserver fills into every write (create, update, patch,
//! apply) of a built-in kind, one module per API group, each from the
//! group's `pkg/apis/<group>/<version>/defaults.go` in kubernetes/kubernetes
//! (v1.33). What a registry strategy adds on create only (status, generated
//! selectors) is in `strategy`; Services' allocations are in `services`.

mod admission;
mod apps;
mod autoscaling;
mod batch;
mod core;
mod networking;
mod rbac;
mod storage;

use serde_json::Value;

/// Applies the defaults of `group`/`plural`, if it has any.
pub(crate) fn apply(group: &str, plural: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match (group, plural) {
        ("", "pods") => core::pod(obj),
        ("", "podtemplates") => core::pod_template(obj, "template"),
        ("", "replicationcontrollers") => core::replication_controller(obj),
        ("", "secrets") => core::secret(obj),
        ("", "endpoints") => core::endpoints(obj),
        ("", "limitranges") => core::limit_range(obj),
        ("", "persistentvolumeclaims") => core::pvc(obj),
        ("", "persistentvolumes") => core::pv(obj),
        ("apps", "deployments") => apps::deployment(obj),
        ("apps", "daemonsets") => apps::daemon_set(obj),
        ("apps", "replicasets") => apps::replica_set(obj),
        ("apps", "statefulsets") => apps::stateful_set(obj),
        ("batch", "jobs") => batch::job(obj),
        ("batch", "cronjobs") => batch::cron_job(obj),
        ("storage.k8s.io", "storageclasses") => storage::storage_class(obj),
        ("storage.k8s.io", "csidrivers") => storage::csi_driver(obj),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => rbac::binding(obj),
        ("scheduling.k8s.io", "priorityclasses") => priority_class(obj),
        ("networking.k8s.io", "networkpolicies") => networking::network_policy(obj),
        ("networking.k8s.io", "ingressclasses") => networking::ingress_class(obj),
        ("discovery.k8s.io", "endpointslices") => networking::endpoint_slice(obj),
        ("autoscaling", "horizontalpodautoscalers") => autoscaling::hpa(obj),
        // apiregistration/v1/defaults.go: `SetDefaults_ServiceReference`.
        ("apiregistration.k8s.io", "apiservices") => {
            if let Some(service) = obj.pointer_mut("/spec/service") {
                fill(service, "port", 443);
            }
        }
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => admission::policy(obj),
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => {
            admission::binding(obj)
        }
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations") => {
            admission::webhooks(obj, false)
        }
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations") => {
            admission::webhooks(obj, true)
        }
        _ => {}
    }
}

fn unset(v: Option<&Value>) -> bool {
    v.is_none_or(Value::is_null)
}

/// Go's `if obj.X == nil`: sets `key` when it is absent or null.
fn fill(obj: &mut Value, key: &str, value: impl Into<Value>) {
    if let Some(m) = obj.as_object_mut()
        && unset(m.get(key))
    {
        m.insert(key.into(), value.into());
    }
}

/// Go's `if obj.X == ""` or `== 0`: also sets a zero value.
fn fill_zero(obj: &mut Value, key: &str, value: impl Into<Value>) {
    if obj.get(key).is_some_and(crate::go_types::is_zero) {
        obj[key] = Value::Null;
    }
    fill(obj, key, value);
}

/// The object at `key`, made `{}` when absent or null: a Go struct field
/// that is not a pointer always exists.
fn object<'a>(obj: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    fill(obj, key, serde_json::json!({}));
    obj.get_mut(key).filter(|v| v.is_object())
}

/// The objects of the list at `key` (none when it is absent or not a list).
fn items<'a>(obj: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|v| v.is_object())
}

/// The template's labels become the object's when it has none (Job,
/// ReplicationController).
fn labels_from_template(obj: &mut Value, labels: Option<Value>) {
    let Some(labels) = labels.filter(Value::is_object) else {
        return;
    };
    if let Some(metadata) = object(obj, "metadata") {
        let empty = metadata
            .get("labels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty());
        if empty {
            metadata["labels"] = labels;
        }
    }
}

/// The object at a JSON pointer, if it is one.
fn at<'a>(obj: &'a mut Value, pointer: &str) -> Option<&'a mut Value> {
    obj.pointer_mut(pointer).filter(|v| v.is_object())
}

/// `scheduling/v1` `SetDefaults_PriorityClass`.
fn priority_class(obj: &mut Value) {
    if unset(obj.get("preemptionPolicy")) {
        obj["preemptionPolicy"] = "PreemptLowerPriority".into();
    }
}
