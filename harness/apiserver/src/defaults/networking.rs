//! networking.k8s.io/v1 and discovery.k8s.io/v1 defaults.

use serde_json::{Value, json};

use super::unset;

/// `networking/v1` `SetDefaults_NetworkPolicyPort` and
/// `SetDefaults_NetworkPolicy`: TCP ports; `Ingress` always among the policy
/// types, `Egress` when egress rules are given.
pub(super) fn network_policy(obj: &mut Value) {
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
