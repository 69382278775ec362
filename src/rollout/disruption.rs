//! Suite 4: a rollout survives a pod deletion and a node drain in its
//! middle, and completes exactly once (one RolloutStarted, one
//! RolloutComplete), with every pod on the new image.

use super::{Rollout, V2};
use harness::disruption::drain_node;
use harness::prelude::*;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use kube::ResourceExt;

async fn completes_once(w: &Rollout) -> anyhow::Result<()> {
    eventually(|| w.shape())
        .describe("nodedeployment/seid (completion)")
        .within(60.s())
        // Once RolloutComplete is out, the rollout's events are final: a
        // wrong count will not heal, so report it now, not after 60 s.
        .stop_when(all_of![
            field("status.phase", eq("Ready")),
            field("rolloutCompleteEvents", eq(1)),
        ])
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.currentImage", eq(V2)),
            field("status.rollout", absent()),
            field("podImages", eq([V2, V2, V2])),
            condition("NodesReady", "True"),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(1)),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;
    w.timeline.before("RolloutStarted", "RolloutComplete")?;
    Ok(())
}

/// Delete `seid-0` mid-rollout; the rollout completes once, with a new pod.
pub async fn pod_deleted_mid_rollout(w: &Rollout) -> anyhow::Result<()> {
    w.wedge(V2).await?;
    let pods: Api<Pod> = w.env.api();
    let old = pods.get("seid-0").await?;
    pods.delete("seid-0", &DeleteParams::default()).await?;
    w.timeline
        .note("Pod/seid-0", "deleted by test", "mid-rollout");
    w.faker.resume();
    completes_once(w).await?;
    let new = pods.get("seid-0").await?;
    anyhow::ensure!(
        new.uid() != old.uid(),
        "seid-0 was not replaced (same uid {:?})",
        old.uid()
    );
    Ok(())
}

/// Drain the node of `seid-1` mid-rollout; the rollout completes once and
/// nothing runs on the cordoned node.
pub async fn node_drained_mid_rollout(w: &Rollout) -> anyhow::Result<()> {
    w.wedge(V2).await?;
    let pods: Api<Pod> = w.env.api();
    let node = pods
        .get("seid-1")
        .await?
        .spec
        .and_then(|s| s.node_name)
        .ok_or_else(|| anyhow::anyhow!("seid-1 is not scheduled"))?;
    w.faker.resume();
    let report = drain_node(&w.env.client(), &node, 60.s()).await?;
    w.timeline.note(
        &format!("Node/{node}"),
        "drained",
        &report.evicted.join(","),
    );
    anyhow::ensure!(
        !report.evicted.is_empty(),
        "drain of {node} evicted nothing"
    );
    completes_once(w).await?;
    let on_drained: Vec<String> = pods
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str()))
        .map(|p| p.name_any())
        .collect();
    anyhow::ensure!(
        on_drained.is_empty(),
        "pods {on_drained:?} run on cordoned node {node}"
    );
    Ok(())
}
