//! apps/v1 tables (`printDeployment`, `printStatefulSet`, `printDaemonSet`,
//! `printReplicaSet`, `printControllerRevision`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, containers, format_selector, n, s};
use crate::store::meta;

pub(super) fn printer(plural: &str) -> Option<Printer> {
    Some(match plural {
        "deployments" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "integer", 0),
                ("Available", "integer", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
            cells: deployment,
        },
        "statefulsets" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
            ],
            cells: stateful_set,
        },
        "daemonsets" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Desired", "integer", 0),
                ("Current", "integer", 0),
                ("Ready", "integer", 0),
                ("Up-to-date", "integer", 0),
                ("Available", "integer", 0),
                ("Node Selector", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
            cells: daemon_set,
        },
        "replicasets" => Printer {
            columns: super::REPLICA_COLUMNS,
            cells: replica_set,
        },
        "controllerrevisions" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Controller", "string", 0),
                ("Revision", "string", 0),
                ("Age", "string", 0),
            ],
            cells: controller_revision,
        },
        _ => return None,
    })
}

/// READY as `ready/desired`.
fn ready(o: &Value) -> String {
    format!(
        "{}/{}",
        n(o, "/status/readyReplicas"),
        n(o, "/spec/replicas")
    )
}

fn deployment(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        meta::name(o).into(),
        ready(o).into(),
        n(o, "/status/updatedReplicas").into(),
        n(o, "/status/availableReplicas").into(),
        age(o, now),
        names.into(),
        images.into(),
        format_selector(o.pointer("/spec/selector")).into(),
    ]
}

fn stateful_set(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        meta::name(o).into(),
        ready(o).into(),
        age(o, now),
        names.into(),
        images.into(),
    ]
}

fn daemon_set(o: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        meta::name(o).into(),
        n(o, "/status/desiredNumberScheduled").into(),
        n(o, "/status/currentNumberScheduled").into(),
        n(o, "/status/numberReady").into(),
        n(o, "/status/updatedNumberScheduled").into(),
        n(o, "/status/numberAvailable").into(),
        super::format_labels(o.pointer("/spec/template/spec/nodeSelector")).into(),
        age(o, now),
        names.into(),
        images.into(),
        format_selector(o.pointer("/spec/selector")).into(),
    ]
}

fn replica_set(o: &Value, now: Timestamp) -> Vec<Value> {
    super::replica_cells(o, now, format_selector(o.pointer("/spec/selector")))
}

/// The controlling owner as `kind.group/name`, lower-cased.
fn controller_revision(o: &Value, now: Timestamp) -> Vec<Value> {
    let owner = o
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(r) => {
            let api_version = s(r, "/apiVersion");
            let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let kind = s(r, "/kind");
            let name = s(r, "/name");
            match (kind.is_empty(), group.is_empty()) {
                (true, true) => name,
                (_, true) => format!("{}/{name}", kind.to_lowercase()),
                _ => format!("{}/{name}", format!("{kind}.{group}").to_lowercase()),
            }
        }
    };
    vec![
        meta::name(o).into(),
        controller.into(),
        n(o, "/revision").into(),
        age(o, now),
    ]
}
