//! Services as kube-apiserver's registry fills them: the defaults of
//! `pkg/apis/core/v1/defaults.go` (`SetDefaults_Service`), then the cluster
//! IP and node ports allocated by `pkg/registry/core/service/storage`
//! (`alloc.go`, with `ipallocator` and `portallocator`), and what an update
//! keeps of them. The server is single-stack IPv4 with kind's service range;
//! an address or port is free when no stored Service holds it, so deleting a
//! Service releases what it had.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::{GroupResource, ResourceInfo};
use crate::store::ops::target;
use crate::store::{State, meta};

/// kind's `--service-cluster-ip-range` (kubeadm's is 10.96.0.0/12): the
/// range users of kind clusters see; the first address is the
/// `default/kubernetes` Service's.
pub(crate) const SERVICE_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 96, 0, 0), 16);

/// kube-apiserver's default `--service-node-port-range`
/// (`pkg/kubeapiserver/options/options.go` `DefaultServiceNodePortRange`).
const NODE_PORTS: (u16, u16) = (30000, 32767);

/// `v1.DefaultClientIPServiceAffinitySeconds`.
const CLIENT_IP_AFFINITY_SECONDS: u32 = 10800;

/// The address at `index` in the service range (1 is the first usable).
pub(crate) fn service_ip(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(SERVICE_CIDR.0) + index)
}

fn range_size() -> u32 {
    1 << (32 - SERVICE_CIDR.1)
}

/// Inside the range, minus its network and broadcast addresses
/// (`PrefixContainsIP`).
fn in_range(ip: Ipv4Addr) -> bool {
    let (net, bits) = SERVICE_CIDR;
    let mask = u32::MAX << (32 - bits);
    let offset = u32::from(ip).wrapping_sub(u32::from(net));
    u32::from(ip) & mask == u32::from(net) && offset != 0 && offset != range_size() - 1
}

fn needs_cluster_ip(svc: &Value) -> bool {
    svc.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
}

fn needs_node_ports(svc: &Value) -> bool {
    matches!(
        svc.pointer("/spec/type").and_then(Value::as_str),
        Some("NodePort" | "LoadBalancer")
    )
}

/// Absent, null or empty: what the defaulting and the allocated-value
/// rules treat as "left out".
fn blank(v: Option<&Value>) -> bool {
    v.is_none_or(|v| v.is_null() || v == "")
}

/// A port's node port, if one is set (0 and null mean unset).
fn node_port_of(port: &Value) -> Option<u64> {
    port.get("nodePort")
        .and_then(Value::as_u64)
        .filter(|n| *n != 0)
}

/// `SetDefaults_Service`: what every Service reads back with.
fn set_defaults(svc: &mut Value) {
    let spec = svc
        .as_object_mut()
        .expect("object")
        .entry("spec")
        .or_insert_with(|| json!({}));
    if spec.is_null() {
        *spec = json!({});
    }
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    if blank(spec.get("sessionAffinity")) {
        spec.insert("sessionAffinity".into(), "None".into());
    }
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("None") {
        spec.remove("sessionAffinityConfig");
    } else if spec
        .get("sessionAffinityConfig")
        .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
        .is_none()
    {
        let config = spec
            .entry("sessionAffinityConfig")
            .or_insert_with(|| json!({}));
        if let Some(config) = config.as_object_mut() {
            let client_ip = config.entry("clientIP").or_insert_with(|| json!({}));
            if let Some(c) = client_ip.as_object_mut() {
                c.insert("timeoutSeconds".into(), CLIENT_IP_AFFINITY_SECONDS.into());
            }
        }
    }
    if blank(spec.get("type")) {
        spec.insert("type".into(), "ClusterIP".into());
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if blank(port.get("protocol")) {
                port.insert("protocol".into(), "TCP".into());
            }
            let unset = port
                .get("targetPort")
                .is_none_or(|t| t.is_null() || t == 0 || t == "");
            if unset && let Some(p) = port.get("port").cloned() {
                port.insert("targetPort".into(), p);
            }
        }
    }
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_reachable =
        matches!(ty.as_str(), "NodePort" | "LoadBalancer") || (ty == "ClusterIP" && external_ips);
    if externally_reachable && blank(spec.get("externalTrafficPolicy")) {
        spec.insert("externalTrafficPolicy".into(), "Cluster".into());
    }
    if ty != "ExternalName" && blank(spec.get("internalTrafficPolicy")) {
        spec.insert("internalTrafficPolicy".into(), "Cluster".into());
    }
    if ty == "LoadBalancer" && spec.get("allocateLoadBalancerNodePorts").is_none() {
        spec.insert("allocateLoadBalancerNodePorts".into(), true.into());
    }
}

/// What the stored Services other than `skip` hold.
fn taken(st: &State, skip: &(String, String)) -> (BTreeSet<Ipv4Addr>, BTreeSet<u16>) {
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    if let Some(rs) = st.resources.get(&GroupResource::new("", "services")) {
        for (_, svc) in rs.objects.iter().filter(|(k, _)| *k != skip) {
            let listed = svc
                .pointer("/spec/clusterIPs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            for ip in listed
                .chain(svc.pointer("/spec/clusterIP"))
                .filter_map(Value::as_str)
            {
                if let Ok(ip) = ip.parse() {
                    ips.insert(ip);
                }
            }
            for port in svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(n) = node_port_of(port) {
                    ports.insert(n as u16);
                }
            }
            if let Some(n) = svc
                .pointer("/spec/healthCheckNodePort")
                .and_then(Value::as_u64)
            {
                ports.insert(n as u16);
            }
        }
    }
    (ips, ports)
}

/// A free index in `[lo, hi]`, tried from a random point of the upper part
/// first and the lower part after, as the allocators do (the lower part is
/// left to addresses and ports chosen by hand). `offset` splits the two.
fn pick(lo: u32, hi: u32, offset: u32, free: impl Fn(u32) -> bool) -> Option<u32> {
    let split = (lo + offset).min(hi);
    let start = rand::random_range(split..=hi);
    (start..=hi)
        .chain(split..start)
        .chain(lo..split)
        .find(|i| free(*i))
}

fn invalid(info: &ResourceInfo, name: &str, field: &str, detail: String) -> ApiError {
    ApiError::invalid(
        &info.kind,
        target(info, name),
        &[(field.to_string(), detail)],
    )
}

/// `[]string{"10.96.0.10"}`: how Go prints the bad value of `clusterIPs`.
pub(crate) fn go_strings(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// Defaults and allocation on create.
pub(crate) fn prepare_create(
    st: &State,
    info: &ResourceInfo,
    svc: &mut Value,
) -> Result<(), ApiError> {
    set_defaults(svc);
    let name = meta::name(svc).to_string();
    let key = meta::key(svc);
    let (ips, ports) = taken(st, &key);
    allocate_cluster_ip(info, &name, svc, &ips)?;
    allocate_node_ports(info, &name, svc, &ports)?;
    meta::set_path(svc, ".status", json!({"loadBalancer": {}}));
    Ok(())
}

fn allocate_cluster_ip(
    info: &ResourceInfo,
    name: &str,
    svc: &mut Value,
    taken: &BTreeSet<Ipv4Addr>,
) -> Result<(), ApiError> {
    let spec = svc.get("spec").cloned().unwrap_or(Value::Null);
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if ty == "ExternalName" {
        return Ok(());
    }
    let requested = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| {
            spec.pointer("/clusterIPs/0")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let has_selector = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_some_and(|s| !s.is_empty());
    if requested.as_deref() == Some("None") {
        // Headless: no address. Without a selector kube-apiserver asks for
        // both families even on a single-stack cluster (`initIPFamilyFields`).
        meta::set_path(svc, ".spec.clusterIP", "None".into());
        meta::set_path(svc, ".spec.clusterIPs", json!(["None"]));
        if has_selector {
            set_families(svc, "SingleStack", json!(["IPv4"]));
        } else {
            set_families(svc, "RequireDualStack", json!(["IPv4", "IPv6"]));
        }
        return Ok(());
    }
    let ip = match requested {
        Some(text) => {
            let fail = |why: &str| {
                invalid(
                    info,
                    name,
                    "spec.clusterIPs",
                    format!(
                        "Invalid value: {}: failed to allocate IP {text}: {why}",
                        go_strings(std::slice::from_ref(&text))
                    ),
                )
            };
            let ip: Ipv4Addr = text
                .parse()
                .map_err(|_| fail("the provided network does not match the current range"))?;
            if !in_range(ip) {
                return Err(fail(
                    "the provided network does not match the current range",
                ));
            }
            if taken.contains(&ip) {
                return Err(fail("provided IP is already allocated"));
            }
            ip
        }
        None => {
            let size = range_size();
            // ipallocator's `calculateRangeOffset`: min(max(16, size/16), 256).
            let offset = (size / 16).clamp(16, 256);
            let index = pick(1, size - 2, offset, |i| !taken.contains(&service_ip(i))).ok_or_else(
                || {
                    ApiError::internal(
                        "Internal error occurred: failed to allocate a serviceIP: range is full",
                    )
                },
            )?;
            service_ip(index)
        }
    };
    meta::set_path(svc, ".spec.clusterIP", ip.to_string().into());
    meta::set_path(svc, ".spec.clusterIPs", json!([ip.to_string()]));
    set_families(svc, "SingleStack", json!(["IPv4"]));
    Ok(())
}

fn set_families(svc: &mut Value, policy: &str, families: Value) {
    if meta::path(svc, ".spec.ipFamilyPolicy").is_none_or(Value::is_null) {
        meta::set_path(svc, ".spec.ipFamilyPolicy", policy.into());
    }
    if meta::path(svc, ".spec.ipFamilies").is_none_or(Value::is_null) {
        meta::set_path(svc, ".spec.ipFamilies", families);
    }
}

fn allocate_node_ports(
    info: &ResourceInfo,
    name: &str,
    svc: &mut Value,
    taken: &BTreeSet<u16>,
) -> Result<(), ApiError> {
    let ty = meta::path(svc, ".spec.type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let wants = match ty.as_str() {
        "NodePort" => true,
        "LoadBalancer" => {
            meta::path(svc, ".spec.allocateLoadBalancerNodePorts").and_then(Value::as_bool)
                != Some(false)
        }
        _ => false,
    };
    let mut used = taken.clone();
    let Some(ports) = svc.pointer_mut("/spec/ports").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    // Requested ports first, so a dynamic one never takes a requested one.
    for (i, port) in ports.iter().enumerate() {
        let Some(n) = node_port_of(port) else {
            continue;
        };
        let field = format!("spec.ports[{i}].nodePort");
        if !(NODE_PORTS.0 as u64..=NODE_PORTS.1 as u64).contains(&n) {
            return Err(invalid(
                info,
                name,
                &field,
                format!(
                    "Invalid value: {n}: provided port is not in the valid range. The range of valid ports is {}-{}",
                    NODE_PORTS.0, NODE_PORTS.1
                ),
            ));
        }
        if !used.insert(n as u16) {
            return Err(invalid(
                info,
                name,
                &field,
                format!("Invalid value: {n}: provided port is already allocated"),
            ));
        }
    }
    if !wants {
        return Ok(());
    }
    // Ports with the same number share one node port.
    let mut by_port: Vec<(u64, u16)> = Vec::new();
    for port in ports.iter() {
        if let (Some(p), Some(n)) = (port.get("port").and_then(Value::as_u64), node_port_of(port)) {
            by_port.push((p, n as u16));
        }
    }
    let (lo, hi) = (NODE_PORTS.0 as u32, NODE_PORTS.1 as u32);
    // portallocator's offset: min(max(16, size/32), 128).
    let offset = ((hi - lo + 1) / 32).clamp(16, 128);
    for port in ports.iter_mut() {
        if node_port_of(port).is_some() {
            continue;
        }
        let Some(port) = port.as_object_mut() else {
            continue;
        };
        let number = port.get("port").and_then(Value::as_u64).unwrap_or(0);
        let n = match by_port.iter().find(|(p, _)| *p == number) {
            Some((_, n)) => *n,
            None => {
                let n = pick(lo, hi, offset, |n| !used.contains(&(n as u16))).ok_or_else(|| {
                    ApiError::internal(
                        "Internal error occurred: failed to allocate a nodePort: range is full",
                    )
                })? as u16;
                used.insert(n);
                by_port.push((number, n));
                n
            }
        };
        port.insert("nodePort".into(), n.into());
    }
    Ok(())
}

/// On update, as `patchAllocatedValues` and `dropTypeDependentFields` do:
/// what the client left out of the allocated fields is kept while the type
/// still needs it (node ports matched by port name, never one another port
/// now uses), what a new type no longer needs goes when the client left it
/// as it was, and a cluster IP never changes once set.
pub(crate) fn prepare_update(
    st: &State,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
) -> Result<(), ApiError> {
    set_defaults(new);
    let name = meta::name(old).to_string();
    const IP_FIELDS: [&str; 4] = ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"];
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        for f in IP_FIELDS {
            let at = format!("/spec/{f}");
            if blank(new.pointer(&at))
                && let Some(v) = old.pointer(&at)
            {
                meta::set_path(new, &format!(".spec.{f}"), v.clone());
            }
        }
        if let (Some(Value::String(was)), Some(now)) = (
            old.pointer("/spec/clusterIP"),
            new.pointer("/spec/clusterIP"),
        ) && Some(was.as_str()) != now.as_str()
        {
            // `validateUpgradeDowngradeClusterIPs`.
            let shown = now.as_str().map_or_else(|| now.to_string(), str::to_string);
            return Err(invalid(
                info,
                &name,
                "spec.clusterIPs[0]",
                format!(
                    "Invalid value: {}: may not change once set",
                    go_strings(std::slice::from_ref(&shown))
                ),
            ));
        }
    } else if !needs_cluster_ip(new) {
        for f in IP_FIELDS {
            let at = format!("/spec/{f}");
            if new.pointer(&at) == old.pointer(&at)
                && let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut)
            {
                spec.remove(f);
            }
        }
    }
    let old_ports: Vec<(String, u64)> = old
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            Some((name.to_string(), node_port_of(p)?))
        })
        .collect();
    let keep = needs_node_ports(old) && needs_node_ports(new);
    let drop = needs_node_ports(old) && !needs_node_ports(new);
    if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
        let used: BTreeSet<u64> = ports.iter().filter_map(node_port_of).collect();
        for port in ports.iter_mut() {
            let given = node_port_of(port);
            let Some(port) = port.as_object_mut() else {
                continue;
            };
            let port_name = port
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let was = old_ports
                .iter()
                .find(|(n, _)| *n == port_name)
                .map(|(_, p)| *p);
            match (given, was) {
                (None, Some(p)) if keep && !used.contains(&p) => {
                    port.insert("nodePort".into(), p.into());
                }
                (Some(g), Some(p)) if drop && g == p => {
                    port.remove("nodePort");
                }
                _ => {}
            }
        }
    }
    let spec_ip = new.pointer("/spec/clusterIP").cloned();
    if let Some(Value::String(ip)) = &spec_ip
        && blank(new.pointer("/spec/clusterIPs"))
    {
        // `normalizeClusterIPs`: the list follows the single field.
        meta::set_path(new, ".spec.clusterIPs", json!([ip]));
    }
    let key = meta::key(old);
    let (ips, taken_ports) = taken(st, &key);
    if needs_cluster_ip(new) && blank(new.pointer("/spec/clusterIP")) {
        allocate_cluster_ip(info, &name, new, &ips)?;
    }
    allocate_node_ports(info, &name, new, &taken_ports)?;
    Ok(())
}

/// The Service kube-apiserver keeps for itself
/// (`pkg/controlplane/controller/kubernetesservice`): the range's first
/// address, port 443 to the secure port.
pub(crate) fn kubernetes_service(secure_port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "clusterIP": service_ip(1).to_string(),
            "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": secure_port}],
        },
    })
}

/// Its Endpoints (`pkg/controlplane/reconcilers/endpointsadapter.go`).
pub(crate) fn kubernetes_endpoints(address: Ipv4Addr, secure_port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": address.to_string()}],
            "ports": [{"name": "https", "port": secure_port, "protocol": "TCP"}],
        }],
    })
}
