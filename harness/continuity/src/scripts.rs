//! The two shell scripts and the argument vectors that run them, shared by
//! pods (`kubectl exec` / container `command`) and local processes, so what
//! the tests here exercise is exactly what runs in a cluster.

use std::time::Duration;

/// The writer (see `writer.sh`): `sh -c WRITER_SCRIPT continuity-writer LOG CONTROL_DIR`.
pub const WRITER_SCRIPT: &str = include_str!("writer.sh");

/// The probe (see `probe.sh`): `sh -c PROBE_SCRIPT continuity-probe -m MOUNT ...`.
pub const PROBE_SCRIPT: &str = include_str!("probe.sh");

/// The descriptor the writer holds its log on.
pub const HELD_FD: u32 = 3;

/// `$0` of the writer, visible in `ps` on the node.
pub const WRITER_NAME: &str = "continuity-writer";

/// `$0` of the probe.
pub const PROBE_NAME: &str = "continuity-probe";

/// The shell both scripts are written for: plain `sh` (busybox ash in the
/// test pods, dash or bash locally).
pub const DEFAULT_SHELL: &[&str] = &["sh"];

/// Default time the probe waits for the writer to answer a marker request.
pub const DEFAULT_MARKER_WAIT: Duration = Duration::from_secs(3);

/// The argument vector that runs the writer: a pod's container `command`, or
/// a local process. Paths are passed as arguments, never spliced into the
/// script, so any path is safe.
pub fn writer_command(log_file: &str, control_dir: &str) -> Vec<String> {
    writer_command_with(DEFAULT_SHELL, log_file, control_dir)
}

/// [`writer_command`] under another shell (e.g. `["busybox", "sh"]`).
pub fn writer_command_with(shell: &[&str], log_file: &str, control_dir: &str) -> Vec<String> {
    let mut argv: Vec<String> = shell.iter().map(|s| s.to_string()).collect();
    argv.extend(
        ["-c", WRITER_SCRIPT, WRITER_NAME, log_file, control_dir]
            .iter()
            .map(|s| s.to_string()),
    );
    argv
}

/// A fresh token for a marker request: letters and digits only, unique
/// enough that an old marker can never be mistaken for this one.
pub fn new_marker_token() -> String {
    format!("m{:016x}", rand::random::<u64>())
}

/// What to ask the probe; builds its argument vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRequest {
    /// The volume's mount point, as the writer sees it.
    pub mount_point: String,
    /// The writer's log file.
    pub log_file: Option<String>,
    /// The writer's control directory (outside the volume).
    pub control_dir: Option<String>,
    /// The writer PID, if there is no control directory.
    pub writer_pid: Option<u32>,
    /// Shell glob on the name (`comm`) of the process serving the mount.
    pub server_name: Option<String>,
    /// Ask the writer to write this token through its held descriptor.
    pub marker: Option<String>,
    /// How long to wait for the marker answer.
    pub marker_wait: Duration,
    /// Write and read back a fresh file on the volume.
    pub read_write: bool,
}

impl ProbeRequest {
    /// A probe of `mount_point` with nothing else asked.
    pub fn new(mount_point: impl Into<String>) -> Self {
        ProbeRequest {
            mount_point: mount_point.into(),
            log_file: None,
            control_dir: None,
            writer_pid: None,
            server_name: None,
            marker: None,
            marker_wait: DEFAULT_MARKER_WAIT,
            read_write: false,
        }
    }

    /// A probe of the writer started with `writer_command(log_file, control_dir)`.
    pub fn for_writer(
        mount_point: impl Into<String>,
        log_file: impl Into<String>,
        control_dir: impl Into<String>,
    ) -> Self {
        let mut r = ProbeRequest::new(mount_point);
        r.log_file = Some(log_file.into());
        r.control_dir = Some(control_dir.into());
        r
    }

    /// Look at this writer PID (when there is no control directory, or to
    /// override the PID file).
    pub fn writer_pid(mut self, pid: u32) -> Self {
        self.writer_pid = Some(pid);
        self
    }

    /// Also identify the process serving the mount (FUSE drivers), by a glob
    /// on its process name, e.g. `mount-s3`.
    pub fn server_name(mut self, glob: impl Into<String>) -> Self {
        self.server_name = Some(glob.into());
        self
    }

    /// Also ask the writer to write `token` through its held descriptor.
    pub fn marker(mut self, token: impl Into<String>) -> Self {
        self.marker = Some(token.into());
        self
    }

    /// Also check that a fresh file can be written and read back.
    pub fn read_write(mut self) -> Self {
        self.read_write = true;
        self
    }

    /// The request the verify step makes: marker with a fresh token + read/write.
    pub fn for_verify(self) -> Self {
        self.marker(new_marker_token()).read_write()
    }

    /// The probe's options (what follows `sh -c PROBE_SCRIPT continuity-probe`).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["-m".to_string(), self.mount_point.clone()];
        let mut opt = |flag: &str, v: &Option<String>| {
            if let Some(v) = v {
                a.push(flag.to_string());
                a.push(v.clone());
            }
        };
        opt("-l", &self.log_file);
        opt("-c", &self.control_dir);
        opt("-p", &self.writer_pid.map(|p| p.to_string()));
        opt("-s", &self.server_name);
        opt("-k", &self.marker);
        if self.marker.is_some() {
            let tenths = self.marker_wait.as_millis().div_ceil(100);
            a.push("-t".to_string());
            a.push(tenths.to_string());
        }
        if self.read_write {
            a.push("-w".to_string());
        }
        a
    }

    /// The whole argument vector: `sh -c PROBE_SCRIPT continuity-probe ARGS`,
    /// ready for `kubectl exec POD -- ...` or a local process.
    pub fn command(&self) -> Vec<String> {
        self.command_with(DEFAULT_SHELL)
    }

    /// [`ProbeRequest::command`] under another shell.
    pub fn command_with(&self, shell: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = shell.iter().map(|s| s.to_string()).collect();
        argv.extend(
            ["-c", PROBE_SCRIPT, PROBE_NAME]
                .iter()
                .map(|s| s.to_string()),
        );
        argv.extend(self.args());
        argv
    }

    /// How long a caller should let the probe run before giving up on it:
    /// the marker wait plus a margin for the rest.
    pub fn suggested_timeout(&self) -> Duration {
        let marker = if self.marker.is_some() {
            self.marker_wait
        } else {
            Duration::ZERO
        };
        marker + Duration::from_secs(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_command_passes_paths_as_arguments() {
        let argv = writer_command("/data/a b.log", "/run/ctl");
        assert_eq!(argv[0], "sh");
        assert_eq!(argv[1], "-c");
        assert_eq!(argv[2], WRITER_SCRIPT);
        assert_eq!(
            &argv[3..],
            ["continuity-writer", "/data/a b.log", "/run/ctl"]
        );
        let argv = writer_command_with(&["busybox", "sh"], "/l", "/c");
        assert_eq!(&argv[..3], ["busybox", "sh", "-c"]);
    }

    #[test]
    fn probe_args_carry_every_option() {
        let mut r = ProbeRequest::for_writer("/data", "/data/c.log", "/run/ctl")
            .server_name("mount-s3")
            .marker("tok1")
            .read_write();
        r.marker_wait = Duration::from_millis(1_250);
        assert_eq!(
            r.args(),
            [
                "-m",
                "/data",
                "-l",
                "/data/c.log",
                "-c",
                "/run/ctl",
                "-s",
                "mount-s3",
                "-k",
                "tok1",
                "-t",
                "13",
                "-w"
            ]
        );
        assert_eq!(
            ProbeRequest::new("/x").writer_pid(7).args(),
            ["-m", "/x", "-p", "7"]
        );
        let cmd = ProbeRequest::new("/x").command();
        assert_eq!(&cmd[..2], ["sh", "-c"]);
        assert_eq!(cmd[2], PROBE_SCRIPT);
        assert_eq!(&cmd[3..], ["continuity-probe", "-m", "/x"]);
    }

    #[test]
    fn tokens_are_safe_and_fresh() {
        let (a, b) = (new_marker_token(), new_marker_token());
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        let v = ProbeRequest::new("/d").for_verify();
        assert!(v.read_write && v.marker.is_some());
    }

    #[test]
    fn scripts_use_the_held_descriptor_number() {
        assert!(WRITER_SCRIPT.contains(&format!("exec {HELD_FD}>>")));
        assert!(PROBE_SCRIPT.contains(&format!("/fd/{HELD_FD}")));
    }
}
