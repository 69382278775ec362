//! What `kubectl get` and discovery clients ask for: Tables (lists and
//! watches), metadata-only lists, aggregated discovery, `/version`.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use serde_json::Value;

use crate::common::{pod, server};

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

async fn get(client: &kube::Client, uri: &str, accept: &str) -> (String, Value) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .uri(uri)
        .header("accept", accept)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (ct, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(start_paused = true)]
async fn pod_tables_look_like_kubectl_get() {
    // Ages come from the server's clock; make it follow paused time.
    let server = crate::common::server_on_tokio_time().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut p = pod("web-0");
    p.spec.as_mut().unwrap().node_name = Some("node-1".into());
    pods.create(&PostParams::default(), &p).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(90)).await;

    let (_, table) = get(&client, "/api/v1/namespaces/default/pods?limit=500", TABLE).await;
    assert_eq!(table["kind"], "Table");
    let names: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"]
    );
    assert_eq!(
        table["rows"][0]["cells"],
        serde_json::json!(["web-0", "0/1", "Pending", 0, "90s", "<none>", "node-1"])
    );
    assert_eq!(table["rows"][0]["object"]["metadata"]["name"], "web-0");
    assert!(table["metadata"]["resourceVersion"].is_string());

    let (_, one) = get(
        &client,
        "/api/v1/namespaces/default/pods/web-0?includeObject=Object",
        TABLE,
    )
    .await;
    assert_eq!(one["rows"][0]["object"]["kind"], "Pod");
}

#[tokio::test(start_paused = true)]
async fn table_watch_streams_one_row_tables() {
    use http_body_util::BodyExt;
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("a"))
        .await
        .unwrap();
    let req = http::Request::builder()
        .uri("/api/v1/namespaces/default/pods?watch=true&resourceVersion=0&timeoutSeconds=5")
        .header("accept", TABLE)
        .body(kube::client::Body::empty())
        .unwrap();
    let body = client
        .send(req)
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let lines: Vec<Value> = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(lines[0]["object"]["kind"], "Table");
    assert_eq!(lines[0]["object"]["rows"][0]["cells"][0], "a");
}

#[tokio::test(start_paused = true)]
async fn metadata_only_lists() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("a"))
        .await
        .unwrap();
    let list = pods.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("a"));
    let meta: Api<kube::core::PartialObjectMeta<Pod>> = Api::namespaced(client, "default");
    let mut w = kube::runtime::watcher(meta, kube::runtime::watcher::Config::default()).boxed();
    assert!(matches!(
        w.next().await,
        Some(Ok(kube::runtime::watcher::Event::Init))
    ));
}

#[tokio::test(start_paused = true)]
async fn aggregated_discovery_and_version() {
    let (_s, client) = server().await;
    let v2 =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (ct, apis) = get(&client, "/apis", v2).await;
    assert!(ct.contains("as=APIGroupDiscoveryList"), "{ct}");
    assert_eq!(apis["kind"], "APIGroupDiscoveryList");
    let apps = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "apps")
        .unwrap();
    let sts = apps["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "statefulsets")
        .unwrap();
    assert_eq!(sts["scope"], "Namespaced");
    assert_eq!(sts["shortNames"], serde_json::json!(["sts"]));
    let subs: Vec<&str> = sts["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subresource"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["status", "scale"]);
    let (_, core) = get(&client, "/api", v2).await;
    assert_eq!(core["items"][0]["metadata"]["name"], "");

    // Plain JSON when the client does not ask for aggregated discovery.
    let (ct, legacy) = get(&client, "/apis", "application/json").await;
    assert_eq!(
        (ct.as_str(), legacy["kind"].as_str()),
        ("application/json", Some("APIGroupList"))
    );

    let info = client.apiserver_version().await.unwrap();
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
}
