//! TestEnv on the embedded backend: namespace lifecycle, manifests, typed
//! shortcuts, operator handle; backend selection errors without Docker.

use std::time::Duration;

use anyhow::Result;
use harness::env::{env, BackendKind, EnvError, Settings, TestEnv};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::Api;
use kube::ResourceExt;
use rstest::rstest;
use serde_json::json;

fn config_map(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"v": v}})).unwrap()
}

#[rstest]
#[tokio::test(start_paused = true)]
async fn fixture_gives_a_namespace_named_after_the_test(#[future] env: TestEnv) -> Result<()> {
    let env = env.await;
    assert_eq!(env.backend(), BackendKind::Embedded);
    assert!(
        env.namespace()
            .starts_with("fixture-gives-a-namespace-named-after-th-"),
        "{}",
        env.namespace()
    );
    let ns: Namespace = Api::all(env.client()).get(env.namespace()).await?;
    assert_eq!(ns.labels()["kube-harness.io/test"], "true");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn typed_apply_get_patch_delete() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let cm = env.apply(config_map("c", "1")).await?;
    assert_eq!(cm.namespace().as_deref(), Some(env.namespace()));
    assert!(cm.uid().is_some());
    // apply again replaces
    let cm2 = env.apply(config_map("c", "2")).await?;
    assert_eq!(cm2.uid(), cm.uid());
    assert_eq!(env.get(&cm).await?.data.unwrap()["v"], "2");
    let cm3 = env.patch(&cm, json!({"data": {"v": "3"}})).await?;
    assert_eq!(cm3.data.unwrap()["v"], "3");
    env.delete(&cm).await?;
    assert!(env.get(&cm).fetch_opt().await?.is_none());
    env.delete(&cm).await?; // NotFound is fine
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn multi_document_manifests_apply_into_the_namespace() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let n = env
        .apply_yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: x}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData: {k: y}\n",
        )
        .await?;
    assert_eq!(n, 2);
    let a: ConfigMap = env.api().get("a").await?;
    assert_eq!(a.data.unwrap()["k"], "x");
    let e = env.apply_yaml("kind: ConfigMap\n").await.unwrap_err();
    assert!(e.to_string().contains("missing `apiVersion`"), "{e}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn crds_from_a_folder_are_served() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("widget.yaml"),
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"#,
    )?;
    let names = env.install_crds(dir.path()).await?;
    assert_eq!(names, ["widgets.example.com"]);
    env.apply_yaml(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n",
    )
    .await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn namespace_is_deleted_even_when_the_test_panics() -> Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let env = TestEnv::embedded().await.unwrap();
        let server = env.embedded_server().unwrap().clone();
        tx.send((server, env.namespace().to_owned())).ok();
        env.apply(config_map("x", "1")).await.unwrap();
        panic!("the test under test fails");
    });
    let err = test.await.unwrap_err();
    assert!(err.is_panic());
    let (server, ns) = rx.await?;
    let client = server.client();
    let got = Api::<Namespace>::all(client.clone()).get_opt(&ns).await?;
    assert!(got.is_none(), "namespace {ns} survived the panic: {got:?}");
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
    assert!(cms.get_opt("x").await?.is_none());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn keep_leaves_the_namespace_and_cleanup_deletes_on_demand() -> Result<()> {
    let mut s = Settings::from_lookup(|_| None)?;
    s.keep = true;
    let env = TestEnv::with_settings(s, "kept").await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    let kubeconfig = env.kubeconfig().await?;
    assert!(kubeconfig.is_file());
    drop(env);
    assert!(Api::<Namespace>::all(server.client())
        .get_opt(&ns)
        .await?
        .is_some());

    let env = TestEnv::embedded().await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    env.cleanup().await?;
    assert!(Api::<Namespace>::all(server.client())
        .get_opt(&ns)
        .await?
        .is_none());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn operator_handle_stops_restarts_and_waits() -> Result<()> {
    let env = TestEnv::embedded().await?;
    // A toy operator: counts its starts in a ConfigMap, then runs forever.
    let mut op = env.spawn_operator(|client: kube::Client| async move {
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let n = match api.get_opt("starts").await? {
            Some(cm) => cm.data.unwrap()["n"].parse::<u32>().unwrap() + 1,
            None => 1,
        };
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": "starts"}, "data": {"n": n.to_string()}}),
        )
        .unwrap();
        api.delete("starts", &Default::default()).await.ok();
        api.create(&Default::default(), &cm).await?;
        std::future::pending::<()>().await;
        Ok::<(), kube::Error>(())
    })?;
    let api: Api<ConfigMap> = env.api();
    let read = || async {
        api.get_opt("starts")
            .await
            .ok()
            .flatten()
            .map(|c| c.data.unwrap()["n"].clone())
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(read().await.as_deref(), Some("1"));
    assert!(op.is_running());
    harness::disruption::restart_operator(&mut op).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(read().await.as_deref(), Some("2"));
    assert_eq!(op.starts(), 2);
    op.stop().await;
    assert!(!op.is_running());
    assert!(op.wait().await.is_err());

    let mut failing =
        env.spawn_operator(|_c: kube::Client| async { Err::<(), _>("no leader lease") })?;
    let e = failing.wait().await.unwrap_err();
    assert!(e.to_string().contains("no leader lease"), "{e}");
    Ok(())
}

#[tokio::test]
async fn backend_errors_name_the_fix() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let e = Settings::from_lookup(lookup(&[("HARNESS_CLUSTER", "minikube")])).unwrap_err();
    assert!(matches!(e, EnvError::UnknownBackend { .. }), "{e}");

    let s = Settings::from_lookup(lookup(&[
        ("HARNESS_CLUSTER", "existing"),
        ("KUBECONFIG", "/nonexistent/kubeconfig"),
    ]))
    .unwrap();
    let e = TestEnv::with_settings(s, "t").await.unwrap_err();
    assert!(matches!(e, EnvError::NoKubeconfig { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/kubeconfig"), "{e}");

    let s = Settings::from_lookup(lookup(&[("HARNESS_CLUSTER", "k3s")])).unwrap();
    let e = TestEnv::with_settings(s, "t").await.unwrap_err();
    if cfg!(feature = "k3s") {
        // With the feature but (here) no Docker: the error says so.
        assert!(matches!(e, EnvError::NoDocker { .. }), "{e}");
    } else {
        assert!(matches!(e, EnvError::K3sNotBuilt), "{e}");
        assert!(e.to_string().contains("--features harness/k3s"), "{e}");
    }
}
