//! Suite 1, the stuck rollout baseline (seed 003): a rollout wedged behind a
//! StatefulSet that never reports convergence holds the whole "stuck" shape
//! for 10 s (every field an on-call reads says "upgrading, healthy pods, not
//! done"), then completes and clears once the StatefulSet controller comes
//! back.

use crate::rollout::{REPLICAS, Rollout, V1, V2};
use anyhow::Result;
use kube_harness::prelude::*;
use rollout_operator::Faults;

/// Wedge, hold the stuck shape for 10 s, resume, and see the rollout
/// complete and clear; returns the rendered timeline.
pub(crate) async fn stuck_then_recovers(w: &Rollout) -> Result<String> {
    w.wedge(V2).await?;

    consistently(w.shape())
        .for_(10.s())
        .every(500.ms())
        .should(all_of![
            field("status.phase", eq("Upgrading")),
            field("status.rollout.startedAt", stable()),
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
        .await?;
    let timeline = w.env.timeline();
    timeline.expect("RolloutStarted").exactly(1)?;
    timeline.expect("RolloutComplete").never()?;

    w.faker.resume();
    eventually(w.shape())
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
        .await?;
    timeline.sync().await?;
    timeline.expect("RolloutStarted").exactly(1)?;
    timeline.expect("RolloutComplete").exactly(1)?;
    timeline.before("RolloutStarted", "RolloutComplete")?;
    Ok(timeline.render())
}

#[tokio::test(start_paused = true)]
async fn rollout_stuck_holds_its_shape_then_recovers() -> Result<()> {
    let w = Rollout::ready(Faults::default()).await?;
    println!("{}", stuck_then_recovers(&w).await?);
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_stuck_catches_a_restamped_started_at() -> Result<()> {
    let w = Rollout::ready(Faults::default().restamp_started_at()).await?;
    let err = stuck_then_recovers(&w)
        .await
        .expect_err("a re-stamped startedAt must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(msg.contains("consistently failed"), "{msg}");
    assert!(
        msg.contains("waiting on nodedeployment/seid (shape) in ns rollout-stuck-catches-"),
        "the wait names its subject without .describe: {msg}"
    );
    assert!(msg.contains("status.rollout.startedAt"), "{msg}");
    assert!(
        msg.contains("timeline (ns "),
        "the env's timeline is attached: {msg}"
    );
    assert!(
        msg.contains("operator logs (") && msg.contains("[rollout-operator]"),
        "the operator's log lines are attached: {msg}"
    );
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_stuck_catches_a_missing_rollout_started_event() -> Result<()> {
    let w = Rollout::ready(Faults::default().skip_rollout_started_event()).await?;
    let err = stuck_then_recovers(&w)
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
