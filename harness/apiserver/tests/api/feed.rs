//! The in-process change feed gives what a watch from the same
//! resourceVersion delivers (same objects, same order, same 410 horizon),
//! bounded above by a revision, so an in-process controller's cache can be
//! exactly as fresh as the last write.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, PostParams, WatchEvent, WatchParams};
use kube_harness_apiserver::{ApiServer, Changes};
use serde_json::json;

use crate::common::{pod, server};

fn summary(changes: &Changes) -> Vec<String> {
    let Changes::Events(events) = changes else {
        panic!("expected events, got {changes:?}");
    };
    events
        .iter()
        .map(|c| {
            let (ns, name) = c.key();
            let what = if c.is_delete() { "DELETED" } else { "SET" };
            format!("{what} {ns}/{name}")
        })
        .collect()
}

#[tokio::test]
async fn changes_match_a_watch_from_the_same_version() {
    let (server, client) = server().await;
    let feed = server.change_feed();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let other: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let since = feed.revision().unwrap();
    let pp = PostParams::default();
    pods.create(&pp, &pod("a")).await.unwrap();
    other.create(&pp, &pod("elsewhere")).await.unwrap();
    pods.create(&pp, &pod("b")).await.unwrap();
    pods.delete("a", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let until = feed.revision().unwrap();
    pods.create(&pp, &pod("later")).await.unwrap();

    let changes = feed.changes("", "pods", Some("default"), since, until);
    assert_eq!(
        summary(&changes),
        ["SET default/a", "SET default/b", "DELETED default/a"],
        "namespace filtered, bounded by `until`, in log order"
    );
    let all = feed.changes("", "pods", None, since, until);
    assert_eq!(summary(&all).len(), 4, "{all:?}");

    // The same range as a kube-rs watch sees it.
    let wp = WatchParams::default().timeout(1);
    let mut watch = pods.watch(&wp, &since.to_string()).await.unwrap().boxed();
    let mut seen = Vec::new();
    while let Some(e) = watch.try_next().await.unwrap() {
        let (what, p) = match e {
            WatchEvent::Added(p) | WatchEvent::Modified(p) => ("SET", p),
            WatchEvent::Deleted(p) => ("DELETED", p),
            _ => continue,
        };
        let rv: u64 = p
            .metadata
            .resource_version
            .clone()
            .unwrap()
            .parse()
            .unwrap();
        if rv <= until {
            seen.push(format!("{what} default/{}", p.metadata.name.unwrap()));
        }
        if rv >= until {
            break;
        }
    }
    assert_eq!(seen, summary(&changes));

    let Changes::Events(events) = changes else {
        unreachable!()
    };
    let b: Pod = events[1].object().unwrap();
    assert_eq!(b.metadata.name.as_deref(), Some("b"));
    assert_eq!(
        b.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx:1.27")
    );
}

#[tokio::test]
async fn a_start_older_than_the_history_is_expired_and_unknown_resources_are_not_served() {
    let server = ApiServer::builder().watch_history(2).start().await.unwrap();
    let feed = server.change_feed();
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    let since = feed.revision().unwrap();
    for i in 0..3 {
        let cm = serde_json::from_value(json!({"metadata": {"name": format!("c{i}")}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let until = feed.revision().unwrap();
    // Watching from `since` now answers 410 Gone; the feed says the same.
    assert!(matches!(
        feed.changes("", "configmaps", Some("default"), since, until),
        Changes::Expired
    ));
    assert!(matches!(
        feed.changes("", "configmaps", Some("default"), until - 1, until),
        Changes::Events(e) if e.len() == 1
    ));
    assert!(matches!(
        feed.changes("example.com", "widgets", None, since, until),
        Changes::NotServed
    ));
}
