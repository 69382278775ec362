//! Probes a `TestEnv` hands out: `env.get(&obj)` (one object's current
//! state) and `env.probe(subject, closure)` (any async read). Both name their
//! subject in failures and attach the env's timeline and operator logs to
//! every failed wait, so a test never flattens that context by hand.

use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use kube::Resource;
use kube::api::Api;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::logs::OperatorLogs;
use crate::timeline::Recorder;
use crate::wait::{Failure, Probe, ProbeError, Section};

/// What a failed wait of an env's probe gets: the namespace for its subject,
/// the timeline and the operator logs for its report.
#[derive(Clone)]
pub(crate) struct Context {
    pub(crate) namespace: String,
    pub(crate) timeline: Arc<Recorder>,
    pub(crate) logs: OperatorLogs,
    #[cfg(feature = "embedded")]
    pub(crate) faults: Option<kube_harness_apiserver::Faults>,
}

impl Context {
    /// The timeline (synced, so Events the failure caused are in it) and the
    /// tail of the operator logs, as report sections.
    pub(crate) async fn annotate(&self, mut failure: Failure) -> Failure {
        failure.sections.extend(self.sections().await);
        failure
    }

    /// The last injected fault that starved a watch of `plural`, as a line
    /// a liveness failure leads with: a controller whose watch went silent
    /// is not "stuck", it was never told. (A closed watch is not named: a
    /// client resumes it.)
    pub(crate) fn watch_fault_line(&self, plural: &str) -> Option<String> {
        #[cfg(feature = "embedded")]
        {
            let faults = self.faults.as_ref()?;
            let watch = format!("WATCH {plural}");
            let last = faults.injected().into_iter().rev().find(|i| {
                i.request.split('/').next() == Some(watch.as_str())
                    && i.effect.starts_with("watch stalled")
            })?;
            Some(format!(
                "watch on {plural} stalled at {} (injected: {}); no reconcile since",
                crate::timeline::offset(last.at),
                last.effect
            ))
        }
        #[cfg(not(feature = "embedded"))]
        {
            let _ = plural;
            None
        }
    }

    /// What a failure of this env adds: the timeline (synced), the last
    /// operator log lines, the faults injected (with their seed).
    pub(crate) async fn sections(&self) -> Vec<Section> {
        let mut sections = Vec::new();
        if let Err(e) = self.timeline.sync().await {
            sections.push(Section::new("timeline sync failed", e.to_string()));
        }
        let tl = self.timeline.timeline();
        sections.push(Section::new(tl.title(), tl.rows()));
        if let Some((title, body)) = self.logs.failure_section() {
            sections.push(Section::new(title, body));
        }
        #[cfg(feature = "embedded")]
        if let Some(faults) = &self.faults {
            let injected = faults.injected();
            if !injected.is_empty() {
                let lines: Vec<String> = injected.iter().map(ToString::to_string).collect();
                sections.push(Section::new(
                    format!(
                        "faults injected ({}; replay with HARNESS_FAULT_SEED={})",
                        injected.len(),
                        faults.current_seed()
                    ),
                    lines.join("\n"),
                ));
            }
        }
        sections
    }
}

/// Reads one named object each time it is asked.
pub struct GetProbe<K> {
    api: Api<K>,
    name: String,
    context: Option<Context>,
}

impl<K> GetProbe<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    pub(crate) fn new(api: Api<K>, name: String, context: Option<Context>) -> Self {
        GetProbe { api, name, context }
    }

    /// `kind/name in ns x` for messages.
    pub fn describe(&self) -> String {
        let what = format!("{}/{}", K::kind(&()).to_lowercase(), self.name);
        match &self.context {
            Some(c) => format!("{what} in ns {}", c.namespace),
            None => what,
        }
    }

    /// One read.
    pub async fn fetch(&self) -> Result<K, kube::Error> {
        self.api.get(&self.name).await
    }

    /// One read; `None` when the object does not exist.
    pub async fn fetch_opt(&self) -> Result<Option<K>, kube::Error> {
        self.api.get_opt(&self.name).await
    }
}

impl<K> IntoFuture for GetProbe<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    type Output = Result<K, kube::Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.api.get(&self.name).await })
    }
}

impl<K> Probe for GetProbe<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Serialize + Send + Sync,
{
    type Output = K;

    async fn probe(&mut self) -> Result<K, ProbeError> {
        match self.api.get_opt(&self.name).await {
            Ok(Some(obj)) => Ok(obj),
            Ok(None) => Err(ProbeError::Failed(format!("{} not found", self.describe()))),
            Err(e) => Err(ProbeError::Failed(format!(
                "reading {}: {e}",
                self.describe()
            ))),
        }
    }

    fn subject(&self) -> Option<String> {
        Some(self.describe())
    }

    async fn annotate(&mut self, mut failure: Failure) -> Failure {
        // As `kubectl get -o yaml` does: who wrote which field is rarely
        // what a failure is about, and it is most of an object's text.
        if let Some(meta) = failure
            .last_value
            .as_mut()
            .and_then(|v| v.get_mut("metadata"))
            .and_then(|m| m.as_object_mut())
        {
            meta.remove("managedFields");
        }
        match &self.context {
            Some(c) => c.annotate(failure).await,
            None => failure,
        }
    }
}

/// Any async read, named, with the env's context: what `env.probe(..)` returns.
pub struct EnvProbe<F> {
    subject: String,
    read: F,
    context: Context,
}

impl<F> EnvProbe<F> {
    pub(crate) fn new(subject: String, read: F, context: Context) -> Self {
        Self {
            subject,
            read,
            context,
        }
    }
}

impl<F, Fut, T, E> Probe for EnvProbe<F>
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Serialize + Send,
    E: std::fmt::Display + Send + 'static,
{
    type Output = T;

    fn probe(&mut self) -> impl Future<Output = Result<T, ProbeError>> + Send {
        let fut = (self.read)();
        async move { fut.await.map_err(ProbeError::classify) }
    }

    fn subject(&self) -> Option<String> {
        Some(format!("{} in ns {}", self.subject, self.context.namespace))
    }

    fn annotate(&mut self, failure: Failure) -> impl Future<Output = Failure> + Send {
        let context = self.context.clone();
        async move { context.annotate(failure).await }
    }
}
