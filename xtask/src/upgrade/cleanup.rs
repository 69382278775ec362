//! `cargo xtask cleanup-upgrade-tests`: remove everything setup created:
//! the test namespace, the cluster-scoped PersistentVolumes and
//! StorageClass it labelled, and the local record directory.

use anyhow::{Context, Result};

use super::settings::Settings;
use super::{Ctx, PART_OF};
use crate::prereq::{self, Tool};
use crate::process::Runner;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    settings: Settings,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let s = &args.settings;
    prereq::check(&[Tool::Kubectl], s.dry_run)?;
    let runner = Runner::new(s.dry_run);
    let ctx = Ctx { s, runner: &runner };
    let timeout = s.timeout_arg();
    let ns = ctx.kubectl(&[
        "delete",
        "namespace",
        &s.namespace,
        "--ignore-not-found",
        "--wait=true",
        &timeout,
    ]);
    runner.wait(
        &ns,
        &format!("namespace {} deleted", s.namespace),
        s.timeout,
    )?;
    let selector = format!(
        "{PART_OF},kube-harness/upgrade-test-namespace={}",
        s.namespace
    );
    let pvs = ctx.kubectl(&[
        "delete",
        "persistentvolume,storageclass",
        "--selector",
        &selector,
        "--ignore-not-found",
        "--wait=true",
        &timeout,
    ]);
    runner.wait(
        &pvs,
        "the static PersistentVolumes and StorageClass deleted",
        s.timeout,
    )?;
    let dir = s.record_dir();
    if s.dry_run {
        println!("(dry run: would remove {})", dir.display());
    } else if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        println!("removed {}", dir.display());
    }
    if !s.dry_run {
        println!("upgrade tests in namespace {} cleaned up", s.namespace);
    }
    Ok(())
}
