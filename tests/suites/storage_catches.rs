//! Catches (seed 000): the scenarios run with the operator broken on purpose
//! in the seed's ways, and a drain a budget blocks. Each asserts the failure
//! names its cause, so an on-call reads why, not a bare timeout after 300
//! to 900 s.

use crate::storage::{CATCHES_NEED_THE_FAKER, NAME, Storage, on_real_cluster, spec};
use crate::storage_disruption::{fails_over_then_grows, grows_during_roll, node_of};
use crate::storage_policy::grows_once_while_oscillating;
use crate::storage_sizing::grows_on_usage;
use anyhow::Result;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube_harness::disruption::drain_node;
use kube_harness::prelude::*;
use storage_operator::Faults;

/// Runs `scenario` expecting it to fail; returns the failure's text.
async fn fails(scenario: impl Future<Output = Result<()>>) -> String {
    let err = scenario
        .await
        .expect_err("the broken operator must fail the scenario");
    let msg = format!("{err:#}");
    println!("{msg}");
    msg
}

/// The seed's root cause: running instances filtered out before their disk
/// status is read. The growth-liveness diagnostic names the claim, the
/// wait, and the operator's own log line.
#[tokio::test(start_paused = true)]
async fn catch_disk_usage_never_collected() -> Result<()> {
    if on_real_cluster()? {
        skip!("{CATCHES_NEED_THE_FAKER}");
    }
    let w = Storage::healthy(spec(3), Faults::default().filter_out_ready_instances()).await?;
    let msg = fails(grows_on_usage(&w)).await;
    let first = msg.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "growth never requested: usage of db-0/data (data-db-0) reached 90% used at +"
        ),
        "{msg}"
    );
    assert!(first.ends_with("; no resize requested within 5m"), "{msg}");
    assert!(
        msg.contains("its log says: No instances available for disk status collection"),
        "{msg}"
    );
    assert!(msg.contains("the operator's last events: "), "{msg}");
    assert!(
        msg.contains("DiskStatusUnavailable: no instance's disk usage could be read"),
        "{msg}"
    );
    w.finish().await
}

/// The seed's failure #6: growth lost during a rolling upgrade; the wait
/// says 10Gi was expected and 5Gi is what the claims ask for, with the
/// timeline of the roll.
#[tokio::test(start_paused = true)]
async fn catch_growth_lost_during_rolling_upgrade() -> Result<()> {
    if on_real_cluster()? {
        skip!("{CATCHES_NEED_THE_FAKER}");
    }
    let mut s = spec(3);
    s.storage.step = Some("100%".into());
    let w = Storage::healthy(s, Faults::default().skip_storage_while_upgrading()).await?;
    let msg = fails(grows_during_roll(&w)).await;
    assert!(
        msg.contains("requests[0]: expected \"10Gi\", got \"5Gi\""),
        "{msg}"
    );
    assert!(
        msg.contains("status.effectiveSize: expected \"10Gi\", got \"5Gi\""),
        "{msg}"
    );
    assert!(msg.contains("timeline (ns "), "{msg}");
    assert!(
        msg.contains("Pulling image \"db:v2\""),
        "the roll is on the timeline: {msg}"
    );
    w.finish().await
}

/// The seed's failure #7 turned around: an operator that measures usage
/// against the initial size flaps, and the check counts its growths
/// against the day's budget.
#[tokio::test(start_paused = true)]
async fn catch_flapping_around_the_threshold_band() -> Result<()> {
    if on_real_cluster()? {
        skip!("{CATCHES_NEED_THE_FAKER}");
    }
    let mut s = spec(1);
    s.storage.step = Some("100%".into());
    s.storage.max_actions_per_day = Some(3);
    let w = Storage::healthy(s, Faults::default().measure_against_initial_size()).await?;
    let msg = fails(grows_once_while_oscillating(&w)).await;
    assert!(
        msg.starts_with("flapping: 2 growths on 2026-02-09 against a daily budget of 3"),
        "{msg}"
    );
    assert!(msg.contains("5Gi→10Gi"), "{msg}");
    assert!(msg.contains("10Gi→20Gi"), "{msg}");
    w.finish().await
}

/// The seed's failures #5 and #8 (a drain that timed out after 900 s): a
/// budget that allows no disruption blocks the eviction, and the drain
/// fails after its bounded wait naming the pod and the budget.
#[tokio::test(start_paused = true)]
async fn catch_drain_blocked_by_a_disruption_budget() -> Result<()> {
    if on_real_cluster()? {
        skip!("{CATCHES_NEED_THE_FAKER}");
    }
    let w = Storage::healthy(spec(3), Faults::default()).await?;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"minAvailable": 3,
                 "selector": {"matchLabels": {storage_operator::crd::DATABASE_LABEL: NAME}}},
    }))?;
    w.env.apply(pdb).await?;
    let node = node_of(&w, "db-2").await?;
    let started = tokio::time::Instant::now();
    let err = drain_node(&w.env.client(), &node, 60.s())
        .await
        .expect_err("the budget allows no disruption");
    let msg = err.to_string();
    println!("{msg}");
    assert_eq!(
        msg,
        format!(
            "eviction of pod {}/db-2 blocked by a PodDisruptionBudget: Cannot evict pod as it \
             would violate the pod's disruption budget. (The disruption budget db needs 3 \
             healthy pods and has 3 currently)",
            w.env.namespace()
        )
    );
    assert!(
        started.elapsed() <= 65.s(),
        "bounded: {:?}",
        started.elapsed()
    );
    w.finish().await
}

/// A failover that never completes: the wait names the instance that is
/// still primary, the phase and the condition that says why.
#[tokio::test(start_paused = true)]
async fn catch_failover_never_completes() -> Result<()> {
    if on_real_cluster()? {
        skip!("{CATCHES_NEED_THE_FAKER}");
    }
    let w = Storage::healthy(spec(3), Faults::default().never_promote()).await?;
    let msg = fails(fails_over_then_grows(&w)).await;
    assert!(
        msg.contains("status.currentPrimary: expected \"db-1\", got \"db-0\""),
        "{msg}"
    );
    assert!(msg.contains("\"phase\": \"FailingOver\""), "{msg}");
    assert!(
        msg.contains("\"message\": \"2/3 instances ready\""),
        "{msg}"
    );
    assert!(msg.contains("FailoverStarted"), "{msg}");
    w.finish().await
}
