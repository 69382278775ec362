//! The pod subresources schedulers and debuggers write through:
//! `pods/binding` (`BindingREST` in pkg/registry/core/pod/storage/storage.go:
//! node, annotations and `PodScheduled=True` in one write, 201 Success, a
//! Conflict on `pods/binding` for a pod already placed) and
//! `pods/ephemeralcontainers` (`EphemeralContainersREST`, with
//! `dropNonEphemeralContainerUpdates` in pkg/registry/core/pod/strategy.go
//! and `ValidatePodEphemeralContainersUpdate`: additions only), and
//! `pods/resize` (in-place resize of container resources).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{pod, send, server, status};

#[tokio::test]
async fn binding_places_the_pod_once() {
    let (_server, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("web"))
        .await
        .unwrap();
    let bind = |node: &str, kind: &str| {
        json!({
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "web", "annotations": {"scheduler.example/at": "now"}},
            "target": {"kind": kind, "name": node},
        })
    };
    let uri = "/api/v1/namespaces/default/pods/web/binding";
    let (code, _, body) = send(&client, "POST", uri, &bind("node-1", "Node")).await;
    assert_eq!(
        (code, body),
        (
            201,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
        )
    );
    let placed = serde_json::to_value(pods.get("web").await.unwrap()).unwrap();
    assert_eq!(placed["spec"]["nodeName"], "node-1");
    assert_eq!(
        placed["metadata"]["annotations"]["scheduler.example/at"],
        "now"
    );
    let scheduled = &placed["status"]["conditions"][0];
    assert_eq!(
        (&scheduled["type"], &scheduled["status"]),
        (&json!("PodScheduled"), &json!("True"))
    );

    let (code, _, again) = send(&client, "POST", uri, &bind("node-2", "Node")).await;
    assert_eq!(code, 409);
    assert_eq!(
        again["message"],
        "Operation cannot be fulfilled on pods/binding \"web\": pod web is already assigned to node \"node-1\""
    );
    let (code, _, wrong_kind) = send(&client, "POST", uri, &bind("node-2", "Pod")).await;
    assert_eq!(code, 500);
    assert_eq!(
        wrong_kind["message"],
        "target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\""
    );
    let mut renamed = bind("node-2", "Node");
    renamed["metadata"]["name"] = json!("other");
    let (code, _, mismatch) = send(&client, "POST", uri, &renamed).await;
    assert_eq!(
        (code, mismatch["message"].clone()),
        (
            400,
            json!("name in URL does not match name in Binding object")
        )
    );
}

fn with_debugger(name: &str, image: &str) -> Value {
    json!({"spec": {"ephemeralContainers": [{"name": name, "image": image}]}})
}

#[tokio::test]
async fn ephemeral_containers_are_only_added() {
    let (_server, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("web"))
        .await
        .unwrap();
    // kubectl debug's strategic merge patch; the label it also carries is
    // dropped, as everything but ephemeral containers is.
    let mut patch = with_debugger("debugger", "busybox");
    patch["metadata"] = json!({"labels": {"sneaky": "yes"}});
    let patched = pods
        .patch_ephemeral_containers("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let patched = serde_json::to_value(patched).unwrap();
    let debugger = &patched["spec"]["ephemeralContainers"][0];
    assert_eq!(debugger["name"], "debugger");
    // Defaulted as the pod's own containers are (`SetDefaults_Container`).
    assert_eq!(debugger["terminationMessagePolicy"], "File");
    assert_eq!(patched["metadata"]["labels"].get("sneaky"), None);

    let changed = pods
        .patch_ephemeral_containers(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(with_debugger("debugger", "alpine")),
        )
        .await
        .unwrap_err();
    let changed = status(changed);
    assert_eq!(changed.code, 422);
    assert!(
        changed.message.ends_with(
            "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"debugger\" may not be changed\n"
        ),
        "{}",
        changed.message
    );
    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "remove", "path": "/spec/ephemeralContainers/0"}
    ]))
    .unwrap();
    let removed = pods
        .patch_ephemeral_containers("web", &PatchParams::default(), &Patch::Json::<()>(remove))
        .await
        .unwrap_err();
    assert!(
        status(removed).message.ends_with(
            "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"debugger\" may not be removed\n"
        )
    );
    let (code, got) = crate::common::get(
        &client,
        "/api/v1/namespaces/default/pods/web/ephemeralcontainers",
    )
    .await;
    assert_eq!((code, got["kind"].clone()), (200, json!("Pod")));
}

/// A running pod as a 1.33 kubelet reports it: each running container's
/// `resources` says it can be resized in place (`reported: false` plays an
/// older kubelet).
async fn running_pod(pods: &Api<Pod>, name: &str, resources: Value, reported: bool) {
    let mut p = serde_json::to_value(pod(name)).unwrap();
    p["spec"]["containers"][0]["resources"] = resources.clone();
    pods.create(&PostParams::default(), &serde_json::from_value(p).unwrap())
        .await
        .unwrap();
    let mut running = json!({
        "name": "main", "image": "nginx:1.27", "imageID": "", "ready": true,
        "restartCount": 0, "started": true,
        "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
    });
    if reported {
        running["resources"] = resources;
    }
    pods.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "containerStatuses": [running]}})),
    )
    .await
    .unwrap();
}

/// Sends a resize that must be refused; the refusal.
async fn refused_resize(pods: &Api<Pod>, name: &str, patch: &Patch<Value>) -> kube::core::Status {
    let pp = PatchParams::default();
    status(
        pods.patch_subresource("resize", name, &pp, patch)
            .await
            .unwrap_err(),
    )
}

fn resize(resources: Value) -> Patch<Value> {
    Patch::Strategic(json!({"spec": {"containers": [{"name": "main", "resources": resources}]}}))
}

/// `pods/resize` (`ResizeREST` with `podResizeStrategy` in
/// pkg/registry/core/pod/strategy.go, `ValidatePodResize` in
/// pkg/apis/core/validation/validation.go, v1.33): only the containers'
/// resources and resize policies change, generation moves, and what a
/// kubelet could not do in place is refused.
#[tokio::test]
async fn resize_changes_only_resources_within_the_qos_class() {
    let (_server, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let burstable =
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}});
    running_pod(&pods, "web", burstable, true).await;

    let pp = PatchParams::default();
    let body = json!({"spec": {"containers": [{
        "name": "main", "image": "other:2", "resources": {"requests": {"cpu": "200m"}},
    }]}});
    let resized = pods
        .patch_subresource("resize", "web", &pp, &Patch::Strategic(body))
        .await
        .unwrap();
    let c = &resized.spec.as_ref().unwrap().containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("nginx:1.27"),
        "only resources change"
    );
    let requests = c.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["cpu"].0, "200m");
    assert_eq!(requests["memory"].0, "128Mi", "the patch merged");
    assert_eq!(resized.metadata.generation, Some(2));

    let err = refused_resize(
        &pods,
        "web",
        &resize(json!({"limits": {"memory": "200Mi"}})),
    )
    .await;
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Pod \"web\" is invalid: spec.containers[0].resources.limits[memory]: Forbidden: memory limits cannot be decreased unless resizePolicy is RestartContainer"
    );

    // BestEffort may not become Burstable.
    running_pod(&pods, "idle", json!({}), true).await;
    let err = refused_resize(&pods, "idle", &resize(json!({"requests": {"cpu": "1"}}))).await;
    assert_eq!(
        err.message,
        "Pod \"idle\" is invalid: spec: Invalid value: \"BestEffort\": Pod QOS Class may not change as a result of resizing"
    );

    // A kubelet that reports no resources cannot resize.
    running_pod(&pods, "legacy", json!({"requests": {"cpu": "100m"}}), false).await;
    let err = refused_resize(
        &pods,
        "legacy",
        &resize(json!({"requests": {"cpu": "200m"}})),
    )
    .await;
    assert_eq!(
        err.message,
        "Pod \"legacy\" is invalid: spec: Forbidden: Pod running on node without support for resize"
    );

    // Containers are neither added nor removed.
    let add = json!([{"op": "add", "path": "/spec/containers/-", "value": {"name": "two", "image": "x"}}]);
    let err = refused_resize(
        &pods,
        "web",
        &Patch::Json::<Value>(serde_json::from_value(add).unwrap()),
    )
    .await;
    assert_eq!(
        err.message,
        "Pod \"web\" is invalid: spec.containers: Forbidden: containers may not be added or removed on resize"
    );

    // Discovery lists it as kube-apiserver's installer does.
    let (_, list) = crate::common::get(&client, "/api/v1").await;
    let entry = list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/resize")
        .cloned();
    assert_eq!(
        entry,
        Some(
            json!({"name": "pods/resize", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get", "patch", "update"]})
        )
    );
}
