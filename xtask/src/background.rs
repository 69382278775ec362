//! A program an xtask command starts beside the work it does (the API
//! server, the standalone fake cluster) and stops with SIGTERM, the way a
//! supervisor stops it, whatever the outcome; dropped early (an error on
//! the way), it is killed, so nothing is left running.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::paths::{built_executables, repo_root};
use crate::process::{BUILD_LIMIT, Cmd, Runner};

/// How long a program may take to write its kubeconfig (they start in
/// milliseconds; this is a backstop against a wedged start).
const START_LIMIT: Duration = Duration::from_secs(60);

/// How long a program may take to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The workspace binary `name`, as `cargo test --workspace` builds it
/// (cargo builds a package's binaries for its integration tests), found
/// among the test build's artifacts: a `cargo build` leaves out
/// dev-dependencies' features (tokio's test-util), so it would compile
/// tokio and what sits on it again, about two minutes in CI right after
/// the tests. A dry run plans the build and answers `placeholder`.
pub(crate) fn workspace_binary(
    runner: &Runner,
    name: &str,
    placeholder: &str,
) -> anyhow::Result<PathBuf> {
    let build = Cmd::cargo([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .dir(repo_root());
    let messages = runner
        .stdout_of(&build, BUILD_LIMIT)
        .with_context(|| format!("building {name} failed (compiler errors above)"))?;
    let Some(messages) = messages else {
        return Ok(PathBuf::from(placeholder));
    };
    built_executables(&messages)
        .into_iter()
        .find(|b| b.name == name && !b.test)
        .map(|b| b.executable)
        .with_context(|| format!("cargo built no `{name}` executable"))
}

pub(crate) struct Background {
    name: String,
    handle: duct::Handle,
    log: PathBuf,
}

impl Background {
    /// Starts `exe` with `args`, its output going to `log`.
    pub(crate) fn start(
        name: &str,
        exe: &Path,
        args: &[String],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let handle = duct::cmd(exe, args)
            .stdin_null()
            .stderr_to_stdout()
            .stdout_path(log)
            .unchecked()
            .start()
            .with_context(|| format!("starting {}", exe.display()))?;
        Ok(Self {
            name: name.to_string(),
            handle,
            log: log.to_path_buf(),
        })
    }

    /// Waits until the program has written its kubeconfig (it writes it
    /// once it listens), or says why it never did.
    pub(crate) fn wait_for(&self, kubeconfig: &Path) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if std::fs::read_to_string(kubeconfig).is_ok_and(|t| t.contains("server:")) {
                return Ok(());
            }
            if self.handle.try_wait()?.is_some() {
                bail!(
                    "{} exited before serving; its log ({}):\n{}",
                    self.name,
                    self.log.display(),
                    self.log_text()
                );
            }
            if start.elapsed() > START_LIMIT {
                bail!(
                    "{} wrote no kubeconfig to {} within {}s; its log:\n{}",
                    self.name,
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

    /// SIGTERM, then a clean exit within [`STOP_LIMIT`]; killed otherwise
    /// (on drop). A program that had already exited is an error: it died
    /// under the work (`during` says which).
    pub(crate) fn stop(self, during: &str) -> anyhow::Result<()> {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        if self.handle.try_wait()?.is_some() {
            bail!(
                "{} exited while {during}; its log ({}):\n{}",
                self.name,
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
                        "{} exited with {} on SIGTERM; its log:\n{}",
                        self.name,
                        out.status,
                        self.log_text()
                    );
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{} did not stop within {}s of SIGTERM (killed)",
            self.name,
            STOP_LIMIT.as_secs()
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if matches!(self.handle.try_wait(), Ok(None)) {
            let _ = self.handle.kill();
        }
    }
}
