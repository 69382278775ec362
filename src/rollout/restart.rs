//! Suite 3 (seed 002): restart the operator mid-rollout and prove it
//! resumes; then inject the failure seen in the wild, a restarted controller
//! that logs "Starting workers" and never reconciles, and check the
//! reconcile-liveness probe names it instead of timing out bare.

use super::{Rollout, NAME, V2};
use harness::disruption::restart_operator;
use harness::liveness::Probe;
use harness::prelude::*;
use rollout_operator::{Faults, NodeDeployment};

const V3: &str = "sei:v3";

fn probe(w: &Rollout) -> Probe<NodeDeployment> {
    Probe::new(w.env.client(), w.env.namespace(), NAME)
        .component("rollout-operator")
        .since("restart")
        .within(30.s())
}

/// Restart while wedged; the rollout must survive it unchanged, the
/// restarted controller must reconcile, and the rollout must complete.
pub async fn restart_scenario(w: &mut Rollout) -> anyhow::Result<()> {
    let upgrading = w.wedge(V2).await?;
    let started = upgrading.status.rollout.map(|r| r.started_at);

    restart_operator(&mut w.operator).await?;
    w.timeline
        .note("Operator/rollout-operator", "restarted", "mid-rollout");
    let running = w.operator.is_running();
    anyhow::ensure!(running, "the operator task is not running after restart");

    // The restarted controller must reconcile: retarget to v3 and require
    // the new generation be observed (or a named diagnosis).
    let proof = probe(w)
        .after_patch(&json!({"spec": {"image": V3}}))
        .await
        .map_err(|e| w.with_timeline(e))?;
    println!("liveness proof: {proof}");

    consistently(|| w.shape())
        .describe("nodedeployment/seid (after restart)")
        .for_(3.s())
        .every(500.ms())
        .should(all_of![
            field("status.phase", eq("Upgrading")),
            field("status.rollout.startedAt", eq(&started)),
            field("status.rollout.targetImage", eq(V3)),
            field("rolloutStartedEvents", eq(1)),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;

    w.faker.resume();
    eventually(|| w.shape())
        .describe("nodedeployment/seid (recovery)")
        .within(60.s())
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.currentImage", eq(V3)),
            field("podImages", eq([V3, V3, V3])),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(1)),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;
    w.timeline.expect("RolloutRetargeted").exactly(1)?;
    Ok(())
}

/// Restart mid-rollout on a fresh deployment, operator broken by `faults`.
pub async fn restart_resumes(faults: Faults) -> anyhow::Result<()> {
    let mut w = Rollout::ready(faults).await?;
    let outcome = restart_scenario(&mut w).await;
    let cleaned = w.finish().await;
    outcome?;
    cleaned
}
