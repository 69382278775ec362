//! storage.k8s.io/v1 tables (`printStorageClass`, `printCSIDriver`,
//! `printVolumeAttachment`, `printCSINode`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, s, strings};
use crate::store::meta;

pub(super) fn printer(plural: &str) -> Option<Printer> {
    Some(match plural {
        "storageclasses" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Provisioner", "string", 0),
                ("ReclaimPolicy", "string", 0),
                ("VolumeBindingMode", "string", 0),
                ("AllowVolumeExpansion", "string", 0),
                ("Age", "string", 0),
            ],
            cells: storage_class,
        },
        "csidrivers" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("AttachRequired", "boolean", 0),
                ("PodInfoOnMount", "boolean", 0),
                ("StorageCapacity", "boolean", 0),
                ("TokenRequests", "string", 0),
                ("RequiresRepublish", "boolean", 0),
                ("Modes", "string", 0),
                ("Age", "string", 0),
            ],
            cells: csi_driver,
        },
        "volumeattachments" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Attacher", "string", 0),
                ("PV", "string", 0),
                ("Node", "string", 0),
                ("Attached", "boolean", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/spec/attacher").into(),
                    s(o, "/spec/source/persistentVolumeName").into(),
                    s(o, "/spec/nodeName").into(),
                    flag(o, "/status/attached", false).into(),
                    age(o, now),
                ]
            },
        },
        "csinodes" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Drivers", "integer", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                let drivers = o
                    .pointer("/spec/drivers")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                vec![meta::name(o).into(), drivers.into(), age(o, now)]
            },
        },
        _ => return None,
    })
}

fn flag(o: &Value, ptr: &str, unset: bool) -> bool {
    o.pointer(ptr).and_then(Value::as_bool).unwrap_or(unset)
}

fn storage_class(o: &Value, now: Timestamp) -> Vec<Value> {
    let default = crate::admission::storage::is_default(o);
    let mut name = meta::name(o).to_string();
    if default {
        name.push_str(" (default)");
    }
    let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
    vec![
        name.into(),
        s(o, "/provisioner").into(),
        or(s(o, "/reclaimPolicy"), "Delete").into(),
        or(s(o, "/volumeBindingMode"), "Immediate").into(),
        flag(o, "/allowVolumeExpansion", false).into(),
        age(o, now),
    ]
}

fn csi_driver(o: &Value, now: Timestamp) -> Vec<Value> {
    let tokens = match o.pointer("/spec/tokenRequests").and_then(Value::as_array) {
        None => "<unset>".to_string(),
        Some(t) => t
            .iter()
            .map(|r| s(r, "/audience"))
            .collect::<Vec<_>>()
            .join(","),
    };
    let modes = strings(o, "/spec/volumeLifecycleModes");
    vec![
        meta::name(o).into(),
        flag(o, "/spec/attachRequired", true).into(),
        flag(o, "/spec/podInfoOnMount", false).into(),
        flag(o, "/spec/storageCapacity", false).into(),
        tokens.into(),
        flag(o, "/spec/requiresRepublish", false).into(),
        super::or_none(modes.join(",")),
        age(o, now),
    ]
}
