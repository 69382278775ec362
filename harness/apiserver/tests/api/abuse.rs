//! Requests that would take a naive server down get a clear 4xx, or are
//! served, and the server keeps serving: deeply nested JSON (a 400 at
//! serde_json's recursion limit of 128 levels, far beyond any Kubernetes
//! object), a selector of 10,000 terms, a body beyond the limit (413, in
//! errors.rs), and garbage in the parameters a list or watch reads.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::common::{get, raw, server};

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
    let (code, status) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        body.into_bytes(),
    )
    .await;
    assert_eq!(code, 400, "{status}");
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
        format!(
            "/api/v1/namespaces/default/configmaps?labelSelector={}",
            vec![term; 10_000].join(",")
        )
    };
    let (code, found) = get(&client, &list("k")).await;
    assert_eq!(code, 200, "a long selector is still a selector");
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        1,
        "only `labelled`"
    );
    let (code, body) = get(&client, &list("-")).await;
    let body = body.to_string();
    assert_eq!(code, 400, "{}", &body[..body.len().min(300)]);
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
        let (code, body) = get(
            &client,
            &format!("/api/v1/namespaces/default/configmaps?{query}"),
        )
        .await;
        assert_eq!(code, 400, "{query}: {body}");
        assert_eq!(body["reason"], "BadRequest", "{query}: {body}");
    }
    still_serving(&api).await;
}
