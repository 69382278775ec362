//! Storage suite 1 (seed 000): admission, initial sizing, growth on usage,
//! the limit, emergency growth and the three topologies.

use crate::storage::report::{self, Runs};
use crate::storage::{GI, Storage, on_real_cluster, spec, window};
use anyhow::Result;
use kube::api::PostParams;
use kube_harness::prelude::*;
use rstest::rstest;
use storage_operator::{ActionKind, Database, Faults};

/// Creates a Database named `bad` from `spec` and returns the API error's
/// message (failing when the server accepts it).
async fn refused(w: &Storage, spec: storage_operator::DatabaseSpec) -> Result<String> {
    let api = w.env.api::<Database>();
    match api
        .create(&PostParams::default(), &Database::new("bad", spec))
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{e:?}");
            Ok(e.message)
        }
        Ok(_) => anyhow::bail!("the server accepted an invalid Database"),
        Err(e) => Err(e.into()),
    }
}

/// Each invalid policy is refused at admission with a message naming its
/// field: the CRD's schema (ranges: apiextensions-apiserver's
/// `pkg/apiserver/validation` "should be less than or equal to") and its
/// CEL rules (`fieldPath` messages, as in
/// `staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go`).
#[tokio::test(start_paused = true)]
async fn rejects_invalid_configurations() -> Result<()> {
    report::scenario(Runs::Anywhere, async {
    let w = Storage::start(Faults::default()).await?;
    let prefix = "Database.storage.kube-harness.dev \"bad\" is invalid: ";

    let mut s = spec(1);
    s.storage.limit = "4Gi".into();
    let msg = refused(&w, s).await?;
    assert!(msg.starts_with(prefix), "{msg}");
    assert!(
        msg.contains("spec.storage.limit: Invalid value: \"object\": must not be below size"),
        "{msg}"
    );

    let mut s = spec(1);
    s.storage.target_buffer = 120;
    let msg = refused(&w, s).await?;
    assert!(msg.contains("spec.storage.targetBuffer: Invalid value: 120: spec.storage.targetBuffer in body should be less than or equal to 90"), "{msg}");

    let mut s = spec(1);
    s.storage.critical_threshold = 0;
    let msg = refused(&w, s).await?;
    assert!(msg.contains("spec.storage.criticalThreshold: Invalid value: 0: spec.storage.criticalThreshold in body should be greater than or equal to 1"), "{msg}");

    // The seed's own fix: a schedule in neither cron form is refused, and
    // both the 5-field and the 6-field form of February 31st are admitted.
    for bad in ["every sunday", "61 4 * * *", "0 4 * *"] {
        let mut s = spec(1);
        s.storage.maintenance_window = Some(storage_operator::MaintenanceWindow {
            schedule: bad.into(),
            duration: "1h".into(),
        });
        let msg = refused(&w, s).await?;
        assert!(msg.contains("spec.storage.maintenanceWindow.schedule: Invalid value: \"object\": must be a cron schedule of 5 fields"), "{bad}: {msg}");
    }

    let mut s = spec(1);
    s.storage.budgets = Some(crate::storage::budgets(-1, 1));
    let msg = refused(&w, s).await?;
    assert!(msg.contains("spec.storage.budgets.planned: Invalid value: -1: spec.storage.budgets.planned in body should be greater than or equal to 0"), "{msg}");

    let mut s = spec(1);
    s.storage.max_actions_per_day = Some(-2);
    let msg = refused(&w, s).await?;
    assert!(
        msg.contains("spec.storage.maxActionsPerDay: Invalid value: -2"),
        "{msg}"
    );

    let mut s = spec(1);
    s.storage.step = Some("lots".into());
    let msg = refused(&w, s).await?;
    assert!(msg.contains("spec.storage.step: Invalid value: \"object\": must be a percentage such as 20% or a positive quantity"), "{msg}");

    // A claim's class cannot change, so the database's cannot either (a
    // transition rule: `self == oldSelf`).
    let mut s = spec(1);
    s.storage.storage_class_name = Some("fast".into());
    let db = w.env.api::<Database>().create(&PostParams::default(), &Database::new("classy", s)).await?;
    let moved = w.env.patch(&db, json!({"spec": {"storage": {"storageClassName": "slow"}}})).await;
    let msg = format!("{:#}", moved.expect_err("the class changed"));
    assert!(msg.contains("spec.storage.storageClassName: Invalid value: \"string\": is immutable: a claim's class cannot change"), "{msg}");

    for good in ["0 4 31 2 *", "0 0 4 31 2 *", "*/15 2-4 * * 1,3,5"] {
        let mut s = spec(1);
        s.storage.maintenance_window = Some(storage_operator::MaintenanceWindow {
            schedule: good.into(),
            duration: "1h30m".into(),
        });
        let name = format!("ok-{}", good.len());
        w.env
            .api::<Database>()
            .create(&PostParams::default(), &Database::new(&name, s))
            .await
            .map_err(|e| anyhow::anyhow!("{good:?} refused: {e}"))?;
    }
    w.finish().await
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn provisions_pvc_at_request_size() -> Result<()> {
    report::scenario(Runs::Anywhere, async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        w.use_gib_all(3, 1.0).await?;
        consistently(w.shape())
            .for_(60.s())
            .every(5.s())
            .should(all_of![
                field("requests", eq(["5Gi", "5Gi", "5Gi"])),
                field("capacities", eq(["5Gi", "5Gi", "5Gi"])),
                field("status.effectiveSize", eq("5Gi")),
                field("status.pendingAction", absent()),
                field("growths", eq(0)),
                field("roles", eq(["primary", "replica", "replica"])),
            ])
            .await?;
        w.finish().await
    })
    .await
}

/// The seed's failure #1: usage past the buffer must grow the claims.
#[tokio::test(start_paused = true)]
async fn grows_storage_when_usage_exceeds_target_buffer() -> Result<()> {
    report::scenario(Runs::Simulated(report::SHARED_FILESYSTEM), async {
        let w = Storage::healthy(spec(3), Faults::default()).await?;
        grows_on_usage(&w).await?;
        w.finish().await
    })
    .await
}

/// 4.5 of 5Gi on db-0 (90% used, less than 20% free): a resize is asked
/// for within two usage polls and every claim reaches 6Gi, once.
pub(crate) async fn grows_on_usage(w: &Storage) -> Result<()> {
    w.fill_and_expect_growth(0, 4.5, 5.mins()).await?;
    let shape = w.grown_to("6Gi", 3).await?;
    let growth = &shape.status.history[0];
    assert_eq!(
        (growth.kind, growth.from.as_str(), growth.to.as_str()),
        (ActionKind::Planned, "5Gi", "6Gi")
    );
    assert_eq!(
        growth.reason,
        "data-db-0 is 90% full, leaving less than the target buffer of 20% free"
    );
    eventually(w.shape())
        .should(field("status.phase", eq("Healthy")))
        .await?;
    w.events().await?.expect("GrowthStarted").exactly(1)?;
    w.events().await?.expect("GrowthCompleted").exactly(1)?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn respects_limit_and_does_not_grow_beyond_it() -> Result<()> {
    report::scenario(Runs::Simulated(report::FAKER), async {
        let mut s = spec(2);
        s.storage.limit = "8Gi".into();
        let w = Storage::healthy(s, Faults::default()).await?;
        // A disk that keeps filling: 50 MiB per second of virtual time.
        w.use_gib(0, 4.0).await?;
        w.faker().fill_disk("data-db-0", 50 << 20);
        eventually(w.shape())
            .within(10.mins())
            .every(1.s())
            .should(all_of![
                field("status.effectiveSize", eq("8Gi")),
                field(
                    "status.pendingAction.reason",
                    contains("at the limit of 8Gi")
                ),
            ])
            .await?;
        consistently(w.shape())
            .for_(10.mins())
            .every(30.s())
            .should(all_of![
                field("requests", eq(["8Gi", "8Gi"])),
                field("status.effectiveSize", eq("8Gi")),
            ])
            .await?;
        // Announced when the planned growth first hits the limit, and once more
        // if it becomes an emergency; never on every poll.
        w.events().await?.expect("LimitReached").at_least(1)?;
        w.events().await?.expect("LimitReached").at_most(2)?;
        w.finish().await
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn grows_immediately_when_critical_threshold_is_reached() -> Result<()> {
    report::scenario(Runs::Simulated(report::SHARED_FILESYSTEM), async {
        let mut s = spec(3);
        // Closed now (02:00) and for two more hours: only an emergency may grow.
        s.storage.maintenance_window = Some(window());
        let w = Storage::healthy(s, Faults::default()).await?;
        let set_at = w.env.timeline().elapsed();
        w.use_gib(1, 4.8).await?;
        let shape = w.grown_to("6Gi", 3).await?;
        let growth = &shape.status.history[0];
        assert_eq!(growth.kind, ActionKind::Emergency);
        assert_eq!(
            growth.reason,
            "data-db-1 is 96% full, at or above the critical threshold of 95%"
        );
        // Within two usage polls of the usage being set, not at the window.
        let tl = w.events().await?;
        let started = tl.first("GrowthStarted").expect("GrowthStarted");
        assert!(
            started.at - set_at <= 2 * crate::storage::POLL,
            "{}",
            tl.render()
        );
        w.finish().await
    })
    .await
}

/// Seed topologies T1 (no replicas), T2 (one replica), T3 (several): the
/// fullest instance, whichever it is, grows every claim to one size.
#[rstest]
#[case::no_replicas_t1(1)]
#[case::single_replica_t2(2)]
#[case::multiple_replicas_t3(3)]
#[tokio::test(start_paused = true)]
async fn handles_dynamic_sizing(#[case] instances: i32) -> Result<()> {
    report::scenario(
        if instances == 1 {
            Runs::Anywhere
        } else {
            Runs::Simulated(report::SHARED_FILESYSTEM)
        },
        async {
            let mut s = spec(instances);
            if on_real_cluster()? {
                // csi-hostpath's filesystem keeps its size when the claim grows,
                // so usage stays at 90% after the growth: the limit is where a
                // real cluster's one growth stops.
                s.storage.limit = "6Gi".into();
            }
            let w = Storage::healthy(s, Faults::default()).await?;
            let last = instances - 1;
            w.fill_and_expect_growth(last, 4.5, 5.mins()).await?;
            let shape = w.grown_to("6Gi", instances as usize).await?;
            let mut roles = vec!["replica"; instances as usize];
            roles[0] = "primary";
            assert_eq!(shape.roles, roles);
            assert_eq!(shape.status.disks.len(), instances as usize);
            let fullest = shape
                .status
                .disks
                .iter()
                .max_by_key(|d| d.used_bytes)
                .unwrap();
            let written = (4.5 * GI as f64) as u64;
            if w.real() {
                // The filesystem also holds the driver's few KiB of state.
                assert!(
                    (written..written + (1 << 20)).contains(&fullest.used_bytes),
                    "{} bytes used",
                    fullest.used_bytes
                );
            } else {
                assert_eq!(fullest.used_bytes, written);
            }
            assert_eq!(shape.status.history.len(), 1, "{:?}", shape.status.history);
            w.finish().await
        },
    )
    .await
}
