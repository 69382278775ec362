//! The kubelet's summary API (`GET /stats/summary`, the types of
//! k8s.io/kubelet `pkg/apis/stats/v1alpha1`) for one fake node: each pod on
//! the node with its claims' volume stats. It is how metrics-server and
//! volume autoresizers read disk usage (through the API server's
//! `nodes/{node}/proxy`), so an operator that reads it works here and on a
//! real cluster alike. Usage is what the test set with
//! [`super::StatusFaker::set_disk_usage`], [`super::StatusFaker::fill_disk`]
//! or [`super::StatusFaker::disk_usage_sequence`],
//! never more than the volume holds;
//! capacity follows the claim's `status.capacity`, as a filesystem grown
//! after an expansion does.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::model::World;
use super::rules::Rules;
use super::volumes::quantity_bytes;

fn claim_capacity(pvc: &PersistentVolumeClaim) -> u64 {
    let status = pvc.status.as_ref().and_then(|s| s.capacity.as_ref());
    let spec = pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref());
    status
        .or(spec)
        .and_then(|m| m.get("storage"))
        .and_then(quantity_bytes)
        .unwrap_or(0)
}

fn on_node(pod: &Pod, node: &str) -> bool {
    let placed = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    placed && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// The volume stats of a pod's claims (`VolumeStats` with `pvcRef`).
fn volumes(world: &World, rules: &Rules, pod: &Pod, (now, time): (Instant, &str)) -> Vec<Value> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let declared = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    declared
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let claim = &v.persistent_volume_claim.as_ref()?.claim_name;
            let pvc = world.pvcs.iter().find(|p| {
                p.metadata.name.as_deref() == Some(claim.as_str())
                    && p.metadata.namespace.as_deref().unwrap_or_default() == namespace
            })?;
            // A kubelet mounts only bound claims.
            let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref());
            if phase != Some("Bound") {
                return None;
            }
            let capacity = claim_capacity(pvc);
            let used = rules
                .disk_usage
                .get(claim)
                .map_or(0, |u| u.at(now))
                .min(capacity);
            Some(json!({
                "time": time,
                "availableBytes": capacity - used,
                "capacityBytes": capacity,
                "usedBytes": used,
                "name": v.name,
                "pvcRef": {"name": claim, "namespace": namespace},
            }))
        })
        .collect()
}

/// The summary of `node` as the world and rules stand at `now` (written
/// as `time`).
pub(super) fn summary(world: &World, rules: &Rules, node: &str, now: Instant, time: &str) -> Value {
    let pods: Vec<Value> = world
        .pods
        .iter()
        .filter(|p| on_node(p, node))
        .map(|pod| {
            let mut stats = json!({
                "podRef": {
                    "name": pod.metadata.name,
                    "namespace": pod.metadata.namespace,
                    "uid": pod.metadata.uid,
                },
                "startTime": pod.status.as_ref().and_then(|s| s.start_time.as_ref()),
                "containers": [],
            });
            let volumes = volumes(world, rules, pod, (now, time));
            if !volumes.is_empty() {
                stats["volume"] = volumes.into();
            }
            stats
        })
        .collect();
    json!({"node": {"nodeName": node}, "pods": pods})
}
