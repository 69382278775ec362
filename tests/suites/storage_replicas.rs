//! Storage suite 3 (seed 000): replicas made after a growth get the
//! effective size, not the claim template's initial one.

use crate::storage::report::{self, Runs};
use crate::storage::{Storage, spec};
use anyhow::Result;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::DeleteParams;
use kube_harness::prelude::*;
use storage_operator::Faults;

/// Scaling out after a growth: the new instance's claim is made at 6Gi
/// (the StatefulSet's template still says 5Gi and may not change).
#[tokio::test(start_paused = true)]
async fn creates_new_replicas_at_effective_size() -> Result<()> {
    report::scenario(Runs::Simulated(report::SHARED_FILESYSTEM), async {
        let w = Storage::healthy(spec(2), Faults::default()).await?;
        w.use_gib(0, 4.5).await?;
        w.grown_to("6Gi", 2).await?;
        w.patch_spec(json!({"instances": 3})).await?;
        let shape = eventually(w.shape())
            .within(60.s())
            .should(all_of![
                field("status.readyInstances", eq(3)),
                field("requests", eq(["6Gi", "6Gi", "6Gi"])),
                field("capacities", eq(["6Gi", "6Gi", "6Gi"])),
                field("roles", eq(["primary", "replica", "replica"])),
            ])
            .await?;
        assert_eq!(
            shape.status.history.len(),
            1,
            "no growth was needed for the new replica"
        );
        // It never asked for less: the claim was created at 6Gi.
        w.events()
            .await?
            .expect("request=6Gi")
            .on("PersistentVolumeClaim/data-db-2")
            .exactly(1)?;
        w.events()
            .await?
            .expect("request=5Gi")
            .on("PersistentVolumeClaim/data-db-2")
            .never()?;
        w.finish().await
    })
    .await
}

/// A replica that loses its disk (claim and pod deleted, as when its node
/// and local volume are gone) comes back at the size the database operates
/// at, without counting as a growth.
#[tokio::test(start_paused = true)]
async fn creates_new_replica_at_effective_operational_size() -> Result<()> {
    report::scenario(Runs::Simulated(report::SHARED_FILESYSTEM), async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        w.use_gib(0, 4.5).await?;
        w.grown_to("6Gi", 3).await?;
        w.env
            .api::<PersistentVolumeClaim>()
            .delete("data-db-2", &DeleteParams::default())
            .await?;
        w.env
            .api::<Pod>()
            .delete("db-2", &DeleteParams::default())
            .await?;
        let shape = eventually(w.shape())
            .within(60.s())
            .should(all_of![
                field("status.readyInstances", eq(3)),
                field("status.phase", eq("Healthy")),
                field("requests", eq(["6Gi", "6Gi", "6Gi"])),
                field("capacities", eq(["6Gi", "6Gi", "6Gi"])),
            ])
            .await?;
        assert_eq!(shape.status.history.len(), 1, "{:#?}", shape.status.history);
        w.finish().await
    })
    .await
}
