//! Unknown and empty fields of built-in kinds, as Go's decoding into the
//! type leaves them: unknown fields dropped (refused under
//! `fieldValidation=Strict`), `omitempty` zero values dropped.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::common::{raw, send, server};

fn deployment(extra: serde_json::Value) -> serde_json::Value {
    let mut d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "args": []}]}
            }
        }
    });
    if let (Some(spec), Some(extra)) = (d["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    d
}

/// Without `fieldValidation` (kube-rs, client-go) the default is Warn: the
/// field is dropped and named in a Warning header, `unknown field "path"`
/// (apiserver `pkg/endpoints/handlers/rest.go` adds each strict decoding
/// error as a warning); `Ignore` drops it silently.
#[tokio::test]
async fn unknown_fields_are_warned_of_by_default_and_ignored_on_request() {
    let (_s, client) = server().await;
    let body = deployment(json!({"replica": 3, "paused": false, "colour": "red"}));
    let uri = "/apis/apps/v1/namespaces/default/deployments";
    let (code, warnings, created) = send(&client, "POST", uri, &body).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        warnings,
        [
            r#"299 - "unknown field \"spec.replica\"""#,
            r#"299 - "unknown field \"spec.colour\"""#
        ]
    );
    assert_eq!(created["spec"].get("colour"), None);

    let mut again = body.clone();
    again["metadata"]["name"] = json!("web2");
    let (code, warnings, _) = send(
        &client,
        "POST",
        &format!("{uri}?fieldValidation=Ignore"),
        &again,
    )
    .await;
    assert_eq!(code, 201);
    assert!(warnings.is_empty(), "{warnings:?}");
}

/// Strict: `transformDecodeError` over sigs.k8s.io/json's strict error
/// (apiserver `pkg/endpoints/handlers/create.go` and `rest.go`).
#[tokio::test]
async fn strict_refuses_unknown_fields_of_builtin_kinds() {
    let (_s, client) = server().await;
    let body = serde_json::to_vec(&deployment(json!({"replica": 3}))).unwrap();
    let uri = "/apis/apps/v1/namespaces/default/deployments?fieldValidation=Strict";
    let (code, status) = raw(&client, "POST", uri, "application/json", body.clone()).await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        r#"Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica""#
    );

    // Without Strict the field is dropped and the write goes through.
    let uri = "/apis/apps/v1/namespaces/default/deployments";
    let (code, created) = raw(&client, "POST", uri, "application/json", body).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["spec"].get("replica"), None);
    assert_eq!(
        created["spec"]["replicas"], 0,
        "a pointer's zero is a value"
    );
    assert_eq!(
        created["metadata"].get("labels"),
        None,
        "empty labels are omitempty"
    );
    let container = &created["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container.get("args"), None, "{container}");

    // Server-side apply types the configuration first (structured-merge-
    // diff), whatever fieldValidation says: a 500 without a reason, from
    // apimachinery's managedfields/internal/structuredmerge.go.
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let patch = deployment(json!({"template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "colour": "red"}]}
    }}));
    let err = api
        .patch(
            "web",
            &PatchParams::apply("test").force(),
            &Patch::Apply(&patch),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!((status.code, status.reason.as_str()), (500, ""));
    assert_eq!(
        status.message,
        r#"failed to create typed patch object (/web; apps/v1, Kind=Deployment): .spec.template.spec.containers[name="app"].colour: field not declared in schema"#
    );
}

/// Repeated keys: sigs.k8s.io/json's strict decoder keeps the last and
/// reports `duplicate field "<path>"` (its `kubernetes_patch.go`), which
/// Strict refuses like an unknown field and Warn sends as a warning.
#[tokio::test]
async fn repeated_keys_are_refused_under_strict_and_warned_about_otherwise() {
    let (_s, client) = server().await;
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"b"},"data":{"k":"1","k":"2"}}"#;
    let uri = "/api/v1/namespaces/default/configmaps";
    let (code, status) = raw(
        &client,
        "POST",
        &format!("{uri}?fieldValidation=Strict"),
        "application/json",
        body.to_vec(),
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        r#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name", duplicate field "data.k""#
    );

    let req = http::Request::post(uri)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body.to_vec()))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status(), 201);
    let warnings: Vec<String> = resp
        .headers()
        .get_all(http::header::WARNING)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        warnings,
        [
            r#"299 - "duplicate field \"metadata.name\"""#,
            r#"299 - "duplicate field \"data.k\"""#
        ]
    );
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client, "default");
    let cm = api.get("b").await.expect("the last name wins");
    assert_eq!(cm.data.unwrap()["k"], "2");
}
