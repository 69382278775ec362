//! The HTTP listener with its kubeconfig, used by a kube client built the
//! way any operator builds one.

use std::os::unix::fs::PermissionsExt;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::common::{pod, server};

#[tokio::test]
async fn kubeconfig_client_talks_over_http() {
    let (server, in_process) = server().await;
    let endpoint = server.serve_http().await.unwrap();
    assert!(
        endpoint.url.starts_with("http://127.0.0.1:"),
        "{}",
        endpoint.url
    );
    let mode = std::fs::metadata(&endpoint.kubeconfig)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "kubeconfig must be private");

    let kubeconfig = Kubeconfig::read_from(&endpoint.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::default_namespaced(client);
    pods.create(&PostParams::default(), &pod("over-http"))
        .await
        .unwrap();

    // Watches stream over the socket too.
    let wp = kube::api::WatchParams::default().timeout(1);
    let events: Vec<_> = futures::TryStreamExt::try_collect(pods.watch(&wp, "0").await.unwrap())
        .await
        .unwrap();
    assert!(
        matches!(events.as_slice(), [kube::api::WatchEvent::Added(p)] if p.metadata.name.as_deref() == Some("over-http"))
    );

    // The in-process client sees the same store.
    let seen: Api<Pod> = Api::namespaced(in_process, "default");
    assert_eq!(
        seen.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );

    let path = endpoint.kubeconfig.clone();
    drop(endpoint);
    assert!(!path.exists(), "kubeconfig removed on drop");
}
