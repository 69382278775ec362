//! Discovery: `/version`, `/api`, `/apis`, group and group/version resource
//! lists, and the aggregated (`apidiscovery.k8s.io/v2`) form newer kubectl
//! asks for first.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::rest::{json_response, json_response_typed};
use crate::server::Shared;

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub(crate) fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.0-harness",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-04-23T00:00:00Z",
            "goVersion": "go1.24.2",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
    )
}

/// Groups in discovery order: built-in order first, then CRD groups by name;
/// each with its served versions, preferred first.
/// One version of a group and the resources it serves.
type VersionResources = (String, Vec<Arc<ResourceInfo>>);

fn groups(shared: &Shared) -> Vec<(String, Vec<VersionResources>)> {
    let st = shared.lock();
    let mut by_group: BTreeMap<String, BTreeMap<String, Vec<Arc<ResourceInfo>>>> = BTreeMap::new();
    let mut order: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rs in st.resources.values() {
        let info = &rs.info;
        for v in &info.versions {
            by_group
                .entry(info.group.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .push(info.clone());
        }
        let vs = order.entry(info.group.clone()).or_default();
        for v in &info.versions {
            if !vs.contains(v) {
                vs.push(v.clone());
            }
        }
    }
    // Highest priority first, ties by name (kube-aggregator's
    // `ByGroupPriorityMinimum`); the core group outranks all.
    let rank = |g: &str| std::cmp::Reverse(crate::aggregator::group_priority(g));
    let mut names: Vec<String> = by_group.keys().cloned().collect();
    names.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    names
        .into_iter()
        .map(|g| {
            let mut versions = by_group.remove(&g).unwrap_or_default();
            let ordered = order.remove(&g).unwrap_or_default();
            let vs = ordered
                .into_iter()
                .map(|v| {
                    let mut rs = versions.remove(&v).unwrap_or_default();
                    rs.sort_by(|a, b| a.plural.cmp(&b.plural));
                    (v, rs)
                })
                .collect();
            (g, vs)
        })
        .collect()
}

/// Whether the client's first choice is aggregated discovery v2.
fn wants_aggregated(h: &HeaderMap) -> bool {
    let accept: Vec<&str> = h
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = accept.join(",");
    joined.split(',').next().is_some_and(|first| {
        let ps: Vec<&str> = first.split(';').map(str::trim).collect();
        ps.contains(&"as=APIGroupDiscoveryList")
            && ps.contains(&"v=v2")
            && ps.contains(&"g=apidiscovery.k8s.io")
    })
}

pub(crate) fn api(shared: &Shared, h: &HeaderMap) -> Response {
    if wants_aggregated(h) {
        let items: Vec<Value> = groups(shared)
            .into_iter()
            .filter(|(g, _)| g.is_empty())
            .map(|(g, vs)| aggregated_group(&g, &vs))
            .collect();
        return aggregated_list(items);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
        }),
    )
}

fn group_json(name: &str, versions: &[VersionResources]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|(v, _)| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({
        "name": name,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(Value::Null),
    })
}

pub(crate) fn apis(shared: &Shared, h: &HeaderMap) -> Response {
    let gs = groups(shared);
    if wants_aggregated(h) {
        let items: Vec<Value> = gs
            .iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, vs)| aggregated_group(g, vs))
            .collect();
        return aggregated_list(items);
    }
    let list: Vec<Value> = gs
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}),
    )
}

pub(crate) fn group(shared: &Shared, name: &str) -> Result<Response, ApiError> {
    let (_, vs) = groups(shared)
        .into_iter()
        .find(|(g, _)| g == name && !g.is_empty())
        .ok_or_else(ApiError::no_route)?;
    let mut body = group_json(name, &vs);
    body["kind"] = "APIGroup".into();
    body["apiVersion"] = "v1".into();
    Ok(json_response(StatusCode::OK, &body))
}

/// A resource's subresources as discovery lists them: name, response kind
/// (group and version default to the resource's) and verbs, sorted by name
/// as kube-apiserver lists them.
fn subresources(info: &ResourceInfo) -> Vec<(&'static str, Value, Value)> {
    let read_write = || json!(["get", "patch", "update"]);
    let connect = || json!(["create", "get"]);
    let proxy = || json!(["create", "delete", "get", "patch", "update"]);
    let mut out = Vec::new();
    if info.status {
        out.push(("status", json!({"kind": info.kind}), read_write()));
    }
    if info.scale.is_some() {
        out.push((
            "scale",
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
            read_write(),
        ));
    }
    if info.group == "certificates.k8s.io" && info.plural == "certificatesigningrequests" {
        out.insert(0, ("approval", json!({"kind": info.kind}), read_write()));
    }
    if !info.group.is_empty() {
        return out;
    }
    match info.plural.as_str() {
        "namespaces" => out.push(("finalize", json!({"kind": "Namespace"}), json!(["update"]))),
        "pods" => out.extend([
            ("attach", json!({"kind": "PodAttachOptions"}), connect()),
            ("binding", json!({"kind": "Binding"}), json!(["create"])),
            ("ephemeralcontainers", json!({"kind": "Pod"}), read_write()),
            (
                "eviction",
                json!({"group": "policy", "version": "v1", "kind": "Eviction"}),
                json!(["create"]),
            ),
            ("exec", json!({"kind": "PodExecOptions"}), connect()),
            ("log", json!({"kind": "Pod"}), json!(["get"])),
            (
                "portforward",
                json!({"kind": "PodPortForwardOptions"}),
                connect(),
            ),
            ("proxy", json!({"kind": "PodProxyOptions"}), proxy()),
            ("resize", json!({"kind": "Pod"}), read_write()),
        ]),
        "nodes" => out.push(("proxy", json!({"kind": "NodeProxyOptions"}), proxy())),
        "services" => out.push(("proxy", json!({"kind": "ServiceProxyOptions"}), proxy())),
        "serviceaccounts" => out.push((
            "token",
            json!({"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"}),
            json!(["create"]),
        )),
        _ => {}
    }
    out.sort_by_key(|(name, _, _)| *name);
    out
}

pub(crate) fn resource_list(
    shared: &Shared,
    group: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (_, vs) = groups(shared)
        .into_iter()
        .find(|(g, _)| g == group)
        .ok_or_else(ApiError::no_route)?;
    let (_, infos) = vs
        .into_iter()
        .find(|(v, _)| v == version)
        .ok_or_else(ApiError::no_route)?;
    let mut resources = Vec::new();
    for info in &infos {
        let mut r = json!({
            "name": info.plural,
            "singularName": info.singular,
            "namespaced": info.namespaced,
            "kind": info.kind,
            "verbs": info.verbs(),
        });
        if !info.short_names.is_empty() {
            r["shortNames"] = info.short_names.clone().into();
        }
        if !info.categories.is_empty() {
            r["categories"] = info.categories.clone().into();
        }
        resources.push(r);
        for (sub, kind, verbs) in subresources(info) {
            let mut r = json!({
                "name": format!("{}/{sub}", info.plural),
                "singularName": "",
                "namespaced": info.namespaced,
                "verbs": verbs,
            });
            for (k, v) in kind.as_object().into_iter().flatten() {
                r[k] = v.clone();
            }
            resources.push(r);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    ))
}

fn aggregated_group(name: &str, versions: &[VersionResources]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|(v, infos)| {
            let resources: Vec<Value> = infos
                .iter()
                .map(|info| {
                    let mut r = json!({
                        "resource": info.plural,
                        "responseKind": {"group": info.group, "version": v, "kind": info.kind},
                        "scope": if info.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": info.singular,
                        "verbs": info.verbs(),
                    });
                    if !info.short_names.is_empty() {
                        r["shortNames"] = info.short_names.clone().into();
                    }
                    if !info.categories.is_empty() {
                        r["categories"] = info.categories.clone().into();
                    }
                    let subs: Vec<Value> = subresources(info)
                        .into_iter()
                        .map(|(sub, kind, verbs)| {
                            let mut rk = json!({"group": info.group, "version": v});
                            for (k, val) in kind.as_object().into_iter().flatten() {
                                rk[k] = val.clone();
                            }
                            json!({
                                "subresource": sub,
                                "responseKind": rk,
                                "verbs": verbs,
                            })
                        })
                        .collect();
                    if !subs.is_empty() {
                        r["subresources"] = subs.into();
                    }
                    r
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": name, "creationTimestamp": null}, "versions": vs})
}

fn aggregated_list(items: Vec<Value>) -> Response {
    json_response_typed(
        StatusCode::OK,
        &json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {},
            "items": items,
        }),
        AGGREGATED,
    )
}
