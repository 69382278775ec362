//! The probe: read the object and the namespace's Events every tick (an
//! `eventually`) until a reconcile is proven or the deadline passes, then
//! name what was seen.

use super::LivenessError;
use super::verdict::{Diagnosis, Evidence, Proof, Sample, SeenEvent};
use crate::timeline::{EventFacts, list_events};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

use crate::matchers::eq;
use crate::wait::{ProbeError, StopTrying, eventually};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

type RunningCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// Proves that a controller reconciles one object, or says precisely how it
/// does not. Built with [`LivenessProbe::new`], configured, then run with
/// [`LivenessProbe::after_patch`] (change the spec, require the new generation be
/// observed) or [`LivenessProbe::reconciled`].
#[must_use = "a probe proves nothing until reconciled() or after_patch() is awaited"]
pub struct LivenessProbe<K> {
    client: Client,
    namespace: String,
    name: String,
    component: Option<String>,
    within: Duration,
    every: Duration,
    since: String,
    running: Option<RunningCheck>,
    /// The env, when built with [`LivenessProbe::in_env`]: its timeline,
    /// operator logs and injected faults go with a failure, as with every
    /// failed wait of an env.
    context: Option<crate::env::probe::Context>,
    _kind: std::marker::PhantomData<fn() -> K>,
}

fn sample(at: Duration, obj: &Value) -> Sample {
    Sample {
        at,
        generation: obj.pointer("/metadata/generation").and_then(Value::as_i64),
        observed_generation: obj
            .pointer("/status/observedGeneration")
            .and_then(Value::as_i64),
        status: obj.get("status").cloned().unwrap_or(Value::Null),
    }
}

impl<K> LivenessProbe<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Serialize,
{
    /// A probe for object `name` of kind `K` in `namespace`. Defaults: 30 s
    /// deadline, a read every 250 ms, Events from any reporter count.
    pub fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            name: name.to_string(),
            component: None,
            within: Duration::from_secs(30),
            every: Duration::from_millis(250),
            since: "the probe started".to_string(),
            running: None,
            context: None,
            _kind: std::marker::PhantomData,
        }
    }

    /// A probe for object `name` in the env's namespace, whose failure
    /// carries the env's timeline, operator logs and injected faults (as a
    /// failed wait on the env does).
    pub fn in_env(env: &crate::env::TestEnv, name: &str) -> Self {
        let mut probe = Self::new(env.client(), env.namespace(), name);
        probe.context = Some(env.context());
        probe
    }

    /// Only Events reported by `component` (reportingController or source
    /// component) count, and the failure message names it.
    pub fn component(mut self, component: &str) -> Self {
        self.component = Some(component.to_string());
        self
    }

    /// Deadline (tokio time).
    pub fn within(mut self, within: Duration) -> Self {
        self.within = within;
        self
    }

    /// Interval between reads (tokio time).
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every.max(Duration::from_millis(1));
        self
    }

    /// How the failure message calls the moment probing began, e.g.
    /// `"restart"` when the probe runs right after an operator restart.
    pub fn since(mut self, label: &str) -> Self {
        self.since = label.to_string();
        self
    }

    /// A check that the controller's task still runs; when it returns
    /// `false` the probe fails at once with [`Diagnosis::ControllerExited`].
    pub fn controller_running(mut self, check: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.running = Some(Arc::new(check));
        self
    }

    fn object(&self) -> String {
        format!("{}/{}", K::kind(&()), self.name)
    }

    fn api(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn api_err(&self, action: &str) -> impl FnOnce(kube::Error) -> LivenessError + use<K> {
        let action = format!("{action} {} in ns {}", self.object(), self.namespace);
        move |source| LivenessError::Api { action, source }
    }

    /// Requires a reconcile of the object as it is: observedGeneration
    /// catching up to the current generation, or (if it already has) an
    /// Event from the controller or a status write.
    pub async fn reconciled(&self) -> Result<Proof, LivenessError> {
        self.run(None).await
    }

    /// Applies `patch` (a JSON merge patch, normally to `spec`), then
    /// requires that the controller observes the resulting generation.
    pub async fn after_patch(&self, patch: &Value) -> Result<Proof, LivenessError> {
        self.run(Some(patch)).await
    }

    async fn run(&self, patch: Option<&Value>) -> Result<Proof, LivenessError> {
        let start = Instant::now();
        let api = self.api();
        let (seen, last_before) = self.events_baseline().await?;
        let obj = match patch {
            Some(p) => api
                .patch(&self.name, &PatchParams::default(), &Patch::Merge(p))
                .await
                .map_err(self.api_err("patch"))?,
            None => api
                .get_opt(&self.name)
                .await
                .map_err(self.api_err("get"))?
                .ok_or_else(|| LivenessError::NotFound {
                    object: self.object(),
                    namespace: self.namespace.clone(),
                })?,
        };
        let value = serde_json::to_value(&obj).map_err(|e| LivenessError::Decode {
            object: self.object(),
            message: e.to_string(),
        })?;
        let baseline = sample(Duration::ZERO, &value);
        let target = baseline.generation.unwrap_or(0);
        let mut evidence = Evidence::new(baseline, target);
        evidence.last_event_before = last_before;

        // Each attempt gathers what changed since the last one; the wait
        // ends at the first proof, or early once the controller is gone.
        let state = Mutex::new((evidence, seen));
        let gather = || async {
            let at = Instant::now().duration_since(start);
            if at > Duration::ZERO {
                // Sampled in its own scope: the object itself need not be Send.
                let read = match api.get_opt(&self.name).await.map_err(self.api_err("get"))? {
                    Some(o) => Some(sample(
                        at,
                        &serde_json::to_value(&o).map_err(|e| LivenessError::Decode {
                            object: self.object(),
                            message: e.to_string(),
                        })?,
                    )),
                    None => None,
                };
                let events = self.our_events().await?;
                let mut guard = lock(&state);
                let (evidence, seen) = &mut *guard;
                evidence.observe(read);
                for facts in events {
                    let before = seen.get(&facts.key).copied().unwrap_or(0);
                    if facts.occurrences > before {
                        seen.insert(facts.key.clone(), facts.occurrences);
                        evidence.events.push(SeenEvent {
                            reason: facts.reason,
                            at,
                        });
                    }
                }
            }
            let mut guard = lock(&state);
            let evidence = &mut guard.0;
            if evidence.proof().is_some() {
                return Ok(true);
            }
            if self.running.as_ref().is_some_and(|running| !running()) {
                evidence.controller_running = false;
            }
            Ok::<_, LivenessError>(false)
        };
        // A request the probe needs that fails ends it with that error, not
        // with a diagnosis of the controller.
        let fatal: Mutex<Option<LivenessError>> = Mutex::new(None);
        let attempt = || async {
            match gather().await {
                Ok(true) => Ok(true),
                Ok(false) if !lock(&state).0.controller_running => {
                    Err(StopTrying::new("the controller exited").into())
                }
                Ok(false) => Ok(false),
                Err(e) => {
                    let reason = e.to_string();
                    *lock(&fatal) = Some(e);
                    Err(ProbeError::StopTrying(reason))
                }
            }
        };
        let outcome = eventually(attempt)
            .describe(format!(
                "a reconcile of {} in ns {}",
                self.object(),
                self.namespace
            ))
            .within(self.within)
            .every(self.every)
            .timeout_scale(1.0)
            .should(eq(true))
            .await;
        if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e);
        }
        let (evidence, _) = state.into_inner().unwrap_or_else(|p| p.into_inner());
        match (outcome, evidence.proof()) {
            (Ok(_), Some(proof)) => Ok(proof),
            _ => Err(self
                .fail(&evidence, Instant::now().duration_since(start))
                .await),
        }
    }

    async fn fail(&self, evidence: &Evidence, waited: Duration) -> LivenessError {
        let component = self.component.as_deref().unwrap_or("any controller");
        let message = evidence.explain(
            &self.object(),
            &self.namespace,
            component,
            &self.since,
            waited,
        );
        let mut message = message;
        if let Some(line) = self
            .context
            .as_ref()
            .and_then(|c| c.watch_fault_line(&K::plural(&())))
        {
            // Right under the headline: the cause, when the test caused it.
            message = match message.split_once('\n') {
                Some((head, rest)) => format!("{head}\n{line}\n{rest}"),
                None => format!("{message}\n{line}"),
            };
        }
        let sections = match &self.context {
            Some(context) => context.sections().await,
            None => Vec::new(),
        };
        LivenessError::NotReconciled {
            diagnosis: evidence.diagnosis(),
            message,
            sections,
        }
    }

    /// Events about the probed object from the chosen component.
    async fn our_events(&self) -> Result<Vec<EventFacts>, LivenessError> {
        let object = self.object();
        let facts = list_events(&self.client, &self.namespace)
            .await
            .map_err(|e| LivenessError::Events(Box::new(e)))?;
        Ok(facts
            .into_iter()
            .filter(|f| f.object == object)
            .filter(|f| self.component.as_deref().is_none_or(|c| f.source == c))
            .collect())
    }

    /// Occurrences already there when probing began, and the reason of the
    /// latest of them.
    async fn events_baseline(
        &self,
    ) -> Result<(HashMap<String, u32>, Option<String>), LivenessError> {
        let facts = self.our_events().await?;
        let last = facts
            .iter()
            .enumerate()
            .max_by_key(|(i, f)| (f.last_seen, *i))
            .map(|(_, f)| f.reason.clone());
        let mut seen = HashMap::new();
        for f in facts {
            let n = seen.entry(f.key).or_insert(0);
            *n = (*n).max(f.occurrences);
        }
        Ok((seen, last))
    }
}

impl LivenessError {
    /// The named failure, when the controller did not reconcile.
    pub fn diagnosis(&self) -> Option<Diagnosis> {
        match self {
            LivenessError::NotReconciled { diagnosis, .. } => Some(*diagnosis),
            _ => None,
        }
    }
}
