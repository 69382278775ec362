//! `cargo xtask demo`: the project's main story, end to end.
//!
//! The rollout story (`tests/examples/rollout_story.rs`: the rollout suites'
//! scenarios on the embedded API server, printing the timeline and the
//! Stuck-vs-Paused contract), the storage story
//! (`tests/examples/storage_story.rs`: seed 000's growth policy over a day and
//! a half of cluster time, and the seed's bug named), then the assertion tour
//! (`tests/examples/assertions_tour.rs`: what failure messages look like).
//!
//! Both examples belong to one package and are built by one
//! `cargo build --examples`, so the dependency graph compiles once with one
//! feature set; each is then started with `cargo run`, which finds it built
//! and gives it the environment `cargo run` always does
//! (`CARGO_MANIFEST_DIR`, which the story's relative CRD path needs).

use anyhow::{Context, Result};

use crate::paths::repo_root;
use crate::process::{BUILD_LIMIT, Cmd, Runner};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// The package holding the demo's examples.
const PACKAGE: &str = "kube-harness-suites";

/// Examples the demo runs, in order.
const EXAMPLES: &[&str] = &["rollout_story", "storage_story", "assertions_tour"];

pub(crate) fn run(args: Args) -> Result<()> {
    let runner = Runner::new(args.dry_run);
    let build = Cmd::cargo(["build", "-p", PACKAGE, "--examples"]).dir(repo_root());
    runner
        .run_within(&build, BUILD_LIMIT)
        .context("building the demo's examples failed")?;
    for example in EXAMPLES {
        // Built above with the same package, profile and features: cargo
        // only checks that it is fresh.
        let step =
            Cmd::cargo(["run", "--quiet", "-p", PACKAGE, "--example", example]).dir(repo_root());
        runner
            .run_within(&step, BUILD_LIMIT)
            .with_context(|| format!("demo step `{example}` failed"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_examples_are_declared_in_one_package() {
        let manifest = std::fs::read_to_string(repo_root().join("tests/Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{PACKAGE}\"")),
            "tests/Cargo.toml is not {PACKAGE}"
        );
        for example in EXAMPLES {
            assert!(
                manifest.contains(&format!("[[example]]\nname = \"{example}\"")),
                "no [[example]] {example} in tests/Cargo.toml"
            );
        }
    }
}
