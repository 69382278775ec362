//! The probe against the embedded API server and small hand-written
//! controllers, each broken in one of the ways the probe must name.

use super::{Diagnosis, LivenessError, LivenessProbe, Proof};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, CustomResource, CustomResourceExt, Resource};
use kube_harness_apiserver::{ApiServer, TokioClock};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
#[kube(
    group = "test.kube-harness.dev",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
struct WidgetSpec {
    size: i32,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct WidgetStatus {
    #[serde(skip_serializing_if = "Option::is_none")]
    observed_generation: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    touched: Option<i64>,
}

const NS: &str = "live";

async fn setup() -> (ApiServer, Client, Api<Widget>) {
    let server = ApiServer::builder()
        .clock(TokioClock::new("2026-11-23T10:00:00Z".parse().unwrap()))
        .start()
        .await
        .unwrap();
    let client = server.client();
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &Widget::crd())
        .await
        .unwrap();
    let widgets: Api<Widget> = Api::namespaced(client.clone(), NS);
    // The CRD is served once its list answers.
    for _ in 0..100 {
        if widgets.list(&Default::default()).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    widgets
        .create(
            &PostParams::default(),
            &Widget::new("w", WidgetSpec { size: 1 }),
        )
        .await
        .unwrap();
    (server, client, widgets)
}

/// A controller loop; `observe` decides what it writes for a widget.
fn controller(
    widgets: Api<Widget>,
    observe: impl Fn(&Widget) -> Option<WidgetStatus> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Ok(mut w) = widgets.get("w").await else {
                continue;
            };
            if let Some(status) = observe(&w) {
                w.status = Some(status);
                let _ = widgets
                    .replace_status("w", &PostParams::default(), &w)
                    .await;
            }
        }
    })
}

fn probe(client: &Client) -> LivenessProbe<Widget> {
    LivenessProbe::new(client.clone(), NS, "w")
        .component("widget-operator")
        .since("restart")
        .within(Duration::from_secs(5))
}

fn not_reconciled(err: LivenessError) -> (Diagnosis, String) {
    match err {
        LivenessError::NotReconciled {
            diagnosis, message, ..
        } => (diagnosis, message),
        other => panic!("expected NotReconciled, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn healthy_controller_observes_the_new_generation() {
    let (_server, client, widgets) = setup().await;
    let task = controller(widgets, |w| {
        let generation = w.meta().generation;
        let status = w.status.clone().unwrap_or_default();
        (status.observed_generation != generation).then_some(WidgetStatus {
            observed_generation: generation,
            ..status
        })
    });
    let proof = probe(&client)
        .after_patch(&json!({"spec": {"size": 2}}))
        .await
        .unwrap();
    task.abort();
    let Proof::ObservedGeneration { generation, at } = proof else {
        panic!("expected an observedGeneration proof, got {proof}")
    };
    assert_eq!(generation, 2);
    assert!(at <= Duration::from_millis(500), "caught up at {at:?}");
}

#[tokio::test(start_paused = true)]
async fn silent_controller_is_named_not_timed_out() {
    let (_server, client, widgets) = setup().await;
    // The controller reconciled once before its "restart".
    widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .unwrap();
    let err = probe(&client)
        .after_patch(&json!({"spec": {"size": 2}}))
        .await
        .unwrap_err();
    let (diagnosis, message) = not_reconciled(err);
    assert_eq!(diagnosis, Diagnosis::NeverReconciled);
    assert_eq!(
        message,
        "controller started but never reconciled: Widget/w in ns live\n  \
         - status.observedGeneration stuck at 1 while generation is 2 for 5.000s\n  \
         - no status write since restart\n  \
         - no events from widget-operator since restart"
    );
}

#[tokio::test(start_paused = true)]
async fn status_writes_that_forget_the_generation_are_named() {
    let (_server, client, widgets) = setup().await;
    let task = controller(widgets, |w| {
        let status = w.status.clone().unwrap_or_default();
        (status.touched.is_none()).then_some(WidgetStatus {
            touched: Some(1),
            ..status
        })
    });
    let err = probe(&client)
        .after_patch(&json!({"spec": {"size": 2}}))
        .await
        .unwrap_err();
    task.abort();
    let (diagnosis, message) = not_reconciled(err);
    assert_eq!(diagnosis, Diagnosis::GenerationNotObserved);
    assert!(
        message.starts_with("controller writes status but never observes the new generation"),
        "{message}"
    );
    assert!(
        message.contains("stuck at absent while generation is 2"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn events_without_status_are_named_and_only_the_component_counts() {
    let (_server, client, widgets) = setup().await;
    let reference = widgets.get("w").await.unwrap().object_ref(&());
    let publish = |controller: &str| {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: controller.into(),
                instance: None,
            },
        );
        let reference = reference.clone();
        async move {
            recorder
                .publish(
                    &Event {
                        type_: EventType::Normal,
                        reason: "Resized".into(),
                        note: None,
                        action: "Reconcile".into(),
                        secondary: None,
                    },
                    &reference,
                )
                .await
                .unwrap();
        }
    };
    publish("widget-operator").await; // before probing: the "last one before"
    let p = probe(&client);
    let probing = tokio::spawn(async move { p.after_patch(&json!({"spec": {"size": 2}})).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    publish("someone-else").await;
    publish("widget-operator").await;
    let (diagnosis, message) = not_reconciled(probing.await.unwrap().unwrap_err());
    assert_eq!(diagnosis, Diagnosis::EventsWithoutStatus);
    // Seen at the first read after the publish at +1 s; exactly one counts.
    assert!(
        message.contains("events from widget-operator since restart: Resized at +1."),
        "{message}"
    );
    assert_eq!(message.matches("Resized").count(), 1, "{message}");
    assert!(!message.contains("someone-else"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn an_exited_controller_fails_at_once() {
    let (_server, client, _widgets) = setup().await;
    let running = Arc::new(AtomicBool::new(true));
    let flag = running.clone();
    let p = probe(&client)
        .within(Duration::from_secs(60))
        .controller_running(move || flag.load(Ordering::SeqCst));
    let probing = tokio::spawn(async move { p.after_patch(&json!({"spec": {"size": 2}})).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.store(false, Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    let (diagnosis, message) = not_reconciled(probing.await.unwrap().unwrap_err());
    assert_eq!(diagnosis, Diagnosis::ControllerExited);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "did not wait out the 60 s deadline"
    );
    assert!(
        message.contains("the controller task is no longer running"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn in_sync_object_is_proven_by_a_status_write() {
    let (_server, client, widgets) = setup().await;
    widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .unwrap();
    let task = controller(widgets, |w| {
        let status = w.status.clone().unwrap_or_default();
        Some(WidgetStatus {
            touched: Some(status.touched.unwrap_or(0) + 1),
            ..status
        })
    });
    let proof = probe(&client).reconciled().await.unwrap();
    task.abort();
    assert!(matches!(proof, Proof::StatusWrite { .. }), "{proof}");
}

#[tokio::test(start_paused = true)]
async fn missing_object_is_a_clear_error() {
    let (_server, client, _widgets) = setup().await;
    let err = LivenessProbe::<Widget>::new(client, NS, "nope")
        .reconciled()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot probe Widget/nope in ns live: it does not exist"
    );
    assert_eq!(err.diagnosis(), None);
}
