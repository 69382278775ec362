//! `cargo xtask cluster up|down|status`: kind clusters for the e2e tests.
//!
//! Every action is idempotent so CI scripts and people can run it without
//! first asking what state things are in: `up` on an existing cluster only
//! refreshes its kubeconfig, `down` on a missing one says so and succeeds.
//! The kubeconfig always lands at `<target>/kind/<name>.kubeconfig` (never
//! in `~/.kube/config`), so tests point `KUBECONFIG` at a known file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::paths;
use crate::prereq::{self, Tool};
use crate::process::{self, Cmd, Runner};

pub(crate) const DEFAULT_NAME: &str = "kube-harness";
const DEFAULT_CONFIG: &str = "manifests/kind/multi-node.yaml";

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create the cluster (or only refresh its kubeconfig if it exists) and
    /// wait for every node to be Ready.
    Up(UpArgs),
    /// Delete the cluster; succeeds if it does not exist.
    Down(Common),
    /// Show whether the cluster exists and its nodes.
    Status(Common),
}

#[derive(clap::Args)]
struct Common {
    /// kind cluster name.
    #[arg(long, env = "KIND_CLUSTER_NAME", default_value = DEFAULT_NAME, value_parser = parse_name)]
    name: String,
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args)]
struct UpArgs {
    #[command(flatten)]
    common: Common,
    /// kind cluster configuration (relative paths resolve from the current
    /// directory, then from the repository root).
    #[arg(long, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Node image, e.g. kindest/node:v1.33.1 (default: kind's own).
    #[arg(long)]
    image: Option<String>,
    /// How long to wait for the nodes to be Ready, e.g. 180s or 5m.
    #[arg(long, default_value = "180s", value_parser = process::parse_duration)]
    wait: Duration,
}

/// kind accepts lower-case DNS-like names; checking here gives a clear
/// message instead of kind's.
fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 50
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not a valid kind cluster name: use 1-50 lower-case letters, digits, '-' or '.', \
             starting with a letter or digit"
        ))
    }
}

/// Where `cluster up` writes the kubeconfig of cluster `name`.
pub(crate) fn kubeconfig_path(name: &str) -> PathBuf {
    paths::out_dir()
        .join("kind")
        .join(format!("{name}.kubeconfig"))
}

pub(crate) fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Up(up) => self::up(up),
        Action::Down(common) => down(common),
        Action::Status(common) => status(common),
    }
}

/// Names of the existing kind clusters; `None` in dry-run mode.
fn existing(runner: &Runner) -> Result<Option<Vec<String>>> {
    // kind prints "No kind clusters found." on stderr, and nothing on stdout.
    let out = runner.query_ok(&Cmd::new("kind", ["get", "clusters"]))?;
    Ok(out.map(|s| s.lines().map(|l| l.trim().to_owned()).collect()))
}

fn up(args: UpArgs) -> Result<()> {
    let Common { name, dry_run } = args.common;
    prereq::check(&[Tool::Docker, Tool::Kind, Tool::Kubectl], dry_run)?;
    let config = paths::resolve_input(&args.config);
    if !config.is_file() {
        bail!(
            "kind config {} does not exist (the repository ships manifests/kind/multi-node.yaml \
             and manifests/kind/single-node.yaml)",
            config.display()
        );
    }
    let kubeconfig = kubeconfig_path(&name);
    let runner = Runner::new(dry_run);
    let kc = kubeconfig.display().to_string();
    let mut create = Cmd::new("kind", ["create", "cluster", "--name", &name])
        .args(["--config", &config.display().to_string()])
        .args(["--kubeconfig", &kc]);
    if let Some(image) = &args.image {
        create = create.args(["--image", image]);
    }
    let refresh = Cmd::new(
        "kind",
        ["export", "kubeconfig", "--name", &name, "--kubeconfig", &kc],
    );
    ensure_parent(&kubeconfig, dry_run)?;
    match existing(&runner)? {
        None => {
            runner.plan_only(&create, &format!("only if cluster {name} does not exist"));
            runner.plan_only(&refresh, &format!("only if cluster {name} already exists"));
        }
        Some(clusters) if clusters.contains(&name) => {
            println!("kind cluster {name} already exists; refreshing its kubeconfig");
            runner.run(&refresh)?;
        }
        Some(_) => runner.run(&create)?,
    }
    let secs = format!("--timeout={}s", args.wait.as_secs());
    let wait = Cmd::new(
        "kubectl",
        ["--kubeconfig", &kc, "wait", "--for=condition=Ready"],
    )
    .args(["nodes", "--all", &secs]);
    runner.wait(&wait, "all nodes Ready", args.wait)?;
    println!("kind cluster {name} is up; kubeconfig: {kc}");
    println!("    export KUBECONFIG={kc}");
    Ok(())
}

fn down(args: Common) -> Result<()> {
    let Common { name, dry_run } = args;
    prereq::check(&[Tool::Docker, Tool::Kind], dry_run)?;
    let kubeconfig = kubeconfig_path(&name);
    let runner = Runner::new(dry_run);
    let kc = kubeconfig.display().to_string();
    let delete = Cmd::new(
        "kind",
        ["delete", "cluster", "--name", &name, "--kubeconfig", &kc],
    );
    match existing(&runner)? {
        None => runner.plan_only(&delete, &format!("only if cluster {name} exists")),
        Some(clusters) if clusters.contains(&name) => {
            runner.run(&delete)?;
            println!("kind cluster {name} deleted");
        }
        Some(_) => println!("kind cluster {name} does not exist; nothing to delete"),
    }
    if !dry_run && kubeconfig.exists() {
        std::fs::remove_file(&kubeconfig)
            .with_context(|| format!("removing {}", kubeconfig.display()))?;
        println!("removed {kc}");
    }
    Ok(())
}

fn status(args: Common) -> Result<()> {
    let Common { name, dry_run } = args;
    prereq::check(&[Tool::Docker, Tool::Kind, Tool::Kubectl], dry_run)?;
    let kubeconfig = kubeconfig_path(&name);
    let runner = Runner::new(dry_run);
    let kc = kubeconfig.display().to_string();
    let refresh = Cmd::new(
        "kind",
        ["export", "kubeconfig", "--name", &name, "--kubeconfig", &kc],
    );
    let nodes = Cmd::new(
        "kubectl",
        ["--kubeconfig", &kc, "get", "nodes", "-o", "wide"],
    );
    match existing(&runner)? {
        None => {
            runner.plan_only(&refresh, &format!("only if cluster {name} exists"));
            runner.plan_only(&nodes, &format!("only if cluster {name} exists"));
        }
        Some(clusters) if clusters.contains(&name) => {
            ensure_parent(&kubeconfig, dry_run)?;
            runner.query_ok(&refresh)?;
            println!("kind cluster {name}: present; kubeconfig: {kc}");
            runner.run(&nodes)?;
        }
        Some(clusters) => {
            let others = if clusters.is_empty() {
                "no kind clusters exist".to_owned()
            } else {
                format!("existing kind clusters: {}", clusters.join(", "))
            };
            println!(
                "kind cluster {name}: absent ({others}); create it with `cargo xtask cluster up --name {name}`"
            );
        }
    }
    Ok(())
}

fn ensure_parent(path: &Path, dry_run: bool) -> Result<()> {
    if dry_run {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_follow_kind_rules() {
        assert!(parse_name("kube-harness").is_ok());
        assert!(parse_name("e2e.1").is_ok());
        let err = parse_name("Bad_Name").unwrap_err();
        assert!(err.contains("not a valid kind cluster name"), "{err}");
        assert!(parse_name("").is_err());
        assert!(parse_name("-x").is_err());
    }
}
