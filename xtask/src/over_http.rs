//! `cargo xtask suites-over-http`: the scenario suites against a separately
//! started `kube-harness-apiserver`, over HTTP and in real time, the way they
//! reach a kind cluster (`HARNESS_CLUSTER=existing`). The bare server runs no
//! controllers, so `HARNESS_FAKER=all` has the suites' StatusFaker play them.
//! A suite that leans on the in-process shortcut fails here.
//!
//! The server runs for the whole test run and is stopped with SIGTERM (the
//! way a supervisor stops it) whatever the outcome; its log is kept in
//! `target/suites-over-http/apiserver.log`.

use anyhow::Context;

use crate::background::Background;
use crate::paths::{repo_root, target_dir};
use crate::process::{BUILD_LIMIT, Cmd, Runner};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Run only the suites' tests whose name contains this (all by default).
    filter: Option<String>,
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    dry_run: bool,
}

const SERVER: &str = "kube-harness-apiserver";

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let runner = Runner::new(args.dry_run);
    let exe = crate::background::workspace_binary(&runner, SERVER, "APISERVER_EXECUTABLE")?;
    let dir = target_dir().join("suites-over-http");
    let kubeconfig = dir.join("kubeconfig");
    let log = dir.join("apiserver.log");
    let server = Cmd::new(
        &exe.display().to_string(),
        ["--kubeconfig".to_string(), kubeconfig.display().to_string()],
    );
    let mut test = Cmd::cargo(["test", "--workspace", "--test", "suites"])
        .dir(repo_root())
        .env("HARNESS_CLUSTER", "existing")
        .env("HARNESS_FAKER", "all")
        .env("KUBECONFIG", kubeconfig.display().to_string());
    if let Some(filter) = &args.filter {
        test = test.args(["--", filter.as_str()]);
    }
    // Started and stopped here, not by the runner: it outlives one step.
    runner.plan_repeated(
        &server,
        &format!(
            "in the background until the tests end, then SIGTERM; log in {}",
            log.display()
        ),
    );
    if args.dry_run {
        // Prints the test step of the plan; runs nothing.
        return runner.run_within(&test, BUILD_LIMIT);
    }

    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // A kubeconfig left by an earlier run would point at a dead server.
    let _ = std::fs::remove_file(&kubeconfig);
    let running = Background::start(SERVER, &exe, &server.args, &log)?;
    running.wait_for(&kubeconfig)?;
    let tested = runner.run_within(&test, BUILD_LIMIT);
    // A server that died under the tests is the first thing to read.
    let stopped = running.stop("the suites ran");
    match (stopped, tested) {
        (Err(server), Err(tests)) => return Err(server.context(format!("and {tests:#}"))),
        (Err(server), Ok(())) => return Err(server),
        (Ok(()), tested) => tested?,
    }
    println!(
        "the suites passed over HTTP; the server's log: {}",
        log.display()
    );
    Ok(())
}
