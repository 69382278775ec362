//! Suite 1: the stuck rollout baseline; scenario in `suites::rollout::stuck`.

use rollout_operator::Faults;
use suites::rollout::stuck::stuck_then_recovers;

#[tokio::test(start_paused = true)]
async fn rollout_stuck_holds_its_shape_then_recovers() -> anyhow::Result<()> {
    let timeline = stuck_then_recovers(Faults::default()).await?;
    println!("{timeline}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn rollout_stuck_catches_a_restamped_started_at() {
    let err = stuck_then_recovers(Faults::default().restamp_started_at())
        .await
        .expect_err("a re-stamped startedAt must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(msg.contains("consistently failed"), "{msg}");
    assert!(msg.contains("status.rollout.startedAt"), "{msg}");
    assert!(msg.contains("timeline (ns "), "{msg}");
}

#[tokio::test(start_paused = true)]
async fn rollout_stuck_catches_a_missing_rollout_started_event() {
    let err = stuck_then_recovers(Faults::default().skip_rollout_started_event())
        .await
        .expect_err("a missing RolloutStarted must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(msg.contains("rolloutStartedEvents"), "{msg}");
}
