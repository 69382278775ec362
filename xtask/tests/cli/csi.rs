use crate::fakes::Fakes;

fn repo(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join(path)
        .display()
        .to_string()
}

const GET_DS: &str = "kubectl get daemonset csi-hostpathplugin --namespace csi-hostpath --ignore-not-found --output=jsonpath={.metadata.labels.app\\.kubernetes\\.io/version}";
const ROLLOUT: &str =
    "kubectl rollout status daemonset/csi-hostpathplugin --namespace csi-hostpath --timeout=300s";
const READY: &str = "kubectl wait --for=condition=Ready pod --selector app.kubernetes.io/name=csi-hostpathplugin --namespace csi-hostpath --timeout=300s";

#[test]
fn hostpath_install_renders_applies_and_waits() {
    let f = Fakes::new();
    let run = f.run(&["csi", "install", "hostpath", "--version", "1.15.0"], &[]);
    run.assert_ok();
    let file = f.out_dir().join("xtask/csi-hostpath-v1.15.0.yaml");
    assert_eq!(
        run.steps(),
        vec![
            GET_DS.to_owned(),
            format!("kubectl apply --filename {}", file.display()),
            ROLLOUT.to_owned(),
            READY.to_owned(),
        ]
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("image: registry.k8s.io/sig-storage/hostpathplugin:v1.15.0"));
    assert!(text.contains("app.kubernetes.io/version: v1.15.0"));
    assert!(!text.contains("{{"), "unrendered placeholder:\n{text}");
    // every document parses as YAML
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = <serde_yaml::Value as serde::Deserialize>::deserialize(doc).unwrap();
        assert!(value.get("kind").is_some(), "{value:?}");
    }
    // only kubectl was needed
    assert!(!run.all_steps().iter().any(|s| s.starts_with("helm")));
    assert!(
        run.stdout.contains("hostpath v1.15.0 is Ready"),
        "{}",
        run.stdout
    );
}

#[test]
fn hostpath_upgrade_applies_the_new_version_and_waits_for_the_rollout() {
    let mut f = Fakes::new();
    f.reply("kubectl", "*get daemonset csi-hostpathplugin*", "v1.15.0");
    let run = f.run(
        &[
            "csi",
            "upgrade",
            "hostpath",
            "--version",
            "v1.16.1",
            "--kubeconfig",
            "/k/kc",
            "--timeout",
            "90s",
        ],
        &[],
    );
    run.assert_ok();
    let steps = run.steps();
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(
        steps[1].starts_with("kubectl --kubeconfig /k/kc apply --filename "),
        "{steps:?}"
    );
    assert!(steps[1].ends_with("csi-hostpath-v1.16.1.yaml"), "{steps:?}");
    assert!(steps[2].ends_with("--timeout=90s") && steps[2].contains("rollout status"));
    assert!(
        steps
            .iter()
            .all(|s| s.starts_with("kubectl --kubeconfig /k/kc ")),
        "{steps:?}"
    );
    assert!(
        run.stdout.contains("upgrading hostpath v1.15.0 → v1.16.1"),
        "{}",
        run.stdout
    );
}

#[test]
fn hostpath_install_over_another_version_points_at_upgrade() {
    let mut f = Fakes::new();
    f.reply("kubectl", "get daemonset csi-hostpathplugin*", "v1.15.0");
    let run = f.run(&["csi", "install", "hostpath", "--version", "v1.16.1"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("hostpath v1.15.0 is already installed; to move it to v1.16.1 run `cargo xtask csi upgrade hostpath --version v1.16.1`"),
        "{}",
        run.stderr
    );
    assert_eq!(run.steps(), vec![GET_DS]);
}

#[test]
fn hostpath_install_of_the_installed_version_only_waits() {
    let mut f = Fakes::new();
    f.reply("kubectl", "get daemonset csi-hostpathplugin*", "v1.15.0\n");
    let run = f.run(&["csi", "install", "hostpath", "--version", "v1.15.0"], &[]);
    run.assert_ok();
    assert_eq!(run.steps(), vec![GET_DS, ROLLOUT, READY]);
}

#[test]
fn upgrade_of_a_missing_driver_says_install_first() {
    let f = Fakes::new();
    let run = f.run(&["csi", "upgrade", "hostpath", "--version", "v1.16.1"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("hostpath is not installed, so there is nothing to upgrade"),
        "{}",
        run.stderr
    );
}

#[test]
fn unsupported_versions_list_the_supported_ones_before_touching_the_cluster() {
    let f = Fakes::new();
    for dry in [false, true] {
        let mut args = vec!["csi", "install", "hostpath", "--version", "v0.9.0"];
        if dry {
            args.push("--dry-run");
        }
        let run = f.run(&args, &[]);
        assert_eq!(run.code, 1, "{}", run.transcript());
        assert!(
            run.stderr.contains(
                "hostpath version \"v0.9.0\" is not supported; supported versions: v1.15.0, v1.16.1"
            ),
            "{}",
            run.stderr
        );
        assert!(run.steps().is_empty(), "{:?}", run.steps());
    }
}

#[test]
fn hostpath_uninstall_deletes_what_install_applied_and_is_idempotent() {
    let mut f = Fakes::new();
    let run = f.run(&["csi", "uninstall", "hostpath"], &[]);
    run.assert_ok();
    assert_eq!(run.steps(), vec![GET_DS]);
    assert!(
        run.stdout
            .contains("hostpath is not installed; nothing to uninstall")
    );

    f.reply("kubectl", "get daemonset csi-hostpathplugin*", "v1.16.1");
    let run = f.run(&["csi", "uninstall", "hostpath"], &[]);
    run.assert_ok();
    let file = f.out_dir().join("xtask/csi-hostpath-v1.16.1.yaml");
    assert_eq!(
        run.steps(),
        vec![
            GET_DS.to_owned(),
            format!(
                "kubectl delete --filename {} --ignore-not-found --wait=true --timeout=300s",
                file.display()
            ),
        ]
    );
}

#[test]
fn mountpoint_install_brings_up_minio_then_the_chart() {
    let mut f = Fakes::new();
    f.reply("helm", "list *", "[]\n");
    let run = f.run(
        &["csi", "install", "mountpoint-s3", "--version", "2.2.2"],
        &[],
    );
    run.assert_ok();
    assert_eq!(
        run.steps(),
        vec![
            "helm list --namespace kube-system --filter ^aws-mountpoint-s3-csi-driver$ --output json".to_owned(),
            format!("kubectl apply --filename {}", repo("manifests/csi/minio/minio.yaml")),
            format!("kubectl apply --filename {}", repo("manifests/csi/minio/credentials.yaml")),
            "kubectl rollout status deployment/minio --namespace s3-endpoint --timeout=300s".to_owned(),
            format!(
                "helm upgrade --install aws-mountpoint-s3-csi-driver aws-mountpoint-s3-csi-driver \
                 --repo https://awslabs.github.io/mountpoint-s3-csi-driver --version 2.2.2 \
                 --namespace kube-system --values {} --wait --timeout=300s",
                repo("manifests/csi/mountpoint-s3/values.yaml")
            ),
            "kubectl rollout status daemonset/s3-csi-node --namespace kube-system --timeout=300s".to_owned(),
        ]
    );
    assert!(run.all_steps().contains(&"helm version --short".to_owned()));
}

#[test]
fn mountpoint_upgrade_moves_the_release_only() {
    let mut f = Fakes::new();
    f.reply(
        "helm",
        "list *",
        r#"[{"name":"aws-mountpoint-s3-csi-driver","namespace":"kube-system","revision":"1","status":"deployed","chart":"aws-mountpoint-s3-csi-driver-2.2.2","app_version":"2.2.2"}]"#,
    );
    let run = f.run(
        &["csi", "upgrade", "mountpoint-s3", "--version", "v2.3.0"],
        &[],
    );
    run.assert_ok();
    let steps = run.steps();
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(
        steps[1].starts_with("helm upgrade --install aws-mountpoint-s3-csi-driver"),
        "{steps:?}"
    );
    assert!(steps[1].contains("--version 2.3.0"), "{steps:?}");
    assert!(!steps.iter().any(|s| s.contains("minio")), "{steps:?}");
    assert!(
        run.stdout.contains("upgrading mountpoint-s3 2.2.2 → 2.3.0"),
        "{}",
        run.stdout
    );
}

#[test]
fn mountpoint_uninstall_removes_release_and_endpoint() {
    let mut f = Fakes::new();
    f.reply(
        "helm",
        "list *",
        r#"[{"name":"aws-mountpoint-s3-csi-driver","chart":"aws-mountpoint-s3-csi-driver-2.3.0"}]"#,
    );
    let run = f.run(&["csi", "uninstall", "mountpoint-s3"], &[]);
    run.assert_ok();
    let steps = run.steps();
    assert_eq!(
        steps[1],
        "helm uninstall aws-mountpoint-s3-csi-driver --namespace kube-system --wait --timeout=300s"
    );
    assert!(
        steps[2].starts_with("kubectl delete --filename ") && steps[2].contains("credentials.yaml")
    );
    assert!(steps[3].starts_with("kubectl delete --filename ") && steps[3].contains("minio.yaml"));
    assert_eq!(steps.len(), 4, "{steps:?}");
}

#[test]
fn mountpoint_needs_helm_and_says_how_to_get_it() {
    let mut f = Fakes::new();
    f.remove("helm");
    let run = f.run(
        &["csi", "install", "mountpoint-s3", "--version", "2.2.2"],
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("`helm` not found on PATH: install helm 3"),
        "{}",
        run.stderr
    );
    assert!(run.steps().is_empty());
    // hostpath does not need helm
    let run = f.run(&["csi", "install", "hostpath", "--version", "v1.15.0"], &[]);
    run.assert_ok();
}

#[test]
fn csi_dry_run_prints_every_step_and_runs_nothing() {
    let f = Fakes::new();
    let run = f.run(
        &[
            "csi",
            "upgrade",
            "hostpath",
            "--version",
            "v1.16.1",
            "--dry-run",
        ],
        &[],
    );
    run.assert_ok();
    assert!(run.calls.is_empty(), "{:?}", run.calls);
    for expected in [
        r#"would run ["kubectl","get","daemonset","csi-hostpathplugin""#,
        r#"would run ["kubectl","apply","--filename","#,
        r#"would run ["kubectl","rollout","status","daemonset/csi-hostpathplugin""#,
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected} in\n{}",
            run.stdout
        );
    }
    let run = f.run(
        &[
            "csi",
            "install",
            "mountpoint-s3",
            "--version",
            "2.3.0",
            "--dry-run",
        ],
        &[],
    );
    run.assert_ok();
    assert!(run.calls.is_empty(), "{:?}", run.calls);
    assert!(
        run.stdout
            .contains(r#"would run ["helm","upgrade","--install""#),
        "{}",
        run.stdout
    );
    let run = f.run(&["csi", "uninstall", "mountpoint-s3", "--dry-run"], &[]);
    run.assert_ok();
    assert!(run.calls.is_empty(), "{:?}", run.calls);
    assert!(
        run.stdout.contains("# only if the release exists"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_rollout_that_times_out_fails_with_the_reason() {
    let mut f = Fakes::new();
    f.fail(
        "kubectl",
        "rollout status*",
        "error: timed out waiting for the condition\n",
        1,
    );
    let run = f.run(&["csi", "install", "hostpath", "--version", "v1.15.0"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("while waiting for the hostpath plugin rollout"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: timed out waiting for the condition"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("FAILED: the hostpath plugin rollout"),
        "{}",
        run.stdout
    );
    assert!(
        !run.steps().iter().any(|s| s.contains("wait --for")),
        "{:?}",
        run.steps()
    );
}

#[test]
fn unknown_drivers_are_usage_errors() {
    let f = Fakes::new();
    let run = f.run(&["csi", "install", "nfs", "--version", "1"], &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("possible values: hostpath, mountpoint-s3"),
        "{}",
        run.stderr
    );
}
