//! kube-runtime wiring: watch Databases and what they own; on each
//! reconcile read fresh inputs, make the instances, read disk usage, ask
//! [`crate::plan`] what to grow, carry it out (claims, then status, then
//! Events). Backups are their own controller, so a backup never holds up
//! storage.

use crate::clock::whole_seconds;
use crate::crd::{DATABASE_LABEL, Database, DatabaseStatus, Phase, condition};
use crate::instances::{self, claim_name, pod_name};
use crate::plan::{self, Inputs, Note};
use crate::window::Window;
use crate::{OperatorConfig, size, usage};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
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
    /// The object has no namespace; whoever produced it has a bug.
    #[error("{0} has no namespace")]
    NoNamespace(String),
}

pub(crate) fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> ReconcileError {
    let action = action.into();
    move |source| ReconcileError::Api { action, source }
}

pub(crate) struct Ctx {
    pub(crate) client: Client,
    pub(crate) config: OperatorConfig,
    pub(crate) recorder: Recorder,
}

pub(crate) fn scoped<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

/// Runs the Database and Backup controllers until their watch streams end
/// (in practice, until the future is dropped or aborted).
pub async fn run(client: Client, config: OperatorConfig) -> anyhow::Result<()> {
    let ns = config.namespace.as_deref();
    let scope = ns.unwrap_or("<all namespaces>");
    if config.faults.any() {
        warn!(faults = ?config.faults, "TEST-ONLY FAULTS ARE ON: this operator is broken on purpose");
    }
    fn by_label<K: ResourceExt>(obj: &K) -> Option<ObjectRef<Database>> {
        let owner = obj.labels().get(DATABASE_LABEL)?;
        Some(ObjectRef::<Database>::new(owner).within(&obj.namespace()?))
    }
    let databases = Controller::new(
        scoped::<Database>(client.clone(), ns),
        watcher::Config::default(),
    )
    .owns(
        scoped::<StatefulSet>(client.clone(), ns),
        watcher::Config::default(),
    )
    .watches(
        scoped::<Pod>(client.clone(), ns),
        watcher::Config::default().labels(DATABASE_LABEL),
        move |pod| by_label(&pod),
    )
    .watches(
        scoped::<PersistentVolumeClaim>(client.clone(), ns),
        watcher::Config::default().labels(DATABASE_LABEL),
        move |claim| by_label(&claim),
    );
    let backups = crate::backup::controller(client.clone(), ns);
    info!(namespace = scope, "Starting Controller: database, backup");
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
    futures::join!(
        databases
            .run(reconcile, error_policy, ctx.clone())
            .for_each(|result| async move {
                match result {
                    Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                    Err(err) => warn!(error = %err, "database reconcile failed"),
                }
            }),
        backups
            .run(crate::backup::reconcile, crate::backup::error_policy, ctx)
            .for_each(|result| async move {
                match result {
                    Ok((obj, _)) => debug!(object = %obj, "reconciled"),
                    Err(err) => warn!(error = %err, "backup reconcile failed"),
                }
            }),
    );
    Ok(())
}

fn error_policy(db: Arc<Database>, err: &ReconcileError, ctx: Arc<Ctx>) -> Action {
    warn!(name = %db.name_any(), error = %err, "reconcile error; retrying");
    Action::requeue(ctx.config.error_backoff)
}

async fn reconcile(cached: Arc<Database>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let name = cached.name_any();
    let ns = cached
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace(format!("Database {name}")))?;
    let client = &ctx.client;
    let dbs: Api<Database> = Api::namespaced(client.clone(), &ns);
    // Read fresh: the cache may predate this controller's own last status
    // write, and planning on that would count a growth twice.
    let Some(db) = dbs
        .get_opt(&name)
        .await
        .map_err(api_err(format!("get Database {ns}/{name}")))?
    else {
        return Ok(Action::await_change());
    };
    if db.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    debug!(namespace = %ns, name = %name, "reconciling Database");
    let status = db.status.clone().unwrap_or_default();
    let now = whole_seconds(ctx.config.clock.now());
    let selector = ListParams::default().labels(&format!("{DATABASE_LABEL}={name}"));
    let pods: Vec<Pod> = Api::<Pod>::namespaced(client.clone(), &ns)
        .list(&selector)
        .await
        .map_err(api_err(format!("list pods of {name}")))?
        .items
        .into_iter()
        .filter(|p| instances::owned_by(p, &name))
        .collect();
    let claims_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let claims = claims_api
        .list(&selector)
        .await
        .map_err(api_err(format!("list claims of {name}")))?
        .items;

    // Claims first, at the effective size, then the StatefulSet adopts them.
    let effective_before = plan::effective(&db.spec.storage, &status);
    for n in 0..db.spec.instances {
        let pod = pod_name(&name, n);
        if !claims.iter().any(|c| c.name_any() == claim_name(&pod)) {
            let claim = instances::claim(&db, &pod, &size::quantity(effective_before));
            claims_api
                .create(&PostParams::default(), &claim)
                .await
                .map_err(api_err(format!("create claim {}", claim_name(&pod))))?;
        }
    }
    ensure_statefulset(client, &ns, &db).await?;

    let upgrading = pods
        .iter()
        .any(|p| instances::running_image(p).is_some_and(|i| i != db.spec.image));
    let skip_storage = upgrading && ctx.config.faults.skip_storage_while_upgrading;
    let disks = if skip_storage {
        Vec::new()
    } else {
        usage::collect(
            client,
            &ns,
            &pods,
            claim_name,
            ctx.config.faults.filter_out_ready_instances,
        )
        .await
    };
    let ours = |c: &&PersistentVolumeClaim| {
        (0..db.spec.instances).any(|n| c.name_any() == claim_name(&pod_name(&name, n)))
    };
    // Only bound claims have a size to grow from; provisioning is not resizing.
    let bound = |c: &&PersistentVolumeClaim| {
        c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
    };
    // A claim still expanding, or a kubelet still reporting the filesystem
    // at its old size (its volume stats lag the resize): no new growth is
    // planned on a reading that would count the old size as full.
    let resizing = claims
        .iter()
        .filter(ours)
        .filter(bound)
        .any(|c| claim_capacity(c) < effective_before)
        || disks
            .iter()
            .any(|d| d.capacity_bytes < effective_before / 10 * 9);
    // A window that does not parse never opens: planned growth waits (and
    // says so) rather than running at any time.
    let window = db.spec.storage.maintenance_window.as_ref().map(|w| {
        Window::parse(&w.schedule, &w.duration).map_or_else(
            |e| {
                warn!(name = %name, error = %e, "maintenance window does not parse; it never opens");
                crate::window::Position::Closed { opens: None }
            },
            |w| w.position(now),
        )
    });
    let plan = plan::plan(&Inputs {
        storage: &db.spec.storage,
        status: &status,
        disks: &disks,
        resizing,
        window,
        now,
        against_initial_size: ctx.config.faults.measure_against_initial_size,
    });

    let delay =
        jiff::SignedDuration::from_secs(i64::from(db.spec.failover_delay_seconds.unwrap_or(30)));
    let primary = instances::primary(&pods, &status, delay, now, ctx.config.faults.never_promote);
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    for (pod, role) in instances::relabels(&pods, primary.name.as_deref()) {
        let patch = json!({"metadata": {"labels": {crate::crd::ROLE_LABEL: role}}});
        if let Err(e) = pods_api
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            debug!(pod = %pod.name_any(), error = %e, "role label not set; next reconcile retries");
        }
    }

    let ready = pods.iter().filter(|p| instances::is_serving(p)).count() as i32;
    let still_resizing = plan.grow.is_some()
        || claims
            .iter()
            .filter(ours)
            .filter(bound)
            .any(|c| claim_capacity(c) < plan.effective);
    let mut notes: Vec<Note> = primary.notes.clone();
    notes.extend(plan.notes.iter().cloned());
    let was_resizing = status
        .condition(condition::RESIZING)
        .is_some_and(|c| c.status == "True");
    if was_resizing && !still_resizing {
        notes.push(Note {
            warning: false,
            reason: crate::crd::reason::GROWTH_COMPLETED,
            message: format!(
                "every claim of {name} has {}",
                size::quantity(plan.effective)
            ),
        });
    }
    let collected = !disks.is_empty() || skip_storage;
    // Said when collection stops, or when instances first serve and it
    // never started.
    let was_collected = status
        .condition(condition::DISK_STATUS_COLLECTED)
        .is_none_or(|c| c.status == "True");
    if !collected && ready > 0 && (was_collected || status.ready_instances == 0) {
        notes.push(Note {
            warning: true,
            reason: crate::crd::reason::DISK_STATUS_UNAVAILABLE,
            message: "no instance's disk usage could be read; storage is not reconciled".into(),
        });
    }
    let phase = if primary.failing_over {
        Phase::FailingOver
    } else if ready < db.spec.instances {
        Phase::Provisioning
    } else if still_resizing {
        Phase::Resizing
    } else {
        Phase::Healthy
    };
    let mut next = DatabaseStatus {
        phase,
        ready_instances: ready,
        current_primary: primary.name.clone(),
        primary_unready_since: primary.unready_since.clone(),
        effective_size: Some(size::quantity(plan.effective)),
        pending_action: plan.pending.clone(),
        history: plan.history.clone(),
        budget: Some(plan.budget.clone()),
        disks: if disks.is_empty() {
            status.disks.clone()
        } else {
            disks
        },
        conditions: status.conditions.clone(),
        observed_generation: db.metadata.generation,
    };
    let all_ready = ready == db.spec.instances && !primary.failing_over;
    set_condition(
        &mut next,
        now,
        condition::READY,
        all_ready,
        if all_ready {
            "InstancesReady"
        } else {
            "InstancesNotReady"
        },
        &format!("{ready}/{} instances ready", db.spec.instances),
    );
    set_condition(
        &mut next,
        now,
        condition::DISK_STATUS_COLLECTED,
        collected,
        if collected {
            "Collected"
        } else {
            "NoInstances"
        },
        if collected {
            "disk usage read from every active instance's kubelet"
        } else {
            "No instances available for disk status collection"
        },
    );
    let pending_reason = plan.pending.as_ref().map(|p| p.reason.clone());
    set_condition(
        &mut next,
        now,
        condition::GROWTH_PENDING,
        pending_reason.is_some(),
        if pending_reason.is_some() {
            "Waiting"
        } else {
            "NothingPending"
        },
        pending_reason.as_deref().unwrap_or("no growth waits"),
    );
    set_condition(
        &mut next,
        now,
        condition::RESIZING,
        still_resizing,
        if still_resizing {
            "Expanding"
        } else {
            "AtEffectiveSize"
        },
        &format!("claims grow to {}", size::quantity(plan.effective)),
    );

    if db.status.as_ref() != Some(&next) {
        let mut updated = db.clone();
        updated.status = Some(next);
        dbs.replace_status(&name, &PostParams::default(), &updated)
            .await
            .map_err(api_err(format!("write status of Database {name}")))?;
    }
    publish(&ctx, &db, &notes).await;
    // Then grow every bound claim to the effective size, after the status
    // recorded the growth: a growth is never made without being counted in
    // the history and the budget. Unbound claims may not change yet (the
    // API server refuses it) and are grown next time.
    for c in claims.iter().filter(ours).filter(bound) {
        if claim_request(c) < plan.effective {
            let patch = json!({"spec": {"resources": {"requests": {"storage": size::quantity(plan.effective)}}}});
            claims_api
                .patch(
                    &c.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(api_err(format!("grow claim {}", c.name_any())))?;
        }
    }
    Ok(Action::requeue(ctx.config.poll))
}

/// A claim's requested size in bytes (0 when it has none).
fn claim_request(c: &PersistentVolumeClaim) -> u64 {
    let q = c
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    q.and_then(|q| size::bytes(&q.0)).unwrap_or(0)
}

/// A claim's `status.capacity` in bytes (0 before it binds).
fn claim_capacity(c: &PersistentVolumeClaim) -> u64 {
    let q = c
        .status
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"));
    q.and_then(|q| size::bytes(&q.0)).unwrap_or(0)
}

async fn ensure_statefulset(
    client: &Client,
    ns: &str,
    db: &Database,
) -> Result<(), ReconcileError> {
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let name = db.name_any();
    let desired = instances::statefulset(db);
    match sets
        .get_opt(&name)
        .await
        .map_err(api_err(format!("get StatefulSet {name}")))?
    {
        None => {
            sets.create(&PostParams::default(), &desired)
                .await
                .map_err(api_err(format!("create StatefulSet {name}")))?;
        }
        Some(have) => {
            let spec = |s: &StatefulSet| s.spec.clone().unwrap_or_default();
            let (have, want) = (spec(&have), spec(&desired));
            let image = |s: &k8s_openapi::api::apps::v1::StatefulSetSpec| {
                s.template
                    .spec
                    .as_ref()
                    .and_then(|p| p.containers.first())
                    .and_then(|c| c.image.clone())
            };
            if have.replicas != want.replicas || image(&have) != image(&want) {
                let patch = json!({"spec": {"replicas": want.replicas, "template": want.template}});
                sets.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api_err(format!("update StatefulSet {name}")))?;
            }
        }
    }
    Ok(())
}

fn set_condition(
    status: &mut DatabaseStatus,
    now: jiff::Timestamp,
    type_: &str,
    on: bool,
    reason: &str,
    message: &str,
) {
    let value = if on { "True" } else { "False" };
    let since = status
        .condition(type_)
        .filter(|c| c.status == value)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    status.conditions.retain(|c| c.type_ != type_);
    status.conditions.push(Condition {
        type_: type_.into(),
        status: value.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: since,
        observed_generation: None,
    });
    status.conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// Publishes Events; one that cannot be written must not undo the status
/// already written: log it and go on, as kube-controller-manager does.
pub(crate) async fn publish<K: Resource<DynamicType = ()>>(ctx: &Ctx, obj: &K, notes: &[Note]) {
    let reference = obj.object_ref(&());
    for note in notes {
        info!(reason = note.reason, "{}", note.message);
        let event = Event {
            type_: if note.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: note.reason.to_string(),
            note: Some(note.message.clone()),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            warn!(reason = note.reason, error = %err, "could not publish event");
        }
    }
}
