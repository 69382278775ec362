//! Service account tokens: TokenRequest (`pkg/registry/core/serviceaccount/storage/token.go`,
//! defaults `pkg/apis/authentication/v1/defaults.go`, checks
//! `pkg/apis/authentication/validation/validation.go`) signs a token with
//! the claims of `pkg/serviceaccount/claims.go`; presented as a bearer
//! token it makes the request the service account's, and TokenReview
//! (`pkg/registry/authentication/tokenreview/storage.go`) names it with
//! the groups and `credential-id` extra a cluster gives, or says why not.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, DeleteParams};
use serde_json::{Value, json};

use crate::common::{create, namespace, post_with_headers, send, server, server_on_tokio_time};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

async fn robot(client: &Client) -> Value {
    namespace(client, "team").await;
    create(
        &Api::<ServiceAccount>::namespaced(client.clone(), "team"),
        json!({"metadata": {"name": "robot"}}),
    )
    .await
}

async fn token_request(client: &Client, spec: Value) -> (u16, Value) {
    let (code, _, body) = send(
        client,
        "POST",
        "/api/v1/namespaces/team/serviceaccounts/robot/token",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}),
    )
    .await;
    (code, body)
}

async fn token_review(client: &Client, token: &str, audiences: &[&str]) -> Value {
    let (code, _, body) = send(
        client,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &json!({"spec": {"token": token, "audiences": audiences}}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    body["status"].clone()
}

/// `kubectl auth whoami` with `Authorization: Bearer <token>`.
async fn whoami(client: &Client, token: &str) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    post_with_headers(
        client,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &[("authorization", &bearer)],
        &json!({}),
    )
    .await
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_requested_token_names_its_service_account() {
    let (_server, client) = server().await;
    let sa = robot(&client).await;
    let uid = sa["metadata"]["uid"].as_str().unwrap();
    let (code, tr) = token_request(&client, json!({})).await;
    assert_eq!(code, 201, "{tr}");
    // Defaults: an hour, for the API audience (the issuer).
    assert_eq!(tr["spec"]["expirationSeconds"], 3600);
    assert_eq!(tr["spec"]["audiences"], json!([ISSUER]));
    assert_eq!(tr["metadata"]["name"], "robot");
    let token = tr["status"]["token"].as_str().unwrap();
    let c = claims(token);
    assert_eq!(c["sub"], "system:serviceaccount:team:robot");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], json!([ISSUER]));
    assert_eq!(
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        c["kubernetes.io"],
        json!({"namespace": "team", "serviceaccount": {"name": "robot", "uid": uid}})
    );

    let review = token_review(&client, token, &[]).await;
    assert_eq!(review["authenticated"], true, "{review}");
    assert_eq!(review["audiences"], json!([ISSUER]));
    assert_eq!(
        review["user"],
        json!({
            "username": "system:serviceaccount:team:robot",
            "uid": uid,
            "groups": ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": [format!("JTI={}", c["jti"].as_str().unwrap())]},
        })
    );
    let elsewhere = token_review(&client, token, &["vault"]).await;
    assert_eq!(
        elsewhere,
        json!({"user": {}, "error": format!("token audiences [\"{ISSUER}\"] is invalid for the target audiences [\"vault\"]")})
    );

    // As a bearer token, the request is the service account's.
    let (code, me) = whoami(&client, token).await;
    assert_eq!(code, 201, "{me}");
    assert_eq!(
        me["status"]["userInfo"]["username"],
        "system:serviceaccount:team:robot"
    );
    let mut forged = token.to_string();
    forged.truncate(token.len() - 4);
    forged.push_str("AAAA");
    let (code, refused) = whoami(&client, &forged).await;
    assert_eq!(
        (code, refused["reason"].clone()),
        (401, json!("Unauthorized"))
    );

    // Deleting the account invalidates its tokens.
    Api::<ServiceAccount>::namespaced(client.clone(), "team")
        .delete("robot", &DeleteParams::default())
        .await
        .unwrap();
    let gone = token_review(&client, token, &[]).await;
    assert_eq!(gone["error"], "service account token has been invalidated");
}

#[tokio::test(start_paused = true)]
async fn a_token_expires_on_the_servers_clock() {
    let server = server_on_tokio_time().await;
    let client = server.client();
    robot(&client).await;
    let (_, tr) = token_request(&client, json!({"expirationSeconds": 600})).await;
    assert_eq!(tr["status"]["expirationTimestamp"], "2026-01-01T00:10:00Z");
    let token = tr["status"]["token"].as_str().unwrap().to_string();
    // go-jose's minute of leeway past `exp`, then no more.
    tokio::time::advance(std::time::Duration::from_secs(659)).await;
    assert_eq!(
        token_review(&client, &token, &[]).await["authenticated"],
        true
    );
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        token_review(&client, &token, &[]).await["error"],
        "service account token has expired"
    );
    assert_eq!(whoami(&client, &token).await.0, 401);
}

#[tokio::test]
async fn bad_token_requests_get_kube_apiservers_errors() {
    let (_server, client) = server().await;
    robot(&client).await;
    let (code, short) = token_request(&client, json!({"expirationSeconds": 60})).await;
    assert_eq!(code, 422);
    assert_eq!(
        short["message"],
        "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"
    );
    let (code, number) = token_request(&client, json!(5)).await;
    assert_eq!(
        (code, number["message"].clone()),
        (
            400,
            json!(
                "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot unmarshal number into Go struct field TokenRequest.spec of type v1.TokenRequestSpec"
            )
        )
    );
    let (code, unbound) = token_request(
        &client,
        json!({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}),
    )
    .await;
    assert_eq!(
        (code, unbound["message"].clone()),
        (400, json!("cannot bind token to object of type ConfigMap"))
    );
    let (code, _, ghost) = send(
        &client,
        "POST",
        "/api/v1/namespaces/team/serviceaccounts/ghost/token",
        &json!({"spec": {}}),
    )
    .await;
    assert_eq!(
        (code, ghost["message"].clone()),
        (404, json!("serviceaccounts \"ghost\" not found"))
    );
    let (code, _, empty) = send(
        &client,
        "POST",
        "/apis/authentication.k8s.io/v1/tokenreviews",
        &json!({"spec": {}}),
    )
    .await;
    assert_eq!(
        (code, empty["message"].clone()),
        (
            400,
            json!("token is required for TokenReview in authentication")
        )
    );
}
