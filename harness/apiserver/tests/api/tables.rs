//! `kubectl get` tables of the built-in kinds beyond pods and services:
//! columns and cells as `pkg/printers/internalversion/printers.go` prints
//! them (kube-apiserver builds every table wide), and the default
//! convertor's NAME and CREATED AT for kinds without a printer
//! (apiserver's `pkg/registry/rest/table.go`).

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Endpoints, Node, Secret};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::Client;
use kube::api::Api;
use serde_json::{Value, json};

use crate::common::create;

const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

/// The column names and the row of `name` in the table at `uri`.
async fn row(client: &Client, uri: &str, name: &str) -> (Vec<String>, Value) {
    use http_body_util::BodyExt;
    let req = http::Request::builder()
        .uri(uri)
        .header("accept", TABLE)
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let table: Value = serde_json::from_slice(&bytes).unwrap();
    let columns = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["object"]["metadata"]["name"] == name)
        .map(|r| r["cells"].clone())
        .unwrap_or_else(|| panic!("no row {name} in {table}"));
    (columns, row)
}

/// A server on paused tokio time: every age reads `0s`.
async fn server() -> (kube_harness_apiserver::ApiServer, Client) {
    let server = crate::common::server_on_tokio_time().await;
    let client = server.client();
    (server, client)
}

#[tokio::test(start_paused = true)]
async fn batch_tables_show_status_completions_and_schedule() {
    let (_s, client) = server().await;
    let template = json!({"spec": {"restartPolicy": "Never",
        "containers": [{"name": "work", "image": "busybox:1.37"}]}});
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job = create(
        &jobs,
        json!({"metadata": {"name": "once"}, "spec": {"completions": 3, "template": template}}),
    )
    .await;
    let uid = job["metadata"]["uid"].as_str().unwrap();
    let (cols, cells) = row(&client, "/apis/batch/v1/namespaces/default/jobs", "once").await;
    assert_eq!(
        cols,
        [
            "Name",
            "Status",
            "Completions",
            "Duration",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        cells,
        json!([
            "once",
            "Running",
            "0/3",
            "",
            "0s",
            "work",
            "busybox:1.37",
            format!("batch.kubernetes.io/controller-uid={uid}")
        ])
    );

    let crons: Api<CronJob> = Api::namespaced(client.clone(), "default");
    create(
        &crons,
        json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *",
        "jobTemplate": {"spec": {"template": template}}}}),
    )
    .await;
    let (cols, cells) = row(
        &client,
        "/apis/batch/v1/namespaces/default/cronjobs",
        "nightly",
    )
    .await;
    assert_eq!(
        cols,
        [
            "Name",
            "Schedule",
            "Timezone",
            "Suspend",
            "Active",
            "Last Schedule",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        cells,
        json!([
            "nightly",
            "0 3 * * *",
            "<none>",
            "False",
            0,
            "<none>",
            "0s",
            "work",
            "busybox:1.37",
            "<none>"
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn workload_and_node_tables() {
    let (_s, client) = server().await;
    let daemons: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    create(&daemons, json!({"metadata": {"name": "agent"}, "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {
            "nodeSelector": {"disk": "ssd"},
            "containers": [{"name": "a", "image": "agent:1"}, {"name": "b", "image": "proxy:2"}]}}}})).await;
    let (cols, cells) = row(
        &client,
        "/apis/apps/v1/namespaces/default/daemonsets",
        "agent",
    )
    .await;
    assert_eq!(
        cols,
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        cells,
        json!([
            "agent",
            0,
            0,
            0,
            0,
            0,
            "disk=ssd",
            "0s",
            "a,b",
            "agent:1,proxy:2",
            "app=agent"
        ])
    );

    let nodes: Api<Node> = Api::all(client.clone());
    create(&nodes, json!({"metadata": {"name": "cp-1", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                   "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12",
                                "kernelVersion": "", "containerRuntimeVersion": "containerd://2.0.0",
                                "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": "",
                                "operatingSystem": "linux", "architecture": "amd64"}}})).await;
    let (cols, cells) = row(&client, "/api/v1/nodes", "cp-1").await;
    assert_eq!(
        cols,
        [
            "Name",
            "Status",
            "Roles",
            "Age",
            "Version",
            "Internal-IP",
            "External-IP",
            "OS-Image",
            "Kernel-Version",
            "Container-Runtime"
        ]
    );
    assert_eq!(
        cells,
        json!([
            "cp-1",
            "Ready,SchedulingDisabled",
            "control-plane",
            "0s",
            "v1.33.1",
            "172.18.0.2",
            "<none>",
            "Debian GNU/Linux 12",
            "<unknown>",
            "containerd://2.0.0"
        ])
    );

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    create(
        &endpoints,
        json!({"metadata": {"name": "db"}, "subsets": [{"addresses": [
        {"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
        "ports": [{"port": 5432}]}]}),
    )
    .await;
    let (_, cells) = row(&client, "/api/v1/namespaces/default/endpoints", "db").await;
    assert_eq!(
        cells[1],
        "10.0.0.1:5432,10.0.0.2:5432,10.0.0.3:5432 + 1 more..."
    );

    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), "default");
    create(
        &hpas,
        json!({"metadata": {"name": "web"}, "spec": {"maxReplicas": 5,
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
    )
    .await;
    let (_, cells) = row(
        &client,
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers",
        "web",
    )
    .await;
    // v2 defaulting adds the 80 % CPU target; nothing measured yet.
    assert_eq!(
        cells,
        json!([
            "web",
            "Deployment/web",
            "cpu: <unknown>/80%",
            "1",
            5,
            0,
            "0s"
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn config_rbac_policy_storage_and_networking_tables() {
    let (_s, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    create(
        &secrets,
        json!({"metadata": {"name": "creds"}, "stringData": {"user": "a", "pass": "b"}}),
    )
    .await;
    let (cols, cells) = row(&client, "/api/v1/namespaces/default/secrets", "creds").await;
    assert_eq!(cols, ["Name", "Type", "Data", "Age"]);
    assert_eq!(cells, json!(["creds", "Opaque", 2, "0s"]));

    let roles: Api<Role> = Api::namespaced(client.clone(), "default");
    create(&roles, json!({"metadata": {"name": "reader"}, "rules": []})).await;
    let (cols, cells) = row(
        &client,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles",
        "reader",
    )
    .await;
    assert_eq!(cols, ["Name", "Created At"], "roles have no printer");
    assert_eq!(cells, json!(["reader", "2026-01-01T00:00:00Z"]));

    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), "default");
    create(
        &bindings,
        json!({"metadata": {"name": "readers"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"},
                     {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]}),
    )
    .await;
    let (cols, cells) = row(
        &client,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        "readers",
    )
    .await;
    assert_eq!(
        cols,
        ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    );
    assert_eq!(
        cells,
        json!([
            "readers",
            "Role/reader",
            "0s",
            "alice, bob",
            "",
            "default/robot"
        ])
    );

    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    create(
        &pdbs,
        json!({"metadata": {"name": "web"}, "spec": {"minAvailable": "50%",
        "selector": {"matchLabels": {"app": "web"}}}}),
    )
    .await;
    let (_, cells) = row(
        &client,
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
        "web",
    )
    .await;
    assert_eq!(cells, json!(["web", "50%", "N/A", 0, "0s"]));

    let classes: Api<StorageClass> = Api::all(client.clone());
    create(
        &classes,
        json!({"metadata": {"name": "fast",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.com/csi", "allowVolumeExpansion": true}),
    )
    .await;
    let (cols, cells) = row(&client, "/apis/storage.k8s.io/v1/storageclasses", "fast").await;
    assert_eq!(
        cols,
        [
            "Name",
            "Provisioner",
            "ReclaimPolicy",
            "VolumeBindingMode",
            "AllowVolumeExpansion",
            "Age"
        ]
    );
    assert_eq!(
        cells,
        json!([
            "fast (default)",
            "example.com/csi",
            "Delete",
            "Immediate",
            true,
            "0s"
        ])
    );

    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), "default");
    create(
        &ingresses,
        json!({"metadata": {"name": "web"}, "spec": {
        "tls": [{"hosts": ["a.example"]}],
        "rules": [{"host": "a.example"}, {"host": "b.example"}, {}, {"host": "d.example"}, {"host": "e.example"}]}}),
    )
    .await;
    let (_, cells) = row(
        &client,
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        "web",
    )
    .await;
    assert_eq!(
        cells,
        json!([
            "web",
            "<none>",
            "a.example,b.example,d.example + 2 more...",
            "",
            "80, 443",
            "0s"
        ])
    );

    let (_, cells) = row(
        &client,
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        "system-node-critical",
    )
    .await;
    assert_eq!(
        cells,
        json!([
            "system-node-critical",
            2000001000,
            false,
            "0s",
            "PreemptLowerPriority"
        ])
    );
}
