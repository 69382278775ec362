//! `cargo xtask suites-over-http`: the scenario suites against a separately
//! started `kube-harness-apiserver`, over HTTP and in real time, the way they
//! reach a kind cluster (`HARNESS_CLUSTER=existing`). The bare server runs no
//! controllers, so `HARNESS_FAKER=all` has the suites' StatusFaker play them.
//! A suite that leans on the in-process shortcut fails here.
//!
//! The server runs for the whole test run and is stopped with SIGTERM (the
//! way a supervisor stops it) whatever the outcome; its log is kept in
//! `target/suites-over-http/apiserver.log`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::paths::{self, repo_root, target_dir};
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

/// How long the server may take to write its kubeconfig (it starts in
/// milliseconds; this is a backstop against a wedged start).
const START_LIMIT: Duration = Duration::from_secs(60);

/// How long the server may take to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(10);

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let runner = Runner::new(args.dry_run);
    // The binary `cargo test --workspace` already built (cargo builds a
    // package's binaries for its integration tests), found among the test
    // build's artifacts: a `cargo build` leaves out dev-dependencies' features
    // (tokio's test-util), so it would compile tokio and what sits on it
    // again, about two minutes in CI right after the tests.
    let build = Cmd::cargo([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .dir(repo_root());
    let messages = runner
        .stdout_of(&build, BUILD_LIMIT)
        .context("building the API server failed (compiler errors above)")?;
    let exe = match &messages {
        Some(messages) => paths::built_executables(messages)
            .into_iter()
            .find(|b| b.name == SERVER && !b.test)
            .map(|b| b.executable)
            .with_context(|| format!("cargo built no `{SERVER}` executable"))?,
        None => PathBuf::from("APISERVER_EXECUTABLE"),
    };
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
    let handle = duct::cmd(&exe, &server.args)
        .stdin_null()
        .stderr_to_stdout()
        .stdout_path(&log)
        .unchecked()
        .start()
        .with_context(|| format!("starting {}", exe.display()))?;
    let running = Running {
        handle,
        log: log.clone(),
    };
    running.wait_for(&kubeconfig)?;
    let tested = runner.run_within(&test, BUILD_LIMIT);
    // A server that died under the tests is the first thing to read.
    let stopped = running.stop();
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

/// The started server; stopped with SIGTERM when dropped, so an error on the
/// way leaves no process behind.
struct Running {
    handle: duct::Handle,
    log: PathBuf,
}

impl Running {
    /// Waits until the server has written its kubeconfig (it writes it once
    /// it listens), or says why it never did.
    fn wait_for(&self, kubeconfig: &Path) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(kubeconfig).is_ok_and(|t| t.contains("server:")) {
                return Ok(());
            }
            if self.handle.try_wait()?.is_some() {
                bail!(
                    "{SERVER} exited before serving; its log ({}):\n{}",
                    self.log.display(),
                    self.log_text()
                );
            }
            if start.elapsed() > START_LIMIT {
                bail!(
                    "{SERVER} wrote no kubeconfig to {} within {}s; its log:\n{}",
                    kubeconfig.display(),
                    START_LIMIT.as_secs(),
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(unreadable: {e})"))
    }

    /// SIGTERM, then a clean exit within [`STOP_LIMIT`]; killed otherwise.
    /// (Dropped at the end: what SIGTERM did not stop is killed.)
    fn stop(self) -> anyhow::Result<()> {
        self.terminate()
    }

    fn terminate(&self) -> anyhow::Result<()> {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        if self.handle.try_wait()?.is_some() {
            bail!(
                "{SERVER} exited while the suites ran; its log ({}):\n{}",
                self.log.display(),
                self.log_text()
            );
        }
        for pid in self.handle.pids() {
            let pid = i32::try_from(pid).context("a process id beyond i32")?;
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < STOP_LIMIT {
            if let Some(out) = self.handle.try_wait()? {
                if !out.status.success() {
                    bail!(
                        "{SERVER} exited with {} on SIGTERM; its log:\n{}",
                        out.status,
                        self.log_text()
                    );
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{SERVER} did not stop within {}s of SIGTERM (killed)",
            STOP_LIMIT.as_secs()
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.handle.try_wait(), Ok(None)) {
            let _ = self.handle.kill();
        }
    }
}
