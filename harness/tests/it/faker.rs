//! The StatusFaker against the embedded API server, in paused tokio time:
//! what an operator (or a user with kubectl) would observe.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Event, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube_harness::disruption;
use kube_harness::env::TestEnv;
use kube_harness::prelude::{
    DurationExt, all_of, condition, consistently, contains, eq, eventually, field, zero,
};
use serde_json::json;

fn statefulset(name: &str, replicas: i32, image: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{"name": "main", "image": image}],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    }))
    .expect("valid statefulset")
}

/// The signals that together say a StatefulSet's rollout is over, as fields
/// so that a timeout names the one still missing. Two of them compare fields
/// of the same object, which a path matcher cannot do.
#[derive(serde::Serialize)]
struct Convergence {
    ready_replicas: Option<i32>,
    updated_replicas: Option<i32>,
    /// currentRevision is set and equals updateRevision.
    on_update_revision: bool,
    /// status.observedGeneration has caught up with metadata.generation.
    generation_observed: bool,
    #[serde(skip)]
    sts: StatefulSet,
}

impl From<StatefulSet> for Convergence {
    fn from(sts: StatefulSet) -> Self {
        let st = sts.status.clone().unwrap_or_default();
        Self {
            ready_replicas: st.ready_replicas,
            updated_replicas: st.updated_replicas,
            on_update_revision: st.current_revision.is_some()
                && st.current_revision == st.update_revision,
            generation_observed: st.observed_generation == sts.metadata.generation,
            sts,
        }
    }
}

async fn wait_converged(env: &TestEnv, sts: &StatefulSet, replicas: i32) -> Result<StatefulSet> {
    let probe = env.get(sts);
    let done = eventually(|| async { probe.fetch().await.map(Convergence::from) })
        .describe(format!("statefulset {} converged", sts.name_any()))
        .within(60.s())
        .should(all_of![
            field("ready_replicas", eq(replicas)),
            field("updated_replicas", eq(replicas)),
            field("on_update_revision", eq(true)),
            field("generation_observed", eq(true)),
        ])
        .await?;
    Ok(done.sts)
}

async fn events_for(env: &TestEnv, name: &str) -> Result<Vec<(String, String, String)>> {
    let api: Api<Event> = env.api();
    let mut evs: Vec<_> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| {
            (
                e.type_.unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default(),
            )
        })
        .collect();
    evs.dedup();
    Ok(evs)
}

#[tokio::test(start_paused = true)]
async fn statefulset_of_three_becomes_ready() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let _faker = env.status_faker().start();
    let sts = env.apply(statefulset("web", 3, "nginx:1.27")).await?;
    let s = wait_converged(&env, &sts, 3).await?;
    let st = s.status.unwrap();
    assert_eq!(
        (st.replicas, st.available_replicas, st.current_replicas),
        (3, Some(3), Some(3))
    );

    let pods: Api<Pod> = env.api();
    for i in 0..3 {
        let p = pods.get(&format!("web-{i}")).await?;
        assert_eq!(
            p.labels()["controller-revision-hash"],
            st.update_revision.clone().unwrap()
        );
        assert_eq!(p.owner_references()[0].uid, sts.uid().unwrap());
        let cs = &p.status.unwrap().container_statuses.unwrap()[0];
        assert_eq!((cs.image.as_str(), cs.ready), ("nginx:1.27", true));
        let pvc: PersistentVolumeClaim = env.api().get(&format!("data-web-{i}")).await?;
        assert_eq!(pvc.status.unwrap().phase.as_deref(), Some("Bound"));
    }
    let reasons: Vec<_> = events_for(&env, "web-0")
        .await?
        .into_iter()
        .map(|e| e.1)
        .collect();
    // The CSI volume is attached (attach/detach controller) before the kubelet starts.
    assert_eq!(
        reasons,
        [
            "Scheduled",
            "SuccessfulAttachVolume",
            "Pulling",
            "Pulled",
            "Created",
            "Started"
        ]
    );
    // Timestamps are virtual: the whole rollout took seconds of tokio time,
    // and object timestamps moved with it, not with the wall clock.
    let p = pods.get("web-2").await?;
    let created = p.creation_timestamp().unwrap().0;
    let first = pods.get("web-0").await?.creation_timestamp().unwrap().0;
    assert!(
        created > first,
        "web-2 ({created}) must be created after web-0 ({first})"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn image_change_rolls_two_one_zero_and_revisions_converge() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let _faker = env.status_faker().start();
    let sts = env.apply(statefulset("db", 3, "db:v1")).await?;
    let before = wait_converged(&env, &sts, 3).await?;
    let old_rev = before.status.unwrap().current_revision.unwrap();

    let pods: Api<Pod> = env.api();
    let mut uids = Vec::new();
    for i in 0..3 {
        uids.push(pods.get(&format!("db-{i}")).await?.uid().unwrap());
    }
    env.patch(&sts, json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:v2"}]}}}}))
        .await?;
    // Record the order in which ordinals get a new pod.
    let mut order: Vec<usize> = Vec::new();
    let t0 = tokio::time::Instant::now();
    while order.len() < 3 {
        for (i, uid) in uids.iter().enumerate() {
            let now = pods.get_opt(&format!("db-{i}")).await?;
            if now.is_none_or(|p| p.uid().as_ref() != Some(uid)) && !order.contains(&i) {
                order.push(i);
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "rollout stalled: replaced {order:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(order, [2, 1, 0]);
    let after = wait_converged(&env, &sts, 3).await?;
    let st = after.status.unwrap();
    assert_ne!(st.current_revision.as_deref(), Some(old_rev.as_str()));
    assert_eq!(st.current_revision, st.update_revision);
    for i in 0..3 {
        let p = pods.get(&format!("db-{i}")).await?;
        assert_eq!(
            p.status.unwrap().container_statuses.unwrap()[0].image,
            "db:v2"
        );
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn pause_holds_status_exactly_and_resume_converges() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let faker = env.status_faker().start();
    let sts = env.apply(statefulset("db", 3, "db:v1")).await?;
    wait_converged(&env, &sts, 3).await?;

    faker.pause();
    let patched = env
        .patch(&sts, json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:v2"}]}}}}))
        .await?;
    let held = env.get(&sts).fetch().await?.status.unwrap();
    // Consistently for 10 s: the status never moves, observedGeneration lags.
    consistently(env.get(&sts))
        .for_(10.s())
        .every(500.ms())
        .should(all_of![
            field("status", eq(&held)),
            field("status.readyReplicas", eq(3)),
        ])
        .await?;
    assert_ne!(held.observed_generation, patched.metadata.generation);

    faker.resume();
    let s = eventually(env.get(&sts))
        .within(60.s())
        .should(all_of![
            field("status.observedGeneration", eq(patched.metadata.generation)),
            field("status.updatedReplicas", eq(3)),
            field("status.readyReplicas", eq(3)),
        ])
        .await?;
    let st = s.status.unwrap();
    assert_eq!(st.current_revision, st.update_revision);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn image_pull_failure_looks_like_a_real_cluster() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let faker = env.status_faker().start();
    faker.fail_image_pulls("registry.example/db:bad*");
    let sts = env
        .apply(statefulset("db", 1, "registry.example/db:bad-tag"))
        .await?;
    let pods: Api<Pod> = env.api();
    eventually(|| pods.get_opt("db-0"))
        .within(30.s())
        .should(field(
            "status.containerStatuses[0].state.waiting.reason",
            eq("ImagePullBackOff"),
        ))
        .await?;
    let evs = events_for(&env, "db-0").await?;
    assert!(
        evs.contains(&(
            "Warning".into(),
            "Failed".into(),
            "Error: ErrImagePull".into()
        )),
        "{evs:?}"
    );
    assert!(
        evs.iter()
            .any(|e| e.1 == "BackOff" && e.2.contains("registry.example/db:bad-tag")),
        "{evs:?}"
    );
    let s = env.get(&sts).fetch().await?.status.unwrap();
    // ReadyReplicas is `omitempty` (apps/v1 types.go): none ready is absent.
    assert_eq!((s.replicas, s.ready_replicas), (1, None));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn pvc_that_never_binds_stays_pending_with_provisioning_failed() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let faker = env.status_faker().start();
    faker.never_bind("data-db-*");
    env.apply(statefulset("db", 1, "db:v1")).await?;
    let pvcs: Api<PersistentVolumeClaim> = env.api();
    eventually(|| async {
        let evs = events_for(&env, "data-db-0").await?;
        anyhow::Ok(evs.into_iter().map(|e| e.1).collect::<Vec<_>>())
    })
    .describe("event reasons for PVC data-db-0")
    .within(30.s())
    .should(contains("ProvisioningFailed"))
    .await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        pvcs.get("data-db-0")
            .await?
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
    let evs = events_for(&env, "db-0").await?;
    assert!(
        evs.iter().any(|e| e.1 == "FailedScheduling"
            && e.2.contains("unbound immediate PersistentVolumeClaims")),
        "{evs:?}"
    );
    let pod: Pod = env.api().get("db-0").await?;
    assert!(pod.spec.unwrap().node_name.is_none());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn slow_readiness_and_node_not_ready() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let faker = env.status_faker().start();
    faker.slow_readiness("app=db", Duration::from_secs(30));
    let sts = env.apply(statefulset("db", 1, "db:v1")).await?;
    let t0 = tokio::time::Instant::now();
    wait_converged(&env, &sts, 1).await?;
    assert!(
        t0.elapsed() >= Duration::from_secs(30),
        "ready after {:?}",
        t0.elapsed()
    );

    let pod: Pod = env.api().get("db-0").await?;
    let node = pod.spec.unwrap().node_name.unwrap();
    faker.node_not_ready(&node);
    let nodes: Api<Node> = Api::all(env.client());
    eventually(|| nodes.get(&node))
        .within(10.s())
        .should(condition("Ready", "Unknown"))
        .await?;
    eventually(env.get(&sts))
        .within(10.s())
        .should(field("status.readyReplicas", zero()))
        .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn disk_usage_is_served_by_the_kubelet_summary() -> Result<()> {
    let env = TestEnv::embedded().await?;
    // A claim grows only through a class that allows it; this default one
    // is what the claim template's claim gets (DefaultStorageClass).
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "expandable",
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "faker.csi.kube-harness.io", "allowVolumeExpansion": true,
    }))?;
    Api::all(env.client())
        .create(&Default::default(), &class)
        .await?;
    let faker = env.status_faker().start();
    let sts = env.apply(statefulset("db", 1, "db:v1")).await?;
    wait_converged(&env, &sts, 1).await?;
    faker.set_disk_usage("data-db-0", 700 << 20);
    let pvcs: Api<PersistentVolumeClaim> = env.api();
    // Online expansion: capacity follows the request.
    let pvc = pvcs.get("data-db-0").await?;
    env.patch(
        &pvc,
        json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
    )
    .await?;
    eventually(|| pvcs.get("data-db-0"))
        .within(30.s())
        .should(field("status.capacity.storage", eq("2Gi")))
        .await?;

    // The kubelet's summary API through the node proxy, as metrics-server
    // and volume autoresizers read it: usage as set, capacity as grown.
    let pods: Api<Pod> = env.api();
    let node = pods
        .get("db-0")
        .await?
        .spec
        .and_then(|s| s.node_name)
        .context("db-0 placed")?;
    let uri = format!("/api/v1/nodes/{node}/proxy/stats/summary");
    let summary: serde_json::Value = env
        .client()
        .request(http::Request::get(&uri).body(Vec::new())?)
        .await?;
    let pod = summary["pods"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["podRef"]["name"] == "db-0"))
        .context("db-0 in its node's summary")?;
    let volume = &pod["volume"][0];
    assert_eq!(
        volume["pvcRef"],
        json!({"name": "data-db-0", "namespace": env.namespace()})
    );
    assert_eq!(volume["usedBytes"], 700u64 << 20);
    assert_eq!(volume["capacityBytes"], 2u64 << 30);
    assert_eq!(volume["availableBytes"], (2u64 << 30) - (700u64 << 20));

    // A disk that fills: 1 MiB per second of virtual time, then faster than
    // the volume holds, where a filesystem reports it full.
    let read = |summary: serde_json::Value| -> serde_json::Value {
        summary["pods"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["podRef"]["name"] == "db-0"))
            .map(|p| p["volume"][0].clone())
            .unwrap_or_default()
    };
    faker.fill_disk("data-db-0", 1 << 20);
    tokio::time::sleep(Duration::from_secs(100)).await;
    let volume = read(
        env.client()
            .request(http::Request::get(&uri).body(Vec::new())?)
            .await?,
    );
    let used = volume["usedBytes"].as_u64().context("usedBytes")?;
    assert!((800u64 << 20..=801u64 << 20).contains(&used), "{volume}");
    faker.fill_disk("data-db-0", 1 << 30);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let volume = read(
        env.client()
            .request(http::Request::get(&uri).body(Vec::new())?)
            .await?,
    );
    assert_eq!(volume["usedBytes"], 2u64 << 30, "{volume}");
    assert_eq!(volume["availableBytes"], 0);

    let other = format!("/api/v1/nodes/{node}/proxy/metrics");
    let err = env
        .client()
        .request_text(http::Request::get(&other).body(Vec::new())?)
        .await;
    assert!(err.is_err(), "only the summary is played: {err:?}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn deleted_pod_is_replaced_after_its_grace_period() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let faker = env.status_faker().start();
    faker.ignore_sigterm("app=db");
    let sts = env.apply(statefulset("db", 1, "db:v1")).await?;
    wait_converged(&env, &sts, 1).await?;
    let r = disruption::delete_pod(&env, "db-0", Duration::from_secs(120)).await?;
    assert_ne!(r.old_uid, r.new_uid);
    // terminationGracePeriodSeconds: 30, container ignores SIGTERM.
    assert!(r.terminated_after >= Duration::from_secs(30), "{r:?}");
    assert!(r.terminated_after < Duration::from_secs(32), "{r:?}");
    wait_converged(&env, &sts, 1).await?;
    let evs = events_for(&env, "db-0").await?;
    assert!(
        evs.iter()
            .any(|e| e.1 == "Killing" && e.2 == "Stopping container main"),
        "{evs:?}"
    );
    Ok(())
}

async fn two_pods_and_a_budget(
    env: &TestEnv,
    min_available: i32,
) -> Result<(StatefulSet, PodDisruptionBudget)> {
    let sts = env.apply(statefulset("db", 2, "db:v1")).await?;
    wait_converged(env, &sts, 2).await?;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": {"app": "db"}}},
    }))?;
    let pdb = env.apply(pdb).await?;
    let allowed = eventually(env.get(&pdb))
        .within(10.s())
        .should(field("status.currentHealthy", eq(2)))
        .await?
        .status
        .context("`currentHealthy` matched, so the budget has a status")?
        .disruptions_allowed;
    assert_eq!(
        allowed,
        2 - min_available,
        "disruptionsAllowed as the disruption controller computes it"
    );
    Ok((sts, pdb))
}

/// kube-apiserver's eviction REST handler answers 429 TooManyRequests with
/// "Cannot evict pod as it would violate the pod's disruption budget." when
/// the budget's status.disruptionsAllowed is 0 (pkg/registry/core/pod/storage/eviction.go).
/// The faker keeps that status current; the check itself belongs to the server.
#[tokio::test(start_paused = true)]
async fn eviction_blocked_by_a_budget_answers_429() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let _faker = env.status_faker().start();
    two_pods_and_a_budget(&env, 2).await?;
    match disruption::evict(&env.client(), env.namespace(), "db-0").await {
        Err(disruption::DisruptionError::EvictionBlocked { message, .. }) => {
            assert!(message.contains("disruption budget"), "{message}")
        }
        other => bail!("eviction with disruptionsAllowed=0 must answer 429, got {other:?}"),
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn drain_moves_pods_to_other_nodes() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let _faker = env.status_faker().start();
    let (sts, _pdb) = two_pods_and_a_budget(&env, 1).await?;
    let pod: Pod = env.api().get("db-0").await?;
    let node = pod.spec.unwrap().node_name.unwrap();
    let report = disruption::drain_node(&env.client(), &node, Duration::from_secs(60)).await?;
    assert!(
        report.evicted.iter().any(|p| p.ends_with("/db-0")),
        "{report:?}"
    );
    let n: Node = Api::all(env.client()).get(&node).await?;
    assert_eq!(
        n.spec.unwrap().unschedulable,
        Some(true),
        "drain cordons first"
    );
    let s = wait_converged(&env, &sts, 2).await?;
    assert_eq!(s.status.unwrap().ready_replicas, Some(2));
    let moved: Pod = env.api().get("db-0").await?;
    assert_ne!(moved.spec.unwrap().node_name.unwrap(), node);
    Ok(())
}
