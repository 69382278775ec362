//! Running the writer and the probe as local processes, with the very same
//! scripts and argument vectors a pod gets. Used by the tests of this crate
//! and by anyone checking a mount on the machine they are on.

use super::ContinuityError;
use super::record::MountRecord;
use super::scripts::{DEFAULT_SHELL, ProbeRequest, writer_command_with};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How often the local helpers look again while waiting for a process.
const POLL: Duration = Duration::from_millis(10);

/// A writer running as a local process, in its own process group (the shell
/// and its short-lived `date`/`sleep` children), killed when dropped.
#[derive(Debug)]
pub struct LocalWriter {
    child: Child,
    log_file: PathBuf,
    control_dir: PathBuf,
    killed: bool,
}

impl LocalWriter {
    /// Starts the writer with `sh`. The control directory must be outside the
    /// volume; the writer's stderr goes to `CONTROL_DIR/writer.stderr`.
    pub fn spawn(log_file: &Path, control_dir: &Path) -> Result<Self, ContinuityError> {
        Self::spawn_with(DEFAULT_SHELL, log_file, control_dir)
    }

    /// [`LocalWriter::spawn`] under another shell (e.g. `["busybox", "sh"]`).
    pub fn spawn_with(
        shell: &[&str],
        log_file: &Path,
        control_dir: &Path,
    ) -> Result<Self, ContinuityError> {
        std::fs::create_dir_all(control_dir).map_err(|source| ContinuityError::Io {
            path: control_dir.to_path_buf(),
            source,
        })?;
        let stderr_path = control_dir.join("writer.stderr");
        let stderr = std::fs::File::create(&stderr_path).map_err(|source| ContinuityError::Io {
            path: stderr_path,
            source,
        })?;
        let argv = writer_command_with(shell, &path_str(log_file)?, &path_str(control_dir)?);
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|source| ContinuityError::Spawn {
                what: format!("continuity writer with {:?}", shell.join(" ")),
                source,
            })?;
        Ok(LocalWriter {
            child,
            log_file: log_file.to_path_buf(),
            control_dir: control_dir.to_path_buf(),
            killed: false,
        })
    }

    /// The writer's PID (the shell holding the descriptor).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file it appends to.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// Its control directory.
    pub fn control_dir(&self) -> &Path {
        &self.control_dir
    }

    /// Waits until the writer has published its PID and written a timestamp,
    /// so a probe taken next sees a complete picture.
    pub fn wait_until_writing(&mut self, timeout: Duration) -> Result<(), ContinuityError> {
        let deadline = Instant::now() + timeout;
        let pid_file = self.control_dir.join("writer.pid");
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|source| ContinuityError::Io {
                    path: self.log_file.clone(),
                    source,
                })?
            {
                return Err(ContinuityError::WriterExited {
                    status: status.to_string(),
                    stderr: std::fs::read_to_string(self.control_dir.join("writer.stderr"))
                        .unwrap_or_default(),
                });
            }
            let pid_ok = std::fs::read_to_string(&pid_file)
                .is_ok_and(|p| p.trim() == self.pid().to_string());
            let ticked = std::fs::read_to_string(&self.log_file)
                .is_ok_and(|log| log.lines().any(|l| l.starts_with("tick ")));
            if pid_ok && ticked {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ContinuityError::WriterNotReady {
                    timeout,
                    log_file: self.log_file.clone(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGSTOP to the writer's process group: it stops writing, as a writer
    /// blocked on a hung mount would.
    pub fn pause(&self) -> Result<(), ContinuityError> {
        self.signal(Signal::SIGSTOP)
    }

    /// SIGCONT after [`LocalWriter::pause`].
    pub fn resume(&self) -> Result<(), ContinuityError> {
        self.signal(Signal::SIGCONT)
    }

    /// SIGKILL to the process group and reap the shell. Idempotent.
    pub fn kill(&mut self) -> Result<(), ContinuityError> {
        if self.killed {
            return Ok(());
        }
        self.killed = true;
        let result = self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
        result
    }

    fn signal(&self, signal: Signal) -> Result<(), ContinuityError> {
        let pid = self.pid();
        killpg(Pid::from_raw(pid as i32), signal).map_err(|source| ContinuityError::Signal {
            signal: signal.as_str(),
            pid,
            source,
        })
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// Runs the probe locally with `sh` and parses its output. The probe is
/// killed (with its process group) if it runs longer than `timeout`.
pub fn probe_local(
    request: &ProbeRequest,
    timeout: Duration,
) -> Result<MountRecord, ContinuityError> {
    probe_local_with(DEFAULT_SHELL, request, timeout)
}

/// [`probe_local`] under another shell (e.g. `["busybox", "sh"]`).
pub fn probe_local_with(
    shell: &[&str],
    request: &ProbeRequest,
    timeout: Duration,
) -> Result<MountRecord, ContinuityError> {
    let argv = request.command_with(shell);
    let out = run_bounded(&argv, timeout)?;
    MountRecord::parse(&out.stdout).map_err(|source| ContinuityError::Probe {
        status: out.status,
        stderr: out.stderr,
        source,
    })
}

struct Output {
    status: String,
    stdout: String,
    stderr: String,
}

/// Runs `argv` in its own process group; kills the group after `timeout`.
fn run_bounded(argv: &[String], timeout: Duration) -> Result<Output, ContinuityError> {
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|source| ContinuityError::Spawn {
            what: format!("continuity probe with {:?}", argv[0]),
            source,
        })?;
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            Ok(None) | Err(_) => {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                return Err(ContinuityError::ProbeTimedOut {
                    timeout,
                    stdout: stdout.join().unwrap_or_default(),
                });
            }
        }
    };
    Ok(Output {
        status: status.to_string(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn path_str(p: &Path) -> Result<String, ContinuityError> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| ContinuityError::NonUtf8Path(p.to_path_buf()))
}
