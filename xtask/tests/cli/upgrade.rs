//! setup/verify/cleanup-upgrade-tests against fake kubectl/docker that
//! answer with realistic continuity-probe output (the format of
//! kube_harness_continuity's probe script) and a realistic writer log.

use crate::fakes::{Fakes, Run};

/// What the probe in a pod reports; the fields a remount changes.
#[derive(Clone)]
struct Pod {
    writer_pid: u32,
    writer_start: u64,
    mount_id: u64,
    dev: &'static str,
    root_ino: u64,
    log_ino: u64,
    /// The probe's clock (uptime seconds) at setup / at verify.
    setup_uptime: f64,
    verify_uptime: f64,
}

const POD: Pod = Pod {
    writer_pid: 7,
    writer_start: 123_456,
    mount_id: 1520,
    dev: "8:1",
    root_ino: 393_217,
    log_ino: 393_218,
    setup_uptime: 1000.00,
    verify_uptime: 1030.00,
};

fn stat_line(pid: u32, comm: &str, start: u64) -> String {
    format!(
        "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 1200 0 0 0 3 5 0 0 20 0 1 0 {start} 1531904 250 18446744073709551615 1 1 0 0 0 0 0 2 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0"
    )
}

/// The lines of a pod probe up to (not including) marker/read-write/end.
fn pod_probe(p: &Pod, uptime: f64) -> String {
    let dev_num = "2049"; // 8:1 as st_dev
    format!(
        "continuity-probe 1\n\
         clock {uptime:.2} 1795434496\n\
         mount_point /data\n\
         writer_pid {pid}\n\
         writer_stat {stat}\n\
         resolved /data\n\
         mountinfo {mid} 1490 {dev} /var/lib/csi-hostpath-data/0f2c3a7e /data rw,relatime - ext4 /dev/sda1 rw\n\
         mount_root {dev_num} {root}\n\
         log_path /data/continuity.log\n\
         log_file {dev_num} {log} 48213\n\
         handle_target /data/continuity.log\n\
         handle_file {dev_num} {log}\n\
         handle_mnt_id {mid}\n",
        pid = p.writer_pid,
        stat = stat_line(p.writer_pid, "sh", p.writer_start),
        mid = p.mount_id,
        dev = p.dev,
        root = p.root_ino,
        log = p.log_ino,
    )
}

/// The writer's log from before setup up to just before the verify probe,
/// one tick per 100 ms, and the marker (read from $STATE/token) at the end.
fn log_script(p: &Pod) -> String {
    let mut log = format!(
        "start {} {:.2} 1795434400\n",
        p.writer_pid,
        p.setup_uptime - 5.0
    );
    let first = ((p.setup_uptime - 4.9) * 100.0).round() as u64;
    let last = ((p.verify_uptime - 0.05) * 100.0).round() as u64;
    for (seq, centis) in (first..=last).step_by(10).enumerate() {
        log.push_str(&format!(
            "tick {} {}.{:02} {} {}\n",
            seq + 1,
            centis / 100,
            centis % 100,
            1_795_434_400 + centis / 100,
            p.writer_pid
        ));
    }
    format!(
        "    printf '%s' '{log}'\n    read -r tok < \"$STATE/token\"\n    printf 'marker %s 9999 {:.2} 1795434496 {}\\n' \"$tok\"",
        p.verify_uptime - 0.05,
        p.writer_pid
    )
}

/// The verify probe: echoes the marker token it was asked for and keeps it
/// for the log, like the real writer would.
fn verify_script(p: &Pod) -> String {
    format!(
        "    tok=; prev=\n    for a in \"$@\"; do if [ \"$prev\" = -k ]; then tok=$a; fi; prev=$a; done\n    printf '%s\\n' \"$tok\" > \"$STATE/token\"\n    printf '%s' '{}'\n    printf 'marker %s ok\\nread_write ok\\nend\\n' \"$tok\"",
        pod_probe(p, p.verify_uptime)
    )
}

const SETUP_PROBE: &str = "*continuity-probe -m /data -l /data/continuity.log -c /tmp/continuity";
const VERIFY_PROBE: &str =
    "*continuity-probe -m /data -l /data/continuity.log -c /tmp/continuity -k *";

/// Fakes for a cluster where scenario `name`'s pod reports `before` at setup
/// and `after` at verify.
fn cluster(name: &str, before: &Pod, after: &Pod) -> Fakes {
    let mut f = Fakes::new();
    let pod = format!("*exec continuity-{name} ");
    f.reply(
        "kubectl",
        &format!("{pod}{SETUP_PROBE}"),
        &format!("{}end\n", pod_probe(before, before.setup_uptime)),
    );
    f.script(
        "kubectl",
        &format!("{pod}{VERIFY_PROBE}"),
        &verify_script(after),
    );
    f.script(
        "kubectl",
        &format!("{pod}*cat /data/continuity.log"),
        &log_script(after),
    );
    f
}

fn hostpath_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("UPGRADE_TEST_DRIVER", "hostpath"),
        ("UPGRADE_TEST_TYPE", "dynamic"),
    ]
}

fn setup(f: &Fakes, env: &[(&str, &str)]) -> Run {
    f.run(&["setup-upgrade-tests"], env)
}

#[test]
fn setup_deploys_writers_probes_them_and_saves_the_records() {
    let f = cluster("dynamic", &POD, &POD);
    let run = setup(&f, &hostpath_env());
    run.assert_ok();
    let dir = f.out_dir().join("upgrade-tests/upgrade-test");
    let m = dir.join("manifests");
    let steps = run.steps();
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert_eq!(
        steps[0],
        format!(
            "kubectl apply --filename {}",
            m.join("namespace.yaml").display()
        )
    );
    assert_eq!(
        steps[1],
        format!(
            "kubectl apply --filename {}",
            m.join("dynamic-pvc.yaml").display()
        )
    );
    assert_eq!(
        steps[2],
        format!(
            "kubectl apply --filename {}",
            m.join("continuity-dynamic-pod.yaml").display()
        )
    );
    assert_eq!(
        steps[3],
        "kubectl wait --for=condition=Ready pod/continuity-dynamic --namespace upgrade-test --timeout=120s"
    );
    let exec = &run.calls[run.calls.len() - 1];
    assert_eq!(
        exec[..9],
        [
            "kubectl",
            "exec",
            "continuity-dynamic",
            "--namespace",
            "upgrade-test",
            "--container",
            "writer",
            "--",
            "sh"
        ]
    );
    assert_eq!(exec[9], "-c");
    assert!(
        exec[10].contains("continuity probe"),
        "the probe script is passed as one argument"
    );
    assert_eq!(
        exec[11..],
        [
            "continuity-probe",
            "-m",
            "/data",
            "-l",
            "/data/continuity.log",
            "-c",
            "/tmp/continuity"
        ]
    );

    // the writer pod runs the continuity writer on the claim
    let pod: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(m.join("continuity-dynamic-pod.yaml")).unwrap(),
    )
    .unwrap();
    let command = pod["spec"]["containers"][0]["command"]
        .as_sequence()
        .unwrap();
    assert_eq!(command[0].as_str(), Some("sh"));
    assert!(command[2].as_str().unwrap().contains("continuity writer"));
    assert_eq!(command[3].as_str(), Some("continuity-writer"));
    assert_eq!(command[4].as_str(), Some("/data/continuity.log"));
    assert_eq!(
        pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"].as_str(),
        Some("continuity-dynamic")
    );
    let pvc = std::fs::read_to_string(m.join("dynamic-pvc.yaml")).unwrap();
    assert!(pvc.contains("storageClassName: csi-hostpath"), "{pvc}");

    // the record is saved and printed
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("dynamic.json")).unwrap()).unwrap();
    assert_eq!(record["mount"]["mount_id"], 1520, "{record}");
    assert!(
        run.stdout
            .contains("mount ID 1520 (ext4 /dev/sda1 on /data)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("writer PID 7 (start time 123456)"),
        "{}",
        run.stdout
    );
    // hostpath is not FUSE: no docker needed, no node probe
    assert!(
        !run.all_steps().iter().any(|s| s.starts_with("docker")),
        "{:?}",
        run.all_steps()
    );
}

#[test]
fn verify_after_an_undisturbed_upgrade_passes() {
    let f = cluster("dynamic", &POD, &POD);
    setup(&f, &hostpath_env()).assert_ok();
    let run = f.run(&["verify-upgrade-tests"], &hostpath_env());
    run.assert_ok();
    assert!(
        run.stdout.contains("✅ Mount ID unchanged: 1520"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("✅ No significant gaps"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("✅ VERIFIED: Mount survived upgrade without remounting!"),
        "{}",
        run.stdout
    );
    let steps = run.steps();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(
        steps[1].ends_with("-- cat /data/continuity.log"),
        "{steps:?}"
    );
    let report = f
        .out_dir()
        .join("upgrade-tests/upgrade-test/dynamic.verify.txt");
    assert!(
        std::fs::read_to_string(report)
            .unwrap()
            .contains("VERIFIED")
    );
}

#[test]
fn verify_after_a_remount_fails_with_old_and_new_values() {
    let after = Pod {
        mount_id: 1733,
        root_ino: 400_001,
        log_ino: 400_002,
        ..POD
    };
    let f = cluster("dynamic", &POD, &after);
    setup(&f, &hostpath_env()).assert_ok();
    let run = f.run(&["verify-upgrade-tests"], &hostpath_env());
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("❌ Mount ID changed: 1520 → 1733 (REMOUNTED!)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("❌ mount was disrupted during upgrade"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("mount continuity NOT verified for the dynamic scenario(s)"),
        "{}",
        run.stderr
    );
}

#[test]
fn verify_without_setup_says_what_to_run() {
    let f = cluster("dynamic", &POD, &POD);
    let run = f.run(&["verify-upgrade-tests"], &hostpath_env());
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("no setup record for the dynamic scenario"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("run `cargo xtask setup-upgrade-tests` first"),
        "{}",
        run.stderr
    );
    assert!(run.steps().is_empty());
}

fn mountpoint_cluster(server_before: u32, server_after: u32) -> Fakes {
    let mut f = cluster("static", &POD, &POD);
    f.reply("kubectl", "*get service minio *", "10.96.7.7");
    f.reply(
        "kubectl",
        "*get pod continuity-static *",
        "e2e-worker 3f1c-uid",
    );
    f.reply(
        "kubectl",
        "*get persistentvolumeclaim continuity-static *",
        "upgrade-test-continuity-static",
    );
    let node = |pid: u32| {
        format!(
            "continuity-probe 1\nclock 1000.00 1795434496\nmount_point /m\nresolved /m\n\
             server_candidates 1\nserver_stat {}\nserver_cmdline /usr/bin/mount-s3 upgrade-test-static-bucket /m\nend\n",
            stat_line(pid, "mount-s3", 99_000 + u64::from(pid))
        )
    };
    // setup probes the node first, verify later: answer by call count
    f.script(
        "docker",
        "exec e2e-worker sh -c * continuity-probe -m /var/lib/kubelet/pods/3f1c-uid/volumes/kubernetes.io~csi/upgrade-test-continuity-static/mount -s mount-s3",
        &format!(
            "    if [ -e \"$STATE/node-probed\" ]; then printf '%s' '{}'; else : > \"$STATE/node-probed\"; printf '%s' '{}'; fi",
            node(server_after),
            node(server_before)
        ),
    );
    f
}

#[test]
fn mountpoint_setup_creates_bucket_and_static_volume_and_finds_the_fuse_server_on_the_node() {
    let f = mountpoint_cluster(4242, 4242);
    let run = setup(&f, &[]);
    run.assert_ok();
    let steps = run.steps();
    let m = f.out_dir().join("upgrade-tests/upgrade-test/manifests");
    assert_eq!(
        steps[1],
        format!(
            "kubectl apply --filename {}",
            m.join("bucket-job.yaml").display()
        )
    );
    assert_eq!(
        steps[2],
        "kubectl wait --for=condition=Complete job/create-bucket --namespace upgrade-test --timeout=120s"
    );
    assert_eq!(
        steps[3],
        "kubectl get service minio --namespace s3-endpoint --output=jsonpath={.spec.clusterIP}"
    );
    assert_eq!(
        steps[4],
        format!(
            "kubectl apply --filename {}",
            m.join("static-s3.yaml").display()
        )
    );
    let pv = std::fs::read_to_string(m.join("static-s3.yaml")).unwrap();
    assert!(pv.contains("endpoint-url http://10.96.7.7:9000"), "{pv}");
    assert!(
        pv.contains("bucketName: upgrade-test-static-bucket"),
        "{pv}"
    );
    assert!(pv.contains("name: upgrade-test-continuity-static"), "{pv}");
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("docker exec e2e-worker sh -c")),
        "{steps:?}"
    );
    assert!(
        run.stdout
            .contains("mount served by PID 4242 (mount-s3, start time 103242)"),
        "{}",
        run.stdout
    );
    // the FUSE driver needs docker: checked first
    assert!(run.all_steps().iter().any(|s| s.starts_with("docker info")));
    // a custom bucket goes to the job and the PV
    let run = setup(&f, &[("UPGRADE_TEST_BUCKET", "my-bucket.v2")]);
    run.assert_ok();
    let job = std::fs::read_to_string(m.join("bucket-job.yaml")).unwrap();
    assert!(job.contains("value: \"my-bucket.v2\""), "{job}");
}

#[test]
fn mountpoint_verify_catches_a_restarted_fuse_server() {
    let f = mountpoint_cluster(4242, 5151);
    setup(&f, &[]).assert_ok();
    let run = f.run(&["verify-upgrade-tests"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("❌ Mount PID changed: 4242 → 5151"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("✅ Mount ID unchanged: 1520"),
        "{}",
        run.stdout
    );

    let f = mountpoint_cluster(4242, 4242);
    setup(&f, &[]).assert_ok();
    let run = f.run(&["verify-upgrade-tests"], &[]);
    run.assert_ok();
    assert!(
        run.stdout.contains("✅ Mount PID unchanged: 4242"),
        "{}",
        run.stdout
    );
}

#[test]
fn cleanup_deletes_namespace_static_volumes_and_records() {
    let f = cluster("dynamic", &POD, &POD);
    setup(&f, &hostpath_env()).assert_ok();
    let dir = f.out_dir().join("upgrade-tests/upgrade-test");
    assert!(dir.exists());
    let run = f.run(
        &["cleanup-upgrade-tests"],
        &[
            ("UPGRADE_TEST_NAMESPACE", "upgrade-test"),
            ("UPGRADE_TEST_TIMEOUT", "2m"),
        ],
    );
    run.assert_ok();
    assert_eq!(
        run.steps(),
        vec![
            "kubectl delete namespace upgrade-test --ignore-not-found --wait=true --timeout=120s",
            "kubectl delete persistentvolume,storageclass --selector app.kubernetes.io/part-of=kube-harness-upgrade-test,kube-harness/upgrade-test-namespace=upgrade-test --ignore-not-found --wait=true --timeout=120s",
        ]
    );
    assert!(!dir.exists(), "records left behind");
    // cleanup needs only kubectl, whatever the driver
    assert!(!run.all_steps().iter().any(|s| s.starts_with("docker")));
}

#[test]
fn environment_variables_are_validated_with_a_clear_error() {
    let f = Fakes::new();
    for (var, value, expect) in [
        (
            "UPGRADE_TEST_TYPE",
            "both",
            "UPGRADE_TEST_TYPE / --type: \"both\" is not a test type; use static, dynamic or all",
        ),
        (
            "UPGRADE_TEST_TIMEOUT",
            "soon",
            "UPGRADE_TEST_TIMEOUT / --timeout: \"soon\" is not a duration",
        ),
        (
            "UPGRADE_TEST_NAMESPACE",
            "Upgrade_Test",
            "UPGRADE_TEST_NAMESPACE / --namespace: \"Upgrade_Test\" is not a valid namespace name",
        ),
        (
            "UPGRADE_TEST_BUCKET",
            "B!",
            "UPGRADE_TEST_BUCKET / --bucket: \"B!\" is not a valid S3 bucket name",
        ),
        (
            "UPGRADE_TEST_MAX_GAP",
            "0s",
            "UPGRADE_TEST_MAX_GAP / --max-gap: \"0s\": the duration must be greater than zero",
        ),
    ] {
        let command = if var == "UPGRADE_TEST_MAX_GAP" {
            "verify-upgrade-tests"
        } else {
            "setup-upgrade-tests"
        };
        let run = f.run(&[command], &[(var, value)]);
        assert_eq!(run.code, 2, "{var}={value}: {}", run.transcript());
        assert!(
            run.stderr.contains(expect),
            "{var}={value}:\n{}",
            run.stderr
        );
        assert!(run.calls.is_empty(), "{var}={value} ran {:?}", run.calls);
    }
    // a scenario the driver cannot run, asked for explicitly
    let run = f.run(
        &["setup-upgrade-tests"],
        &[
            ("UPGRADE_TEST_TYPE", "dynamic"),
            ("UPGRADE_TEST_DRIVER", "mountpoint-s3"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("UPGRADE_TEST_TYPE=dynamic cannot run with driver mountpoint-s3: the Mountpoint S3 CSI driver supports static provisioning only"),
        "{}",
        run.stderr
    );
    assert!(run.steps().is_empty());
}

#[test]
fn help_documents_the_environment_variables() {
    let f = Fakes::new();
    let run = f.run(&["setup-upgrade-tests", "--help"], &[]);
    run.assert_ok();
    for var in [
        "UPGRADE_TEST_NAMESPACE",
        "UPGRADE_TEST_TYPE",
        "UPGRADE_TEST_TIMEOUT",
        "UPGRADE_TEST_BUCKET",
        "UPGRADE_TEST_DRIVER",
    ] {
        assert!(
            run.stdout.contains(&format!("[env: {var}=")),
            "{var} missing from:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("[default: upgrade-test]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("[default: 120s]"), "{}", run.stdout);
    let run = f.run(&["verify-upgrade-tests", "--help"], &[]);
    assert!(
        run.stdout.contains("[env: UPGRADE_TEST_MAX_GAP="),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Exit status: 0 when every check is ✅"),
        "{}",
        run.stdout
    );
}

#[test]
fn upgrade_test_dry_runs_print_the_plan_and_run_nothing() {
    let f = Fakes::new();
    for command in [
        "setup-upgrade-tests",
        "verify-upgrade-tests",
        "cleanup-upgrade-tests",
    ] {
        let run = f.run(&[command, "--dry-run"], &[]);
        run.assert_ok();
        assert!(run.calls.is_empty(), "{command} ran {:?}", run.calls);
        assert!(
            run.stdout.contains("would run [\"kubectl\""),
            "{command}:\n{}",
            run.stdout
        );
    }
    let run = f.run(&["setup-upgrade-tests", "--dry-run"], &[]);
    assert!(
        run.stdout
            .contains(r#"would run ["docker","exec","NODE","sh","-c""#),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            r#"would run ["kubectl","exec","continuity-static","--namespace","upgrade-test""#
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn a_stopped_docker_daemon_stops_the_fuse_driver_tests_before_they_start() {
    let mut f = mountpoint_cluster(1, 1);
    f.fail("docker", "info --format*", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n", 1);
    let run = setup(&f, &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("the Docker daemon is not reachable"),
        "{}",
        run.stderr
    );
    assert!(run.steps().is_empty(), "{:?}", run.steps());
}

#[test]
fn a_pod_that_never_gets_ready_fails_setup_with_kubectls_reason() {
    let mut f = cluster("dynamic", &POD, &POD);
    f.fail(
        "kubectl",
        "wait --for=condition=Ready pod/continuity-dynamic*",
        "error: timed out waiting for the condition on pods/continuity-dynamic\n",
        1,
    );
    let run = setup(&f, &hostpath_env());
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("while waiting for pod continuity-dynamic Ready"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("timed out waiting for the condition"),
        "{}",
        run.stderr
    );
    assert!(
        !run.steps().iter().any(|s| s.contains(" exec ")),
        "{:?}",
        run.steps()
    );
}

#[test]
fn hostpath_static_preprovisions_a_volume_then_binds_a_hand_written_pv_to_it() {
    let mut f = cluster("static", &POD, &POD);
    f.reply(
        "kubectl",
        "*get persistentvolumeclaim continuity-static-seed *",
        "pvc-8d1e",
    );
    f.reply(
        "kubectl",
        "*get persistentvolume pvc-8d1e *",
        "4f0c2b1e-aa11-11ef-9d3b-0242ac120003 topology.hostpath.csi/node e2e-worker2",
    );
    let run = setup(
        &f,
        &[
            ("UPGRADE_TEST_DRIVER", "hostpath"),
            ("UPGRADE_TEST_TYPE", "static"),
            ("UPGRADE_TEST_NAMESPACE", "up-1"),
        ],
    );
    run.assert_ok();
    let m = f.out_dir().join("upgrade-tests/up-1/manifests");
    let steps = run.steps();
    assert_eq!(
        steps[1..8],
        [
            format!("kubectl apply --filename {}", m.join("hostpath-seed.yaml").display()),
            "kubectl wait --for=jsonpath={.status.phase}=Bound persistentvolumeclaim/continuity-static-seed --namespace up-1 --timeout=120s".to_owned(),
            "kubectl get persistentvolumeclaim continuity-static-seed --namespace up-1 --output=jsonpath={.spec.volumeName}".to_owned(),
            "kubectl get persistentvolume pvc-8d1e --namespace up-1 --output=jsonpath={.spec.csi.volumeHandle} {.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key} {.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}".to_owned(),
            "kubectl delete persistentvolumeclaim continuity-static-seed --namespace up-1 --ignore-not-found --wait=true --timeout=120s".to_owned(),
            "kubectl delete persistentvolume pvc-8d1e --namespace up-1 --ignore-not-found --wait=true --timeout=120s".to_owned(),
            format!("kubectl apply --filename {}", m.join("static-hostpath.yaml").display()),
        ]
    );
    let pv = std::fs::read_to_string(m.join("static-hostpath.yaml")).unwrap();
    for expected in [
        "name: up-1-continuity-static",
        "volumeHandle: 4f0c2b1e-aa11-11ef-9d3b-0242ac120003",
        "- key: topology.hostpath.csi/node",
        r#"values: ["e2e-worker2"]"#,
        "volumeName: up-1-continuity-static",
    ] {
        assert!(pv.contains(expected), "{expected} missing from\n{pv}");
    }
    let seed = std::fs::read_to_string(m.join("hostpath-seed.yaml")).unwrap();
    assert!(seed.contains("reclaimPolicy: Retain"), "{seed}");
    assert!(
        run.stdout.contains("static scenario: mount recorded"),
        "{}",
        run.stdout
    );
}

#[test]
fn setup_refuses_an_incomplete_baseline() {
    let mut f = cluster("dynamic", &POD, &POD);
    f.reply(
        "kubectl",
        &format!("*exec continuity-dynamic {SETUP_PROBE}"),
        "continuity-probe 1\nclock 1000.00 1795434496\nmount_point /data\nwriter_pid 7\n\
         error writer process 7 is not running\nresolved /data\nend\n",
    );
    let run = setup(&f, &hostpath_env());
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout
            .contains("probe problem (writer): process 7 is not running"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("the dynamic scenario's baseline is incomplete"),
        "{}",
        run.stderr
    );
}
