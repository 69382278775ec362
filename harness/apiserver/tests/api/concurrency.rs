//! Optimistic concurrency loses nothing: 16 writers doing
//! read-modify-write increments with the resourceVersion they read, on one
//! object and on 100, in-process and over HTTP. Every increment lands once;
//! every write that lost a race gets 409 Conflict and nothing else
//! (apiserver `storage/etcd3/store.go` GuaranteedUpdate; the message of
//! `storage.NewConflictError`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

use crate::common::server;

const WRITERS: usize = 16;
const INCREMENTS: usize = 25;

/// One writer: `INCREMENTS` increments, each retried on 409 until it lands.
/// Returns how many conflicts it met.
async fn writer(api: Api<ConfigMap>, targets: Vec<String>) -> usize {
    let mut conflicts = 0;
    for name in targets {
        loop {
            let mut cm = api.get(&name).await.expect("reads never fail");
            let data = cm.data.get_or_insert_with(Default::default);
            let n: u64 = data["n"].parse().unwrap();
            data.insert("n".into(), (n + 1).to_string());
            match api.replace(&name, &PostParams::default(), &cm).await {
                Ok(_) => break,
                Err(kube::Error::Api(s)) if s.code == 409 && s.reason == "Conflict" => {
                    assert!(s.message.contains("the object has been modified"), "{s:?}");
                    conflicts += 1;
                }
                Err(other) => panic!("a losing write must get 409 Conflict, got {other:?}"),
            }
        }
    }
    conflicts
}

/// Runs the writers against `objects` config maps named `{prefix}{i}`;
/// checks every object holds exactly the increments aimed at it. Returns
/// the conflicts met.
async fn increments_land_once(client: kube::Client, prefix: &str, objects: usize) -> usize {
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..objects {
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": format!("{prefix}{i}")}, "data": {"n": "0"}}),
        )
        .unwrap();
        api.create(&PostParams::default(), &cm).await.unwrap();
    }
    let mut expected = BTreeMap::new();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let targets: Vec<String> = (0..INCREMENTS)
            .map(|i| format!("{prefix}{}", (w * 7 + i * 13) % objects))
            .collect();
        for t in &targets {
            *expected.entry(t.clone()).or_insert(0u64) += 1;
        }
        tasks.push(tokio::spawn(writer(api.clone(), targets)));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.expect("a writer panicked");
    }
    for (name, want) in expected {
        let got: u64 = api.get(&name).await.unwrap().data.unwrap()["n"]
            .parse()
            .unwrap();
        assert_eq!(got, want, "{name}: increments lost or doubled");
    }
    conflicts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_lose_nothing_in_process() {
    let (_server, client) = server().await;
    let one = increments_land_once(client.clone(), "one-", 1).await;
    let hundred = increments_land_once(client, "many-", 100).await;
    println!("in-process: {one} conflicts on one object, {hundred} on a hundred");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_writers_lose_nothing_over_http() {
    let (server, _) = server().await;
    let endpoint = server.serve_http().await.unwrap();
    let client = kube::Client::try_from(kube::Config::new(endpoint.url.parse().unwrap())).unwrap();
    let one = increments_land_once(client.clone(), "one-", 1).await;
    let hundred = increments_land_once(client, "many-", 100).await;
    println!("over HTTP: {one} conflicts on one object, {hundred} on a hundred");
    assert!(
        one > 0,
        "16 writers over sockets on one object must have raced at least once"
    );
}
