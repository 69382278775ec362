//! `cargo xtask demo`: the project's main story, end to end.
//!
//! The rollout story (`examples/rollout_story.rs`: the rollout suites'
//! scenarios on the embedded API server, printing the timeline and the
//! Stuck-vs-Paused contract), then the assertion tour
//! (`harness/examples/assertions_tour.rs`: what failure messages look like).

use crate::bench::{cargo, workspace_root};
use anyhow::{Context, Result};

#[derive(clap::Args)]
pub struct Args {}

/// Examples the demo runs, in order: (package, example).
const STEPS: &[(&str, &str)] = &[("suites", "rollout_story"), ("harness", "assertions_tour")];

pub fn run(_args: Args) -> Result<()> {
    for (package, example) in STEPS {
        eprintln!("demo: cargo run -p {package} --example {example}");
        duct::cmd(
            cargo(),
            ["run", "--quiet", "-p", package, "--example", example],
        )
        .dir(workspace_root())
        .run()
        .with_context(|| format!("demo step `{example}` failed"))?;
    }
    Ok(())
}
