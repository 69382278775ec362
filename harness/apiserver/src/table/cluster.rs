//! Tables of the smaller groups: policy (`printPodDisruptionBudget`),
//! scheduling (`printPriorityClass`), autoscaling/v2
//! (`printHorizontalPodAutoscaler`), node (`printRuntimeClass`),
//! coordination (`printLease`), certificates
//! (`printCertificateSigningRequest`), admissionregistration
//! (`printValidatingWebhook`, `printMutatingWebhook`,
//! `printValidatingAdmissionPolicy`, `printValidatingAdmissionPolicyBinding`)
//! apiextensions (CRDs, default columns) and apiregistration (kube-aggregator's
//! APIService table).

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, n, or_none, s};
use crate::store::meta;

pub(super) fn printer(group: &str, plural: &str) -> Option<Printer> {
    Some(match (group, plural) {
        ("policy", "poddisruptionbudgets") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Min Available", "string", 0),
                ("Max Unavailable", "string", 0),
                ("Allowed Disruptions", "integer", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                let int_or_string = |ptr: &str| match o.pointer(ptr) {
                    Some(Value::Number(v)) => v.to_string(),
                    Some(Value::String(v)) => v.clone(),
                    _ => "N/A".to_string(),
                };
                vec![
                    meta::name(o).into(),
                    int_or_string("/spec/minAvailable").into(),
                    int_or_string("/spec/maxUnavailable").into(),
                    n(o, "/status/disruptionsAllowed").into(),
                    age(o, now),
                ]
            },
        },
        ("scheduling.k8s.io", "priorityclasses") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Value", "integer", 0),
                ("Global-Default", "boolean", 0),
                ("Age", "string", 0),
                ("PreemptionPolicy", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    n(o, "/value").into(),
                    o.get("globalDefault")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .into(),
                    age(o, now),
                    s(o, "/preemptionPolicy").into(),
                ]
            },
        },
        ("autoscaling", "horizontalpodautoscalers") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Reference", "string", 0),
                ("Targets", "string", 0),
                ("MinPods", "string", 0),
                ("MaxPods", "string", 0),
                ("Replicas", "string", 0),
                ("Age", "string", 0),
            ],
            cells: hpa,
        },
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations" | "mutatingwebhookconfigurations",
        ) => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Webhooks", "integer", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    count(o, "/webhooks").into(),
                    age(o, now),
                ]
            },
        },
        ("admissionregistration.k8s.io", "validatingadmissionpolicies") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Validations", "integer", 0),
                ("ParamKind", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                let param_kind = match o.pointer("/spec/paramKind") {
                    Some(k) if k.is_object() => {
                        format!("{}/{}", s(k, "/apiVersion"), s(k, "/kind"))
                    }
                    _ => "<unset>".into(),
                };
                vec![
                    meta::name(o).into(),
                    count(o, "/spec/validations").into(),
                    param_kind.into(),
                    age(o, now),
                ]
            },
        },
        ("admissionregistration.k8s.io", "validatingadmissionpolicybindings") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("PolicyName", "string", 0),
                ("ParamRef", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                let param = match o.pointer("/spec/paramRef") {
                    Some(r) if !s(r, "/name").is_empty() => match s(r, "/namespace").as_str() {
                        "" => format!("*/{}", s(r, "/name")),
                        ns => format!("{ns}/{}", s(r, "/name")),
                    },
                    Some(r) if r.get("selector").is_some_and(Value::is_object) => {
                        crate::selectors::label_selector_string(&r["selector"])
                    }
                    _ => "<unset>".into(),
                };
                vec![
                    meta::name(o).into(),
                    s(o, "/spec/policyName").into(),
                    param.into(),
                    age(o, now),
                ]
            },
        },
        ("node.k8s.io", "runtimeclasses") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Handler", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| vec![meta::name(o).into(), s(o, "/handler").into(), age(o, now)],
        },
        ("coordination.k8s.io", "leases") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Holder", "string", 0),
                ("Age", "string", 0),
            ],
            cells: |o, now| {
                vec![
                    meta::name(o).into(),
                    s(o, "/spec/holderIdentity").into(),
                    age(o, now),
                ]
            },
        },
        ("apiregistration.k8s.io", "apiservices") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Service", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
            ],
            cells: api_service,
        },
        ("certificates.k8s.io", "certificatesigningrequests") => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Age", "string", 0),
                ("SignerName", "string", 0),
                ("Requestor", "string", 0),
                ("RequestedDuration", "string", 0),
                ("Condition", "string", 0),
            ],
            cells: csr,
        },
        _ => return None,
    })
}

/// kube-aggregator's `ConvertToTable` (pkg/registry/apiservice/etcd/etcd.go):
/// `Local` for a service the server answers itself, and the Available
/// condition's status with its reason when it is not `True`.
fn api_service(o: &Value, now: Timestamp) -> Vec<Value> {
    let service = match o.pointer("/spec/service").filter(|s| !s.is_null()) {
        None => "Local".to_string(),
        Some(_) => format!(
            "{}/{}",
            s(o, "/spec/service/namespace"),
            s(o, "/spec/service/name")
        ),
    };
    let available = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Available"))
        .map_or_else(
            || "Unknown".to_string(),
            |c| {
                let status = s(c, "/status");
                let reason = s(c, "/reason");
                if status == "True" || reason.is_empty() {
                    status
                } else {
                    format!("{status} ({reason})")
                }
            },
        );
    vec![
        meta::name(o).into(),
        service.into(),
        available.into(),
        age(o, now),
    ]
}

/// `formatHPAMetrics`: the first two metrics as `current/target`.
fn hpa(o: &Value, now: Timestamp) -> Vec<Value> {
    let specs: Vec<&Value> = o
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    let targets = if specs.is_empty() {
        "<none>".to_string()
    } else {
        let current = o
            .pointer("/status/currentMetrics")
            .and_then(Value::as_array);
        let cells: Vec<String> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let cur = current.and_then(|c| c.get(i));
                metric(spec, cur)
            })
            .collect();
        let mut shown = cells[..cells.len().min(2)].join(", ");
        if cells.len() > 2 {
            shown = format!("{shown} + {} more...", cells.len() - 2);
        }
        shown
    };
    let min = match o.pointer("/spec/minReplicas").and_then(Value::as_i64) {
        Some(m) => m.to_string(),
        None => "<unset>".to_string(),
    };
    vec![
        meta::name(o).into(),
        format!(
            "{}/{}",
            s(o, "/spec/scaleTargetRef/kind"),
            s(o, "/spec/scaleTargetRef/name")
        )
        .into(),
        targets.into(),
        min.into(),
        n(o, "/spec/maxReplicas").into(),
        n(o, "/status/currentReplicas").into(),
        age(o, now),
    ]
}

fn metric(spec: &Value, current: Option<&Value>) -> String {
    let quantity = |v: Option<&Value>, ptr: &str| match v.and_then(|v| v.pointer(ptr)) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(q)) => q.to_string(),
        _ => "<unknown>".to_string(),
    };
    let kind = s(spec, "/type");
    let key = match kind.as_str() {
        "External" => "external",
        "Pods" => "pods",
        "Object" => "object",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".to_string(),
    };
    let target = spec.get(key);
    let cur = current.and_then(|c| c.get(key));
    let has = |ptr: &str| target.and_then(|t| t.pointer(ptr)).is_some();
    match kind.as_str() {
        "Pods" => format!(
            "{}/{}",
            quantity(cur, "/current/averageValue"),
            quantity(target, "/target/averageValue")
        ),
        "External" | "Object" if has("/target/averageValue") => format!(
            "{}/{} (avg)",
            quantity(cur, "/current/averageValue"),
            quantity(target, "/target/averageValue")
        ),
        "External" | "Object" => format!(
            "{}/{}",
            quantity(cur, "/current/value"),
            quantity(target, "/target/value")
        ),
        _ => {
            let name = target.map(|t| s(t, "/name")).unwrap_or_default();
            if has("/target/averageValue") {
                format!(
                    "{name}: {}/{}",
                    quantity(cur, "/current/averageValue"),
                    quantity(target, "/target/averageValue")
                )
            } else {
                let current = match cur.and_then(|c| c.pointer("/current/averageUtilization")) {
                    Some(Value::Number(u)) => format!("{u}%"),
                    _ => "<unknown>".to_string(),
                };
                let wanted = match target.and_then(|t| t.pointer("/target/averageUtilization")) {
                    Some(Value::Number(u)) => format!("{u}%"),
                    _ => "<auto>".to_string(),
                };
                format!("{name}: {current}/{wanted}")
            }
        }
    }
}

/// The condition types present, not their status: Denied over Approved
/// over Pending, then Failed and Issued.
fn csr(o: &Value, now: Timestamp) -> Vec<Value> {
    let types: Vec<String> = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| s(c, "/type"))
        .collect();
    let has = |t: &str| types.iter().any(|x| x == t);
    let mut condition = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        condition.push_str(",Failed");
    }
    if !s(o, "/status/certificate").is_empty() {
        condition.push_str(",Issued");
    }
    let duration = match o.pointer("/spec/expirationSeconds").and_then(Value::as_i64) {
        Some(secs) => {
            let t0 = Timestamp::UNIX_EPOCH;
            let later = t0
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .unwrap_or(t0);
            crate::clock::human_age(later, t0)
        }
        None => "<none>".to_string(),
    };
    vec![
        meta::name(o).into(),
        age(o, now),
        or_none(s(o, "/spec/signerName")),
        s(o, "/spec/username").into(),
        duration.into(),
        condition.into(),
    ]
}

/// The length of the list at `ptr` (0 when absent).
fn count(o: &Value, ptr: &str) -> i64 {
    o.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(0, |a| a.len() as i64)
}
