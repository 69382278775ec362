//! networking.k8s.io/v1 and discovery.k8s.io/v1 tables (`printIngress`,
//! `printIngressClass`, `printNetworkPolicy`, `printEndpointSlice`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, format_selector, list_with_more, or_none, s, strings};
use crate::store::meta;

pub(super) fn printer(group: &str, plural: &str) -> Option<Printer> {
    Some(match (group, plural) {
        ("networking.k8s.io", "ingresses") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Class", "string", 0),
                ("Hosts", "string", 0),
                ("Address", "string", 0),
                ("Ports", "string", 0),
                ("Age", "string", 0),
            ],
            cells: ingress,
        },
        ("networking.k8s.io", "ingressclasses") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Controller", "string", 0),
                ("Parameters", "string", 0),
                ("Age", "string", 0),
            ],
            cells: ingress_class,
        },
        ("networking.k8s.io", "networkpolicies") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Pod-Selector", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    format_selector(o.pointer("/spec/podSelector")).into(),
                    age(o, now),
                ]
            },
        },
        ("discovery.k8s.io", "endpointslices") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("AddressType", "string", 0),
                ("Ports", "string", 0),
                ("Endpoints", "string", 0),
                ("Age", "string", 0),
            ],
            cells: endpoint_slice,
        },
        _ => return None,
    })
}

/// `formatHosts`: up to three hosts, `*` for none.
fn ingress(o: &Value, now: Timestamp) -> Vec<Value> {
    let rules: Vec<&Value> = o
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in &rules {
        if hosts.len() == 3 {
            more = true;
            break;
        }
        let host = s(rule, "/host");
        if !host.is_empty() {
            hosts.push(host);
        }
    }
    let hosts = if hosts.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", hosts.join(","), rules.len() - 3)
    } else {
        hosts.join(",")
    };
    let mut addresses: Vec<String> = o
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|i| {
            let ip = s(i, "/ip");
            if ip.is_empty() { s(i, "/hostname") } else { ip }
        })
        .collect();
    addresses.sort();
    addresses.dedup();
    let tls = o
        .pointer("/spec/tls")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    vec![
        meta::name(o).into(),
        or_none(s(o, "/spec/ingressClassName")),
        hosts.into(),
        addresses.join(",").into(),
        if tls { "80, 443" } else { "80" }.into(),
        age(o, now),
    ]
}

fn ingress_class(o: &Value, now: Timestamp) -> Vec<Value> {
    let parameters = match o.pointer("/spec/parameters").filter(|p| p.is_object()) {
        None => "<none>".to_string(),
        Some(p) => {
            let mut kind = s(p, "/kind");
            if let Some(group) = p.get("apiGroup").and_then(Value::as_str) {
                kind = format!("{kind}.{group}");
            }
            format!("{kind}/{}", s(p, "/name"))
        }
    };
    vec![
        meta::name(o).into(),
        s(o, "/spec/controller").into(),
        parameters.into(),
        age(o, now),
    ]
}

fn endpoint_slice(o: &Value, now: Timestamp) -> Vec<Value> {
    let ports: Vec<String> = o
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(
            |p| match (p.get("port").and_then(Value::as_i64), s(p, "/name")) {
                (Some(port), _) => port.to_string(),
                (None, name) if !name.is_empty() => name,
                _ => "*".to_string(),
            },
        )
        .collect();
    let addresses: Vec<String> = o
        .get("endpoints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|e| strings(e, "/addresses"))
        .collect();
    vec![
        meta::name(o).into(),
        s(o, "/addressType").into(),
        list_with_more(&ports).into(),
        list_with_more(&addresses).into(),
        age(o, now),
    ]
}
