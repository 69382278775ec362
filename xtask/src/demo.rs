//! `cargo xtask demo`: the project's main story, end to end.
//!
//! For now that is the assertion tour (`harness/examples/assertions_tour.rs`)
//! on plain values; it grows as the embedded API server and the faker land.

use crate::bench::{cargo, workspace_root};
use anyhow::{Context, Result};

#[derive(clap::Args)]
pub struct Args {}

/// Examples the demo runs, in order: (package, example).
const STEPS: &[(&str, &str)] = &[("harness", "assertions_tour")];

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
