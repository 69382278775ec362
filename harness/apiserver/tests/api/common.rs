//! Shared fixtures: a fresh server per test, and small object builders.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, PostParams};
use kube_harness_apiserver::ApiServer;
use serde_json::json;

pub(crate) async fn server() -> (ApiServer, Client) {
    let server = ApiServer::start().await.expect("server starts");
    let client = server.client();
    (server, client)
}

/// A server on a clock that follows tokio's (paused) time from
/// 2026-01-01T00:00:00Z, so ages and timestamps are exact.
pub(crate) async fn server_on_tokio_time() -> ApiServer {
    let clock = kube_harness_apiserver::TokioClock::new("2026-01-01T00:00:00Z".parse().unwrap());
    ApiServer::builder()
        .clock(clock)
        .start()
        .await
        .expect("server starts")
}

pub(crate) fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}
    }))
    .expect("valid pod")
}

pub(crate) async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");
}

/// The `Status` of a failed call, for asserting reason and code.
pub(crate) fn status(err: kube::Error) -> kube::core::Status {
    match err {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error Status, got {other:?}"),
    }
}

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResource, CustomResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The custom resource the tests use: namespaced, with status and scale
/// subresources, a printer column and a short name.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "harness.dev",
    version = "v1",
    kind = "Database",
    namespaced,
    status = "DatabaseStatus",
    shortname = "hdb",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "boolean", json_path = ".status.ready")
)]
pub(crate) struct DatabaseSpec {
    pub replicas: i32,
    pub version: String,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub(crate) struct DatabaseStatus {
    pub replicas: i32,
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

pub(crate) fn database(name: &str, replicas: i32) -> Database {
    Database::new(
        name,
        DatabaseSpec {
            replicas,
            version: "16".into(),
        },
    )
}

/// Creates the Database CRD through the API and waits until it is served.
pub(crate) async fn install_database_crd(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Database::crd())
        .await
        .expect("CRD accepted");
    let established = kube::runtime::wait::await_condition(
        crds,
        "databases.harness.dev",
        kube::runtime::conditions::is_crd_established(),
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), established)
        .await
        .expect("CRD established in time")
        .expect("watch works");
}

/// Sends a raw request and returns the status code and decoded body.
pub(crate) async fn raw(
    client: &Client,
    method: &str,
    uri: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(kube::client::Body::from(body))
        .unwrap();
    let resp = client.send(req).await.expect("transport works");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (code, value)
}

/// A raw GET of `uri`: its status code and decoded body (an empty body
/// reads as the empty string).
pub(crate) async fn get(client: &Client, uri: &str) -> (u16, serde_json::Value) {
    raw(client, "GET", uri, "application/json", Vec::new()).await
}

/// Creates `body` through kube-rs's typed Api and returns what was stored.
pub(crate) async fn create<K>(api: &kube::Api<K>, body: serde_json::Value) -> serde_json::Value
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(body).unwrap();
    let created = api
        .create(&kube::api::PostParams::default(), &obj)
        .await
        .unwrap();
    serde_json::to_value(created).unwrap()
}

/// A request's status, Warning headers and body.
pub(crate) async fn send(
    client: &Client,
    method: &str,
    uri: &str,
    body: &serde_json::Value,
) -> (u16, Vec<String>, serde_json::Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let resp = client.send(req).await.expect("transport works");
    let code = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all(http::header::WARNING)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    use http_body_util::BodyExt;
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, warnings, serde_json::from_slice(&bytes).unwrap())
}

/// A JSON POST with extra headers (impersonation, a bearer token): its
/// status code and decoded body (null when it is not JSON).
pub(crate) async fn post_with_headers(
    client: &Client,
    uri: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use http_body_util::BodyExt;
    let mut req = http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(kube::client::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let resp = client.send(req).await.expect("transport works");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        code,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}
