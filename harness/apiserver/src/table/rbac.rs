//! rbac.authorization.k8s.io/v1 tables (`printRoleBinding`,
//! `printClusterRoleBinding`); roles have no printer, so the default
//! columns apply.

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, s};
use crate::store::meta;

pub(super) fn printer(plural: &str) -> Option<Printer> {
    matches!(plural, "rolebindings" | "clusterrolebindings").then_some(Printer {
        columns: &[
            ("Name", "string", 0),
            ("Role", "string", 0),
            ("Age", "string", 0),
            ("Users", "string", 1),
            ("Groups", "string", 1),
            ("ServiceAccounts", "string", 1),
        ],
        cells: binding,
    })
}

/// `rbac.SubjectsStrings`: each kind's names, joined with ", ".
fn binding(o: &Value, now: Timestamp) -> Vec<Value> {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in o
        .get("subjects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match s(subject, "/kind").as_str() {
            "User" => users.push(s(subject, "/name")),
            "Group" => groups.push(s(subject, "/name")),
            "ServiceAccount" => accounts.push(format!(
                "{}/{}",
                s(subject, "/namespace"),
                s(subject, "/name")
            )),
            _ => {}
        }
    }
    vec![
        meta::name(o).into(),
        format!("{}/{}", s(o, "/roleRef/kind"), s(o, "/roleRef/name")).into(),
        age(o, now),
        users.join(", ").into(),
        groups.join(", ").into(),
        accounts.join(", ").into(),
    ]
}
