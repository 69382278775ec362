//! CustomResourceDefinitions: a `#[derive(CustomResource)]` type served
//! with its subresources, printer columns and discovery; CRD directories;
//! invalid schemas; instances removed with their definition.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{Discovery, Scope};
use serde_json::json;

use crate::common::{
    Database, DatabaseStatus, database, install_database_crd, raw, server, status,
};

#[tokio::test(start_paused = true)]
async fn custom_resource_crud_status_and_scale() {
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");

    let created = dbs
        .create(&PostParams::default(), &database("orders", 1))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.spec.replicas, 1);
    assert!(created.status.is_none());

    let mut st = created.clone();
    st.status = Some(DatabaseStatus {
        replicas: 1,
        ready: true,
        selector: Some("app=orders".into()),
    });
    let with_status = dbs
        .replace_status("orders", &PostParams::default(), &st)
        .await
        .unwrap();
    assert!(with_status.status.as_ref().unwrap().ready);
    assert_eq!(
        with_status.metadata.generation,
        Some(1),
        "status writes keep generation"
    );

    let scale = dbs.get_scale("orders").await.unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(
        scale.status.as_ref().unwrap().selector.as_deref(),
        Some("app=orders")
    );
    let mut up = scale;
    up.spec.as_mut().unwrap().replicas = Some(4);
    dbs.replace_scale("orders", &PostParams::default(), &up)
        .await
        .unwrap();
    let scaled = dbs.get("orders").await.unwrap();
    assert_eq!(scaled.spec.replicas, 4);
    assert_eq!(scaled.metadata.generation, Some(2));
    assert!(scaled.status.as_ref().unwrap().ready, "scale keeps status");

    // Custom resources need a resourceVersion on update.
    let mut blind = scaled.clone();
    blind.metadata.resource_version = None;
    let err = status(
        dbs.replace("orders", &PostParams::default(), &blind)
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code, 422, "{}", err.message);

    assert_eq!(
        dbs.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    dbs.delete("orders", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(status(dbs.get("orders").await.unwrap_err()).code, 404);
}

#[tokio::test(start_paused = true)]
async fn schema_prunes_unknown_fields_and_rejects_wrong_types() {
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let ar = ApiResource::erase::<Database>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "harness.dev/v1", "kind": "Database",
        "metadata": {"name": "x"},
        "spec": {"replicas": 1, "version": "16", "surplus": true}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &obj).await.unwrap();
    assert_eq!(
        created.data["spec"],
        json!({"replicas": 1, "version": "16"})
    );

    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "harness.dev/v1", "kind": "Database",
        "metadata": {"name": "y"},
        "spec": {"replicas": "three"}
    }))
    .unwrap();
    let err = status(api.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(err.message.contains("spec.replicas"), "{}", err.message);
    assert!(
        err.message.contains("spec.version: Required value"),
        "{}",
        err.message
    );
}

#[tokio::test(start_paused = true)]
async fn discovery_follows_crds() {
    let (_s, client) = server().await;
    let before = Discovery::new(client.clone()).run().await.unwrap();
    assert!(!before.has_group("harness.dev"));
    let (pods, caps) = before
        .resolve_gvk(&kube::api::GroupVersionKind::gvk("", "v1", "Pod"))
        .unwrap();
    assert_eq!(pods.plural, "pods");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert!(
        caps.subresources
            .iter()
            .any(|(r, _)| r.plural == "pods/status" || r.plural == "status")
    );

    install_database_crd(&client).await;
    let after = Discovery::new(client.clone()).run().await.unwrap();
    let (ar, caps) = after
        .resolve_gvk(&kube::api::GroupVersionKind::gvk(
            "harness.dev",
            "v1",
            "Database",
        ))
        .expect("CRD kind discovered");
    assert_eq!(ar.plural, "databases");
    assert_eq!(caps.scope, Scope::Namespaced);

    Api::<CustomResourceDefinition>::all(client.clone())
        .delete("databases.harness.dev", &DeleteParams::default())
        .await
        .unwrap();
    let gone = Discovery::new(client).run().await.unwrap();
    assert!(!gone.has_group("harness.dev"));
}

#[tokio::test(start_paused = true)]
async fn deleting_a_crd_removes_its_objects() {
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    dbs.create(&PostParams::default(), &database("a", 1))
        .await
        .unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("databases.harness.dev", &DeleteParams::default())
        .await
        .unwrap();
    let (code, _) = raw(
        &client,
        "GET",
        "/apis/harness.dev/v1/namespaces/default/databases",
        "",
        vec![],
    )
    .await;
    assert_eq!(code, 404);
    install_database_crd(&client).await;
    assert!(
        dbs.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn printer_columns_in_table_responses() {
    let (_s, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    dbs.create(&PostParams::default(), &database("orders", 3))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(125)).await;
    let req = http::Request::builder()
        .uri("/apis/harness.dev/v1/namespaces/default/databases")
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .unwrap();
    let table: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(table["kind"], "Table");
    let cols: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Replicas", "Ready"]);
    assert_eq!(table["rows"][0]["cells"], json!(["orders", 3, null]));
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

#[tokio::test(start_paused = true)]
async fn invalid_crds_are_rejected_with_causes() {
    let (_s, client) = server().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let mut bad = Database::crd();
    let v = &mut bad.spec.versions[0];
    v.schema
        .as_mut()
        .unwrap()
        .open_api_v3_schema
        .as_mut()
        .unwrap()
        .type_ = Some("string".into());
    let err = status(crds.create(&PostParams::default(), &bad).await.unwrap_err());
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.contains("openAPIV3Schema.type"),
        "{}",
        err.message
    );

    let mut misnamed = Database::crd();
    misnamed.metadata.name = Some("wrong.harness.dev".into());
    let err = status(
        crds.create(&PostParams::default(), &misnamed)
            .await
            .unwrap_err(),
    );
    assert!(
        err.message
            .contains("must be spec.names.plural+\".\"+spec.group"),
        "{}",
        err.message
    );

    let mut no_storage = Database::crd();
    no_storage.spec.versions[0].storage = false;
    let err = status(
        crds.create(&PostParams::default(), &no_storage)
            .await
            .unwrap_err(),
    );
    assert!(
        err.message
            .contains("exactly one version marked as storage version"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn install_crds_reads_a_directory_of_manifests() {
    let (server, client) = server().await;
    let dir = tempfile::tempdir().unwrap();
    let db = serde_yaml::to_string(&Database::crd()).unwrap();
    let mut other = serde_json::to_value(Database::crd()).unwrap();
    other["metadata"]["name"] = "caches.harness.dev".into();
    other["spec"]["names"] = json!({"plural": "caches", "kind": "Cache", "singular": "cache"});
    other["spec"]["scope"] = "Cluster".into();
    let other = serde_yaml::to_string(&other).unwrap();
    let text = format!(
        "{db}---\n{other}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ignored\n"
    );
    std::fs::write(dir.path().join("crds.yaml"), text).unwrap();
    std::fs::write(dir.path().join("README.md"), "not a manifest").unwrap();

    let names = server.install_crds(dir.path()).await.unwrap();
    assert_eq!(names, ["databases.harness.dev", "caches.harness.dev"]);
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    dbs.create(&PostParams::default(), &database("a", 1))
        .await
        .unwrap();
    let (code, body) = raw(&client, "GET", "/apis/harness.dev/v1/caches", "", vec![]).await;
    assert_eq!((code, body["kind"].as_str()), (200, Some("CacheList")));

    // Installing again is idempotent.
    server.install_crds(dir.path()).await.unwrap();

    std::fs::write(dir.path().join("broken.yaml"), "kind: [unclosed").unwrap();
    let err = server.install_crds(dir.path()).await.unwrap_err();
    assert!(err.to_string().contains("broken.yaml"), "{err}");
}
