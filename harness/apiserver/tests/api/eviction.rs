//! `pods/{name}/eviction` through kube-rs `Api::evict`, checked against
//! kube-apiserver's eviction REST: budgets refuse with 429 and a
//! `DisruptionBudget` cause, grants decrement the budget, and pods that cost
//! no availability (pending, finished, unready) are evicted regardless.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::Client;
use kube::api::{Api, EvictParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{pod, server, status};

/// A pod with the phase and Ready condition the kubelet would report.
pub(crate) async fn pod_in(client: &Client, name: &str, phase: &str, ready: bool) -> Pod {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    pods.create(&PostParams::default(), &pod(name))
        .await
        .expect("pod created");
    let st = json!({"status": {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&st))
        .await
        .expect("pod status written")
}

/// A budget over `app=web` whose status reads as the disruption controller
/// would have written it.
pub(crate) async fn budget(client: &Client, name: &str, status: Value) -> PodDisruptionBudget {
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
    }))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb)
        .await
        .expect("pdb created");
    pdbs.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .expect("pdb status written")
}

pub(crate) fn healthy(allowed: i32) -> Value {
    json!({"observedGeneration": 1, "disruptionsAllowed": allowed,
           "currentHealthy": 2 + allowed, "desiredHealthy": 2, "expectedPods": 2 + allowed})
}

/// Whether the pod is gone or going (deletionTimestamp set).
pub(crate) async fn evicted(client: &Client, name: &str) -> bool {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    match pods.get_opt(name).await.expect("get pod") {
        None => true,
        Some(p) => p.metadata.deletion_timestamp.is_some(),
    }
}

pub(crate) async fn evict(client: &Client, name: &str) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    pods.evict(name, &EvictParams::default()).await.map(|_| ())
}

#[tokio::test]
async fn without_a_budget_the_pod_is_evicted() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    evict(&client, "web-0").await.expect("eviction granted");
    assert!(evicted(&client, "web-0").await);
}

#[tokio::test]
async fn a_budget_with_no_disruptions_left_answers_429_with_the_budget_cause() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    budget(&client, "web", healthy(0)).await;
    let s = status(evict(&client, "web-0").await.unwrap_err());
    assert_eq!(s.code, 429);
    assert_eq!(s.reason, "TooManyRequests");
    assert_eq!(
        s.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    let details = s.details.expect("details");
    let cause = &details.causes[0];
    assert_eq!(cause.reason, "DisruptionBudget");
    assert_eq!(
        cause.message,
        "The disruption budget web needs 2 healthy pods and has 2 currently"
    );
    assert_eq!(
        details.retry_after_seconds, 0,
        "no retry hint for a plain refusal"
    );
    assert!(
        !evicted(&client, "web-0").await,
        "a refused eviction deletes nothing"
    );
}

#[tokio::test]
async fn a_granted_eviction_spends_the_budget_and_records_the_pod() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    pod_in(&client, "web-1", "Running", true).await;
    budget(&client, "web", healthy(1)).await;
    evict(&client, "web-0")
        .await
        .expect("one disruption allowed");
    assert!(evicted(&client, "web-0").await);

    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let st = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!(st.disruptions_allowed, 0);
    assert!(
        st.disrupted_pods.unwrap_or_default().contains_key("web-0"),
        "the evicted pod is recorded for the disruption controller"
    );
    let cond = st
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .expect("DisruptionAllowed condition");
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "InsufficientPods")
    );

    // The budget is spent: the next eviction is refused until it is recomputed.
    let s = status(evict(&client, "web-1").await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (429, "TooManyRequests"));
    assert!(!evicted(&client, "web-1").await);
}

#[tokio::test]
async fn a_budget_the_controller_has_not_observed_yet_answers_429_with_retry_after() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    let mut st = healthy(5);
    st["observedGeneration"] = json!(0);
    budget(&client, "web", st).await;

    let req = http::Request::post("/api/v1/namespaces/default/pods/web-0/eviction")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "web-0", "namespace": "default"},
            }))
            .unwrap(),
        )
        .unwrap();
    let resp = client.send(req.map(Into::into)).await.expect("response");
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap()),
        Some("10")
    );

    let s = status(evict(&client, "web-0").await.unwrap_err());
    let details = s.details.expect("details");
    assert_eq!(details.retry_after_seconds, 10);
    assert_eq!(
        details.causes[0].message,
        "The disruption budget web is still being processed by the server."
    );
    assert!(!evicted(&client, "web-0").await);
}

#[tokio::test]
async fn pending_and_finished_pods_are_evicted_despite_a_spent_budget() {
    let (_s, client) = server().await;
    pod_in(&client, "web-pending", "Pending", false).await;
    pod_in(&client, "web-done", "Succeeded", false).await;
    pod_in(&client, "web-failed", "Failed", false).await;
    budget(&client, "web", healthy(0)).await;
    for name in ["web-pending", "web-done", "web-failed"] {
        evict(&client, name)
            .await
            .unwrap_or_else(|e| panic!("{name} costs no availability: {e}"));
        assert!(evicted(&client, name).await, "{name}");
    }
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let st = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!(
        st.disrupted_pods.unwrap_or_default().len(),
        0,
        "nothing spent"
    );
}

#[tokio::test]
async fn an_unready_pod_is_evicted_while_the_budget_is_met() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", false).await;
    pod_in(&client, "web-1", "Running", true).await;
    // Two healthy elsewhere, two needed: the unready pod is not one of them.
    budget(
        &client,
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 0,
               "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 3}),
    )
    .await;
    evict(&client, "web-0").await.expect("unready pod evicted");
    assert!(evicted(&client, "web-0").await);
    let s = status(evict(&client, "web-1").await.unwrap_err());
    assert_eq!(s.code, 429, "a ready pod still needs the budget");

    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let st = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!(
        st.disruptions_allowed, 0,
        "evicting an unready pod spends nothing"
    );
}

#[tokio::test]
async fn always_allow_lets_unready_pods_go_even_below_the_budget() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", false).await;
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    budget(
        &client,
        "web",
        json!({"observedGeneration": 1, "disruptionsAllowed": 0,
               "currentHealthy": 0, "desiredHealthy": 2, "expectedPods": 1}),
    )
    .await;
    let s = status(evict(&client, "web-0").await.unwrap_err());
    assert_eq!(s.code, 429, "IfHealthyBudget (the default) protects it");

    let patch = json!({"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}});
    pdbs.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    evict(&client, "web-0")
        .await
        .expect("AlwaysAllow evicts unready pods");
    assert!(evicted(&client, "web-0").await);
}

#[tokio::test]
async fn two_budgets_over_one_pod_answer_500() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    budget(&client, "web-a", healthy(1)).await;
    budget(&client, "web-b", healthy(1)).await;
    let s = status(evict(&client, "web-0").await.unwrap_err());
    assert_eq!(s.code, 500);
    assert_eq!(
        s.message,
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    );
    assert!(!evicted(&client, "web-0").await);
}

#[tokio::test]
async fn a_budget_selecting_other_pods_or_nothing_does_not_apply() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    for (name, selector) in [
        ("other", json!({"matchLabels": {"app": "db"}})),
        ("empty", json!({})),
    ] {
        let pdb: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"minAvailable": 1, "selector": selector},
        }))
        .unwrap();
        pdbs.create(&PostParams::default(), &pdb).await.unwrap();
        pdbs.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": healthy(0)})),
        )
        .await
        .unwrap();
    }
    evict(&client, "web-0")
        .await
        .expect("no budget covers the pod");
    assert!(evicted(&client, "web-0").await);
}

#[tokio::test]
async fn dry_run_eviction_spends_nothing_and_deletes_nothing() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    budget(&client, "web", healthy(1)).await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut ep = EvictParams::default();
    ep.post_options.dry_run = true;
    pods.evict("web-0", &ep).await.expect("dry-run granted");
    assert!(!evicted(&client, "web-0").await);
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let st = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!(st.disruptions_allowed, 1);
    assert!(st.disrupted_pods.unwrap_or_default().is_empty());
}

/// POSTs an Eviction with `deleteOptions` as kube-apiserver spells them.
/// (kube-rs 5 `EvictParams::delete_options` serializes as `delete_options`,
/// which kube-apiserver drops as an unknown field, and so does this server.)
async fn evict_with(client: &Client, name: &str, delete_options: Value) -> (u16, Value) {
    let body = json!({
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": name, "namespace": "default"},
        "deleteOptions": delete_options,
    });
    let req = http::Request::post(format!("/api/v1/namespaces/default/pods/{name}/eviction"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let resp = client.send(req.map(Into::into)).await.expect("response");
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn eviction_honours_its_delete_options() {
    let (_s, client) = server().await;
    let running = pod_in(&client, "web-0", "Running", true).await;
    let wrong = json!({"preconditions": {"uid": "not-the-uid"}});
    let (code, body) = evict_with(&client, "web-0", wrong).await;
    assert_eq!((code, &body["reason"]), (409, &json!("Conflict")), "{body}");
    assert!(!evicted(&client, "web-0").await);

    let right = json!({"preconditions": {"uid": running.metadata.uid}, "gracePeriodSeconds": 0});
    let (code, body) = evict_with(&client, "web-0", right).await;
    assert_eq!(code, 201, "{body}");
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    assert!(
        pods.get_opt("web-0").await.unwrap().is_none(),
        "grace 0 removes at once"
    );
}

#[tokio::test]
async fn a_failed_precondition_does_not_spend_the_budget() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    budget(&client, "web", healthy(1)).await;
    let wrong = json!({"preconditions": {"uid": "not-the-uid"}});
    let (code, body) = evict_with(&client, "web-0", wrong).await;
    assert_eq!(code, 409, "{body}");
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    assert_eq!(
        pdbs.get("web")
            .await
            .unwrap()
            .status
            .unwrap()
            .disruptions_allowed,
        1
    );
    assert!(!evicted(&client, "web-0").await);
}

#[tokio::test]
async fn name_mismatch_is_a_bad_request() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    let req = http::Request::post("/api/v1/namespaces/default/pods/web-0/eviction")
        .header("content-type", "application/json")
        .body(
            serde_json::to_vec(&json!({
                "apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": "web-1"},
            }))
            .unwrap(),
        )
        .unwrap();
    let resp = client.send(req.map(Into::into)).await.expect("response");
    assert_eq!(resp.status(), 400);
    assert!(!evicted(&client, "web-0").await);
}
