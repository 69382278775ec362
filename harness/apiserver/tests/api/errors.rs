//! Bad input: every refusal is a `Status` with the real reason and code,
//! and the server keeps serving afterwards.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

use crate::common::{pod, raw, server};

fn reason(body: &Value) -> (&str, &str, i64) {
    assert_eq!(body["kind"], "Status", "not a Status: {body}");
    assert_eq!(body["status"], "Failure");
    (
        body["reason"].as_str().unwrap(),
        body["message"].as_str().unwrap(),
        body["code"].as_i64().unwrap(),
    )
}

/// method, URI, content type, body, expected code and reason.
type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);

#[tokio::test(start_paused = true)]
async fn bad_requests_get_real_statuses_and_the_server_survives() {
    let (_s, client) = server().await;
    let good = serde_json::to_vec(&pod("ok")).unwrap();
    let pods = "/api/v1/namespaces/default/pods";
    let cases: Vec<Case> = vec![
        (
            "POST",
            pods,
            "application/json",
            b"{\"metadata\": {".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            pods,
            "application/json",
            b"[1,2]".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            pods,
            "application/yaml",
            b"metadata: [unclosed".to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            pods,
            "application/xml",
            b"<pod/>".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "POST",
            "/api/v1/pods",
            "application/json",
            good.clone(),
            405,
            "MethodNotAllowed",
        ),
        (
            "POST",
            "/apis/nope.dev/v1/namespaces/default/things",
            "application/json",
            b"{}".to_vec(),
            404,
            "NotFound",
        ),
        ("GET", "/api/v2/pods", "", vec![], 404, "NotFound"),
        (
            "POST",
            "/api/v1/namespaces/other/pods",
            "application/json",
            {
                let mut p = pod("x");
                p.metadata.namespace = Some("default".into());
                serde_json::to_vec(&p).unwrap()
            },
            400,
            "BadRequest",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/pods/not-ok",
            "application/json",
            good.clone(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            pods,
            "application/json",
            br#"{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"x"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            pods,
            "application/json",
            br#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"}}"#.to_vec(),
            400,
            "BadRequest",
        ),
        (
            "POST",
            pods,
            "application/json",
            br#"{"metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#
                .to_vec(),
            422,
            "Invalid",
        ),
        (
            "POST",
            pods,
            "application/json",
            br#"{"metadata":{"name":"nocontainers"},"spec":{}}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "POST",
            pods,
            "application/json",
            vec![b' '; 4 * 1024 * 1024],
            413,
            "RequestEntityTooLarge",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/pods/ok",
            "application/x-unknown-patch",
            b"{}".to_vec(),
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/pods/ok",
            "application/apply-patch+yaml",
            b"{}".to_vec(),
            422,
            "Invalid",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods?labelSelector=a+in+b",
            "",
            vec![],
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/pods?limit=many",
            "",
            vec![],
            400,
            "BadRequest",
        ),
        (
            "DELETE",
            "/api/v1/namespaces/default/pods/ok",
            "application/json",
            br#"{"propagationPolicy":"Sideways"}"#.to_vec(),
            422,
            "Invalid",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/pods",
            "application/json",
            good.clone(),
            405,
            "MethodNotAllowed",
        ),
        (
            "GET",
            "/api/v1/namespaces/default/configmaps/none/status",
            "",
            vec![],
            404,
            "NotFound",
        ),
    ];
    // One good object to aim PUT/PATCH/DELETE at.
    let (code, _) = raw(&client, "POST", pods, "application/json", good.clone()).await;
    assert_eq!(code, 201);
    for (method, uri, ct, body, want_code, want_reason) in cases {
        let (code, body) = raw(&client, method, uri, ct, body).await;
        let (reason, message, status_code) = reason(&body);
        assert_eq!(
            (code, reason),
            (want_code, want_reason),
            "{method} {uri} ({ct}): {message}"
        );
        assert_eq!(status_code, i64::from(want_code));
        assert!(!message.is_empty());
    }
    // Still serving, with nothing stored by the failures.
    let api: Api<Pod> = Api::namespaced(client, "default");
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect();
    assert_eq!(names, ["ok"]);
}

#[tokio::test(start_paused = true)]
async fn yaml_bodies_are_accepted() {
    let (_s, client) = server().await;
    let yaml =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n".to_vec();
    let (code, body) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/yaml",
        yaml,
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["data"]["k"], "v");
}

/// The body of a GET as the bytes on the wire.
async fn body_bytes(client: &kube::Client, uri: &str) -> (u16, String) {
    use http_body_util::BodyExt;
    let req = http::Request::get(uri)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.expect("transport works");
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, String::from_utf8(bytes.to_vec()).unwrap())
}

/// Status bodies byte for byte as kube-apiserver writes them: apimachinery
/// `pkg/api/errors/errors.go` (`NewNotFound`; `NewGenericServerResponse`,
/// which kube-apiserver's go-restful `serviceErrorHandler` answers an
/// unknown resource with, its empty details as `{}`), `metav1.Status`'s
/// field order with `omitempty` fields left out (no empty `group` for core
/// resources), and the trailing newline of the JSON serializer's
/// `json.Encoder` (apimachinery `pkg/runtime/serializer/json`).
#[tokio::test]
async fn status_bodies_are_byte_for_byte_kube_apiservers() {
    let (_server, client) = crate::common::server().await;
    let (code, body) = body_bytes(&client, "/api/v1/namespaces/default/pods/nope").await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"pods \\\"nope\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"nope\",\"kind\":\"pods\"},\"code\":404}\n"
    );
    let (_, body) = body_bytes(&client, "/apis/apps/v1/namespaces/default/deployments/nope").await;
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"deployments.apps \\\"nope\\\" not found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"nope\",\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":404}\n"
    );
    let (code, body) = body_bytes(&client, "/api/v1/namespaces/default/widgets").await;
    assert_eq!(code, 404);
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"the server could not find the requested resource\",\"reason\":\"NotFound\",\"details\":{},\"code\":404}\n"
    );
}

/// Object names are checked as apimachinery's `ValidateObjectMeta` with
/// `NameIsDNSSubdomain` (and namespaces as DNS labels), worded as
/// `k8s.io/apimachinery/pkg/util/validation`'s `IsDNS1123Subdomain` /
/// `IsDNS1123Label` and printed by `field/errors.go`.
#[tokio::test]
async fn names_are_refused_with_upstreams_field_path_and_message() {
    let (_s, client) = server().await;
    let (code, _, body) = crate::common::send(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &serde_json::json!({"metadata": {"name": "Bad_Name"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(body["reason"], "Invalid");
    let subdomain = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    assert_eq!(
        body["details"]["causes"],
        serde_json::json!([{"reason": "FieldValueInvalid", "message": format!("Invalid value: \"Bad_Name\": {subdomain}"), "field": "metadata.name"}])
    );
    assert_eq!(
        body["message"],
        format!(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": {subdomain}"
        )
    );

    let (code, _, body) = crate::common::send(
        &client,
        "POST",
        "/api/v1/namespaces",
        &serde_json::json!({"metadata": {"name": "has.dots"}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");
    assert!(
        body["details"]["causes"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value: \"has.dots\": a lowercase RFC 1123 label must consist of"),
        "{body}"
    );
}
