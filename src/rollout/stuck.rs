//! Suite 1, stuck rollout baseline (seed 003): a rollout wedged behind a
//! StatefulSet that never reports convergence holds the whole "stuck" shape
//! for 10 s (every field an on-call reads says "upgrading, healthy pods, not
//! done"), then completes and clears once the StatefulSet controller comes
//! back.

use super::{Rollout, REPLICAS, V1, V2};
use harness::prelude::*;
use rollout_operator::Faults;

/// The scenario; returns the rendered timeline on success.
pub async fn stuck_then_recovers(faults: Faults) -> anyhow::Result<String> {
    Rollout::run(faults, stuck_scenario).await
}

/// Wedge, hold the stuck shape for 10 s, resume, and see the rollout
/// complete and clear; returns the rendered timeline.
pub async fn stuck_scenario(w: &Rollout) -> anyhow::Result<String> {
    w.wedge(V2).await?;

    consistently(|| w.shape())
        .describe("nodedeployment/seid (stuck)")
        .for_(10.s())
        .every(500.ms())
        .should(all_of![
            field("status.phase", eq("Upgrading")),
            field("status.rollout.startedAt", stable("")),
            field("status.rollout.targetImage", eq(V2)),
            field("status.plan.phase", eq("Active")),
            condition("RolloutInProgress", "True"),
            condition("PlanInProgress", "True"),
            condition("NodesReady", "True"),
            field("status.readyReplicas", eq(REPLICAS)),
            field("status.currentImage", eq(V1)),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(0)),
            field("childSpecImage", eq(V2)),
            field("podImages", eq([V1, V1, V1])),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;
    w.timeline.expect("RolloutStarted").exactly(1)?;
    w.timeline.expect("RolloutComplete").never()?;

    w.faker.resume();
    eventually(|| w.shape())
        .describe("nodedeployment/seid (recovery)")
        .within(60.s())
        .should(all_of![
            condition("RolloutInProgress", "False").reason("RolloutComplete"),
            condition("PlanInProgress", "False"),
            field("status.phase", eq("Ready")),
            field("status.rollout", absent()),
            field("status.plan", absent()),
            field("status.currentImage", eq(V2)),
            field("podImages", eq([V2, V2, V2])),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;
    w.timeline.sync().await?;
    w.timeline.expect("RolloutStarted").exactly(1)?;
    w.timeline.expect("RolloutComplete").exactly(1)?;
    w.timeline.before("RolloutStarted", "RolloutComplete")?;
    Ok(w.timeline.render())
}
