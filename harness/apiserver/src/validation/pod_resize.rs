//! `pods/resize` (in-place pod vertical scaling, beta and on in 1.33): what
//! `podResizeStrategy` keeps of a write and what `ValidatePodResize`
//! refuses (pkg/registry/core/pod/strategy.go and
//! pkg/apis/core/validation/validation.go at v1.33), and the QoS class a
//! resize may not change (pkg/apis/core/helper/qos/qos.go).

use serde_json::{Map, Value};

use crate::quantity::parse_bytes;

fn containers<'a>(pod: &'a Value, list: &str) -> &'a [Value] {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn name(c: &Value) -> &str {
    c.get("name").and_then(Value::as_str).unwrap_or_default()
}

/// `dropNonResizeUpdates`: the stored pod with only the containers' and
/// init containers' `resources` and `resizePolicy` taken from `body`. A
/// list whose length or names changed is taken whole, for validation to
/// refuse; when either length changed the body is kept as sent.
pub(crate) fn keep_resize_fields(old: &Value, body: &Value) -> Option<Value> {
    let lists = ["containers", "initContainers"];
    if lists
        .iter()
        .any(|l| containers(old, l).len() != containers(body, l).len())
    {
        return None;
    }
    let mut new = old.clone();
    for list in lists {
        let (before, after) = (containers(old, list), containers(body, list));
        let renamed = before.iter().zip(after).any(|(a, b)| name(a) != name(b));
        let merged: Vec<Value> = if renamed {
            after.to_vec()
        } else {
            before
                .iter()
                .zip(after)
                .map(|(o, n)| {
                    let mut c = o.clone();
                    if let Some(c) = c.as_object_mut() {
                        for field in ["resources", "resizePolicy"] {
                            match n.get(field) {
                                Some(v) => c.insert(field.into(), v.clone()),
                                None => c.remove(field),
                            };
                        }
                    }
                    c
                })
                .collect()
        };
        if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut)
            && spec.contains_key(list)
        {
            spec.insert(list.into(), Value::Array(merged));
        }
    }
    Some(new)
}

fn amount(q: &Value) -> f64 {
    q.as_str().and_then(parse_bytes).unwrap_or(0.0)
}

fn resource_list<'a>(c: &'a Value, which: &str) -> Option<&'a Map<String, Value>> {
    c.get("resources")
        .and_then(|r| r.get(which))
        .and_then(Value::as_object)
}

/// `ComputePodQOS`: only cpu and memory above zero count, over containers
/// and init containers; Guaranteed when every container limits both and
/// the summed requests equal the summed limits.
pub(crate) fn compute_qos(pod: &Value) -> &'static str {
    let mut requests: Map<String, Value> = Map::new();
    let mut limits: Map<String, Value> = Map::new();
    let mut guaranteed = true;
    let supported = |r: &str| r == "cpu" || r == "memory";
    let add = |sum: &mut Map<String, Value>, r: &str, q: f64| {
        let total = sum.get(r).and_then(Value::as_f64).unwrap_or(0.0) + q;
        sum.insert(r.to_string(), total.into());
    };
    let all = containers(pod, "containers")
        .iter()
        .chain(containers(pod, "initContainers"));
    for c in all {
        for (r, q) in resource_list(c, "requests").into_iter().flatten() {
            if supported(r) && amount(q) > 0.0 {
                add(&mut requests, r, amount(q));
            }
        }
        let mut found = Vec::new();
        for (r, q) in resource_list(c, "limits").into_iter().flatten() {
            if supported(r) && amount(q) > 0.0 {
                found.push(r.as_str());
                add(&mut limits, r, amount(q));
            }
        }
        if !(found.contains(&"cpu") && found.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed {
        guaranteed = requests.iter().all(|(r, q)| limits.get(r) == Some(q));
    }
    if guaranteed && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn forbidden(field: impl Into<String>, message: &str) -> (String, String) {
    (field.into(), format!("Forbidden: {message}"))
}

/// A sidecar: an init container that restarts always.
fn sidecar(c: &Value) -> bool {
    c.get("restartPolicy").and_then(Value::as_str) == Some("Always")
}

/// The container with cpu and memory requests and limits put back to the
/// old container's (`dropCPUMemoryResourcesFromContainer`).
fn without_cpu_memory(new: &Value, old: &Value) -> Value {
    let mut c = new.clone();
    for which in ["requests", "limits"] {
        let before = resource_list(old, which);
        let Some(list) = c
            .get_mut("resources")
            .and_then(|r| r.get_mut(which))
            .and_then(Value::as_object_mut)
        else {
            // Nothing on the new side: the old cpu/memory would be put
            // back into a list the comparison then finds missing anyway.
            continue;
        };
        for r in ["cpu", "memory"] {
            match before.and_then(|b| b.get(r)) {
                Some(q) => list.insert(r.into(), q.clone()),
                None => list.remove(r),
            };
        }
    }
    c
}

/// Go compares typed structs, where a nil and an empty resource list are
/// equal; JSON keeps them apart, so both sides drop empty lists (and an
/// empty `resources`) before comparing.
fn pruned(mut c: Value) -> Value {
    if let Some(Value::Object(r)) = c.get_mut("resources") {
        r.retain(|_, v| !v.as_object().is_some_and(|m| m.is_empty()));
    }
    if let Value::Object(m) = &mut c
        && m.get("resources")
            .and_then(Value::as_object)
            .is_some_and(|r| r.is_empty())
    {
        m.remove("resources");
    }
    c
}

/// True when `new` differs from `old` in at most cpu and memory.
fn only_cpu_memory_changed(new: &Value, old: &Value) -> bool {
    pruned(without_cpu_memory(new, old)) == pruned(old.clone())
}

/// `pruned` for every container of a pod spec.
fn pruned_spec(mut spec: Value) -> Value {
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut() {
                *c = pruned(std::mem::take(c));
            }
        }
    }
    spec
}

/// `validateContainerResize` for one container at `path`.
fn container_resize_causes(new: &Value, old: &Value, path: &str, out: &mut Vec<(String, String)>) {
    for (which, what) in [("requests", "requests"), ("limits", "limits")] {
        let after = resource_list(new, which);
        let removed = resource_list(old, which)
            .into_iter()
            .flatten()
            .any(|(r, _)| !after.is_some_and(|a| a.contains_key(r)));
        if removed {
            out.push(forbidden(
                format!("{path}.resources.{which}"),
                &format!("resource {what} cannot be removed"),
            ));
        }
    }
    let memory_policy = new
        .get("resizePolicy")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("resourceName").and_then(Value::as_str) == Some("memory"))
        .and_then(|p| p.get("restartPolicy"))
        .and_then(Value::as_str);
    if matches!(memory_policy, None | Some("NotRequired")) {
        let memory = |c: &Value| {
            resource_list(c, "limits")
                .and_then(|l| l.get("memory"))
                .map(amount)
        };
        let field = format!("{path}.resources.limits[memory]");
        match (memory(old), memory(new)) {
            (Some(before), Some(after)) if after < before => out.push(forbidden(
                field,
                "memory limits cannot be decreased unless resizePolicy is RestartContainer",
            )),
            (None, Some(_)) => out.push(forbidden(
                field,
                "memory limits cannot be added unless resizePolicy is RestartContainer",
            )),
            _ => {}
        }
    }
}

/// `ValidatePodResize` after the pod's own validation: the causes, in
/// upstream's order.
pub(crate) fn causes(
    old: &Value,
    new: &Value,
    spec_causes: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let pod_level = |p: &Value| {
        p.pointer("/spec/resources").is_some_and(|r| {
            ["requests", "limits"].iter().any(|w| {
                r.get(w)
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty())
            })
        })
    };
    if pod_level(old) || pod_level(new) {
        return vec![forbidden(
            "",
            "pods with pod-level resources cannot be resized",
        )];
    }
    if old
        .pointer("/metadata/annotations/kubernetes.io~1config.mirror")
        .is_some()
    {
        return vec![forbidden("", "static pods cannot be resized")];
    }
    if old.pointer("/spec/os/name").and_then(Value::as_str) == Some("windows") {
        return vec![forbidden("", "windows pods cannot be resized")];
    }
    let mut out = spec_causes;
    let old_qos = old
        .pointer("/status/qosClass")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let current = if old_qos.is_empty() {
        compute_qos(old)
    } else {
        old_qos
    };
    if compute_qos(new) != current {
        out.push((
            "spec".into(),
            format!(
                "Invalid value: {old_qos:?}: Pod QOS Class may not change as a result of resizing"
            ),
        ));
    }
    let first_running = old
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| s.pointer("/state/running").is_some());
    if first_running.is_some_and(|s| s.get("resources").is_none()) {
        out.push(forbidden(
            "spec",
            "Pod running on node without support for resize",
        ));
    }
    let before = out.len();
    for (list, what) in [
        ("containers", "containers"),
        ("initContainers", "initContainers"),
    ] {
        let (o, n) = (containers(old, list), containers(new, list));
        if o.len() != n.len() {
            out.push(forbidden(
                format!("spec.{list}"),
                &format!("{what} may not be added or removed on resize"),
            ));
            continue;
        }
        for (i, (a, b)) in o.iter().zip(n).enumerate() {
            if name(a) != name(b) {
                out.push(forbidden(
                    format!("spec.{list}[{i}].name"),
                    &format!("{what} may not be renamed or reordered on resize"),
                ));
            }
        }
    }
    if out.len() > before {
        return out;
    }
    let (old_init, new_init) = (
        containers(old, "initContainers"),
        containers(new, "initContainers"),
    );
    for (i, (o, n)) in old_init.iter().zip(new_init).enumerate() {
        if sidecar(o) {
            container_resize_causes(n, o, &format!("spec.initContainers[{i}]"), &mut out);
        }
    }
    let (old_main, new_main) = (containers(old, "containers"), containers(new, "containers"));
    for (i, (o, n)) in old_main.iter().zip(new_main).enumerate() {
        container_resize_causes(n, o, &format!("spec.containers[{i}]"), &mut out);
    }
    for (o, n) in old_main.iter().zip(new_main) {
        if !only_cpu_memory_changed(n, o) {
            out.push(forbidden(
                "spec",
                "only cpu and memory resources are mutable",
            ));
        }
    }
    for (o, n) in old_init.iter().zip(new_init) {
        if sidecar(o) {
            if !only_cpu_memory_changed(n, o) {
                out.push(forbidden(
                    "spec",
                    "only cpu and memory resources for sidecar containers are mutable",
                ));
            }
        } else if n != o {
            out.push(forbidden(
                "spec",
                "resources for non-sidecar init containers are immutable",
            ));
        }
    }
    if out.is_empty() {
        let mut spec = new.get("spec").cloned().unwrap_or_default();
        for list in ["containers", "initContainers"] {
            if let Some(Value::Array(cs)) = spec.get_mut(list) {
                for (c, o) in cs.iter_mut().zip(containers(old, list)) {
                    *c = without_cpu_memory(c, o);
                }
            }
        }
        if pruned_spec(spec) != pruned_spec(old.get("spec").cloned().unwrap_or_default()) {
            out.push(forbidden(
                "spec",
                "only cpu and memory resources are mutable",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(resources: Value) -> Value {
        json!({"spec": {"containers": [{"name": "app", "image": "x", "resources": resources}]}})
    }

    #[test]
    fn qos_classes_follow_compute_pod_qos() {
        assert_eq!(compute_qos(&pod(json!({}))), "BestEffort");
        // Only cpu and memory count.
        assert_eq!(
            compute_qos(&pod(json!({"requests": {"ephemeral-storage": "1Gi"}}))),
            "BestEffort"
        );
        assert_eq!(
            compute_qos(&pod(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        let both = json!({"cpu": "1", "memory": "1Gi"});
        assert_eq!(
            compute_qos(&pod(json!({"requests": both, "limits": both}))),
            "Guaranteed"
        );
        // Equal amounts written differently.
        assert_eq!(
            compute_qos(&pod(json!({
                "requests": {"cpu": "1000m", "memory": "1024Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            }))),
            "Guaranteed"
        );
    }

    #[test]
    fn a_resize_keeps_only_resources_and_resize_policy() {
        let old = json!({"spec": {"containers": [{"name": "app", "image": "a", "resources": {}}]}});
        let body = json!({"spec": {"containers": [{"name": "app", "image": "b", "resources": {"requests": {"cpu": "1"}}}]}});
        let new = keep_resize_fields(&old, &body).unwrap();
        assert_eq!(
            new["spec"]["containers"][0],
            json!({"name": "app", "image": "a", "resources": {"requests": {"cpu": "1"}}})
        );
        let more = json!({"spec": {"containers": [{"name": "app"}, {"name": "two"}]}});
        assert!(keep_resize_fields(&old, &more).is_none());
    }
}
