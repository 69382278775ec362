//! Disruptions a test inflicts on purpose: restart the operator, delete a
//! pod and wait for its replacement, evict, cordon and drain a node. Each one
//! goes through the API a human or a cluster autoscaler would use, so on the
//! embedded backend (with the StatusFaker) and on a real cluster the same test
//! means the same thing. Every wait is bounded in tokio time.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::time::Instant;

use crate::all_of;
use crate::env::{OperatorHandle, TestEnv};
use crate::matchers::{eq, not, present};
use crate::wait::{ProbeError, StopTrying, eventually};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a disruption did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisruptionError {
    /// A PodDisruptionBudget refused the eviction (HTTP 429, as kube-apiserver answers).
    #[error("eviction of pod {namespace}/{pod} blocked by a PodDisruptionBudget: {message}")]
    EvictionBlocked {
        /// Pod namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// The server's message (names the budget).
        message: String,
    },
    /// A request failed.
    #[error("{action}: {source}")]
    Api {
        /// What was being done.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// Restarting the operator failed.
    #[error(transparent)]
    Env(#[from] crate::env::EnvError),
    /// The disruption's outcome did not come in time; the wait's report
    /// says what was seen last.
    #[error(transparent)]
    Wait(Box<crate::wait::Failure>),
}

fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> DisruptionError {
    let action = action.into();
    move |source| DisruptionError::Api { action, source }
}

/// Stop the operator and start it again with a fresh client (a pod restart).
pub async fn restart_operator(op: &OperatorHandle) -> Result<(), DisruptionError> {
    op.restart().await.map_err(DisruptionError::from)
}

/// What deleting a pod led to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replacement {
    /// uid of the deleted pod.
    pub old_uid: String,
    /// uid of the pod that took its name.
    pub new_uid: String,
    /// From the delete request until the old pod was gone (tokio time).
    pub terminated_after: Duration,
    /// From the delete request until the replacement existed.
    pub replaced_after: Duration,
}

/// Delete a pod (its own grace period) and wait until a pod of the same name
/// with a new uid exists, as a StatefulSet controller makes it.
pub async fn delete_pod(
    env: &TestEnv,
    name: &str,
    within: Duration,
) -> Result<Replacement, DisruptionError> {
    let api: Api<Pod> = env.api();
    let old = api
        .get(name)
        .await
        .map_err(api_err(format!("get pod {name}")))?;
    let old_uid = old.uid().unwrap_or_default();
    let t0 = Instant::now();
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(api_err(format!("delete pod {name}")))?;
    // When the old pod was first seen gone (a StatefulSet replaces it only
    // after it is gone; a ReplicaSet may replace it while it terminates).
    let gone_at = Mutex::new(None);
    let replacement = eventually(|| async {
        let now = api.get_opt(name).await?;
        let uid = now.as_ref().and_then(|p| p.uid());
        if uid.is_none() {
            gone_at
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(t0.elapsed());
        }
        Ok::<_, kube::Error>(uid)
    })
    .describe(format!(
        "the replacement of pod {name} (uid {old_uid}) in ns {}",
        env.namespace()
    ))
    .within(within)
    .timeout_scale(1.0)
    .every(Duration::from_millis(50))
    .should(all_of![present(), not(eq(&old_uid))])
    .await
    .map_err(|f| DisruptionError::Wait(Box::new(f)))?;
    let elapsed = t0.elapsed();
    let terminated_after = gone_at.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(Replacement {
        old_uid,
        new_uid: replacement.unwrap_or_default(),
        terminated_after: terminated_after.unwrap_or(elapsed),
        replaced_after: elapsed,
    })
}

/// Evict one pod through the eviction API. A PodDisruptionBudget that allows
/// no disruption makes the server answer 429, reported as
/// [`DisruptionError::EvictionBlocked`].
pub async fn evict(client: &Client, namespace: &str, pod: &str) -> Result<(), DisruptionError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    match api.evict(pod, &EvictParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 429 => Err(DisruptionError::EvictionBlocked {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            message: with_causes(&e),
        }),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(api_err(format!("evict pod {namespace}/{pod}"))(e)),
    }
}

/// The server's message and its causes: kube-apiserver names the budget
/// only in a cause ("The disruption budget db needs 3 healthy pods and has
/// 3 currently"), which is the part a reader needs.
fn with_causes(status: &kube::core::Status) -> String {
    let causes: Vec<&str> = status
        .details
        .iter()
        .flat_map(|d| &d.causes)
        .map(|c| c.message.as_str())
        .filter(|m| !m.is_empty())
        .collect();
    if causes.is_empty() {
        status.message.clone()
    } else {
        format!("{} ({})", status.message, causes.join("; "))
    }
}

/// Mark a node unschedulable (`kubectl cordon`).
pub async fn cordon(client: &Client, node: &str) -> Result<(), DisruptionError> {
    set_unschedulable(client, node, true).await
}

/// Make a node schedulable again (`kubectl uncordon`).
pub async fn uncordon(client: &Client, node: &str) -> Result<(), DisruptionError> {
    set_unschedulable(client, node, false).await
}

async fn set_unschedulable(client: &Client, node: &str, on: bool) -> Result<(), DisruptionError> {
    let api: Api<Node> = Api::all(client.clone());
    api.patch(
        node,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"unschedulable": on}})),
    )
    .await
    .map_err(api_err(format!("cordon node {node}")))?;
    Ok(())
}

/// What a drain did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// `namespace/name` of every pod evicted.
    pub evicted: Vec<String>,
}

/// `kubectl drain`: cordon, then evict every pod on the node (DaemonSet and
/// mirror pods excepted), retrying evictions a budget blocks until `within`
/// runs out; then [`DisruptionError::EvictionBlocked`] for the first pod
/// still blocked.
pub async fn drain_node(
    client: &Client,
    node: &str,
    within: Duration,
) -> Result<DrainReport, DisruptionError> {
    cordon(client, node).await?;
    let pods: Api<Pod> = Api::all(client.clone());
    let report = Mutex::new(DrainReport::default());
    let blocked: Mutex<Option<DisruptionError>> = Mutex::new(None);
    // One pass: evict what is left; the wait repeats it as kubectl does
    // (every 5 s) until nothing evictable is left on the node.
    let pass = || async {
        *lock(&blocked) = None;
        let on_node: Vec<Pod> = pods
            .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
            .await
            .map_err(|e| {
                StopTrying::new(api_err(format!("list pods on node {node}"))(e).to_string())
            })?
            .items
            .into_iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| {
                let daemon = p.owner_references().iter().any(|o| o.kind == "DaemonSet");
                let mirror = p.annotations().contains_key("kubernetes.io/config.mirror");
                !daemon && !mirror
            })
            .collect();
        let left = on_node.len();
        for p in &on_node {
            let ns = p.namespace().unwrap_or_default();
            match evict(client, &ns, &p.name_any()).await {
                Ok(()) => lock(&report).evicted.push(format!("{ns}/{}", p.name_any())),
                Err(e @ DisruptionError::EvictionBlocked { .. }) => {
                    lock(&blocked).get_or_insert(e);
                }
                Err(e) => return Err(StopTrying::new(e.to_string()).into()),
            }
        }
        Ok::<_, ProbeError>(left)
    };
    let every = Duration::from_secs(5)
        .min(within / 4)
        .max(Duration::from_millis(50));
    let outcome = eventually(pass)
        .describe(format!("drain of node {node}"))
        .within(within)
        .every(every)
        .timeout_scale(1.0)
        .should(eq(0))
        .await;
    match outcome {
        Ok(_) => Ok(report.into_inner().unwrap_or_else(|p| p.into_inner())),
        Err(f) => Err(blocked
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(DisruptionError::Wait(Box::new(f)))),
    }
}
