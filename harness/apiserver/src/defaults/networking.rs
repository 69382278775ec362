//! networking.k8s.io/v1 and discovery.k8s.io/v1 defaults.

use serde_json::{Value, json};

use super::{fill, items, object, unset};

/// `networking/v1` `SetDefaults_NetworkPolicyPort` and
/// `SetDefaults_NetworkPolicy`: TCP ports; `Ingress` always among the policy
/// types, `Egress` when egress rules are given.
pub(super) fn network_policy(obj: &mut Value) {
    let Some(spec) = object(obj, "spec") else {
        return;
    };
    for rules in ["ingress", "egress"] {
        for rule in items(spec, rules) {
            for port in items(rule, "ports") {
                fill(port, "protocol", "TCP");
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
        spec["policyTypes"] = Value::Array(types);
    }
}

/// `networking/v1` `SetDefaults_IngressClass`: parameters without a scope
/// are cluster-scoped.
pub(super) fn ingress_class(obj: &mut Value) {
    if let Some(params) = obj
        .pointer_mut("/spec/parameters")
        .and_then(Value::as_object_mut)
        && unset(params.get("scope"))
    {
        params.insert("scope".into(), "Cluster".into());
    }
}

/// `discovery/v1` `SetDefaults_EndpointPort`: an empty name and TCP.
pub(super) fn endpoint_slice(obj: &mut Value) {
    for port in items(obj, "ports") {
        fill(port, "name", "");
        fill(port, "protocol", "TCP");
    }
}
