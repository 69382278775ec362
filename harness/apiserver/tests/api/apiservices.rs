//! apiregistration.k8s.io/v1 APIServices as kube-apiserver 1.33 keeps them:
//! a local one per built-in group/version at start-up
//! (pkg/controlplane/apiserver/aggregator.go, `makeAPIService` and the
//! priority tables of it and cmd/kube-apiserver/app/aggregator.go), one per
//! served CRD version while a CRD serves it
//! (pkg/controlplane/controller/crdregistration), each Available as
//! kube-aggregator's local availability controller says, the checks of
//! kube-aggregator's pkg/apis/apiregistration/validation/validation.go, and
//! `kubectl get apiservices` with the columns of its registry's
//! `ConvertToTable` (pkg/registry/apiservice/etcd/etcd.go).

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::core::DynamicObject;
use serde_json::{Value, json};

use crate::common::{get, install_database_crd, server, status};

#[tokio::test]
async fn kube_clients_discovery_finds_the_group_and_lists_its_services() {
    let (_server, client) = server().await;
    // kube-client's own `group_discovery_oneshot` (its lib.rs, #[ignore]d
    // for want of a cluster), step by step.
    let group = kube::discovery::group(&client, "apiregistration.k8s.io")
        .await
        .unwrap();
    let (ar, caps) = group.recommended_kind("APIService").unwrap();
    assert_eq!(
        (ar.version.as_str(), ar.plural.as_str()),
        ("v1", "apiservices")
    );
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    assert!(
        !api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // The aggregator lists its own group first (handler_apis.go).
    let (_, groups) = get(&client, "/apis").await;
    assert_eq!(groups["groups"][0]["name"], "apiregistration.k8s.io");
    let (_, list) = get(&client, "/apis/apiregistration.k8s.io/v1").await;
    let resources = list["resources"].as_array().unwrap();
    assert_eq!(
        resources[0],
        json!({
            "name": "apiservices", "singularName": "apiservice", "namespaced": false,
            "kind": "APIService",
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "categories": ["api-extensions"],
        })
    );
    assert_eq!(resources[1]["name"], "apiservices/status");
    assert_eq!(resources[1]["verbs"], json!(["get", "patch", "update"]));
}

#[tokio::test]
async fn every_built_in_group_version_has_a_local_available_service() {
    let (_server, client) = server().await;
    let api: Api<APIService> = Api::all(client.clone());
    let services = api.list(&ListParams::default()).await.unwrap().items;
    let names: Vec<String> = services
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    // Every served group/version of /api and /apis but the aggregator's own.
    let (_, groups) = get(&client, "/apis").await;
    let mut served = vec!["v1.".to_string()];
    for g in groups["groups"].as_array().unwrap() {
        for v in g["versions"].as_array().unwrap() {
            if g["name"] != "apiregistration.k8s.io" {
                served.push(format!(
                    "{}.{}",
                    v["version"].as_str().unwrap(),
                    g["name"].as_str().unwrap()
                ));
            }
        }
    }
    let mut sorted = served.clone();
    sorted.sort();
    assert_eq!(names, sorted, "one APIService per served group/version");

    let apps = api.get("v1.apps").await.unwrap();
    let value = serde_json::to_value(&apps).unwrap();
    assert_eq!(
        value["metadata"]["labels"],
        json!({"kube-aggregator.kubernetes.io/automanaged": "onstart"})
    );
    assert_eq!(
        value["spec"],
        json!({"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15})
    );
    let condition = &value["status"]["conditions"][0];
    assert_eq!(
        (
            &condition["type"],
            &condition["status"],
            &condition["reason"],
            &condition["message"]
        ),
        (
            &json!("Available"),
            &json!("True"),
            &json!("Local"),
            &json!("Local APIServices are always available")
        )
    );
    let core = serde_json::to_value(api.get("v1.").await.unwrap()).unwrap();
    assert_eq!(
        core["spec"],
        json!({"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1})
    );
}

#[tokio::test]
async fn a_crd_group_version_gets_a_service_while_a_crd_serves_it() {
    let (_server, client) = server().await;
    let api: Api<APIService> = Api::all(client.clone());
    install_database_crd(&client).await;
    let db = serde_json::to_value(api.get("v1.harness.dev").await.unwrap()).unwrap();
    assert_eq!(
        db["metadata"]["labels"],
        json!({"kube-aggregator.kubernetes.io/automanaged": "true"})
    );
    assert_eq!(
        db["spec"],
        json!({"group": "harness.dev", "version": "v1", "groupPriorityMinimum": 1000, "versionPriority": 100})
    );
    assert_eq!(db["status"]["conditions"][0]["reason"], "Local");

    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    crds.delete("databases.harness.dev", &DeleteParams::default())
        .await
        .unwrap();
    let gone = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if api.get_opt("v1.harness.dev").await.unwrap().is_none() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the CRD's APIService outlived it");
}

/// Creates `body`, which must be refused; the refusal's message.
async fn refused(api: &Api<APIService>, body: Value) -> String {
    let body: APIService = serde_json::from_value(body).unwrap();
    status(api.create(&PostParams::default(), &body).await.unwrap_err()).message
}

#[tokio::test]
async fn bad_services_are_refused_with_upstreams_causes() {
    let (_server, client) = server().await;
    let api: Api<APIService> = Api::all(client.clone());
    let message = refused(
        &api,
        json!({
            "metadata": {"name": "v1.metrics.example.com"},
            "spec": {"group": "metrics.example.com", "version": "v1beta1",
                     "groupPriorityMinimum": 0, "versionPriority": 1001,
                     "caBundle": "YWJj", "insecureSkipTLSVerify": true},
        }),
    )
    .await;
    assert_eq!(
        message,
        "APIService.apiregistration.k8s.io \"v1.metrics.example.com\" is invalid: [\
         metadata.name: Invalid value: \"v1.metrics.example.com\": must be `spec.version+\".\"+spec.group`: \"v1beta1.metrics.example.com\", \
         spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000, \
         spec.versionPriority: Invalid value: 1001: must be positive and less than 1000, \
         spec.caBundle: Invalid value: \"3 bytes\": local APIServices may not have a caBundle, \
         spec.insecureSkipTLSVerify: Invalid value: true: local APIServices may not have insecureSkipTLSVerify]"
    );
    let message = refused(
        &api,
        json!({
            "metadata": {"name": "V1.metrics.example.com"},
            "spec": {"group": "metrics.example.com", "version": "V1",
                     "groupPriorityMinimum": 100, "versionPriority": 10,
                     "service": {"namespace": "", "name": "metrics", "port": 70000}},
        }),
    )
    .await;
    assert_eq!(
        message,
        "APIService.apiregistration.k8s.io \"V1.metrics.example.com\" is invalid: [\
         spec.version: Invalid value: \"V1\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'), \
         spec.service.namespace: Required value, \
         spec.service.port: Invalid value: 70000: port is not valid: must be between 1 and 65535, inclusive]"
    );
    let message = refused(
        &api,
        json!({
            "metadata": {"name": "v2."},
            "spec": {"version": "v2", "groupPriorityMinimum": 100, "versionPriority": 10},
        }),
    )
    .await;
    assert!(
        message.ends_with(
            "spec.group: Required value: only v1 may have an empty group and it better be legacy kube"
        ),
        "{message}"
    );

    // A remote service is accepted, its port defaulted to 443
    // (apiregistration/v1/defaults.go).
    let created = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "v1beta1.metrics.k8s.io"},
                "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                         "groupPriorityMinimum": 100, "versionPriority": 100,
                         "insecureSkipTLSVerify": true,
                         "service": {"namespace": "kube-system", "name": "metrics-server"}},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let service = created.spec.unwrap().service.unwrap();
    assert_eq!(service.port, Some(443));
    assert!(created.status.is_none(), "create keeps no status");
}

/// `kubectl get apiservices`: NAME, SERVICE, AVAILABLE, AGE, a local row
/// reading `Local` and `True`.
#[tokio::test]
async fn kubectl_lists_the_services_with_their_columns() -> anyhow::Result<()> {
    let Some(f) = crate::kubectl::fixture("kubectl_lists_the_services_with_their_columns").await?
    else {
        return Ok(());
    };
    let table = f.kubectl.ok(&["get", "apiservices"]).await?;
    let header: Vec<&str> = crate::kubectl::line_cells(&table, 0);
    assert_eq!(header, ["NAME", "SERVICE", "AVAILABLE", "AGE"]);
    let row = table
        .lines()
        .find(|l| l.starts_with("v1.apps "))
        .unwrap_or_else(|| panic!("no v1.apps row: {table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..3], ["v1.apps", "Local", "True"], "{table}");
    let listed = f
        .kubectl
        .ok(&["get", "api-extensions", "-o", "name"])
        .await?;
    assert!(
        listed
            .lines()
            .any(|l| l == "apiservice.apiregistration.k8s.io/v1.apps"),
        "{listed}"
    );
    Ok(())
}
