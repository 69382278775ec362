//! The recorder against the embedded API server, under paused time.

use super::{Recorder, Track};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Namespace, Pod};
use kube::api::{DeleteParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder as EventRecorder, Reporter};
use kube::{Api, Client, Resource};
use kube_harness_apiserver::{ApiServer, TokioClock};
use serde_json::json;
use std::time::Duration;

async fn server(ns: &str) -> (ApiServer, Client) {
    let server = ApiServer::builder()
        .clock(TokioClock::new("2026-11-23T10:00:00Z".parse().unwrap()))
        .start()
        .await
        .unwrap();
    let client = server.client();
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    (server, client)
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "node", "image": "sei:v1"}]}
    }))
    .unwrap()
}

async fn set_phase(pods: &Api<Pod>, name: &str, phase: &str, ready: &str) {
    let mut p = pods.get(name).await.unwrap();
    p.status = Some(
        serde_json::from_value(json!({
            "phase": phase,
            "conditions": [{"type": "Ready", "status": ready}]
        }))
        .unwrap(),
    );
    pods.replace_status(name, &PostParams::default(), &p)
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn records_events_and_transitions_in_order() {
    let (_server, client) = server("tl").await;
    let rec = Recorder::start(client.clone(), "tl").await.unwrap();
    rec.track::<Pod>(Track::named("seid-0").field_as("image", "spec.containers[0].image"))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "tl");

    pods.create(&PostParams::default(), &pod("seid-0"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("untracked"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    set_phase(&pods, "seid-0", "Pending", "False").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    set_phase(&pods, "seid-0", "Running", "True").await;

    // A core/v1 Event, as kubelet writes them.
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), "tl");
    let ev: CoreEvent = serde_json::from_value(json!({
        "metadata": {"name": "seid-0.killing"},
        "involvedObject": {"kind": "Pod", "name": "seid-0", "namespace": "tl"},
        "reason": "Killing", "message": "Stopping container node", "type": "Normal",
        "source": {"component": "kubelet"}
    }))
    .unwrap();
    core.create(&PostParams::default(), &ev).await.unwrap();

    // An events.k8s.io/v1 Event published twice through kube's Recorder:
    // the second publish is a series update, a second occurrence.
    let publisher = EventRecorder::new(
        client.clone(),
        Reporter {
            controller: "test-operator".into(),
            instance: None,
        },
    );
    let reference = pods.get("seid-0").await.unwrap().object_ref(&());
    let note = Event {
        type_: EventType::Warning,
        reason: "Flapping".into(),
        note: Some("ready went back and forth".into()),
        action: "Probe".into(),
        secondary: None,
    };
    publisher.publish(&note, &reference).await.unwrap();
    publisher.publish(&note, &reference).await.unwrap();

    tokio::time::sleep(Duration::from_secs(1)).await;
    pods.delete("seid-0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    rec.sync().await.unwrap();

    let tl = rec.timeline();
    let rendered = tl.render();
    tl.expect("created").on("Pod/seid-0").exactly(1).unwrap();
    tl.expect("created").on("Pod/untracked").never().unwrap();
    tl.expect("phase=Pending").exactly(1).unwrap();
    tl.expect("phase=Running").exactly(1).unwrap();
    tl.expect("Ready=True").exactly(1).unwrap();
    tl.expect("Killing").exactly(1).unwrap();
    tl.expect("Flapping").exactly(2).unwrap();
    tl.expect("deleted").on("Pod/seid-0").exactly(1).unwrap();
    tl.before("created", "phase=Pending").unwrap();
    tl.before("phase=Pending", "phase=Running").unwrap();
    tl.before("Killing", "deleted").unwrap();

    let running = tl.first("phase=Running").unwrap();
    assert_eq!(running.at, Duration::from_secs(2), "{rendered}");
    assert!(
        rendered.contains("Pod/seid-0  Flapping  [Warning] ready went back and forth"),
        "{rendered}"
    );
    assert!(
        rendered.contains("Pod/seid-0  image     absent → sei:v1"),
        "{rendered}"
    );

    // A second sync adds nothing: events are counted once per occurrence.
    rec.sync().await.unwrap();
    assert_eq!(rec.timeline().entries().len(), tl.entries().len());
}

#[tokio::test(start_paused = true)]
async fn notes_from_the_test_appear_in_the_timeline() {
    let (_server, client) = server("notes").await;
    let rec = Recorder::start(client, "notes").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rec.note(
        "Operator/rollout-operator",
        "restarted",
        "silent_after_restart",
    );
    let tl = rec.timeline();
    assert_eq!(tl.entries().len(), 1);
    assert_eq!(tl.entries()[0].at, Duration::from_millis(1500));
    assert_eq!(
        tl.render(),
        "timeline (ns notes):\n  +1.500s  Operator/rollout-operator  restarted  silent_after_restart"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_recorder_stops_its_watches() {
    let (_server, client) = server("drop").await;
    let rec = Recorder::start(client.clone(), "drop").await.unwrap();
    let tasks: Vec<_> = rec
        .tasks
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.abort_handle())
        .collect();
    assert!(!tasks.is_empty());
    drop(rec);
    tokio::task::yield_now().await;
    assert!(tasks.iter().all(|t| t.is_finished()));
}
