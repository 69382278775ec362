//! Running external tools (kind, kubectl, helm, docker, cargo) as argument
//! vectors.
//!
//! Every command goes through a [`Runner`] so that `--dry-run` can print the
//! exact plan instead of running it, and so that a failure always names the
//! full argument vector and what the tool said. Commands are never shell
//! strings: an argument containing spaces or quotes reaches the tool intact.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One external command: a program, its arguments and, if it matters, the
/// directory it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    /// Working directory; `None` inherits xtask's.
    pub dir: Option<PathBuf>,
    /// Extra environment variables (shown in the plan).
    pub env: Vec<(String, String)>,
    /// A nested cargo: the variables `cargo run` gave xtask are not passed
    /// on (see [`Cmd::cargo`]).
    pub nested_cargo: bool,
}

impl Cmd {
    pub(crate) fn new<I, S>(program: &str, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
            dir: None,
            env: Vec::new(),
            nested_cargo: false,
        }
    }

    /// A cargo command that reuses what `cargo test --workspace` built.
    /// `cargo xtask` runs under `cargo run`, which sets `CARGO_MANIFEST_DIR`
    /// and the `CARGO_PKG_*` family to xtask's; inherited by a nested cargo
    /// they reach build scripts that track them (ring's reruns on
    /// `CARGO_MANIFEST_DIR`), and the TLS stack, kube-client and every
    /// crate above it compile again (minutes of CI).
    pub(crate) fn cargo<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            nested_cargo: true,
            ..Self::new(&crate::paths::cargo(), args)
        }
    }

    /// Sets an environment variable for the command (shown in the plan).
    pub(crate) fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// Runs the command in `dir` (shown in the plan).
    pub(crate) fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The argument vector as a JSON array: unambiguous for arguments that
    /// hold spaces or quotes, and copy-pasteable into code. A whole script
    /// passed as one argument (`sh -c SCRIPT`) is shown as
    /// `<script: N lines, M bytes>`: its text is in the repository, and
    /// hundreds of lines of it would bury the plan.
    pub(crate) fn argv(&self) -> String {
        let mut all = Vec::with_capacity(self.args.len() + 1);
        all.push(self.program.clone());
        all.extend(self.args.iter().map(|a| {
            if a.len() > 200 && a.contains('\n') {
                format!("<script: {} lines, {} bytes>", a.lines().count(), a.len())
            } else {
                a.clone()
            }
        }));
        serde_json::to_string(&all).expect("strings always serialise")
    }

    fn expression(&self) -> duct::Expression {
        let args: Vec<OsString> = self.args.iter().map(OsString::from).collect();
        let mut expression = duct::cmd(&self.program, args);
        if self.nested_cargo {
            for key in std::env::vars_os()
                .map(|(key, _)| key)
                .filter(|key| key.to_str().is_some_and(set_by_cargo_run))
            {
                expression = expression.env_remove(key);
            }
        }
        for (key, value) in &self.env {
            expression = expression.env(key, value);
        }
        match &self.dir {
            Some(dir) => expression.dir(dir),
            None => expression,
        }
    }
}

/// Whether `cargo run` sets this variable for the program it runs (cargo's
/// "Environment variables Cargo sets for crates"), other than `CARGO`,
/// which names the cargo to run.
fn set_by_cargo_run(key: &str) -> bool {
    key.starts_with("CARGO_PKG_")
        || matches!(
            key,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
        )
}

/// What a captured command printed.
#[derive(Debug, Clone)]
pub(crate) struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs commands, or in dry-run mode prints them and runs nothing.
pub(crate) struct Runner {
    dry_run: bool,
    step: std::cell::Cell<usize>,
}

impl Runner {
    pub(crate) fn new(dry_run: bool) -> Self {
        if dry_run {
            println!("dry run: printing the command plan; nothing is executed");
        }
        Self {
            dry_run,
            step: std::cell::Cell::new(0),
        }
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    fn announce(&self, cmd: &Cmd, note: Option<&str>) {
        let n = self.step.get() + 1;
        self.step.set(n);
        let marker = if self.dry_run { "would run" } else { "run" };
        let mut line = format!("[{n}] {marker} {}", cmd.argv());
        if let Some(dir) = &cmd.dir {
            line.push_str(&format!(" in {}", dir.display()));
        }
        for (key, value) in &cmd.env {
            line.push_str(&format!(" with {key}={value}"));
        }
        if let Some(note) = note {
            line.push_str(&format!("  # {note}"));
        }
        println!("{line}");
    }

    /// Prints a step that only happens under a condition the dry run cannot
    /// know (because finding out would mean running a query).
    pub(crate) fn plan_only(&self, cmd: &Cmd, condition: &str) {
        if self.dry_run {
            self.announce(cmd, Some(condition));
        }
    }

    /// Prints a step that the caller then runs itself: several times with
    /// its own reading of each outcome (a soak's test runs), so the plan
    /// shows it once rather than once per run, or in the background across
    /// later steps (the server of suites-over-http).
    pub(crate) fn plan_repeated(&self, cmd: &Cmd, note: &str) {
        self.announce(cmd, Some(note));
    }

    /// Runs a command with its output streamed to the terminal, so long
    /// operations (kind create cluster, helm install) show their own progress.
    pub(crate) fn run(&self, cmd: &Cmd) -> Result<()> {
        self.run_within(cmd, RUN_LIMIT)
    }

    /// [`Runner::run`] with another backstop than [`RUN_LIMIT`], for cargo
    /// builds and benchmarks ([`BUILD_LIMIT`]).
    pub(crate) fn run_within(&self, cmd: &Cmd, limit: Duration) -> Result<()> {
        self.announce(cmd, None);
        if self.dry_run {
            return Ok(());
        }
        let handle = cmd
            .expression()
            .stdin_null()
            .unchecked()
            .start()
            .map_err(|e| spawn_error(cmd, e))?;
        let status = wait_bounded(cmd, &handle, limit, None)?.status;
        if !status.success() {
            bail!(
                "{} failed with {} (its output is above)",
                cmd.argv(),
                describe_status(status.code())
            );
        }
        Ok(())
    }

    /// Runs a command whose stdout is its result (cargo's JSON messages, a
    /// benchmark's table) while its stderr (build progress, diagnostics)
    /// streams to the terminal. A non-zero exit is an error that names the
    /// argument vector and quotes stdout. `None` in dry-run mode.
    pub(crate) fn stdout_of(&self, cmd: &Cmd, limit: Duration) -> Result<Option<String>> {
        self.announce(cmd, None);
        if self.dry_run {
            return Ok(None);
        }
        let handle = cmd
            .expression()
            .stdin_null()
            .stdout_capture()
            .unchecked()
            .start()
            .map_err(|e| spawn_error(cmd, e))?;
        let out = wait_bounded(cmd, &handle, limit, None)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let said = stdout.trim();
            bail!(
                "{} failed with {} (its stderr is above); its stdout: {}",
                cmd.argv(),
                describe_status(out.status.code()),
                if said.is_empty() { "(none)" } else { said }
            );
        }
        Ok(Some(stdout))
    }

    /// Runs a read-only query and returns what it printed, whatever its exit
    /// status. `None` in dry-run mode: the caller must plan for both answers.
    pub(crate) fn query(&self, cmd: &Cmd) -> Result<Option<Output>> {
        self.announce(cmd, None);
        if self.dry_run {
            return Ok(None);
        }
        capture(cmd).map(Some)
    }

    /// Like [`Runner::query`] but a non-zero exit is an error that quotes
    /// the tool's stderr.
    pub(crate) fn query_ok(&self, cmd: &Cmd) -> Result<Option<String>> {
        match self.query(cmd)? {
            None => Ok(None),
            Some(out) if out.success => Ok(Some(out.stdout)),
            Some(out) => Err(failure(cmd, &out)),
        }
    }

    /// Runs a command that waits for the cluster (kubectl wait, rollout
    /// status, helm --wait) and shows elapsed time while it does. The command
    /// carries its own timeout; `limit` plus a margin is a backstop after
    /// which it is killed, so that nothing here can hang.
    pub(crate) fn wait(&self, cmd: &Cmd, what: &str, limit: Duration) -> Result<()> {
        self.announce(cmd, Some(&format!("waits up to {}s", limit.as_secs())));
        if self.dry_run {
            return Ok(());
        }
        let mut progress = Progress::new(what);
        let out = capture_within(cmd, limit + BACKSTOP_MARGIN, Some(&mut progress));
        progress.finish(matches!(&out, Ok(o) if o.success));
        let out = out?;
        if !out.success {
            return Err(failure(cmd, &out)).with_context(|| format!("while waiting for {what}"));
        }
        Ok(())
    }

    /// Writes a generated file (a rendered manifest, a kubeconfig). Done in
    /// dry-run mode too so the plan can be inspected; it runs nothing.
    pub(crate) fn write_file(&self, path: &Path, contents: &str) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
        println!("    wrote {}", path.display());
        Ok(())
    }
}

/// How long a query (a `get`, a version check, a probe) may take before
/// it is killed: a wedged Docker daemon or a hung FUSE mount would otherwise
/// block forever.
pub(crate) const QUERY_LIMIT: Duration = Duration::from_secs(120);

/// How long a streamed step (kind create cluster, kubectl apply) may take.
pub(crate) const RUN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// How long a cargo build, benchmark or demo may take: the first build of
/// the workspace on a 2-core machine is long, but not this long.
pub(crate) const BUILD_LIMIT: Duration = Duration::from_secs(90 * 60);

/// Extra time a waiting command gets beyond its own `--timeout` before the
/// backstop kills it.
const BACKSTOP_MARGIN: Duration = Duration::from_secs(30);

/// Runs a command to completion with its output captured, killing it after
/// [`QUERY_LIMIT`].
pub(crate) fn capture(cmd: &Cmd) -> Result<Output> {
    capture_within(cmd, QUERY_LIMIT, None)
}

/// Runs a command with its output captured; kills it (and reports so) if it
/// is still running after `limit`.
pub(crate) fn capture_within(
    cmd: &Cmd,
    limit: Duration,
    progress: Option<&mut Progress>,
) -> Result<Output> {
    let handle = cmd
        .expression()
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(|e| spawn_error(cmd, e))?;
    let output = wait_bounded(cmd, &handle, limit, progress)?;
    Ok(Output {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Polls a started child until it exits; kills it after `limit`.
fn wait_bounded(
    cmd: &Cmd,
    handle: &duct::Handle,
    limit: Duration,
    mut progress: Option<&mut Progress>,
) -> Result<std::process::Output> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(out) = handle.try_wait().context("waiting for a child process")? {
            return Ok(out.clone());
        }
        if start.elapsed() > limit {
            let _ = handle.kill();
            bail!(
                "{} did not finish within {:.1}s; killed it",
                cmd.argv(),
                limit.as_secs_f64()
            );
        }
        if let Some(p) = progress.as_deref_mut() {
            p.tick();
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

pub(crate) fn failure(cmd: &Cmd, out: &Output) -> anyhow::Error {
    let said = out.stderr.trim();
    let said = if said.is_empty() {
        out.stdout.trim()
    } else {
        said
    };
    anyhow::anyhow!(
        "{} failed with {}: {}",
        cmd.argv(),
        describe_status(out.code),
        if said.is_empty() { "(no output)" } else { said }
    )
}

fn describe_status(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit status {c}"),
        None => "a signal".to_owned(),
    }
}

fn spawn_error(cmd: &Cmd, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!("could not start {}: {e}", cmd.argv())
}

/// Elapsed-time display for long waits: a live line on a terminal, a line
/// every 10 s in CI logs (where carriage returns make a mess).
pub(crate) struct Progress {
    what: String,
    start: Instant,
    tty: bool,
    last_line: Duration,
}

impl Progress {
    fn new(what: &str) -> Self {
        Self {
            what: what.to_owned(),
            start: Instant::now(),
            tty: std::io::stdout().is_terminal(),
            last_line: Duration::ZERO,
        }
    }

    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn tick(&mut self) {
        let elapsed = self.elapsed();
        if self.tty {
            const SPIN: [char; 4] = ['|', '/', '-', '\\'];
            let frame = SPIN[(elapsed.as_millis() / 200) as usize % SPIN.len()];
            print!(
                "\r    {frame} waiting for {} ({}s)",
                self.what,
                elapsed.as_secs()
            );
            let _ = std::io::stdout().flush();
        } else if elapsed >= self.last_line + Duration::from_secs(10) {
            self.last_line = elapsed;
            println!("    … waiting for {} ({}s)", self.what, elapsed.as_secs());
        }
    }

    fn finish(&self, ok: bool) {
        let mark = if ok { "done" } else { "FAILED" };
        if self.tty {
            print!("\r\x1b[2K");
        }
        println!(
            "    {mark}: {} after {:.1}s",
            self.what,
            self.elapsed().as_secs_f64()
        );
    }
}

/// Parses a timeout the way kubectl writes them: `120s`, `2m`, `1m30s`,
/// `500ms`, or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("{text:?} is not a duration: write e.g. 120s, 2m, 1m30s, 500ms or 90 (seconds)");
    let s = text.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().map(Duration::from_secs).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return Err(bad()),
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(format!("{text:?}: the duration must be greater than zero"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` gives this test process the variables `cargo run` gives
    /// xtask, so a child shows whether they are passed on.
    #[test]
    fn a_nested_cargo_does_not_inherit_what_cargo_run_set_for_xtask() {
        let env_of = |nested_cargo| {
            let cmd = Cmd {
                nested_cargo,
                ..Cmd::new("env", Vec::<String>::new()).env("KEPT", "yes")
            };
            capture(&cmd).unwrap().stdout
        };
        let has = |env: &str, prefix: &str| env.lines().any(|l| l.starts_with(prefix));
        let plain = env_of(false);
        assert!(has(&plain, "CARGO_MANIFEST_DIR=") && has(&plain, "CARGO_PKG_NAME="));
        let nested = env_of(true);
        for line in nested.lines() {
            let key = line.split('=').next().unwrap();
            assert!(!set_by_cargo_run(key), "{line} reached a nested cargo");
        }
        assert!(has(&nested, "KEPT=yes") && has(&nested, "PATH="));
    }

    #[test]
    fn durations_parse_like_kubectl_timeouts() {
        assert_eq!(parse_duration("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "abc", "12x", "s", "0s", "-5s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn argv_is_a_json_array_that_keeps_spaces_and_quotes() {
        let cmd = Cmd::new("kubectl", ["exec", "p", "--", "sh", "-c", "echo \"a b\""]);
        assert_eq!(
            cmd.argv(),
            r#"["kubectl","exec","p","--","sh","-c","echo \"a b\""]"#
        );
    }

    #[test]
    fn a_command_that_hangs_is_killed_at_its_limit() {
        let started = Instant::now();
        let err = capture_within(&Cmd::new("sleep", ["30"]), Duration::from_millis(300), None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"["sleep","30"] did not finish within 0.3s; killed it"#
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        let out = capture_within(
            &Cmd::new("true", [] as [&str; 0]),
            Duration::from_secs(10),
            None,
        );
        assert!(out.unwrap().success);
    }

    #[test]
    fn long_scripts_are_summarised_in_the_plan() {
        let script = "echo hi\n".repeat(40);
        let cmd = Cmd::new("sh", ["-c", script.as_str(), "name", "short\narg"]);
        assert_eq!(
            cmd.argv(),
            r#"["sh","-c","<script: 40 lines, 320 bytes>","name","short\narg"]"#
        );
    }

    #[test]
    fn a_command_runs_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = capture(&Cmd::new("pwd", [] as [&str; 0]).dir(dir.path())).unwrap();
        assert_eq!(
            Path::new(out.stdout.trim()).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn stdout_of_returns_stdout_and_a_failure_names_the_argv() {
        let runner = Runner::new(false);
        let ok = Cmd::new("sh", ["-c", "echo result"]);
        assert_eq!(
            runner.stdout_of(&ok, Duration::from_secs(10)).unwrap(),
            Some("result\n".to_owned())
        );
        let bad = Cmd::new("sh", ["-c", "echo partial; exit 3"]);
        assert_eq!(
            runner
                .stdout_of(&bad, Duration::from_secs(10))
                .unwrap_err()
                .to_string(),
            r#"["sh","-c","echo partial; exit 3"] failed with exit status 3 (its stderr is above); its stdout: partial"#
        );
        assert_eq!(
            Runner::new(true)
                .stdout_of(&ok, Duration::from_secs(10))
                .unwrap(),
            None
        );
    }

    #[test]
    fn failure_quotes_stderr_and_falls_back_to_stdout() {
        let cmd = Cmd::new("kind", ["get", "clusters"]);
        let out = Output {
            success: false,
            code: Some(3),
            stdout: "from stdout\n".into(),
            stderr: " \n".into(),
        };
        let msg = failure(&cmd, &out).to_string();
        assert_eq!(
            msg,
            r#"["kind","get","clusters"] failed with exit status 3: from stdout"#
        );
    }
}
