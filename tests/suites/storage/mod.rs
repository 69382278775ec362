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
//! Where the faker plays the cluster (the embedded backend, or
//! `HARNESS_CLUSTER=existing HARNESS_FAKER=all`) the scenarios run on the
//! embedded server, whose node proxy reaches the faker's kubelets. On a real
//! cluster (`HARNESS_CLUSTER=existing` without the faker: kind in the e2e
//! workflow) the scenarios that make sense there run for real (see
//! [`report::Runs`]): the database's pods run [`REAL_IMAGE`] on the class
//! `STORAGE_SUITE_CLASS` names, usage is data written in the pod, the
//! kubelet reports it, and the cluster's resizer grows the claims.

use anyhow::Result;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{AttachParams, ListParams, PostParams};
use kube_harness::env::{OperatorHandle, Settings, time_is_paused};
use kube_harness::prelude::*;
use serde::Serialize;
use std::time::Duration;
use storage_operator::crd::{DATABASE_LABEL, ROLE_LABEL};
pub(crate) mod report;

use storage_operator::instances::{DATA_PATH, claim_name, pod_name, running_image};
use storage_operator::usage;
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
/// What [`V1`] runs on a real cluster: a database image whose default
/// command serves until stopped and which has a shell and `dd` to write
/// data with.
pub(crate) const REAL_IMAGE: &str = "docker.io/library/redis:7.4-alpine";
/// Names the expandable StorageClass the scenarios use on a real cluster.
pub(crate) const CLASS_VAR: &str = "STORAGE_SUITE_CLASS";
/// The file a scenario fills on a real cluster, in the data volume.
const FILL: &str = "fill";
/// Why the catches skip on a real cluster.
pub(crate) const CATCHES_NEED_THE_FAKER: &str = "a catch breaks the operator on purpose and scripts the faker's kubelets; \
     it runs where the faker plays the cluster (the embedded backend)";

/// Does this run face a real cluster with its own kubelets and controllers
/// (`HARNESS_CLUSTER=existing` without `HARNESS_FAKER=all`)?
pub(crate) fn on_real_cluster() -> Result<bool> {
    Ok(!Settings::from_env()?.faker_plays_controllers())
}

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
    /// The faker playing kubelets and controllers; `None` on a real
    /// cluster.
    faker: Option<StatusFaker>,
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
    /// An operator (broken by `faults`) on an env with an expandable
    /// StorageClass (made default on the embedded backend), and no database
    /// yet.
    pub(crate) async fn start(faults: Faults) -> Result<Self> {
        let real = on_real_cluster()?;
        let env = if real {
            // Real sockets: paused time would fire every timeout at once.
            if time_is_paused() {
                tokio::time::resume();
            }
            TestEnv::new().await?
        } else {
            TestEnv::embedded().await?
        };
        env.install_crds("../manifests/crds").await?;
        let faker = if real {
            None
        } else {
            // Claims grow only through a class that allows it;
            // DefaultStorageClass gives it to the operator's claims.
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
            Some(faker.start())
        };
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

    /// The faker; only the scenarios that run where it plays the cluster
    /// reach for it (a real cluster skips them before).
    pub(crate) fn faker(&self) -> &StatusFaker {
        self.faker
            .as_ref()
            .expect("the faker plays the cluster only on the embedded backend")
    }

    /// Is the database on a real cluster?
    pub(crate) fn real(&self) -> bool {
        self.faker.is_none()
    }

    /// [`Storage::start`] with a database of `spec` made Healthy.
    pub(crate) async fn healthy(spec: DatabaseSpec, faults: Faults) -> Result<Self> {
        let w = Self::start(faults).await?;
        w.create(spec).await?;
        Ok(w)
    }

    /// Creates the database and waits until every instance serves. On a
    /// real cluster its pods run [`REAL_IMAGE`] and its claims use the
    /// class `STORAGE_SUITE_CLASS` names.
    pub(crate) async fn create(&self, mut spec: DatabaseSpec) -> Result<()> {
        let instances = spec.instances;
        if self.real() {
            anyhow::ensure!(
                spec.image == V1,
                "no real image stands for {:?} (only {V1} runs on a real cluster, as {REAL_IMAGE})",
                spec.image
            );
            spec.image = REAL_IMAGE.into();
            spec.storage.storage_class_name = Some(self.real_class().await?);
        }
        self.env.apply(Database::new(NAME, spec)).await?;
        // A real cluster pulls the image first.
        let within = if self.real() { 5.mins() } else { 60.s() };
        eventually(self.shape())
            .within(within)
            .should(all_of![
                field("status.phase", eq("Healthy")),
                field("status.readyInstances", eq(instances)),
            ])
            .await?;
        Ok(())
    }

    /// The expandable class a real cluster's scenarios use, checked.
    async fn real_class(&self) -> Result<String> {
        let set = std::env::var(CLASS_VAR).ok().filter(|v| !v.is_empty());
        let name = set.ok_or_else(|| {
            anyhow::anyhow!(
                "the storage scenarios on a real cluster need an expandable StorageClass: \
                 set {CLASS_VAR} (the kind workflow sets csi-hostpath on the cluster \
                 manifests/kind/storage.yaml makes)"
            )
        })?;
        let class = kube::Api::<StorageClass>::all(self.env.client())
            .get_opt(&name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{CLASS_VAR}={name}: no such StorageClass"))?;
        anyhow::ensure!(
            class.allow_volume_expansion == Some(true),
            "{CLASS_VAR}={name}: the class does not set allowVolumeExpansion, so no claim of it can grow"
        );
        Ok(name)
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

    /// Instance `n`'s data volume holds `gib` GiB: the faker's kubelet says
    /// so, or, on a real cluster, that much data is written in the pod.
    pub(crate) async fn use_gib(&self, n: i32, gib: f64) -> Result<()> {
        let bytes = (gib * GI as f64) as u64;
        match &self.faker {
            Some(faker) => {
                faker.set_disk_usage(&claim_name(&pod_name(NAME, n)), bytes);
                Ok(())
            }
            None => {
                let mib = bytes.div_ceil(1 << 20);
                self.run_in(
                    &pod_name(NAME, n),
                    &format!(
                        "rm -f {DATA_PATH}/{FILL} && dd if=/dev/zero of={DATA_PATH}/{FILL} bs=1048576 count={mib} && sync"
                    ),
                )
                .await
            }
        }
    }

    /// Every one of the first `instances` volumes holds `gib` GiB.
    pub(crate) async fn use_gib_all(&self, instances: i32, gib: f64) -> Result<()> {
        for n in 0..instances {
            self.use_gib(n, gib).await?;
        }
        Ok(())
    }

    /// Runs `script` with `sh -c` in `pod`'s database container; an exit
    /// other than 0 is an error with what the script printed.
    async fn run_in(&self, pod: &str, script: &str) -> Result<()> {
        use tokio::io::{AsyncRead, AsyncReadExt};
        let params = AttachParams::default()
            .container(storage_operator::crd::CONTAINER)
            .stdout(true)
            .stderr(true);
        let mut process = self
            .env
            .api::<Pod>()
            .exec(pod, ["sh", "-c", script], &params)
            .await
            .map_err(|e| anyhow::anyhow!("exec in pod {pod} (`{script}`): {e}"))?;
        let status = process.take_status();
        // Both streams at once: a script that fills one while the other is
        // read to its end would block on it.
        async fn drain(out: Option<impl AsyncRead + Unpin>) -> std::io::Result<String> {
            let mut text = String::new();
            if let Some(mut out) = out {
                out.read_to_string(&mut text).await?;
            }
            Ok(text)
        }
        let (stdout, stderr) = tokio::try_join!(drain(process.stdout()), drain(process.stderr()))?;
        let said = stdout + &stderr;
        let status = match status {
            Some(status) => status.await,
            None => None,
        };
        process.join().await?;
        match status {
            Some(s) if s.status.as_deref() == Some("Success") => Ok(()),
            s => anyhow::bail!(
                "`{script}` in pod {pod} failed: {}\n{said}",
                s.and_then(|s| s.message)
                    .unwrap_or_else(|| "no status".into())
            ),
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
        self.use_gib(n, gib).await?;
        let crossed = self.env.timeline().elapsed();
        self.env.timeline().note(
            &format!("PersistentVolumeClaim/{claim}"),
            "usage",
            &format!("{gib}Gi of {capacity} ({percent:.0}%)"),
        );
        // A claim's request moves when the operator's next pass reads the
        // usage; polling each virtual second sees it as soon, and a wait
        // that fails (the catches) lists the shape 300 times, not 1200.
        let waited = eventually(self.shape())
            .within(within)
            .every(1.s())
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

    /// Ordered teardown with its errors reported. On a real cluster the
    /// data written is removed first: the next scenario may share the
    /// filesystem (csi-hostpath's volumes are directories of one).
    pub(crate) async fn finish(self) -> Result<()> {
        if self.real() {
            let by_label = ListParams::default().labels(&format!("{DATABASE_LABEL}={NAME}"));
            let pods = self.env.api::<Pod>().list(&by_label).await?;
            for pod in pods.items.iter().filter(|p| usage::active(p, false)) {
                let rm = format!("rm -f {DATA_PATH}/{FILL}");
                if let Err(e) = self.run_in(&pod.name_any(), &rm).await {
                    println!("data left behind on the shared filesystem: {e:#}");
                }
            }
        }
        Ok(self.env.finish().await?)
    }
}
