//! `cargo xtask package-check`: what a team outside this repository gets.
//!
//! 1. `cargo package` the published crates (what `cargo publish` would
//!    upload); `--no-verify`, because step 3 builds them for real, outside
//!    this workspace, which is the check that matters.
//! 2. Unpack the `.crate` files under `target/package-check/crates/`.
//! 3. Write a scratch application (`target/package-check/app/`) that depends
//!    on the facade by path with `k8s-openapi` on another version feature
//!    than this workspace uses, points the facade's own dependencies on
//!    the other kube-harness crates at the unpacked ones (`[patch]`: they
//!    are not on crates.io yet), carries the dev profile the facade's
//!    README tells users to add, and has one embedded-server test.
//! 4. `cargo test` it. It shares this workspace's target directory, so
//!    dependencies already built with the same features are reused.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::paths::{repo_root, target_dir};
use crate::process::{BUILD_LIMIT, Cmd, Runner};

/// The crates a user's Cargo.toml can name, facade first.
pub(crate) const PUBLISHED: &[&str] = &[
    "kube-harness",
    "kube-harness-assert",
    "kube-harness-apiserver",
    "kube-harness-continuity",
];

/// The workspace tests against `v1_33`; the scratch crate must not.
pub(crate) const SCRATCH_K8S_FEATURE: &str = "v1_35";

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Package uncommitted changes too (`cargo package --allow-dirty`).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Also run the scratch crate's tests without the recommended dev
    /// profile, and print both wall times (the README's measurement).
    #[arg(long)]
    pub compare_profile: bool,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let runner = Runner::new(args.dry_run);
    let work = target_dir().join("package-check");
    let version = workspace_version()?;

    let mut package = Cmd::cargo(["package", "--no-verify"]).dir(repo_root());
    for p in PUBLISHED {
        package = package.args(["-p", p]);
    }
    if args.allow_dirty {
        package = package.args(["--allow-dirty"]);
    }
    runner
        .run_within(&package, BUILD_LIMIT)
        .context("`cargo package` refused a published crate (its message is above)")?;

    let crates = work.join("crates");
    let app = work.join("app");
    if !runner.dry_run() {
        if work.exists() {
            std::fs::remove_dir_all(&work)
                .with_context(|| format!("removing the last run's {}", work.display()))?;
        }
        std::fs::create_dir_all(&crates)
            .with_context(|| format!("creating {}", crates.display()))?;
    }
    for p in PUBLISHED {
        let file = target_dir()
            .join("package")
            .join(format!("{p}-{version}.crate"));
        let unpack = Cmd::new("tar", ["-xzf".to_string(), path_arg(&file)?]).dir(&crates);
        runner.run(&unpack)?;
    }
    for (path, text) in scratch_files(&crates, &version, "")? {
        runner.write_file(&app.join(path), &text)?;
    }
    // The workspace's lock file as a start: the same versions, so what the
    // workspace already built is reused; cargo adds what is missing.
    let lock =
        std::fs::read_to_string(repo_root().join("Cargo.lock")).context("reading Cargo.lock")?;
    runner.write_file(&app.join("Cargo.lock"), &lock)?;
    let test = Cmd::cargo([
        "test".to_string(),
        "--manifest-path".to_string(),
        path_arg(&app.join("Cargo.toml"))?,
    ])
    .env("CARGO_TARGET_DIR", path_arg(&target_dir())?);
    runner.run_within(&test, BUILD_LIMIT).context(
        "the scratch crate (a user's crate outside this workspace) failed to build or test",
    )?;

    if args.compare_profile {
        let mut rows = Vec::new();
        for profile in ["", "plain"] {
            for (path, text) in scratch_files(&crates, &version, profile)? {
                runner.write_file(&app.join(path), &text)?;
            }
            // Build first, so the timed run is the tests alone.
            runner.run_within(&test.clone().args(["--no-run"]), BUILD_LIMIT)?;
            let started = std::time::Instant::now();
            runner.run_within(&test, BUILD_LIMIT)?;
            let ran = started.elapsed();
            let name = if profile.is_empty() {
                "recommended dev profile"
            } else {
                "cargo's default dev profile"
            };
            rows.push(format!("| {name} | {:.1} s |", ran.as_secs_f64()));
        }
        if !runner.dry_run() {
            println!(
                "| scratch crate's tests | `cargo test`, built |\n|---|---:|\n{}",
                rows.join("\n")
            );
        }
    }
    if !runner.dry_run() {
        println!(
            "package-check: {} packaged, and a crate outside the workspace on k8s-openapi {SCRATCH_K8S_FEATURE} built and passed its embedded-server test",
            PUBLISHED.join(", ")
        );
    }
    Ok(())
}

/// A command's path argument as text (cargo and tar take UTF-8 paths here).
fn path_arg(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_owned)
        .with_context(|| format!("path {} is not UTF-8", p.display()))
}

/// The workspace's `[workspace.package] version`.
fn workspace_version() -> Result<String> {
    let manifest = repo_root().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
            continue;
        }
        if in_section && let Some(rest) = line.strip_prefix("version") {
            let v = rest.trim().trim_start_matches('=').trim().trim_matches('"');
            if !v.is_empty() {
                return Ok(v.to_string());
            }
        }
    }
    bail!(
        "no version in [workspace.package] of {}",
        manifest.display()
    )
}

/// The scratch application's files. `profile` is `""` for the dev profile
/// the README recommends, `"plain"` for cargo's default one.
pub(crate) fn scratch_files(
    crates: &Path,
    version: &str,
    profile: &str,
) -> Result<Vec<(PathBuf, String)>> {
    let dir =
        |name: &str| -> Result<String> { path_arg(&crates.join(format!("{name}-{version}"))) };
    let profile_section = if profile == "plain" {
        "# cargo's default dev profile (the comparison run)\n".to_string()
    } else {
        "# What the facade's README asks users to add.\n[profile.dev.package.\"*\"]\nopt-level = 2\ndebug = false\n".to_string()
    };
    let manifest = format!(
        r#"# Generated by `cargo xtask package-check`: a user's crate, outside the
# kube-harness workspace, on another Kubernetes version than it tests with.
[package]
name = "scratch-operator-tests"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dev-dependencies]
kube-harness = {{ path = "{facade}", features = ["insta", "continuity"] }}
k8s-openapi = {{ version = "0.29", features = ["{k8s}"] }}
kube = {{ version = "5", features = ["runtime"] }}
tokio = {{ version = "1", features = ["macros", "rt", "test-util"] }}
anyhow = "1"

# Not on crates.io yet: the facade's own dependencies, from the packages.
[patch.crates-io]
kube-harness-assert = {{ path = "{assert}" }}
kube-harness-apiserver = {{ path = "{apiserver}" }}
kube-harness-continuity = {{ path = "{continuity}" }}

{profile_section}"#,
        facade = dir("kube-harness")?,
        assert = dir("kube-harness-assert")?,
        apiserver = dir("kube-harness-apiserver")?,
        continuity = dir("kube-harness-continuity")?,
        k8s = SCRATCH_K8S_FEATURE,
    );
    Ok(vec![
        (PathBuf::from("Cargo.toml"), manifest),
        (
            PathBuf::from("src/lib.rs"),
            "//! Nothing: the tests are the point.\n".to_string(),
        ),
        (PathBuf::from("tests/embedded.rs"), SCRATCH_TEST.to_string()),
    ])
}

/// The scratch crate's test: the embedded server, the faker, a wait.
const SCRATCH_TEST: &str = r#"//! One embedded-server test, written as a user of the published crates.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube_harness::prelude::*;

#[tokio::test(start_paused = true)]
async fn a_deployment_becomes_ready_on_the_embedded_server() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    assert_eq!(env.backend(), BackendKind::Embedded);
    env.status_faker().start();
    let web = env
        .apply(object!(Deployment, {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }))
        .await?;
    eventually(env.get(&web))
        .should(field("status.readyReplicas", eq(2)))
        .await?;
    let cm = env.apply(object!(ConfigMap, {"metadata": {"name": "c"}, "data": {"k": "v"}})).await?;
    consistently(env.get(&cm)).for_(5.s()).should(field("data.k", eq("v"))).await?;
    env.timeline().expect("ScalingReplicaSet").exactly(1)?;
    env.finish().await?;
    Ok(())
}

/// A minute of cluster time with the faker playing a 10-pod StatefulSet:
/// the load of a typical suite (what the dev profile is about).
#[tokio::test(start_paused = true)]
async fn a_minute_of_a_statefulset_holding_steady() -> anyhow::Result<()> {
    use k8s_openapi::api::apps::v1::StatefulSet;
    let env = TestEnv::new().await?;
    env.status_faker().start();
    let db = env
        .apply(object!(StatefulSet, {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 10,
                "serviceName": "db",
                "selector": {"matchLabels": {"app": "db"}},
                "template": {
                    "metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "db", "image": "postgres:17"}]},
                },
            },
        }))
        .await?;
    eventually(env.get(&db)).within(60.s()).should(field("status.readyReplicas", eq(10))).await?;
    consistently(env.get(&db))
        .for_(60.s())
        .every(250.ms())
        .should(field("status.readyReplicas", eq(10)))
        .await?;
    env.finish().await?;
    Ok(())
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_crate_picks_another_kubernetes_version_than_the_workspace() {
        let root = std::fs::read_to_string(repo_root().join("tests/Cargo.toml")).unwrap();
        assert!(
            !root.contains(&format!("\"{SCRATCH_K8S_FEATURE}\"")),
            "the suites use {SCRATCH_K8S_FEATURE} too: the scratch crate proves nothing"
        );
        let files = scratch_files(Path::new("/c"), "0.1.0", "").unwrap();
        let manifest = &files[0].1;
        assert!(manifest.contains(&format!("features = [\"{SCRATCH_K8S_FEATURE}\"]")));
        assert!(manifest.contains("kube-harness = { path = \"/c/kube-harness-0.1.0\", features = [\"insta\", \"continuity\"] }"));
        assert!(manifest.contains("opt-level = 2"));
        let plain = &scratch_files(Path::new("/c"), "0.1.0", "plain").unwrap()[0].1;
        assert!(!plain.contains("opt-level"));
    }

    #[test]
    fn the_published_crates_are_the_workspace_members_that_publish() {
        let version = workspace_version().unwrap();
        assert!(!version.is_empty());
        for p in PUBLISHED {
            let dir = match *p {
                "kube-harness" => "harness".to_string(),
                other => format!("harness/{}", other.trim_start_matches("kube-harness-")),
            };
            let manifest =
                std::fs::read_to_string(repo_root().join(dir).join("Cargo.toml")).unwrap();
            assert!(manifest.contains(&format!("name = \"{p}\"")), "{p}");
            assert!(
                !manifest.contains("publish = false"),
                "{p} must be publishable"
            );
        }
    }
}
