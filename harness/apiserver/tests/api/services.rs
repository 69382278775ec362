//! Services as a client reads them back from kube-apiserver: the defaults
//! of `pkg/apis/core/v1/defaults.go` (`SetDefaults_Service`), a cluster IP
//! and node ports allocated as `pkg/registry/core/service/storage/alloc.go`
//! does (single-stack IPv4, kind's 10.96.0.0/16 range, node ports
//! 30000-32767 as `pkg/kubeapiserver/options/options.go` defaults them), the
//! allocation errors of `ipallocator`/`portallocator`, and what an update
//! keeps (`patchAllocatedValues`). Also what kube-apiserver creates for
//! itself at start-up (`pkg/controlplane/controller/kubernetesservice`,
//! `pkg/controlplane/reconcilers/endpointsadapter.go`) and the namespaces
//! the NamespaceLifecycle admission plugin protects (apiserver
//! `pkg/admission/plugin/namespace/lifecycle/admission.go`).

use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Namespace, Service};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

use crate::common::{namespace, server, status};

fn service(spec: Value) -> Service {
    serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec})).unwrap()
}

async fn create(client: &Client, name: &str, spec: Value) -> Result<Value, kube::Error> {
    let api: Api<Service> = Api::default_namespaced(client.clone());
    let mut svc = service(spec);
    svc.metadata.name = Some(name.into());
    let created = api.create(&PostParams::default(), &svc).await?;
    Ok(serde_json::to_value(created).unwrap()["spec"].clone())
}

fn in_service_range(ip: &Value) -> bool {
    ip.as_str()
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .is_some_and(|ip| ip.octets()[..2] == [10, 96] && ip != Ipv4Addr::new(10, 96, 0, 1))
}

fn node_port(spec: &Value, i: usize) -> u64 {
    spec["ports"][i]["nodePort"].as_u64().expect("a node port")
}

#[tokio::test]
async fn the_kubernetes_service_and_its_endpoints_exist_from_the_start() {
    let (_server, client) = server().await;
    let svc = Api::<Service>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let svc = serde_json::to_value(svc).unwrap();
    assert_eq!(
        svc["metadata"]["labels"],
        json!({"component": "apiserver", "provider": "kubernetes"})
    );
    let spec = &svc["spec"];
    assert_eq!(spec["clusterIP"], "10.96.0.1", "the range's first address");
    assert_eq!(spec["clusterIPs"], json!(["10.96.0.1"]));
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(
        spec["ports"],
        json!([{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}])
    );
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert!(spec.get("selector").is_none());

    let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let ep = serde_json::to_value(ep).unwrap();
    assert_eq!(
        ep["metadata"]["labels"],
        json!({"endpointslice.kubernetes.io/skip-mirror": "true"})
    );
    assert_eq!(
        ep["subsets"][0]["ports"],
        json!([{"name": "https", "port": 6443, "protocol": "TCP"}])
    );
}

#[tokio::test]
async fn a_cluster_ip_service_reads_back_with_its_defaults_and_an_address() {
    let (_server, client) = server().await;
    let spec = create(
        &client,
        "web",
        json!({"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 53, "targetPort": "dns", "protocol": "UDP"}]}),
    )
    .await
    .unwrap();
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert!(
        spec.get("externalTrafficPolicy").is_none(),
        "only for services reachable from outside: {spec}"
    );
    assert_eq!(
        spec["ports"],
        json!([
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 53, "protocol": "UDP", "targetPort": "dns"},
        ])
    );
    assert!(in_service_range(&spec["clusterIP"]), "{spec}");
    assert_eq!(spec["clusterIPs"], json!([spec["clusterIP"]]));
    assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");

    // Every service gets an address of its own.
    let other = create(&client, "other", json!({"ports": [{"port": 80}]}))
        .await
        .unwrap();
    assert_ne!(other["clusterIP"], spec["clusterIP"]);

    // ClientIP affinity gets kube-apiserver's three-hour timeout.
    let sticky = create(
        &client,
        "sticky",
        json!({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        sticky["sessionAffinityConfig"],
        json!({"clientIP": {"timeoutSeconds": 10800}})
    );
}

#[tokio::test]
async fn node_ports_are_allocated_in_range_and_shared_by_one_port_number() {
    let (_server, client) = server().await;
    let spec = create(
        &client,
        "dns",
        json!({"type": "NodePort", "ports": [
            {"name": "udp", "port": 53, "protocol": "UDP"},
            {"name": "tcp", "port": 53, "protocol": "TCP"},
            {"name": "web", "port": 80},
        ]}),
    )
    .await
    .unwrap();
    for i in 0..3 {
        assert!((30000..=32767).contains(&node_port(&spec, i)), "{spec}");
    }
    assert_eq!(
        node_port(&spec, 0),
        node_port(&spec, 1),
        "one node port per port number"
    );
    assert_ne!(node_port(&spec, 0), node_port(&spec, 2));
    assert_eq!(spec["externalTrafficPolicy"], "Cluster");

    let lb = create(
        &client,
        "lb",
        json!({"type": "LoadBalancer", "ports": [{"port": 443}]}),
    )
    .await
    .unwrap();
    assert_eq!(lb["allocateLoadBalancerNodePorts"], true);
    assert!((30000..=32767).contains(&node_port(&lb, 0)));
    let no_ports = create(
        &client,
        "lb-bare",
        json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 443}]}),
    )
    .await
    .unwrap();
    assert!(no_ports["ports"][0].get("nodePort").is_none());
}

#[tokio::test]
async fn headless_and_external_name_services_get_no_address() {
    let (_server, client) = server().await;
    let headless = create(
        &client,
        "db",
        json!({"clusterIP": "None", "selector": {"app": "db"}, "ports": [{"port": 5432}]}),
    )
    .await
    .unwrap();
    assert_eq!(headless["clusterIP"], "None");
    assert_eq!(headless["clusterIPs"], json!(["None"]));
    assert_eq!(headless["ipFamilyPolicy"], "SingleStack");
    assert_eq!(headless["ipFamilies"], json!(["IPv4"]));
    // Headless without a selector asks for both families, even single-stack
    // (alloc.go `initIPFamilyFields`).
    let selectorless = create(&client, "ext-db", json!({"clusterIP": "None"}))
        .await
        .unwrap();
    assert_eq!(selectorless["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(selectorless["ipFamilies"], json!(["IPv4", "IPv6"]));

    let external = create(
        &client,
        "search",
        json!({"type": "ExternalName", "externalName": "example.com"}),
    )
    .await
    .unwrap();
    for absent in [
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "ipFamilyPolicy",
        "internalTrafficPolicy",
    ] {
        assert!(external.get(absent).is_none(), "{absent}: {external}");
    }
}

#[tokio::test]
async fn allocation_errors_read_as_kube_apiserver_words_them() {
    let (_server, client) = server().await;
    create(
        &client,
        "first",
        json!({"clusterIP": "10.96.0.10", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    )
    .await
    .unwrap();
    let fail = |name: &'static str, spec: Value| {
        let client = client.clone();
        async move { status(create(&client, name, spec).await.unwrap_err()) }
    };

    let s = fail("taken", json!({"clusterIP": "10.96.0.10"})).await;
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        s.message,
        "Service \"taken\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"
    );
    let s = fail("elsewhere", json!({"clusterIP": "10.0.0.5"})).await;
    assert_eq!(
        s.message,
        "Service \"elsewhere\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.0.0.5\"}: failed to allocate IP 10.0.0.5: the provided network does not match the current range"
    );
    let s = fail(
        "port-taken",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    )
    .await;
    assert_eq!(
        s.message,
        "Service \"port-taken\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    );
    let s = fail(
        "port-out",
        json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 40000}]}),
    )
    .await;
    assert_eq!(
        s.message,
        "Service \"port-out\" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767"
    );

    // Deleting a service releases its address and port.
    let api: Api<Service> = Api::default_namespaced(client.clone());
    api.delete("first", &DeleteParams::default()).await.unwrap();
    let again = create(
        &client,
        "second",
        json!({"clusterIP": "10.96.0.10", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}),
    )
    .await
    .unwrap();
    assert_eq!(again["clusterIP"], "10.96.0.10");
}

#[tokio::test]
async fn an_update_keeps_what_was_allocated_and_refuses_a_new_address() {
    let (_server, client) = server().await;
    let api: Api<Service> = Api::default_namespaced(client.clone());
    let spec = create(
        &client,
        "web",
        json!({"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80}]}),
    )
    .await
    .unwrap();
    // A replace that leaves out what the server filled in, as `kubectl
    // replace -f` of the original manifest does.
    let mut svc = api.get("web").await.unwrap();
    let mut body = serde_json::to_value(&svc).unwrap();
    for f in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        body["spec"].as_object_mut().unwrap().remove(f);
    }
    body["spec"]["ports"][0]
        .as_object_mut()
        .unwrap()
        .remove("nodePort");
    body["spec"]["selector"] = json!({"app": "web2"});
    let replaced = api
        .replace(
            "web",
            &PostParams::default(),
            &serde_json::from_value(body).unwrap(),
        )
        .await
        .unwrap();
    let replaced = serde_json::to_value(replaced).unwrap()["spec"].clone();
    assert_eq!(replaced["clusterIP"], spec["clusterIP"]);
    assert_eq!(replaced["clusterIPs"], spec["clusterIPs"]);
    assert_eq!(replaced["ipFamilyPolicy"], "SingleStack");
    assert_eq!(node_port(&replaced, 0), node_port(&spec, 0));
    assert_eq!(replaced["selector"], json!({"app": "web2"}));

    svc = api.get("web").await.unwrap();
    svc.spec.as_mut().unwrap().cluster_ip = Some("10.96.0.99".into());
    let s = status(
        api.replace("web", &PostParams::default(), &svc)
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        s.message,
        "Service \"web\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.99\"}: may not change once set"
    );
}

#[tokio::test]
async fn the_system_namespaces_may_not_be_deleted() {
    let (_server, client) = server().await;
    let api: Api<Namespace> = Api::all(client.clone());
    for name in ["default", "kube-system", "kube-public"] {
        let s = status(
            api.delete(name, &DeleteParams::default())
                .await
                .unwrap_err(),
        );
        assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
        assert_eq!(
            s.message,
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted")
        );
        let details = s.details.expect("details");
        assert_eq!(
            (details.name.as_str(), details.kind.as_str()),
            (name, "namespaces")
        );
    }
    // kube-node-lease is not immortal: the system-namespaces controller
    // recreates it on a real cluster.
    api.delete("kube-node-lease", &DeleteParams::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn creating_in_a_terminating_namespace_names_the_cause() {
    let (_server, client) = server().await;
    namespace(&client, "going").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "going");
    // A finalizer keeps the namespace terminating.
    let held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "held", "finalizers": ["harness.dev/hold"]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    Api::<Namespace>::all(client.clone())
        .delete("going", &DeleteParams::default())
        .await
        .unwrap();
    let late: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "late-"}})).unwrap();
    let s = status(cms.create(&PostParams::default(), &late).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        s.message,
        "configmaps \"late-\" is forbidden: unable to create new content in namespace going because it is being terminated"
    );
    let causes = s.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "NamespaceTerminating");
    assert_eq!(causes[0].message, "namespace going is being terminated");
    assert_eq!(causes[0].field, "metadata.namespace");
}

/// What a type change or a sparse PUT does to allocated values
/// (`patchAllocatedValues`, `dropTypeDependentFields`, `normalizeClusterIPs`).
#[tokio::test]
async fn type_changes_and_sparse_updates_keep_only_what_the_type_needs() {
    let (_server, client) = server().await;
    let api: Api<Service> = Api::default_namespaced(client.clone());
    let spec = create(
        &client,
        "web",
        json!({"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": 0}]}),
    )
    .await
    .unwrap();
    assert!(
        (30000..=32767).contains(&node_port(&spec, 0)),
        "nodePort 0 asks for one: {spec}"
    );
    let ip = spec["clusterIP"].as_str().unwrap().to_string();

    // A PUT with clusterIP but no clusterIPs keeps the address held.
    let mut body = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
    body["spec"].as_object_mut().unwrap().remove("clusterIPs");
    let put: Service = serde_json::from_value(body).unwrap();
    let kept = api
        .replace("web", &PostParams::default(), &put)
        .await
        .unwrap();
    let kept = serde_json::to_value(kept).unwrap()["spec"].clone();
    assert_eq!(kept["clusterIPs"], json!([ip]));
    let s = status(
        create(&client, "thief", json!({"clusterIP": ip}))
            .await
            .unwrap_err(),
    );
    assert!(
        s.message.contains("provided IP is already allocated"),
        "{}",
        s.message
    );

    // NodePort → ClusterIP: the node port the client echoed goes.
    let mut body = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
    body["spec"]["type"] = json!("ClusterIP");
    let to_cluster_ip: Service = serde_json::from_value(body).unwrap();
    let now = api
        .replace("web", &PostParams::default(), &to_cluster_ip)
        .await
        .unwrap();
    let now = serde_json::to_value(now).unwrap()["spec"].clone();
    assert!(now["ports"][0].get("nodePort").is_none(), "{now}");
    assert_eq!(now["clusterIP"], ip.as_str());

    // ClusterIP → ExternalName: the address goes, and is free again.
    let mut body = serde_json::to_value(api.get("web").await.unwrap()).unwrap();
    body["spec"]["type"] = json!("ExternalName");
    body["spec"]["externalName"] = json!("example.com");
    let external: Service = serde_json::from_value(body).unwrap();
    let now = api
        .replace("web", &PostParams::default(), &external)
        .await
        .unwrap();
    let now = serde_json::to_value(now).unwrap()["spec"].clone();
    for gone in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        assert!(now.get(gone).is_none(), "{gone}: {now}");
    }
    create(&client, "next", json!({"clusterIP": ip}))
        .await
        .unwrap();
}

/// Namespaces have no collection delete (405), so no sweep takes the
/// protected ones with the rest.
#[tokio::test]
async fn namespaces_cannot_be_deleted_as_a_collection() {
    let (_server, client) = server().await;
    let (code, body) = crate::common::raw(
        &client,
        "DELETE",
        "/api/v1/namespaces",
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(code, 405, "{body}");
    assert_eq!(body["reason"], "MethodNotAllowed");
    assert!(
        Api::<Namespace>::all(client)
            .get_opt("kube-node-lease")
            .await
            .unwrap()
            .is_some()
    );
}
