//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get` (CRD
//! printer columns, or the columns kube-apiserver's
//! `pkg/printers/internalversion/printers.go` prints for a built-in kind,
//! one module per API group) and PartialObjectMetadata for metadata-only
//! clients. The server builds every table wide (`GenerateOptions{Wide:
//! true}`); kubectl hides priority-1 columns unless asked for `-o wide`.

mod apps;
mod batch;
mod cluster;
mod core;
mod networking;
mod rbac;
mod storage;

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

type Cells = fn(&Value, Timestamp) -> Vec<Value>;

/// A built-in kind's columns (name, type, priority) and how its cells are
/// computed.
struct Printer {
    columns: &'static [(&'static str, &'static str, i64)],
    cells: Cells,
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

fn strings(obj: &Value, ptr: &str) -> Vec<String> {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
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

/// `layoutContainerCells`: names and images, comma-joined.
fn containers(obj: &Value, ptr: &str) -> (String, String) {
    let list = obj.pointer(ptr).and_then(Value::as_array);
    let field = |f: &str| {
        list.into_iter()
            .flatten()
            .map(|c| s(c, f))
            .collect::<Vec<_>>()
            .join(",")
    };
    (field("/name"), field("/image"))
}

/// `labels.FormatLabels`: sorted `k=v`, comma-joined, `<none>` if empty.
fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// `metav1.FormatLabelSelector`: requirements sorted by key; `k=v`,
/// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; `<none>` if empty.
fn format_selector(selector: Option<&Value>) -> String {
    let Some(sel) = selector.filter(|s| s.is_object()) else {
        return "<none>".to_string();
    };
    let mut reqs: Vec<(String, String)> = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())))
        .collect();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = s(e, "/key");
        let mut values = strings(e, "/values");
        values.sort();
        let text = match s(e, "/operator").as_str() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            _ => return "<error>".to_string(),
        };
        reqs.push((key, text));
    }
    reqs.sort();
    if reqs.is_empty() {
        "<none>".to_string()
    } else {
        reqs.into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `listWithMoreString`: three entries, then `+ N more...`; `<unset>` if
/// none.
fn list_with_more(items: &[String]) -> String {
    match items.len() {
        0 => "<unset>".to_string(),
        1..=3 => items.join(","),
        n => format!("{} + {} more...", items[..3].join(","), n - 3),
    }
}

/// ReplicaSets and ReplicationControllers print alike.
const REPLICA_COLUMNS: &[(&str, &str, i64)] = &[
    ("Name", "string", 0),
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
];

fn replica_cells(o: &Value, now: Timestamp, selector: String) -> Vec<Value> {
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        meta::name(o).into(),
        n(o, "/spec/replicas").into(),
        n(o, "/status/replicas").into(),
        n(o, "/status/readyReplicas").into(),
        age(o, now),
        names.into(),
        images.into(),
        selector.into(),
    ]
}

/// The columns of a built-in kind with a printer.
fn builtin(info: &ResourceInfo) -> Option<(Vec<PrinterColumn>, Cells)> {
    let (group, plural) = (info.group.as_str(), info.plural.as_str());
    let printer = match group {
        "" => core::printer(plural),
        "apps" => apps::printer(plural),
        "batch" => batch::printer(plural),
        "rbac.authorization.k8s.io" => rbac::printer(plural),
        "storage.k8s.io" => storage::printer(plural),
        "networking.k8s.io" | "discovery.k8s.io" => networking::printer(group, plural),
        _ => cluster::printer(group, plural),
    }?;
    let columns = printer
        .columns
        .iter()
        .map(|(n, t, p)| col(n, t, *p))
        .collect();
    Some((columns, printer.cells))
}

/// `rest.NewDefaultTableConvertor`, for kinds without a printer (roles,
/// limit ranges, CRDs and the rest): the name and the creation time.
fn default_columns() -> (Vec<PrinterColumn>, Cells) {
    (
        vec![col("Name", "string", 0), col("Created At", "date", 0)],
        |o, _| {
            vec![
                meta::name(o).into(),
                s(o, "/metadata/creationTimestamp").into(),
            ]
        },
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
            "type": c.type_,
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
