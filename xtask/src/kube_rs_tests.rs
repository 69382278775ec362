//! `cargo xtask kube-rs-tests`: kube-rs's own cluster tests against the
//! standalone fake cluster. The `#[ignore]`d tests in the published sources
//! of kube, kube-client and kube-runtime (at the versions this workspace
//! locks) are what kube-rs runs against a real cluster in its CI; here they
//! run against `kube-harness-cluster`, so a client's view of the fake is
//! checked by the client's own authors' expectations.
//!
//! Each crate's sources are copied out of cargo's registry (a standalone
//! workspace, the workspace's Cargo.lock as its starting point) and tested
//! with `-- --ignored`. A test that fails here must be listed in
//! [`KNOWN_FAILURES`] with its reason; an unlisted failure fails the
//! command, and so does a listed test that now passes (the list is kept
//! true). The results go to `target/reports/kube-rs-tests.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::background::Background;
use crate::paths::{repo_root, target_dir};
use crate::process::{BUILD_LIMIT, Cmd, RUN_LIMIT, Runner, capture_within};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    dry_run: bool,
}

const CLUSTER: &str = "kube-harness-cluster";

/// The crates whose cluster tests run, with the features those tests are
/// compiled under (their `#[cfg(feature = …)]` gates).
const CRATES: &[(&str, &str)] = &[
    ("kube-client", "ws,rustls-tls"),
    ("kube-runtime", ""),
    ("kube", "derive,runtime,ws"),
];

/// Tests that fail against the fake cluster, each with the reason.
const KNOWN_FAILURES: &[(&str, &str)] = &[
    (
        "kube-client::test::can_get_pod_logs_and_evict",
        "pods/log: no kubelet serves the faker's pods; the server answers kube-apiserver's 500 for an unreachable kubelet (dial tcp <node>:10250: connect: connection refused)",
    ),
    (
        "kube-client::test::pod_can_exec_and_write_to_stdin",
        "pods/exec: no kubelet to stream from; the server answers kube-apiserver's 500 `error dialing backend`",
    ),
    (
        "kube-runtime::events::test::event_recorder_attaches_events_without_namespace",
        "gets the `scheduler` v1 ComponentStatus, which the server does not serve (404)",
    ),
];

/// One test's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    krate: String,
    test: String,
    passed: bool,
}

/// The `test NAME ... ok|FAILED` lines of libtest's output.
fn outcomes(krate: &str, output: &str) -> Vec<Outcome> {
    output
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (name, result) = rest.rsplit_once(" ... ")?;
            let passed = match result.trim() {
                "ok" => true,
                "FAILED" => false,
                _ => return None,
            };
            Some(Outcome {
                krate: krate.to_string(),
                test: name.to_string(),
                passed,
            })
        })
        .collect()
}

/// Where cargo keeps each locked package's sources, from `cargo metadata`.
fn sources(metadata: &str) -> anyhow::Result<BTreeMap<String, (String, PathBuf)>> {
    let meta: serde_json::Value =
        serde_json::from_str(metadata).context("cargo metadata printed no JSON")?;
    let mut out = BTreeMap::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        let (Some(name), Some(version), Some(manifest)) = (
            p["name"].as_str(),
            p["version"].as_str(),
            p["manifest_path"].as_str(),
        ) else {
            continue;
        };
        if CRATES.iter().any(|(c, _)| *c == name) {
            let dir = Path::new(manifest)
                .parent()
                .context("a manifest path without a folder")?;
            out.insert(name.to_string(), (version.to_string(), dir.to_path_buf()));
        }
    }
    Ok(out)
}

/// The Markdown report, and whether the outcomes are what the list says.
fn report(outcomes: &[Outcome]) -> (String, Vec<String>) {
    let passed = outcomes.iter().filter(|o| o.passed).count();
    let mut text = format!(
        "# kube-rs's cluster tests against kube-harness-cluster\n\n{passed} of {} passed.\n\n| crate | test | result | why it fails here |\n|---|---|---|---|\n",
        outcomes.len()
    );
    let mut wrong = Vec::new();
    for o in outcomes {
        let known = KNOWN_FAILURES
            .iter()
            .find(|(name, _)| *name == format!("{}::{}", o.krate, o.test))
            .map(|(_, why)| *why);
        let result = if o.passed { "ok" } else { "FAILED" };
        text.push_str(&format!(
            "| {} | `{}` | {result} | {} |\n",
            o.krate,
            o.test,
            known.unwrap_or("")
        ));
        match (o.passed, known) {
            (false, None) => wrong.push(format!(
                "{}::{} failed and is not a known failure",
                o.krate, o.test
            )),
            (true, Some(_)) => wrong.push(format!(
                "{}::{} passes now: take it off KNOWN_FAILURES",
                o.krate, o.test
            )),
            _ => {}
        }
    }
    (text, wrong)
}

/// One crate's copy: where its sources come from and go, and the two cargo
/// commands run in it (its tests built, then run against the cluster).
struct Copy<'a> {
    krate: &'a str,
    version: &'a str,
    src: &'a Path,
    dir: PathBuf,
    build: Cmd,
    test: Cmd,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let runner = Runner::new(args.dry_run);
    let exe = crate::background::workspace_binary(&runner, CLUSTER, "CLUSTER_EXECUTABLE")?;
    let metadata = Cmd::cargo(["metadata", "--format-version", "1", "--locked"]).dir(repo_root());
    let found = match runner.stdout_of(&metadata, BUILD_LIMIT)? {
        Some(text) => sources(&text)?,
        None => CRATES
            .iter()
            .map(|(c, _)| {
                let dir = PathBuf::from(format!("REGISTRY/{c}-VERSION"));
                (c.to_string(), ("VERSION".to_string(), dir))
            })
            .collect(),
    };
    let dir = target_dir().join("kube-rs-tests");
    let kubeconfig = dir.join("kubeconfig");
    let log = dir.join("cluster.log");
    let cluster = Cmd::new(
        &exe.display().to_string(),
        [
            "--nodes".to_string(),
            "2".to_string(),
            "--kubeconfig".to_string(),
            kubeconfig.display().to_string(),
        ],
    );
    // Each crate, copied out of the registry as a workspace of its own.
    let mut tests = Vec::new();
    for (krate, features) in CRATES {
        let (version, src) = found
            .get(*krate)
            .with_context(|| format!("the workspace does not lock {krate}"))?;
        let copy = dir.join(format!("{krate}-{version}"));
        let mut cargo = Cmd::cargo(["test", "--lib"])
            .dir(&copy)
            .env("KUBECONFIG", kubeconfig.display().to_string())
            // The workspace's target: what both build alike is built once.
            .env("CARGO_TARGET_DIR", target_dir().display().to_string());
        if !features.is_empty() {
            cargo = cargo.args(["--features", features]);
        }
        tests.push(Copy {
            krate,
            version: version.as_str(),
            src: src.as_path(),
            build: cargo.clone().args(["--no-run"]),
            test: cargo.args(["--", "--ignored", "--test-threads", "1"]),
            dir: copy,
        });
    }
    let cp = |src: &Path, copy: &Path| {
        Cmd::new(
            "cp",
            [
                "-R".to_string(),
                src.display().to_string(),
                copy.display().to_string(),
            ],
        )
    };
    if !runner.dry_run() {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for Copy {
        krate,
        version,
        src,
        dir: copy,
        ..
    } in &tests
    {
        runner.plan_repeated(
            &cp(src, copy),
            &format!("{krate}'s sources, a workspace of their own with the workspace's Cargo.lock"),
        );
        if runner.dry_run() {
            continue;
        }
        copy_dir(src, copy)?;
        let manifest = copy.join("Cargo.toml");
        let mut text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        text.push_str(&standalone(krate, version, &orig_text(src)));
        std::fs::write(&manifest, text)?;
        std::fs::copy(repo_root().join("Cargo.lock"), copy.join("Cargo.lock"))
            .context("copying Cargo.lock")?;
    }
    // Compiled before the cluster starts, so it serves only the tests.
    for Copy { krate, build, .. } in &tests {
        runner
            .run_within(build, BUILD_LIMIT)
            .with_context(|| format!("building {krate}'s tests"))?;
    }
    runner.plan_repeated(
        &cluster,
        "in the background until the tests end, then SIGTERM",
    );
    if runner.dry_run() {
        for Copy { test, .. } in &tests {
            runner.plan_repeated(test, "its outcomes read from the output");
        }
        return Ok(());
    }
    let running = Background::start(CLUSTER, &exe, &cluster.args, &log)?;
    running.wait_for(&kubeconfig)?;
    let mut all = Vec::new();
    let mut ran = Ok(());
    for Copy { krate, test, .. } in &tests {
        runner.plan_repeated(test, "its outcomes read from the output");
        match capture_within(test, RUN_LIMIT, None) {
            Ok(out) => {
                print!("{}", out.stdout);
                let found = outcomes(krate, &out.stdout);
                if found.is_empty() {
                    ran = Err(anyhow::anyhow!(
                        "{krate}'s tests printed no outcomes: {}",
                        out.stderr
                    ));
                }
                all.extend(found);
            }
            Err(e) => ran = Err(e),
        }
    }
    running.stop("kube-rs's tests ran")?;
    ran?;
    let (text, wrong) = report(&all);
    let reports = target_dir().join("reports");
    std::fs::create_dir_all(&reports)?;
    let path = reports.join("kube-rs-tests.md");
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    println!("{text}");
    if !wrong.is_empty() {
        bail!("kube-rs's cluster tests:\n  {}", wrong.join("\n  "));
    }
    Ok(())
}

/// What a copied manifest gains: an empty `[workspace]` (it sits inside
/// this one's folder but is no member), and the `kube` dev-dependency its
/// tests use, which publishing dropped (a path dependency in kube-rs's
/// workspace, `Cargo.toml.orig`), with its features, patched so that kube's
/// own dependency on this crate is the copy under test.
fn standalone(krate: &str, version: &str, orig: &str) -> String {
    let mut out = String::from("\n[workspace]\n");
    let Some(features) = orig
        .lines()
        .find(|l| l.trim_start().starts_with("kube = { path"))
        .and_then(|l| l.split_once("features = ").map(|(_, f)| f))
        .and_then(|f| f.split_once(']').map(|(list, _)| format!("{list}]")))
    else {
        return out;
    };
    out.push_str(&format!(
        "\n[dev-dependencies.kube]\nversion = \"={version}\"\nfeatures = {features}\n\n[patch.crates-io]\n{krate} = {{ path = \".\" }}\n"
    ));
    out
}

fn orig_text(src: &Path) -> String {
    std::fs::read_to_string(src.join("Cargo.toml.orig")).unwrap_or_default()
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libtest_outcomes() {
        let out = "running 2 tests\ntest api::entry::tests::entry_create_dry_run ... ok\ntest tests::pod_can_exec ... FAILED\ntest result: FAILED. 1 passed; 1 failed\n";
        assert_eq!(
            outcomes("kube-client", out),
            [
                Outcome {
                    krate: "kube-client".into(),
                    test: "api::entry::tests::entry_create_dry_run".into(),
                    passed: true
                },
                Outcome {
                    krate: "kube-client".into(),
                    test: "tests::pod_can_exec".into(),
                    passed: false
                },
            ]
        );
    }

    #[test]
    fn an_unknown_failure_and_a_stale_entry_are_both_wrong() {
        let failed = Outcome {
            krate: "kube".into(),
            test: "t".into(),
            passed: false,
        };
        let (text, wrong) = report(&[failed]);
        assert!(text.contains("0 of 1 passed"), "{text}");
        assert_eq!(wrong, ["kube::t failed and is not a known failure"]);
    }

    #[test]
    fn a_copy_gets_back_the_kube_dev_dependency_publishing_dropped() {
        let orig = "[dev-dependencies]\nkube = { path = \"../kube\", features = [\"derive\", \"client\", \"ws\"] }\n";
        let added = standalone("kube-client", "5.0.0", orig);
        assert_eq!(
            added,
            "\n[workspace]\n\n[dev-dependencies.kube]\nversion = \"=5.0.0\"\nfeatures = [\"derive\", \"client\", \"ws\"]\n\n[patch.crates-io]\nkube-client = { path = \".\" }\n"
        );
        assert_eq!(standalone("kube", "5.0.0", ""), "\n[workspace]\n");
    }

    #[test]
    fn finds_the_locked_sources() {
        let meta = r#"{"packages": [
            {"name": "kube-client", "version": "5.0.0", "manifest_path": "/reg/kube-client-5.0.0/Cargo.toml"},
            {"name": "serde", "version": "1.0.0", "manifest_path": "/reg/serde-1.0.0/Cargo.toml"}
        ]}"#;
        let found = sources(meta).unwrap();
        assert_eq!(
            found["kube-client"],
            ("5.0.0".to_string(), PathBuf::from("/reg/kube-client-5.0.0"))
        );
        assert!(!found.contains_key("serde"));
    }
}
