//! Watch delivery loses nothing: under several concurrent writers, 100
//! watchers started at different resourceVersions (some replaying history,
//! a quarter with a label selector) each receive every event they should,
//! exactly once and in resourceVersion order. A watcher too slow to read is
//! not buffered without bound: once the history it needs is gone it gets
//! the 410 `ERROR` event (apiserver `storage/cacher/watch_cache.go`
//! `getAllEventsSinceLocked`) and must list again.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

use crate::common::server;

const WRITERS: usize = 4;
const OBJECTS_PER_WRITER: usize = 5;
const UPDATES: usize = 100;

/// One write as the writer saw it: its resourceVersion and writer label.
type Write = (u64, usize);

async fn write_batch(api: Api<ConfigMap>, w: usize, updates: usize, round: usize) -> Vec<Write> {
    let mut done = Vec::new();
    for u in 0..updates {
        let name = format!("w{w}-{}", u % OBJECTS_PER_WRITER);
        let cm = if round == 0 && u < OBJECTS_PER_WRITER {
            let cm: ConfigMap = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"writer": w.to_string()}},
                "data": {"u": "0"}
            }))
            .unwrap();
            api.create(&PostParams::default(), &cm).await.unwrap()
        } else {
            let patch = Patch::Merge(json!({"data": {"u": format!("{round}-{u}")}}));
            api.patch(&name, &PatchParams::default(), &patch)
                .await
                .unwrap()
        };
        let rv = cm.metadata.resource_version.unwrap().parse().unwrap();
        done.push((rv, w));
    }
    done
}

/// Every writer writes `UPDATES` times, concurrently.
async fn round(api: &Api<ConfigMap>, round: usize) -> Vec<Write> {
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(write_batch(api.clone(), w, UPDATES, round)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

struct Watcher {
    from: u64,
    writer: Option<usize>,
    task: tokio::task::JoinHandle<Vec<u64>>,
}

/// The last version a watcher from `from` (optionally of one writer's
/// objects) must see, once all writes are known.
fn target(writes: &[Write], from: u64, writer: Option<usize>) -> u64 {
    writes
        .iter()
        .filter(|(rv, by)| *rv > from && writer.is_none_or(|x| x == *by))
        .map(|(rv, _)| *rv)
        .max()
        .unwrap_or(from)
}

/// Starts a watch from `from` and collects resourceVersions until it has
/// seen the last one it should (known once `done` carries every write).
fn watch(
    api: &Api<ConfigMap>,
    from: u64,
    writer: Option<usize>,
    mut done: tokio::sync::watch::Receiver<Option<Vec<Write>>>,
) -> Watcher {
    let api = api.clone();
    let task = tokio::spawn(async move {
        let mut wp = WatchParams::default().timeout(290).disable_bookmarks();
        if let Some(w) = writer {
            wp = wp.labels(&format!("writer={w}"));
        }
        let mut stream = api.watch(&wp, &from.to_string()).await.unwrap().boxed();
        let mut seen = Vec::new();
        loop {
            let finished = done
                .borrow()
                .as_ref()
                .map(|writes| target(writes, from, writer));
            if finished.is_some_and(|t| seen.last().copied().unwrap_or(from) >= t) {
                return seen;
            }
            tokio::select! {
                event = stream.try_next() => {
                    let cm = match event.unwrap() {
                        Some(WatchEvent::Added(cm) | WatchEvent::Modified(cm)) => cm,
                        other => panic!("unexpected event {other:?}"),
                    };
                    seen.push(cm.metadata.resource_version.unwrap().parse().unwrap());
                }
                _ = done.changed() => {}
            }
        }
    });
    Watcher { from, writer, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_watchers_get_every_event_once_and_in_order() {
    let (_server, client) = server().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let start: u64 = api
        .list(&Default::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
        .parse()
        .unwrap();
    let mut writes = round(&api, 0).await;
    let firsts: Vec<u64> = writes.iter().map(|w| w.0).collect();
    let mid = *firsts.iter().max().unwrap();
    // Watchers start while the second round runs: a quarter replay the
    // first round from its start, a quarter from points inside it, the
    // rest from its end; a quarter watch one writer's objects only.
    let (tx, rx) = tokio::sync::watch::channel(None);
    let second = {
        let api = api.clone();
        tokio::spawn(async move { round(&api, 1).await })
    };
    let watchers: Vec<Watcher> = (0..100)
        .map(|i| {
            let from = match i % 4 {
                0 => start,
                1 => firsts[i * 3 % firsts.len()],
                _ => mid,
            };
            let writer = (i % 4 == 3).then_some(i % WRITERS);
            watch(&api, from, writer, rx.clone())
        })
        .collect();
    writes.extend(second.await.unwrap());
    tx.send(Some(writes.clone())).unwrap();
    for w in watchers {
        let seen = w.task.await.unwrap();
        let expected: Vec<u64> = writes
            .iter()
            .filter(|(rv, by)| *rv > w.from && w.writer.is_none_or(|x| x == *by))
            .map(|(rv, _)| *rv)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            seen, expected,
            "the watcher from {} (writer {:?}) saw events out of order, twice or not at all",
            w.from, w.writer
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_watcher_too_slow_to_read_gets_410_once_its_history_is_gone() {
    let server = kube_harness_apiserver::ApiServer::builder()
        .watch_history(50)
        .start()
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let rv = api.list(&Default::default()).await.unwrap().metadata;
    let mut slow = api
        .watch(
            &WatchParams::default().timeout(60),
            &rv.resource_version.unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    // The watcher reads nothing while 200 writes go by.
    for i in 0..200 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("c{i}")}})).unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    match slow.try_next().await.unwrap() {
        Some(WatchEvent::Error(e)) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
            assert!(e.message.starts_with("too old resource version: "), "{e:?}");
        }
        other => panic!("expected the 410 ERROR event, got {other:?}"),
    }
    assert!(
        slow.try_next().await.unwrap().is_none(),
        "the watch ends after it"
    );
}
