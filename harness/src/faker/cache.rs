//! Bringing the last world read up to date from an in-process server's
//! change feed, so a round during a rollout costs what changed since the
//! last one instead of a relist of every kind (which grew with the square
//! of the objects over a rollout).

use kube_harness_apiserver::{Change, ChangeFeed, Changes};
use serde::de::DeserializeOwned;

use super::model::World;

/// Applies every change with `since < resourceVersion <= until` to
/// `world`. `false` when the world cannot be brought up to date this way
/// (the history no longer reaches `since`, the server is gone, an object
/// does not parse): list again. On `false`, `world` may be half updated.
pub(super) fn catch_up(
    world: &mut World,
    feed: &ChangeFeed,
    namespace: Option<&str>,
    since: u64,
    until: u64,
) -> bool {
    let read = Reader {
        feed,
        namespace,
        since,
        until,
    };
    read.namespaced(&mut world.statefulsets)
        && read.namespaced(&mut world.deployments)
        && read.namespaced(&mut world.replicasets)
        && read.namespaced(&mut world.revisions)
        && read.namespaced(&mut world.pods)
        && read.namespaced(&mut world.pvcs)
        && read.namespaced(&mut world.pdbs)
        && read.namespaced(&mut world.jobs)
        && read.cluster(&mut world.pvs)
        && read.cluster(&mut world.nodes)
        && read.cluster(&mut world.attachments)
}

struct Reader<'a> {
    feed: &'a ChangeFeed,
    namespace: Option<&'a str>,
    since: u64,
    until: u64,
}

impl Reader<'_> {
    fn namespaced<K>(&self, items: &mut Vec<K>) -> bool
    where
        K: kube::Resource<DynamicType = ()> + k8s_openapi::Resource + DeserializeOwned,
    {
        self.apply(items, self.namespace)
    }

    fn cluster<K>(&self, items: &mut Vec<K>) -> bool
    where
        K: kube::Resource<DynamicType = ()> + k8s_openapi::Resource + DeserializeOwned,
    {
        self.apply(items, None)
    }

    fn apply<K>(&self, items: &mut Vec<K>, namespace: Option<&str>) -> bool
    where
        K: kube::Resource<DynamicType = ()> + k8s_openapi::Resource + DeserializeOwned,
    {
        match self.feed.changes(
            K::GROUP,
            K::URL_PATH_SEGMENT,
            namespace,
            self.since,
            self.until,
        ) {
            Changes::Events(changes) => changes.iter().all(|c| apply_one(items, c)),
            Changes::Expired | Changes::NotServed => false,
        }
    }
}

/// One change to a list kept in the server's order (namespace, then name),
/// as a watch-fed store applies a watch event.
fn apply_one<K>(items: &mut Vec<K>, change: &Change) -> bool
where
    K: kube::Resource<DynamicType = ()> + k8s_openapi::Resource + DeserializeOwned,
{
    let key = change.key();
    let at = items.binary_search_by(|o| {
        let m = o.meta();
        (
            m.namespace.as_deref().unwrap_or(""),
            m.name.as_deref().unwrap_or(""),
        )
            .cmp(&key)
    });
    if change.is_delete() {
        if let Ok(i) = at {
            items.remove(i);
        }
        return true;
    }
    let object = match change.object::<K>() {
        Ok(object) => object,
        Err(error) => {
            let (namespace, name) = key;
            tracing::warn!(%error, namespace, name, kind = K::KIND, "status faker: a changed object does not parse; listing again");
            return false;
        }
    };
    match at {
        Ok(i) => items[i] = object,
        Err(i) => items.insert(i, object),
    }
    true
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use k8s_openapi::api::apps::v1::StatefulSet;
    use k8s_openapi::api::core::v1::{Namespace, Pod};
    use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
    use kube_harness_apiserver::{ApiServer, TokioClock};
    use serde_json::{Value, json};

    use super::super::model::World;
    use super::super::{StampFn, StatusFaker, driver, sim};

    fn fingerprint(w: &World) -> Vec<Value> {
        let v = |x: Result<Value, serde_json::Error>| x.expect("serializable");
        vec![
            v(serde_json::to_value(&w.statefulsets)),
            v(serde_json::to_value(&w.deployments)),
            v(serde_json::to_value(&w.replicasets)),
            v(serde_json::to_value(&w.revisions)),
            v(serde_json::to_value(&w.pods)),
            v(serde_json::to_value(&w.pvcs)),
            v(serde_json::to_value(&w.pvs)),
            v(serde_json::to_value(&w.nodes)),
            v(serde_json::to_value(&w.pdbs)),
            v(serde_json::to_value(&w.attachments)),
            v(serde_json::to_value(&w.jobs)),
        ]
    }

    fn sts_in(ns: &str, replicas: i32) -> StatefulSet {
        let mut s = sim::statefulset("db", replicas, "db:1");
        s["metadata"]["namespace"] = json!(ns);
        serde_json::from_value(s).expect("a StatefulSet")
    }

    /// Round after round of a rollout, a scale-down, a pod deleted by hand
    /// and the StatefulSet deleted, the world caught up from the feed is
    /// the world a fresh list of every kind reads, and objects of another
    /// namespace never enter it.
    #[tokio::test(start_paused = true)]
    async fn the_caught_up_world_is_the_listed_world() {
        let clock = TokioClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let server = ApiServer::builder().clock(clock).start().await.unwrap();
        let client = server.client();
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let pp = PostParams::default();
        for ns in ["ns", "other"] {
            let n = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
            namespaces.create(&pp, &n).await.unwrap();
        }
        let stamp: StampFn = Arc::new(move || kube_harness_apiserver::Clock::now(&clock));
        let faker = StatusFaker::new(client.clone(), Some("ns".into()), stamp);
        faker.read_changes_from(server.change_feed());
        let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "ns");
        sts.create(&pp, &sts_in("ns", 3)).await.unwrap();
        Api::<StatefulSet>::namespaced(client.clone(), "other")
            .create(&pp, &sts_in("other", 2))
            .await
            .unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "ns");
        let pps = PatchParams::default();
        for round in 0..120 {
            match round {
                40 => drop(sts.patch("db", &pps, &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:2"}]}}}}))).await.unwrap()),
                70 => drop(sts.patch("db", &pps, &Patch::Merge(json!({"spec": {"replicas": 1}}))).await.unwrap()),
                90 => drop(pods.delete("db-0", &DeleteParams::default()).await.unwrap()),
                110 => drop(sts.delete("db", &DeleteParams::default()).await.unwrap()),
                _ => {}
            }
            faker.step().await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            let cached = faker.catch_up().expect("caught up from the feed");
            let listed = driver::read_world(&client, Some("ns")).await.unwrap();
            assert_eq!(fingerprint(&cached), fingerprint(&listed), "round {round}");
            assert!(
                cached
                    .pods
                    .iter()
                    .all(|p| p.metadata.namespace.as_deref() == Some("ns")),
                "round {round}: a pod of another namespace entered the world"
            );
        }
        let world = faker.catch_up().unwrap();
        assert!(
            !world.nodes.is_empty(),
            "the faker's nodes are in the world"
        );
    }
}
