//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get` (CRD
//! printer columns or the built-in columns kube-apiserver prints) and
//! PartialObjectMetadata for metadata-only clients.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::clock::human_age;
use crate::registry::{PrinterColumn, ResourceInfo};
use crate::rest::Params;
use crate::store::meta;

pub(crate) fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

fn col(name: &str, ty: &str, priority: i64) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: ty.into(),
        format: if name == "Name" {
            "name".into()
        } else {
            String::new()
        },
        description: String::new(),
        priority,
        json_path: String::new(),
    }
}

fn s(obj: &Value, ptr: &str) -> String {
    match obj.pointer(ptr) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

fn n(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(v: String) -> Value {
    if v.is_empty() {
        "<none>".into()
    } else {
        v.into()
    }
}

fn age(obj: &Value, now: Timestamp) -> Value {
    age_of(&s(obj, "/metadata/creationTimestamp"), now)
}

fn age_of(ts: &str, now: Timestamp) -> Value {
    match ts.parse::<Timestamp>() {
        Ok(t) => human_age(now, t).into(),
        Err(_) => "<unknown>".into(),
    }
}

type Cells = fn(&Value, Timestamp) -> Vec<Value>;

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

/// Columns and cells for the built-in kinds kubectl users look at most.
fn builtin(info: &ResourceInfo) -> Option<(Vec<PrinterColumn>, Cells)> {
    let cols = |names: &[(&str, &str, i64)]| {
        names
            .iter()
            .map(|(n, t, p)| col(n, t, *p))
            .collect::<Vec<_>>()
    };
    Some(match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => (
            cols(&[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "integer", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
            ]),
            pod_cells,
        ),
        ("", "services") => (
            cols(&[
                ("Name", "string", 0),
                ("Type", "string", 0),
                ("Cluster-IP", "string", 0),
                ("External-IP", "string", 0),
                ("Port(s)", "string", 0),
                ("Age", "string", 0),
                ("Selector", "string", 1),
            ]),
            service_cells,
        ),
        ("", "namespaces") => (
            cols(&[
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Age", "string", 0),
            ]),
            |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/status/phase").into(),
                    age(o, now),
                ]
            },
        ),
        ("", "persistentvolumeclaims") => (
            cols(&[
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Volume", "string", 0),
                ("Capacity", "string", 0),
                ("Access Modes", "string", 0),
                ("StorageClass", "string", 0),
                ("VolumeAttributesClass", "string", 0),
                ("Age", "string", 0),
                ("VolumeMode", "string", 1),
            ]),
            |o, now| {
                let modes: Vec<String> = o
                    .pointer("/status/accessModes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(|m| match m {
                                "ReadWriteOnce" => "RWO".into(),
                                "ReadOnlyMany" => "ROX".into(),
                                "ReadWriteMany" => "RWX".into(),
                                "ReadWriteOncePod" => "RWOP".into(),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                vec![
                    meta::name(o).into(),
                    s(o, "/status/phase").into(),
                    s(o, "/spec/volumeName").into(),
                    s(o, "/status/capacity/storage").into(),
                    modes.join(",").into(),
                    or_none(s(o, "/spec/storageClassName")),
                    or_none(s(o, "/spec/volumeAttributesClassName")),
                    age(o, now),
                    s(o, "/spec/volumeMode").into(),
                ]
            },
        ),
        ("apps", "statefulsets") => (
            cols(&[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Age", "string", 0),
            ]),
            |o, now| {
                vec![
                    meta::name(o).into(),
                    format!(
                        "{}/{}",
                        n(o, "/status/readyReplicas"),
                        n(o, "/spec/replicas")
                    )
                    .into(),
                    age(o, now),
                ]
            },
        ),
        ("apps", "deployments") => (
            cols(&[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "integer", 0),
                ("Available", "integer", 0),
                ("Age", "string", 0),
            ]),
            |o, now| {
                vec![
                    meta::name(o).into(),
                    format!(
                        "{}/{}",
                        n(o, "/status/readyReplicas"),
                        n(o, "/spec/replicas")
                    )
                    .into(),
                    n(o, "/status/updatedReplicas").into(),
                    n(o, "/status/availableReplicas").into(),
                    age(o, now),
                ]
            },
        ),
        ("", "events") => (
            cols(&[
                ("Last Seen", "string", 0),
                ("Type", "string", 0),
                ("Reason", "string", 0),
                ("Object", "string", 0),
                ("Message", "string", 0),
                ("Name", "string", 1),
            ]),
            |o, now| {
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
            },
        ),
        ("coordination.k8s.io", "leases") => (
            cols(&[
                ("Name", "string", 0),
                ("Holder", "string", 0),
                ("Age", "string", 0),
            ]),
            |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/spec/holderIdentity").into(),
                    age(o, now),
                ]
            },
        ),
        ("", "configmaps") => (
            cols(&[
                ("Name", "string", 0),
                ("Data", "integer", 0),
                ("Age", "string", 0),
            ]),
            |o, now| {
                let count = o
                    .get("data")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
                    + o.get("binaryData")
                        .and_then(Value::as_object)
                        .map_or(0, |m| m.len());
                vec![meta::name(o).into(), count.into(), age(o, now)]
            },
        ),
        ("apiextensions.k8s.io", "customresourcedefinitions") => (
            cols(&[("Name", "string", 0), ("Created At", "date", 0)]),
            |o, _| {
                vec![
                    meta::name(o).into(),
                    s(o, "/metadata/creationTimestamp").into(),
                ]
            },
        ),
        _ => return None,
    })
}

fn default_columns() -> (Vec<PrinterColumn>, Cells) {
    (
        vec![col("Name", "string", 0), col("Age", "string", 0)],
        |o, now| vec![meta::name(o).into(), age(o, now)],
    )
}

/// Evaluates the JSONPath subset printer columns use: `.a.b`, `.a[0]`,
/// `.a[?(@.type=="Ready")].status`.
pub(crate) fn json_path<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = obj;
    let mut rest = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = r[end + 1..].trim_start_matches('.');
            if let Ok(i) = inner.parse::<usize>() {
                cur = cur.get(i)?;
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (k, v) = f.split_once("==")?;
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                cur = cur
                    .as_array()?
                    .iter()
                    .find(|e| meta::as_selector_string(e.get(k.trim())) == v)?;
            } else {
                return None;
            }
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        cur = cur.get(&rest[..end])?;
        rest = rest[end..].trim_start_matches('.');
    }
    Some(cur)
}

fn custom_cell(c: &PrinterColumn, o: &Value, now: Timestamp) -> Value {
    match json_path(o, &c.json_path) {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(ts)) if c.type_ == "date" => age_of(ts, now),
        Some(v) => v.clone(),
    }
}

/// A Table of `objs` (one row each); `list_meta` for list responses.
pub(crate) fn table(
    info: &ResourceInfo,
    version: &str,
    objs: &[Value],
    now: Timestamp,
    params: &Params,
    list_meta: Option<Value>,
) -> Value {
    let include = params.get("includeObject").unwrap_or("Metadata");
    let (columns, rows): (Vec<PrinterColumn>, Vec<Vec<Value>>) = match info.columns(version) {
        Some(cols) if info.custom => {
            let mut all = vec![col("Name", "string", 0)];
            all.extend(cols.iter().cloned());
            let rows = objs
                .iter()
                .map(|o| {
                    let mut cells = vec![Value::from(meta::name(o))];
                    cells.extend(cols.iter().map(|c| custom_cell(c, o, now)));
                    cells
                })
                .collect();
            (all, rows)
        }
        _ => {
            let (cols, cells) = builtin(info).unwrap_or_else(default_columns);
            (cols, objs.iter().map(|o| cells(o, now)).collect())
        }
    };
    let rows: Vec<Value> = objs
        .iter()
        .zip(rows)
        .map(|(o, cells)| {
            let mut row = json!({"cells": cells});
            match include {
                "None" => {}
                "Object" => row["object"] = o.clone(),
                _ => row["object"] = partial_metadata(o),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta.unwrap_or(json!({})),
        "columnDefinitions": columns.iter().map(|c| json!({
            "name": c.name,
            "type": if c.type_ == "date" && !info.custom { "string".to_string() } else { c.type_.clone() },
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        })).collect::<Vec<_>>(),
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::json_path;
    use serde_json::json;

    #[test]
    fn printer_column_paths() {
        let o = json!({"status": {"conditions": [
            {"type": "Progressing", "status": "False"},
            {"type": "Ready", "status": "True"}
        ]}, "spec": {"ports": [{"port": 80}]}});
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(&json!("True"))
        );
        assert_eq!(json_path(&o, ".spec.ports[0].port"), Some(&json!(80)));
        assert_eq!(json_path(&o, ".spec.missing"), None);
    }
}
