//! Suite 4: a rollout survives a pod deletion and a node drain in its
//! middle, and completes exactly once (one RolloutStarted, one
//! RolloutComplete), with every pod on the new image.

use crate::rollout::{Rollout, V2};
use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube_harness::disruption::drain_node;
use kube_harness::prelude::*;
use rollout_operator::Faults;

async fn completes_once(w: &Rollout) -> Result<()> {
    eventually(w.shape())
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
        .await?;
    w.env
        .timeline()
        .before("RolloutStarted", "RolloutComplete")?;
    Ok(())
}

/// Delete `seid-0` mid-rollout; the rollout completes once, with a new pod.
pub(crate) async fn pod_deleted_mid_rollout(w: &Rollout) -> Result<()> {
    w.wedge(V2).await?;
    let old = w.env.get_named::<Pod>("seid-0").await?;
    w.env.delete(&old).await?;
    w.env
        .timeline()
        .note("Pod/seid-0", "deleted by test", "mid-rollout");
    w.faker.resume();
    completes_once(w).await?;
    let new = w.env.get(&old).await?;
    ensure!(
        new.uid() != old.uid(),
        "seid-0 was not replaced (same uid {:?})",
        old.uid()
    );
    Ok(())
}

/// Drain the node of `seid-1` mid-rollout; the rollout completes once and
/// nothing runs on the cordoned node.
pub(crate) async fn node_drained_mid_rollout(w: &Rollout) -> Result<()> {
    w.wedge(V2).await?;
    let node = w
        .env
        .get_named::<Pod>("seid-1")
        .await?
        .spec
        .and_then(|s| s.node_name)
        .context("seid-1 is not scheduled")?;
    w.faker.resume();
    let report = drain_node(&w.env.client(), &node, 60.s()).await?;
    w.env.timeline().note(
        &format!("Node/{node}"),
        "drained",
        &report.evicted.join(","),
    );
    ensure!(
        !report.evicted.is_empty(),
        "drain of {node} evicted nothing"
    );
    completes_once(w).await?;
    let on_drained: Vec<String> = w
        .env
        .api::<Pod>()
        .list(&Default::default())
        .await?
        .items
        .iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node.as_str()))
        .map(|p| p.name_any())
        .collect();
    ensure!(
        on_drained.is_empty(),
        "pods {on_drained:?} run on cordoned node {node}"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rollout_disruption_survives_a_pod_deletion() -> Result<()> {
    let w = Rollout::ready(Faults::default()).await?;
    pod_deleted_mid_rollout(&w).await?;
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_disruption_survives_a_node_drain() -> Result<()> {
    // In-process whatever the backend: a drain evicts every pod of the node,
    // and on a bare API server the nodes are shared by every test running.
    let w = Rollout::ready_on(TestEnv::embedded().await?, Faults::default()).await?;
    node_drained_mid_rollout(&w).await?;
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_disruption_catches_a_missing_rollout_started_event() -> Result<()> {
    let w = Rollout::ready(Faults::default().skip_rollout_started_event()).await?;
    let err = pod_deleted_mid_rollout(&w)
        .await
        .expect_err("a missing RolloutStarted must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(
        msg.contains("rolloutStartedEvents: expected 1, got 0"),
        "{msg}"
    );
    w.finish().await
}
