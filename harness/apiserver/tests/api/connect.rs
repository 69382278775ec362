//! pods/log, exec, attach, portforward and the proxies without a kubelet:
//! what kube-apiserver answers when it cannot reach one, after the same
//! checks in the same order (`pkg/registry/core/pod/strategy.go`
//! `LogLocation` / `streamLocation` / `validateContainer`,
//! `pkg/kubelet/client/kubelet_client.go` `GetConnectionInfo`, apimachinery
//! `util/proxy/upgradeaware.go` and `transport.go`), through kube-rs.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, LogParams};
use serde_json::{Value, json};

use crate::common::{create, get, raw, server};

async fn pod(client: &Client, name: &str, node: Option<&str>, containers: &[&str]) {
    let containers: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "image": "busybox:1.37"}))
        .collect();
    let mut spec = json!({"containers": containers, "initContainers": [{"name": "setup", "image": "busybox:1.37"}]});
    if let Some(node) = node {
        spec["nodeName"] = node.into();
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    create(&pods, json!({"metadata": {"name": name}, "spec": spec})).await;
}

fn api_status(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason, s.message),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn logs_check_the_container_then_the_node_then_the_kubelet() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pod(&client, "pending", None, &["main"]).await;
    pod(&client, "pair", None, &["app", "sidecar"]).await;
    pod(&client, "lost", Some("node-gone"), &["main"]).await;
    pod(&client, "placed", Some("node-1"), &["main"]).await;
    let nodes: Api<Node> = Api::all(client.clone());
    create(
        &nodes,
        json!({"metadata": {"name": "node-1"}, "status": {"addresses": [
            {"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "node-1"}]}}),
    )
    .await;

    // Not scheduled: nothing to stream, 204 and an empty log.
    assert_eq!(
        pods.logs("pending", &LogParams::default()).await.unwrap(),
        ""
    );
    let (code, _) = get(&client, "/api/v1/namespaces/default/pods/pending/log").await;
    assert_eq!(code, 204);

    let err = pods.logs("pair", &LogParams::default()).await.unwrap_err();
    assert_eq!(
        api_status(err),
        (
            400,
            "BadRequest".into(),
            "a container name must be specified for pod pair, choose one of: [setup app sidecar]"
                .into()
        )
    );
    let wrong = LogParams {
        container: Some("db".into()),
        ..LogParams::default()
    };
    let err = pods.logs("pair", &wrong).await.unwrap_err();
    assert_eq!(api_status(err).2, "container db is not valid for pod pair");

    let err = pods.logs("lost", &LogParams::default()).await.unwrap_err();
    assert_eq!(
        api_status(err),
        (
            404,
            "NotFound".into(),
            r#"nodes "node-gone" not found"#.into()
        )
    );

    // Scheduled to a node whose kubelet does not answer: Hostname comes
    // first in the default --kubelet-preferred-address-types.
    let tail = LogParams {
        tail_lines: Some(5),
        ..LogParams::default()
    };
    let err = pods.logs("placed", &tail).await.unwrap_err();
    assert_eq!(
        api_status(err),
        (
            500,
            String::new(),
            r#"Get "https://node-1:10250/containerLogs/default/placed/main?tailLines=5": dial tcp node-1:10250: connect: connection refused"#
                .into()
        )
    );
}

#[tokio::test]
async fn exec_and_proxies_fail_as_without_a_reachable_backend() {
    let (_s, client) = server().await;
    pod(&client, "pending", None, &["main"]).await;
    pod(&client, "placed", Some("node-1"), &["main"]).await;
    let nodes: Api<Node> = Api::all(client.clone());
    create(
        &nodes,
        json!({"metadata": {"name": "node-1"}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}}),
    )
    .await;
    let exec = "/api/v1/namespaces/default/pods/pending/exec?command=ls&container=main";
    let (code, status) = raw(&client, "POST", exec, "application/json", vec![]).await;
    assert_eq!(
        (code, &status["message"]),
        (400, &json!("pod pending does not have a host assigned"))
    );
    let exec = "/api/v1/namespaces/default/pods/placed/exec?command=ls";
    let (code, status) = raw(&client, "POST", exec, "application/json", vec![]).await;
    assert_eq!(
        (code, &status["message"]),
        (400, &json!("Upgrade request required"))
    );

    let (code, status) = get(&client, "/api/v1/nodes/node-1/proxy/stats/summary").await;
    assert_eq!(code, 503);
    assert_eq!(status["reason"], "ServiceUnavailable");
    assert_eq!(
        status["message"],
        "error trying to reach service: dial tcp 10.0.0.5:10250: connect: connection refused"
    );
    // A service's proxy reads its Endpoints first.
    let (code, status) = get(&client, "/api/v1/namespaces/default/services/web:80/proxy/").await;
    assert_eq!(
        (code, &status["message"]),
        (404, &json!(r#"endpoints "web" not found"#))
    );

    // Discovery lists them with upstream's kinds and verbs.
    let (_, core) = get(&client, "/api/v1").await;
    let find = |name: &str| {
        core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(find("pods/log")["verbs"], json!(["get"]));
    assert_eq!(find("pods/exec")["kind"], "PodExecOptions");
    assert_eq!(
        find("nodes/proxy")["verbs"],
        json!(["create", "delete", "get", "patch", "update"])
    );
    assert_eq!(find("namespaces/finalize")["verbs"], json!(["update"]));
}

/// A kubelet the test plays answers `nodes/{name}/proxy/...`: it gets the
/// path after `/proxy` with the query, as kube-apiserver forwards it
/// (`pkg/registry/core/node/rest/proxy.go`), and its answer reaches the
/// client unchanged; a node without one still answers as unreachable, and
/// an unknown node is a 404.
#[tokio::test]
async fn a_played_kubelet_answers_the_node_proxy() {
    let (s, client) = server().await;
    let nodes: Api<Node> = Api::all(client.clone());
    for name in ["node-1", "node-2"] {
        create(
            &nodes,
            json!({"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.5"}]}}),
        )
        .await;
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    s.serve_node_proxy("node-1", move |request: http::Request<bytes::Bytes>| {
        log.lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri()));
        async move {
            let summary = json!({"node": {"nodeName": "node-1"}, "pods": [{
                "podRef": {"name": "db-0", "namespace": "default"},
                "volume": [{"name": "data", "pvcRef": {"name": "data-db-0", "namespace": "default"},
                            "usedBytes": 734003200u64, "capacityBytes": 1073741824u64}]
            }]});
            http::Response::builder()
                .header("content-type", "application/json")
                .body(bytes::Bytes::from(summary.to_string()))
                .unwrap()
        }
    });

    // kube-rs, as an autoresizer or metrics-server reads it.
    let request =
        http::Request::get("/api/v1/nodes/node-1/proxy/stats/summary?only_cpu_and_memory=false")
            .body(Vec::new())
            .unwrap();
    let summary: Value = client.request(request).await.expect("proxied");
    assert_eq!(summary["pods"][0]["volume"][0]["usedBytes"], 734003200u64);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["GET /stats/summary?only_cpu_and_memory=false"]
    );
    let (code, _) = get(&client, "/api/v1/nodes/https:node-1:10250/proxy/").await;
    assert_eq!(code, 200, "scheme:name:port names the node too");
    assert_eq!(seen.lock().unwrap().last().unwrap(), "GET /");

    let (code, status) = get(&client, "/api/v1/nodes/node-2/proxy/stats/summary").await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    let (code, status) = get(&client, "/api/v1/nodes/node-9/proxy/stats/summary").await;
    assert_eq!(
        (code, status["message"].as_str()),
        (404, Some("nodes \"node-9\" not found"))
    );
}
