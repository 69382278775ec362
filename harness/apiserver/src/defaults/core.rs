//! core/v1 defaults (`pkg/apis/core/v1/defaults.go`): pods and every pod
//! template, and the core kinds with defaults of their own.

use serde_json::{Value, json};

use super::{at, fill, fill_zero, items, labels_from_template, object};

/// `SetDefaults_Pod`: the pod spec's defaults, plus what only a pod gets.
pub(super) fn pod(obj: &mut Value) {
    let Some(spec) = at(obj, "/spec") else {
        return;
    };
    pod_spec(spec);
    fill(spec, "enableServiceLinks", true);
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        for c in items(spec, list) {
            requests_from_limits(c);
            if host_network {
                // `defaultHostNetworkPorts`.
                for p in items(c, "ports") {
                    if let Some(port) = p.get("containerPort").cloned() {
                        fill_zero(p, "hostPort", port);
                    }
                }
            }
        }
    }
}

/// A limit without a request asks for what it limits.
fn requests_from_limits(c: &mut Value) {
    let Some(limits) = c.pointer("/resources/limits").and_then(Value::as_object) else {
        return;
    };
    let limits = limits.clone();
    let Some(resources) = object(c, "resources") else {
        return;
    };
    let Some(requests) = object(resources, "requests").and_then(Value::as_object_mut) else {
        return;
    };
    for (k, v) in limits {
        requests.entry(k).or_insert(v);
    }
}

/// The spec of the pod template at `pointer` (`template`, `spec/template`).
pub(super) fn pod_template(obj: &mut Value, pointer: &str) {
    if let Some(spec) = at(obj, &format!("/{pointer}/spec")) {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and what the generated defaulter reaches from a
/// pod spec: containers, probes, volumes.
pub(super) fn pod_spec(spec: &mut Value) {
    fill_zero(spec, "dnsPolicy", "ClusterFirst");
    fill_zero(spec, "restartPolicy", "Always");
    fill(spec, "securityContext", json!({}));
    fill(spec, "terminationGracePeriodSeconds", 30);
    fill_zero(spec, "schedulerName", "default-scheduler");
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in items(spec, list) {
            container(c);
        }
    }
    for v in items(spec, "volumes") {
        volume(v);
    }
}

/// `SetDefaults_Container`, `SetDefaults_ContainerPort`,
/// `SetDefaults_ObjectFieldSelector`, `SetDefaults_Probe`,
/// `SetDefaults_HTTPGetAction`, `SetDefaults_GRPCAction`.
fn container(c: &mut Value) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    // `latest` when the reference has no tag (a digest is not a tag).
    let last = image.rsplit('/').next().unwrap_or("");
    let tag = last.split_once('@').map_or(last, |(name, _)| name);
    let tagless = !tag.contains(':') && !image.contains('@');
    let policy = if tagless || tag.ends_with(":latest") {
        "Always"
    } else {
        "IfNotPresent"
    };
    fill_zero(c, "imagePullPolicy", policy);
    fill_zero(c, "terminationMessagePath", "/dev/termination-log");
    fill_zero(c, "terminationMessagePolicy", "File");
    // Not a default: Go writes the non-pointer struct even when empty.
    fill(c, "resources", json!({}));
    for p in items(c, "ports") {
        fill_zero(p, "protocol", "TCP");
    }
    for e in items(c, "env") {
        if let Some(field_ref) = at(e, "/valueFrom/fieldRef") {
            fill_zero(field_ref, "apiVersion", "v1");
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = at(c, &format!("/{probe}")) {
            fill_zero(p, "timeoutSeconds", 1);
            fill_zero(p, "periodSeconds", 10);
            fill_zero(p, "successThreshold", 1);
            fill_zero(p, "failureThreshold", 3);
            handler(p);
            if let Some(grpc) = at(p, "/grpc") {
                fill(grpc, "service", "");
            }
        }
    }
    for hook in ["postStart", "preStop"] {
        if let Some(h) = at(c, &format!("/lifecycle/{hook}")) {
            handler(h);
        }
    }
}

fn handler(h: &mut Value) {
    if let Some(get) = at(h, "/httpGet") {
        fill_zero(get, "path", "/");
        fill_zero(get, "scheme", "HTTP");
    }
}

/// `SetDefaults_Volume` (no source is an emptyDir) and the sources'
/// defaults: mode 0644 for projected files, a one-hour token, an unset
/// hostPath type.
fn volume(v: &mut Value) {
    let has_source = v
        .as_object()
        .is_some_and(|m| m.iter().any(|(k, x)| k != "name" && !x.is_null()));
    if !has_source {
        v["emptyDir"] = json!({});
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = at(v, &format!("/{source}")) {
            fill(s, "defaultMode", 420);
        }
    }
    if let Some(d) = at(v, "/downwardAPI") {
        downward_items(d);
    }
    if let Some(projected) = at(v, "/projected") {
        for source in items(projected, "sources") {
            if let Some(token) = at(source, "/serviceAccountToken") {
                fill(token, "expirationSeconds", 3600);
            }
            if let Some(d) = at(source, "/downwardAPI") {
                downward_items(d);
            }
        }
    }
    if let Some(host_path) = at(v, "/hostPath") {
        fill(host_path, "type", "");
    }
    if let Some(template) = at(v, "/ephemeral/volumeClaimTemplate/spec") {
        fill(template, "volumeMode", "Filesystem");
    }
}

fn downward_items(d: &mut Value) {
    for item in items(d, "items") {
        if let Some(field_ref) = at(item, "/fieldRef") {
            fill_zero(field_ref, "apiVersion", "v1");
        }
    }
}

/// `SetDefaults_ReplicationController`: one replica, and the template's
/// labels as the selector and labels when those are empty.
pub(super) fn replication_controller(obj: &mut Value) {
    let labels = obj.pointer("/spec/template/metadata/labels").cloned();
    if let Some(spec) = object(obj, "spec") {
        if let Some(labels) = &labels {
            let empty = spec
                .get("selector")
                .and_then(Value::as_object)
                .is_none_or(|m| m.is_empty());
            if empty {
                spec["selector"] = labels.clone();
            }
        }
        fill(spec, "replicas", 1);
    }
    labels_from_template(obj, labels);
    pod_template(obj, "spec/template");
}

/// `SetDefaults_Secret`, and `stringData` folded into `data` as the v1
/// conversion does (`Convert_v1_Secret_To_core_Secret`): it wins over a
/// `data` key of the same name and is never stored.
pub(super) fn secret(obj: &mut Value) {
    fill_zero(obj, "type", "Opaque");
    let Some(Value::Object(strings)) = obj.as_object_mut().and_then(|m| m.remove("stringData"))
    else {
        return;
    };
    if let Some(data) = object(obj, "data").and_then(Value::as_object_mut) {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            data.insert(
                k,
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text.as_bytes())
                    .into(),
            );
        }
    }
}

/// `SetDefaults_EndpointPort`.
pub(super) fn endpoints(obj: &mut Value) {
    for subset in items(obj, "subsets") {
        for p in items(subset, "ports") {
            fill_zero(p, "protocol", "TCP");
        }
    }
}

/// `SetDefaults_LimitRangeItem`: for containers, a missing default is the
/// max, and a missing default request the default, else the min.
pub(super) fn limit_range(obj: &mut Value) {
    let Some(spec) = at(obj, "/spec") else {
        return;
    };
    for item in items(spec, "limits") {
        if item.get("type").and_then(Value::as_str) != Some("Container") {
            continue;
        }
        for (to, from) in [
            ("default", "max"),
            ("defaultRequest", "default"),
            ("defaultRequest", "min"),
        ] {
            let Some(source) = item.get(from).and_then(Value::as_object).cloned() else {
                continue;
            };
            if let Some(target) = object(item, to).and_then(Value::as_object_mut) {
                for (k, v) in source {
                    target.entry(k).or_insert(v);
                }
            }
        }
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub(super) fn pvc(obj: &mut Value) {
    if let Some(spec) = at(obj, "/spec") {
        fill(spec, "volumeMode", "Filesystem");
    }
}

/// `SetDefaults_PersistentVolume`.
pub(super) fn pv(obj: &mut Value) {
    if let Some(spec) = at(obj, "/spec") {
        fill_zero(spec, "persistentVolumeReclaimPolicy", "Retain");
        fill(spec, "volumeMode", "Filesystem");
    }
}
