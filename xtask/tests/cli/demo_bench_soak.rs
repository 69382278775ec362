//! demo, bench and soak: the commands that drive cargo. Their dry runs
//! print the exact plan; the real runs are driven with a fake cargo (the
//! `CARGO` variable, which xtask uses as its cargo) so nothing compiles.

use std::path::{Path, PathBuf};

use crate::fakes::{Fakes, Run};

/// The repository root, where xtask runs cargo.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Lines of a dry run's plan, as the test writes them: `{root}` is the
/// repository root.
fn plan(lines: &[&str]) -> String {
    let root = repo().display().to_string();
    let mut out = String::from("dry run: printing the command plan; nothing is executed\n");
    for line in lines {
        out.push_str(&line.replace("{root}", &root));
        out.push('\n');
    }
    out
}

fn assert_plan(run: &Run, expected: &[&str]) {
    run.assert_ok();
    assert!(run.calls.is_empty(), "a dry run ran {:?}", run.calls);
    assert_eq!(run.stdout, plan(expected), "{}", run.transcript());
}

#[test]
fn demo_dry_run_builds_the_examples_once_then_runs_each() {
    let f = Fakes::new();
    let run = f.run(&["demo", "--dry-run"], &[]);
    assert_plan(
        &run,
        &[
            r#"[1] would run ["cargo","build","-p","kube-harness-suites","--examples"] in {root}"#,
            r#"[2] would run ["cargo","run","--quiet","-p","kube-harness-suites","--example","rollout_story"] in {root}"#,
            r#"[3] would run ["cargo","run","--quiet","-p","kube-harness-suites","--example","storage_story"] in {root}"#,
            r#"[4] would run ["cargo","run","--quiet","-p","kube-harness-suites","--example","assertions_tour"] in {root}"#,
        ],
    );
}

#[test]
fn bench_dry_run_prints_each_cargo_bench_and_where_its_table_goes() {
    let f = Fakes::new();
    let run = f.run(
        &["bench", "--dry-run"],
        &[
            ("CARGO", "/toolchain/bin/cargo"),
            ("CARGO_TARGET_DIR", "build/t"),
        ],
    );
    assert_plan(
        &run,
        &[
            r#"[1] would run ["/toolchain/bin/cargo","bench","-p","kube-harness-assert","--bench","assertions"] in {root}"#,
            "    (dry run: would write {root}/build/t/bench/assertions.md)",
            r#"[2] would run ["/toolchain/bin/cargo","bench","-p","kube-harness-apiserver","--bench","apiserver","--features","bench-kube-fake-client"] in {root}"#,
            "    (dry run: would write {root}/build/t/bench/apiserver.md)",
            r#"[3] would run ["/toolchain/bin/cargo","bench","-p","kube-harness","--bench","faker"] in {root}"#,
            "    (dry run: would write {root}/build/t/bench/faker.md)",
        ],
    );
    // CI's guard: only benches with a quick mode, in the profile the tests
    // built, over the workspace so that build is reused.
    let run = f.run(&["bench", "--quick", "--dry-run"], &[]);
    assert_plan(
        &run,
        &[
            r#"[1] would run ["cargo","bench","--workspace","--bench","faker","--profile","dev","--","--quick","--min-ratio","3"] in {root}"#,
            "    (dry run: would write {root}/target/bench/faker-quick.md)",
        ],
    );
    let run = f.run(&["bench", "apiserver", "--dry-run"], &[]);
    assert_plan(
        &run,
        &[
            r#"[1] would run ["cargo","bench","-p","kube-harness-apiserver","--bench","apiserver","--features","bench-kube-fake-client"] in {root}"#,
            "    (dry run: would write {root}/target/bench/apiserver.md)",
        ],
    );
}

#[test]
fn soak_dry_run_builds_once_and_plans_the_runs() {
    let f = Fakes::new();
    let run = f.run(&["soak", "rollout", "--runs", "7", "--dry-run"], &[]);
    assert_plan(
        &run,
        &[
            r#"[1] would run ["cargo","test","--package","kube-harness-suites","--test","suites","--no-run","--message-format=json-render-diagnostics"] in {root}"#,
            r#"[2] would run ["SUITES_TEST_EXECUTABLE","rollout_"] in {root}/tests with CARGO_MANIFEST_DIR={root}/tests  # 7 runs; up to 5 failing runs' output kept in {root}/target/soak"#,
        ],
    );
}

/// A fake cargo (and a fake `suites` test binary) in a folder of their
/// own: POSIX sh with builtins only, each call logged one line per call.
struct FakeCargo {
    dir: tempfile::TempDir,
}

impl FakeCargo {
    fn new(body: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let f = Self { dir };
        std::fs::create_dir_all(f.path().join("pkg")).unwrap();
        f.script(
            "cargo",
            &format!(
                "printf '%s\\n' \"cargo $*\" >> {log}\nDIR={dir}\n{body}\n",
                log = f.path().join("log").display(),
                dir = f.path().display(),
            ),
        );
        f
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let file = self.path().join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn cargo(&self) -> String {
        self.path().join("cargo").display().to_string()
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.path().join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn a_failing_demo_step_names_its_argv_and_stops_the_demo() {
    let f = Fakes::new();
    let cargo = FakeCargo::new(
        r#"case "$*" in
  *--example\ rollout_story) echo "the story breaks" >&2; exit 101 ;;
esac
echo "cargo $1 ok""#,
    );
    let run = f.run(&["demo"], &[("CARGO", &cargo.cargo())]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_eq!(
        cargo.log(),
        [
            "cargo build -p kube-harness-suites --examples",
            "cargo run --quiet -p kube-harness-suites --example rollout_story",
        ],
        "the demo builds once, and stops at the failing step"
    );
    assert!(
        run.stderr.contains("demo step `rollout_story` failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            r#"["{}","run","--quiet","-p","kube-harness-suites","--example","rollout_story"] failed with exit status 101"#,
            cargo.cargo()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the story breaks"),
        "its stderr streams: {}",
        run.stderr
    );
    assert!(
        run.stdout.contains("cargo build ok"),
        "its stdout streams: {}",
        run.stdout
    );
}

#[test]
fn bench_keeps_the_table_and_a_failing_bench_names_its_argv() {
    let f = Fakes::new();
    let target = tempfile::tempdir().unwrap();
    let target_dir = target.path().display().to_string();
    let cargo = FakeCargo::new(
        r#"echo "   Compiling progress goes to stderr" >&2
case "$*" in
  *--bench\ apiserver*) echo "no table: the server did not start"; exit 101 ;;
esac
printf 'warming up\n| op | time |\n|---|---|\n| probe | 3 us |\n\nNotes: none.\n'"#,
    );
    let envs = [
        ("CARGO", cargo.cargo()),
        ("CARGO_TARGET_DIR", target_dir.clone()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = f.run(&["bench", "assertions"], &envs);
    run.assert_ok();
    let table = std::fs::read_to_string(target.path().join("bench/assertions.md")).unwrap();
    assert!(table.starts_with("## bench: assertions\n\n"), "{table}");
    assert!(
        table.ends_with("| op | time |\n|---|---|\n| probe | 3 us |\n\nNotes: none.\n"),
        "{table}"
    );
    assert!(!table.contains("warming up"), "{table}");

    let run = f.run(&["bench", "apiserver"], &envs);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stderr.contains("bench `apiserver` failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            r#"["{}","bench","-p","kube-harness-apiserver","--bench","apiserver","--features","bench-kube-fake-client"] failed with exit status 101 (its stderr is above); its stdout: no table: the server did not start"#,
            cargo.cargo()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn soak_builds_once_runs_the_binary_in_its_package_and_keeps_failing_runs() {
    let f = Fakes::new();
    let target = tempfile::tempdir().unwrap();
    let cargo = FakeCargo::new(
        r#"printf '%s\n' "{\"reason\":\"compiler-artifact\",\"target\":{\"name\":\"suites\",\"kind\":[\"test\"]},\"profile\":{\"test\":true},\"executable\":\"$DIR/suites-fake\",\"manifest_path\":\"$DIR/pkg/Cargo.toml\"}"
printf '%s\n' '{"reason":"build-finished","success":true}'"#,
    );
    // The second of three runs fails.
    cargo.script(
        "suites-fake",
        &format!(
            r#"n=0
[ -f {count} ] && read -r n < {count}
n=$((n + 1))
printf '%s\n' "$n" > {count}
printf '%s %s %s\n' "$PWD" "$CARGO_MANIFEST_DIR" "$*" >> {calls}
if [ "$n" = 2 ]; then
  printf 'running 2 tests\ntest rollout_stuck::holds ... FAILED\n\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 5 filtered out\n'
  printf 'thread panicked\n' >&2
  exit 101
fi
printf 'running 2 tests\n\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 5 filtered out\n'
"#,
            count = cargo.path().join("count").display(),
            calls = cargo.path().join("runs").display(),
        ),
    );
    let run = f.run(
        &["soak", "rollout", "--runs", "3"],
        &[
            ("CARGO", &cargo.cargo()),
            ("CARGO_TARGET_DIR", &target.path().display().to_string()),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert_eq!(
        cargo.log(),
        [
            "cargo test --package kube-harness-suites --test suites --no-run --message-format=json-render-diagnostics"
        ]
    );
    let pkg = cargo.path().join("pkg").display().to_string();
    let runs = std::fs::read_to_string(cargo.path().join("runs")).unwrap();
    assert_eq!(
        runs,
        format!("{pkg} {pkg} rollout_\n").repeat(3),
        "run in the package folder, which is its CARGO_MANIFEST_DIR"
    );
    assert!(
        run.stdout.contains(&format!(
            r#"run ["{}/suites-fake","rollout_"] in {pkg} with CARGO_MANIFEST_DIR={pkg}  # 3 runs"#,
            cargo.path().display()
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "soak rollout: 3 runs of `suites rollout_` (2 tests each)\npassed 2, failed 1;"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("failing runs: 2"), "{}", run.stdout);
    let log = std::fs::read_to_string(target.path().join("soak/rollout-run-2.log")).unwrap();
    assert!(
        log.contains("test rollout_stuck::holds ... FAILED"),
        "{log}"
    );
    assert!(log.contains("--- stderr\nthread panicked"), "{log}");
    assert!(
        run.stderr.contains("1 of the runs failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn package_check_dry_run_packages_unpacks_and_tests_a_scratch_crate() {
    let f = Fakes::new();
    let target = tempfile::tempdir().unwrap();
    let t = target.path().display().to_string();
    let run = f.run(
        &["package-check", "--dry-run"],
        &[("CARGO_TARGET_DIR", t.as_str())],
    );
    run.assert_ok();
    assert!(run.calls.is_empty(), "a dry run ran {:?}", run.calls);
    let out = run.stdout.replace(&t, "{t}");
    assert!(
        out.contains(r#"would run ["cargo","package","--no-verify","-p","kube-harness","-p","kube-harness-assert","-p","kube-harness-apiserver","-p","kube-harness-continuity"]"#),
        "{out}"
    );
    assert!(
        out.contains(r#"would run ["tar","-xzf","{t}/package/kube-harness-0.1.0.crate"] in {t}/package-check/crates"#),
        "{out}"
    );
    assert!(
        out.contains(r#"would run ["cargo","test","--manifest-path","{t}/package-check/app/Cargo.toml"] with CARGO_TARGET_DIR={t}"#),
        "{out}"
    );
    // The plan writes the scratch crate, so it can be read: another
    // Kubernetes version than the workspace's, the facade by path.
    let manifest =
        std::fs::read_to_string(target.path().join("package-check/app/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"k8s-openapi = { version = "0.29", features = ["v1_35"] }"#),
        "{manifest}"
    );
    assert!(manifest.contains("[patch.crates-io]"), "{manifest}");
}

#[test]
fn suites_over_http_dry_run_builds_the_server_then_runs_the_suites_against_it() {
    let f = Fakes::new();
    let run = f.run(&["suites-over-http", "rollout_", "--dry-run"], &[]);
    assert_plan(
        &run,
        &[
            r#"[1] would run ["cargo","test","--workspace","--no-run","--message-format=json-render-diagnostics"] in {root}"#,
            r#"[2] would run ["APISERVER_EXECUTABLE","--kubeconfig","{root}/target/suites-over-http/kubeconfig"]  # in the background until the tests end, then SIGTERM; log in {root}/target/suites-over-http/apiserver.log"#,
            r#"[3] would run ["cargo","test","--workspace","--test","suites","--","rollout_"] in {root} with HARNESS_CLUSTER=existing with HARNESS_FAKER=all with KUBECONFIG={root}/target/suites-over-http/kubeconfig"#,
        ],
    );
}

/// kube-rs's cluster tests: each crate copied out of the registry, all
/// three built before the fake cluster starts, then run with `--ignored`
/// against it, sharing the workspace's target folder.
#[test]
fn kube_rs_tests_dry_run_copies_builds_then_runs_against_the_fake_cluster() {
    let f = Fakes::new();
    let run = f.run(&["kube-rs-tests", "--dry-run"], &[]);
    let dir = "{root}/target/kube-rs-tests";
    let env = format!("with KUBECONFIG={dir}/kubeconfig with CARGO_TARGET_DIR={{root}}/target");
    let mut expected = vec![
        r#"[1] would run ["cargo","test","--workspace","--no-run","--message-format=json-render-diagnostics"] in {root}"#.to_string(),
        r#"[2] would run ["cargo","metadata","--format-version","1","--locked"] in {root}"#.to_string(),
    ];
    let crates = [
        ("kube-client", r#""--features","ws,rustls-tls","#),
        ("kube-runtime", ""),
        ("kube", r#""--features","derive,runtime,ws","#),
    ];
    for (n, (krate, _)) in crates.iter().enumerate() {
        expected.push(format!(
            r#"[{}] would run ["cp","-R","REGISTRY/{krate}-VERSION","{dir}/{krate}-VERSION"]  # {krate}'s sources, a workspace of their own with the workspace's Cargo.lock"#,
            n + 3
        ));
    }
    for (n, (krate, features)) in crates.iter().enumerate() {
        expected.push(format!(
            r#"[{}] would run ["cargo","test","--lib",{features}"--no-run"] in {dir}/{krate}-VERSION {env}"#,
            n + 6
        ));
    }
    expected.push(format!(
        r#"[9] would run ["CLUSTER_EXECUTABLE","--nodes","2","--kubeconfig","{dir}/kubeconfig"]  # in the background until the tests end, then SIGTERM"#
    ));
    for (n, (krate, features)) in crates.iter().enumerate() {
        expected.push(format!(
            r#"[{}] would run ["cargo","test","--lib",{features}"--","--ignored","--test-threads","1"] in {dir}/{krate}-VERSION {env}  # its outcomes read from the output"#,
            n + 10
        ));
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_plan(&run, &expected);
}

/// The real run with a fake cargo and a fake server: the tests see the
/// server's kubeconfig, and the server is stopped with SIGTERM when the
/// tests fail as when they pass, so no process is left behind.
#[test]
fn suites_over_http_stops_the_server_whatever_the_tests_say() {
    let f = Fakes::new();
    for tests_pass in [true, false] {
        let target = tempfile::tempdir().unwrap();
        let verdict = if tests_pass { "exit 0" } else { "exit 101" };
        let cargo = FakeCargo::new(&format!(
            r#"case "$*" in
*--no-run*) printf '%s\n' "{{\"reason\":\"compiler-artifact\",\"target\":{{\"name\":\"kube-harness-apiserver\",\"kind\":[\"bin\"]}},\"profile\":{{\"test\":false}},\"executable\":\"$DIR/server\",\"manifest_path\":\"$DIR/pkg/Cargo.toml\"}}" ;;
test*) read -r cfg < "$KUBECONFIG"; printf '%s %s %s\n' "$HARNESS_CLUSTER" "$HARNESS_FAKER" "$cfg" >> "$DIR/tests-saw"; {verdict} ;;
esac"#
        ));
        // Serves until SIGTERM (a busy loop: PATH holds only the fakes, so
        // there is no `sleep`).
        cargo.script(
            "server",
            &format!(
                r#"trap 'printf "%s\n" stopped-by-term >> {dir}/server-events; exit 0' TERM
printf '%s\n' "started $*" >> {dir}/server-events
printf 'server: http://127.0.0.1:1\n' > "$2"
while :; do :; done
"#,
                dir = cargo.path().display()
            ),
        );
        let run = f.run(
            &["suites-over-http"],
            &[
                ("CARGO", &cargo.cargo()),
                ("CARGO_TARGET_DIR", &target.path().display().to_string()),
            ],
        );
        let kubeconfig = target.path().join("suites-over-http/kubeconfig");
        let events = std::fs::read_to_string(cargo.path().join("server-events")).unwrap();
        assert_eq!(
            events,
            format!(
                "started --kubeconfig {}\nstopped-by-term\n",
                kubeconfig.display()
            ),
            "{}",
            run.transcript()
        );
        let saw = std::fs::read_to_string(cargo.path().join("tests-saw")).unwrap();
        assert_eq!(saw, "existing all server: http://127.0.0.1:1\n");
        if tests_pass {
            run.assert_ok();
            assert!(
                run.stdout.contains("the suites passed over HTTP"),
                "{}",
                run.transcript()
            );
        } else {
            assert_eq!(run.code, 1, "{}", run.transcript());
            assert!(
                run.stderr
                    .contains(r#""test","--workspace","--test","suites"] failed"#),
                "{}",
                run.transcript()
            );
        }
    }
}
