//! managedFields for writes that name no field manager: kube-apiserver
//! records every write, naming the writer by the User-Agent's product
//! (what precedes the first '/'), or by nothing when there is none.
//! kube-rs 5 sends no User-Agent, so its plain writes get entries with no
//! `manager`, exactly as on a real cluster.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::server;

fn entries(cm: &ConfigMap) -> Vec<Value> {
    cm.metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

fn config_map(data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": data})).unwrap()
}

#[tokio::test]
async fn kube_rs_writes_without_a_field_manager_are_recorded_without_a_manager() {
    let (_s, client) = server().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let cm = api
        .create(&PostParams::default(), &config_map(json!({"a": "1"})))
        .await
        .unwrap();
    let e = entries(&cm);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["operation"], "Update");
    assert_eq!(e[0]["apiVersion"], "v1");
    assert!(
        e[0].get("manager").is_none(),
        "no User-Agent, no manager: {e:?}"
    );
    assert_eq!(e[0]["fieldsV1"]["f:data"]["f:a"], json!({}));

    let mut next = cm.clone();
    next.data.as_mut().unwrap().insert("b".into(), "2".into());
    let cm = api
        .replace("settings", &PostParams::default(), &next)
        .await
        .unwrap();
    let e = entries(&cm);
    assert_eq!(e.len(), 1, "the same (nameless) manager: {e:?}");
    assert_eq!(e[0]["fieldsV1"]["f:data"]["f:b"], json!({}));

    let cm = api
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"c": "3"}})),
        )
        .await
        .unwrap();
    let e = entries(&cm);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["fieldsV1"]["f:data"]["f:c"], json!({}));

    // A named manager is a different owner.
    let cm = api
        .patch(
            "settings",
            &PatchParams {
                field_manager: Some("operator".into()),
                ..Default::default()
            },
            &Patch::Merge(json!({"data": {"d": "4"}})),
        )
        .await
        .unwrap();
    let e = entries(&cm);
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e.iter()
            .any(|x| x["manager"] == "operator" && x["fieldsV1"]["f:data"]["f:d"] == json!({}))
    );
}

#[tokio::test]
async fn the_user_agent_names_the_manager() {
    let (_s, client) = server().await;
    let body = serde_json::to_vec(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings"}, "data": {"a": "1"},
    }))
    .unwrap();
    let req = http::Request::post("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .header("user-agent", "my-operator/1.4.0 (linux/amd64) kube-rs/5")
        .body(body)
        .unwrap();
    let resp = client.send(req.map(Into::into)).await.unwrap();
    assert_eq!(resp.status(), 201);
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let e = entries(&api.get("settings").await.unwrap());
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["manager"], "my-operator");
}
