//! What the storage suites share (seed 000): a `Database` "db" run by the
//! storage operator under test, the StatusFaker playing the StatefulSet
//! controller, the kubelets (disk usage behind the node proxy) and the
//! external resizer, and one [`Shape`] an on-call reads.
//!
//! The operator's clock is its own: it starts at 02:00 UTC on the day the
//! seed's team ran their suite and follows tokio time, and a test jumps it
//! by hours or days ([`Storage::jump`]) to open a maintenance window or
//! start a new budget day without running that much tokio time.
//!
//! The storage scenarios need the faker's kubelets behind the embedded
//! server's node proxy, so they run on the embedded backend whatever
//! `HARNESS_CLUSTER` says.

use anyhow::Result;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{ListParams, PostParams};
use kube_harness::env::OperatorHandle;
use kube_harness::prelude::*;
use serde::Serialize;
use std::time::Duration;
use storage_operator::crd::{DATABASE_LABEL, ROLE_LABEL};
pub(crate) mod report;

use storage_operator::instances::{claim_name, pod_name, running_image};
use storage_operator::{
    Budgets, Database, DatabaseSpec, DatabaseStatus, Faults, MaintenanceWindow, OperatorConfig,
    StorageSpec, TokioClock,
};

pub(crate) const NAME: &str = "db";
pub(crate) const V1: &str = "db:v1";
pub(crate) const GI: u64 = 1 << 30;
/// The operator's clock starts here: the seed's run, before a 04:00 window.
pub(crate) const START: &str = "2026-02-09T02:00:00Z";
/// How often the faker plays a round: the scenarios cover hours, so a
/// coarser round than the default 100 ms keeps each in well under a second
/// of wall time.
pub(crate) const ROUND: Duration = Duration::from_millis(500);
/// How often the operator reads disk usage in these scenarios.
pub(crate) const POLL: Duration = Duration::from_secs(5);

/// The seed's starting point: `instances` of `db:v1` on 5Gi, limit 20Gi,
/// keep 20% free, emergency at 95%, no window, no budgets.
pub(crate) fn spec(instances: i32) -> DatabaseSpec {
    DatabaseSpec {
        instances,
        image: V1.into(),
        storage: StorageSpec::new("5Gi", "20Gi"),
        failover_delay_seconds: Some(30),
    }
}

/// A daily window at 04:00 UTC for two hours.
pub(crate) fn window() -> MaintenanceWindow {
    MaintenanceWindow {
        schedule: "0 4 * * *".into(),
        duration: "2h".into(),
    }
}

/// Budgets of `planned` and `emergency` growths a day.
pub(crate) fn budgets(planned: i32, emergency: i32) -> Budgets {
    Budgets {
        planned: Some(planned),
        emergency: Some(emergency),
    }
}

/// One storage scenario's world.
pub(crate) struct Storage {
    pub env: TestEnv,
    pub faker: StatusFaker,
    pub operator: OperatorHandle,
    pub clock: TokioClock,
}

/// Everything an on-call reads, in one value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Shape {
    pub status: DatabaseStatus,
    /// Each instance's claim request, by ordinal.
    pub requests: Vec<String>,
    /// Each instance's claim capacity, by ordinal ("-" before it binds).
    pub capacities: Vec<String>,
    /// Each pod's role label, by ordinal ("-": no pod or no role).
    pub roles: Vec<String>,
    /// The image each pod runs, by ordinal.
    pub images: Vec<String>,
    /// Growths the operator announced (`GrowthStarted` Events).
    pub growths: usize,
}

impl Storage {
    /// An operator (broken by `faults`) on an embedded env with an
    /// expandable default StorageClass, and no database yet.
    pub(crate) async fn start(faults: Faults) -> Result<Self> {
        let env = TestEnv::embedded().await?;
        env.install_crds("../manifests/crds").await?;
        // Claims grow only through a class that allows it; DefaultStorageClass
        // gives it to the operator's claims.
        let class: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": "expandable",
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "faker.csi.kube-harness.io", "allowVolumeExpansion": true,
        }))?;
        kube::Api::<StorageClass>::all(env.client())
            .create(&PostParams::default(), &class)
            .await?;
        let faker = env.status_faker();
        faker.timings(|t| t.round = ROUND);
        let faker = faker.start();
        let tl = env.timeline();
        tl.track::<Database>(
            Track::named(NAME)
                .without_conditions()
                .field("status.effectiveSize")
                .field("status.pendingAction.kind")
                .field("status.currentPrimary"),
        )
        .await?;
        tl.track::<PersistentVolumeClaim>(
            Track::all()
                .without_phase()
                .without_conditions()
                .field_as("request", "spec.resources.requests.storage")
                .field_as("capacity", "status.capacity.storage"),
        )
        .await?;
        let clock = TokioClock::starting_at(START.parse()?);
        let config = OperatorConfig {
            poll: POLL,
            ..OperatorConfig::namespaced(env.namespace())
        }
        .with_clock(clock.clone())
        .with_faults(faults);
        let operator = env.spawn_operator("storage-operator", move |client| {
            storage_operator::run(client, config.clone())
        })?;
        Ok(Self {
            env,
            faker,
            operator,
            clock,
        })
    }

    /// [`Storage::start`] with a database of `spec` made Healthy.
    pub(crate) async fn healthy(spec: DatabaseSpec, faults: Faults) -> Result<Self> {
        let w = Self::start(faults).await?;
        w.create(spec).await?;
        Ok(w)
    }

    /// Creates the database and waits until every instance serves.
    pub(crate) async fn create(&self, spec: DatabaseSpec) -> Result<()> {
        let instances = spec.instances;
        self.env.apply(Database::new(NAME, spec)).await?;
        eventually(self.shape())
            .within(60.s())
            .should(all_of![
                field("status.phase", eq("Healthy")),
                field("status.readyInstances", eq(instances)),
            ])
            .await?;
        Ok(())
    }

    /// The whole shape, as a probe of the env: a failed wait on it names
    /// `database/db (shape)` and carries the timeline and the operator's
    /// last log lines.
    pub(crate) fn shape(&self) -> impl Probe<Output = Shape> + '_ {
        self.env
            .probe("database/db (shape)", move || self.read_shape())
    }

    /// Reads the whole shape once.
    pub(crate) async fn read_shape(&self) -> Result<Shape> {
        // No `timeline().sync()` here: it lists every Event of the namespace,
        // and a wait polls this four times a second over hours of virtual
        // time; the recorder's watch has delivered them by the next poll.
        let env = &self.env;
        let db = env.api::<Database>().get(NAME).await?;
        let by_label = ListParams::default().labels(&format!("{DATABASE_LABEL}={NAME}"));
        let claims = env
            .api::<PersistentVolumeClaim>()
            .list(&by_label)
            .await?
            .items;
        let pods = env.api::<Pod>().list(&by_label).await?.items;
        let count = db.spec.instances.max(claims.len() as i32);
        let mut shape = Shape {
            status: db.status.unwrap_or_default(),
            requests: Vec::new(),
            capacities: Vec::new(),
            roles: Vec::new(),
            images: Vec::new(),
            growths: env.timeline().timeline().count("GrowthStarted"),
        };
        for n in 0..count {
            let pod = pod_name(NAME, n);
            let claim = claims.iter().find(|c| c.name_any() == claim_name(&pod));
            let storage = |q: Option<&std::collections::BTreeMap<String, _>>| {
                q.and_then(|m| m.get("storage")).map_or(
                    "-".to_string(),
                    |q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity| q.0.clone(),
                )
            };
            shape.requests.push(storage(
                claim
                    .and_then(|c| c.spec.as_ref())
                    .and_then(|s| s.resources.as_ref())
                    .and_then(|r| r.requests.as_ref()),
            ));
            shape.capacities.push(storage(
                claim
                    .and_then(|c| c.status.as_ref())
                    .and_then(|s| s.capacity.as_ref()),
            ));
            let pod = pods.iter().find(|p| p.name_any() == pod);
            shape.roles.push(
                pod.and_then(|p| p.labels().get(ROLE_LABEL).cloned())
                    .unwrap_or_else(|| "-".into()),
            );
            shape
                .images
                .push(pod.and_then(running_image).unwrap_or("-").to_string());
        }
        Ok(shape)
    }

    /// Instance `n`'s data volume holds `gib` GiB.
    pub(crate) fn use_gib(&self, n: i32, gib: f64) {
        let claim = claim_name(&pod_name(NAME, n));
        self.faker.set_disk_usage(&claim, (gib * GI as f64) as u64);
    }

    /// Every one of the first `instances` volumes holds `gib` GiB.
    pub(crate) fn use_gib_all(&self, instances: i32, gib: f64) {
        for n in 0..instances {
            self.use_gib(n, gib);
        }
    }

    /// Patches the database's spec, as a user would.
    pub(crate) async fn patch_spec(&self, spec: serde_json::Value) -> Result<()> {
        let db = self.env.api::<Database>().get(NAME).await?;
        self.env.patch(&db, json!({ "spec": spec })).await?;
        Ok(())
    }

    /// Moves the operator's clock forward (a night, a day) at once, and
    /// notes it on the timeline.
    pub(crate) fn jump(&self, by: Duration) {
        self.clock.jump(by);
        self.env.timeline().note(
            "Clock/storage-operator",
            "jumped",
            &format!(
                "{}s to {}",
                by.as_secs(),
                storage_operator::Clock::now(&self.clock)
            ),
        );
    }

    /// Waits until every claim requests and has `size`.
    pub(crate) async fn grown_to(&self, size: &str, instances: usize) -> Result<Shape> {
        let all = vec![size.to_string(); instances];
        Ok(eventually(self.shape())
            .within(60.s())
            .should(all_of![
                field("status.effectiveSize", eq(size)),
                field("requests", eq(all.clone())),
                field("capacities", eq(all)),
            ])
            .await?)
    }

    /// Sets instance `n`'s usage to `gib` GiB and expects the operator to
    /// ask for a bigger claim within `within`. When it does not, the error
    /// is the growth-liveness diagnostic: when usage crossed the line, how
    /// long nothing happened, the operator's last Events and what its log
    /// says, then the wait's own report (shape, timeline).
    pub(crate) async fn fill_and_expect_growth(
        &self,
        n: i32,
        gib: f64,
        within: Duration,
    ) -> Result<Shape> {
        let before = self.read_shape().await?;
        let claim = claim_name(&pod_name(NAME, n));
        let request = before.requests.get(n as usize).cloned().unwrap_or_default();
        let capacity = before
            .capacities
            .get(n as usize)
            .cloned()
            .unwrap_or_default();
        let percent = storage_operator::size::bytes(&capacity)
            .map(|c| gib * GI as f64 * 100.0 / c as f64)
            .unwrap_or(0.0);
        self.use_gib(n, gib);
        let crossed = self.env.timeline().elapsed();
        self.env.timeline().note(
            &format!("PersistentVolumeClaim/{claim}"),
            "usage",
            &format!("{gib}Gi of {capacity} ({percent:.0}%)"),
        );
        let waited = eventually(self.shape())
            .within(within)
            .should(field(&format!("requests[{n}]"), not(eq(&request))))
            .await;
        waited.map_err(|failure| {
            let tl = self.env.timeline().timeline();
            let events: Vec<String> = tl
                .entries()
                .iter()
                .filter(|e| e.object == format!("Database/{NAME}"))
                .filter_map(|e| match &e.what {
                    kube_harness::timeline::What::Event {
                        reason, message, ..
                    } => Some(format!(
                        "{} {reason}: {message}",
                        kube_harness::timeline::offset(e.at)
                    )),
                    _ => None,
                })
                .collect();
            let events = match events.len() {
                0 => "none".to_string(),
                k => events[k.saturating_sub(3)..].join("; "),
            };
            let mut said: Vec<String> = Vec::new();
            for line in self.env.operator_logs().tail(200).into_iter().rev() {
                let message = line
                    .split_once(": ")
                    .map_or(line.as_str(), |(_, m)| m)
                    .to_string();
                if !said.contains(&message) {
                    said.push(message);
                }
                if said.len() == 3 {
                    break;
                }
            }
            anyhow::anyhow!(
                "growth never requested: usage of {}/{} ({claim}) reached {percent:.0}% used at {}; \
                 no resize requested within {}\n  the operator's last events: {events}\n  \
                 its log says: {}\n{failure}",
                pod_name(NAME, n),
                storage_operator::crd::DATA,
                kube_harness::timeline::offset(crossed),
                kube_harness::wait::fmt_duration(within),
                said.join(" | "),
            )
        })
    }

    /// The timeline after listing the namespace's Events once more, so a
    /// count right after a wait sees the Events published with its last
    /// write.
    pub(crate) async fn events(&self) -> Result<kube_harness::timeline::Timeline> {
        self.env.timeline().sync().await?;
        Ok(self.env.timeline().timeline())
    }

    /// Ordered teardown with its errors reported.
    pub(crate) async fn finish(self) -> Result<()> {
        Ok(self.env.finish().await?)
    }
}
