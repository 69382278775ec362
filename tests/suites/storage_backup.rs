//! Storage suite 5 (seed 000): backups run as Jobs beside storage, and
//! neither waits for the other, not even during a node drain with a growth
//! in flight.

use crate::storage::report::{self, Runs};
use crate::storage::{Storage, spec};
use crate::storage_disruption::{growth_in_flight, node_of};
use anyhow::Result;
use kube_harness::disruption::drain_node;
use kube_harness::prelude::*;
use storage_operator::{Backup, BackupSpec, Faults};

/// Takes a backup named `name` of the database.
async fn backup(w: &Storage, name: &str) -> Result<Backup> {
    Ok(w.env
        .apply(Backup::new(
            name,
            BackupSpec {
                database: crate::storage::NAME.into(),
            },
        ))
        .await?)
}

#[tokio::test(start_paused = true)]
async fn backup_succeeds_without_deadlocking_storage_reconciliation() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let w = Storage::healthy(spec(2), Faults::default()).await?;
        // A backup that takes ten minutes; the disk fills while it runs.
        w.faker().timings(|t| t.job_run = 10.mins());
        let b = backup(&w, "nightly").await?;
        eventually(w.env.get(&b))
            .should(field("status.phase", eq("Running")))
            .await?;
        w.use_gib(0, 4.5).await?;
        // Storage does not wait for the backup…
        w.grown_to("6Gi", 2).await?;
        let running: Backup = w.env.api().get("nightly").await?;
        assert_eq!(
            running.status.and_then(|s| s.phase).as_deref(),
            Some("Running")
        );
        // …and the backup finishes on its own time.
        eventually(w.env.get(&b))
            .within(15.mins())
            .every(5.s())
            .should(all_of![
                field("status.phase", eq("Completed")),
                field("status.job", eq("backup-nightly")),
            ])
            .await?;
        w.events().await?.before("GrowthCompleted", "Completed")?;
        w.finish().await
    })
    .await
}

/// P1: a backup running, a growth in flight and a node drained under both;
/// all three finish.
#[tokio::test(start_paused = true)]
async fn concurrent_backup_node_drain_and_in_flight_growth() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        w.faker().timings(|t| t.job_run = 3.mins());
        let b = backup(&w, "p1").await?;
        eventually(w.env.get(&b))
            .should(field("status.phase", eq("Running")))
            .await?;
        growth_in_flight(&w, 3).await?;
        let node = node_of(&w, "db-2").await?;
        w.faker().resume();
        let report = drain_node(&w.env.client(), &node, 2.mins()).await?;
        println!("drained {node}: {report:?}");
        w.grown_to("6Gi", 3).await?;
        eventually(w.shape())
            .within(60.s())
            .should(field("status.readyInstances", eq(3)))
            .await?;
        eventually(w.env.get(&b))
            .within(10.mins())
            .every(5.s())
            .should(field("status.phase", eq("Completed")))
            .await?;
        assert_ne!(node_of(&w, "db-2").await?, node);
        w.finish().await
    })
    .await
}
