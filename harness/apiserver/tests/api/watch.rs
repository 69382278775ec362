//! Watches: ordered events, resume from a resourceVersion, 410 Gone for
//! expired history, bookmarks, timeouts, and selector transitions; plus
//! kube-runtime watchers and reflectors staying in sync.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

use crate::common::{pod, server};

fn cm(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": value}})).unwrap()
}

fn summary(e: &WatchEvent<ConfigMap>) -> String {
    match e {
        WatchEvent::Added(o) => format!("ADDED {}", o.metadata.name.as_deref().unwrap()),
        WatchEvent::Modified(o) => format!(
            "MODIFIED {}={}",
            o.metadata.name.as_deref().unwrap(),
            o.data.as_ref().unwrap()["v"]
        ),
        WatchEvent::Deleted(o) => format!("DELETED {}", o.metadata.name.as_deref().unwrap()),
        WatchEvent::Bookmark(_) => "BOOKMARK".into(),
        WatchEvent::Error(e) => format!("ERROR {}", e.code),
    }
}

#[tokio::test(start_paused = true)]
async fn watch_delivers_ordered_events_from_a_version() {
    let (_s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let start = cms
        .create(&PostParams::default(), &cm("a", "1"))
        .await
        .unwrap();
    let rv = start.metadata.resource_version.clone().unwrap();

    let mut a = start.clone();
    a.data.as_mut().unwrap().insert("v".into(), "2".into());
    cms.replace("a", &PostParams::default(), &a).await.unwrap();
    cms.create(&PostParams::default(), &cm("b", "1"))
        .await
        .unwrap();
    cms.delete("a", &DeleteParams::default()).await.unwrap();

    // Resuming from the first version replays what happened since, in order.
    let events: Vec<String> = cms
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .map_ok(|e| summary(&e))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events, ["MODIFIED a=2", "ADDED b", "DELETED a"]);

    // "0" starts from the current state.
    let events: Vec<String> = cms
        .watch(&WatchParams::default().timeout(5), "0")
        .await
        .unwrap()
        .map_ok(|e| summary(&e))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events, ["ADDED b"]);
}

#[tokio::test(start_paused = true)]
async fn expired_version_answers_410_gone() {
    let server = kube_harness_apiserver::ApiServer::builder()
        .watch_history(5)
        .start()
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let first = cms
        .create(&PostParams::default(), &cm("a", "0"))
        .await
        .unwrap();
    let old_rv = first.metadata.resource_version.unwrap();
    for i in 1..=10 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), "x"))
            .await
            .unwrap();
    }
    let events: Vec<_> = cms
        .watch(&WatchParams::default().timeout(5), &old_rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    match events.as_slice() {
        [WatchEvent::Error(e)] => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected one 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn bookmarks_and_timeouts_are_honoured() {
    let (_s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let wp = WatchParams::default().timeout(150); // bookmarks are on by default
    let started = tokio::time::Instant::now();
    let events: Vec<String> = cms
        .watch(&wp, "0")
        .await
        .unwrap()
        .map_ok(|e| summary(&e))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events, ["BOOKMARK", "BOOKMARK"], "one bookmark a minute");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(150) && waited < Duration::from_secs(151),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn leaving_a_label_selection_is_a_delete() {
    let (_s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut a = cm("a", "1");
    a.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
    let a = cms.create(&PostParams::default(), &a).await.unwrap();
    let rv = a.metadata.resource_version.clone().unwrap();
    let mut moved = a.clone();
    moved.metadata.labels = Some([("team".to_string(), "y".to_string())].into());
    let moved = cms
        .replace("a", &PostParams::default(), &moved)
        .await
        .unwrap();
    let mut back = moved.clone();
    back.metadata.labels = Some([("team".to_string(), "x".to_string())].into());
    cms.replace("a", &PostParams::default(), &back)
        .await
        .unwrap();

    let wp = WatchParams::default().labels("team=x").timeout(5);
    let events: Vec<String> = cms
        .watch(&wp, &rv)
        .await
        .unwrap()
        .map_ok(|e| summary(&e))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events, ["DELETED a", "ADDED a"]);
}

#[tokio::test(start_paused = true)]
async fn reflector_stays_in_sync_through_1000_writes() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (reader, writer) = reflector::store::<Pod>();
    let stream = reflector(writer, watcher(pods.clone(), watcher::Config::default()))
        .applied_objects()
        .boxed();
    let task = tokio::spawn(async move {
        stream.for_each(|_| async {}).await;
    });
    reader.wait_until_ready().await.unwrap();

    // 1,000 writes: 400 creates, 400 label updates, 200 deletes.
    for i in 0..400 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}")))
            .await
            .unwrap();
    }
    for i in 0..400 {
        let mut p = pods.get(&format!("p{i}")).await.unwrap();
        p.metadata
            .labels
            .get_or_insert_default()
            .insert("gen".into(), "2".into());
        pods.replace(&format!("p{i}"), &PostParams::default(), &p)
            .await
            .unwrap();
    }
    for i in 0..200 {
        pods.delete(&format!("p{i}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    let last_rv = pods.get("p399").await.unwrap().metadata.resource_version;

    // Bounded wait for the reflector to catch up.
    let synced = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let state = reader.state();
            let caught_up = state.len() == 200
                && state
                    .iter()
                    .all(|p| p.metadata.labels.as_ref().unwrap()["gen"] == "2")
                && reader
                    .get(&reflector::ObjectRef::new("p399").within("default"))
                    .is_some_and(|p| p.metadata.resource_version == last_rv);
            if caught_up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let state = reader.state();
    assert!(
        synced.is_ok(),
        "reflector holds {} pods, want 200",
        state.len()
    );
    let mut names: Vec<String> = state
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    names.sort_by_key(|n| n[1..].parse::<u32>().unwrap());
    assert_eq!(names.first().map(String::as_str), Some("p200"));
    assert_eq!(names.last().map(String::as_str), Some("p399"));
    task.abort();
}
