//! Proof that a CSI driver upgrade did not remount a volume.
//!
//! # The flow
//! 1. **Setup**: a pod runs the writer ([`writer_command`]) on the volume: it
//!    opens a log file once, keeps descriptor 3, and appends
//!    `tick <seq> <uptime> <epoch> <pid>` every 100 ms through it.
//!    [`ProbeRequest`] + [`MountRecord::parse`] record the facts below
//!    (saved with [`MountRecord::save_json`]).
//! 2. The driver is upgraded.
//! 3. **Verify**: the probe runs again with a marker request and the
//!    read/write check ([`ProbeRequest::for_verify`]), the log is read through
//!    its path, and [`analyze`] compares everything into a [`Report`].
//!
//! The writer and the probe are POSIX sh scripts ([`WRITER_SCRIPT`],
//! [`PROBE_SCRIPT`]) that run under busybox; in a cluster they run through
//! `kubectl exec`, here through [`LocalWriter`] and [`probe_local`]: the same
//! argument vectors either way. In a cluster (sketch):
//!
//! ```text
//! // pod spec: container `command` = writer_command("/data/continuity.log", "/run/continuity")
//! // (the control dir must NOT be on the volume)
//! let req = ProbeRequest::for_writer("/data", "/data/continuity.log", "/run/continuity");
//! // setup, once the log has its first `tick` line:
//! let out = kubectl(["exec", pod, "--"].chain(req.command()));      // stdout
//! let before = MountRecord::parse(&out)?;  before.save_json(path)?;
//! // verify:
//! let req = req.for_verify();                                        // marker + read/write
//! let after = MountRecord::parse(&kubectl(["exec", pod, "--"].chain(req.command())))?;
//! let log = kubectl(["exec", pod, "--", "cat", "/data/continuity.log"]);
//! // FUSE: also probe the node (`-s mount-s3`, `-m` the kubelet's path for
//! // the volume) and `after.take_server_from(&node_record)`, same at setup.
//! let report = analyze(&before, &after, &log, &AnalysisOptions::default());
//! println!("{report}");  // exit non-zero unless report.passed
//! ```
//!
//! Bound every `kubectl exec` with a timeout ([`ProbeRequest::suggested_timeout`]):
//! a `stat` on a hung FUSE mount never returns.
//!
//! # Why each check proves what it proves
//! - **Mount PID + start time** (FUSE drivers, e.g. Mountpoint for S3): a FUSE
//!   mount lives exactly as long as the process serving `/dev/fuse` for it.
//!   Same PID *and* same start time (field 22 of `/proc/<pid>/stat`; a PID
//!   alone can be reused) means the server never restarted, so the kernel
//!   never lost the connection. Skipped (➖) for kernel filesystems, which
//!   have no such process.
//! - **Writer PID + start time**: every other check assumes one writer held
//!   one descriptor the whole time. A restarted writer (new container, new
//!   pod) opened a new descriptor on whatever is mounted *now*, which proves
//!   nothing about the old mount; it is reported as its own ❌ so it is never
//!   mistaken for a remount, nor hides one.
//! - **Mount ID** (field 1 of `/proc/<pid>/mountinfo`, for the mount holding
//!   the mount point, in the writer's mount namespace): every mount call
//!   creates a new mount with a new ID, even at the same path with the same
//!   filesystem (a bind mount re-done by a node plugin keeps the inodes but
//!   not the ID). IDs are recycled once a mount is freed, but the writer's
//!   held descriptor pins the old mount, so while the writer check passes a
//!   new mount cannot get the old ID. The device number is compared as well
//!   as a second guard against recycling.
//! - **Mount root inode and log file inode** (device + inode of the mount
//!   point and of the log): a recreated or reformatted filesystem, or another
//!   filesystem mounted in its place, gives different device/inode pairs;
//!   the log file missing at its path is the same failure, seen more plainly.
//! - **Open file handle** (the fd check): `/proc/<writer>/fd/3` is followed
//!   to the file the *descriptor* reaches, and `/proc/<writer>/fdinfo/3`
//!   names the mount it is on. After a lazy unmount and a new mount, the old
//!   descriptor still works but reaches a detached filesystem: its device +
//!   inode and mount ID then differ from what the path reaches now.
//! - **Write through the held handle** (the marker): the probe asks the
//!   writer, through a request file outside the volume, to write a token via
//!   descriptor 3; the token must then be read back *through the path*. It
//!   proves the old handle still writes (no EIO/ENOTCONN from a dead FUSE
//!   server: reported as `write-failed`) and that its writes land in the file
//!   users see (not in a detached copy).
//! - **Write gaps**: timestamps come from `/proc/uptime` (10 ms steps, does
//!   not jump with NTP), so the time between two consecutive lines is time
//!   the writer really could not write: a remount, a hung FUSE server or a
//!   frozen pod show as a gap. The gap from the last line to the verify probe
//!   counts too (a writer that stopped for good), and a log that begins after
//!   setup means earlier writes were lost. The limit defaults to 1 s
//!   ([`AnalysisOptions`]); the report gives the longest gap and where.
//! - **Fresh read/write**: a new file is created, read back and deleted on
//!   the volume: the mount still serves new I/O, not only old descriptors.

mod analysis;
mod local;
mod log;
pub mod procfs;
mod record;
mod scripts;

pub use analysis::{AnalysisOptions, Check, CheckId, Report, Status, analyze};
pub use local::{LocalWriter, probe_local, probe_local_with};
pub use log::{Gap, MarkerLine, Tick, WriteLog};
pub use procfs::{FileId, MountInfo, ProcStat};
pub use record::{
    HeldHandle, LogFile, MarkerAck, MarkerStatus, MountRecord, PROBE_FORMAT_VERSION, ParseError,
    ProbeClock, ProbeProblem, ProcessIdentity, ReadWrite, ServerProcess,
};
pub use scripts::{
    DEFAULT_MARKER_WAIT, DEFAULT_SHELL, HELD_FD, PROBE_NAME, PROBE_SCRIPT, ProbeRequest,
    WRITER_NAME, WRITER_SCRIPT, new_marker_token, writer_command, writer_command_with,
};

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong running or reading the continuity tools.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContinuityError {
    /// A process (shell) could not be started.
    #[error("cannot start {what}: {source}")]
    Spawn {
        /// What was being started.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A saved record is not valid JSON of a [`MountRecord`].
    #[error("{} is not a saved MountRecord: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// A path cannot be passed to the shell scripts.
    #[error("path is not UTF-8: {}", .0.display())]
    NonUtf8Path(PathBuf),
    /// The probe ran but its output could not be parsed.
    #[error("continuity probe ({status}) gave unusable output: {source}; stderr: {stderr}")]
    Probe {
        /// Its exit status.
        status: String,
        /// Its stderr.
        stderr: String,
        /// Why the output was rejected.
        source: ParseError,
    },
    /// The probe did not finish in time and was killed (a hung mount blocks
    /// `stat` forever).
    #[error(
        "continuity probe did not finish within {timeout:?} (hung mount?); output so far: {stdout}"
    )]
    ProbeTimedOut {
        /// The limit.
        timeout: Duration,
        /// What it printed before it was killed.
        stdout: String,
    },
    /// The writer exited while it should be writing.
    #[error("continuity writer exited ({status}); stderr: {stderr}")]
    WriterExited {
        /// Its exit status.
        status: String,
        /// Its stderr.
        stderr: String,
    },
    /// The writer did not write its first timestamp in time.
    #[error("continuity writer wrote no timestamp to {} within {timeout:?}", log_file.display())]
    WriterNotReady {
        /// The limit.
        timeout: Duration,
        /// The log it should write.
        log_file: PathBuf,
    },
    /// A signal could not be sent to a writer.
    #[error("cannot send {signal} to process group {pid}: {source}")]
    Signal {
        /// The signal.
        signal: &'static str,
        /// The process group.
        pid: u32,
        /// The OS error.
        source: nix::Error,
    },
}
