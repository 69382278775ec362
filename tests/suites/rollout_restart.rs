//! Suite 3: operator restart liveness; scenario in `suites::rollout::restart`.

use rollout_operator::Faults;
use suites::rollout::restart::restart_resumes;

#[tokio::test(start_paused = true)]
async fn rollout_restart_mid_rollout_resumes() -> anyhow::Result<()> {
    restart_resumes(Faults::default()).await
}

#[tokio::test(start_paused = true)]
async fn rollout_restart_silent_controller_is_named() {
    let err = restart_resumes(Faults::default().silent_after_restart())
        .await
        .expect_err("a silent restarted controller must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(
        msg.starts_with("controller started but never reconciled: NodeDeployment/seid in ns "),
        "{msg}"
    );
    assert!(
        msg.contains("status.observedGeneration stuck at 2 while generation is 3 for 30.000s"),
        "{msg}"
    );
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
}
