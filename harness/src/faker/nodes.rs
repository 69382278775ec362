//! Nodes and disruption budgets.
//!
//! Nodes: the faker registers `rules.nodes` nodes when the cluster has none
//! (as kubelets would), keeps their Ready condition, and plays the node
//! lifecycle controller (`pkg/controller/nodelifecycle`) for a node a test
//! marks NotReady: Ready becomes `Unknown` with reason `NodeStatusUnknown`
//! ("Kubelet stopped posting node status."), the `node.kubernetes.io/unreachable`
//! taints are added, and its pods get `Ready=False` (`MarkPodsNotReady`).
//!
//! PodDisruptionBudgets: the disruption controller
//! (`pkg/controller/disruption`) status: expectedPods, currentHealthy,
//! desiredHealthy, disruptionsAllowed and the `DisruptionAllowed` condition.
//! The eviction API reads `disruptionsAllowed` and answers 429 when it is 0.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::kubelet::set_condition;
use super::model::{
    EventSpec, Kind, Memory, ObjRef, Round, Target, Write, is_terminating, name, pod_condition,
    say_once, status_write, to_value,
};

/// Label on nodes the faker registered.
pub const FAKE_NODE_LABEL: &str = "faker.kube-harness.io/node";

/// Name of the faker's node `i`.
pub(super) fn node_name(i: u32) -> String {
    format!("faker-node-{i}")
}

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// One round over nodes and pods on NotReady nodes.
pub(super) fn reconcile(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    if r.world.nodes.is_empty() {
        for i in 0..r.rules.nodes {
            let n = node_name(i);
            out.push(Write::Create {
                kind: Kind::Node,
                object: json!({
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": n, "labels": {
                        "kubernetes.io/hostname": n,
                        "kubernetes.io/os": "linux",
                        FAKE_NODE_LABEL: "true",
                    }},
                    "spec": {},
                }),
            });
        }
        return out;
    }
    for node in &r.world.nodes {
        if r.paused(Kind::Node, &node.metadata) || !is_fake(node) {
            continue;
        }
        let node_n = name(&node.metadata).to_owned();
        let not_ready = r.rules.not_ready_nodes.contains(&node_n);
        // A Ready node's status is time-independent: once it needed no
        // write, it needs none until the node or the rules change.
        let memo = r.settled(&node.metadata);
        if !not_ready && mem.settled_nodes.get(&node_n) == Some(&memo) {
            continue;
        }
        let writes = out.len();
        let old = node.status.as_ref().map(to_value);
        let mut status = old.clone().unwrap_or_else(|| json!({}));
        let ts = r.ts();
        if not_ready {
            set_condition(
                &mut status,
                old.as_ref(),
                "Ready",
                "Unknown",
                Some(("NodeStatusUnknown", "Kubelet stopped posting node status.")),
                &ts,
            );
        } else {
            set_condition(
                &mut status,
                old.as_ref(),
                "Ready",
                "True",
                Some(("KubeletReady", "kubelet is posting ready status")),
                &ts,
            );
        }
        if status.get("capacity").is_none() {
            let res =
                json!({"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "100Gi"});
            status["capacity"] = res.clone();
            status["allocatable"] = res;
            status["addresses"] = json!([{"type": "Hostname", "address": node_n}]);
            status["nodeInfo"] = json!({
                "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "containerd://faker",
                "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "v1.33.0-faker",
                "machineID": "", "operatingSystem": "linux", "osImage": "kube-harness faker", "systemUUID": "",
            });
        }
        out.extend(status_write(
            Target::of(Kind::Node, &node.metadata),
            old,
            status,
        ));

        // Taints follow readiness, as the node lifecycle controller does.
        let taints: Vec<Value> = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
            .iter()
            .map(to_value)
            .collect();
        let has = taints.iter().any(|t| t["key"] == UNREACHABLE);
        if not_ready && !has {
            let mut t = taints.clone();
            t.push(json!({"key": UNREACHABLE, "effect": "NoSchedule"}));
            t.push(json!({"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": ts}));
            out.push(Write::Patch {
                target: Target::of(Kind::Node, &node.metadata),
                patch: json!({"spec": {"taints": t}}),
            });
            say_once(
                mem,
                format!("nodenotready/{node_n}"),
                EventSpec::new(
                    "Normal",
                    "node-controller",
                    ObjRef::to(node),
                    "NodeNotReady",
                    format!("Node {node_n} status is now: NodeNotReady"),
                ),
                &mut out,
            );
            mem.said.remove(&format!("nodeready/{node_n}"));
        } else if !not_ready && has {
            let t: Vec<Value> = taints
                .into_iter()
                .filter(|t| t["key"] != UNREACHABLE)
                .collect();
            out.push(Write::Patch {
                target: Target::of(Kind::Node, &node.metadata),
                patch: json!({"spec": {"taints": t}}),
            });
            say_once(
                mem,
                format!("nodeready/{node_n}"),
                EventSpec::new(
                    "Normal",
                    "kubelet",
                    ObjRef::to(node),
                    "NodeReady",
                    format!("Node {node_n} status is now: NodeReady"),
                )
                .on_host(&node_n),
                &mut out,
            );
            mem.said.remove(&format!("nodenotready/{node_n}"));
        }

        if not_ready {
            for pod in
                r.world.pods.iter().filter(|p| {
                    p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&node_n)
                })
            {
                if r.paused(Kind::Pod, &pod.metadata) || pod_condition(pod, "Ready") != Some("True")
                {
                    continue;
                }
                let old = pod.status.as_ref().map(to_value);
                let mut status = old.clone().unwrap_or_else(|| json!({}));
                set_condition(
                    &mut status,
                    old.as_ref(),
                    "Ready",
                    "False",
                    Some(("NodeNotReady", "")),
                    &ts,
                );
                out.extend(status_write(
                    Target::of(Kind::Pod, &pod.metadata),
                    old,
                    status,
                ));
                say_once(
                    mem,
                    format!("podnotready/{}", pod.metadata.uid.as_deref().unwrap_or("")),
                    EventSpec::new(
                        "Warning",
                        "node-controller",
                        ObjRef::to(pod),
                        "NodeNotReady",
                        "Node is not ready",
                    ),
                    &mut out,
                );
            }
        }
        if !not_ready && out.len() == writes {
            mem.settled_nodes.insert(node_n, memo);
        } else {
            mem.settled_nodes.remove(&node_n);
        }
    }
    out
}

fn is_fake(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(FAKE_NODE_LABEL))
}

fn resolve(v: &IntOrString, total: i32, round_up: bool) -> i32 {
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => {
            let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(0.0);
            let x = pct * f64::from(total) / 100.0;
            if round_up {
                x.ceil() as i32
            } else {
                x.floor() as i32
            }
        }
    }
}

/// One round of the disruption controller.
pub(super) fn budgets(r: &Round) -> Vec<Write> {
    let mut out = Vec::new();
    for pdb in &r.world.pdbs {
        if r.paused(Kind::PodDisruptionBudget, &pdb.metadata) {
            continue;
        }
        let Some(spec) = pdb.spec.as_ref() else {
            continue;
        };
        // matchLabels and matchExpressions, as the disruption controller
        // reads them (kube's typed selector); a selector it cannot read
        // selects nothing.
        let Some(selector) = spec
            .selector
            .clone()
            .and_then(|s| kube::core::Selector::try_from(s).ok())
        else {
            continue;
        };
        let pods: Vec<_> = r
            .world
            .pods
            .iter()
            .filter(|p| {
                p.metadata.namespace == pdb.metadata.namespace
                    && kube::core::SelectorExt::matches(
                        &selector,
                        p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
                    )
            })
            .collect();
        let expected = pods.len() as i32;
        let healthy = pods
            .iter()
            .filter(|p| !is_terminating(&p.metadata) && pod_condition(p, "Ready") == Some("True"))
            .count() as i32;
        let desired = match (&spec.min_available, &spec.max_unavailable) {
            (Some(min), _) => resolve(min, expected, true),
            (None, Some(max)) => (expected - resolve(max, expected, true)).max(0),
            (None, None) => 0,
        };
        let allowed = (healthy - desired).max(0);
        let old = pdb.status.as_ref().map(to_value);
        let mut status = old.clone().unwrap_or_else(|| json!({}));
        status["observedGeneration"] = json!(pdb.metadata.generation.unwrap_or(0));
        status["expectedPods"] = json!(expected);
        status["currentHealthy"] = json!(healthy);
        status["desiredHealthy"] = json!(desired);
        status["disruptionsAllowed"] = json!(allowed);
        let ts = r.ts();
        if allowed > 0 {
            set_condition(
                &mut status,
                old.as_ref(),
                "DisruptionAllowed",
                "True",
                Some(("SufficientPods", "")),
                &ts,
            );
        } else {
            set_condition(
                &mut status,
                old.as_ref(),
                "DisruptionAllowed",
                "False",
                Some(("InsufficientPods", "")),
                &ts,
            );
        }
        out.extend(status_write(
            Target::of(Kind::PodDisruptionBudget, &pdb.metadata),
            old,
            status,
        ));
    }
    out
}
