//! The API groups beyond the workload core, as kube-apiserver 1.33 serves
//! them: networking.k8s.io (Ingress `ing`, IngressClass, NetworkPolicy
//! `netpol`), scheduling.k8s.io (PriorityClass `pc`), node.k8s.io
//! (RuntimeClass), discovery.k8s.io (EndpointSlice) and autoscaling/v2
//! (HorizontalPodAutoscaler `hpa`, in `all`) — short names and categories as
//! each `pkg/registry/<group>/<resource>/storage/storage.go` declares them,
//! group order as `APIVersionPriorities` — with the defaults of each group's
//! `pkg/apis/<group>/v1/defaults.go` (autoscaling: `v2/defaults.go`), and the
//! system PriorityClasses `pkg/apis/scheduling` `SystemPriorityClasses`
//! bootstraps.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::api::Api;
use serde_json::{Value, json};

use crate::common::{create, get, server};

#[tokio::test]
async fn discovery_lists_the_groups_in_kube_apiservers_order_with_their_names() {
    let (_server, client) = server().await;
    let (_, groups) = get(&client, "/apis").await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "apiregistration.k8s.io",
            "apps",
            "events.k8s.io",
            "authentication.k8s.io",
            "authorization.k8s.io",
            "autoscaling",
            "batch",
            "certificates.k8s.io",
            "networking.k8s.io",
            "policy",
            "rbac.authorization.k8s.io",
            "storage.k8s.io",
            "admissionregistration.k8s.io",
            "apiextensions.k8s.io",
            "scheduling.k8s.io",
            "coordination.k8s.io",
            "node.k8s.io",
            "discovery.k8s.io",
        ]
    );
    let resource = |list: &Value, name: &str| -> Value {
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {list}"))
    };
    let (_, networking) = get(&client, "/apis/networking.k8s.io/v1").await;
    let ing = resource(&networking, "ingresses");
    assert_eq!(ing["shortNames"], json!(["ing"]));
    assert_eq!(ing["namespaced"], true);
    assert_eq!(ing["kind"], "Ingress");
    resource(&networking, "ingresses/status");
    assert_eq!(
        resource(&networking, "networkpolicies")["shortNames"],
        json!(["netpol"])
    );
    assert_eq!(resource(&networking, "ingressclasses")["namespaced"], false);
    let (_, scheduling) = get(&client, "/apis/scheduling.k8s.io/v1").await;
    assert_eq!(
        resource(&scheduling, "priorityclasses")["shortNames"],
        json!(["pc"])
    );
    let (_, autoscaling) = get(&client, "/apis/autoscaling/v2").await;
    let hpa = resource(&autoscaling, "horizontalpodautoscalers");
    assert_eq!(hpa["shortNames"], json!(["hpa"]));
    assert_eq!(hpa["categories"], json!(["all"]));
    let (_, node) = get(&client, "/apis/node.k8s.io/v1").await;
    resource(&node, "runtimeclasses");
    let (_, slices) = get(&client, "/apis/discovery.k8s.io/v1").await;
    assert_eq!(resource(&slices, "endpointslices")["namespaced"], true);
}

#[tokio::test]
async fn the_system_priority_classes_exist_and_new_ones_are_defaulted() {
    let (_server, client) = server().await;
    let api: Api<PriorityClass> = Api::all(client.clone());
    let node = api.get("system-node-critical").await.unwrap();
    assert_eq!(node.value, 2_000_001_000);
    assert_eq!(
        node.description.as_deref(),
        Some("Used for system critical pods that must not be moved from their current node.")
    );
    assert_eq!(
        node.preemption_policy.as_deref(),
        Some("PreemptLowerPriority")
    );
    let cluster = api.get("system-cluster-critical").await.unwrap();
    assert_eq!(cluster.value, 2_000_000_000);
    assert_eq!(cluster.global_default, None);

    let high = create(&api, json!({"metadata": {"name": "high"}, "value": 1000})).await;
    assert_eq!(high["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(high["metadata"]["generation"], 1);
}

#[tokio::test]
async fn networking_kinds_read_back_with_their_defaults() {
    let (_server, client) = server().await;
    let policies: Api<NetworkPolicy> = Api::default_namespaced(client.clone());
    let ingress_only = create(
        &policies,
        json!({"metadata": {"name": "db"}, "spec": {"podSelector": {},
            "ingress": [{"ports": [{"port": 5432}]}]}}),
    )
    .await;
    assert_eq!(ingress_only["spec"]["policyTypes"], json!(["Ingress"]));
    assert_eq!(
        ingress_only["spec"]["ingress"][0]["ports"][0],
        json!({"port": 5432, "protocol": "TCP"})
    );
    let both = create(
        &policies,
        json!({"metadata": {"name": "out"}, "spec": {"podSelector": {},
            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}),
    )
    .await;
    assert_eq!(both["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(both["spec"]["egress"][0]["ports"][0]["protocol"], "UDP");

    let classes: Api<IngressClass> = Api::all(client.clone());
    let class = create(
        &classes,
        json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}),
    )
    .await;
    assert_eq!(class["spec"]["parameters"]["scope"], "Cluster");

    let ingresses: Api<Ingress> = Api::default_namespaced(client.clone());
    let ing = create(
        &ingresses,
        json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
    )
    .await;
    assert_eq!(ing["metadata"]["generation"], 1);
    let runtime: Api<RuntimeClass> = Api::all(client.clone());
    let gvisor = create(
        &runtime,
        json!({"metadata": {"name": "gvisor"}, "handler": "runsc"}),
    )
    .await;
    assert_eq!(gvisor["handler"], "runsc");
}

#[tokio::test]
async fn endpoint_slices_and_autoscalers_read_back_with_their_defaults() {
    let (_server, client) = server().await;
    let slices: Api<EndpointSlice> = Api::default_namespaced(client.clone());
    let slice = create(
        &slices,
        json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.0.5"]}], "ports": [{"port": 8080}]}),
    )
    .await;
    assert_eq!(
        slice["ports"],
        json!([{"name": "", "port": 8080, "protocol": "TCP"}])
    );

    let hpas: Api<HorizontalPodAutoscaler> = Api::default_namespaced(client.clone());
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
    let plain = create(
        &hpas,
        json!({"metadata": {"name": "web"}, "spec": {"scaleTargetRef": target, "maxReplicas": 5}}),
    )
    .await;
    assert_eq!(plain["spec"]["minReplicas"], 1);
    assert_eq!(
        plain["spec"]["metrics"],
        json!([{"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    assert!(plain["spec"].get("behavior").is_none(), "only when given");
    let tuned = create(
        &hpas,
        json!({"metadata": {"name": "tuned"}, "spec": {"scaleTargetRef": target, "maxReplicas": 5,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
    )
    .await;
    assert_eq!(
        tuned["spec"]["behavior"],
        json!({
            "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]},
        })
    );
}
