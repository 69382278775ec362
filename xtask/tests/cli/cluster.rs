use crate::fakes::Fakes;

fn kubeconfig(f: &Fakes, name: &str) -> String {
    f.out_dir()
        .join("kind")
        .join(format!("{name}.kubeconfig"))
        .display()
        .to_string()
}

fn default_config() -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("manifests/kind/multi-node.yaml")
        .display()
        .to_string()
}

#[test]
fn up_creates_a_missing_cluster_and_waits_for_nodes() {
    let mut f = Fakes::new();
    f.rule("kind", "get clusters", "", "No kind clusters found.\n", 0);
    let run = f.run(&["cluster", "up", "--name", "e2e"], &[]);
    run.assert_ok();
    let kc = kubeconfig(&f, "e2e");
    assert_eq!(
        run.all_steps(),
        vec![
            "docker version --format {{.Client.Version}}".to_owned(),
            "docker info --format {{.ServerVersion}}".to_owned(),
            "kind version".to_owned(),
            "kubectl version --client".to_owned(),
            "kind get clusters".to_owned(),
            format!(
                "kind create cluster --name e2e --config {} --kubeconfig {kc}",
                default_config()
            ),
            format!(
                "kubectl --kubeconfig {kc} wait --for=condition=Ready nodes --all --timeout=180s"
            ),
        ]
    );
    assert!(
        run.stdout.contains(&format!("export KUBECONFIG={kc}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("prerequisite kind: kind v0.29.0"),
        "{}",
        run.stdout
    );
}

#[test]
fn up_twice_only_refreshes_the_kubeconfig() {
    let mut f = Fakes::new();
    f.reply("kind", "get clusters", "other\ne2e\n");
    let run = f.run(
        &[
            "cluster",
            "up",
            "--name",
            "e2e",
            "--config",
            "manifests/kind/single-node.yaml",
            "--wait",
            "2m",
        ],
        &[],
    );
    run.assert_ok();
    let kc = kubeconfig(&f, "e2e");
    assert_eq!(
        run.steps(),
        vec![
            "kind get clusters".to_owned(),
            format!("kind export kubeconfig --name e2e --kubeconfig {kc}"),
            format!(
                "kubectl --kubeconfig {kc} wait --for=condition=Ready nodes --all --timeout=120s"
            ),
        ]
    );
    assert!(
        run.stdout.contains("kind cluster e2e already exists"),
        "{}",
        run.stdout
    );
}

#[test]
fn up_with_a_missing_config_names_the_file() {
    let f = Fakes::new();
    let run = f.run(&["cluster", "up", "--config", "nope/kind.yaml"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("nope/kind.yaml does not exist"),
        "{}",
        run.stderr
    );
    assert!(!run.steps().iter().any(|s| s.starts_with("kind create")));
}

#[test]
fn down_of_a_missing_cluster_says_so_and_succeeds() {
    let mut f = Fakes::new();
    f.reply("kind", "get clusters", "other\n");
    let run = f.run(&["cluster", "down", "--name", "e2e"], &[]);
    run.assert_ok();
    assert_eq!(run.steps(), vec!["kind get clusters"]);
    assert!(
        run.stdout
            .contains("kind cluster e2e does not exist; nothing to delete"),
        "{}",
        run.stdout
    );
}

#[test]
fn down_deletes_an_existing_cluster_and_its_kubeconfig() {
    let mut f = Fakes::new();
    f.reply("kind", "get clusters", "kube-harness\n");
    let kc = kubeconfig(&f, "kube-harness");
    std::fs::create_dir_all(f.out_dir().join("kind")).unwrap();
    std::fs::write(&kc, "apiVersion: v1\n").unwrap();
    let run = f.run(&["cluster", "down"], &[]);
    run.assert_ok();
    assert_eq!(
        run.steps(),
        vec![
            "kind get clusters".to_owned(),
            format!("kind delete cluster --name kube-harness --kubeconfig {kc}"),
        ]
    );
    assert!(
        !std::path::Path::new(&kc).exists(),
        "kubeconfig left behind"
    );
    // down only needs docker and kind
    assert!(
        !run.all_steps()
            .contains(&"kubectl version --client".to_owned())
    );
}

#[test]
fn status_reports_absent_and_present_clusters() {
    let mut f = Fakes::new();
    f.reply("kind", "get clusters", "");
    let run = f.run(&["cluster", "status", "--name", "e2e"], &[]);
    run.assert_ok();
    assert_eq!(run.steps(), vec!["kind get clusters"]);
    assert!(
        run.stdout
            .contains("kind cluster e2e: absent (no kind clusters exist)"),
        "{}",
        run.stdout
    );

    f.reply("kind", "get clusters", "e2e\n");
    f.reply(
        "kubectl",
        "*get nodes -o wide",
        "NAME STATUS\ne2e-control-plane Ready\n",
    );
    let run = f.run(
        &["cluster", "status", "--name", "e2e"],
        &[("KIND_CLUSTER_NAME", "ignored-by-flag")],
    );
    run.assert_ok();
    let kc = kubeconfig(&f, "e2e");
    assert_eq!(
        run.steps(),
        vec![
            "kind get clusters".to_owned(),
            format!("kind export kubeconfig --name e2e --kubeconfig {kc}"),
            format!("kubectl --kubeconfig {kc} get nodes -o wide"),
        ]
    );
    assert!(
        run.stdout.contains("e2e-control-plane Ready"),
        "{}",
        run.stdout
    );
}

#[test]
fn cluster_name_comes_from_kind_cluster_name_env() {
    let mut f = Fakes::new();
    f.reply("kind", "get clusters", "from-env\n");
    let run = f.run(&["cluster", "down"], &[("KIND_CLUSTER_NAME", "from-env")]);
    run.assert_ok();
    assert!(
        run.steps()[1].starts_with("kind delete cluster --name from-env"),
        "{:?}",
        run.steps()
    );
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let f = Fakes::new();
    for action in ["up", "down", "status"] {
        let run = f.run(&["cluster", action, "--name", "e2e", "--dry-run"], &[]);
        run.assert_ok();
        assert!(run.calls.is_empty(), "{action} ran {:?}", run.calls);
        assert!(
            run.stdout
                .contains(r#"would run ["kind","get","clusters"]"#),
            "{}",
            run.stdout
        );
    }
    let run = f.run(&["cluster", "up", "--name", "e2e", "--dry-run"], &[]);
    assert!(
        run.stdout
            .contains(r#"would run ["kind","create","cluster","--name","e2e","--config""#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("# only if cluster e2e does not exist"),
        "{}",
        run.stdout
    );
    assert!(!f.out_dir().join("kind").exists(), "dry run created files");
}

#[test]
fn a_stopped_docker_daemon_is_reported_before_anything_runs() {
    let mut f = Fakes::new();
    f.fail(
        "docker",
        "info --format*",
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
        1,
    );
    let run = f.run(&["cluster", "up"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("missing prerequisites"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("the Docker daemon is not reachable (Cannot connect to the Docker daemon"),
        "{}",
        run.stderr
    );
    assert!(run.steps().is_empty(), "ran {:?}", run.steps());
}

#[test]
fn missing_kind_is_named_with_how_to_install_it() {
    let mut f = Fakes::new();
    f.remove("kind");
    let run = f.run(&["cluster", "status"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("`kind` not found on PATH: install kind"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("go install sigs.k8s.io/kind@"),
        "{}",
        run.stderr
    );
    // a dry run looks for the tools on PATH too (without running them)
    let run = f.run(&["cluster", "status", "--dry-run"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("`kind` not found on PATH"),
        "{}",
        run.stderr
    );
    assert!(run.calls.is_empty(), "{:?}", run.calls);
}

#[test]
fn too_old_kubectl_is_rejected_with_the_minimum() {
    let mut f = Fakes::new();
    f.reply("kubectl", "version --client", "Client Version: v1.21.0\n");
    let run = f.run(&["cluster", "status"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("`kubectl` is too old (Client Version: v1.21.0); need 1.27 or newer"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failing_kind_create_exits_non_zero_with_the_command() {
    let mut f = Fakes::new();
    f.reply("kind", "get clusters", "");
    f.fail(
        "kind",
        "create cluster*",
        "ERROR: failed to create cluster: node(s) already exist\n",
        1,
    );
    let run = f.run(&["cluster", "up", "--name", "e2e"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains(r#"["kind","create","cluster","--name","e2e","#),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("failed with exit status 1"),
        "{}",
        run.stderr
    );
    // nothing after the failure
    assert!(
        !run.steps().iter().any(|s| s.contains(" wait ")),
        "{:?}",
        run.steps()
    );
}

#[test]
fn invalid_cluster_names_are_usage_errors() {
    let f = Fakes::new();
    let run = f.run(&["cluster", "up", "--name", "Bad_Name"], &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("not a valid kind cluster name"),
        "{}",
        run.stderr
    );
    assert!(run.calls.is_empty());
}
