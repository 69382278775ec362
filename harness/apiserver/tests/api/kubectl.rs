//! The real kubectl against the embedded server over HTTP: if kubectl is
//! happy, users' scripts and muscle memory work against the harness too.
//!
//! Skipped, with the reason printed, when no kubectl binary is found
//! (`KUBECTL` names one explicitly).

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_harness_apiserver::ApiServer;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Every kubectl call is bounded; the server answers in milliseconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Kubectl {
    bin: PathBuf,
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

/// A server with an HTTP listener, and kubectl pointed at it.
pub(crate) struct Fixture {
    server: ApiServer,
    _http: kube_harness_apiserver::HttpEndpoint,
    pub(crate) kubectl: Kubectl,
}

fn find_kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
}

/// The cells of line `n` of kubectl's table output (0 is the header), as
/// whitespace separates them; none when the table is shorter.
pub(crate) fn line_cells(table: &str, n: usize) -> Vec<&str> {
    table
        .lines()
        .nth(n)
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

pub(crate) async fn fixture(test: &str) -> Result<Option<Fixture>> {
    let Some(bin) = find_kubectl() else {
        eprintln!("skipping {test}: no kubectl on PATH (set KUBECTL to use one elsewhere)");
        return Ok(None);
    };
    let server = ApiServer::start().await?;
    let http = server.serve_http().await?;
    let kubectl = Kubectl {
        bin,
        kubeconfig: http.kubeconfig.clone(),
        cache: tempfile::tempdir()?,
    };
    Ok(Some(Fixture {
        server,
        _http: http,
        kubectl,
    }))
}

impl Kubectl {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .arg("--request-timeout=20s")
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<Output> {
        let mut child = self.command(args).spawn().context("starting kubectl")?;
        let mut input = child.stdin.take().context("kubectl stdin")?;
        if let Some(text) = stdin {
            tokio::io::AsyncWriteExt::write_all(&mut input, text.as_bytes()).await?;
        }
        drop(input);
        tokio::time::timeout(CALL_TIMEOUT, child.wait_with_output())
            .await
            .with_context(|| format!("kubectl {args:?} did not finish in {CALL_TIMEOUT:?}"))?
            .context("waiting for kubectl")
    }

    /// Runs kubectl and requires success; returns stdout.
    pub(crate) async fn ok(&self, args: &[&str]) -> Result<String> {
        self.ok_with(args, None).await
    }

    async fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let out = self.run(args, stdin).await?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        ensure!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout)
    }

    /// Runs kubectl and requires failure; returns stderr.
    async fn fails(&self, args: &[&str]) -> Result<String> {
        let out = self.run(args, None).await?;
        ensure!(
            !out.status.success(),
            "kubectl {args:?} should have failed, printed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    async fn json(&self, args: &[&str]) -> Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.ok(&all).await?;
        serde_json::from_str(&out)
            .with_context(|| format!("kubectl {args:?} printed non-JSON: {out}"))
    }
}

fn write_manifest(dir: &Path, name: &str, text: &str) -> Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path.to_string_lossy().into_owned())
}

const APP: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: fast
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: registry.example/web:1
        ports:
        - containerPort: 8080
      - name: sidecar
        image: registry.example/proxy:1
";

/// `kubectl create configmap` would send protobuf (client-go's typed clients
/// do for built-in kinds); `apply` sends JSON, which is what we test here.
fn configmap(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default}}\ndata: {{k: v}}\n"
    )
}

fn lines_sorted(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn get_prints_a_table_and_json() -> Result<()> {
    let Some(f) = fixture("get_prints_a_table_and_json").await? else {
        return Ok(());
    };
    let pods: Api<Pod> = Api::namespaced(f.server.client(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "web:1"}]}
    }))?;
    pods.create(&PostParams::default(), &pod).await?;

    let table = f.kubectl.ok(&["get", "pods"]).await?;
    let mut rows = table.lines();
    let header: Vec<&str> = rows
        .next()
        .context("no header")?
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{table}"
    );
    let row: Vec<&str> = rows.next().context("no row")?.split_whitespace().collect();
    assert_eq!(row[..2], ["web-0", "0/1"], "{table}");

    let list = f.kubectl.json(&["get", "pods", "-l", "app=web"]).await?;
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "web-0");
    let none = f.kubectl.json(&["get", "pods", "-l", "app=other"]).await?;
    assert_eq!(none["items"], json!([]));

    let err = f.kubectl.fails(&["get", "pod", "missing"]).await?;
    assert!(
        err.contains(r#"Error from server (NotFound): pods "missing" not found"#),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn client_side_apply_of_a_multi_document_file() -> Result<()> {
    let Some(f) = fixture("client_side_apply_of_a_multi_document_file").await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let file = write_manifest(dir.path(), "app.yaml", APP)?;

    let out = f.kubectl.ok(&["apply", "-f", &file]).await?;
    assert_eq!(
        lines_sorted(&out),
        [
            "configmap/settings created",
            "deployment.apps/web created",
            "namespace/shop created"
        ],
        "{out}"
    );
    let deploy = f
        .kubectl
        .json(&["get", "deployment", "web", "-n", "shop"])
        .await?;
    assert!(
        deploy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "client-side apply keeps its last applied configuration: {deploy}"
    );

    // A second apply with one change: a strategic merge patch for the
    // deployment, nothing for the unchanged objects.
    let changed = write_manifest(
        dir.path(),
        "app2.yaml",
        &APP.replace("replicas: 2", "replicas: 3"),
    )?;
    let out = f.kubectl.ok(&["apply", "-f", &changed]).await?;
    assert_eq!(
        lines_sorted(&out),
        [
            "configmap/settings unchanged",
            "deployment.apps/web configured",
            "namespace/shop unchanged"
        ],
        "{out}"
    );
    let deploy = f
        .kubectl
        .json(&["get", "deployment", "web", "-n", "shop"])
        .await?;
    assert_eq!(deploy["spec"]["replicas"], 3);
    assert_eq!(
        deploy["metadata"]["generation"], 2,
        "a spec change bumps generation"
    );

    // Dropping a container from the file removes it (last-applied diff).
    let one = APP.replace(
        "      - name: sidecar\n        image: registry.example/proxy:1\n",
        "",
    );
    let one = write_manifest(dir.path(), "app3.yaml", &one)?;
    f.kubectl.ok(&["apply", "-f", &one]).await?;
    let deploy = f
        .kubectl
        .json(&["get", "deployment", "web", "-n", "shop"])
        .await?;
    let names: Vec<&Value> = deploy["spec"]["template"]["spec"]["containers"]
        .as_array()
        .context("containers")?
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, [&json!("app")], "{deploy}");
    Ok(())
}

#[tokio::test]
async fn server_side_apply_conflicts_and_force() -> Result<()> {
    let Some(f) = fixture("server_side_apply_conflicts_and_force").await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let file = write_manifest(dir.path(), "app.yaml", APP)?;

    let out = f
        .kubectl
        .ok(&["apply", "--server-side", "-f", &file])
        .await?;
    assert_eq!(
        lines_sorted(&out),
        [
            "configmap/settings serverside-applied",
            "deployment.apps/web serverside-applied",
            "namespace/shop serverside-applied"
        ],
        "{out}"
    );
    let deploy = f
        .kubectl
        .json(&[
            "get",
            "deployment",
            "web",
            "-n",
            "shop",
            "--show-managed-fields",
        ])
        .await?;
    let entry = &deploy["metadata"]["managedFields"][0];
    assert_eq!(
        (&entry["manager"], &entry["operation"]),
        (&json!("kubectl"), &json!("Apply")),
        "{deploy}"
    );
    assert!(
        entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]
            .get(r#"k:{"name":"sidecar"}"#)
            .is_some(),
        "containers are owned by merge key: {entry}"
    );

    // Someone else takes replicas (kubectl patch writes as "kubectl-patch").
    f.kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "-n",
            "shop",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"replicas":5}}"#,
        ])
        .await?;
    let changed = write_manifest(
        dir.path(),
        "app2.yaml",
        &APP.replace("replicas: 2", "replicas: 4"),
    )?;
    let err = f
        .kubectl
        .fails(&["apply", "--server-side", "-f", &changed])
        .await?;
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: .spec.replicas"#),
        "{err}"
    );

    f.kubectl
        .ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &changed,
        ])
        .await?;
    let deploy = f
        .kubectl
        .json(&["get", "deployment", "web", "-n", "shop"])
        .await?;
    assert_eq!(deploy["spec"]["replicas"], 4);
    Ok(())
}

#[tokio::test]
async fn patch_in_all_three_flavours() -> Result<()> {
    let Some(f) = fixture("patch_in_all_three_flavours").await? else {
        return Ok(());
    };
    f.kubectl.ok_with(&["apply", "-f", "-"], Some(APP)).await?;
    let get = || f.kubectl.json(&["get", "deployment", "web", "-n", "shop"]);

    f.kubectl
        .ok(&[
            "patch", "deployment", "web", "-n", "shop", "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"registry.example/web:2"}]}}}}"#,
        ])
        .await?;
    let d = get().await?;
    let containers = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], "registry.example/web:2");
    assert_eq!(
        containers[1]["name"], "sidecar",
        "strategic merge keeps the other container"
    );

    f.kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "-n",
            "shop",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"labels":{"tier":"front"}}}"#,
        ])
        .await?;
    assert_eq!(
        get().await?["metadata"]["labels"],
        json!({"app": "web", "tier": "front"})
    );

    f.kubectl
        .ok(&[
            "patch",
            "deployment",
            "web",
            "-n",
            "shop",
            "--type",
            "json",
            "-p",
            r#"[{"op":"replace","path":"/spec/replicas","value":7}]"#,
        ])
        .await?;
    assert_eq!(get().await?["spec"]["replicas"], 7);

    let err = f
        .kubectl
        .fails(&[
            "patch",
            "deployment",
            "web",
            "-n",
            "shop",
            "--type",
            "json",
            "-p",
            r#"[{"op":"test","path":"/spec/replicas","value":1}]"#,
        ])
        .await?;
    assert!(
        err.contains("The request is invalid") && err.contains("/spec/replicas"),
        "a failed test op is a 422 Invalid naming the path: {err}"
    );
    Ok(())
}

#[tokio::test]
async fn delete_removes_and_reports() -> Result<()> {
    let Some(f) = fixture("delete_removes_and_reports").await? else {
        return Ok(());
    };
    f.kubectl.ok_with(&["apply", "-f", "-"], Some(APP)).await?;
    let out = f
        .kubectl
        .ok(&["delete", "configmap", "settings", "-n", "shop"])
        .await?;
    assert_eq!(out.trim(), r#"configmap "settings" deleted"#);
    let err = f
        .kubectl
        .fails(&["get", "configmap", "settings", "-n", "shop"])
        .await?;
    assert!(err.contains("(NotFound)"), "{err}");
    let err = f
        .kubectl
        .fails(&["delete", "configmap", "settings", "-n", "shop"])
        .await?;
    assert!(err.contains(r#"configmaps "settings" not found"#), "{err}");
    Ok(())
}

#[tokio::test]
async fn wait_for_condition_ready() -> Result<()> {
    let Some(f) = fixture("wait_for_condition_ready").await? else {
        return Ok(());
    };
    let pods: Api<Pod> = Api::namespaced(f.server.client(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "db-0"},
        "spec": {"containers": [{"name": "db", "image": "db:1"}]}
    }))?;
    pods.create(&PostParams::default(), &pod).await?;

    let waiter = f
        .kubectl
        .command(&["wait", "--for=condition=Ready", "pod/db-0", "--timeout=20s"])
        .spawn()?;
    // Let kubectl see the pod not ready yet, then make it ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    pods.patch_status(
        "db-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
        ]}})),
    )
    .await?;
    let out = tokio::time::timeout(CALL_TIMEOUT, waiter.wait_with_output()).await??;
    ensure!(
        out.status.success(),
        "kubectl wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "pod/db-0 condition met"
    );
    Ok(())
}

#[tokio::test]
async fn get_watch_streams_new_objects() -> Result<()> {
    let Some(f) = fixture("get_watch_streams_new_objects").await? else {
        return Ok(());
    };
    f.kubectl
        .ok_with(&["apply", "-f", "-"], Some(&configmap("first")))
        .await?;
    let mut watcher = f
        .kubectl
        .command(&["get", "configmaps", "-w", "-o", "name"])
        .spawn()?;
    let stdout = watcher.stdout.take().context("watch stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let mut next_line = async |seen: &mut Vec<String>| -> Result<()> {
        match tokio::time::timeout(CALL_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                seen.push(line);
                Ok(())
            }
            Ok(Ok(None)) => bail!("kubectl get -w ended early; saw {seen:?}"),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => bail!("no watch line within {CALL_TIMEOUT:?}; saw {seen:?}"),
        }
    };
    while !seen.iter().any(|l| l == "configmap/first") {
        next_line(&mut seen).await?;
    }
    f.kubectl
        .ok_with(&["apply", "-f", "-"], Some(&configmap("second")))
        .await?;
    while !seen.iter().any(|l| l == "configmap/second") {
        next_line(&mut seen).await?;
    }
    watcher.kill().await?;
    Ok(())
}

#[tokio::test]
async fn api_resources_lists_builtins_and_new_crds() -> Result<()> {
    let Some(f) = fixture("api_resources_lists_builtins_and_new_crds").await? else {
        return Ok(());
    };
    let out = f.kubectl.ok(&["api-resources", "-o", "name"]).await?;
    let names: Vec<&str> = out.lines().collect();
    for want in [
        "pods",
        "namespaces",
        "persistentvolumeclaims",
        "deployments.apps",
        "statefulsets.apps",
        "jobs.batch",
        "leases.coordination.k8s.io",
        "events.events.k8s.io",
        "storageclasses.storage.k8s.io",
        "poddisruptionbudgets.policy",
        "customresourcedefinitions.apiextensions.k8s.io",
        "ingresses.networking.k8s.io",
        "networkpolicies.networking.k8s.io",
        "priorityclasses.scheduling.k8s.io",
        "runtimeclasses.node.k8s.io",
        "endpointslices.discovery.k8s.io",
        "horizontalpodautoscalers.autoscaling",
    ] {
        assert!(
            names.contains(&want),
            "{want} missing from api-resources:\n{out}"
        );
    }

    let crd = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
";
    f.kubectl.ok_with(&["apply", "-f", "-"], Some(crd)).await?;
    let out = f
        .kubectl
        .ok(&["api-resources", "--api-group", "example.com"])
        .await?;
    assert!(
        out.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols == ["widgets", "wg", "example.com/v1", "true", "Widget"]
        }),
        "{out}"
    );
    // And the new kind is usable by its short name.
    f.kubectl
        .ok_with(
            &["apply", "-f", "-"],
            Some("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3}\n"),
        )
        .await?;
    let w = f.kubectl.json(&["get", "wg", "w1"]).await?;
    assert_eq!(w["spec"]["size"], 3);
    Ok(())
}

/// `kubectl drain` goes through pods/eviction: with room for one disruption
/// it evicts one pod, then retries the other on the server's 429 message
/// until its timeout (each retry waits 5 s, hence one drain only).
#[tokio::test]
async fn drain_respects_a_disruption_budget() -> Result<()> {
    let Some(f) = fixture("drain_respects_a_disruption_budget").await? else {
        return Ok(());
    };
    let client = f.server.client();
    let node: k8s_openapi::api::core::v1::Node =
        serde_json::from_value(json!({"metadata": {"name": "node-a"}}))?;
    Api::all(client.clone())
        .create(&PostParams::default(), &node)
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["db-0", "db-1"] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "db"}},
            "spec": {"nodeName": "node-a", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "db", "image": "db:1"}]}
        }))?;
        pods.create(&PostParams::default(), &pod).await?;
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
            ]}})),
        )
        .await?;
    }
    let pdbs: Api<k8s_openapi::api::policy::v1::PodDisruptionBudget> =
        Api::namespaced(client.clone(), "default");
    let pdb = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}},
    }))?;
    pdbs.create(&PostParams::default(), &pdb).await?;
    let set_allowed = |allowed: i32| {
        json!({"status": {"observedGeneration": 1, "disruptionsAllowed": allowed,
            "currentHealthy": 2, "desiredHealthy": 2 - allowed, "expectedPods": 2}})
    };
    // Room for one: drain evicts one pod, then waits on the spent budget.
    pdbs.patch_status("db", &PatchParams::default(), &Patch::Merge(set_allowed(1)))
        .await?;
    let err = f
        .kubectl
        .fails(&["drain", "node-a", "--force", "--timeout=2s"])
        .await?;
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    assert_eq!(pods.list(&Default::default()).await?.items.len(), 1);
    let st = pdbs.get("db").await?.status.context("pdb status")?;
    assert_eq!(st.disruptions_allowed, 0);
    assert_eq!(st.disrupted_pods.unwrap_or_default().len(), 1);
    Ok(())
}

const WEB_SERVICE: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
";

/// What kube-apiserver makes for itself, its refusal to delete a system
/// namespace, and a Service applied twice: filled in by the server the
/// first time (address, node port, defaults) and unchanged the second
/// (`pkg/registry/core/service/storage`; NamespaceLifecycle admission).
#[tokio::test]
async fn services_and_system_namespaces_as_kubectl_sees_them() -> Result<()> {
    let Some(f) = fixture("services_and_system_namespaces_as_kubectl_sees_them").await? else {
        return Ok(());
    };
    let ip = f
        .kubectl
        .ok(&[
            "get",
            "service",
            "kubernetes",
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ])
        .await?;
    assert_eq!(ip, "10.96.0.1");
    let classes = f.kubectl.ok(&["get", "pc", "-o", "name"]).await?;
    assert_eq!(
        lines_sorted(&classes),
        [
            "priorityclass.scheduling.k8s.io/system-cluster-critical",
            "priorityclass.scheduling.k8s.io/system-node-critical"
        ]
    );
    let err = f.kubectl.fails(&["delete", "namespace", "default"]).await?;
    assert!(
        err.contains(
            r#"Error from server (Forbidden): namespaces "default" is forbidden: this namespace may not be deleted"#
        ),
        "{err}"
    );

    let out = f
        .kubectl
        .ok_with(&["apply", "-f", "-"], Some(WEB_SERVICE))
        .await?;
    assert_eq!(out.trim(), "service/web created");
    let first = f.kubectl.json(&["get", "service", "web"]).await?;
    let spec = &first["spec"];
    assert_eq!(spec["type"], "NodePort");
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["targetPort"], 8080);
    let node_port = spec["ports"][0]["nodePort"].as_u64().unwrap_or(0);
    assert!((30000..=32767).contains(&node_port), "{spec}");
    let out = f
        .kubectl
        .ok_with(&["apply", "-f", "-"], Some(WEB_SERVICE))
        .await?;
    assert_eq!(out.trim(), "service/web unchanged");
    let second = f.kubectl.json(&["get", "service", "web"]).await?;
    assert_eq!(
        second["spec"], first["spec"],
        "nothing the server filled in moved"
    );

    // The columns of `printService` (pkg/printers/internalversion/printers.go).
    let table = f.kubectl.ok(&["get", "services", "-o", "wide"]).await?;
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR"
        ],
        "{table}"
    );
    let cluster_ip = spec["clusterIP"].as_str().unwrap_or_default();
    let ports = format!("80:{node_port}/TCP");
    let web = rows.iter().find(|r| r[0] == "web").context("no web row")?;
    assert_eq!(
        [web[1], web[2], web[3], web[4], web[6]],
        ["NodePort", cluster_ip, "<none>", ports.as_str(), "app=web"],
        "{table}"
    );
    let kubernetes = rows
        .iter()
        .find(|r| r[0] == "kubernetes")
        .context("no kubernetes row")?;
    assert_eq!(
        [
            kubernetes[1],
            kubernetes[2],
            kubernetes[3],
            kubernetes[4],
            kubernetes[6]
        ],
        ["ClusterIP", "10.96.0.1", "<none>", "443/TCP", "<none>"],
        "{table}"
    );
    Ok(())
}

/// kubectl's `create` subcommands build typed objects and send them as
/// protobuf (`application/vnd.kubernetes.protobuf`), which the server reads
/// through the table derived from k8s.io/api's generated.proto and Go tags.
#[tokio::test]
async fn create_subcommands_send_protobuf_for_every_kind() -> Result<()> {
    let Some(f) = fixture("create_subcommands_send_protobuf_for_every_kind").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    for (args, printed) in [
        (
            &[
                "create",
                "deployment",
                "web",
                "--image=nginx:1.27",
                "--replicas=0",
                "--port=8080",
            ][..],
            "deployment.apps/web created",
        ),
        (
            &["create", "service", "clusterip", "web", "--tcp=80:8080"],
            "service/web created",
        ),
        (
            &[
                "create",
                "job",
                "once",
                "--image=busybox",
                "--",
                "echo",
                "hi",
            ],
            "job.batch/once created",
        ),
        (
            &[
                "create",
                "cronjob",
                "nightly",
                "--image=busybox",
                "--schedule=0 3 * * *",
            ],
            "cronjob.batch/nightly created",
        ),
        (
            &["create", "serviceaccount", "robot"],
            "serviceaccount/robot created",
        ),
        (
            &[
                "create",
                "role",
                "reader",
                "--verb=get,list",
                "--resource=pods",
            ],
            "role.rbac.authorization.k8s.io/reader created",
        ),
        (
            &[
                "create",
                "rolebinding",
                "reader",
                "--role=reader",
                "--serviceaccount=default:robot",
            ],
            "rolebinding.rbac.authorization.k8s.io/reader created",
        ),
        (
            &[
                "create",
                "clusterrole",
                "viewer",
                "--verb=get",
                "--resource=nodes",
            ],
            "clusterrole.rbac.authorization.k8s.io/viewer created",
        ),
        (
            &[
                "create",
                "clusterrolebinding",
                "viewer",
                "--clusterrole=viewer",
                "--user=alice",
            ],
            "clusterrolebinding.rbac.authorization.k8s.io/viewer created",
        ),
        (
            &[
                "create",
                "pdb",
                "web",
                "--selector=app=web",
                "--min-available=1",
            ],
            "poddisruptionbudget.policy/web created",
        ),
        (
            &[
                "create",
                "quota",
                "small",
                "--hard=pods=10,requests.memory=1Gi",
            ],
            "resourcequota/small created",
        ),
        (
            &[
                "create",
                "priorityclass",
                "high",
                "--value=1000",
                "--description=batch work",
            ],
            "priorityclass.scheduling.k8s.io/high created",
        ),
        (
            &["create", "ingress", "web", "--rule=example.com/=web:80"],
            "ingress.networking.k8s.io/web created",
        ),
        (
            &["create", "secret", "generic", "token", "--from-literal=k=v"],
            "secret/token created",
        ),
    ] {
        assert_eq!(k.ok(args).await?.trim(), printed, "kubectl {args:?}");
    }

    let deploy = k.json(&["get", "deployment", "web"]).await?;
    assert_eq!(
        deploy["spec"]["replicas"], 0,
        "an explicit zero is kept: {deploy}"
    );
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(deploy["spec"]["selector"]["matchLabels"]["app"], "web");

    let svc = k.json(&["get", "service", "web"]).await?;
    assert_eq!(svc["spec"]["ports"][0]["port"], 80);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert!(
        svc["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10.96.")),
        "{svc}"
    );

    let job = k.json(&["get", "job", "once"]).await?;
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        serde_json::json!(["echo", "hi"])
    );
    let cron = k.json(&["get", "cronjob", "nightly"]).await?;
    assert_eq!(cron["spec"]["schedule"], "0 3 * * *");
    let binding = k.json(&["get", "rolebinding", "reader"]).await?;
    assert_eq!(
        binding["subjects"],
        serde_json::json!([{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}])
    );
    assert_eq!(binding["roleRef"]["name"], "reader");
    let role = k.json(&["get", "role", "reader"]).await?;
    assert_eq!(
        role["rules"][0]["verbs"],
        serde_json::json!(["get", "list"])
    );
    let pdb = k.json(&["get", "pdb", "web"]).await?;
    assert_eq!(
        pdb["spec"]["minAvailable"], 1,
        "an int-or-string read as an int: {pdb}"
    );
    let quota = k.json(&["get", "quota", "small"]).await?;
    assert_eq!(
        quota["spec"]["hard"],
        serde_json::json!({"pods": "10", "requests.memory": "1Gi"})
    );
    let pc = k.json(&["get", "priorityclass", "high"]).await?;
    assert_eq!(
        (pc["value"].clone(), pc["description"].clone()),
        (1000.into(), "batch work".into())
    );
    let ing = k.json(&["get", "ingress", "web"]).await?;
    let path = &ing["spec"]["rules"][0]["http"]["paths"][0];
    assert_eq!(path["backend"]["service"]["port"]["number"], 80, "{ing}");
    let secret = k.json(&["get", "secret", "token"]).await?;
    assert_eq!(secret["data"]["k"], "dg==");
    // Tables as printers.go prints them (printJob, printSecret).
    let jobs = k.ok(&["get", "jobs"]).await?;
    let header: Vec<&str> = line_cells(&jobs, 0);
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert!(
        jobs.lines().nth(1).is_some_and(|l| l.starts_with("once")),
        "{jobs}"
    );
    let secrets = k.ok(&["get", "secret", "token"]).await?;
    let cells: Vec<&str> = line_cells(&secrets, 1);
    assert_eq!(&cells[..3], ["token", "Opaque", "1"], "{secrets}");
    drop(f.server);
    Ok(())
}

/// `kubectl logs|exec` against pods no kubelet serves: the messages a real
/// cluster prints when the pod is not scheduled or its kubelet is down
/// (`pkg/registry/core/pod/strategy.go`, apimachinery `util/proxy`).
#[tokio::test]
async fn logs_and_exec_say_why_no_kubelet_answers() -> Result<()> {
    let Some(f) = fixture("logs_and_exec_say_why_no_kubelet_answers").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    let pods = "apiVersion: v1\nkind: Pod\nmetadata: {name: pending, namespace: default}\nspec: {containers: [{name: main, image: busybox}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: placed, namespace: default}\nspec: {nodeName: node-1, containers: [{name: main, image: busybox}]}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: node-1}\n";
    k.ok_with(&["apply", "-f", "-"], Some(pods)).await?;
    let status = r#"{"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.5"}]}}"#;
    k.ok(&[
        "patch",
        "node",
        "node-1",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ])
    .await?;

    assert_eq!(
        k.ok(&["logs", "pending"]).await?,
        "",
        "an unscheduled pod has no log yet"
    );
    let err = k.fails(&["logs", "placed"]).await?;
    assert_eq!(
        err.trim(),
        r#"Error from server: Get "https://10.0.0.5:10250/containerLogs/default/placed/main": dial tcp 10.0.0.5:10250: connect: connection refused"#
    );
    let err = k.fails(&["exec", "pending", "--", "ls"]).await?;
    assert!(
        err.contains("pod pending does not have a host assigned"),
        "{err}"
    );
    let err = k.fails(&["exec", "placed", "--", "ls"]).await?;
    assert!(
        err.contains("error dialing backend: dial tcp 10.0.0.5:10250: connect: connection refused"),
        "{err}"
    );
    drop(f.server);
    Ok(())
}

/// A CRD whose `spec.size` must not shrink and whose `note` became stricter
/// after an object was stored: kubectl prints the 422 the CEL rule produced
/// (apiextensions-apiserver `pkg/apiserver/schema/cel/validation.go`) and the
/// Warning a ratcheted rule sends (`Warning:` on stderr, client-go's
/// default warning handler).
#[tokio::test]
async fn cel_rule_failures_and_ratchet_warnings_reach_kubectl() -> Result<()> {
    let Some(f) = fixture("cel_rule_failures_and_ratchet_warnings_reach_kubectl").await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let crd = |note_rule: &str| {
        format!(
            "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: volumes.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: {{plural: volumes, singular: volume, kind: Volume}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size:
                type: integer
                x-kubernetes-validations:
                - rule: self >= oldSelf
                  message: size may not shrink
              note:
                type: string
                x-kubernetes-validations: [{note_rule}]
"
        )
    };
    let crd_file = write_manifest(dir.path(), "crd.yaml", &crd(""))?;
    f.kubectl.ok(&["apply", "-f", &crd_file]).await?;
    let volume = |size: u32, note: &str| {
        format!(
            "apiVersion: cel.example.com/v1\nkind: Volume\nmetadata: {{name: data, namespace: default}}\nspec: {{size: {size}, note: {note}}}\n"
        )
    };
    let vol_file = write_manifest(dir.path(), "vol.yaml", &volume(10, "long-enough"))?;
    f.kubectl.ok(&["apply", "-f", &vol_file]).await?;

    write_manifest(dir.path(), "vol.yaml", &volume(5, "long-enough"))?;
    let err = f.kubectl.fails(&["apply", "-f", &vol_file]).await?;
    assert!(
        err.contains("The Volume \"data\" is invalid: spec.size: Invalid value: \"integer\": size may not shrink"),
        "{err}"
    );

    write_manifest(
        dir.path(),
        "crd.yaml",
        &crd("{rule: 'self.size() <= 4', message: 'note is at most 4 characters'}"),
    )?;
    f.kubectl.ok(&["apply", "-f", &crd_file]).await?;
    write_manifest(dir.path(), "vol.yaml", &volume(20, "long-enough"))?;
    let out = f.kubectl.run(&["apply", "-f", &vol_file], None).await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "Warning: spec.note: Invalid value: \"string\": note is at most 4 characters"
        ),
        "{stderr}"
    );
    Ok(())
}

/// A ValidatingAdmissionPolicy applied with kubectl refuses `kubectl create
/// deployment` (the denial of k8s.io/apiserver's
/// `admission/plugin/policy/validating/dispatcher.go`), and `kubectl get`
/// prints the columns of printers.go's `printValidatingAdmissionPolicy` and
/// `printValidatingAdmissionPolicyBinding`.
#[tokio::test]
async fn admission_policies_refuse_kubectl_and_print_their_columns() -> Result<()> {
    let Some(f) = fixture("admission_policies_refuse_kubectl_and_print_their_columns").await?
    else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let manifests = write_manifest(
        dir.path(),
        "policy.yaml",
        "\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: replica-limit
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: object.spec.replicas <= 5
    message: at most 5 replicas
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: replica-limit
spec:
  policyName: replica-limit
  validationActions: [Deny]
",
    )?;
    f.kubectl.ok(&["apply", "-f", &manifests]).await?;
    let err = f
        .kubectl
        .fails(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=7",
        ])
        .await?;
    assert!(
        err.contains("ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit' denied request: at most 5 replicas"),
        "{err}"
    );
    f.kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
        ])
        .await?;

    let policies = f
        .kubectl
        .ok(&["get", "validatingadmissionpolicies"])
        .await?;
    let header: Vec<&str> = line_cells(&policies, 0);
    assert_eq!(
        header,
        ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"],
        "{policies}"
    );
    assert!(policies.contains("<unset>"), "{policies}");
    let bindings = f
        .kubectl
        .ok(&["get", "validatingadmissionpolicybindings"])
        .await?;
    let header: Vec<&str> = line_cells(&bindings, 0);
    assert_eq!(
        header,
        ["NAME", "POLICYNAME", "PARAMREF", "AGE"],
        "{bindings}"
    );
    Ok(())
}

/// Webhooks configured with `kubectl apply`: a validating webhook's refusal
/// reaches `kubectl create` as the webhook's message (`ToStatusErr`,
/// k8s.io/apiserver `admission/plugin/webhook/errors/statuserror.go`), a
/// mutating webhook's patch lands and its warning is printed, and `kubectl
/// get` prints printers.go's `printValidatingWebhook` columns.
#[tokio::test]
async fn webhooks_refuse_and_mutate_what_kubectl_creates() -> Result<()> {
    let Some(f) = fixture("webhooks_refuse_and_mutate_what_kubectl_creates").await? else {
        return Ok(());
    };
    f.server.serve_webhook("webhooks", "deny", |review| async move {
        let name = review["request"]["name"].as_str().unwrap_or("").to_string();
        let uid = review["request"]["uid"].clone();
        let allowed = name != "blocked";
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "response": {"uid": uid, "allowed": allowed, "status": {"message": "blocked by name"}}})
    });
    f.server
        .serve_webhook("webhooks", "mutate", |review| async move {
            use base64::Engine;
            let uid = review["request"]["uid"].clone();
            let patch =
                json!([{"op": "add", "path": "/metadata/labels", "value": {"mutated": "yes"}}]);
            let patch = base64::engine::general_purpose::STANDARD.encode(patch.to_string());
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
               "response": {"uid": uid, "allowed": true, "patchType": "JSONPatch", "patch": patch,
                            "warnings": ["labelled by mutate.harness.dev"]}})
        });
    let dir = tempfile::tempdir()?;
    let manifests = write_manifest(
        dir.path(),
        "webhooks.yaml",
        "\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: deny
webhooks:
- name: deny.harness.dev
  clientConfig: {service: {namespace: webhooks, name: deny, path: /validate}}
  rules:
  - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  sideEffects: None
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: mutate
webhooks:
- name: mutate.harness.dev
  clientConfig: {service: {namespace: webhooks, name: mutate, path: /mutate}}
  rules:
  - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  sideEffects: None
  admissionReviewVersions: [v1]
",
    )?;
    f.kubectl.ok(&["apply", "-f", &manifests]).await?;
    let err = f
        .kubectl
        .fails(&["create", "configmap", "blocked", "--from-literal=a=b"])
        .await?;
    assert!(
        err.contains("admission webhook \"deny.harness.dev\" denied the request: blocked by name"),
        "{err}"
    );
    let out = f
        .kubectl
        .run(&["create", "configmap", "fine", "--from-literal=a=b"], None)
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Warning: labelled by mutate.harness.dev"),
        "{stderr}"
    );
    let cm = f.kubectl.json(&["get", "configmap", "fine"]).await?;
    assert_eq!(cm["metadata"]["labels"]["mutated"], "yes", "{cm}");
    let listed = f
        .kubectl
        .ok(&["get", "validatingwebhookconfigurations"])
        .await?;
    let header: Vec<&str> = line_cells(&listed, 0);
    assert_eq!(header, ["NAME", "WEBHOOKS", "AGE"], "{listed}");
    Ok(())
}

/// kubectl's default `--validate=strict` has the server refuse unknown
/// fields (`fieldValidation=Strict`, apiserver `handlers/rest.go` over
/// sigs.k8s.io/json's strict errors); `--validate=warn` prints them as
/// warnings and `--validate=false` drops them silently.
#[tokio::test]
async fn kubectl_validate_flags_reach_field_validation() -> Result<()> {
    let Some(f) = fixture("kubectl_validate_flags_reach_field_validation").await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let manifest = write_manifest(
        dir.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: default}\ndataa: {k: v}\n",
    )?;
    let err = f.kubectl.fails(&["create", "-f", &manifest]).await?;
    assert!(
        err.contains(
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"dataa\""
        ),
        "{err}"
    );
    let out = f
        .kubectl
        .run(&["create", "-f", &manifest, "--validate=warn"], None)
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Warning: unknown field \"dataa\""),
        "{stderr}"
    );
    f.kubectl.ok(&["delete", "configmap", "typo"]).await?;
    let out = f
        .kubectl
        .run(&["create", "-f", &manifest, "--validate=false"], None)
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("Warning"), "{stderr}");
    Ok(())
}

/// `kubectl scale` writes the `/scale` subresource, which admission sees as
/// an autoscaling/v1 Scale (kubernetes `pkg/registry/apps/deployment/storage/storage.go`,
/// `ScaleREST`): a policy on `deployments/scale` refuses it, one on
/// `deployments` does not see it; and `kubectl get -o jsonpath` reads the
/// policy's `status.typeChecking` once the status controller wrote it
/// (apiserver `admission/plugin/policy/validating/typechecking.go`).
#[tokio::test]
async fn kubectl_scale_meets_scale_policies() -> Result<()> {
    let Some(f) = fixture("kubectl_scale_meets_scale_policies").await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let manifests = write_manifest(
        dir.path(),
        "policy.yaml",
        "\
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: scale-limit
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [UPDATE]
      resources: [deployments/scale]
  validations:
  - expression: object.spec.replicas <= 5
    message: scale to at most 5
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: scale-limit
spec:
  policyName: scale-limit
  validationActions: [Deny]
",
    )?;
    f.kubectl.ok(&["apply", "-f", &manifests]).await?;
    f.kubectl
        .ok(&[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=9",
        ])
        .await?;
    let err = f
        .kubectl
        .fails(&["scale", "deployment/web", "--replicas=8"])
        .await?;
    assert!(
        err.contains("ValidatingAdmissionPolicy 'scale-limit' with binding 'scale-limit' denied request: scale to at most 5"),
        "{err}"
    );
    f.kubectl
        .ok(&["scale", "deployment/web", "--replicas=3"])
        .await?;
    let replicas = f
        .kubectl
        .ok(&["get", "deployment/web", "-o", "jsonpath={.spec.replicas}"])
        .await?;
    assert_eq!(replicas.trim(), "3");
    // The status controller writes after the create, as on a real cluster.
    f.kubectl
        .ok(&[
            "wait",
            "validatingadmissionpolicy/scale-limit",
            "--for=jsonpath={.status.observedGeneration}=1",
            "--timeout=10s",
        ])
        .await?;
    Ok(())
}

/// `kubectl get --raw` through a node's proxy reaches the kubelet a test
/// plays (`ApiServer::serve_node_proxy`), as it reaches a real kubelet's
/// summary API (`pkg/registry/core/node/rest/proxy.go`).
#[tokio::test]
async fn kubectl_reads_a_played_kubelets_summary() -> Result<()> {
    let Some(f) = fixture("kubectl_reads_a_played_kubelets_summary").await? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let node = write_manifest(
        dir.path(),
        "node.yaml",
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1\n",
    )?;
    f.kubectl.ok(&["apply", "-f", &node]).await?;
    f.server.serve_node_proxy(
        "node-1",
        |request: http::Request<bytes::Bytes>| async move {
            let body = format!(
                "{{\"node\":{{\"nodeName\":\"node-1\"}},\"asked\":\"{}\"}}",
                request.uri()
            );
            http::Response::new(bytes::Bytes::from(body))
        },
    );
    let out = f
        .kubectl
        .ok(&["get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary"])
        .await?;
    let summary: serde_json::Value = serde_json::from_str(&out)?;
    // The query goes along as sent (kubectl adds its request timeout).
    let asked = summary["asked"].as_str().unwrap_or("");
    assert!(asked.starts_with("/stats/summary"), "{out}");
    assert_eq!(summary["node"]["nodeName"], "node-1");
    Ok(())
}

const ROBOT_RBAC: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
  namespace: team
rules:
- apiGroups: [\"\"]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
  namespace: team
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-reader
subjects:
- kind: ServiceAccount
  name: robot
  namespace: team
";

/// `kubectl auth can-i` (a SelfSubjectAccessReview; `--as` impersonates),
/// `--list` (a SelfSubjectRulesReview) and `kubectl auth whoami` (a
/// SelfSubjectReview) answer from the stored RBAC objects, as on a cluster
/// (kubectl `pkg/cmd/auth/cani.go`: "no" exits 1).
#[tokio::test]
async fn auth_can_i_and_whoami_answer_from_rbac() -> Result<()> {
    let Some(f) = fixture("auth_can_i_and_whoami_answer_from_rbac").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    k.ok_with(&["apply", "-f", "-"], Some(ROBOT_RBAC)).await?;
    assert_eq!(k.ok(&["auth", "can-i", "delete", "nodes"]).await?, "yes\n");
    let robot = ["-n", "team", "--as", "system:serviceaccount:team:robot"];
    let as_robot = |args: &[&'static str]| [args, &robot[..]].concat();
    assert_eq!(
        k.ok(&as_robot(&["auth", "can-i", "list", "pods"])).await?,
        "yes\n"
    );
    let refused = k
        .run(&as_robot(&["auth", "can-i", "delete", "pods"]), None)
        .await?;
    assert_eq!(
        (
            refused.status.code(),
            String::from_utf8_lossy(&refused.stdout).into_owned()
        ),
        (Some(1), "no\n".to_string())
    );
    let listed = k.ok(&as_robot(&["auth", "can-i", "--list"])).await?;
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("pods ") && l.contains("[get list]")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("selfsubjectaccessreviews.authorization.k8s.io")),
        "system:basic-user's rule, bound to system:authenticated: {listed}"
    );
    let whoami = [
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ];
    assert_eq!(k.ok(&whoami).await?, "system:admin");
    assert_eq!(
        k.ok(&as_robot(&whoami)).await?,
        "system:serviceaccount:team:robot"
    );
    Ok(())
}

/// `kubectl debug` adds an ephemeral container with a strategic merge
/// patch of `pods/{name}/ephemeralcontainers` (kubectl
/// `pkg/cmd/debug/debug.go`); without the subresource it stops with
/// "ephemeral containers are disabled for this cluster".
#[tokio::test]
async fn debug_adds_an_ephemeral_container() -> Result<()> {
    let Some(f) = fixture("debug_adds_an_ephemeral_container").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    k.ok(&["run", "web", "--image=nginx"]).await?;
    k.ok(&[
        "debug",
        "web",
        "--image=busybox",
        "--container=dbg",
        "--profile=general",
        "--",
        "true",
    ])
    .await?;
    let pod = k.json(&["get", "pod", "web"]).await?;
    assert_eq!(
        pod["spec"]["ephemeralContainers"][0]["name"], "dbg",
        "{pod}"
    );
    assert_eq!(pod["spec"]["ephemeralContainers"][0]["image"], "busybox");
    Ok(())
}

/// `kubectl create token` prints a token a TokenReview then names.
/// (kubectl sends credentials only over TLS, clientcmd's
/// `IsConfigTransportTLS`, so `kubectl --token` against this plain-HTTP
/// endpoint would not present it; kube-rs does, see `tokens.rs`.)
#[tokio::test]
async fn create_token_makes_a_token_a_review_names() -> Result<()> {
    let Some(f) = fixture("create_token_makes_a_token_a_review_names").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    k.ok(&["create", "serviceaccount", "robot"]).await?;
    let token = k
        .ok(&["create", "token", "robot", "--duration=20m"])
        .await?;
    let token = token.trim();
    ensure!(token.split('.').count() == 3, "not a JWS: {token}");
    let review = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": token},
    });
    // A review has no PATCH path, so kubectl validates it client-side
    // against /openapi/v2.
    let name = k
        .ok_with(
            &[
                "create",
                "-f",
                "-",
                "-o",
                "jsonpath={.status.user.username}",
            ],
            Some(&review.to_string()),
        )
        .await?;
    assert_eq!(name, "system:serviceaccount:default:robot");
    Ok(())
}

/// `kubectl explain` renders the `/openapi/v3` documents with its built-in
/// templates (kubectl `pkg/explain/v2/templates/plaintext.tmpl`): the kind
/// comes from a path's `x-kubernetes-group-version-kind`, the fields from
/// the component schema tagged with it.
#[tokio::test]
async fn explain_reads_the_published_schemas() -> Result<()> {
    let Some(f) = fixture("explain_reads_the_published_schemas").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    let out = k.ok(&["explain", "pods"]).await?;
    assert!(
        out.starts_with("KIND:       Pod\nVERSION:    v1\n"),
        "{out}"
    );
    assert!(out.contains("Pod is a collection of containers"), "{out}");
    assert!(out.contains("  spec\t<PodSpec>\n"), "{out}");
    assert!(!out.contains("metadata\t<ObjectMeta> -required-"), "{out}");

    let out = k.ok(&["explain", "deployment.spec.replicas"]).await?;
    assert!(
        out.starts_with("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n"),
        "{out}"
    );
    assert!(out.contains("FIELD: replicas <integer>"), "{out}");

    let out = k.ok(&["explain", "pod.spec.containers.name"]).await?;
    assert!(out.contains("FIELD: name <string>"), "{out}");

    let err = k.fails(&["explain", "pod.spec.bogus"]).await?;
    assert!(err.contains(r#"field "bogus" does not exist"#), "{err}");

    // A review has only a POST; explain finds it there.
    let out = k.ok(&["explain", "tokenreviews"]).await?;
    assert!(out.contains("KIND:       TokenReview"), "{out}");

    // A custom kind: its CRD schema, with the metadata every kind has.
    crate::common::install_database_crd(&f.server.client()).await;
    let out = k.ok(&["explain", "databases.spec"]).await?;
    assert!(
        out.starts_with("GROUP:      harness.dev\nKIND:       Database\n"),
        "{out}"
    );
    assert!(out.contains("replicas\t<integer> -required-"), "{out}");
    let out = k.ok(&["explain", "databases"]).await?;
    assert!(out.contains("metadata\t<ObjectMeta>"), "{out}");
    Ok(())
}

/// `kubectl get -o yaml` of several objects prints a `kind: List`; kubectl
/// validates a List client-side against `/openapi/v2` (kubectl
/// `pkg/validation/schema.go`: no v3 PATCH path names the List kind), so
/// applying that output needs the v2 document, and a wrong field in an item
/// is refused before anything is sent.
#[tokio::test]
async fn apply_of_a_list_validates_its_items_client_side() -> Result<()> {
    let Some(f) = fixture("apply_of_a_list_validates_its_items_client_side").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    let dir = tempfile::tempdir()?;
    let file = write_manifest(
        dir.path(),
        "list.yaml",
        &format!(
            "apiVersion: v1\nkind: List\nitems:\n- {}\n- {}\n",
            configmap("one").replace('\n', "\n  ").trim_end(),
            configmap("two").replace('\n', "\n  ").trim_end(),
        ),
    )?;
    let out = k.ok(&["apply", "-f", &file]).await?;
    assert_eq!(
        lines_sorted(&out),
        ["configmap/one created", "configmap/two created"],
        "{out}"
    );
    // Round trip: what `get -o yaml` prints applies again (kubectl says
    // `configured`: the file now carries server fields its last applied
    // configuration did not).
    let listed = k
        .ok(&["get", "configmaps", "one", "two", "-o", "yaml"])
        .await?;
    assert!(listed.contains("kind: List"), "{listed}");
    let again = write_manifest(dir.path(), "again.yaml", &listed)?;
    let out = k.ok(&["apply", "-f", &again]).await?;
    let names: Vec<&str> = out.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(names, ["configmap/one", "configmap/two"], "{out}");

    let bad = write_manifest(
        dir.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: three, namespace: default}\n  bogus: 1\n",
    )?;
    let err = k.fails(&["apply", "-f", &bad]).await?;
    assert!(
        err.contains(r#"unknown field "bogus" in io.k8s.api.core.v1.ConfigMap"#),
        "{err}"
    );
    let cms = k.ok(&["get", "configmaps", "-o", "name"]).await?;
    assert!(!cms.contains("three"), "nothing was sent: {cms}");
    Ok(())
}

/// `kubectl patch --subresource resize` (kubectl 1.32 lists `resize` among
/// the subresources it patches) changes a running pod's requests in place,
/// and `kubectl get` reads the new value back.
#[tokio::test]
async fn kubectl_resizes_a_running_pod() -> Result<()> {
    let Some(f) = fixture("kubectl_resizes_a_running_pod").await? else {
        return Ok(());
    };
    let k = &f.kubectl;
    k.ok(&["run", "web", "--image=nginx:1.27", "--restart=Never"])
        .await?;
    // No kubelet here: mark the pod running as a 1.33 kubelet reports it,
    // resources included (without them the resize is refused).
    let pods: Api<Pod> = Api::namespaced(f.server.client(), "default");
    let running = json!({"status": {"phase": "Running", "containerStatuses": [{
        "name": "web", "image": "nginx:1.27", "imageID": "", "ready": true,
        "restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
        "resources": {},
    }]}});
    pods.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(running.clone()),
    )
    .await?;
    // The pod is BestEffort; a resize may not make it Burstable.
    let patch =
        r#"{"spec":{"containers":[{"name":"web","resources":{"requests":{"cpu":"200m"}}}]}}"#;
    let err = k
        .fails(&[
            "patch",
            "pod",
            "web",
            "--subresource",
            "resize",
            "-p",
            patch,
        ])
        .await?;
    assert!(
        err.contains("Pod QOS Class may not change as a result of resizing"),
        "{err}"
    );
    k.ok(&["delete", "pod", "web", "--wait=false"]).await?;

    let out = k
        .ok(&[
            "run",
            "api",
            "--image=nginx:1.27",
            "--restart=Never",
            "--overrides",
            r#"{"spec":{"containers":[{"name":"api","image":"nginx:1.27","resources":{"requests":{"cpu":"100m"}}}]}}"#,
        ])
        .await?;
    assert_eq!(out.trim(), "pod/api created");
    let mut running = running;
    running["status"]["containerStatuses"][0]["name"] = json!("api");
    pods.patch_status("api", &PatchParams::default(), &Patch::Merge(running))
        .await?;
    let patch =
        r#"{"spec":{"containers":[{"name":"api","resources":{"requests":{"cpu":"200m"}}}]}}"#;
    let out = k
        .ok(&[
            "patch",
            "pod",
            "api",
            "--subresource",
            "resize",
            "-p",
            patch,
        ])
        .await?;
    assert_eq!(out.trim(), "pod/api patched");
    let cpu = k
        .ok(&[
            "get",
            "pod",
            "api",
            "-o",
            "jsonpath={.spec.containers[0].resources.requests.cpu}",
        ])
        .await?;
    assert_eq!(cpu.trim(), "200m");
    Ok(())
}

/// `kubectl certificate approve` (kubectl's pkg/cmd/certificates: a GET,
/// then a PUT of the whole object to `/approval`, protobuf from a 1.33
/// kubectl) and `kubectl get csr` with `printCertificateSigningRequest`'s
/// columns (pkg/printers/internalversion/printers.go).
#[tokio::test]
async fn kubectl_approves_a_certificate_signing_request() -> Result<()> {
    let Some(f) = fixture("kubectl_approves_a_certificate_signing_request").await? else {
        return Ok(());
    };
    use base64::Engine;
    let key = rcgen::KeyPair::generate()?;
    let params = rcgen::CertificateParams::new(vec!["web.example.com".into()])?;
    let pem = params.serialize_request(&key)?.pem()?;
    let request = base64::engine::general_purpose::STANDARD.encode(pem);
    let dir = tempfile::tempdir()?;
    let file = write_manifest(
        dir.path(),
        "csr.yaml",
        &format!(
            "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: web\nspec:\n  request: {request}\n  signerName: example.com/serving\n  expirationSeconds: 86400\n  usages: [digital signature, server auth]\n"
        ),
    )?;
    let k = &f.kubectl;
    assert_eq!(
        k.ok(&["create", "-f", &file]).await?.trim(),
        "certificatesigningrequest.certificates.k8s.io/web created"
    );
    let table = k.ok(&["get", "csr"]).await?;
    let header: Vec<&str> = line_cells(&table, 0);
    assert_eq!(
        header,
        [
            "NAME",
            "AGE",
            "SIGNERNAME",
            "REQUESTOR",
            "REQUESTEDDURATION",
            "CONDITION"
        ]
    );
    let row: Vec<&str> = line_cells(&table, 1);
    assert_eq!(
        (row[0], row[2], row[3], row[4], row[5]),
        (
            "web",
            "example.com/serving",
            "system:admin",
            "24h",
            "Pending"
        ),
        "{table}"
    );
    assert_eq!(
        k.ok(&["certificate", "approve", "web"]).await?.trim(),
        "certificatesigningrequest.certificates.k8s.io/web approved"
    );
    let condition = k
        .ok(&[
            "get",
            "csr",
            "web",
            "-o",
            "jsonpath={.status.conditions[0].reason}",
        ])
        .await?;
    assert_eq!(condition, "KubectlApprove");
    let err = k.fails(&["certificate", "deny", "web"]).await?;
    assert!(
        err.contains("certificate signing request \"web\" is already Approved"),
        "{err}"
    );
    let table = k.ok(&["get", "csr", "web", "--no-headers"]).await?;
    assert!(table.trim_end().ends_with("Approved"), "{table}");
    Ok(())
}
