//! Disk usage, read the way metrics-server and real volume autoscalers read
//! it: each node's kubelet summary API through the API server's node proxy
//! (`GET /api/v1/nodes/{node}/proxy/stats/summary`), whose
//! `pods[].volume[]` entries carry `pvcRef`, `usedBytes` and
//! `capacityBytes`. The same code works on any cluster.

use crate::crd::InstanceDisk;
use k8s_openapi::api::core::v1::Pod;
use kube::{Client, ResourceExt};
use serde::Deserialize;
use std::collections::BTreeMap;
use tracing::{info, warn};

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    pods: Vec<PodStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodStats {
    pod_ref: Ref,
    #[serde(default)]
    volume: Vec<VolumeStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VolumeStats {
    #[serde(default)]
    pvc_ref: Option<Ref>,
    #[serde(default)]
    used_bytes: Option<u64>,
    #[serde(default)]
    capacity_bytes: Option<u64>,
}

#[derive(Deserialize)]
struct Ref {
    name: String,
    namespace: String,
}

/// Is the pod an instance whose disk can be read (scheduled, running, not
/// going away)? `inverted` is the seed's bug: a filter meant to drop pods
/// that are not ready yet, with its test flipped, keeps only those.
pub fn active(pod: &Pod, inverted: bool) -> bool {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    let live = running && scheduled && pod.metadata.deletion_timestamp.is_none();
    live && !(inverted && crate::instances::is_ready(pod))
}

/// Each active instance's data volume, read from its node's kubelet.
/// Nodes whose kubelet cannot be reached are skipped with a warning; what
/// is returned is what could be read (empty: nothing could).
pub async fn collect(
    client: &Client,
    namespace: &str,
    pods: &[Pod],
    claim_of: impl Fn(&str) -> String,
    inverted_filter: bool,
) -> Vec<InstanceDisk> {
    let mut by_node: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
    for pod in pods.iter().filter(|p| active(p, inverted_filter)) {
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        by_node.entry(node).or_default().push(pod);
    }
    if by_node.is_empty() {
        info!(
            namespace,
            "No instances available for disk status collection"
        );
        return Vec::new();
    }
    let mut disks = Vec::new();
    for (node, instances) in by_node {
        let path = format!("/api/v1/nodes/{node}/proxy/stats/summary");
        let request = match http::Request::get(&path).body(Vec::new()) {
            Ok(r) => r,
            Err(e) => {
                warn!(node, error = %e, "cannot build the summary request");
                continue;
            }
        };
        let summary: Summary = match client.request(request).await {
            Ok(s) => s,
            Err(e) => {
                warn!(node, error = %e, "cannot read the kubelet summary; skipping the node");
                continue;
            }
        };
        for instance in instances {
            let name = instance.name_any();
            let claim = claim_of(&name);
            let stats = summary
                .pods
                .iter()
                .filter(|p| p.pod_ref.name == name && p.pod_ref.namespace == namespace)
                .flat_map(|p| &p.volume)
                .find(|v| v.pvc_ref.as_ref().is_some_and(|r| r.name == claim));
            match stats {
                Some(VolumeStats {
                    used_bytes: Some(used),
                    capacity_bytes: Some(capacity),
                    ..
                }) => disks.push(InstanceDisk {
                    instance: name,
                    claim,
                    used_bytes: *used,
                    capacity_bytes: *capacity,
                }),
                _ => info!(instance = %name, node, "no volume stats for the instance yet"),
            }
        }
    }
    disks
}
