//! certificates.k8s.io/v1 CertificateSigningRequests as kube-apiserver 1.33
//! serves them: the requestor recorded from the request, the `/approval`
//! and `/status` subresources each changing only their part
//! (pkg/registry/certificates/certificates/strategy.go), and the checks of
//! pkg/apis/certificates/validation/validation.go with upstream's words.

use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{create, get, server, status};

/// A real PKCS#10 request, PEM and then base64 as JSON carries `[]byte`.
fn request_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["web.example.com".into()]).unwrap();
    params.serialize_request(&key).unwrap().pem().unwrap()
}

fn certificate_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["web.example.com".into()]).unwrap();
    params.self_signed(&key).unwrap().pem()
}

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn csr(name: &str) -> Value {
    json!({
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": b64(&request_pem()),
            "signerName": "example.com/serving",
            "usages": ["digital signature", "server auth"],
            "username": "mallory",
            "groups": ["system:masters"],
        },
        "status": {"conditions": [{"type": "Approved", "status": "True"}]},
    })
}

fn condition(t: &str) -> Value {
    json!({"type": t, "status": "True", "reason": "Test", "message": "by the test"})
}

fn message(err: kube::Error) -> String {
    status(err).message
}

/// Creates `body`, which must be refused; the refusal's message.
async fn refused_create(csrs: &Api<CertificateSigningRequest>, body: Value) -> String {
    let body: CertificateSigningRequest = serde_json::from_value(body).unwrap();
    let err = csrs
        .create(&PostParams::default(), &body)
        .await
        .unwrap_err();
    message(err)
}

#[tokio::test]
async fn a_request_records_its_requestor_and_starts_pending() {
    let (_server, client) = server().await;
    let csrs: Api<CertificateSigningRequest> = Api::all(client.clone());
    let stored = create(&csrs, csr("web")).await;
    // `PrepareForCreate`: the body's username and groups are replaced by
    // who asked (the admin), and status starts empty.
    assert_eq!(stored["spec"]["username"], "system:admin");
    assert_eq!(
        stored["spec"]["groups"],
        json!(["system:masters", "system:authenticated"])
    );
    assert_eq!(stored["status"], json!({}));
    assert!(stored["metadata"].get("generation").is_none());

    // A name is any path segment (`ValidateCertificateRequestName`).
    let mut odd = csr("Node:Web_1");
    odd["spec"]["signerName"] = json!("kubernetes.io/kube-apiserver-client");
    create(&csrs, odd).await;

    let listed = csrs
        .list(&ListParams::default().fields("spec.signerName=example.com/serving"))
        .await
        .unwrap();
    let names: Vec<String> = listed
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["web"]);

    let (_, list) = get(&client, "/apis/certificates.k8s.io/v1").await;
    let entries: Vec<Value> = list["resources"].as_array().unwrap().clone();
    assert_eq!(entries[0]["name"], "certificatesigningrequests");
    assert_eq!(entries[0]["shortNames"], json!(["csr"]));
    assert_eq!(entries[0]["namespaced"], false);
    assert_eq!(
        entries[1..],
        [
            json!({"name": "certificatesigningrequests/approval", "singularName": "", "namespaced": false, "kind": "CertificateSigningRequest", "verbs": ["get", "patch", "update"]}),
            json!({"name": "certificatesigningrequests/status", "singularName": "", "namespaced": false, "kind": "CertificateSigningRequest", "verbs": ["get", "patch", "update"]}),
        ]
    );
}

#[tokio::test]
async fn bad_requests_are_refused_with_upstreams_causes() {
    let (_server, client) = server().await;
    let csrs: Api<CertificateSigningRequest> = Api::all(client);
    let mut bad = csr("bad");
    bad["spec"] = json!({
        "request": b64("hi"),
        "signerName": "example",
        "expirationSeconds": 300,
    });
    let err = refused_create(&csrs, bad).await;
    assert_eq!(
        err,
        "CertificateSigningRequest.certificates.k8s.io \"bad\" is invalid: [\
         spec.request: Invalid value: []byte{0x68, 0x69}: PEM block type must be CERTIFICATE REQUEST, \
         spec.usages: Required value, \
         spec.signerName: Invalid value: \"example\": must be a fully qualified domain and path of the form 'example.com/signer-name', \
         spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 600 seconds (10 minutes)]"
    );

    let mut bad = csr("usages");
    bad["spec"]["usages"] = json!(["server auth", "teleport", "server auth"]);
    bad["spec"]["signerName"] = json!("Example.com/a");
    let msg = refused_create(&csrs, bad).await;
    assert!(
        msg.contains("spec.usages[1]: Unsupported value: \"teleport\": supported values: \"any\", \"cert sign\","),
        "{msg}"
    );
    assert!(
        msg.contains("spec.usages[2]: Duplicate value: \"server auth\""),
        "{msg}"
    );
    assert!(
        msg.contains("spec.signerName: Invalid value: \"Example.com\": validating label \"Example\": a lowercase RFC 1123 label must consist of"),
        "{msg}"
    );

    // The legacy signer is refused by v1.
    let mut legacy = csr("legacy");
    legacy["spec"]["signerName"] = json!("kubernetes.io/legacy-unknown");
    let err = refused_create(&csrs, legacy).await;
    assert_eq!(
        err,
        "CertificateSigningRequest.certificates.k8s.io \"legacy\" is invalid: spec.signerName: Invalid value: \"kubernetes.io/legacy-unknown\": the legacy signerName is not allowed via this API version"
    );
}

#[tokio::test]
async fn approval_status_and_the_main_resource_each_change_their_part() {
    let (_server, client) = server().await;
    let csrs: Api<CertificateSigningRequest> = Api::all(client);
    create(&csrs, csr("web")).await;
    let pp = PatchParams::default();

    // The main resource changes metadata only: a new spec is dropped.
    let patched = csrs
        .patch(
            "web",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}, "spec": {"signerName": "example.com/other"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.spec.signer_name, "example.com/serving");
    assert_eq!(patched.metadata.labels.unwrap()["team"], "a");

    // /status may not approve.
    let err = csrs
        .patch_status(
            "web",
            &pp,
            &Patch::Merge(json!({"status": {"conditions": [condition("Approved")]}})),
        )
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        "CertificateSigningRequest.certificates.k8s.io \"web\" is invalid: status.conditions: Forbidden: updates may not add a condition of type \"Approved\""
    );

    // /approval does, and fills the condition's times; a spec in the same
    // body is dropped.
    let body = json!({
        "spec": {"signerName": "example.com/other"},
        "status": {"conditions": [condition("Approved")]},
    });
    let approved: Value = serde_json::to_value(
        csrs.patch_subresource("approval", "web", &pp, &Patch::Merge(body))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(approved["spec"]["signerName"], "example.com/serving");
    let c = &approved["status"]["conditions"][0];
    assert_eq!(
        (c["type"].as_str(), c["reason"].as_str()),
        (Some("Approved"), Some("Test"))
    );
    assert!(
        c["lastUpdateTime"].is_string() && c["lastTransitionTime"].is_string(),
        "{c}"
    );

    // Approved and Denied exclude each other; an approval is never taken back.
    let both = json!({"status": {"conditions": [condition("Approved"), condition("Denied")]}});
    let err = csrs
        .patch_subresource("approval", "web", &pp, &Patch::Merge(both))
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        "CertificateSigningRequest.certificates.k8s.io \"web\" is invalid: status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive"
    );
    let none = json!({"status": {"conditions": [condition("Failed")]}});
    let err = csrs
        .patch_subresource("approval", "web", &pp, &Patch::Merge(none))
        .await
        .unwrap_err();
    assert_eq!(
        message(err),
        "CertificateSigningRequest.certificates.k8s.io \"web\" is invalid: status.conditions: Forbidden: updates may not remove a condition of type \"Approved\""
    );

    // A signer issues through /status; the certificate is then fixed.
    let issued = json!({"status": {"certificate": b64(&certificate_pem())}});
    let got = csrs
        .patch_status("web", &pp, &Patch::Merge(issued))
        .await
        .unwrap();
    assert!(got.status.unwrap().certificate.is_some());
    let refused = |name: &'static str, pem: String| {
        let csrs = csrs.clone();
        async move {
            let body = json!({"status": {"certificate": b64(&pem)}});
            let patch = Patch::Merge(body);
            message(
                csrs.patch_status(name, &PatchParams::default(), &patch)
                    .await
                    .unwrap_err(),
            )
        }
    };
    assert_eq!(
        refused("web", certificate_pem()).await,
        "CertificateSigningRequest.certificates.k8s.io \"web\" is invalid: status.certificate: Forbidden: updates may not modify existing certificate content"
    );
    // Only CERTIFICATE blocks are certificates.
    create(&csrs, csr("other")).await;
    assert_eq!(
        refused("other", request_pem()).await,
        "CertificateSigningRequest.certificates.k8s.io \"other\" is invalid: status.certificate: Invalid value: \"<certificate data>\": only CERTIFICATE PEM blocks are allowed, found \"CERTIFICATE REQUEST\""
    );
}
