//! Storage suite 4 (seed 000): growth survives what happens to a database
//! in production: an operator restart, a primary pod restart, a failover, a
//! node drain, a rolling image upgrade. A growth in flight is held there
//! (the faker's resizer paused) while the disruption happens.

use crate::storage::report::{self, Runs};
use crate::storage::{Storage, spec, window};
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use kube_harness::disruption::{delete_pod, drain_node, restart_operator};
use kube_harness::prelude::*;
use storage_operator::Faults;

const HOUR: Duration = Duration::from_secs(3600);

/// The node instance `pod` runs on.
pub(crate) async fn node_of(w: &Storage, pod: &str) -> Result<String> {
    let pod: Pod = w.env.api().get(pod).await?;
    pod.spec
        .and_then(|s| s.node_name)
        .ok_or_else(|| anyhow::anyhow!("pod not scheduled"))
}

/// Starts a growth of every claim to 6Gi and holds it in flight: the
/// claims request 6Gi, the resizer has not expanded them.
pub(crate) async fn growth_in_flight(w: &Storage, instances: usize) -> Result<()> {
    w.faker().pause_kind(FakerKind::PersistentVolumeClaim);
    w.use_gib(0, 4.5).await?;
    eventually(w.shape())
        .should(all_of![
            field("requests", eq(vec!["6Gi"; instances])),
            field("capacities", eq(vec!["5Gi"; instances])),
            field("status.phase", eq("Resizing")),
        ])
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn resumes_growth_operation_after_operator_pod_restart() -> Result<()> {
    report::scenario(Runs::Simulated(report::VIRTUAL_TIME), async {
        let mut s = spec(3);
        s.storage.maintenance_window = Some(window());
        let w = Storage::healthy(s, Faults::default()).await?;
        // A growth queued for the window survives the restart unchanged…
        w.use_gib(0, 4.5).await?;
        let queued = eventually(w.shape())
            .should(field("status.pendingAction.kind", eq("Planned")))
            .await?
            .status
            .pending_action;
        restart_operator(&w.operator).await?;
        w.env
            .timeline()
            .note("Operator/storage-operator", "restarted", "growth queued");
        consistently(w.shape())
            .for_(2.mins())
            .every(1.s())
            .should(all_of![
                field("status.pendingAction", eq(&queued)),
                field("requests", eq(["5Gi", "5Gi", "5Gi"])),
            ])
            .await?;
        // …and runs when the window opens, once.
        w.jump(2 * HOUR);
        w.grown_to("6Gi", 3).await?;
        assert_eq!(w.operator.starts(), 2);
        w.events().await?.expect("GrowthStarted").exactly(1)?;
        w.finish().await
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn resumes_growth_operation_after_primary_pod_restart() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        growth_in_flight(&w, 3).await?;
        delete_pod(&w.env, "db-0", 60.s()).await?;
        w.faker().resume();
        w.grown_to("6Gi", 3).await?;
        let shape = eventually(w.shape())
            .should(all_of![
                field("status.phase", eq("Healthy")),
                field("status.currentPrimary", eq("db-0")),
                field("roles", eq(["primary", "replica", "replica"])),
            ])
            .await?;
        assert_eq!(shape.status.history.len(), 1);
        // Back within the failover delay: no replica was promoted.
        w.events().await?.expect("FailoverCompleted").never()?;
        w.finish().await
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn continues_growth_safely_after_failover() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        fails_over_then_grows(&w).await?;
        w.finish().await
    })
    .await
}

/// db-0's node stops answering; db-1 is promoted after the 30 s delay, and
/// a growth on the new primary reaches every claim.
pub(crate) async fn fails_over_then_grows(w: &Storage) -> Result<()> {
    let node = node_of(w, "db-0").await?;
    // The primary's node stops answering: db-0 goes not ready and stays so.
    w.faker().node_not_ready(&node);
    let shape = eventually(w.shape())
        .within(2.mins())
        .every(1.s())
        .should(all_of![
            field("status.currentPrimary", eq("db-1")),
            field("roles[1]", eq("primary")),
        ])
        .await?;
    assert_eq!(shape.status.primary_unready_since, None);
    w.events().await?.expect("FailoverStarted").exactly(1)?;
    w.events().await?.expect("FailoverCompleted").exactly(1)?;
    // The new primary fills up: every claim grows, the old primary's too.
    w.use_gib(1, 4.5).await?;
    eventually(w.shape())
        .within(60.s())
        .should(all_of![
            field("status.effectiveSize", eq("6Gi")),
            field("requests", eq(["6Gi", "6Gi", "6Gi"])),
        ])
        .await?;
    w.faker().node_ready(&node);
    w.grown_to("6Gi", 3).await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn recovers_growth_operation_after_node_drain() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        growth_in_flight(&w, 3).await?;
        let node = node_of(&w, "db-2").await?;
        w.faker().resume();
        let report = drain_node(&w.env.client(), &node, 2.mins()).await?;
        println!("drained {node}: {report:?}");
        let shape = w.grown_to("6Gi", 3).await?;
        eventually(w.shape())
            .within(60.s())
            .should(field("status.readyInstances", eq(3)))
            .await?;
        assert_ne!(
            node_of(&w, "db-2").await?,
            node,
            "db-2 moved off the drained node"
        );
        assert_eq!(shape.status.history.len(), 1);
        w.finish().await
    })
    .await
}

/// The seed's failure #6: an image upgrade rolling through the pods while
/// usage crosses the buffer must not lose the growth.
#[tokio::test(start_paused = true)]
async fn rolling_image_upgrade_while_dynamic_sizing_active() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let mut s = spec(3);
        s.storage.step = Some("100%".into());
        let w = Storage::healthy(s, Faults::default()).await?;
        grows_during_roll(&w).await?;
        w.finish().await
    })
    .await
}

/// db:v1 → db:v2 rolls slowly (a minute's pull per pod) while db-0 fills
/// past the buffer: the growth to 10Gi happens mid-roll.
pub(crate) async fn grows_during_roll(w: &Storage) -> Result<()> {
    // Each upgraded pod pulls its image for a minute: a slow roll.
    w.faker().timings(|t| t.pull = 60.s());
    w.patch_spec(json!({"image": "db:v2"})).await?;
    eventually(w.shape())
        .should(field("images", not(eq(["db:v1", "db:v1", "db:v1"]))))
        .await?;
    w.use_gib(0, 4.5).await?;
    let shape = eventually(w.shape())
        .within(2.mins())
        .every(1.s())
        .should(all_of![
            field("requests", eq(["10Gi", "10Gi", "10Gi"])),
            field("status.effectiveSize", eq("10Gi")),
        ])
        .await?;
    assert!(
        shape.images.iter().any(|i| i == "db:v1"),
        "the growth happened mid-roll: {:?}",
        shape.images
    );
    // The rest of the roll takes minutes of pulls: a poll each 5 s.
    eventually(w.shape())
        .within(10.mins())
        .every(5.s())
        .should(all_of![
            field("images", eq(["db:v2", "db:v2", "db:v2"])),
            field("capacities", eq(["10Gi", "10Gi", "10Gi"])),
            field("status.phase", eq("Healthy")),
        ])
        .await?;
    Ok(())
}
