//! core/v1 tables (`printPod`, `printService`, `printNamespace`,
//! `printPersistentVolumeClaim`, `printPersistentVolume`, `printEvent`,
//! `printConfigMap`, `printSecret`, `printServiceAccount`, `printNode`,
//! `printEndpoints`, `printReplicationController`, `printPodTemplate`,
//! `printResourceQuota`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, age_of, containers, format_labels, n, or_none, s, strings};
use crate::store::meta;

pub(super) fn printer(plural: &str) -> Option<Printer> {
    Some(match plural {
        "pods" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "integer", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
            ],
            cells: pod_cells,
        },
        "services" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Type", "string", 0),
                ("Cluster-IP", "string", 0),
                ("External-IP", "string", 0),
                ("Port(s)", "string", 0),
                ("Age", "string", 0),
                ("Selector", "string", 1),
            ],
            cells: service_cells,
        },
        "namespaces" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/status/phase").into(),
                    age(o, now),
                ]
            },
        },
        "persistentvolumeclaims" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Volume", "string", 0),
                ("Capacity", "string", 0),
                ("Access Modes", "string", 0),
                ("StorageClass", "string", 0),
                ("VolumeAttributesClass", "string", 0),
                ("Age", "string", 0),
                ("VolumeMode", "string", 1),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/status/phase").into(),
                    s(o, "/spec/volumeName").into(),
                    s(o, "/status/capacity/storage").into(),
                    access_modes(o, "/status/accessModes").into(),
                    or_none(s(o, "/spec/storageClassName")),
                    or_none(s(o, "/spec/volumeAttributesClassName")),
                    age(o, now),
                    s(o, "/spec/volumeMode").into(),
                ]
            },
        },
        "persistentvolumes" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Capacity", "string", 0),
                ("Access Modes", "string", 0),
                ("Reclaim Policy", "string", 0),
                ("Status", "string", 0),
                ("Claim", "string", 0),
                ("StorageClass", "string", 0),
                ("VolumeAttributesClass", "string", 0),
                ("Reason", "string", 0),
                ("Age", "string", 0),
                ("VolumeMode", "string", 1),
            ],
            cells: persistent_volume,
        },
        "events" => Printer {
            columns: &[
                ("Last Seen", "string", 0),
                ("Type", "string", 0),
                ("Reason", "string", 0),
                ("Object", "string", 0),
                ("Message", "string", 0),
                ("Name", "string", 1),
            ],
            cells: event,
        },
        "configmaps" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Data", "integer", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                let count = len(o, "/data") + len(o, "/binaryData");
                vec![meta::name(o).into(), count.into(), age(o, now)]
            },
        },
        "secrets" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Type", "string", 0),
                ("Data", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/type").into(),
                    len(o, "/data").into(),
                    age(o, now),
                ]
            },
        },
        "serviceaccounts" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Secrets", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| vec![meta::name(o).into(), len(o, "/secrets").into(), age(o, now)],
        },
        "nodes" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Roles", "string", 0),
                ("Age", "string", 0),
                ("Version", "string", 0),
                ("Internal-IP", "string", 1),
                ("External-IP", "string", 1),
                ("OS-Image", "string", 1),
                ("Kernel-Version", "string", 1),
                ("Container-Runtime", "string", 1),
            ],
            cells: node,
        },
        "endpoints" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Endpoints", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| vec![meta::name(o).into(), endpoints(o).into(), age(o, now)],
        },
        "replicationcontrollers" => Printer {
            columns: super::REPLICA_COLUMNS,
            cells: |o, now| {
                super::replica_cells(o, now, format_labels(o.pointer("/spec/selector")))
            },
        },
        "podtemplates" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Containers", "string", 0),
                ("Images", "string", 0),
                ("Pod Labels", "string", 0),
            ],
            cells: |o, _| {
                let (names, images) = containers(o, "/template/spec/containers");
                vec![
                    meta::name(o).into(),
                    names.into(),
                    images.into(),
                    format_labels(o.pointer("/template/metadata/labels")).into(),
                ]
            },
        },
        "resourcequotas" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Request", "string", 0),
                ("Limit", "string", 0),
                ("Age", "string", 0),
            ],
            cells: resource_quota,
        },
        _ => return None,
    })
}

fn len(o: &Value, ptr: &str) -> usize {
    match o.pointer(ptr) {
        Some(Value::Object(m)) => m.len(),
        Some(Value::Array(a)) => a.len(),
        _ => 0,
    }
}

fn pod_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum();
    let waiting = statuses.iter().find_map(|c| {
        c.pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .map(String::from)
    });
    let status = if meta::deletion_timestamp(o).is_some() {
        "Terminating".to_string()
    } else if let Some(w) = waiting {
        w
    } else {
        let phase = s(o, "/status/phase");
        let reason = s(o, "/status/reason");
        if reason.is_empty() { phase } else { reason }
    };
    vec![
        meta::name(o).into(),
        format!("{ready}/{total}").into(),
        status.into(),
        restarts.into(),
        age(o, now),
        or_none(s(o, "/status/podIP")),
        or_none(s(o, "/spec/nodeName")),
    ]
}

/// `printService` (`pkg/printers/internalversion/printers.go`): the first
/// cluster IP, the external addresses by type (`getServiceExternalIP`),
/// `port[:nodePort]/protocol` per port (`makePortString`) and the selector
/// as `labels.FormatLabels` writes it.
fn service_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let strings = |ptr: &str| -> Vec<String> {
        o.pointer(ptr)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let cluster_ip = strings("/spec/clusterIPs")
        .into_iter()
        .next()
        .unwrap_or_else(|| "<none>".into());
    let external = strings("/spec/externalIPs");
    let ty = s(o, "/spec/type");
    let external_ip = match ty.as_str() {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            // `loadBalancerStatusStringer`, wide: each ingress's IP, else its hostname.
            let mut all: Vec<String> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    let set = |k: &str| i.get(k).and_then(Value::as_str).filter(|v| !v.is_empty());
                    set("ip").or_else(|| set("hostname")).map(str::to_string)
                })
                .collect();
            // A sorted set, as `sets.List` returns it.
            all.sort();
            all.dedup();
            all.extend(external);
            if all.is_empty() {
                "<pending>".into()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(o, "/spec/externalName"),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let port = n(p, "/port");
            let protocol = s(p, "/protocol");
            match n(p, "/nodePort") {
                0 => format!("{port}/{protocol}"),
                node => format!("{port}:{node}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    let mut selector: Vec<String> = o
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    selector.sort();
    let selector = if selector.is_empty() {
        "<none>".to_string()
    } else {
        selector.join(",")
    };
    vec![
        meta::name(o).into(),
        ty.into(),
        cluster_ip.into(),
        external_ip.into(),
        ports.into(),
        age(o, now),
        selector.into(),
    ]
}

fn event(o: &Value, now: Timestamp) -> Vec<Value> {
    let last = [
        s(o, "/lastTimestamp"),
        s(o, "/eventTime"),
        s(o, "/metadata/creationTimestamp"),
    ]
    .into_iter()
    .find(|t| !t.is_empty())
    .unwrap_or_default();
    vec![
        age_of(&last, now),
        s(o, "/type").into(),
        s(o, "/reason").into(),
        format!(
            "{}/{}",
            s(o, "/involvedObject/kind").to_lowercase(),
            s(o, "/involvedObject/name")
        )
        .into(),
        s(o, "/message").into(),
        meta::name(o).into(),
    ]
}

/// RWO, ROX, RWX, RWOP in that order, each once.
fn access_modes(o: &Value, ptr: &str) -> String {
    let modes = strings(o, ptr);
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .into_iter()
    .filter(|(mode, _)| modes.iter().any(|m| m == mode))
    .map(|(_, short)| short)
    .collect::<Vec<_>>()
    .join(",")
}

fn persistent_volume(o: &Value, now: Timestamp) -> Vec<Value> {
    let status = if meta::deletion_timestamp(o).is_some() {
        "Terminating".to_string()
    } else {
        s(o, "/status/phase")
    };
    let claim = match o.pointer("/spec/claimRef").filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", s(c, "/namespace"), s(c, "/name")),
        None => String::new(),
    };
    let class = o
        .pointer("/metadata/annotations")
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
        .map_or_else(|| s(o, "/spec/storageClassName"), String::from);
    let capacity = s(o, "/spec/capacity/storage");
    let unset = |v: String| {
        if v.is_empty() {
            "<unset>".to_string()
        } else {
            v
        }
    };
    vec![
        meta::name(o).into(),
        if capacity.is_empty() {
            "0".to_string()
        } else {
            capacity
        }
        .into(),
        access_modes(o, "/spec/accessModes").into(),
        s(o, "/spec/persistentVolumeReclaimPolicy").into(),
        status.into(),
        claim.into(),
        class.into(),
        unset(s(o, "/spec/volumeAttributesClassName")).into(),
        s(o, "/status/reason").into(),
        age(o, now),
        unset(s(o, "/spec/volumeMode")).into(),
    ]
}

/// Ready from the last Ready condition, plus SchedulingDisabled; roles
/// from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.
fn node(o: &Value, now: Timestamp) -> Vec<Value> {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .rfind(|c| c.get("type").and_then(Value::as_str) == Some("Ready"));
    let mut status = vec![match ready {
        None => "Unknown",
        Some(c) if c.get("status").and_then(Value::as_str) == Some("True") => "Ready",
        Some(_) => "NotReady",
    }];
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role.to_string()),
            _ if k == "kubernetes.io/role" => {
                v.as_str().filter(|r| !r.is_empty()).map(String::from)
            }
            _ => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    let address = |ty: &str| {
        o.pointer("/status/addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(ty))
            .map(|a| s(a, "/address"))
            .unwrap_or_else(|| "<none>".to_string())
    };
    let unknown = |v: String| {
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v
        }
    };
    vec![
        meta::name(o).into(),
        status.join(",").into(),
        or_none(roles.join(",")),
        age(o, now),
        s(o, "/status/nodeInfo/kubeletVersion").into(),
        address("InternalIP").into(),
        address("ExternalIP").into(),
        unknown(s(o, "/status/nodeInfo/osImage")).into(),
        unknown(s(o, "/status/nodeInfo/kernelVersion")).into(),
        unknown(s(o, "/status/nodeInfo/containerRuntimeVersion")).into(),
    ]
}

/// `formatEndpoints`: ready addresses with each port, at most three.
fn endpoints(o: &Value) -> String {
    let Some(subsets) = o
        .get("subsets")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
    else {
        return "<none>".to_string();
    };
    let (mut shown, mut count) = (Vec::new(), 0usize);
    for subset in subsets {
        let ips = strings_of(subset, "/addresses", "ip");
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| n(p, "/port"))
            .collect();
        if ports.is_empty() {
            for ip in &ips {
                if shown.len() < 3 {
                    shown.push(ip.clone());
                }
            }
            count += ips.len();
        } else {
            for port in &ports {
                for ip in &ips {
                    if shown.len() < 3 {
                        shown.push(if ip.contains(':') {
                            format!("[{ip}]:{port}")
                        } else {
                            format!("{ip}:{port}")
                        });
                    }
                }
                count += ips.len();
            }
        }
    }
    if count > 3 {
        format!("{} + {} more...", shown.join(","), count - 3)
    } else {
        shown.join(",")
    }
}

fn strings_of(o: &Value, ptr: &str, field: &str) -> Vec<String> {
    o.pointer(ptr)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get(field).and_then(Value::as_str).map(String::from))
        .collect()
}

/// `resource: used/hard` per hard limit, `limits.*` in Limit, the rest in
/// Request.
fn resource_quota(o: &Value, now: Timestamp) -> Vec<Value> {
    let mut hard: Vec<(String, String)> = o
        .pointer("/status/hard")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    hard.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for (resource, limit) in hard {
        let used = o
            .pointer("/status/used")
            .and_then(|u| u.get(&resource))
            .and_then(Value::as_str)
            .unwrap_or("0")
            .to_string();
        let entry = format!("{resource}: {used}/{limit}");
        let parts: Vec<&str> = resource.split('.').collect();
        if parts.len() > 1 && parts[0] == "limits" {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        meta::name(o).into(),
        requests.join(", ").into(),
        limits.join(", ").into(),
        age(o, now),
    ]
}
