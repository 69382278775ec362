//! kube-runtime wiring: watch NodeDeployments, their StatefulSets and pods;
//! on each reconcile read fresh inputs, ask [`crate::decide`] what to do, and
//! carry it out (child first, then status, then events).

use crate::crd::{DEPLOYMENT_LABEL, NodeDeployment};
use crate::decide::{ChildAction, Decision, Observed, Severity, decide};
use crate::{OperatorConfig, child};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use std::sync::Arc;
use tracing::{debug, info, warn};

/// Why a reconcile failed; the controller retries after
/// [`OperatorConfig::error_backoff`].
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// An API call failed (including 409 Conflict on a stale status write).
    #[error("{action} failed: {source}")]
    Api {
        /// What the operator was doing.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// NodeDeployments are namespaced; one without a namespace is a bug in
    /// whoever produced it.
    #[error("NodeDeployment {0} has no namespace")]
    NoNamespace(String),
}

fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ReconcileError {
    let action = action.into();
    move |source| ReconcileError::Api { action, source }
}

struct Ctx {
    client: Client,
    config: OperatorConfig,
    recorder: Recorder,
}

fn scoped<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// Runs the controller until its watch streams end (in practice, until the
/// future is dropped or aborted).
pub async fn run(client: Client, config: OperatorConfig) -> anyhow::Result<()> {
    let ns = config.namespace.as_deref();
    let nds: Api<NodeDeployment> = scoped(client.clone(), ns);
    let children: Api<StatefulSet> = scoped(client.clone(), ns);
    let pods: Api<Pod> = scoped(client.clone(), ns);

    let controller = Controller::new(nds, watcher::Config::default())
        .owns(children, watcher::Config::default())
        .watches(
            pods,
            watcher::Config::default().labels(DEPLOYMENT_LABEL),
            |pod| {
                let owner = pod.labels().get(DEPLOYMENT_LABEL)?;
                Some(ObjectRef::<NodeDeployment>::new(owner).within(&pod.namespace()?))
            },
        );

    let scope = ns.unwrap_or("<all namespaces>");
    if config.faults.any() {
        warn!(faults = ?config.faults, "TEST-ONLY FAULTS ARE ON: this operator is broken on purpose");
    }
    info!(namespace = scope, "Starting Controller: nodedeployment");
    info!(namespace = scope, "Starting workers: 1");

    // The start gate mirrors seed 002's "workers started, nothing reconciled":
    // the gate is opened by a one-time initialisation that, with the fault
    // on, a restart believes has already happened.
    let (gate_opener, mut gate) = tokio::sync::watch::channel(false);
    let restart = config.faults.is_restart();
    if !(restart && config.faults.silent_after_restart) {
        gate_opener.send_replace(true);
    }

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: config.reporter.clone(),
            instance: None,
        },
    );
    let ctx = Arc::new(Ctx {
        client,
        config,
        recorder,
    });
    let reconciles = controller.run(reconcile, error_policy, ctx);

    // Holding the opener keeps a closed gate waiting forever, as the real bug did.
    let _opener = gate_opener;
    if gate.wait_for(|open| *open).await.is_err() {
        anyhow::bail!("start gate dropped");
    }
    reconciles
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                Err(err) => warn!(error = %err, "reconcile failed"),
            }
        })
        .await;
    Ok(())
}

fn error_policy(nd: Arc<NodeDeployment>, err: &ReconcileError, ctx: Arc<Ctx>) -> Action {
    warn!(name = %nd.name_any(), error = %err, "reconcile error; retrying");
    Action::requeue(ctx.config.error_backoff)
}

async fn reconcile(cached: Arc<NodeDeployment>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let name = cached.name_any();
    let ns = cached
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace(name.clone()))?;
    info!(namespace = %ns, name = %name, "reconciling NodeDeployment");
    let nds: Api<NodeDeployment> = Api::namespaced(ctx.client.clone(), &ns);
    let children: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);

    // Read fresh: the cache may predate this controller's own last status
    // write, and deciding on that would start the same rollout twice.
    let Some(nd) = nds
        .get_opt(&name)
        .await
        .map_err(api_err(format!("get NodeDeployment {ns}/{name}")))?
    else {
        return Ok(Action::await_change());
    };
    if nd.metadata.deletion_timestamp.is_some() {
        // Garbage collection removes the child through its ownerReference.
        return Ok(Action::await_change());
    }
    let child = children
        .get_opt(&name)
        .await
        .map_err(api_err(format!("get StatefulSet {ns}/{name}")))?;
    let pod_list = pods
        .list(&ListParams::default().labels(&format!("{DEPLOYMENT_LABEL}={name}")))
        .await
        .map_err(api_err(format!("list pods of {ns}/{name}")))?;

    let decision = decide(
        &Observed {
            nd: &nd,
            child: child.as_ref(),
            pods: &pod_list.items,
            now: ctx.config.clock.now(),
        },
        &ctx.config.faults,
    );
    apply(&ctx, &nd, &children, &nds, &decision).await?;

    Ok(Action::requeue(if decision.busy {
        ctx.config.busy_resync
    } else {
        ctx.config.idle_resync
    }))
}

async fn apply(
    ctx: &Ctx,
    nd: &NodeDeployment,
    children: &Api<StatefulSet>,
    nds: &Api<NodeDeployment>,
    decision: &Decision,
) -> Result<(), ReconcileError> {
    let name = nd.name_any();
    match &decision.child {
        ChildAction::Keep => {}
        ChildAction::Create(sts) => {
            children
                .create(&PostParams::default(), sts)
                .await
                .map_err(api_err(format!("create StatefulSet {name}")))?;
        }
        ChildAction::Update { image, replicas } => {
            let desired = child::desired(nd, image);
            let spec = desired.spec.expect("desired StatefulSet has a spec");
            let patch = serde_json::json!({
                "spec": { "replicas": replicas, "template": spec.template }
            });
            children
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(api_err(format!("set image {image} on StatefulSet {name}")))?;
        }
    }

    if nd.status.as_ref() != Some(&decision.status) {
        let mut updated = nd.clone();
        updated.status = Some(decision.status.clone());
        // PUT with the resourceVersion we read: a concurrent writer makes
        // this fail with 409 and the reconcile retries on fresh data.
        nds.replace_status(&name, &PostParams::default(), &updated)
            .await
            .map_err(api_err(format!("write status of NodeDeployment {name}")))?;
    }

    let reference = nd.object_ref(&());
    for emit in &decision.events {
        let event = Event {
            type_: match emit.severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: emit.reason.to_string(),
            note: Some(emit.note.clone()),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        // An Event that cannot be written must not undo the status already
        // written; log it and go on, as kube-controller-manager does.
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            warn!(name = %name, reason = emit.reason, error = %err, "could not publish event");
        }
    }
    Ok(())
}
