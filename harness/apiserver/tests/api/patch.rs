//! PATCH through kube-rs: merge, JSON, strategic merge and server-side
//! apply, on the main resource and on `/status` and `/scale`.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::common::{Database, database, install_database_crd, pod, server, status};

#[tokio::test(start_paused = true)]
async fn merge_and_json_patches() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let created = pods
        .create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();

    let merged = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front", "app": null}}})),
        )
        .await
        .unwrap();
    let labels = merged.metadata.labels.unwrap();
    assert_eq!(labels.get("tier").map(String::as_str), Some("front"));
    assert!(!labels.contains_key("app"), "null removes a key");
    assert_ne!(
        merged.metadata.resource_version,
        created.metadata.resource_version
    );

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}}
    ]))
    .unwrap();
    let patched = pods
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(patched.metadata.annotations.unwrap()["note"], "x");

    let failing: json_patch::Patch = serde_json::from_value(
        json!([{"op": "test", "path": "/metadata/labels/tier", "value": "back"}]),
    )
    .unwrap();
    let err = status(
        pods.patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422, "{}", err.message);

    // A resourceVersion inside a patch is a precondition.
    let stale = json!({"metadata": {"resourceVersion": created.metadata.resource_version, "labels": {"x": "y"}}});
    let err = status(
        pods.patch("p", &PatchParams::default(), &Patch::Merge(stale))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));

    let err = status(
        pods.patch("missing", &PatchParams::default(), &Patch::Merge(json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 404);
}

#[tokio::test(start_paused = true)]
async fn strategic_merge_keeps_list_items_by_key() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    pods.create(&PostParams::default(), &pod("p"))
        .await
        .unwrap();
    let patch = json!({"spec": {"containers": [{"name": "sidecar", "image": "envoy:1"}]}});
    let out = pods
        .patch("p", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let names: Vec<String> = out
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["main", "sidecar"], "merged by name, not replaced");
}

#[tokio::test(start_paused = true)]
async fn server_side_apply_creates_owns_and_conflicts() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let desired = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "applied", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "main", "image": "nginx:1"}]}
    });
    let created = pods
        .patch(
            "applied",
            &PatchParams::apply("alice"),
            &Patch::Apply(&desired),
        )
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some(), "apply creates");
    let managers: Vec<String> = created
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(managers, ["alice"]);

    let other = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "applied", "labels": {"app": "db"}},
    });
    let err = status(
        pods.patch("applied", &PatchParams::apply("bob"), &Patch::Apply(&other))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert!(err.message.contains("alice"), "{}", err.message);

    let forced = pods
        .patch(
            "applied",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(&other),
        )
        .await
        .unwrap();
    assert_eq!(forced.metadata.labels.unwrap()["app"], "db");
}

/// A port applied without `protocol` is the live TCP port, keyed by the
/// default: re-applying it neither adds a port nor fails (kubernetes#98576,
/// structured-merge-diff's `keyedAssociativeListItemToPathElement`; the
/// default is `SetDefaults_ContainerPort` in pkg/apis/core/v1/defaults.go).
#[tokio::test(start_paused = true)]
async fn apply_keys_ports_by_the_default_protocol() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let desired = |n: usize| {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "labels": {"n": n.to_string()}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1",
                "ports": [{"containerPort": 8080}]}]}
        })
    };
    for n in 0..3 {
        pods.patch(
            "web",
            &PatchParams::apply("alice"),
            &Patch::Apply(desired(n)),
        )
        .await
        .unwrap();
    }
    let pod = pods.get("web").await.unwrap();
    let ports = pod.spec.unwrap().containers[0].ports.clone().unwrap();
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
    let fields = serde_json::to_value(&pod.metadata.managed_fields.unwrap()[0].fields_v1).unwrap();
    let port = &fields["f:spec"]["f:containers"]["k:{\"name\":\"main\"}"]["f:ports"];
    assert_eq!(
        port,
        &json!({"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}),
    );

    // Dropping the port from the configuration removes the port it owned.
    let mut without = desired(3);
    without["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("ports");
    let pod = pods
        .patch("web", &PatchParams::apply("alice"), &Patch::Apply(without))
        .await
        .unwrap();
    assert_eq!(pod.spec.unwrap().containers[0].ports, None);
}

#[tokio::test(start_paused = true)]
async fn status_and_scale_patches() {
    let (_s, client) = server().await;
    let stss: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    }))
    .unwrap();
    stss.create(&PostParams::default(), &sts).await.unwrap();
    let out = stss
        .patch_status(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 1}, "spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(out.status.unwrap().ready_replicas, Some(1));
    assert_eq!(
        out.spec.unwrap().replicas,
        Some(1),
        "status patch cannot touch spec"
    );

    let out = stss
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 0}})),
        )
        .await
        .unwrap();
    assert_eq!(
        out.status.unwrap().ready_replicas,
        Some(1),
        "main patch cannot touch status"
    );

    let scale = stss
        .patch_scale(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    assert_eq!(
        stss.get("db").await.unwrap().spec.unwrap().replicas,
        Some(4)
    );

    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client, "default");
    dbs.create(&PostParams::default(), &database("orders", 1))
        .await
        .unwrap();
    let merged = dbs
        .patch(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (merged.spec.replicas, merged.metadata.generation),
        (2, Some(2))
    );
    let err = status(
        dbs.patch(
            "orders",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
    let scale = dbs
        .patch_scale(
            "orders",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(5));
    let applied = dbs
        .patch_status(
            "orders",
            &PatchParams::apply("status-writer").force(),
            &Patch::Apply(json!({"apiVersion": "harness.dev/v1", "kind": "Database", "status": {"replicas": 5, "ready": true}})),
        )
        .await
        .unwrap();
    assert!(applied.status.unwrap().ready);
}

#[tokio::test(start_paused = true)]
async fn plain_updates_are_recorded_in_managed_fields() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pp = PostParams {
        field_manager: Some("my-operator".into()),
        ..Default::default()
    };
    let created = pods.create(&pp, &pod("p")).await.unwrap();
    let entry = &created
        .metadata
        .managed_fields
        .as_ref()
        .expect("managedFields recorded")[0];
    assert_eq!(
        (entry.manager.as_deref(), entry.operation.as_deref()),
        (Some("my-operator"), Some("Update"))
    );

    // The apply conflicts with the operator's field and names it.
    let apply = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "other"}}});
    let err = status(
        pods.patch("p", &PatchParams::apply("kubectl"), &Patch::Apply(&apply))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 409);
    assert!(err.message.contains("my-operator"), "{}", err.message);
}
