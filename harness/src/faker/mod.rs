//! The StatusFaker: on envtest-style clusters no controller manager and no
//! kubelet run, so a rollout never converges. The faker plays them, so the
//! operator under test sees the world move, and pausing it reproduces a
//! wedged rollout exactly.
//!
//! Structure (private modules, one per component): pure per-kind
//! controllers (`statefulset`, `workload`, `scheduler`, `kubelet`,
//! `volumes`, `attach`, `nodes`) compute the writes of one round from a
//! snapshot of the world; `driver` reads that snapshot through a
//! `kube::Client` and applies the writes (status through `/status`, pods
//! with ownerReferences, Events like the real components). [`StatusFaker`]
//! is the one public surface: it runs rounds in a loop on tokio time, or one
//! at a time with [`StatusFaker::step`].
//!
//! Disk usage a test sets with [`StatusFaker::set_disk_usage`] (or
//! [`StatusFaker::fill_disk`]) is served where real operators and
//! metrics-server read it: each node's kubelet summary API
//! ([`StatusFaker::kubelet_summary`]; on the embedded backend at
//! `nodes/{node}/proxy/stats/summary`). It is not written into any object,
//! so a disk filling up costs the API server nothing.

mod attach;
mod cache;
pub(crate) mod driver;
#[cfg(feature = "embedded")]
mod embedded;
mod jobs;
mod kubelet;
mod model;
mod nodes;
mod rules;
mod scheduler;
mod statefulset;
mod summary;
mod volumes;
mod workload;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use kube::Client;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

pub use model::Kind;
use model::{Memory, Pauses, Round, World, Write};
pub use nodes::FAKE_NODE_LABEL;
use rules::Pattern;
use rules::Rules;
pub use rules::Timings;

/// Where the faker's object timestamps come from (the env's virtual clock).
pub type StampFn = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// Serves one fake node's kubelet API (by name) where clients reach it.
pub(crate) type ServeKubelet = Arc<dyn Fn(&str) + Send + Sync>;

/// Errors of the faker's driver.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakerError {
    /// Listing the world failed: the API server is unreachable or refuses the
    /// faker's requests.
    #[error("status faker could not read {what}: {source}")]
    Read {
        /// What was being read.
        what: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

/// Run every enabled controller once, in a fixed order, so a round is deterministic.
fn round(r: &Round, enabled: &BTreeSet<Kind>, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    let on = |k: Kind| enabled.contains(&k);
    if on(Kind::Node) {
        out.extend(nodes::reconcile(r, mem));
    }
    if on(Kind::StatefulSet) {
        out.extend(statefulset::reconcile(r, mem));
    }
    if on(Kind::Deployment) {
        out.extend(workload::deployments(r, mem));
    }
    if on(Kind::ReplicaSet) {
        out.extend(workload::replicasets(r, mem));
    }
    if on(Kind::PersistentVolumeClaim) {
        out.extend(volumes::reconcile(r, mem));
    }
    if on(Kind::VolumeAttachment) {
        out.extend(attach::reconcile(r, mem));
    }
    if on(Kind::Pod) {
        out.extend(scheduler::schedule(r, mem));
        out.extend(kubelet::reconcile(r, mem, on(Kind::VolumeAttachment)));
    }
    if on(Kind::Job) {
        // After the kubelet: a Job pod's run counts from its containers' start.
        out.extend(jobs::reconcile(r, mem));
    }
    if on(Kind::PodDisruptionBudget) {
        out.extend(nodes::budgets(r));
    }
    out
}

struct Inner {
    client: Client,
    namespace: Option<String>,
    stamp: StampFn,
    enabled: StdMutex<BTreeSet<Kind>>,
    rules: StdMutex<Rules>,
    pauses: StdMutex<Pauses>,
    memory: Mutex<Memory>,
    /// The last world read and the cluster revision it was read at: most
    /// rounds (a paused faker, a wedged rollout) change nothing, and
    /// re-listing ten kinds every 100 ms was most of a suite's CPU time.
    last_read: StdMutex<Option<(String, Arc<World>)>>,
    /// Makes a node's kubelet reachable through the API server's node
    /// proxy (set by the env on the embedded backend).
    kubelets: StdMutex<Option<ServeKubelet>>,
    /// Where to catch up from instead of relisting (in-process servers).
    feed: StdMutex<Option<kube_harness_apiserver::ChangeFeed>>,
    task: StdMutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = self.task.lock().map(|mut g| g.take()).unwrap_or(None) {
            t.abort();
        }
    }
}

/// Plays the StatefulSet/Deployment/ReplicaSet controllers, the scheduler, the
/// kubelet, PV provisioning/expansion, nodes and PDB status for one namespace.
/// Cheap to clone; the loop stops when [`StatusFaker::stop`] is called or the
/// last clone is dropped.
#[derive(Clone)]
pub struct StatusFaker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatusFaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusFaker")
            .field("namespace", &self.inner.namespace)
            .field("enabled", &*self.inner.enabled.lock().expect("lock"))
            .field("pauses", &*self.inner.pauses.lock().expect("lock"))
            .finish()
    }
}

impl StatusFaker {
    /// A stopped faker for `namespace` (`None`: all namespaces) with every
    /// controller enabled and three nodes. Timestamps come from `stamp`.
    pub fn new(client: Client, namespace: Option<String>, stamp: StampFn) -> Self {
        let rules = Rules {
            nodes: 3,
            ..Rules::default()
        };
        StatusFaker {
            inner: Arc::new(Inner {
                client,
                namespace,
                stamp,
                enabled: StdMutex::new(Kind::ALL.into_iter().collect()),
                rules: StdMutex::new(rules),
                pauses: StdMutex::new(Pauses::default()),
                memory: Mutex::new(Memory::default()),
                last_read: StdMutex::new(None),
                feed: StdMutex::new(None),
                kubelets: StdMutex::new(None),
                task: StdMutex::new(None),
            }),
        }
    }

    /// Play only these kinds' controllers (real clusters: only what the test
    /// owns). `Kind::Pod` is the scheduler + kubelet.
    pub fn only(self, kinds: impl IntoIterator<Item = Kind>) -> Self {
        *self.inner.enabled.lock().expect("lock") = kinds.into_iter().collect();
        self
    }

    /// Also play this kind's controller.
    pub fn enable(&self, kind: Kind) -> &Self {
        self.inner.enabled.lock().expect("lock").insert(kind);
        self
    }

    /// Change the rules (timings, faults) in place.
    pub(crate) fn with_rules(&self, f: impl FnOnce(&mut Rules)) -> &Self {
        let mut rules = self.inner.rules.lock().expect("lock");
        f(&mut rules);
        rules.generation += 1;
        drop(rules);
        self
    }

    /// Start the background loop (one round every `timings.round` of tokio
    /// time); returns a handle to the same faker, so setup chains:
    /// `env.status_faker().slow_readiness("app=db", 5.s()).start()`.
    pub fn start(&self) -> Self {
        let weak = Arc::downgrade(&self.inner);
        let handle = tokio::spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let faker = StatusFaker { inner };
                if let Err(e) = faker.step().await {
                    tracing::warn!(error = %e, "status faker round failed");
                }
                let pause = faker.inner.rules.lock().expect("lock").timings.round;
                drop(faker);
                tokio::time::sleep(pause).await;
            }
        });
        if let Some(old) = self.inner.task.lock().expect("lock").replace(handle) {
            old.abort();
        }
        self.clone()
    }

    /// Stop the background loop; `step()` still works.
    pub fn stop(&self) {
        if let Some(t) = self.inner.task.lock().expect("lock").take() {
            t.abort();
        }
    }

    /// Run one round now: read, compute, write. Returns how many writes it
    /// made (0: the world is settled, or paused). Rounds never overlap, so a
    /// test's `step()` and the loop interleave cleanly.
    pub async fn step(&self) -> Result<usize, FakerError> {
        self.round_writes().await.map(|w| w.len())
    }

    async fn round_writes(&self) -> Result<Vec<Write>, FakerError> {
        let mut memory = self.inner.memory.lock().await;
        let world = self.read_world().await.map_err(|source| FakerError::Read {
            what: "the cluster state",
            source,
        })?;
        let rules = self.inner.rules.lock().expect("lock").clone();
        let pauses = self.inner.pauses.lock().expect("lock").clone();
        let enabled = self.inner.enabled.lock().expect("lock").clone();
        let stamp = (self.inner.stamp)();
        let r = Round {
            world: &world,
            rules: &rules,
            now: tokio::time::Instant::now(),
            stamp,
            pauses: &pauses,
        };
        let writes = round(&r, &enabled, &mut memory);
        for w in &writes {
            if let Err(e) = driver::apply(&self.inner.client, w, stamp).await {
                tracing::debug!(error = %e, write = ?w, "status faker write skipped");
            }
        }
        Ok(writes)
    }

    /// The world as of now: the last read when the cluster's revision has
    /// not moved since, the last read brought up to date from the change
    /// feed when there is one, a fresh read otherwise. The revision is taken
    /// before the lists, so a write racing them shows up as a newer revision
    /// next round rather than being missed.
    async fn read_world(&self) -> Result<Arc<World>, kube::Error> {
        if let Some(world) = self.catch_up() {
            return Ok(world);
        }
        let client = &self.inner.client;
        let revision = driver::revision(client).await?;
        if let Some((at, world)) = &*self.inner.last_read.lock().expect("lock")
            && *at == revision
            && !revision.is_empty()
        {
            return Ok(world.clone());
        }
        let world = Arc::new(driver::read_world(client, self.inner.namespace.as_deref()).await?);
        *self.inner.last_read.lock().expect("lock") = Some((revision, world.clone()));
        Ok(world)
    }

    /// The last world read, brought up to the server's current revision
    /// from its change feed; `None` when there is no feed or no earlier
    /// read, or the feed cannot reach back to it (then the caller relists).
    fn catch_up(&self) -> Option<Arc<World>> {
        let feed = self.inner.feed.lock().expect("lock").clone()?;
        let until = feed.revision()?;
        let mut last = self.inner.last_read.lock().expect("lock");
        let (at, mut world) = last.take()?;
        let since: u64 = at.parse().ok()?;
        if since != until {
            let namespace = self.inner.namespace.as_deref();
            if !cache::catch_up(Arc::make_mut(&mut world), &feed, namespace, since, until) {
                // Kubelet summaries keep a world to read until the relist lands.
                *last = Some((at, world));
                return None;
            }
        }
        *last = Some((until.to_string(), world.clone()));
        Some(world)
    }

    /// Read the world from an in-process server's change feed (what its
    /// watches would deliver, without JSON in between) after a first list,
    /// instead of listing every kind again whenever anything moved. The
    /// env does this on the embedded backend. The faker then reads as a
    /// controller reads its informers' caches: fault rules on lists and
    /// the request metrics no longer see its reads (its writes still go
    /// through the API).
    pub fn read_changes_from(&self, feed: kube_harness_apiserver::ChangeFeed) -> &Self {
        *self.inner.feed.lock().expect("lock") = Some(feed);
        self
    }

    /// Plays `server`'s cluster as the env does on the embedded backend:
    /// reads its change feed ([`StatusFaker::read_changes_from`]) and
    /// answers `nodes/{node}/proxy` as each fake node's kubelet.
    #[cfg(feature = "embedded")]
    pub fn serve_on(&self, server: &kube_harness_apiserver::ApiServer) -> &Self {
        embedded::serve_kubelets(server, self);
        self.read_changes_from(server.change_feed())
    }

    /// What `node`'s kubelet answers on `GET /stats/summary`: its pods and
    /// their claims' volume stats (used bytes as set with
    /// [`StatusFaker::set_disk_usage`], capacity from the claim's status),
    /// as of the last round's view of the cluster. On the embedded backend
    /// the env serves it at `nodes/{node}/proxy/stats/summary`.
    pub fn kubelet_summary(&self, node: &str) -> serde_json::Value {
        let world = self.inner.last_read.lock().expect("lock").clone();
        let world = world.map(|(_, w)| w).unwrap_or_default();
        let rules = self.inner.rules.lock().expect("lock").clone();
        let time = (self.inner.stamp)()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        summary::summary(&world, &rules, node, tokio::time::Instant::now(), &time)
    }

    /// [`StatusFaker::kubelet_summary`] for a server's node proxy, without
    /// keeping the faker alive (`None` once it is gone).
    #[cfg(feature = "embedded")]
    pub(crate) fn summaries(
        &self,
    ) -> impl Fn(&str) -> Option<serde_json::Value> + Send + Sync + 'static {
        let weak = Arc::downgrade(&self.inner);
        move |node| {
            weak.upgrade()
                .map(|inner| StatusFaker { inner }.kubelet_summary(node))
        }
    }

    /// Register `count` fake nodes instead of three (a test of scheduling
    /// or scale); their kubelets answer the node proxy like the first ones.
    /// Call it before the first round: the faker registers its nodes once,
    /// when the cluster has none (a node a test deletes stays deleted).
    pub fn nodes(&self, count: u32) -> &Self {
        self.with_rules(|r| r.nodes = count);
        self.serve_kubelets();
        self
    }

    #[cfg(feature = "embedded")]
    pub(crate) fn serve_kubelets_with(&self, serve: ServeKubelet) {
        *self.inner.kubelets.lock().expect("lock") = Some(serve);
        self.serve_kubelets();
    }

    fn serve_kubelets(&self) {
        let serve = self.inner.kubelets.lock().expect("lock").clone();
        if let Some(serve) = serve {
            for node in self.node_names() {
                serve(&node);
            }
        }
    }

    /// The names of the nodes the faker registers.
    pub fn node_names(&self) -> Vec<String> {
        let n = self.inner.rules.lock().expect("lock").nodes;
        (0..n).map(nodes::node_name).collect()
    }

    /// Hold everything still: no writes at all until [`StatusFaker::resume`].
    pub fn pause(&self) {
        self.inner.pauses.lock().expect("lock").all = true;
    }

    /// Hold objects of one kind still (`Kind::Pod`: scheduler and kubelet).
    pub fn pause_kind(&self, kind: Kind) {
        self.pause_selected(Some(kind), "");
    }

    /// Hold objects of a kind (or any kind) whose labels match `selector`
    /// (`app=db,tier=x`).
    pub fn pause_selected(&self, kind: Option<Kind>, selector: &str) {
        self.inner
            .pauses
            .lock()
            .expect("lock")
            .scoped
            .push((kind, rules::parse_selector(selector)));
    }

    /// Lift every pause; the next round catches up with the latest desired state.
    pub fn resume(&self) {
        *self.inner.pauses.lock().expect("lock") = Pauses::default();
    }

    /// Lift the pauses on one kind (scoped ones); a global pause stays.
    pub fn resume_kind(&self, kind: Kind) {
        self.inner
            .pauses
            .lock()
            .expect("lock")
            .scoped
            .retain(|(k, _)| *k != Some(kind));
    }

    /// Pulls of images matching `glob` fail: ErrImagePull, then ImagePullBackOff.
    pub fn fail_image_pulls(&self, glob: &str) -> &Self {
        self.with_rules(|r| r.pull_failures.push(Pattern::new(glob)))
    }

    /// Containers of images matching `glob` exit soon after start: CrashLoopBackOff.
    pub fn crash_loop(&self, glob: &str) -> &Self {
        self.with_rules(|r| r.crash_loops.push(Pattern::new(glob)))
    }

    /// PVCs whose name or storage class matches `glob` stay Pending with a
    /// ProvisioningFailed event.
    pub fn never_bind(&self, glob: &str) -> &Self {
        self.with_rules(|r| r.unbound_pvcs.push(Pattern::new(glob)))
    }

    /// Pods matching `selector` take `extra` longer to become Ready.
    pub fn slow_readiness(&self, selector: &str, extra: Duration) -> &Self {
        self.with_rules(|r| {
            r.slow_readiness
                .push((rules::parse_selector(selector), extra))
        })
    }

    /// Pods matching `selector` ignore SIGTERM and use their full grace period.
    pub fn ignore_sigterm(&self, selector: &str) -> &Self {
        self.with_rules(|r| r.ignore_sigterm.push(rules::parse_selector(selector)))
    }

    /// Pods matching `selector` with a preStop hook run it for `runs_for`;
    /// longer than the grace period gives `FailedPreStopHook`.
    pub fn prestop_runs_for(&self, selector: &str, runs_for: Duration) -> &Self {
        self.with_rules(|r| r.prestop.push((rules::parse_selector(selector), runs_for)))
    }

    /// The node's kubelet stops posting status (Ready=Unknown, unreachable taints).
    pub fn node_not_ready(&self, node: &str) -> &Self {
        self.with_rules(|r| {
            r.not_ready_nodes.insert(node.to_owned());
        })
    }

    /// The node's kubelet is back.
    pub fn node_ready(&self, node: &str) -> &Self {
        self.with_rules(|r| {
            r.not_ready_nodes.remove(node);
        })
    }

    /// Report `used_bytes` for the PVC named `pvc` (see module docs for where).
    pub fn set_disk_usage(&self, pvc: &str, used_bytes: u64) -> &Self {
        let usage = rules::DiskUsage::fixed(used_bytes, tokio::time::Instant::now());
        self.with_rules(|r| {
            r.disk_usage
                .insert(pvc.to_owned(), rules::UsageScript(vec![usage]));
        })
    }

    /// Let the PVC named `pvc` fill at `bytes_per_second` of tokio time from
    /// its usage now (0 if none was set), up to what the volume holds: a
    /// database writing steadily, hours of it in a paused-time test.
    pub fn fill_disk(&self, pvc: &str, bytes_per_second: u64) -> &Self {
        let now = tokio::time::Instant::now();
        self.with_rules(|r| {
            let from = r.disk_usage.get(pvc).map_or(0, |u| u.at(now));
            let usage = rules::DiskUsage {
                bytes: from,
                per_second: bytes_per_second,
                since: now,
            };
            r.disk_usage
                .insert(pvc.to_owned(), rules::UsageScript(vec![usage]));
        })
    }

    /// Script the PVC named `pvc`'s usage as a sequence: each `(after,
    /// bytes)` sets it to `bytes` once `after` of tokio time has passed from
    /// now (0 before the first). Usage can go down too (data deleted, a
    /// compaction), which a threshold test needs.
    pub fn disk_usage_sequence(
        &self,
        pvc: &str,
        steps: impl IntoIterator<Item = (Duration, u64)>,
    ) -> &Self {
        let now = tokio::time::Instant::now();
        let mut pieces: Vec<rules::DiskUsage> = steps
            .into_iter()
            .map(|(after, bytes)| rules::DiskUsage::fixed(bytes, now + after))
            .collect();
        pieces.sort_by_key(|u| u.since);
        self.with_rules(|r| {
            r.disk_usage
                .insert(pvc.to_owned(), rules::UsageScript(pieces));
        })
    }

    /// Expanding a claim whose name or storage class matches `glob` fails:
    /// the resizer's `VolumeResizeFailed` Warning and a
    /// `ControllerResizeError` condition, capacity unchanged, until the rule
    /// is lifted with [`StatusFaker::resize_succeeds`].
    pub fn resize_fails(&self, glob: &str) -> &Self {
        self.with_rules(|r| r.resize_failures.push(Pattern::new(glob)))
    }

    /// Lift every [`StatusFaker::resize_fails`] rule; waiting expansions go on.
    pub fn resize_succeeds(&self) -> &Self {
        self.with_rules(|r| r.resize_failures.clear())
    }

    /// Expanding a claim whose name or storage class matches `glob` takes
    /// `takes` (the default is [`Timings::expand`]).
    pub fn slow_resize(&self, glob: &str, takes: Duration) -> &Self {
        self.with_rules(|r| r.slow_resizes.push((Pattern::new(glob), takes)))
    }

    /// A volume can be expanded again only `cooldown` after its last
    /// expansion finished; an earlier change fails until then (one major
    /// cloud allows one modification per disk every 6 hours).
    pub fn resize_cooldown(&self, cooldown: Duration) -> &Self {
        self.with_rules(|r| r.resize_cooldown = Some(cooldown))
    }

    /// Jobs whose name matches `glob` never finish: their pods run on (a
    /// backup that hangs).
    pub fn job_hangs(&self, glob: &str) -> &Self {
        self.with_rules(|r| r.hung_jobs.push(Pattern::new(glob)))
    }

    /// The first `times` pods of each Job whose name matches `glob` exit 1
    /// (`Error`); the Job controller replaces them until `backoffLimit`.
    pub fn job_fails(&self, glob: &str, times: u32) -> &Self {
        self.with_rules(|r| r.failing_jobs.push((Pattern::new(glob), times)))
    }

    /// Change timings (delays of the healthy path).
    pub fn timings(&self, f: impl FnOnce(&mut Timings)) -> &Self {
        self.with_rules(|r| f(&mut r.timings))
    }
}
