//! The rollout suites under API faults (issue 14): the operator meets what
//! an overloaded or contended kube-apiserver does to it (conflicts and
//! throttling on its writes, a watch that closes, a resume answered 410
//! Gone) and must converge anyway, exactly once; and when its watches go
//! silent, the reconcile-liveness probe names what was done to it instead
//! of timing out bare. Faults target the operator's own requests by its
//! User-Agent, so the test's reads and writes are untouched. Fault rules
//! are set on the in-process server, so these run there on every backend
//! (the standalone binary takes the same rules from `--faults FILE`).

use std::collections::BTreeMap;

use crate::rollout::{NAME, Rollout, V2};
use anyhow::Result;
use kube_harness::disruption::restart_operator;
use kube_harness::liveness::LivenessProbe;
use kube_harness::prelude::*;
use rollout_operator::{Faults, NodeDeployment};

const OPERATOR: &str = "rollout-operator";

#[tokio::test(start_paused = true)]
async fn rollout_faults_converges_through_conflicts_throttling_and_dropped_watches() -> Result<()> {
    let w = Rollout::ready_on(TestEnv::embedded().await?, Faults::default()).await?;
    let faults = w.env.faults()?;
    faults
        .add(
            Fault::conflict()
                .user_agent(OPERATOR)
                .verb("patch")
                .times(3),
        )
        .add(
            Fault::throttle(1)
                .user_agent(OPERATOR)
                .verb("patch")
                .times(2),
        )
        .add(
            Fault::watch_close()
                .user_agent(OPERATOR)
                .resource("nodedeployments")
                .after(1.s())
                .times(1),
        )
        .add(
            Fault::watch_gone()
                .user_agent(OPERATOR)
                .resource("statefulsets")
                .after(2.s())
                .times(1),
        );
    // The running operator meets them: its open watches close mid-rollout
    // (watch rules reach watches already open).
    w.patch_spec(json!({"image": V2})).await?;
    eventually(w.shape())
        .within(120.s())
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.currentImage", eq(V2)),
            field("podImages", eq([V2, V2, V2])),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(1)),
        ])
        .await?;
    // Every rule was spent on the operator: it met each fault and got past it.
    let mut met = BTreeMap::new();
    for injected in faults.injected() {
        *met.entry(injected.effect).or_insert(0) += 1;
    }
    println!("injected: {met:?}");
    assert_eq!(met.get("409 Conflict"), Some(&3), "{met:?}");
    assert_eq!(
        met.get("429 TooManyRequests (Retry-After: 1)"),
        Some(&2),
        "{met:?}"
    );
    assert_eq!(met.get("watch closed after 1s"), Some(&1), "{met:?}");
    assert_eq!(
        met.get("watch closed, resume answered 410 Gone after 2s"),
        Some(&1),
        "{met:?}"
    );
    assert_eq!(met.get("410 Gone on resume"), Some(&1), "{met:?}");
    w.finish().await
}

/// The catch: every watch of the restarted operator stalls (open, silent),
/// so it never sees the spec change. The probe's failure names the stall
/// among the faults injected, with the seed to replay them.
#[tokio::test(start_paused = true)]
async fn rollout_faults_stalled_watches_are_named_by_the_liveness_probe() -> Result<()> {
    let w = Rollout::ready_on(TestEnv::embedded().await?, Faults::default()).await?;
    let faults = w.env.faults()?;
    faults.add(Fault::watch_stall().user_agent(OPERATOR));
    restart_operator(&w.operator).await?;
    w.env
        .timeline()
        .note("Operator/rollout-operator", "restarted", "watches stalled");
    let err = LivenessProbe::<NodeDeployment>::in_env(&w.env, NAME)
        .component(OPERATOR)
        .since("restart")
        .within(30.s())
        .after_patch(&json!({"spec": {"image": V2}}))
        .await
        .expect_err("a controller whose watches stall never sees the change");
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        msg.starts_with("controller started but never reconciled: NodeDeployment/seid in ns "),
        "{msg}"
    );
    assert!(
        msg.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("watch on nodedeployments stalled at +")
                && l.ends_with("(injected: watch stalled); no reconcile since")),
        "the cause leads the facts: {msg}"
    );
    assert!(
        msg.contains("status.observedGeneration stuck at 1 while generation is 2 for 30.000s"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "replay with HARNESS_FAULT_SEED={}",
            faults.current_seed()
        )),
        "{msg}"
    );
    assert!(
        msg.lines()
            .any(|l| l.contains("WATCH nodedeployments in ns ")
                && l.ends_with("→ watch stalled injected")),
        "the stalled watch is named: {msg}"
    );
    w.finish().await
}
