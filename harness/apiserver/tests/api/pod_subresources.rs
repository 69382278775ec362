//! The pod subresources schedulers and debuggers write through:
//! `pods/binding` (`BindingREST` in pkg/registry/core/pod/storage/storage.go:
//! node, annotations and `PodScheduled=True` in one write, 201 Success, a
//! Conflict on `pods/binding` for a pod already placed) and
//! `pods/ephemeralcontainers` (`EphemeralContainersREST`, with
//! `dropNonEphemeralContainerUpdates` in pkg/registry/core/pod/strategy.go
//! and `ValidatePodEphemeralContainersUpdate`: additions only).

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
