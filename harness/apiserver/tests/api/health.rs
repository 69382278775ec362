//! `/healthz`, `/livez`, `/readyz` and `/metrics` as kube-apiserver 1.33
//! writes them: apiserver's `pkg/server/healthz/healthz.go`
//! (`handleRootHealth`, `adaptCheckToHandler`) and
//! `pkg/endpoints/metrics/metrics.go`.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::Value;

use crate::common::{get, pod, server};

fn text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => panic!("not text: {other}"),
    }
}

#[tokio::test]
async fn health_checks_list_kube_apiservers_checks() {
    let (_s, client) = server().await;
    assert_eq!(
        get(&client, "/readyz").await,
        (200, Value::String("ok".into()))
    );
    let (code, body) = get(&client, "/readyz?verbose").await;
    let body = text(body);
    assert_eq!(code, 200);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        &lines[..4],
        [
            "[+]ping ok",
            "[+]log ok",
            "[+]etcd ok",
            "[+]etcd-readiness ok"
        ]
    );
    assert_eq!(
        lines[lines.len() - 2..],
        ["[+]shutdown ok", "readyz check passed"]
    );
    assert!(
        lines.contains(&"[+]poststarthook/rbac/bootstrap-roles ok"),
        "{body}"
    );

    let (_, body) = get(&client, "/livez?verbose&exclude=etcd&exclude=nope").await;
    let body = text(body);
    assert!(body.contains("[+]etcd excluded: ok\n"), "{body}");
    assert!(
        !body.contains("shutdown"),
        "shutdown is a readiness check: {body}"
    );
    assert!(
        body.ends_with(
            "warn: some health checks cannot be excluded: no matches for \"nope\"\nlivez check passed\n"
        ),
        "{body}"
    );
    assert_eq!(
        get(&client, "/readyz/poststarthook/rbac/bootstrap-roles").await,
        (200, Value::String("ok".into()))
    );
    assert_eq!(get(&client, "/livez/shutdown").await.0, 404);
}

#[tokio::test]
async fn metrics_count_requests_and_stored_objects() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b"] {
        pods.create(&PostParams::default(), &pod(name))
            .await
            .unwrap();
    }
    let _ = pods.get("missing").await.unwrap_err();
    let (code, body) = get(&client, "/metrics").await;
    assert_eq!(code, 200);
    let body = text(body);
    for line in [
        "# TYPE apiserver_request_total counter",
        r#"apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 2"#,
        r#"apiserver_request_total{code="404",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 1"#,
        "# TYPE apiserver_request_duration_seconds histogram",
        r#"apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="POST",version="v1"} 2"#,
        r#"apiserver_storage_objects{resource="pods"} 2"#,
        r#"apiserver_storage_objects{resource="priorityclasses.scheduling.k8s.io"} 2"#,
    ] {
        assert!(body.lines().any(|l| l == line), "no {line:?} in:\n{body}");
    }
}
