//! The scheduler, reduced to what an operator observes: binding a pod to a
//! node (`Scheduled`) or saying why it cannot (`PodScheduled=False` and
//! `FailedScheduling`).
//!
//! Upstream reference: `pkg/scheduler/schedule_one.go` (events `Scheduled`,
//! `FailedScheduling` with the "0/N nodes are available" text).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Node, Pod, PodSpec};
use serde_json::json;

use super::kubelet::{node_ready, set_condition};
use super::model::{
    EventSpec, Kind, Memory, ObjRef, Round, Target, Write, is_terminating, name, say_once,
    status_write, to_value,
};

/// One round of the scheduler over unbound pods.
pub(super) fn schedule(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    let mut load: Option<Vec<Load>> = None;
    for pod in &r.world.pods {
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        if !wants_a_node(r, pod, spec) {
            continue;
        }
        let failure = match claims(r, spec) {
            Claims::Provisioning => continue,
            Claims::Unschedulable(message) => Some(message),
            Claims::Bound => {
                // Counted once per round, and only when a pod needs a node.
                let load = load.get_or_insert_with(|| node_load(r));
                match pick_node(load) {
                    Some(i) => {
                        load[i].pods += 1;
                        bind(pod, &load[i].node, &mut out);
                        None
                    }
                    None => Some(unschedulable_message(r)),
                }
            }
        };
        if let Some(message) = failure {
            report_unschedulable(r, mem, pod, message, &mut out);
        }
    }
    out
}

/// Pods per node, counted once per round and kept up to date as the round
/// binds: the default scoring spreads pods across nodes, so a test that
/// takes one node down hits one replica, as it would on a real cluster.
fn node_load(r: &Round) -> Vec<Load> {
    let mut per_node: HashMap<&str, usize> = HashMap::new();
    for node in r
        .world
        .pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
    {
        *per_node.entry(node).or_default() += 1;
    }
    r.world
        .nodes
        .iter()
        .map(|n| {
            let node = name(&n.metadata);
            Load {
                node: node.to_owned(),
                pods: per_node.get(node).copied().unwrap_or(0),
                schedulable: node_schedulable(r, n),
            }
        })
        .collect()
}

/// One node as the scheduler scores it this round.
struct Load {
    node: String,
    pods: usize,
    schedulable: bool,
}

/// Only pods nobody placed yet are the scheduler's business: a bound pod
/// belongs to its kubelet, a terminating one is never placed, and a paused
/// one is held still by the test.
fn wants_a_node(r: &Round, pod: &Pod, spec: &PodSpec) -> bool {
    spec.node_name.is_none()
        && !is_terminating(&pod.metadata)
        && !r.paused(Kind::Pod, &pod.metadata)
}

/// What the pod's PersistentVolumeClaims allow.
enum Claims {
    /// Every claim is bound: the pod may be placed.
    Bound,
    /// A claim is still being provisioned: wait quietly.
    Provisioning,
    /// A claim is missing or will never bind; the `FailedScheduling` message.
    Unschedulable(String),
}

/// A pod cannot run before its volumes exist, so its first unbound claim
/// decides: one still being provisioned is waited for quietly (as the real
/// scheduler retries without a new event), only one that is missing or will
/// never bind makes the pod unschedulable, with the upstream wording.
fn claims(r: &Round, spec: &PodSpec) -> Claims {
    let total = r.world.nodes.len();
    let unbound_claim = spec.volumes.iter().flatten().find_map(|v| {
        let claim = &v.persistent_volume_claim.as_ref()?.claim_name;
        let pvc = r.world.pvcs.iter().find(|c| name(&c.metadata) == claim);
        let bound = pvc
            .and_then(|c| c.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some("Bound");
        let hopeless = pvc.is_none_or(|c| {
            let class = c
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref());
            r.rules.never_binds(claim, class)
        });
        (!bound).then(|| (claim.clone(), pvc.is_some(), hopeless))
    });
    let Some((claim, exists, hopeless)) = unbound_claim else {
        return Claims::Bound;
    };
    if !hopeless {
        return Claims::Provisioning;
    }
    Claims::Unschedulable(if exists {
        format!(
            "0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
        )
    } else {
        format!(
            "0/{total} nodes are available: persistentvolumeclaim \"{claim}\" not found. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
        )
    })
}

/// The least loaded schedulable node (an index into `load`), ties broken by
/// name so that a round is deterministic.
fn pick_node(load: &[Load]) -> Option<usize> {
    load.iter()
        .enumerate()
        .filter(|(_, l)| l.schedulable)
        .min_by(|(_, a), (_, b)| (a.pods, &a.node).cmp(&(b.pods, &b.node)))
        .map(|(i, _)| i)
}

/// The filters an operator's tests exercise: a node whose kubelet is not
/// Ready, a cordoned node (`kubectl cordon`, a drain) and a `NoSchedule`
/// taint all keep new pods off it.
fn node_schedulable(r: &Round, node: &Node) -> bool {
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.effect == "NoSchedule"));
    node_ready(r, node) && !cordoned && !tainted
}

/// Binds the pod through `pods/binding` and records `Scheduled`, as the real
/// scheduler does: operators and tests read the node from the event as much
/// as from `spec.nodeName`.
fn bind(pod: &Pod, node: &str, out: &mut Vec<Write>) {
    let pod_ref = ObjRef::to(pod);
    let namespace = pod_ref.namespace.clone().unwrap_or_default();
    let key = format!("{namespace}/{}", pod_ref.name);
    out.push(Write::Bind {
        namespace,
        pod: pod_ref.name.clone(),
        node: node.to_owned(),
    });
    out.push(Write::Event(EventSpec::new(
        "Normal",
        "default-scheduler",
        pod_ref,
        "Scheduled",
        format!("Successfully assigned {key} to {node}"),
    )));
}

/// Why no node fits, in the upstream "0/N nodes are available: …" wording
/// that an on-call (and a test's assertion) reads from `FailedScheduling`.
fn unschedulable_message(r: &Round) -> String {
    let total = r.world.nodes.len();
    if total == 0 {
        return "no nodes available to schedule pods".into();
    }
    let cordoned = r
        .world
        .nodes
        .iter()
        .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
        .count();
    let other = total - cordoned;
    let mut parts = Vec::new();
    if cordoned > 0 {
        parts.push(format!("{cordoned} node(s) were unschedulable"));
    }
    if other > 0 {
        parts.push(format!(
            "{other} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}"
        ));
    }
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
        parts.join(", ")
    )
}

/// An unschedulable pod stays `Pending` with `PodScheduled=False`
/// (`Unschedulable`), which is what `kubectl describe` and operators check;
/// the `FailedScheduling` Warning is said once per distinct reason, not on
/// every retry, so the Events stay readable.
fn report_unschedulable(
    r: &Round,
    mem: &mut Memory,
    pod: &Pod,
    message: String,
    out: &mut Vec<Write>,
) {
    let pod_ref = ObjRef::to(pod);
    let old = pod.status.as_ref().map(to_value);
    let mut status = old.clone().unwrap_or_else(|| json!({}));
    status["phase"] = json!("Pending");
    set_condition(
        &mut status,
        old.as_ref(),
        "PodScheduled",
        "False",
        Some(("Unschedulable", message.as_str())),
        &r.ts(),
    );
    out.extend(status_write(
        Target::of(Kind::Pod, &pod.metadata),
        old,
        status,
    ));
    say_once(
        mem,
        format!(
            "failedscheduling/{}/{message}",
            pod_ref.uid.clone().unwrap_or_default()
        ),
        EventSpec::new(
            "Warning",
            "default-scheduler",
            pod_ref,
            "FailedScheduling",
            message,
        ),
        out,
    );
}
