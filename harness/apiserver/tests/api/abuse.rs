//! Requests that would take a naive server down get a clear 4xx, or are
//! served, and the server keeps serving: deeply nested JSON (a 400 at
//! serde_json's recursion limit of 128 levels, far beyond any Kubernetes
//! object), a selector of 10,000 terms, a body beyond the limit (413, in
//! errors.rs), and garbage in the parameters a list or watch reads.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::common::server;

async fn send(client: &kube::Client, req: http::Request<kube::client::Body>) -> (u16, String) {
    let resp = client.send(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn still_serving(api: &Api<ConfigMap>) {
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "alive-"}})).unwrap();
    api.create(&PostParams::default(), &cm)
        .await
        .expect("the server still serves writes");
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let (_server, client) = server().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let depth = 100_000;
    let body = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"deep"}},"x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let req = http::Request::post("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .body(kube::client::Body::from(body.into_bytes()))
        .unwrap();
    let (status, body) = send(&client, req).await;
    assert_eq!(status, 400, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["reason"], "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit exceeded"),
        "{status}"
    );
    still_serving(&api).await;
}

#[tokio::test]
async fn a_selector_of_ten_thousand_terms_is_answered_and_the_server_goes_on() {
    let (_server, client) = server().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    still_serving(&api).await;
    let labelled: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "labelled", "labels": {"k": "v"}}}))
            .unwrap();
    api.create(&PostParams::default(), &labelled).await.unwrap();
    // The longest URI the `http` crate builds is 64 KiB: short terms, and
    // commas left unencoded (kube-rs would encode each as `%2C`).
    let list = |term: &str| {
        http::Request::get(format!(
            "/api/v1/namespaces/default/configmaps?labelSelector={}",
            vec![term; 10_000].join(",")
        ))
        .body(kube::client::Body::empty())
        .unwrap()
    };
    let (status, body) = send(&client, list("k")).await;
    assert_eq!(status, 200, "a long selector is still a selector");
    let found: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        1,
        "only `labelled`"
    );
    let (status, body) = send(&client, list("-")).await;
    assert_eq!(status, 400, "{}", &body[..body.len().min(300)]);
    still_serving(&api).await;
}

#[tokio::test]
async fn garbage_watch_parameters_are_400s() {
    let (_server, client) = server().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for query in [
        "watch=1&resourceVersion=abc",
        "watch=1&timeoutSeconds=forever",
        "watch=1&labelSelector=a%20in%20(",
        "watch=1&fieldSelector=metadata.uid%3Dx",
        "continue=%00%01",
    ] {
        let req = http::Request::get(format!("/api/v1/namespaces/default/configmaps?{query}"))
            .body(kube::client::Body::empty())
            .unwrap();
        let (status, body) = send(&client, req).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body.contains("\"reason\":\"BadRequest\""),
            "{query}: {body}"
        );
    }
    still_serving(&api).await;
}
