//! `TestEnv`: one test's cluster, client and namespace of its own.
//!
//! The backend comes from `HARNESS_CLUSTER` (see [`backend`]): `embedded`
//! (default; the in-process API server, whose object timestamps follow tokio
//! time, so `#[tokio::test(start_paused = true)]` works), `existing`
//! (`KUBECONFIG`), or `k3s` (feature `k3s`, Docker). Real backends are
//! reached over sockets, in real time: asking for one under paused time is
//! an error ([`EnvError::PausedTime`]). The namespace is named
//! after the test (`stuck-rollout-1123-104501-k3x9`) and deleted when the env
//! drops, panics included; `HARNESS_KEEP=1` keeps it and prints how to look.
//!
//! ```
//! use k8s_openapi::api::apps::v1::StatefulSet;
//! use kube_harness::prelude::*;
//!
//! // In a test: #[tokio::test(start_paused = true)], or the `env` rstest fixture.
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> anyhow::Result<()> {
//!     let env = TestEnv::new().await?;
//!     env.status_faker().start(); // plays the StatefulSet controller and kubelet
//!     let web = env
//!         .apply(object!(StatefulSet, {
//!             "metadata": {"name": "web"},
//!             "spec": {
//!                 "replicas": 3,
//!                 "selector": {"matchLabels": {"app": "web"}},
//!                 "template": {
//!                     "metadata": {"labels": {"app": "web"}},
//!                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
//!                 },
//!             },
//!         }))
//!         .await?;
//!     eventually(env.get(&web))
//!         .should(field("status.readyReplicas", eq(3)))
//!         .await?;
//!     env.finish().await?;
//!     Ok(())
//! }
//! ```

pub mod backend;
pub mod error;
#[cfg(feature = "k3s")]
mod k3s;
mod logs;
pub mod manifests;
mod namespace;
mod object;
mod operator;
pub(crate) mod probe;

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
#[cfg(feature = "embedded")]
use tokio::sync::OnceCell;

pub use backend::{BackendKind, Settings, time_is_paused};
pub use error::EnvError;
pub use logs::{
    LogExpect, LogExpectError, OPERATOR_LOG_VAR, OPERATOR_SPAN, OperatorLogs, capture_layer,
};
use namespace::{Connector, NamespaceGuard};
pub use object::{FIELD_MANAGER, from_json};
pub use operator::OperatorHandle;
pub use probe::{EnvProbe, GetProbe};

use crate::faker::{StampFn, StatusFaker};
use crate::timeline::Recorder;

/// Label on every namespace the harness creates, so leftovers are easy to find
/// (`kubectl get ns -l kube-harness.io/test`).
pub const TEST_LABEL: &str = "kube-harness.io/test";

enum Cluster {
    #[cfg(feature = "embedded")]
    Embedded {
        server: kube_harness_apiserver::ApiServer,
        http: OnceCell<kube_harness_apiserver::HttpEndpoint>,
    },
    Real {
        kubeconfig: PathBuf,
    },
    #[cfg(feature = "k3s")]
    K3s(Box<k3s::K3sCluster>),
}

/// What the env handed out and must take back, in teardown order.
#[derive(Default)]
struct Owned {
    operators: Vec<OperatorHandle>,
    faker: Option<StatusFaker>,
}

/// One test's cluster + client + namespace, and everything the test started
/// through it: the faker, the operators under test, the timeline and the
/// operators' captured logs.
///
/// Teardown runs in one order, whether the test passed, failed or panicked
/// ([`TestEnv::finish`] awaits it; dropping the env runs it too): the
/// operators stop (so nothing rewrites what is being deleted), the faker
/// resumes, the namespace is deleted (its pods first, without a grace
/// period), then the faker stops.
pub struct TestEnv {
    guard: NamespaceGuard,
    client: Client,
    namespace: String,
    backend: BackendKind,
    /// The faker plays every controller here (embedded, or `HARNESS_FAKER=all`).
    plays_controllers: bool,
    connector: Connector,
    stamp: StampFn,
    timeline: Arc<Recorder>,
    logs: OperatorLogs,
    owned: Mutex<Owned>,
    cluster: Cluster,
}

impl Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv")
            .field("backend", &self.backend)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let owned = std::mem::take(self.owned.get_mut().unwrap_or_else(|p| p.into_inner()));
        for op in &owned.operators {
            op.abort();
        }
        if let Some(f) = &owned.faker {
            f.resume();
        }
        self.guard.delete_blocking();
        if let Some(f) = &owned.faker {
            f.stop();
        }
    }
}

impl TestEnv {
    /// An env for the running test, as `HARNESS_CLUSTER` / `HARNESS_KEEP` say.
    pub async fn new() -> Result<Self, EnvError> {
        Self::with_settings(Settings::from_env()?, &namespace::current_test_name()).await
    }

    /// An env on the embedded backend whatever the environment says (for
    /// tests that only make sense there, e.g. ones that rely on the faker
    /// playing every controller).
    #[cfg(feature = "embedded")]
    pub async fn embedded() -> Result<Self, EnvError> {
        let mut s = Settings::from_env()?;
        s.backend = BackendKind::Embedded;
        Self::with_settings(s, &namespace::current_test_name()).await
    }

    /// An env for a test that needs the StatusFaker to play every controller
    /// (to wedge a rollout, pause a kubelet, fake a drain): the existing
    /// cluster when `HARNESS_FAKER=all` says it has no controllers of its own
    /// (a bare API server reached over HTTP), the embedded server otherwise
    /// (see [`Settings::simulated`]).
    pub async fn simulated() -> Result<Self, EnvError> {
        Self::with_settings(
            Settings::from_env()?.simulated(),
            &namespace::current_test_name(),
        )
        .await
    }

    /// An env from explicit settings; `test_name` prefixes the namespace.
    pub async fn with_settings(settings: Settings, test_name: &str) -> Result<Self, EnvError> {
        if settings.backend.is_real() && backend::time_is_paused() {
            return Err(EnvError::PausedTime {
                backend: settings.backend,
            });
        }
        let plays_controllers = settings.faker_plays_controllers();
        let (cluster, connector, stamp): (Cluster, Connector, StampFn) = match settings.backend {
            #[cfg(feature = "embedded")]
            BackendKind::Embedded => {
                let clock = kube_harness_apiserver::TokioClock::new(jiff::Timestamp::now());
                let server = kube_harness_apiserver::ApiServer::builder()
                    .clock(clock)
                    .start()
                    .await
                    .map_err(|e| EnvError::Embedded(e.to_string()))?;
                let stamp: StampFn = Arc::new(move || kube_harness_apiserver::Clock::now(&clock));
                (
                    Cluster::Embedded {
                        server: server.clone(),
                        http: OnceCell::new(),
                    },
                    Connector::Embedded(server),
                    stamp,
                )
            }
            #[cfg(not(feature = "embedded"))]
            BackendKind::Embedded => return Err(EnvError::EmbeddedNotBuilt),
            BackendKind::Existing => {
                let path = settings.kubeconfig_path()?;
                let config = backend::load_kubeconfig(&path).await?;
                backend::check_reachable(&config).await?;
                (
                    Cluster::Real { kubeconfig: path },
                    Connector::Config(Box::new(config)),
                    Arc::new(jiff::Timestamp::now),
                )
            }
            #[cfg(feature = "k3s")]
            BackendKind::K3s => {
                let k = k3s::start().await?;
                let connector = Connector::Config(Box::new(k.config.clone()));
                (
                    Cluster::K3s(Box::new(k)),
                    connector,
                    Arc::new(jiff::Timestamp::now),
                )
            }
            #[cfg(not(feature = "k3s"))]
            BackendKind::K3s => return Err(EnvError::K3sNotBuilt),
        };

        let namespace = namespace::unique_name(test_name);
        let client = connector.client(&namespace)?;
        let ns_api: Api<Namespace> = Api::all(client.clone());
        let ns_obj: Namespace = from_json(json!({
            "metadata": {"name": namespace, "labels": {TEST_LABEL: "true"}}
        }));
        ns_api
            .create(&PostParams::default(), &ns_obj)
            .await
            .map_err(EnvError::api(format!("create namespace {namespace}")))?;
        let mut guard = NamespaceGuard {
            namespace: namespace.clone(),
            connector: connector.clone(),
            keep: settings.keep,
            armed: true,
            wait_gone: !settings.backend.is_real(),
            how_to_look: String::new(),
        };
        let timeline = match Recorder::start(client.clone(), &namespace).await {
            Ok(t) => Arc::new(t),
            Err(e) => {
                guard.delete_blocking();
                return Err(EnvError::Timeline(e.to_string()));
            }
        };
        // Injected faults belong in the story of the test (weakly held: the
        // server must not keep the recorder, and so itself, alive).
        #[cfg(feature = "embedded")]
        if let Cluster::Embedded { server, .. } = &cluster {
            let recorder = Arc::downgrade(&timeline);
            server.faults().on_inject(move |injected| {
                if let Some(rec) = recorder.upgrade() {
                    rec.note(&injected.request, "fault injected", &injected.effect);
                }
            });
        }

        let mut env = TestEnv {
            guard,
            client,
            namespace,
            backend: settings.backend,
            plays_controllers,
            connector,
            stamp,
            timeline,
            logs: OperatorLogs::default(),
            owned: Mutex::new(Owned::default()),
            cluster,
        };
        if settings.keep {
            let kubeconfig = env.kubeconfig().await?;
            env.guard.how_to_look = env.how_to_look(&kubeconfig);
        }
        Ok(env)
    }

    fn how_to_look(&self, kubeconfig: &Path) -> String {
        let k = kubeconfig.display();
        let ns = &self.namespace;
        let mut s = format!(
            "kube-harness: HARNESS_KEEP is set, namespace {ns} was kept ({} backend).\n  \
             kubeconfig: {k}\n  look:       kubectl --kubeconfig {k} -n {ns} get all,events,pvc\n  \
             delete:     kubectl --kubeconfig {k} delete namespace {ns}",
            self.backend
        );
        if !self.backend.is_real() {
            s.push_str(
                "\n  note: the embedded server lives only while the test process runs; \
                 pause the test (e.g. a debugger breakpoint) to look.",
            );
        }
        s
    }

    fn owned(&self) -> std::sync::MutexGuard<'_, Owned> {
        self.owned.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn context(&self) -> probe::Context {
        probe::Context {
            namespace: self.namespace.clone(),
            timeline: self.timeline.clone(),
            logs: self.logs.clone(),
            #[cfg(feature = "embedded")]
            faults: self.embedded_server().map(|s| s.faults()),
        }
    }

    /// The test's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// A client whose default namespace is the test's.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Which backend this env runs on.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// Make a fresh client (on the current runtime), like a new process would.
    pub fn new_client(&self) -> Result<Client, EnvError> {
        self.connector.client(&self.namespace)
    }

    /// The embedded server, if this env runs on it.
    #[cfg(feature = "embedded")]
    pub fn embedded_server(&self) -> Option<&kube_harness_apiserver::ApiServer> {
        match &self.cluster {
            Cluster::Embedded { server, .. } => Some(server),
            _ => None,
        }
    }

    /// The embedded server's fault rules: errors, throttling and latency
    /// injected into the requests they match, each one recorded in the
    /// env's timeline and listed (with the seed of probabilistic rules) in
    /// every failed wait of the env.
    ///
    /// ```no_run
    /// # use kube_harness::prelude::*;
    /// # use kube_harness::apiserver::Fault;
    /// # fn demo(env: &TestEnv) -> Result<(), EnvError> {
    /// env.faults()?.add(
    ///     Fault::conflict()
    ///         .verb("patch")
    ///         .resource("nodedeployments/status")
    ///         .field_manager("rollout-operator")
    ///         .times(3),
    /// );
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "embedded")]
    pub fn faults(&self) -> Result<kube_harness_apiserver::Faults, EnvError> {
        self.embedded_server()
            .map(|s| s.faults())
            .ok_or(EnvError::NeedsEmbedded {
                what: "fault injection",
            })
    }

    /// The env's clock: virtual (tokio time) on the embedded backend, so it
    /// agrees with the timestamps the server writes into objects; the wall
    /// clock on real clusters.
    pub fn now(&self) -> jiff::Timestamp {
        (self.stamp)()
    }

    /// The env's clock as a function, for code that stamps objects itself
    /// (an operator's clock, the faker).
    pub fn stamp(&self) -> StampFn {
        self.stamp.clone()
    }

    /// The test's timeline: the namespace's Events from the moment the env
    /// started, plus what [`Recorder::track`] adds. Every failed wait on a
    /// probe of this env carries it.
    pub fn timeline(&self) -> &Recorder {
        &self.timeline
    }

    /// The timeline as a shared handle, for a task of the test's that
    /// records into it while the test goes on (a load generator, a watch).
    pub fn shared_timeline(&self) -> Arc<Recorder> {
        self.timeline.clone()
    }

    /// What the operators spawned through this env logged (see
    /// [`OperatorLogs`]); the last lines are attached to every failed wait.
    pub fn operator_logs(&self) -> &OperatorLogs {
        &self.logs
    }

    /// A kubeconfig for kubectl or an out-of-process operator. On the
    /// embedded backend this starts its HTTP endpoint on 127.0.0.1 (real
    /// sockets: don't use it from paused-time code).
    pub async fn kubeconfig(&self) -> Result<PathBuf, EnvError> {
        match &self.cluster {
            #[cfg(feature = "embedded")]
            Cluster::Embedded { server, http } => {
                let ep = http
                    .get_or_try_init(|| async {
                        server
                            .serve_http()
                            .await
                            .map_err(|e| EnvError::Embedded(e.to_string()))
                    })
                    .await?;
                Ok(ep.kubeconfig.clone())
            }
            Cluster::Real { kubeconfig } => Ok(kubeconfig.clone()),
            #[cfg(feature = "k3s")]
            Cluster::K3s(k) => Ok(k.kubeconfig.clone()),
        }
    }

    /// The env's faker (one per env; every call returns the same one). On the
    /// embedded backend (and a bare API server with `HARNESS_FAKER=all`) it
    /// plays every controller and registers three nodes; on a real cluster
    /// the real controllers run, so it starts with nothing enabled: call
    /// [`StatusFaker::enable`] for what the test owns. Call
    /// [`StatusFaker::start`] to run it; the env stops it at teardown.
    pub fn status_faker(&self) -> StatusFaker {
        let mut owned = self.owned();
        if let Some(f) = &owned.faker {
            return f.clone();
        }
        let faker = StatusFaker::new(
            self.client.clone(),
            Some(self.namespace.clone()),
            self.stamp.clone(),
        );
        let faker = if !self.plays_controllers {
            faker.with_rules(|r| r.nodes = 0);
            faker.only([])
        } else {
            faker
        };
        #[cfg(feature = "embedded")]
        if let Some(server) = self.embedded_server() {
            faker.serve_on(server);
        }
        owned.faker = Some(faker.clone());
        faker
    }

    /// Resolves a path the way a test author means it: relative paths are
    /// relative to the crate being tested (`CARGO_MANIFEST_DIR`, which cargo
    /// and nextest set for tests and `cargo run`), not to wherever the
    /// process happened to start.
    pub fn crate_path(path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) if path.is_relative() => PathBuf::from(dir).join(path),
            _ => path.to_path_buf(),
        }
    }

    /// Install every CRD of a folder of YAML and wait until it is served.
    /// A relative folder is relative to the crate ([`TestEnv::crate_path`]).
    pub async fn install_crds(&self, dir: impl AsRef<Path>) -> Result<Vec<String>, EnvError> {
        let dir = Self::crate_path(dir);
        #[cfg(feature = "embedded")]
        if let Cluster::Embedded { server, .. } = &self.cluster {
            return server
                .install_crds(&dir)
                .await
                .map_err(|e| EnvError::Embedded(e.to_string()));
        }
        let mut names = Vec::new();
        for (source, text) in manifests::read_folder(&dir)? {
            for doc in manifests::parse_documents(&source, &text)? {
                if doc["kind"] != "CustomResourceDefinition" {
                    continue;
                }
                let o = manifests::apply_value(&self.client, &self.namespace, doc).await?;
                names.push(o.name_any());
            }
        }
        manifests::wait_established(&self.client, &names).await?;
        Ok(names)
    }

    /// Install one CRD (a kube-derive type's `K::crd()`) and wait until it
    /// is Established. Returns its name.
    pub async fn install_crd(
        &self,
        crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ) -> Result<String, EnvError> {
        let name = crd.name_any();
        let value = serde_json::to_value(&crd).map_err(|e| EnvError::Manifest {
            source_name: format!("CRD {name}"),
            message: e.to_string(),
        })?;
        manifests::apply_value(&self.client, &self.namespace, value).await?;
        manifests::wait_established(&self.client, std::slice::from_ref(&name)).await?;
        Ok(name)
    }

    /// Apply a multi-document YAML file (or a folder of them) into the test
    /// namespace (objects that name another namespace keep it). A relative
    /// path is relative to the crate ([`TestEnv::crate_path`]).
    pub async fn apply_manifests(&self, path: impl AsRef<Path>) -> Result<usize, EnvError> {
        let path = Self::crate_path(path);
        let files = if path.is_dir() {
            manifests::read_folder(&path)?
        } else {
            let text = std::fs::read_to_string(&path).map_err(|e| EnvError::Manifest {
                source_name: path.display().to_string(),
                message: format!("cannot read: {e}"),
            })?;
            vec![(path.display().to_string(), text)]
        };
        let mut n = 0;
        for (source, text) in files {
            n += self.apply_yaml_named(&source, &text).await?;
        }
        Ok(n)
    }

    /// Apply YAML text (one or more documents). Returns how many objects.
    pub async fn apply_yaml(&self, text: &str) -> Result<usize, EnvError> {
        self.apply_yaml_named("inline YAML", text).await
    }

    async fn apply_yaml_named(&self, source: &str, text: &str) -> Result<usize, EnvError> {
        let docs = manifests::parse_documents(source, text)?;
        let n = docs.len();
        for doc in docs {
            manifests::apply_value(&self.client, &self.namespace, doc).await?;
        }
        Ok(n)
    }

    /// `Api<K>` in the test namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Server-side apply (`kubectl apply --server-side --force-conflicts`)
    /// of the object into the test namespace, as field manager
    /// [`FIELD_MANAGER`]: creates it or takes ownership of the fields it
    /// sets. Returns what the server stored (uid, resourceVersion, defaults).
    pub async fn apply<K>(&self, obj: K) -> Result<K, EnvError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let mut obj = obj;
        let name = obj.name_any();
        let what = format!("apply {}/{name}", K::kind(&()));
        let meta = obj.meta_mut();
        meta.namespace = Some(self.namespace.clone());
        // Apply refuses these: they belong to the server.
        meta.resource_version = None;
        meta.managed_fields = None;
        meta.uid = None;
        meta.creation_timestamp = None;
        let mut body = serde_json::to_value(&obj).map_err(|e| EnvError::Manifest {
            source_name: what.clone(),
            message: e.to_string(),
        })?;
        // k8s-openapi types serialize apiVersion/kind; derived custom
        // resources may not (kube's derive does); apply needs both.
        body["apiVersion"] = json!(K::api_version(&()));
        body["kind"] = json!(K::kind(&()));
        self.api::<K>()
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            )
            .await
            .map_err(EnvError::api(what))
    }

    /// Create the object in the test namespace (409 AlreadyExists if it is
    /// there). Returns what the server stored.
    pub async fn create<K>(&self, obj: &K) -> Result<K, EnvError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Serialize
            + Debug,
    {
        let mut obj = obj.clone();
        obj.meta_mut().namespace = Some(self.namespace.clone());
        let what = format!("create {}/{}", K::kind(&()), obj.name_any());
        self.api::<K>()
            .create(&PostParams::default(), &obj)
            .await
            .map_err(EnvError::api(what))
    }

    /// A probe of the object's current state: `.await` it for one read, or
    /// hand it to `eventually` / `consistently`, whose failures then name it
    /// (`nodedeployment/seid in ns …`) and carry the env's timeline and
    /// operator logs.
    pub fn get<K>(&self, obj: &K) -> GetProbe<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.get_named(&obj.name_any())
    }

    /// A probe of the named object in the test namespace.
    pub fn get_named<K>(&self, name: &str) -> GetProbe<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        GetProbe::new(self.api::<K>(), name.to_owned(), Some(self.context()))
    }

    /// Any async read as a probe of this env: `subject` names it in
    /// failures, which also carry the env's timeline and operator logs.
    ///
    /// ```no_run
    /// # use kube_harness::prelude::*;
    /// # use k8s_openapi::api::core::v1::Pod;
    /// # async fn demo(env: &TestEnv) -> anyhow::Result<()> {
    /// let images = || async {
    ///     let pods = env.api::<Pod>().list(&Default::default()).await?;
    ///     let images: Vec<String> = pods
    ///         .items
    ///         .iter()
    ///         .filter_map(|p| p.spec.as_ref()?.containers.first()?.image.clone())
    ///         .collect();
    ///     Ok::<_, kube::Error>(images)
    /// };
    /// eventually(env.probe("pod images", images))
    ///     .should(eq(["sei:v2"; 3]))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn probe<F>(&self, subject: impl Into<String>, read: F) -> EnvProbe<F> {
        EnvProbe::new(subject.into(), read, self.context())
    }

    /// JSON merge patch (RFC 7386) of the object, as field manager
    /// [`FIELD_MANAGER`]; returns the patched object.
    pub async fn patch<K>(&self, obj: &K, patch: serde_json::Value) -> Result<K, EnvError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let name = obj.name_any();
        let what = format!("patch {}/{name}", K::kind(&()));
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        self.api::<K>()
            .patch(&name, &params, &Patch::Merge(&patch))
            .await
            .map_err(EnvError::api(what))
    }

    /// Delete the object (default grace period); NotFound is not an error.
    pub async fn delete<K>(&self, obj: &K) -> Result<(), EnvError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let name = obj.name_any();
        match self
            .api::<K>()
            .delete(&name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(EnvError::api(format!("delete {}/{name}", K::kind(&())))(e)),
        }
    }

    /// Run the operator under test in-process: `run` gets a fresh client
    /// (default namespace: the test's) on every start. Its tracing output is
    /// captured into [`TestEnv::operator_logs`], each line prefixed with
    /// `name`. Its client sends `User-Agent: {name}`, as a deployed
    /// operator names itself, so a fault rule can target its requests
    /// (`Fault::conflict().user_agent("rollout-operator")`) and managedFields
    /// name it. The env stops it first at teardown.
    pub fn spawn_operator<F, Fut, E>(&self, name: &str, run: F) -> Result<OperatorHandle, EnvError>
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let handle = OperatorHandle::spawn(
            name,
            self.connector.clone(),
            self.namespace.clone(),
            self.logs.clone(),
            run,
        )?;
        self.owned().operators.push(handle.clone());
        Ok(handle)
    }

    /// Tear down now, in order, and report what went wrong: operators
    /// stopped (nothing rewrites what is being deleted), the faker resumed,
    /// the namespace deleted (on the embedded backend its pods first, with
    /// no grace period, since nothing need play a kubelet for them; then the
    /// namespace, waiting until it is gone), the faker stopped. With
    /// `HARNESS_KEEP=1` the namespace stays and the env prints how to look at
    /// it. Dropping the env does the same without the report.
    pub async fn finish(mut self) -> Result<(), EnvError> {
        let owned = std::mem::take(&mut *self.owned());
        for op in &owned.operators {
            op.stop().await;
        }
        if let Some(f) = &owned.faker {
            f.resume();
        }
        self.guard.armed = false;
        let deleted = if self.guard.keep {
            // HARNESS_KEEP: as on drop, the namespace stays and the env says
            // how to look at it.
            eprintln!("{}", self.guard.how_to_look);
            Ok(())
        } else {
            NamespaceGuard::delete(&self.connector, &self.namespace, !self.backend.is_real()).await
        };
        if let Some(f) = &owned.faker {
            f.stop();
        }
        deleted
    }
}

/// The rstest fixture: `async fn t(#[future] env: TestEnv)`, then `env.await`.
/// Panics with the backend's error (it names the fix) if the env cannot start
/// (paused time on a real backend is one: see [`EnvError::PausedTime`]).
#[cfg(feature = "rstest")]
#[rstest::fixture]
pub async fn env() -> TestEnv {
    match TestEnv::new().await {
        Ok(env) => env,
        Err(e) => panic!("kube-harness could not give this test a cluster: {e}"),
    }
}
