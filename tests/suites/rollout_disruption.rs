//! Suite 4: pod deletion and node drain mid-rollout; scenario in
//! `suites::rollout::disruption`.

use rollout_operator::Faults;
use suites::rollout::disruption::{node_drained_mid_rollout, pod_deleted_mid_rollout};
use suites::rollout::Rollout;

#[tokio::test(start_paused = true)]
async fn rollout_disruption_survives_a_pod_deletion() -> anyhow::Result<()> {
    Rollout::run(Faults::default(), pod_deleted_mid_rollout).await
}

#[tokio::test(start_paused = true)]
async fn rollout_disruption_survives_a_node_drain() -> anyhow::Result<()> {
    Rollout::run(Faults::default(), node_drained_mid_rollout).await
}

#[tokio::test(start_paused = true)]
async fn rollout_disruption_catches_a_missing_rollout_started_event() {
    let err = Rollout::run(
        Faults::default().skip_rollout_started_event(),
        pod_deleted_mid_rollout,
    )
    .await
    .expect_err("a missing RolloutStarted must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(
        msg.contains("rolloutStartedEvents: expected 1, got 0"),
        "{msg}"
    );
}
