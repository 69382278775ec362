//! Backups: each `Backup` runs one Job with the database's image. It is its
//! own controller, so a backup that hangs never holds up storage (the
//! seed's "backup succeeds without deadlocking storage reconciliation").

use crate::controller::{Ctx, ReconcileError, api_err, scoped};
use crate::crd::{Backup, BackupStatus, DATABASE_LABEL, Database};
use k8s_openapi::api::batch::v1::Job;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use std::sync::Arc;
use tracing::warn;

/// The Job of a backup.
pub fn job_name(backup: &str) -> String {
    format!("backup-{backup}")
}

pub(crate) fn controller(client: Client, ns: Option<&str>) -> Controller<Backup> {
    Controller::new(
        scoped::<Backup>(client.clone(), ns),
        watcher::Config::default(),
    )
    .owns(scoped::<Job>(client, ns), watcher::Config::default())
}

pub(crate) fn error_policy(b: Arc<Backup>, err: &ReconcileError, ctx: Arc<Ctx>) -> Action {
    warn!(name = %b.name_any(), error = %err, "backup reconcile error; retrying");
    Action::requeue(ctx.config.error_backoff)
}

pub(crate) async fn reconcile(b: Arc<Backup>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let name = b.name_any();
    let ns = b
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace(format!("Backup {name}")))?;
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let job = match jobs
        .get_opt(&job_name(&name))
        .await
        .map_err(api_err(format!("get Job {}", job_name(&name))))?
    {
        Some(job) => job,
        None => {
            let dbs: Api<Database> = Api::namespaced(ctx.client.clone(), &ns);
            let Some(db) = dbs
                .get_opt(&b.spec.database)
                .await
                .map_err(api_err(format!("get Database {}", b.spec.database)))?
            else {
                return write(&ctx, &b, "Failed", None).await;
            };
            let owner = b
                .controller_owner_ref(&())
                .expect("a stored Backup has a uid");
            let job: Job = serde_json::from_value(json!({
                "metadata": {
                    "name": job_name(&name),
                    "labels": { DATABASE_LABEL: db.name_any() },
                    "ownerReferences": [owner],
                },
                "spec": {
                    "backoffLimit": 2,
                    "template": {
                        "metadata": { "labels": { DATABASE_LABEL: db.name_any() } },
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{ "name": "backup", "image": db.spec.image }],
                        },
                    },
                },
            }))
            .expect("the Job literal is well-formed");
            jobs.create(&PostParams::default(), &job)
                .await
                .map_err(api_err(format!("create Job {}", job_name(&name))))?
        }
    };
    let done = |t: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == t && c.status == "True"))
    };
    let phase = if done("Complete") {
        "Completed"
    } else if done("Failed") {
        "Failed"
    } else {
        "Running"
    };
    write(&ctx, &b, phase, Some(job_name(&name))).await
}

async fn write(
    ctx: &Ctx,
    b: &Backup,
    phase: &str,
    job: Option<String>,
) -> Result<Action, ReconcileError> {
    let next = BackupStatus {
        phase: Some(phase.to_string()),
        job,
    };
    if b.status.as_ref() != Some(&next) {
        let api: Api<Backup> =
            Api::namespaced(ctx.client.clone(), &b.namespace().unwrap_or_default());
        let mut updated = b.clone();
        updated.status = Some(next);
        api.replace_status(&b.name_any(), &PostParams::default(), &updated)
            .await
            .map_err(api_err(format!("write status of Backup {}", b.name_any())))?;
    }
    Ok(if phase == "Running" {
        Action::requeue(ctx.config.poll)
    } else {
        Action::await_change()
    })
}
