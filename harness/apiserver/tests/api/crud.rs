//! Create, get, list, replace, delete with kube-rs `Api<T>`, and the
//! metadata rules a controller relies on.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use crate::common::{namespace, pod, server, status};

#[tokio::test(start_paused = true)]
async fn pod_lifecycle_through_typed_api() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");

    let created = pods
        .create(&PostParams::default(), &pod("web-0"))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert!(
        meta.uid.as_deref().is_some_and(|u| u.len() == 36),
        "uid: {:?}",
        meta.uid
    );
    assert!(meta.creation_timestamp.is_some());
    let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );

    let got = pods.get("web-0").await.unwrap();
    assert_eq!(got.metadata.uid, meta.uid);

    let mut changed = got.clone();
    changed
        .metadata
        .labels
        .get_or_insert_default()
        .insert("tier".into(), "front".into());
    let replaced = pods
        .replace("web-0", &PostParams::default(), &changed)
        .await
        .unwrap();
    let rv2: u64 = replaced
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1, "resourceVersion must grow: {rv1} -> {rv2}");
    assert_eq!(replaced.metadata.uid, meta.uid, "uid survives updates");
    assert_eq!(
        replaced.metadata.creation_timestamp,
        meta.creation_timestamp
    );

    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let list_rv: u64 = list
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(list_rv >= rv2);

    pods.delete("web-0", &DeleteParams::default())
        .await
        .unwrap();
    let gone = status(pods.get("web-0").await.unwrap_err());
    assert_eq!((gone.code, gone.reason.as_str()), (404, "NotFound"));
    assert_eq!(gone.message, "pods \"web-0\" not found");
}

#[tokio::test(start_paused = true)]
async fn duplicate_create_is_already_exists() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &pod("a"))
        .await
        .unwrap();
    let err = status(
        pods.create(&PostParams::default(), &pod("a"))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
}

#[tokio::test(start_paused = true)]
async fn stale_resource_version_is_conflict() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let first = pods
        .create(&PostParams::default(), &pod("a"))
        .await
        .unwrap();
    let mut newer = first.clone();
    newer
        .metadata
        .labels
        .get_or_insert_default()
        .insert("v".into(), "2".into());
    pods.replace("a", &PostParams::default(), &newer)
        .await
        .unwrap();

    let mut stale = first;
    stale
        .metadata
        .labels
        .get_or_insert_default()
        .insert("v".into(), "3".into());
    let err = status(
        pods.replace("a", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(
        err.message.contains("the object has been modified"),
        "{}",
        err.message
    );
    let now = pods.get("a").await.unwrap();
    assert_eq!(
        now.metadata.labels.unwrap()["v"],
        "2",
        "the stale write must not land"
    );
}

#[tokio::test(start_paused = true)]
async fn create_needs_an_existing_namespace() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "nope");
    let err = status(
        pods.create(&PostParams::default(), &pod("a"))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert_eq!(err.message, "namespaces \"nope\" not found");
    namespace(&client, "nope").await;
    pods.create(&PostParams::default(), &pod("a"))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn generate_name_gets_a_random_suffix() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let mut p = pod("");
    p.metadata.name = None;
    p.metadata.generate_name = Some("job-".into());
    let a = pods.create(&PostParams::default(), &p).await.unwrap();
    let b = pods.create(&PostParams::default(), &p).await.unwrap();
    let (a, b) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(a.starts_with("job-") && a.len() == 9, "{a}");
    assert_ne!(a, b);
}

#[tokio::test(start_paused = true)]
async fn dry_run_validates_without_storing() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pp = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let out = pods.create(&pp, &pod("ghost")).await.unwrap();
    assert_eq!(out.metadata.name.as_deref(), Some("ghost"));
    assert_eq!(status(pods.get("ghost").await.unwrap_err()).code, 404);
}
