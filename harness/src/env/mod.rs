//! `TestEnv`: one test's cluster, client and namespace of its own.
//!
//! The backend comes from `HARNESS_CLUSTER` (see [`backend`]): `embedded`
//! (default; the in-process API server, whose object timestamps follow tokio
//! time, so `#[tokio::test(start_paused = true)]` works), `existing`
//! (`KUBECONFIG`), or `k3s` (feature `k3s`, Docker). The namespace is named
//! after the test (`stuck-rollout-1123-104501-k3x9`) and deleted when the env
//! drops, panics included; `HARNESS_KEEP=1` keeps it and prints how to look.
//!
//! ```ignore
//! #[rstest]
//! #[tokio::test(start_paused = true)]
//! async fn web_becomes_ready(#[future] env: TestEnv) -> anyhow::Result<()> {
//!     let env = env.await;
//!     let _faker = env.status_faker().start();
//!     let sts = env.apply(my_statefulset()).await?;
//!     eventually(env.get(&sts)).should(field("status.readyReplicas", eq(3))).await?;
//!     Ok(())
//! }
//! ```

pub mod backend;
pub mod error;
#[cfg(feature = "k3s")]
pub mod k3s;
pub mod manifests;
pub mod namespace;
pub mod operator;
pub mod probe;

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use tokio::sync::OnceCell;

pub use backend::{BackendKind, Settings};
pub use error::EnvError;
pub use namespace::{Connector, NamespaceGuard};
pub use operator::OperatorHandle;
pub use probe::GetProbe;

use crate::faker::{StampFn, StatusFaker};

/// Label on every namespace the harness creates, so leftovers are easy to find
/// (`kubectl get ns -l kube-harness.io/test`).
pub const TEST_LABEL: &str = "kube-harness.io/test";

enum Cluster {
    Embedded {
        server: apiserver::ApiServer,
        http: OnceCell<apiserver::HttpEndpoint>,
    },
    Real {
        kubeconfig: PathBuf,
    },
    #[cfg(feature = "k3s")]
    K3s(k3s::K3sCluster),
}

/// One test's cluster + client + namespace. Fields drop in order: the
/// namespace guard runs before the cluster (server or container) goes.
pub struct TestEnv {
    guard: NamespaceGuard,
    client: Client,
    namespace: String,
    backend: BackendKind,
    connector: Connector,
    stamp: StampFn,
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

impl TestEnv {
    /// An env for the running test, as `HARNESS_CLUSTER` / `HARNESS_KEEP` say.
    pub async fn new() -> Result<Self, EnvError> {
        Self::with_settings(Settings::from_env()?, &namespace::current_test_name()).await
    }

    /// An env on the embedded backend whatever the environment says (for
    /// tests that only make sense there, e.g. ones that rely on the faker).
    pub async fn embedded() -> Result<Self, EnvError> {
        let mut s = Settings::from_env()?;
        s.backend = BackendKind::Embedded;
        Self::with_settings(s, &namespace::current_test_name()).await
    }

    /// An env from explicit settings; `test_name` prefixes the namespace.
    pub async fn with_settings(settings: Settings, test_name: &str) -> Result<Self, EnvError> {
        let (cluster, connector, stamp): (Cluster, Connector, StampFn) = match settings.backend {
            BackendKind::Embedded => {
                let clock = apiserver::TokioClock::new(jiff::Timestamp::now());
                let server = apiserver::ApiServer::builder()
                    .clock(clock)
                    .start()
                    .await
                    .map_err(|e| EnvError::Embedded(e.to_string()))?;
                let stamp: StampFn = Arc::new(move || apiserver::Clock::now(&clock));
                (
                    Cluster::Embedded {
                        server: server.clone(),
                        http: OnceCell::new(),
                    },
                    Connector::Embedded(server),
                    stamp,
                )
            }
            BackendKind::Existing => {
                let path = settings.kubeconfig_path()?;
                let config = backend::load_kubeconfig(&path).await?;
                backend::check_reachable(&config)?;
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
                (Cluster::K3s(k), connector, Arc::new(jiff::Timestamp::now))
            }
            #[cfg(not(feature = "k3s"))]
            BackendKind::K3s => return Err(EnvError::K3sNotBuilt),
        };

        let namespace = namespace::unique_name(test_name);
        let client = connector.client(&namespace)?;
        let ns_api: Api<Namespace> = Api::all(client.clone());
        let ns_obj: Namespace = serde_json::from_value(json!({
            "metadata": {"name": namespace, "labels": {TEST_LABEL: "true"}}
        }))
        .expect("valid namespace");
        ns_api
            .create(&PostParams::default(), &ns_obj)
            .await
            .map_err(EnvError::api(format!("create namespace {namespace}")))?;

        let mut env = TestEnv {
            guard: NamespaceGuard {
                namespace: namespace.clone(),
                connector: connector.clone(),
                keep: settings.keep,
                armed: true,
                wait_gone: !settings.backend.is_real(),
                how_to_look: String::new(),
            },
            client,
            namespace,
            backend: settings.backend,
            connector,
            stamp,
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
    pub fn embedded_server(&self) -> Option<&apiserver::ApiServer> {
        match &self.cluster {
            Cluster::Embedded { server, .. } => Some(server),
            _ => None,
        }
    }

    /// The time source for timestamps written into objects (virtual on the
    /// embedded backend, wall clock on real clusters).
    pub fn stamp(&self) -> StampFn {
        self.stamp.clone()
    }

    /// A kubeconfig for kubectl or an out-of-process operator. On the
    /// embedded backend this starts its HTTP endpoint on 127.0.0.1 (real
    /// sockets: don't use it from paused-time code).
    pub async fn kubeconfig(&self) -> Result<PathBuf, EnvError> {
        match &self.cluster {
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

    /// A faker for this namespace. On the embedded backend it plays every
    /// controller and registers three nodes; on a real cluster the real
    /// controllers run, so it starts with nothing enabled: call
    /// [`StatusFaker::enable`] for what the test owns.
    pub fn status_faker(&self) -> StatusFaker {
        let faker = StatusFaker::new(
            self.client.clone(),
            Some(self.namespace.clone()),
            self.stamp.clone(),
        );
        if self.backend.is_real() {
            faker.with_rules(|r| r.nodes = 0);
            faker.only([])
        } else {
            faker
        }
    }

    /// Install every CRD of a folder of YAML and wait until it is served.
    pub async fn install_crds(&self, dir: impl AsRef<Path>) -> Result<Vec<String>, EnvError> {
        let dir = dir.as_ref();
        if let Cluster::Embedded { server, .. } = &self.cluster {
            return server
                .install_crds(dir)
                .await
                .map_err(|e| EnvError::Embedded(e.to_string()));
        }
        let mut names = Vec::new();
        for (source, text) in manifests::read_folder(dir)? {
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

    /// Apply a multi-document YAML file (or a folder of them) into the test
    /// namespace (objects that name another namespace keep it).
    pub async fn apply_manifests(&self, path: impl AsRef<Path>) -> Result<usize, EnvError> {
        let path = path.as_ref();
        let files = if path.is_dir() {
            manifests::read_folder(path)?
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| EnvError::Manifest {
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

    /// Create the object in the test namespace, or replace it if it exists.
    /// Returns what the server stored (uid, resourceVersion, defaults).
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
        obj.meta_mut().namespace = Some(self.namespace.clone());
        let api = self.api::<K>();
        match api.create(&PostParams::default(), &obj).await {
            Ok(o) => Ok(o),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let current = api.get(&name).await.map_err(EnvError::api(what.clone()))?;
                obj.meta_mut().resource_version = current.meta().resource_version.clone();
                api.replace(&name, &PostParams::default(), &obj)
                    .await
                    .map_err(EnvError::api(what))
            }
            Err(e) => Err(EnvError::api(what)(e)),
        }
    }

    /// A probe of the object's current state: `.await` it for one read, or
    /// hand it to `eventually` / `consistently`.
    pub fn get<K>(&self, obj: &K) -> GetProbe<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        GetProbe::new(self.api::<K>(), obj.name_any())
    }

    /// A probe of the named object in the test namespace.
    pub fn get_named<K>(&self, name: &str) -> GetProbe<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        GetProbe::new(self.api::<K>(), name.to_owned())
    }

    /// JSON merge patch (RFC 7386) of the object; returns the patched object.
    pub async fn patch<K>(&self, obj: &K, patch: serde_json::Value) -> Result<K, EnvError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let name = obj.name_any();
        let what = format!("patch {}/{name}", K::kind(&()));
        let api = self.api::<K>();
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            // A server without PATCH: same result through GET + PUT.
            Err(kube::Error::Api(e)) if crate::faker::driver::patch_unsupported(e.code) => {
                let dynamic: Api<kube::api::DynamicObject> = Api::namespaced_with(
                    self.client.clone(),
                    &self.namespace,
                    &kube::core::ApiResource::erase::<K>(&()),
                );
                crate::faker::driver::read_modify_write(&dynamic, &name, &patch, false)
                    .await
                    .map_err(EnvError::api(what.clone()))?;
                api.get(&name).await.map_err(EnvError::api(what))
            }
            other => other.map_err(EnvError::api(what)),
        }
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
    /// (default namespace: the test's) on every start.
    pub fn spawn_operator<F, Fut, E>(&self, run: F) -> Result<OperatorHandle, EnvError>
    where
        F: Fn(Client) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        OperatorHandle::spawn(self.connector.clone(), self.namespace.clone(), run)
    }

    /// Delete the namespace now and wait (on the embedded backend) until it is
    /// gone, instead of at drop.
    pub async fn cleanup(mut self) -> Result<(), EnvError> {
        self.guard.armed = false;
        NamespaceGuard::delete(&self.connector, &self.namespace, !self.backend.is_real()).await
    }
}

/// The rstest fixture: `async fn t(#[future] env: TestEnv)`, then `env.await`.
/// Panics with the backend's error (it names the fix) if the env cannot start.
#[rstest::fixture]
pub async fn env() -> TestEnv {
    match TestEnv::new().await {
        Ok(env) => env,
        Err(e) => panic!("kube-harness could not give this test a cluster: {e}"),
    }
}
