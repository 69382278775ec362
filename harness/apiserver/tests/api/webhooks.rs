//! Admission webhooks, called as kube-apiserver calls them. Expected texts
//! come from k8s.io/apiserver v0.33 `pkg/admission/plugin/webhook`:
//! `errors/statuserror.go` (denials, dry run), `request/admissionreview.go`
//! (the review sent, `VerifyAdmissionResponse`), `mutating/dispatcher.go`
//! and `reinvocationcontext.go` (patches, reinvocation),
//! `validating/dispatcher.go`, `generic/webhook.go` (matching, match
//! conditions), `pkg/util/webhook/error.go` (`failed calling webhook`), and
//! kubernetes' `pkg/apis/admissionregistration/validation/validation.go`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::admission::AdmissionResponse;
use serde_json::{Value, json};

use crate::common::{send, server, status};
use crate::webhook_server::{WebhookServer, https_webhook, https_webhook_for, plain_webhook};

/// A webhook on configmaps CREATE/UPDATE (and `extra` merged in), served by
/// the Service `webhooks/<service>`.
pub(crate) fn hook(name: &str, service: &str, extra: Value) -> Value {
    let mut h = json!({
        "name": name,
        "clientConfig": {"service": {"namespace": "webhooks", "name": service, "path": "/admit"}},
        "rules": [{
            "apiGroups": [""], "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]
        }],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    });
    if let (Some(h), Some(extra)) = (h.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            h.insert(k.clone(), v.clone());
        }
    }
    h
}

pub(crate) async fn validating(client: &Client, name: &str, hooks: Vec<Value>) {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    crate::common::create(&api, json!({"metadata": {"name": name}, "webhooks": hooks})).await;
}

pub(crate) async fn mutating(client: &Client, name: &str, hooks: Vec<Value>) {
    let api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    crate::common::create(&api, json!({"metadata": {"name": name}, "webhooks": hooks})).await;
}

fn configmap(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).unwrap()
}

/// The review a handler answers, allowing (or not) with extra response fields.
pub(crate) fn answer(review: &Value, allowed: bool, extra: Value) -> Value {
    let mut response = json!({"uid": review["request"]["uid"], "allowed": allowed});
    if let (Some(r), Some(extra)) = (response.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            r.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
}

pub(crate) fn json_patch(ops: Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&ops).unwrap())
}

/// kube's typed admission API, as an operator's webhook server uses it: a
/// refusal becomes the request's Status (`ToStatusErr`: the webhook's
/// message after who refused, code 400 when the webhook gave none).
#[tokio::test]
async fn a_validating_webhook_refusal_is_its_status() {
    let (s, client) = server().await;
    s.serve_admission("webhooks", "guard", |req| async move {
        let forbidden = req
            .object
            .as_ref()
            .and_then(|o| o.data.pointer("/data/forbidden"))
            .is_some();
        let response = AdmissionResponse::from(&req);
        if forbidden {
            response.deny("the key 'forbidden' is not allowed")
        } else {
            response
        }
    });
    validating(
        &client,
        "guard",
        vec![hook("guard.harness.dev", "guard", json!({}))],
    )
    .await;

    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &configmap("fine", json!({"a": "1"})),
    )
    .await
    .expect("allowed");
    let err = api
        .create(
            &PostParams::default(),
            &configmap("bad", json!({"forbidden": "1"})),
        )
        .await
        .unwrap_err();
    let st = status(err);
    assert_eq!(st.code, 400);
    assert_eq!(
        st.message,
        "admission webhook \"guard.harness.dev\" denied the request: the key 'forbidden' is not allowed"
    );
    assert!(
        api.get_opt("bad").await.unwrap().is_none(),
        "nothing stored"
    );
}

/// The webhook's own code and reason pass through; with neither message
/// nor reason the denial is "without explanation".
#[tokio::test]
async fn a_refusal_keeps_the_webhooks_code_and_reason() {
    let (s, client) = server().await;
    s.serve_webhook("webhooks", "coded", |review| async move {
        let name = review["request"]["name"].as_str().unwrap_or("").to_string();
        let status = if name == "quiet" {
            json!({})
        } else {
            json!({"code": 403, "reason": "Forbidden", "message": "not on weekends"})
        };
        answer(&review, false, json!({"status": status}))
    });
    validating(
        &client,
        "coded",
        vec![hook("coded.harness.dev", "coded", json!({}))],
    )
    .await;
    let ns = "/api/v1/namespaces/default/configmaps";
    let (code, _, body) = send(&client, "POST", ns, &json!({"metadata": {"name": "loud"}})).await;
    assert_eq!(code, 403);
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(
        body["message"],
        "admission webhook \"coded.harness.dev\" denied the request: not on weekends"
    );
    let (code, _, body) = send(&client, "POST", ns, &json!({"metadata": {"name": "quiet"}})).await;
    assert_eq!(code, 400);
    assert!(body.get("reason").is_none(), "{body}");
    assert_eq!(
        body["message"],
        "admission webhook \"coded.harness.dev\" denied the request without explanation"
    );
}

/// A mutating webhook's JSON patch lands in the stored object, its warnings
/// reach the client, and the review it got is `CreateV1AdmissionReview`'s.
#[tokio::test]
async fn a_mutating_webhook_patches_warns_and_sees_the_v1_review() {
    let (s, client) = server().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let log = seen.clone();
    s.serve_webhook("webhooks", "labeler", move |review| {
        log.lock().unwrap().push(review.clone());
        async move {
            let patch = json_patch(json!([
                {"op": "add", "path": "/metadata/labels", "value": {"team": "storage"}}
            ]));
            answer(
                &review,
                true,
                json!({"patchType": "JSONPatch", "patch": patch, "warnings": ["labelled by the webhook"]}),
            )
        }
    });
    mutating(
        &client,
        "labeler",
        vec![hook("labeler.harness.dev", "labeler", json!({}))],
    )
    .await;

    let (code, warnings, body) = send(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps?fieldManager=test",
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["metadata"]["labels"]["team"], "storage");
    assert_eq!(
        warnings,
        vec!["299 - \"labelled by the webhook\"".to_string()]
    );

    let review = seen.lock().unwrap()[0].clone();
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    let r = &review["request"];
    assert!(!r["uid"].as_str().unwrap().is_empty());
    assert_eq!(
        r["kind"],
        json!({"group": "", "version": "v1", "kind": "ConfigMap"})
    );
    assert_eq!(
        r["resource"],
        json!({"group": "", "version": "v1", "resource": "configmaps"})
    );
    assert_eq!(r["requestKind"], r["kind"]);
    assert_eq!(r["name"], "cm");
    assert_eq!(r["namespace"], "default");
    assert_eq!(r["operation"], "CREATE");
    assert_eq!(r["object"]["metadata"]["name"], "cm");
    assert_eq!(r["oldObject"], Value::Null, "a CREATE has no old object");
    assert_eq!(r["dryRun"], false);
    assert_eq!(r["options"]["kind"], "CreateOptions");
    assert!(r.get("subResource").is_none(), "omitempty");
}

/// `IfNeeded`: a webhook is called once more when one after it changed
/// the object; one with `Never` is not (reinvocationcontext.go).
#[tokio::test]
async fn if_needed_webhooks_are_called_again_after_a_later_change() {
    let (s, client) = server().await;
    let calls = |name: &'static str| {
        let n = Arc::new(AtomicUsize::new(0));
        let count = n.clone();
        s.serve_webhook("webhooks", name, move |review| {
            count.fetch_add(1, Ordering::SeqCst);
            async move {
                if name == "changer" {
                    let patch = json_patch(json!([
                        {"op": "add", "path": "/data", "value": {"changed": "yes"}}
                    ]));
                    answer(
                        &review,
                        true,
                        json!({"patchType": "JSONPatch", "patch": patch}),
                    )
                } else {
                    answer(&review, true, json!({}))
                }
            }
        });
        n
    };
    let (again, never, changer) = (calls("again"), calls("never"), calls("changer"));
    // Configurations run in name order: a-..., b-..., then c-changer.
    mutating(
        &client,
        "a-again",
        vec![hook(
            "again.harness.dev",
            "again",
            json!({"reinvocationPolicy": "IfNeeded"}),
        )],
    )
    .await;
    mutating(
        &client,
        "b-never",
        vec![hook("never.harness.dev", "never", json!({}))],
    )
    .await;
    mutating(
        &client,
        "c-changer",
        vec![hook("changer.harness.dev", "changer", json!({}))],
    )
    .await;

    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = api
        .create(&PostParams::default(), &configmap("cm", json!({})))
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["changed"], "yes");
    assert_eq!(
        (
            again.load(Ordering::SeqCst),
            never.load(Ordering::SeqCst),
            changer.load(Ordering::SeqCst)
        ),
        (2, 1, 1)
    );
}

/// Over HTTPS the configuration's caBundle is the only trusted root, the
/// URL carries `?timeout=10s`, and a call that fails (a certificate from
/// another CA) is a 500 under `Fail` and passes under `Ignore`.
#[tokio::test]
async fn https_webhooks_trust_only_their_ca_bundle() {
    let (_s, client) = server().await;
    let good: WebhookServer = https_webhook(|review| answer(&review, true, json!({}))).await;
    let stranger: WebhookServer = https_webhook(|review| answer(&review, true, json!({}))).await;
    let url_hook = |name: &str, url: &str, ca: &str, policy: &str| {
        let mut h = hook(name, "unused", json!({"failurePolicy": policy}));
        h["clientConfig"] = json!({"url": url, "caBundle": ca});
        h
    };
    validating(
        &client,
        "tls",
        vec![url_hook(
            "tls.harness.dev",
            &format!("{}/validate/", good.url),
            &good.ca_bundle,
            "Fail",
        )],
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &configmap("a", json!({})))
        .await
        .expect("allowed over HTTPS");
    let seen = good.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path_and_query, "/validate?timeout=10s");
    assert_eq!(seen[0].user_agent, "kube-apiserver-admission");
    assert_eq!(seen[0].review["request"]["object"]["metadata"]["name"], "a");

    // The stranger's certificate is not signed by the bundle given.
    let wrong = url_hook(
        "wrong.harness.dev",
        &format!("{}/validate", stranger.url),
        &good.ca_bundle,
        "Fail",
    );
    let api_cfg: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let patch = json!({"webhooks": [wrong]});
    api_cfg
        .patch("tls", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let st = status(
        api.create(&PostParams::default(), &configmap("b", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!((st.code, st.reason.as_str()), (500, "InternalError"));
    let prefix = format!(
        "Internal error occurred: failed calling webhook \"wrong.harness.dev\": failed to call webhook: Post \"{}/validate?timeout=10s\": tls: ",
        stranger.url
    );
    assert!(st.message.starts_with(&prefix), "{}", st.message);
    assert!(stranger.requests().is_empty(), "the handshake failed first");

    let ignore = url_hook(
        "wrong.harness.dev",
        &format!("{}/validate", stranger.url),
        &good.ca_bundle,
        "Ignore",
    );
    let patch = json!({"webhooks": [ignore]});
    api_cfg
        .patch("tls", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    api.create(&PostParams::default(), &configmap("b", json!({})))
        .await
        .expect("Ignore lets the write through");
}

/// A Service routed to a plain `http://` URL (the test's opt-in; the
/// service's path is appended).
#[tokio::test]
async fn a_service_routed_to_plain_http() {
    let (s, client) = server().await;
    let web = plain_webhook(|review| {
        let allowed = review["request"]["object"]["metadata"]["name"] != "nope";
        answer(
            &review,
            allowed,
            json!({"status": {"message": "named nope"}}),
        )
    })
    .await;
    s.route_service("webhooks", "plain", &web.url);
    validating(
        &client,
        "plain",
        vec![hook("plain.harness.dev", "plain", json!({}))],
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &configmap("yes", json!({})))
        .await
        .unwrap();
    let st = status(
        api.create(&PostParams::default(), &configmap("nope", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        st.message,
        "admission webhook \"plain.harness.dev\" denied the request: named nope"
    );
    assert_eq!(web.requests()[0].path_and_query, "/admit?timeout=10s");
}

/// `timeoutSeconds` bounds the call: past it, Fail is a 500 ending in
/// `context deadline exceeded`, Ignore lets the write through. A Service
/// nobody routed fails the same way, naming the URL it would have used.
#[tokio::test(start_paused = true)]
async fn slow_and_unreachable_webhooks_follow_the_failure_policy() {
    let (s, client) = server().await;
    s.serve_webhook("webhooks", "slow", |review| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        answer(&review, true, json!({}))
    });
    validating(
        &client,
        "slow",
        vec![hook(
            "slow.harness.dev",
            "slow",
            json!({"timeoutSeconds": 1}),
        )],
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let st = status(
        api.create(&PostParams::default(), &configmap("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(st.code, 500);
    assert_eq!(
        st.message,
        "Internal error occurred: failed calling webhook \"slow.harness.dev\": failed to call webhook: context deadline exceeded"
    );

    let cfg: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let ignore = json!({"webhooks": [hook("slow.harness.dev", "slow", json!({"timeoutSeconds": 1, "failurePolicy": "Ignore"}))]});
    cfg.patch("slow", &PatchParams::default(), &Patch::Merge(&ignore))
        .await
        .unwrap();
    api.create(&PostParams::default(), &configmap("a", json!({})))
        .await
        .expect("failed open");

    let nowhere = json!({"webhooks": [hook("nowhere.harness.dev", "nowhere", json!({}))]});
    cfg.patch("slow", &PatchParams::default(), &Patch::Merge(&nowhere))
        .await
        .unwrap();
    let st = status(
        api.create(&PostParams::default(), &configmap("b", json!({})))
            .await
            .unwrap_err(),
    );
    assert!(
        st.message.starts_with(
            "Internal error occurred: failed calling webhook \"nowhere.harness.dev\": failed to call webhook: Post \"https://nowhere.webhooks.svc:443/admit?timeout=10s\": service \"nowhere\" not found"
        ),
        "{}",
        st.message
    );
    assert!(
        st.message.contains("ApiServer::route_service"),
        "says how to route it"
    );
}

/// Answers that break `VerifyAdmissionResponse` are failed calls.
#[tokio::test]
async fn an_answer_for_another_request_is_a_failed_call() {
    let (s, client) = server().await;
    s.serve_webhook("webhooks", "liar", |review| async move {
        let mut out = answer(&review, true, json!({}));
        out["response"]["uid"] = json!("someone-else");
        out
    });
    validating(
        &client,
        "liar",
        vec![hook("liar.harness.dev", "liar", json!({}))],
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let st = status(
        api.create(&PostParams::default(), &configmap("a", json!({})))
            .await
            .unwrap_err(),
    );
    assert!(
        st.message.starts_with(
            "Internal error occurred: failed calling webhook \"liar.harness.dev\": received invalid webhook response: expected response.uid=\""
        ) && st.message.ends_with("\", got \"someone-else\""),
        "{}",
        st.message
    );
}

/// Dry runs reach webhooks that declare no side effects, with
/// `dryRun: true`, and store nothing.
#[tokio::test]
async fn dry_runs_reach_webhooks_without_side_effects() {
    let (s, client) = server().await;
    let dry = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = dry.clone();
    s.serve_webhook("webhooks", "audit", move |review| {
        log.lock()
            .unwrap()
            .push(review["request"]["dryRun"].clone());
        async move { answer(&review, true, json!({})) }
    });
    validating(
        &client,
        "audit",
        vec![hook(
            "audit.harness.dev",
            "audit",
            json!({"sideEffects": "NoneOnDryRun"}),
        )],
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams {
            dry_run: true,
            ..Default::default()
        },
        &configmap("a", json!({})),
    )
    .await
    .unwrap();
    assert_eq!(*dry.lock().unwrap(), vec![json!(true)]);
    assert!(api.get_opt("a").await.unwrap().is_none());
}

/// DELETE is admitted with the stored object as `oldObject` and no object;
/// a mutating webhook that patches it is an internal error.
#[tokio::test]
async fn deletes_are_admitted_with_the_old_object() {
    let (s, client) = server().await;
    s.serve_webhook("webhooks", "keeper", |review| async move {
        let keep = review["request"]["oldObject"]["metadata"]["labels"]["keep"] == "true";
        assert_eq!(review["request"]["object"], Value::Null);
        answer(
            &review,
            !keep,
            json!({"status": {"message": "labelled keep"}}),
        )
    });
    let mut h = hook("keeper.harness.dev", "keeper", json!({}));
    h["rules"][0]["operations"] = json!(["DELETE"]);
    validating(&client, "keeper", vec![h]).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut kept = configmap("kept", json!({}));
    kept.metadata.labels = Some([("keep".to_string(), "true".to_string())].into());
    api.create(&PostParams::default(), &kept).await.unwrap();
    api.create(&PostParams::default(), &configmap("gone", json!({})))
        .await
        .unwrap();
    api.delete("gone", &DeleteParams::default()).await.unwrap();
    let st = status(
        api.delete("kept", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        st.message,
        "admission webhook \"keeper.harness.dev\" denied the request: labelled keep"
    );

    s.serve_webhook("webhooks", "meddler", |review| async move {
        let patch = json_patch(json!([{"op": "add", "path": "/data", "value": {}}]));
        answer(
            &review,
            true,
            json!({"patchType": "JSONPatch", "patch": patch}),
        )
    });
    let mut h = hook("meddler.harness.dev", "meddler", json!({}));
    h["rules"][0]["operations"] = json!(["DELETE"]);
    mutating(&client, "meddler", vec![h]).await;
    let st = status(
        api.delete("kept", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(st.code, 500);
    assert_eq!(
        st.message,
        "Internal error occurred: admission webhook \"meddler.harness.dev\" attempted to modify the object, which is not supported for this operation"
    );
}

/// objectSelector and matchConditions decide which writes a webhook sees;
/// a condition that errors under Fail is a 403 (`generic/webhook.go`).
#[tokio::test]
async fn selectors_and_match_conditions_pick_the_writes() {
    let (s, client) = server().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    s.serve_webhook("webhooks", "picky", move |review| {
        count.fetch_add(1, Ordering::SeqCst);
        async move { answer(&review, true, json!({})) }
    });
    validating(
        &client,
        "picky",
        vec![hook(
            "picky.harness.dev",
            "picky",
            json!({
                "objectSelector": {"matchLabels": {"checked": "yes"}},
                "matchConditions": [{"name": "not-system", "expression": "!object.metadata.name.startsWith('system-')"}]
            }),
        )],
    )
    .await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let labelled = |name: &str| {
        let mut cm = configmap(name, json!({}));
        cm.metadata.labels = Some([("checked".to_string(), "yes".to_string())].into());
        cm
    };
    api.create(&PostParams::default(), &configmap("plain", json!({})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &labelled("system-x"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "neither matched");
    api.create(&PostParams::default(), &labelled("user-x"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let cfg: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let broken = json!({"webhooks": [hook("picky.harness.dev", "picky", json!({
        "matchConditions": [{"name": "broken", "expression": "object.data.missing == 'x'"}]
    }))]});
    cfg.patch("picky", &PatchParams::default(), &Patch::Merge(&broken))
        .await
        .unwrap();
    let st = status(
        api.create(&PostParams::default(), &configmap("z", json!({"a": "b"})))
            .await
            .unwrap_err(),
    );
    assert_eq!((st.code, st.reason.as_str()), (403, "Forbidden"));
    assert!(
        st.message.starts_with("configmaps \"z\" is forbidden: expression 'object.data.missing == 'x'' resulted in error: "),
        "{}",
        st.message
    );
}

/// An update that lost a race while its webhook was being called starts
/// again from the new stored object (a patch), or fails with 409 when it
/// named the resourceVersion it read (a PUT).
#[tokio::test]
async fn writes_that_race_a_webhook_call_start_again_or_conflict() {
    let (s, client) = server().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &configmap("cm", json!({"n": "0"})))
        .await
        .unwrap();
    let racer = s.client();
    let raced = Arc::new(AtomicUsize::new(0));
    let once = raced.clone();
    s.serve_webhook("webhooks", "racer", move |review| {
        let racer = racer.clone();
        let first = once.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first && review["request"]["operation"] == "UPDATE" {
                // Another writer gets in while the webhook is called.
                let api: Api<ConfigMap> = Api::namespaced(racer, "default");
                let n = review["request"]["object"]["data"]["n"].clone();
                let p = json!({"data": {"racer": format!("was here before n={n}")}});
                api.patch("cm", &PatchParams::default(), &Patch::Merge(&p))
                    .await
                    .unwrap();
            }
            answer(&review, true, json!({}))
        }
    });
    let mut h = hook("racer.harness.dev", "racer", json!({}));
    h["rules"][0]["operations"] = json!(["UPDATE"]);
    validating(&client, "racer", vec![h]).await;

    let p = json!({"data": {"n": "1"}});
    let cm = api
        .patch("cm", &PatchParams::default(), &Patch::Merge(&p))
        .await
        .unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(
        (data["n"].as_str(), data["racer"].as_str()),
        ("1", "was here before n=\"1\"")
    );

    raced.store(0, Ordering::SeqCst);
    let mut stale = cm;
    stale.data = Some([("n".to_string(), "2".to_string())].into());
    let st = status(
        api.replace("cm", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((st.code, st.reason.as_str()), (409, "Conflict"));
}

/// Writes of webhook configurations are exempt, so a webhook that refuses
/// everything can still be removed (`IsExemptAdmissionConfigurationResource`).
#[tokio::test]
async fn a_webhook_that_refuses_everything_can_be_removed() {
    let (s, client) = server().await;
    s.serve_webhook("webhooks", "wall", |review| async move {
        answer(&review, false, json!({}))
    });
    let mut h = hook("wall.harness.dev", "wall", json!({}));
    h["rules"] = json!([{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"], "resources": ["*/*"]}]);
    validating(&client, "wall", vec![h]).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    assert!(
        api.create(&PostParams::default(), &configmap("a", json!({})))
            .await
            .is_err()
    );
    let cfg: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    cfg.delete("wall", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &configmap("a", json!({})))
        .await
        .expect("the wall is gone");
}

/// The configuration itself is validated when written.
#[tokio::test]
async fn configurations_are_validated_when_written() {
    let (_s, client) = server().await;
    let (code, _, body) = send(
        &client,
        "POST",
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        &json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "bad"},
            "webhooks": [{
                "name": "two.segments",
                "clientConfig": {"url": "http://example.com/x?a=b"},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["MAKE"], "resources": ["pods"]}],
                "timeoutSeconds": 31
            }]
        }),
    )
    .await;
    assert_eq!(code, 422, "{body}");
    let causes: Vec<(String, String)> = body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        (
            "webhooks[0].name",
            "Invalid value: \"two.segments\": should be a domain with at least three segments separated by dots",
        ),
        (
            "webhooks[0].rules[0].operations[0]",
            "Unsupported value: \"MAKE\": supported values: \"*\", \"CONNECT\", \"CREATE\", \"DELETE\", \"UPDATE\"",
        ),
        (
            "webhooks[0].sideEffects",
            "Required value: must specify one of None, NoneOnDryRun",
        ),
        (
            "webhooks[0].timeoutSeconds",
            "Invalid value: 31: the timeout value must be between 1 and 30 seconds",
        ),
        (
            "webhooks[0].clientConfig.url",
            "Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
        ),
        (
            "webhooks[0].clientConfig.url",
            "Invalid value: \"a=b\": query parameters are not permitted in the URL",
        ),
        (
            "webhooks[0].admissionReviewVersions",
            "Required value: must specify one of v1, v1beta1",
        ),
    ];
    for (field, message) in expected {
        assert!(
            causes.iter().any(|(f, m)| f == field && m == message),
            "missing {field}: {message} in {causes:#?}"
        );
    }
    assert_eq!(causes.len(), expected.len(), "{causes:#?}");
}

/// A Service routed to an HTTPS URL is verified as kube-apiserver verifies
/// it: the certificate must name `<service>.<namespace>.svc`, wherever the
/// test's server listens (apiserver `pkg/util/webhook/client.go`).
#[tokio::test]
async fn a_routed_service_is_verified_by_its_service_name() {
    let (s, client) = server().await;
    let web = https_webhook_for(&["guard.webhooks.svc"], |review| {
        answer(&review, true, json!({}))
    })
    .await;
    s.route_service("webhooks", "guard", &web.url);
    let mut h = hook("guard.harness.dev", "guard", json!({}));
    h["clientConfig"]["caBundle"] = json!(web.ca_bundle);
    validating(&client, "guard", vec![h]).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &configmap("a", json!({})))
        .await
        .expect("the certificate names the Service");
    assert_eq!(web.requests()[0].path_and_query, "/admit?timeout=10s");
}

/// Validating admission runs before a write is found to change nothing,
/// so a webhook refuses a no-op update too; and a patch that raced another
/// writer while a mutating webhook ran starts again instead of failing.
#[tokio::test]
async fn no_op_updates_are_admitted_and_raced_patches_start_again() {
    let (s, client) = server().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = api
        .create(&PostParams::default(), &configmap("cm", json!({"n": "0"})))
        .await
        .unwrap();
    s.serve_webhook("webhooks", "frozen", |review| async move {
        answer(&review, false, json!({"status": {"message": "frozen"}}))
    });
    let mut h = hook("frozen.harness.dev", "frozen", json!({}));
    h["rules"][0]["operations"] = json!(["UPDATE"]);
    validating(&client, "frozen", vec![h]).await;
    let st = status(
        api.replace("cm", &PostParams::default(), &cm)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        st.message,
        "admission webhook \"frozen.harness.dev\" denied the request: frozen"
    );
    let cfg: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    cfg.delete("frozen", &DeleteParams::default())
        .await
        .unwrap();

    let racer = s.client();
    let first = Arc::new(AtomicUsize::new(0));
    let count = first.clone();
    s.serve_webhook("webhooks", "slowpoke", move |review| {
        let racer = racer.clone();
        let first = count.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                let api: Api<ConfigMap> = Api::namespaced(racer, "default");
                let p = json!({"data": {"racer": "first"}});
                api.patch("cm", &PatchParams::default(), &Patch::Merge(&p))
                    .await
                    .unwrap();
            }
            answer(&review, true, json!({}))
        }
    });
    let mut h = hook("slowpoke.harness.dev", "slowpoke", json!({}));
    h["rules"][0]["operations"] = json!(["UPDATE"]);
    mutating(&client, "slowpoke", vec![h]).await;
    let p = json!({"data": {"n": "1"}});
    let patched = api
        .patch("cm", &PatchParams::default(), &Patch::Merge(&p))
        .await
        .expect("a patch names no resourceVersion: it starts again");
    let data = patched.data.unwrap();
    assert_eq!((data["n"].as_str(), data["racer"].as_str()), ("1", "first"));
}
