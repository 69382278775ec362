//! The public entry point: [`ApiServer`], its builder, the in-process
//! `kube::Client`, and the CRD directory installer.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use serde_json::{Value, json};

use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::http::HttpEndpoint;
use crate::registry::{GroupResource, builtin_resources};
use crate::store::ops::{self, WriteOpts};
use crate::store::{GraceTimer, State};

/// kube-apiserver's default request body limit (3 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 3 * 1024 * 1024;
/// Events kept per resource for watches resuming from an old version.
pub const DEFAULT_WATCH_HISTORY: usize = 10_000;

/// State shared by every request of one server.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub body_limit: usize,
    pub faults: crate::faults::Faults,
    /// When set, every request must carry it (`Authorization: Bearer`).
    pub token: Option<String>,
    /// Request counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Where webhooks' `clientConfig.service` go.
    pub webhook_routes: crate::admission::webhooks::Routes,
    /// The kubelets `nodes/{name}/proxy` reaches.
    pub kubelets: crate::rest::node_proxy::Kubelets,
    /// Signs and checks service account tokens.
    pub signer: crate::tokens::Signer,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state
        // (every write is applied or not); keep serving. No garbage
        // collection runs while nobody holds the lock, whatever the panic
        // interrupted.
        self.state.lock().unwrap_or_else(|p| {
            let mut st = p.into_inner();
            st.collecting = false;
            st
        })
    }

    /// Runs a write, then starts the grace-period timers and the policy
    /// checks it asked for.
    pub(crate) fn write<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (out, timers, checks) = {
            let mut st = self.lock();
            let out = f(&mut st);
            (
                out,
                std::mem::take(&mut st.timers),
                std::mem::take(&mut st.policy_checks),
            )
        };
        self.start_timers(timers);
        self.start_policy_checks(checks);
        out
    }

    /// The ValidatingAdmissionPolicy status controller's reconciles, on
    /// their own task as upstream's run in kube-controller-manager (at once
    /// when there is no runtime to run them on).
    fn start_policy_checks(self: &Arc<Self>, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let weak = Arc::downgrade(self);
        let run = move || {
            if let Some(shared) = weak.upgrade() {
                shared.write(|st| {
                    for name in &names {
                        crate::admission::type_checking::reconcile(st, name);
                    }
                });
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(async move { run() })),
            Err(_) => run(),
        }
    }

    fn start_timers(self: &Arc<Self>, timers: Vec<GraceTimer>) {
        for t in timers {
            let weak = Arc::downgrade(self);
            tokio::spawn(async move {
                tokio::time::sleep(t.after).await;
                if let Some(shared) = weak.upgrade() {
                    let more = {
                        let mut st = shared.lock();
                        ops::finish_grace(&mut st, &t.at, &t.uid);
                        std::mem::take(&mut st.timers)
                    };
                    shared.start_timers(more);
                }
            });
        }
    }
}

/// Options for [`ApiServer`].
pub struct ApiServerBuilder {
    clock: Arc<dyn Clock>,
    watch_history: usize,
    body_limit: usize,
    token: Option<String>,
}

impl Default for ApiServerBuilder {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            watch_history: DEFAULT_WATCH_HISTORY,
            body_limit: DEFAULT_BODY_LIMIT,
            token: None,
        }
    }
}

impl ApiServerBuilder {
    /// Where object timestamps come from (default: the wall clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Events kept per resource; watching from an older resourceVersion
    /// answers 410 Gone.
    pub fn watch_history(mut self, events: usize) -> Self {
        self.watch_history = events.max(1);
        self
    }

    /// Largest accepted request body, answering 413 beyond it.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Requires this bearer token on every request, answering 401 without
    /// it, as kube-apiserver does with `--anonymous-auth=false` (a server
    /// reachable beyond loopback should not serve anyone who asks). The
    /// kubeconfig of [`ApiServer::serve_http`] carries it; the in-process
    /// client adds it too.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Starts the server: built-in resources registered, start-up objects
    /// created. In-process only; [`ApiServer::serve_http`] adds a listener.
    pub async fn start(self) -> Result<ApiServer, Error> {
        if let Some(token) = &self.token {
            // What a client can send after `Bearer `, and kube-apiserver's
            // token authenticator would take.
            if token.is_empty() {
                return Err(Error::BadToken("it is empty"));
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::BadToken("it holds whitespace or control characters"));
            }
        }
        let mut st = State::new(self.clock, self.watch_history);
        for info in builtin_resources() {
            st.register(info);
        }
        let ns = st
            .resources
            .get(&GroupResource::new("", "namespaces"))
            .expect("namespaces registered")
            .info
            .clone();
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            ops::create(&mut st, &ns, "v1", None, obj, WriteOpts::default())
                .expect("system namespaces are valid");
        }
        // What kube-apiserver keeps for itself in `default`. Its port is
        // kube-apiserver's secure port and its address loopback, as on a
        // one-node cluster: nothing routes Service traffic here.
        let core = |plural: &str| {
            st.resources
                .get(&GroupResource::new("", plural))
                .expect("core resources registered")
                .info
                .clone()
        };
        let (services, endpoints) = (core("services"), core("endpoints"));
        for (info, obj) in [
            (services, crate::services::kubernetes_service(SECURE_PORT)),
            (
                endpoints,
                crate::services::kubernetes_endpoints(std::net::Ipv4Addr::LOCALHOST, SECURE_PORT),
            ),
        ] {
            ops::create(
                &mut st,
                &info,
                "v1",
                Some("default"),
                obj,
                WriteOpts::default(),
            )
            .expect("the kubernetes Service and Endpoints are valid");
        }
        // `pkg/apis/scheduling` `SystemPriorityClasses`, made by the
        // `scheduling/bootstrap-system-priority-classes` post-start hook.
        let priority_classes = st
            .resources
            .get(&GroupResource::new("scheduling.k8s.io", "priorityclasses"))
            .expect("priorityclasses registered")
            .info
            .clone();
        for (name, value, description) in [
            (
                "system-node-critical",
                2_000_001_000,
                "Used for system critical pods that must not be moved from their current node.",
            ),
            (
                "system-cluster-critical",
                2_000_000_000,
                "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
            ),
        ] {
            let obj = json!({
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": name},
                "value": value,
                "description": description,
            });
            ops::create(
                &mut st,
                &priority_classes,
                "v1",
                None,
                obj,
                WriteOpts::default(),
            )
            .expect("the system priority classes are valid");
        }
        let (roles, bindings) = crate::authz::bootstrap::objects();
        for (plural, objects) in [("clusterroles", roles), ("clusterrolebindings", bindings)] {
            let info = st
                .resources
                .get(&GroupResource::new("rbac.authorization.k8s.io", plural))
                .expect("RBAC kinds registered")
                .info
                .clone();
            for obj in objects {
                ops::create(&mut st, &info, "v1", None, obj, WriteOpts::default())
                    .expect("the bootstrap RBAC objects are valid");
            }
        }
        crate::aggregator::register_builtin(&mut st);
        let shared = Arc::new(Shared {
            metrics: crate::metrics::Metrics::default(),
            state: Mutex::new(st),
            body_limit: self.body_limit,
            faults: crate::faults::Faults::new(),
            token: self.token,
            signer: crate::tokens::Signer::generate(),
            webhook_routes: Default::default(),
            kubelets: Default::default(),
        });
        let router = crate::rest::router(shared.clone());
        Ok(ApiServer { shared, router })
    }
}

/// kube-apiserver's default `--secure-port`, the `kubernetes` Service's
/// target port.
const SECURE_PORT: u16 = 6443;

/// An in-memory Kubernetes API server. Cloning shares the same server.
#[derive(Clone)]
pub struct ApiServer {
    shared: Arc<Shared>,
    router: Router,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").finish_non_exhaustive()
    }
}

impl ApiServer {
    /// Starts a server with default options.
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    /// A builder to choose the clock, watch history and body limit.
    pub fn builder() -> ApiServerBuilder {
        ApiServerBuilder::default()
    }

    /// A client talking to this server in-process (no socket), so it works
    /// under tokio's paused time. Its default namespace is `default`.
    #[cfg(feature = "client")]
    pub fn client(&self) -> kube::Client {
        self.client_with("default", http::HeaderMap::new())
    }

    /// An in-process client with its own default namespace that sends
    /// `headers` on every request (an operator's `User-Agent`, say), and
    /// the server's bearer token when it has one.
    #[cfg(feature = "client")]
    pub fn client_with(&self, namespace: &str, mut headers: http::HeaderMap) -> kube::Client {
        if let Some(token) = &self.shared.token {
            let bearer = http::HeaderValue::from_str(&format!("Bearer {token}"))
                .expect("start() checked the token is a header value");
            headers.insert(http::header::AUTHORIZATION, bearer);
        }
        if headers.is_empty() {
            return kube::Client::new(self.router.clone(), namespace.to_owned());
        }
        let svc = tower::ServiceExt::map_request(
            self.router.clone(),
            move |mut req: http::Request<kube::client::Body>| {
                req.headers_mut().extend(headers.clone());
                req
            },
        );
        kube::Client::new(svc, namespace.to_owned())
    }

    /// The server's fault rules: errors and latency injected into the
    /// requests they match (see [`Fault`](crate::Fault)).
    pub fn faults(&self) -> crate::Faults {
        self.shared.faults.clone()
    }

    /// The server's event logs for an in-process controller that needs a
    /// cache as fresh as the last write (see [`ChangeFeed`]).
    pub fn change_feed(&self) -> crate::ChangeFeed {
        crate::ChangeFeed::new(&self.shared)
    }

    /// Answers `nodes/{node}/proxy/{path}` with `handler`, as that node's
    /// kubelet would: it gets the method, headers, body and the path after
    /// `/proxy` with the query (`/stats/summary`), and its response is the
    /// client's. The node must exist; without a handler the proxy answers
    /// what kube-apiserver answers when the kubelet is unreachable.
    pub fn serve_node_proxy<F, Fut>(&self, node: &str, handler: F)
    where
        F: Fn(http::Request<bytes::Bytes>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = http::Response<bytes::Bytes>> + Send + 'static,
    {
        let handler: crate::rest::node_proxy::Handler =
            Arc::new(move |request| Box::pin(handler(request)));
        self.shared.kubelets.set(node, handler);
    }

    /// Sends admission webhooks whose `clientConfig.service` is
    /// `namespace/name` to `url` (the service's `path` appended), since no
    /// Service routes to a pod here. `https://` URLs are verified against
    /// the configuration's `caBundle`; an `http://` URL is this test's
    /// choice of plain HTTP (kube-apiserver only speaks HTTPS to webhooks).
    pub fn route_service(&self, namespace: &str, name: &str, url: &str) {
        self.shared.webhook_routes.set(
            namespace,
            name,
            crate::admission::webhooks::Route::Url(url.to_string()),
        );
    }

    /// Serves admission webhooks whose `clientConfig.service` is
    /// `namespace/name` in-process: `handler` gets the AdmissionReview an
    /// HTTP webhook would get (JSON) and returns the one it would answer.
    pub fn serve_webhook<F, Fut>(&self, namespace: &str, name: &str, handler: F)
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = serde_json::Value> + Send + 'static,
    {
        let handler: crate::admission::webhooks::WebhookHandler =
            Arc::new(move |review| Box::pin(handler(review)));
        self.shared.webhook_routes.set(
            namespace,
            name,
            crate::admission::webhooks::Route::Handler(handler),
        );
    }

    /// [`ApiServer::serve_webhook`] with kube's typed admission API: the
    /// handler reads an `AdmissionRequest` and returns an
    /// `AdmissionResponse` (built with `AdmissionResponse::from(&request)`,
    /// `.deny(..)`, `.with_patch(..)`), as an operator's webhook server does.
    #[cfg(feature = "client")]
    pub fn serve_admission<F, Fut>(&self, namespace: &str, name: &str, handler: F)
    where
        F: Fn(kube::core::admission::AdmissionRequest<kube::core::DynamicObject>) -> Fut
            + Send
            + Sync
            + 'static,
        Fut:
            std::future::Future<Output = kube::core::admission::AdmissionResponse> + Send + 'static,
    {
        use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
        let handler = Arc::new(handler);
        self.serve_webhook(namespace, name, move |review| {
            let handler = handler.clone();
            async move {
                let parsed: Result<AdmissionReview<kube::core::DynamicObject>, _> =
                    serde_json::from_value(review);
                let request = parsed.map_err(|e| e.to_string()).and_then(|r| {
                    let request: Result<AdmissionRequest<_>, _> = r.try_into();
                    request.map_err(|e| e.to_string())
                });
                let response = match request {
                    Ok(request) => handler(request).await,
                    Err(e) => AdmissionResponse::invalid(e),
                };
                serde_json::to_value(response.into_review()).unwrap_or_default()
            }
        });
    }

    /// The axum router serving the API, for embedding in another server.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves the API over plain HTTP on 127.0.0.1 with a port of its own
    /// and writes a kubeconfig for it (removed when the endpoint drops).
    pub async fn serve_http(&self) -> Result<HttpEndpoint, Error> {
        self.serve_http_on(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
    }

    /// Serves the API over plain HTTP on `addr` (port 0: one of its own).
    /// Anything but loopback exposes an unauthenticated, unencrypted API
    /// unless the server was built with [`ApiServerBuilder::bearer_token`].
    pub async fn serve_http_on(&self, addr: std::net::SocketAddr) -> Result<HttpEndpoint, Error> {
        crate::http::serve(self.router.clone(), addr, self.shared.token.as_deref()).await
    }

    /// Installs every CRD in the YAML files (`.yaml`, `.yml`, `.json`,
    /// multi-document) of `dir` and waits until each is served, like
    /// envtest's CRDDirectoryPaths. Returns the CRD names.
    pub async fn install_crds(&self, dir: &Path) -> Result<Vec<String>, Error> {
        let crds = crate::crd_files::read_dir(dir)?;
        let mut names = Vec::new();
        for (path, crd) in crds {
            let name = crd
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            self.install_crd(crd)
                .map_err(|message| Error::CrdRejected {
                    name: if name.is_empty() {
                        path.clone()
                    } else {
                        name.clone()
                    },
                    message,
                })?;
            names.push(name);
        }
        for name in &names {
            self.wait_served(name).await?;
        }
        Ok(names)
    }

    /// Creates or replaces one CRD.
    fn install_crd(&self, crd: Value) -> Result<(), String> {
        self.shared.write(|st| {
            let info = st
                .lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
                .expect("CRDs are built in");
            let name = crd
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let existing = st.get(&info.gr(), &(String::new(), name.clone()));
            let res = match existing {
                None => ops::create(st, &info, "v1", None, crd, WriteOpts::default()),
                Some(old) => {
                    let mut crd = crd;
                    crate::store::meta::set_str(
                        &mut crd,
                        "resourceVersion",
                        crate::store::meta::resource_version(&old),
                    );
                    ops::update(
                        st,
                        &info,
                        "v1",
                        None,
                        &name,
                        crd,
                        ops::Part::Main,
                        WriteOpts::default(),
                    )
                }
            };
            res.map(|_| ()).map_err(|e| e.message)
        })
    }

    async fn wait_served(&self, name: &str) -> Result<(), Error> {
        const LIMIT: Duration = Duration::from_secs(10);
        let started = tokio::time::Instant::now();
        loop {
            let served = {
                let st = self.shared.lock();
                st.get(
                    &GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions"),
                    &(String::new(), name.to_string()),
                )
                .is_some_and(|crd| {
                    let info = crate::crd::resource_info(&crd);
                    st.resources.contains_key(&info.gr())
                })
            };
            if served {
                return Ok(());
            }
            if started.elapsed() > LIMIT {
                return Err(Error::CrdNotServed {
                    name: name.into(),
                    waited_ms: LIMIT.as_millis() as u64,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
