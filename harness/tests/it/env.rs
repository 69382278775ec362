//! TestEnv on the embedded backend: namespace lifecycle, manifests, typed
//! shortcuts, what the env owns (operators, faker, timeline, logs) and the
//! order it tears them down in; backend selection errors without Docker.

use std::time::Duration;

use anyhow::Result;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::ResourceExt;
use kube::api::Api;
use kube_harness::env::{BackendKind, EnvError, Settings, TestEnv, env};
use kube_harness::prelude::*;
use rstest::rstest;

/// Whether the namespace no longer exists on the server.
async fn namespace_gone(server: &kube_harness::apiserver::ApiServer, ns: &str) -> Result<bool> {
    Ok(Api::<Namespace>::all(server.client())
        .get_opt(ns)
        .await?
        .is_none())
}

fn config_map(name: &str, v: &str) -> ConfigMap {
    object!(ConfigMap, {"metadata": {"name": name}, "data": {"v": v}})
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
    // apply is server-side apply, by the harness's field manager
    let managers: Vec<_> = cm
        .managed_fields()
        .iter()
        .map(|m| (m.manager.clone(), m.operation.clone()))
        .collect();
    assert_eq!(
        managers,
        [(Some("kube-harness".to_string()), Some("Apply".to_string()))]
    );
    // apply again updates the fields it owns, same object
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
async fn keep_leaves_the_namespace_on_drop_and_finish_and_finish_deletes_otherwise() -> Result<()> {
    let kept = || {
        let mut s = Settings::from_lookup(|_| None)?;
        s.keep = true;
        Ok::<_, EnvError>(s)
    };
    let env = TestEnv::with_settings(kept()?, "kept").await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    let kubeconfig = env.kubeconfig().await?;
    assert!(kubeconfig.is_file());
    drop(env);
    assert!(
        !namespace_gone(&server, &ns).await?,
        "HARNESS_KEEP: {ns} must stay"
    );

    let env = TestEnv::with_settings(kept()?, "kept-finish").await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    let op = env.spawn_operator("writer", writer)?;
    env.finish().await?;
    assert!(
        !op.is_running(),
        "operators stop whether the namespace stays or not"
    );
    assert!(
        !namespace_gone(&server, &ns).await?,
        "HARNESS_KEEP: finish must keep {ns} too"
    );

    let env = TestEnv::embedded().await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    env.finish().await?;
    assert!(
        namespace_gone(&server, &ns).await?,
        "namespace {ns} is still there"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn operator_handle_stops_restarts_and_waits() -> Result<()> {
    let env = TestEnv::embedded().await?;
    // A toy operator: counts its starts in a ConfigMap, then runs forever.
    let op = env.spawn_operator("counter", |client: kube::Client| async move {
        let api: Api<ConfigMap> = Api::default_namespaced(client);
        let n = match api.get_opt("starts").await? {
            Some(cm) => cm.data.unwrap()["n"].parse::<u32>().unwrap() + 1,
            None => 1,
        };
        let cm = object!(ConfigMap, {"metadata": {"name": "starts"}, "data": {"n": n.to_string()}});
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
    kube_harness::disruption::restart_operator(&op).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(read().await.as_deref(), Some("2"));
    assert_eq!(op.starts(), 2);
    op.stop().await;
    assert!(!op.is_running());
    assert!(op.wait().await.is_err());

    let failing = env.spawn_operator("no-lease", |_c: kube::Client| async {
        Err::<(), _>("no leader lease")
    })?;
    let e = failing.wait().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no-lease returned an error: no leader lease"),
        "{e}"
    );
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
        assert!(e.to_string().contains("--features kube-harness/k3s"), "{e}");
    }
}

/// Paused time and sockets do not mix: asking for a real backend from a
/// paused test is refused before anything is sent, naming the fix.
#[tokio::test(start_paused = true)]
async fn a_real_backend_in_paused_time_is_refused_with_the_fix() {
    let s = Settings::from_lookup(|k| (k == "HARNESS_CLUSTER").then(|| "existing".to_string()))
        .unwrap();
    let e = TestEnv::with_settings(s, "t").await.unwrap_err();
    assert!(matches!(e, EnvError::PausedTime { .. }), "{e}");
    assert!(e.to_string().contains("tokio::time::resume()"), "{e}");
}

/// `HARNESS_FAKER=all`: an existing cluster with no controllers of its own
/// (here the embedded server reached over HTTP, in real time, as the
/// standalone binary is) gets the faker playing them, nodes included; and
/// `TestEnv::simulated` picks it.
#[tokio::test]
async fn the_faker_plays_every_controller_of_a_bare_server_over_http() -> Result<()> {
    let server = kube_harness::apiserver::ApiServer::builder()
        .start()
        .await?;
    let endpoint = server.serve_http().await?;
    let kubeconfig = endpoint.kubeconfig.display().to_string();
    let s = Settings::from_lookup(|k| match k {
        "HARNESS_CLUSTER" => Some("existing".to_string()),
        "HARNESS_FAKER" => Some("all".to_string()),
        "KUBECONFIG" => Some(kubeconfig.clone()),
        _ => None,
    })?
    .simulated();
    assert_eq!(s.backend, BackendKind::Existing);
    let env = TestEnv::with_settings(s, "bare-server").await?;
    assert!(env.embedded_server().is_none(), "reached over HTTP only");
    env.status_faker().start();
    env.apply(object!(Pod, {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .await?;
    let pod = eventually(env.get_named::<Pod>("p"))
        .within(Duration::from_secs(20))
        .should(field("status.phase", eq("Running")))
        .await?;
    let node = pod.spec.and_then(|s| s.node_name).unwrap_or_default();
    assert!(node.starts_with("faker-node-"), "scheduled on {node:?}");
    env.finish().await?;
    Ok(())
}

/// An operator that keeps writing a ConfigMap in its namespace, logging each write.
async fn writer(client: kube::Client) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    tracing::info!("Starting workers");
    for i in 0u64.. {
        let cm =
            object!(ConfigMap, {"metadata": {"name": "written"}, "data": {"i": i.to_string()}});
        let pp = kube::api::PatchParams::apply("writer").force();
        api.patch("written", &pp, &kube::api::Patch::Apply(&cm))
            .await?;
        tracing::info!(i, "reconciling");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn finish_stops_operators_before_the_namespace_goes_and_resumes_the_faker() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    let op = env.spawn_operator("writer", writer)?;
    let faker = env.status_faker().start();
    env.apply(object!(Pod, {
        "metadata": {"name": "p", "labels": {"app": "p"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "terminationGracePeriodSeconds": 5},
    }))
    .await?;
    eventually(env.get_named::<Pod>("p"))
        .should(field("status.phase", eq("Running")))
        .await?;
    faker.pause();
    // Paused, the kubelet would never let the pod go: finish must resume it
    // (the namespace goes, with its pod, well inside finish's deadline).
    env.finish().await?;
    assert!(!op.is_running(), "the operator outlived its env");
    let client = server.client();
    assert!(
        namespace_gone(&server, &ns).await?,
        "namespace {ns} is still there"
    );
    // Nothing recreated the namespace's objects after it went.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        Api::<ConfigMap>::namespaced(client, &ns)
            .get_opt("written")
            .await?
            .is_none()
    );
    assert_eq!(faker.step().await?, 0, "the faker has nothing left to do");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn dropping_the_env_stops_its_operators_and_deletes_the_namespace() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let server = env.embedded_server().unwrap().clone();
    let ns = env.namespace().to_owned();
    let op = env.spawn_operator("writer", writer)?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    drop(env);
    assert!(!op.is_running());
    assert!(
        namespace_gone(&server, &ns).await?,
        "namespace {ns} is still there"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn operator_logs_are_captured_per_env_and_assertable() -> Result<()> {
    let a = TestEnv::embedded().await?;
    let b = TestEnv::embedded().await?;
    a.spawn_operator("writer", writer)?;
    b.spawn_operator("idle", |_c: kube::Client| async {
        tracing::info!("Starting workers");
        std::future::pending::<Result<(), String>>().await
    })?;
    tokio::time::sleep(Duration::from_millis(350)).await;
    a.operator_logs().expect("Starting workers").exactly(1)?;
    a.operator_logs().expect("reconciling").at_least(3)?;
    assert!(
        a.operator_logs()
            .lines()
            .iter()
            .all(|l| l.starts_with("[writer] "))
    );
    // b's operator logged on the same runtime, but only into b's logs.
    b.operator_logs().expect("Starting workers").exactly(1)?;
    b.operator_logs().expect("reconciling").never()?;
    let e = b
        .operator_logs()
        .expect("reconciling")
        .at_least(1)
        .unwrap_err();
    assert!(
        e.to_string().contains("[idle]") && e.to_string().contains("Starting workers"),
        "{e}"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_failed_wait_names_its_subject_and_carries_timeline_and_logs() -> Result<()> {
    let env = TestEnv::embedded().await?;
    env.spawn_operator("writer", writer)?;
    let cm = env.apply(config_map("c", "1")).await?;
    env.timeline().note("ConfigMap/c", "created by test", "v=1");
    let failure = eventually(env.get(&cm))
        .within(2.s())
        .should(field("data.v", eq("2")))
        .await
        .unwrap_err();
    let report = failure.to_string();
    let ns = env.namespace();
    assert!(
        report.contains(&format!("waiting on configmap/c in ns {ns}:")),
        "{report}"
    );
    assert!(
        report.contains("data.v: expected \"2\", got \"1\""),
        "{report}"
    );
    let timeline = failure.section("timeline").expect("timeline section");
    assert_eq!(timeline.title, format!("timeline (ns {ns})"));
    assert!(timeline.body.contains("created by test"), "{report}");
    let logs = failure
        .section("operator logs")
        .expect("operator logs section");
    assert!(
        logs.body.contains("[writer]") && logs.body.contains("reconciling"),
        "{report}"
    );

    // Any read, named: the same context.
    let failure = eventually(env.probe("the writer's counter", || async {
        env.api::<ConfigMap>().get("written").await.map(|c| c.data)
    }))
    .within(1.s())
    .should(field("i", eq("never")))
    .await
    .unwrap_err();
    assert!(
        failure
            .to_string()
            .contains(&format!("waiting on the writer's counter in ns {ns}:")),
        "{failure}"
    );
    assert!(failure.section("timeline").is_some());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn now_follows_the_servers_clock_and_paths_are_crate_relative() -> Result<()> {
    let env = TestEnv::embedded().await?;
    let before = env.now();
    tokio::time::sleep(Duration::from_secs(90)).await;
    let cm = env.apply(config_map("t", "1")).await?;
    let created = cm.creation_timestamp().unwrap().0;
    assert!(
        created.as_second() >= before.as_second() + 90,
        "{before} → {created}"
    );
    assert!(env.now().as_second() - created.as_second() <= 1);
    assert_eq!(
        TestEnv::crate_path("tests/it"),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it")
    );
    assert_eq!(TestEnv::crate_path("/abs"), std::path::Path::new("/abs"));
    Ok(())
}

#[tokio::test]
async fn skip_prints_its_reason_and_passes() {
    fn needs_a_cluster(real: bool, ran: &mut bool) -> Result<()> {
        if !real {
            skip!("skip! itself under test: this line is expected");
        }
        *ran = true;
        Ok(())
    }
    let mut ran = false;
    needs_a_cluster(false, &mut ran).unwrap();
    assert!(!ran, "skip! returns before the rest of the test");
    needs_a_cluster(true, &mut ran).unwrap();
    assert!(ran);
}

#[tokio::test(start_paused = true)]
async fn injected_faults_land_in_the_timeline_and_in_failed_waits() -> Result<()> {
    use kube_harness::apiserver::Fault;
    let env = TestEnv::embedded().await?;
    let cm = env.apply(config_map("c", "1")).await?;
    env.faults()?.add(
        Fault::conflict()
            .verb("patch")
            .resource("configmaps")
            .times(1),
    );
    let e = env
        .patch(&cm, json!({"data": {"v": "2"}}))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("the object has been modified"),
        "{e}"
    );
    env.timeline().expect("fault injected").exactly(1)?;
    assert!(env.timeline().render().contains("PATCH configmaps/c"));

    let failure = eventually(env.get(&cm))
        .within(1.s())
        .should(field("data.v", eq("2")))
        .await
        .unwrap_err();
    let faults = failure
        .section("faults injected")
        .expect("a faults section");
    assert!(
        faults.title.contains("replay with HARNESS_FAULT_SEED="),
        "{}",
        faults.title
    );
    assert!(
        faults.body.contains(&format!(
            "PATCH configmaps/c in ns {} → 409 Conflict injected",
            env.namespace()
        )),
        "{}",
        faults.body
    );
    Ok(())
}
