//! List with label and field selectors, and paginated lists.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

use crate::common::{pod, server, status};

async fn seed(api: &Api<Pod>) {
    for (name, app, tier, node, phase) in [
        ("a", "web", "front", "n1", "Running"),
        ("b", "web", "back", "n2", "Pending"),
        ("c", "db", "back", "n1", "Running"),
        ("d", "cache", "", "n3", "Failed"),
    ] {
        let mut p = pod(name);
        let labels = p.metadata.labels.get_or_insert_default();
        labels.insert("app".into(), app.into());
        if !tier.is_empty() {
            labels.insert("tier".into(), tier.into());
        }
        p.spec.as_mut().unwrap().node_name = Some(node.into());
        let created = api.create(&PostParams::default(), &p).await.unwrap();
        let mut s = created.clone();
        s.status.as_mut().unwrap().phase = Some(phase.into());
        api.replace_status(name, &PostParams::default(), &s)
            .await
            .unwrap();
    }
}

async fn names(api: &Api<Pod>, lp: &ListParams) -> Vec<String> {
    api.list(lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| p.metadata.name.unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn label_selectors() {
    let (_s, client) = server().await;
    let api: Api<Pod> = Api::namespaced(client, "default");
    seed(&api).await;
    for (sel, want) in [
        ("app=web", vec!["a", "b"]),
        ("app!=web", vec!["c", "d"]),
        ("app in (db,cache)", vec!["c", "d"]),
        ("tier notin (back)", vec!["a", "d"]),
        ("tier", vec!["a", "b", "c"]),
        ("!tier", vec!["d"]),
        ("app=web,tier=back", vec!["b"]),
    ] {
        assert_eq!(
            names(&api, &ListParams::default().labels(sel)).await,
            want,
            "{sel}"
        );
    }
    let err = status(
        api.list(&ListParams::default().labels("app in web"))
            .await
            .unwrap_err(),
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
}

#[tokio::test(start_paused = true)]
async fn field_selectors() {
    let (_s, client) = server().await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    seed(&api).await;
    for (sel, want) in [
        ("metadata.name=b", vec!["b"]),
        ("spec.nodeName=n1", vec!["a", "c"]),
        ("status.phase!=Running", vec!["b", "d"]),
        ("spec.nodeName=n1,status.phase=Running", vec!["a", "c"]),
        (
            "metadata.namespace=default,metadata.name!=a",
            vec!["b", "c", "d"],
        ),
    ] {
        assert_eq!(
            names(&api, &ListParams::default().fields(sel)).await,
            want,
            "{sel}"
        );
    }
    let err = status(
        api.list(&ListParams::default().fields("spec.image=x"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "field label not supported: spec.image")
    );

    let events: Api<Event> = Api::namespaced(client, "default");
    let ev: Event = serde_json::from_value(json!({
        "metadata": {"name": "a.1"},
        "involvedObject": {"kind": "Pod", "name": "a", "namespace": "default"},
        "reason": "Started", "type": "Normal", "message": "started"
    }))
    .unwrap();
    events.create(&PostParams::default(), &ev).await.unwrap();
    let found = events
        .list(
            &ListParams::default()
                .fields("involvedObject.kind=Pod,involvedObject.name=a,reason=Started"),
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    let none = events
        .list(&ListParams::default().fields("involvedObject.name=b"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test(start_paused = true)]
async fn paginated_list_visits_every_item_once() {
    let (_s, client) = server().await;
    let api: Api<Pod> = Api::all(client.clone());
    let ns_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..25 {
        ns_api
            .create(&PostParams::default(), &pod(&format!("p{i:02}")))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut lp = ListParams::default().limit(10);
    let mut pages = 0;
    loop {
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        seen.extend(page.items.into_iter().map(|p| p.metadata.name.unwrap()));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => {
                if pages == 1 {
                    assert_eq!(page.metadata.remaining_item_count, Some(15));
                }
                lp = lp.continue_token(&token);
            }
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    assert_eq!(seen, want);

    let err = status(
        api.list(&ListParams::default().continue_token("garbage"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 400);
}

/// Unset fields select as the kind's `ToSelectableFields` renders them:
/// a schedulable node (no `spec.unschedulable`) is `false`
/// (pkg/registry/core/node/strategy.go, `fmt.Sprint`), as kube-client's
/// cordon test and e2e's `GetReadySchedulableNodes` rely on.
#[tokio::test]
async fn an_unset_bool_field_selects_as_false() {
    let (_server, client) = crate::common::server().await;
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    for (name, spec) in [("a", json!({})), ("b", json!({"unschedulable": true}))] {
        let node =
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec});
        crate::common::create(&nodes, node).await;
    }
    let names = |sel: &'static str| {
        let nodes = nodes.clone();
        async move {
            let lp = kube::api::ListParams::default().fields(sel);
            let list = nodes.list(&lp).await.unwrap();
            list.items
                .into_iter()
                .map(|n| n.metadata.name.unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("spec.unschedulable=false").await, ["a"]);
    assert_eq!(names("spec.unschedulable==true").await, ["b"]);
    assert_eq!(names("spec.unschedulable!=true").await, ["a"]);

    // One object is written as Go writes a typed object: kind first.
    let (_, body) = crate::common::get(&client, "/api/v1/nodes/a").await;
    let keys: Vec<&String> = body.as_object().unwrap().keys().take(3).collect();
    assert_eq!(keys, ["kind", "apiVersion", "metadata"]);
}
