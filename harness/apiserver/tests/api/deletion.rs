//! Deletion: finalizers, grace periods, propagation policies, garbage
//! collection of dependents and namespace termination.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, PostParams, PropagationPolicy, Resource};
use serde_json::json;

use crate::common::{namespace, pod, server, status};

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
}

fn owned_by<K: Resource<DynamicType = ()>>(mut child: ConfigMap, owner: &K) -> ConfigMap {
    let r: OwnerReference = owner.controller_owner_ref(&()).unwrap();
    child.metadata.owner_references = Some(vec![r]);
    child
}

#[tokio::test(start_paused = true)]
async fn finalizers_hold_deletion_until_removed() {
    let (_s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut c = cm("held");
    c.metadata.finalizers = Some(vec!["harness.dev/cleanup".into()]);
    cms.create(&PostParams::default(), &c).await.unwrap();

    let answer = cms.delete("held", &DeleteParams::default()).await.unwrap();
    let pending = answer.left().expect("object still there");
    assert!(pending.metadata.deletion_timestamp.is_some());
    let still = cms.get("held").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());

    let mut adding = still.clone();
    adding
        .metadata
        .finalizers
        .as_mut()
        .unwrap()
        .push("another".into());
    let err = status(
        cms.replace("held", &PostParams::default(), &adding)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.code, 422,
        "no new finalizers while deleting: {}",
        err.message
    );

    let mut released = still;
    released.metadata.finalizers = None;
    cms.replace("held", &PostParams::default(), &released)
        .await
        .unwrap();
    assert_eq!(status(cms.get("held").await.unwrap_err()).code, 404);
}

#[tokio::test(start_paused = true)]
async fn scheduled_pods_wait_out_their_grace_period() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut p = pod("graceful");
    p.spec.as_mut().unwrap().node_name = Some("node-1".into());
    p.spec.as_mut().unwrap().termination_grace_period_seconds = Some(20);
    pods.create(&PostParams::default(), &p).await.unwrap();
    pods.delete("graceful", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = pods.get("graceful").await.unwrap();
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(20));
    tokio::time::sleep(Duration::from_secs(19)).await;
    assert!(
        pods.get("graceful").await.is_ok(),
        "still terminating at 19s"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status(pods.get("graceful").await.unwrap_err()).code, 404);

    // Unscheduled pods and grace 0 go at once.
    pods.create(&PostParams::default(), &pod("unscheduled"))
        .await
        .unwrap();
    pods.delete("unscheduled", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(status(pods.get("unscheduled").await.unwrap_err()).code, 404);
}

#[tokio::test(start_paused = true)]
async fn background_gc_removes_dependents() {
    let (_s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner"))
        .await
        .unwrap();
    let child = cms
        .create(&PostParams::default(), &owned_by(cm("child"), &owner))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &owned_by(cm("grandchild"), &child))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm("bystander"))
        .await
        .unwrap();

    cms.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    for gone in ["owner", "child", "grandchild"] {
        assert_eq!(status(cms.get(gone).await.unwrap_err()).code, 404, "{gone}");
    }
    assert!(cms.get("bystander").await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn foreground_deletion_waits_for_dependents() {
    let (_s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner"))
        .await
        .unwrap();
    let mut blocked = owned_by(cm("blocked"), &owner);
    blocked.metadata.finalizers = Some(vec!["harness.dev/slow".into()]);
    cms.create(&PostParams::default(), &blocked).await.unwrap();

    cms.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let waiting = cms.get("owner").await.unwrap();
    assert!(waiting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        waiting.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
    let child = cms.get("blocked").await.unwrap();
    assert!(
        child.metadata.deletion_timestamp.is_some(),
        "dependent is being deleted"
    );

    let mut release = child;
    release.metadata.finalizers = None;
    cms.replace("blocked", &PostParams::default(), &release)
        .await
        .unwrap();
    assert_eq!(status(cms.get("blocked").await.unwrap_err()).code, 404);
    assert_eq!(
        status(cms.get("owner").await.unwrap_err()).code,
        404,
        "owner goes after its dependents"
    );
}

#[tokio::test(start_paused = true)]
async fn orphan_deletion_keeps_dependents() {
    let (_s, client) = server().await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let owner: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    }))
    .unwrap();
    let owner = sts.create(&PostParams::default(), &owner).await.unwrap();
    cms.create(&PostParams::default(), &owned_by(cm("kept"), &owner))
        .await
        .unwrap();
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..Default::default()
    };
    sts.delete("db", &dp).await.unwrap();
    assert_eq!(status(sts.get("db").await.unwrap_err()).code, 404);
    let kept = cms.get("kept").await.unwrap();
    assert!(
        kept.metadata.owner_references.is_none(),
        "orphaned: owner reference removed"
    );
}

#[tokio::test(start_paused = true)]
async fn namespace_deletion_removes_its_contents() {
    let (_s, client) = server().await;
    namespace(&client, "doomed").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "doomed");
    let nss: Api<Namespace> = Api::all(client.clone());
    cms.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut held = cm("held");
    held.metadata.finalizers = Some(vec!["harness.dev/x".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    pods.create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();

    nss.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let ns = nss.get("doomed").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert_eq!(status(cms.get("a").await.unwrap_err()).code, 404);
    assert_eq!(status(pods.get("p").await.unwrap_err()).code, 404);
    let err = status(
        cms.create(&PostParams::default(), &cm("late"))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));

    let mut h = cms.get("held").await.unwrap();
    h.metadata.finalizers = None;
    cms.replace("held", &PostParams::default(), &h)
        .await
        .unwrap();
    assert_eq!(
        status(nss.get("doomed").await.unwrap_err()).code,
        404,
        "namespace gone once empty"
    );
}

#[tokio::test(start_paused = true)]
async fn finalize_subresource_releases_a_stuck_namespace() {
    let (_s, client) = server().await;
    namespace(&client, "stuck").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "stuck");
    let mut held = cm("held");
    held.metadata.finalizers = Some(vec!["harness.dev/never".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.delete("stuck", &DeleteParams::default()).await.unwrap();
    let ns = nss.get("stuck").await.unwrap();
    assert_eq!(
        ns.spec.as_ref().unwrap().finalizers,
        Some(vec!["kubernetes".to_string()])
    );

    let mut body = serde_json::to_value(&ns).unwrap();
    body["spec"]["finalizers"] = json!([]);
    let (code, _) = crate::common::raw(
        &client,
        "PUT",
        "/api/v1/namespaces/stuck/finalize",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(status(nss.get("stuck").await.unwrap_err()).code, 404);
}
