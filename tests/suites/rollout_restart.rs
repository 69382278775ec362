//! Suite 3 (seed 002): restart the operator mid-rollout and prove it
//! resumes; then inject the failure seen in the wild, a restarted controller
//! that logs "Starting workers" and never reconciles, and check that the
//! reconcile-liveness probe names it instead of timing out bare, and that
//! its logs say the same in one line each.

use crate::rollout::{NAME, Rollout, V2};
use anyhow::Result;
use kube_harness::disruption::restart_operator;
use kube_harness::liveness::LivenessProbe;
use kube_harness::prelude::*;
use rollout_operator::{Faults, NodeDeployment};

const V3: &str = "sei:v3";

/// Restart while wedged; the rollout must survive it unchanged, the
/// restarted controller must reconcile, and the rollout must complete.
pub(crate) async fn restart_mid_rollout(w: &Rollout) -> Result<()> {
    let upgrading = w.wedge(V2).await?;
    let started = upgrading.status.rollout.map(|r| r.started_at);

    restart_operator(&w.operator).await?;
    w.env
        .timeline()
        .note("Operator/rollout-operator", "restarted", "mid-rollout");
    anyhow::ensure!(
        w.operator.is_running(),
        "the operator task is not running after restart"
    );

    // The restarted controller must reconcile: retarget to v3 and require
    // the new generation be observed (or a named diagnosis).
    let proof = LivenessProbe::<NodeDeployment>::in_env(&w.env, NAME)
        .component("rollout-operator")
        .since("restart")
        .within(30.s())
        .after_patch(&json!({"spec": {"image": V3}}))
        .await?;
    println!("liveness proof: {proof}");

    consistently(w.shape())
        .for_(3.s())
        .every(500.ms())
        .should(all_of![
            field("status.phase", eq("Upgrading")),
            field("status.rollout.startedAt", eq(&started)),
            field("status.rollout.targetImage", eq(V3)),
            field("rolloutStartedEvents", eq(1)),
        ])
        .await?;

    w.faker.resume();
    eventually(w.shape())
        .within(60.s())
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.currentImage", eq(V3)),
            field("podImages", eq([V3, V3, V3])),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(1)),
        ])
        .await?;
    w.env.timeline().expect("RolloutRetargeted").exactly(1)?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rollout_restart_mid_rollout_resumes() -> Result<()> {
    let w = Rollout::ready(Faults::default()).await?;
    restart_mid_rollout(&w).await?;
    let since_restart = w.env.operator_logs().after("--- restarted");
    since_restart.expect("Starting workers").exactly(1)?;
    since_restart.expect("reconciling").at_least(1)?;
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_restart_silent_controller_is_named() -> Result<()> {
    let w = Rollout::ready(Faults::default().silent_after_restart()).await?;
    let err = restart_mid_rollout(&w)
        .await
        .expect_err("a silent restarted controller must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(
        msg.starts_with("controller started but never reconciled: NodeDeployment/seid in ns "),
        "{msg}"
    );
    let stuck = "status.observedGeneration stuck at 2 while generation is 3 for ";
    let waited: f64 = msg
        .split_once(stuck)
        .and_then(|(_, rest)| rest.split_once('s'))
        .and_then(|(secs, _)| secs.parse().ok())
        .unwrap_or_else(|| panic!("no `{stuck}…s` line: {msg}"));
    // The probe's 30 s window, exact in paused time; real time (over HTTP) only adds.
    if w.env.backend().is_real() {
        assert!((30.0..40.0).contains(&waited), "{msg}");
    } else {
        assert_eq!(waited, 30.0, "{msg}");
    }
    assert!(
        msg.contains(
            "no events from rollout-operator since restart (last one before: RolloutStarted)"
        ),
        "{msg}"
    );
    assert!(
        msg.lines().any(|l| l.contains("Operator/rollout-operator")
            && l.contains(" restarted ")
            && l.ends_with(" mid-rollout")),
        "the timeline shows the restart: {msg}"
    );
    // Seed 002 in two lines: the workers started, and nothing reconciled.
    let since_restart = w.env.operator_logs().after("--- restarted");
    since_restart.expect("Starting workers").exactly(1)?;
    since_restart.expect("reconciling").never()?;
    w.finish().await
}
