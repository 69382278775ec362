//! `/status` and `/scale`, and what moves `metadata.generation`.

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::common::{server, status};

fn sts(name: &str, replicas: i32) -> StatefulSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}
            }
        }
    }))
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn status_and_main_writes_stay_apart() {
    let (_s, client) = server().await;
    let api: Api<StatefulSet> = Api::namespaced(client, "default");
    let mut seeded = sts("db", 3);
    seeded.status = Some(serde_json::from_value(json!({"replicas": 99})).unwrap());
    let created = api.create(&PostParams::default(), &seeded).await.unwrap();
    assert_eq!(
        created.status.as_ref().unwrap().replicas,
        0,
        "create cannot set status"
    );

    // A status write changes status only, not spec, and not generation.
    let mut with_status = created.clone();
    with_status.spec.as_mut().unwrap().replicas = Some(7);
    with_status.status.as_mut().unwrap().ready_replicas = Some(2);
    let after_status = api
        .replace_status("db", &PostParams::default(), &with_status)
        .await
        .unwrap();
    assert_eq!(
        after_status.status.as_ref().unwrap().ready_replicas,
        Some(2)
    );
    assert_eq!(after_status.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(after_status.metadata.generation, Some(1));

    // A main write changes spec, not status, and bumps generation.
    let mut main = after_status.clone();
    main.spec.as_mut().unwrap().replicas = Some(5);
    main.status.as_mut().unwrap().ready_replicas = Some(0);
    let after_main = api
        .replace("db", &PostParams::default(), &main)
        .await
        .unwrap();
    assert_eq!(after_main.spec.as_ref().unwrap().replicas, Some(5));
    assert_eq!(after_main.status.as_ref().unwrap().ready_replicas, Some(2));
    assert_eq!(after_main.metadata.generation, Some(2));

    // Metadata-only changes do not bump generation.
    let mut labelled = after_main.clone();
    labelled.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let after_label = api
        .replace("db", &PostParams::default(), &labelled)
        .await
        .unwrap();
    assert_eq!(after_label.metadata.generation, Some(2));
    assert_ne!(
        after_label.metadata.resource_version,
        after_main.metadata.resource_version
    );

    // Writing the same object again is a no-op: same resourceVersion.
    let again = api
        .replace("db", &PostParams::default(), &after_label)
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        after_label.metadata.resource_version
    );
}

#[tokio::test(start_paused = true)]
async fn statefulset_scale_subresource() {
    let (_s, client) = server().await;
    let api: Api<StatefulSet> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &sts("web", 2))
        .await
        .unwrap();
    let scale = api.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(2));
    assert_eq!(
        scale.status.as_ref().unwrap().selector.as_deref(),
        Some("app=web")
    );

    let mut wanted = scale.clone();
    wanted.spec.as_mut().unwrap().replicas = Some(5);
    let out = api
        .replace_scale("web", &PostParams::default(), &wanted)
        .await
        .unwrap();
    assert_eq!(out.spec.unwrap().replicas, Some(5));
    let sts = api.get("web").await.unwrap();
    assert_eq!(sts.spec.unwrap().replicas, Some(5));
    assert_eq!(sts.metadata.generation, Some(2));

    // The Scale's resourceVersion is a precondition like any other.
    let err = status(
        api.replace_scale("web", &PostParams::default(), &wanted)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
}

#[tokio::test(start_paused = true)]
async fn statefulset_spec_is_mostly_immutable() {
    let (_s, client) = server().await;
    let api: Api<StatefulSet> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &sts("db", 1))
        .await
        .unwrap();
    let mut changed = created.clone();
    changed.spec.as_mut().unwrap().service_name = Some("other".into());
    let err = status(
        api.replace("db", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message
            .contains("updates to statefulset spec for fields other than"),
        "{}",
        err.message
    );
}
