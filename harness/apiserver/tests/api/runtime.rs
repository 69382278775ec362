//! kube-runtime against the server: a Controller reconciling a custom
//! resource and the StatefulSet it owns, Lease-based leader election, and
//! concurrent read-modify-write clients.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::json;

use crate::common::{Database, DatabaseStatus, database, install_database_crd, server};

/// Polls `check` until it holds, for at most `limit` of (virtual) time.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "{what}: not true after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

async fn reconcile(db: Arc<Database>, client: Arc<Client>) -> Result<Action, ReconcileError> {
    let ns = db.namespace().unwrap();
    let name = db.name_any();
    let sts_api: Api<StatefulSet> = Api::namespaced((*client).clone(), &ns);
    let mut want: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": db.spec.replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"db": name}},
            "template": {"metadata": {"labels": {"db": name}},
                         "spec": {"containers": [{"name": "pg", "image": format!("postgres:{}", db.spec.version)}]}}
        }
    }))
    .unwrap();
    want.metadata.owner_references = Some(vec![db.controller_owner_ref(&()).unwrap()]);
    match sts_api.get_opt(&name).await? {
        None => {
            sts_api.create(&PostParams::default(), &want).await?;
        }
        Some(mut live) if live.spec.as_ref().unwrap().replicas != Some(db.spec.replicas) => {
            live.spec.as_mut().unwrap().replicas = Some(db.spec.replicas);
            sts_api
                .replace(&name, &PostParams::default(), &live)
                .await?;
        }
        Some(_) => {}
    }
    let dbs: Api<Database> = Api::namespaced((*client).clone(), &ns);
    let wanted = DatabaseStatus {
        replicas: db.spec.replicas,
        ready: true,
        selector: Some(format!("db={name}")),
    };
    if db.status.as_ref() != Some(&wanted) {
        let mut with_status = (*db).clone();
        with_status.status = Some(wanted);
        dbs.replace_status(&name, &PostParams::default(), &with_status)
            .await?;
    }
    Ok(Action::await_change())
}

fn error_policy(_: Arc<Database>, _: &ReconcileError, _: Arc<Client>) -> Action {
    Action::requeue(Duration::from_secs(1))
}

#[tokio::test(start_paused = true)]
async fn controller_reconciles_a_crd_and_its_statefulset() {
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    let stss: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let controller = Controller::new(dbs.clone(), watcher::Config::default())
        .owns(stss.clone(), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(client.clone()))
        .for_each(|_| async {});
    let task = tokio::spawn(controller);
    let limit = Duration::from_secs(30);

    dbs.create(&PostParams::default(), &database("orders", 2))
        .await
        .unwrap();
    eventually("StatefulSet created with 2 replicas", limit, || async {
        stss.get_opt("orders")
            .await
            .unwrap()
            .is_some_and(|s| s.spec.unwrap().replicas == Some(2))
    })
    .await;
    eventually("status reported", limit, || async {
        dbs.get("orders")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.ready && s.replicas == 2)
    })
    .await;
    let sts = stss.get("orders").await.unwrap();
    let owner = &sts.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Database", Some(true))
    );

    // A spec change flows through.
    let mut db = dbs.get("orders").await.unwrap();
    db.spec.replicas = 3;
    dbs.replace("orders", &PostParams::default(), &db)
        .await
        .unwrap();
    eventually("StatefulSet scaled to 3", limit, || async {
        stss.get("orders").await.unwrap().spec.unwrap().replicas == Some(3)
    })
    .await;

    // Deleting the owned object triggers a reconcile that recreates it.
    stss.delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    eventually("StatefulSet recreated", limit, || async {
        stss.get_opt("orders").await.unwrap().is_some()
    })
    .await;

    // Deleting the owner garbage-collects the StatefulSet.
    dbs.delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    eventually("StatefulSet collected", limit, || async {
        stss.get_opt("orders").await.unwrap().is_none()
    })
    .await;
    task.abort();
}

/// One leader-election candidate: compare-and-swap on a Lease.
struct Candidate {
    api: Api<Lease>,
    id: &'static str,
    clock: kube_harness_apiserver::TokioClock,
}

const LEASE_SECONDS: i32 = 15;

impl Candidate {
    fn now(&self) -> jiff::Timestamp {
        use kube_harness_apiserver::Clock;
        self.clock.now()
    }

    /// Takes or renews the lease; `false` if someone else holds it or won the race.
    async fn try_lead(&self) -> bool {
        let mine = |rv: Option<String>| -> Lease {
            let mut l: Lease = serde_json::from_value(json!({
                "metadata": {"name": "leader"},
                "spec": {"holderIdentity": self.id, "leaseDurationSeconds": LEASE_SECONDS}
            }))
            .unwrap();
            l.metadata.resource_version = rv;
            l.spec.as_mut().unwrap().renew_time = Some(MicroTime(self.now()));
            l
        };
        match self.api.get_opt("leader").await.unwrap() {
            None => self
                .api
                .create(&PostParams::default(), &mine(None))
                .await
                .is_ok(),
            Some(current) => {
                let spec = current.spec.clone().unwrap();
                let held_by_me = spec.holder_identity.as_deref() == Some(self.id);
                let expired = spec.renew_time.is_none_or(|t| {
                    t.0 + jiff::SignedDuration::from_secs(i64::from(LEASE_SECONDS)) < self.now()
                });
                if !held_by_me && !expired {
                    return false;
                }
                match self
                    .api
                    .replace(
                        "leader",
                        &PostParams::default(),
                        &mine(current.metadata.resource_version),
                    )
                    .await
                {
                    Ok(_) => true,
                    Err(kube::Error::Api(s)) if s.code == 409 => false,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn lease_based_leader_election() {
    let clock = kube_harness_apiserver::TokioClock::new("2026-01-01T00:00:00Z".parse().unwrap());
    let server = kube_harness_apiserver::ApiServer::builder()
        .clock(clock)
        .start()
        .await
        .unwrap();
    let api: Api<Lease> = Api::namespaced(server.client(), "kube-node-lease");
    let a = Candidate {
        api: api.clone(),
        id: "a",
        clock,
    };
    let b = Candidate {
        api: api.clone(),
        id: "b",
        clock,
    };

    assert!(a.try_lead().await, "a takes the free lease");
    assert!(!b.try_lead().await, "b cannot take a held lease");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(a.try_lead().await, "a renews");
        assert!(!b.try_lead().await, "b still locked out");
    }
    // a stops renewing; once the lease expires b takes over.
    let stale = api.get("leader").await.unwrap();
    tokio::time::sleep(Duration::from_secs(16)).await;
    assert!(b.try_lead().await, "b takes the expired lease");
    assert!(!a.try_lead().await, "a lost leadership");
    assert_eq!(
        api.get("leader")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("b")
    );

    // Racing with a stale read is a conflict, never a double leader.
    let mut racing = stale;
    racing.spec.as_mut().unwrap().holder_identity = Some("a".into());
    let err = api
        .replace("leader", &PostParams::default(), &racing)
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 409));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    const CLIENTS: usize = 16;
    const INCREMENTS: usize = 25;
    let (_s, client) = server().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let counter: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "counter"}, "data": {"n": "0"}}))
            .unwrap();
    api.create(&PostParams::default(), &counter).await.unwrap();

    let conflicts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let api = api.clone();
            let conflicts = conflicts.clone();
            tokio::spawn(async move {
                for _ in 0..INCREMENTS {
                    loop {
                        let mut cm = api.get("counter").await.unwrap();
                        let data = cm.data.as_mut().unwrap();
                        let n: usize = data["n"].parse().unwrap();
                        data.insert("n".into(), (n + 1).to_string());
                        match api.replace("counter", &PostParams::default(), &cm).await {
                            Ok(_) => break,
                            Err(kube::Error::Api(s)) if s.code == 409 => {
                                conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let n = api.get("counter").await.unwrap().data.unwrap()["n"].clone();
    assert_eq!(
        n,
        (CLIENTS * INCREMENTS).to_string(),
        "lost updates ({} conflicts retried)",
        conflicts.load(std::sync::atomic::Ordering::Relaxed)
    );
}

/// kube-runtime's `finalizer()` helper, end to end: its first patch tests
/// `/metadata/finalizers` against null on an object without finalizers
/// (kube-apiserver's JSON patch reads the missing key as null), then the
/// cleanup runs on deletion and the finalizer is removed, so the object goes.
#[tokio::test(start_paused = true)]
async fn kube_runtime_finalizer_helper_adds_runs_cleanup_and_removes() {
    use kube::runtime::finalizer::{Event, finalizer};
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    dbs.create(&PostParams::default(), &database("orders", 1))
        .await
        .unwrap();
    const FINALIZER: &str = "harness.dev/cleanup";
    let cleaned = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let step = |db: Database| {
        let (dbs, cleaned) = (dbs.clone(), cleaned.clone());
        async move {
            finalizer(&dbs, FINALIZER, Arc::new(db), |event| async move {
                if let Event::Cleanup(_) = event {
                    cleaned.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                Ok::<_, std::convert::Infallible>(Action::await_change())
            })
            .await
        }
    };

    step(dbs.get("orders").await.unwrap())
        .await
        .expect("the first reconcile adds the finalizer");
    let db = dbs.get("orders").await.unwrap();
    assert_eq!(db.finalizers(), [FINALIZER]);
    step(db).await.expect("an applied reconcile");

    dbs.delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = dbs.get("orders").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    step(terminating)
        .await
        .expect("cleanup runs and the finalizer goes");
    assert!(cleaned.load(std::sync::atomic::Ordering::SeqCst));
    assert!(dbs.get_opt("orders").await.unwrap().is_none());
}

/// What most kube-rs operators do in one reconcile: kube-runtime's
/// `Controller`, its `finalizer()` helper, Events through its `Recorder`, and
/// status written with server-side apply. Each must work against the server
/// as it does against kube-apiserver.
#[tokio::test(start_paused = true)]
async fn a_controller_with_finalizer_recorder_and_server_side_apply_status() {
    use k8s_openapi::api::events::v1::Event as EventV1;
    use kube::api::{ListParams, Patch, PatchParams};
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    use kube::runtime::finalizer::{Event as Finalizer, finalizer};

    const FINALIZER: &str = "harness.dev/cleanup";
    const MANAGER: &str = "db-controller";
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: MANAGER.into(),
            instance: None,
        },
    );

    let reconcile = {
        let (dbs, recorder) = (dbs.clone(), recorder.clone());
        move |db: Arc<Database>, _: Arc<()>| {
            let (dbs, recorder) = (dbs.clone(), recorder.clone());
            async move {
                finalizer(&dbs, FINALIZER, db, |event| async {
                    let (db, reason) = match &event {
                        Finalizer::Apply(db) => (db, "Reconciled"),
                        Finalizer::Cleanup(db) => (db, "CleanedUp"),
                    };
                    let note = format!("{} replicas", db.spec.replicas);
                    recorder
                        .publish(
                            &Event {
                                type_: EventType::Normal,
                                reason: reason.into(),
                                note: Some(note),
                                action: "Reconcile".into(),
                                secondary: None,
                            },
                            &db.object_ref(&()),
                        )
                        .await?;
                    if let Finalizer::Apply(db) = event {
                        let status = json!({
                            "apiVersion": "harness.dev/v1",
                            "kind": "Database",
                            "status": {"replicas": db.spec.replicas, "ready": true},
                        });
                        dbs.patch_status(
                            &db.name_any(),
                            &PatchParams::apply(MANAGER).force(),
                            &Patch::Apply(status),
                        )
                        .await?;
                    }
                    Ok::<_, kube::Error>(Action::await_change())
                })
                .await
            }
        }
    };
    let error_policy =
        |_: Arc<Database>, _: &_, _: Arc<()>| Action::requeue(Duration::from_secs(1));
    let task = tokio::spawn(
        Controller::new(dbs.clone(), watcher::Config::default())
            .run(reconcile, error_policy, Arc::new(()))
            .for_each(|_| async {}),
    );
    let limit = Duration::from_secs(30);

    dbs.create(&PostParams::default(), &database("orders", 2))
        .await
        .unwrap();
    eventually("finalizer added and status applied", limit, || async {
        let db = dbs.get("orders").await.unwrap();
        db.finalizers() == [FINALIZER] && db.status.is_some_and(|s| s.ready && s.replicas == 2)
    })
    .await;
    let db = dbs.get("orders").await.unwrap();
    let status_owner = db
        .managed_fields()
        .iter()
        .find(|m| m.subresource.as_deref() == Some("status"))
        .map(|m| (m.manager.clone(), m.operation.clone()));
    assert_eq!(
        status_owner,
        Some((Some(MANAGER.to_string()), Some("Apply".to_string()))),
        "{:?}",
        db.managed_fields()
    );

    let events: Api<EventV1> = Api::namespaced(client.clone(), "default");
    let reasons = || async {
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reporting_controller.as_deref() == Some(MANAGER))
            .filter_map(|e| e.reason)
            .collect::<Vec<_>>()
    };
    eventually("a Reconciled Event", limit, || async {
        reasons().await.contains(&"Reconciled".to_string())
    })
    .await;

    dbs.delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    eventually("cleanup ran and the object is gone", limit, || async {
        dbs.get_opt("orders").await.unwrap().is_none()
    })
    .await;
    assert!(reasons().await.contains(&"CleanedUp".to_string()));
    task.abort();
}
