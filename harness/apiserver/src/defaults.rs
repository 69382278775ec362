//! Defaults kube-apiserver fills into every write of the networking,
//! scheduling, discovery and autoscaling kinds, each from its group's
//! `pkg/apis/<group>/<version>/defaults.go`. (Workloads, pods, Services and
//! the rest of core have theirs in `strategy` and `services`.)

use serde_json::{Map, Value, json};

use crate::store::meta;

/// Applies the defaults of `group`/`plural`, if it has any.
pub(crate) fn apply(group: &str, plural: &str, obj: &mut Value) {
    match (group, plural) {
        ("scheduling.k8s.io", "priorityclasses") => priority_class(obj),
        ("networking.k8s.io", "networkpolicies") => network_policy(obj),
        ("networking.k8s.io", "ingressclasses") => ingress_class(obj),
        ("discovery.k8s.io", "endpointslices") => endpoint_slice(obj),
        ("autoscaling", "horizontalpodautoscalers") => hpa(obj),
        _ => {}
    }
}

fn unset(v: Option<&Value>) -> bool {
    v.is_none_or(Value::is_null)
}

/// `scheduling/v1` `SetDefaults_PriorityClass`.
fn priority_class(obj: &mut Value) {
    if unset(obj.get("preemptionPolicy")) {
        obj["preemptionPolicy"] = "PreemptLowerPriority".into();
    }
}

/// `networking/v1` `SetDefaults_NetworkPolicyPort` and
/// `SetDefaults_NetworkPolicy`: TCP ports; `Ingress` always among the policy
/// types, `Egress` when egress rules are given.
fn network_policy(obj: &mut Value) {
    if unset(obj.get("spec")) {
        obj["spec"] = json!({});
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for rules in ["ingress", "egress"] {
        for rule in spec
            .get_mut(rules)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for port in rule
                .get_mut("ports")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object_mut)
            {
                if unset(port.get("protocol")) {
                    port.insert("protocol".into(), "TCP".into());
                }
            }
        }
    }
    let empty = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty {
        let mut types = vec![json!("Ingress")];
        let egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|e| !e.is_empty());
        if egress {
            types.push(json!("Egress"));
        }
        spec.insert("policyTypes".into(), Value::Array(types));
    }
}

/// `networking/v1` `SetDefaults_IngressClass`: parameters without a scope
/// are cluster-scoped.
fn ingress_class(obj: &mut Value) {
    if let Some(params) = obj
        .pointer_mut("/spec/parameters")
        .and_then(Value::as_object_mut)
        && unset(params.get("scope"))
    {
        params.insert("scope".into(), "Cluster".into());
    }
}

/// `discovery/v1` `SetDefaults_EndpointPort`: an empty name and TCP.
fn endpoint_slice(obj: &mut Value) {
    for port in obj
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        if unset(port.get("name")) {
            port.insert("name".into(), "".into());
        }
        if unset(port.get("protocol")) {
            port.insert("protocol".into(), "TCP".into());
        }
    }
}

/// `autoscaling/v2` `SetDefaults_HorizontalPodAutoscaler`: one replica at
/// least, 80 % CPU when no metric is given, and the scaling rules filled in
/// when a `behavior` is given (`GenerateHPAScaleUpRules`,
/// `GenerateHPAScaleDownRules`).
fn hpa(obj: &mut Value) {
    if unset(meta::path(obj, ".spec.minReplicas")) {
        meta::set_path(obj, ".spec.minReplicas", 1.into());
    }
    let no_metrics = meta::path(obj, ".spec.metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_metrics {
        meta::set_path(
            obj,
            ".spec.metrics",
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = obj
        .pointer_mut("/spec/behavior")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for rules in ["scaleUp", "scaleDown"] {
        if unset(behavior.get(rules)) {
            behavior.insert(rules.into(), json!({}));
        }
    }
    let up = behavior.entry("scaleUp").or_insert_with(|| json!({}));
    fill_rules(
        up,
        Some(0),
        json!([
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]),
    );
    let down = behavior.entry("scaleDown").or_insert_with(|| json!({}));
    // The stabilization window stays unset: the controller's flag applies.
    fill_rules(
        down,
        None,
        json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
    );
}

fn fill_rules(rules: &mut Value, window: Option<u32>, policies: Value) {
    let Some(rules) = rules.as_object_mut() else {
        return;
    };
    let set = |rules: &mut Map<String, Value>, key: &str, value: Value| {
        if unset(rules.get(key)) {
            rules.insert(key.into(), value);
        }
    };
    if let Some(w) = window {
        set(rules, "stabilizationWindowSeconds", w.into());
    }
    set(rules, "selectPolicy", "Max".into());
    set(rules, "policies", policies);
}
