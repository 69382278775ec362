//! `cargo xtask …`: the project's automation, as a Rust program.
//!
//! This file only dispatches; each command lives in a module of its own with
//! an `Args` and a `run`, so a change finds its room from the file names.

mod background;
mod bench;
mod ci_summary;
mod cluster;
mod csi;
mod demo;
mod go_types;
mod kube_rs_tests;
mod over_http;
mod package_check;
mod paths;
mod prereq;
mod process;
mod soak;
mod upgrade;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "kube-harness automation", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the main story end to end on the embedded API server.
    Demo(demo::Args),
    /// Run a benchmark and write its results as a Markdown table.
    Bench(bench::Args),
    /// Run a suite many times in a row and report failures.
    Soak(soak::Args),
    /// Run the scenario suites over HTTP against a separately started
    /// kube-harness-apiserver (HARNESS_CLUSTER=existing HARNESS_FAKER=all).
    SuitesOverHttp(over_http::Args),
    /// Merge nextest JUnit reports into a Markdown job summary.
    CiSummary(ci_summary::Args),
    /// Run kube-rs's own cluster tests (the #[ignore]d tests of kube,
    /// kube-client and kube-runtime) against the standalone fake cluster.
    KubeRsTests(kube_rs_tests::Args),
    /// Package the published crates and test them from a scratch crate
    /// outside the workspace, on another Kubernetes version.
    PackageCheck(package_check::Args),
    /// Regenerate the embedded API server's table of the built-in Go types
    /// (protobuf field numbers, JSON names, omitempty) from the Kubernetes
    /// sources of the version it serves.
    GoTypes(go_types::Args),
    /// Create, delete or inspect a kind cluster.
    Cluster(cluster::Args),
    /// Install, upgrade or uninstall a CSI driver.
    Csi(csi::Args),
    /// Deploy continuity writers and record their mount state before an upgrade.
    SetupUpgradeTests(upgrade::setup::Args),
    /// Compare the mount state after an upgrade with the recorded one.
    VerifyUpgradeTests(upgrade::verify::Args),
    /// Remove everything setup-upgrade-tests created.
    CleanupUpgradeTests(upgrade::cleanup::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Soak(args) => soak::run(args),
        Command::SuitesOverHttp(args) => over_http::run(args),
        Command::CiSummary(args) => ci_summary::run(args),
        Command::KubeRsTests(args) => kube_rs_tests::run(args),
        Command::PackageCheck(args) => package_check::run(args),
        Command::GoTypes(args) => go_types::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Csi(args) => csi::run(args),
        Command::SetupUpgradeTests(args) => upgrade::setup::run(args),
        Command::VerifyUpgradeTests(args) => upgrade::verify::run(args),
        Command::CleanupUpgradeTests(args) => upgrade::cleanup::run(args),
    }
}
