//! [`MountRecord`]: what the probe saw for one writer at one moment, parsed
//! from the probe's line format and saved as JSON between setup and verify.

use super::procfs::{FileId, MountInfo, ProcStat, ProcfsError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The probe output format this parser understands (`continuity-probe 1`).
pub const PROBE_FORMAT_VERSION: u32 = 1;

/// Probe output that is not what the probe script prints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The output was empty: the probe did not run at all.
    #[error("probe printed nothing (did the shell start?)")]
    Empty,
    /// The probe rejected its arguments (an `error usage ...` line).
    #[error("probe rejected its arguments: {0}")]
    Usage(String),
    /// The first line is not the `continuity-probe N` header.
    #[error(
        "probe output does not start with 'continuity-probe {PROBE_FORMAT_VERSION}': {found:?}"
    )]
    BadHeader {
        /// The first line found.
        found: String,
    },
    /// No `end` line: the output was cut (probe killed, exec stream lost).
    #[error("probe output ends without its 'end' line (cut off after {lines} lines)")]
    Truncated {
        /// How many lines arrived.
        lines: usize,
    },
    /// A line with a known key has a value of the wrong shape.
    #[error("probe output line {line_no}: {reason}: {line:?}")]
    Malformed {
        /// 1-based line number in the probe output.
        line_no: usize,
        /// The line.
        line: String,
        /// What was wrong.
        reason: String,
    },
    /// A line whose key this parser does not know (script and parser from
    /// different versions).
    #[error("probe output line {line_no}: unknown key {key:?}")]
    UnknownKey {
        /// 1-based line number.
        line_no: usize,
        /// The key.
        key: String,
    },
}

/// The clock when the probe ran: the same two clocks the writer stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeClock {
    /// `/proc/uptime`, in milliseconds (10 ms resolution).
    pub uptime_ms: u64,
    /// Wall clock, seconds since the Unix epoch.
    pub epoch: i64,
}

/// A process, identified so that PID reuse cannot fool a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessIdentity {
    /// The PID.
    pub pid: u32,
    /// Start time (field 22 of `/proc/<pid>/stat`, clock ticks after boot).
    pub start_time: u64,
    /// Process name (`comm`).
    pub comm: String,
    /// State letter when probed (`T` = stopped, `Z` = zombie).
    pub state: char,
}

impl From<ProcStat> for ProcessIdentity {
    fn from(s: ProcStat) -> Self {
        ProcessIdentity {
            pid: s.pid,
            start_time: s.start_time,
            comm: s.comm,
            state: s.state,
        }
    }
}

/// The log file as seen through its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFile {
    /// Device + inode of the file the path leads to now.
    pub id: FileId,
    /// Its size in bytes.
    pub size: u64,
}

/// The descriptor the writer holds open (fd 3), seen through `/proc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldHandle {
    /// `readlink /proc/<pid>/fd/3`: the path the kernel remembers; it does
    /// not prove the path still leads to the same file.
    pub target: String,
    /// Device + inode of the file the descriptor reaches.
    pub file: Option<FileId>,
    /// `mnt_id` from `/proc/<pid>/fdinfo/3`: the mount the descriptor is on.
    pub mount_id: Option<u64>,
}

/// The process that serves a FUSE mount (e.g. `mount-s3`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerProcess {
    /// Its identity.
    pub process: ProcessIdentity,
    /// Its command line, arguments separated by spaces.
    pub cmdline: String,
    /// How many processes matched the name pattern.
    pub candidates: u32,
    /// True when its command line names the mount point; false when it was
    /// picked by name alone (the first of `candidates`), which is only sure
    /// when there is one candidate.
    pub names_mount_point: bool,
}

/// The writer's answer to a marker request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MarkerStatus {
    /// The write through the held descriptor returned success.
    Ok,
    /// The write through the held descriptor failed (EIO, ENOTCONN...).
    WriteFailed,
    /// The writer did not answer in time (stopped, dead or hung on I/O).
    Timeout,
    /// An answer for another token arrived (a concurrent verify?).
    Mismatch,
}

/// A marker request and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerAck {
    /// The token the writer was asked to write.
    pub token: String,
    /// What the writer answered.
    pub status: MarkerStatus,
}

/// Result of writing a fresh file on the volume and reading it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "result", content = "reason")]
pub enum ReadWrite {
    /// Created, read back identical, deleted.
    Ok,
    /// What failed.
    Failed(String),
}

/// Something the probe could not find out, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeProblem {
    /// What it is about: `writer`, `mount`, `log_file`, `handle`, `server`...
    pub subject: String,
    /// Why.
    pub message: String,
}

/// Everything the probe saw about one writer and its volume at one moment.
/// A `None` field means the probe could not see it; `problems` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRecord {
    /// When the probe ran.
    pub clock: Option<ProbeClock>,
    /// The mount point as given to the probe.
    pub mount_point: String,
    /// The mount point with symlinks resolved, if it was reachable.
    pub resolved: Option<String>,
    /// The mount that holds the mount point, in the writer's mount namespace.
    pub mount: Option<MountInfo>,
    /// Device + inode of the mount point directory.
    pub mount_root: Option<FileId>,
    /// The log path given to the probe.
    pub log_path: Option<String>,
    /// The file the log path leads to.
    pub log_file: Option<LogFile>,
    /// The writer PID the probe looked at (given, or from the PID file).
    pub writer_pid: Option<u32>,
    /// The writer process, if it was running.
    pub writer: Option<ProcessIdentity>,
    /// The writer's held descriptor.
    pub handle: Option<HeldHandle>,
    /// The process serving the mount, if a name pattern was given and found.
    pub server: Option<ServerProcess>,
    /// The marker request made by this probe, if any.
    pub marker: Option<MarkerAck>,
    /// The fresh read/write check, if asked for.
    pub read_write: Option<ReadWrite>,
    /// What the probe could not find out.
    pub problems: Vec<ProbeProblem>,
}

impl MountRecord {
    /// Parses the probe script's output (see `probe.sh` for the format).
    pub fn parse(output: &str) -> Result<Self, ParseError> {
        let mut lines = output
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
            .filter(|(_, l)| !l.trim().is_empty())
            .peekable();
        let (_, header) = lines.next().ok_or(ParseError::Empty)?;
        if let Some(msg) = header.strip_prefix("error usage ") {
            return Err(ParseError::Usage(msg.to_string()));
        }
        if header.trim() != format!("continuity-probe {PROBE_FORMAT_VERSION}") {
            return Err(ParseError::BadHeader {
                found: header.to_string(),
            });
        }
        let mut rec = MountRecord {
            clock: None,
            mount_point: String::new(),
            resolved: None,
            mount: None,
            mount_root: None,
            log_path: None,
            log_file: None,
            writer_pid: None,
            writer: None,
            handle: None,
            server: None,
            marker: None,
            read_write: None,
            problems: Vec::new(),
        };
        let mut server_candidates = 0;
        let mut server_stat: Option<ProcessIdentity> = None;
        let mut count = 1;
        for (line_no, line) in lines {
            count += 1;
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let bad = |reason: &str| ParseError::Malformed {
                line_no,
                line: line.to_string(),
                reason: reason.to_string(),
            };
            let procfs = |e: ProcfsError| bad(&e.to_string());
            match key {
                "end" => {
                    if let Some(s) = server_stat.take() {
                        rec.server = Some(ServerProcess {
                            process: s,
                            cmdline: String::new(),
                            candidates: server_candidates,
                            names_mount_point: false,
                        });
                    }
                    if let Some(srv) = rec.server.as_mut() {
                        srv.candidates = server_candidates;
                    }
                    return Ok(rec);
                }
                "clock" => {
                    let (up, epoch) = value.split_once(' ').ok_or_else(|| bad("want 2 values"))?;
                    rec.clock = Some(ProbeClock {
                        uptime_ms: parse_uptime_ms(up).ok_or_else(|| bad("bad uptime"))?,
                        epoch: epoch.trim().parse().map_err(|_| bad("bad epoch"))?,
                    });
                }
                "mount_point" => rec.mount_point = value.to_string(),
                "resolved" => rec.resolved = Some(value.to_string()),
                "mountinfo" => rec.mount = Some(MountInfo::parse_line(value).map_err(procfs)?),
                "mount_root" => {
                    rec.mount_root =
                        Some(parse_file_id(value).ok_or_else(|| bad("want '<dev> <ino>'"))?)
                }
                "log_path" => rec.log_path = Some(value.to_string()),
                "log_file" => {
                    let v: Vec<u64> =
                        numbers(value).ok_or_else(|| bad("want '<dev> <ino> <size>'"))?;
                    let [dev, ino, size] = v[..] else {
                        return Err(bad("want '<dev> <ino> <size>'"));
                    };
                    rec.log_file = Some(LogFile {
                        id: FileId { dev, ino },
                        size,
                    });
                }
                "writer_pid" => {
                    rec.writer_pid = Some(
                        value
                            .trim()
                            .parse()
                            .map_err(|_| bad("PID is not a number"))?,
                    )
                }
                "writer_stat" => rec.writer = Some(ProcStat::parse(value).map_err(procfs)?.into()),
                "handle_target" => {
                    rec.handle = Some(HeldHandle {
                        target: value.to_string(),
                        file: None,
                        mount_id: None,
                    })
                }
                "handle_file" | "handle_mnt_id" => {
                    let h = rec
                        .handle
                        .as_mut()
                        .ok_or_else(|| bad("comes before handle_target"))?;
                    if key == "handle_file" {
                        h.file =
                            Some(parse_file_id(value).ok_or_else(|| bad("want '<dev> <ino>'"))?);
                    } else {
                        h.mount_id = Some(
                            value
                                .trim()
                                .parse()
                                .map_err(|_| bad("mount ID is not a number"))?,
                        );
                    }
                }
                "server_candidates" => {
                    server_candidates = value.trim().parse().map_err(|_| bad("not a number"))?
                }
                "server_stat" => server_stat = Some(ProcStat::parse(value).map_err(procfs)?.into()),
                "server_cmdline" => {
                    let process = server_stat
                        .take()
                        .ok_or_else(|| bad("comes before server_stat"))?;
                    rec.server = Some(ServerProcess {
                        process,
                        cmdline: value.trim_end().to_string(),
                        candidates: server_candidates,
                        names_mount_point: false,
                    });
                }
                "server_match" => {
                    let srv = rec
                        .server
                        .as_mut()
                        .ok_or_else(|| bad("comes before server_cmdline"))?;
                    srv.names_mount_point = match value.trim() {
                        "mount-point" => true,
                        "name-only" => false,
                        _ => return Err(bad("want 'mount-point' or 'name-only'")),
                    };
                }
                "marker" => {
                    let (token, status) = value
                        .split_once(' ')
                        .ok_or_else(|| bad("want '<token> <status>'"))?;
                    let status = match status.trim() {
                        "ok" => MarkerStatus::Ok,
                        "write-failed" => MarkerStatus::WriteFailed,
                        "timeout" => MarkerStatus::Timeout,
                        "mismatch" => MarkerStatus::Mismatch,
                        other => return Err(bad(&format!("unknown marker status {other:?}"))),
                    };
                    rec.marker = Some(MarkerAck {
                        token: token.to_string(),
                        status,
                    });
                }
                "read_write" => {
                    rec.read_write = Some(match value.split_once(' ') {
                        None if value.trim() == "ok" => ReadWrite::Ok,
                        Some(("failed", why)) => ReadWrite::Failed(why.to_string()),
                        _ => return Err(bad("want 'ok' or 'failed <reason>'")),
                    })
                }
                "error" => {
                    let (subject, message) = value.split_once(' ').unwrap_or((value, ""));
                    rec.problems.push(ProbeProblem {
                        subject: subject.to_string(),
                        message: message.to_string(),
                    });
                }
                _ => {
                    return Err(ParseError::UnknownKey {
                        line_no,
                        key: key.to_string(),
                    });
                }
            }
        }
        Err(ParseError::Truncated { lines: count })
    }

    /// Writes the record as pretty JSON, creating parent directories.
    pub fn save_json(&self, path: &Path) -> Result<(), super::ContinuityError> {
        let io = |source| super::ContinuityError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let json = serde_json::to_string_pretty(self).expect("a MountRecord always serializes");
        std::fs::write(path, json + "\n").map_err(io)
    }

    /// Reads a record written by [`MountRecord::save_json`].
    pub fn load_json(path: &Path) -> Result<Self, super::ContinuityError> {
        let text = std::fs::read_to_string(path).map_err(|source| super::ContinuityError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| super::ContinuityError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Takes the mount-serving process from a probe run elsewhere. A FUSE
    /// server (e.g. `mount-s3`) runs on the node, outside the pod: verify
    /// probes the pod for everything else and the node (`-s NAME`, `-m` the
    /// kubelet's path for the volume) for the server, then combines them.
    pub fn take_server_from(&mut self, node: &MountRecord) {
        self.server = node.server.clone();
        self.problems.retain(|p| p.subject != "server");
        self.problems.extend(
            node.problems
                .iter()
                .filter(|p| p.subject == "server")
                .cloned(),
        );
    }

    /// The problems the probe reported about `subject`, joined.
    pub fn problem(&self, subject: &str) -> Option<String> {
        let msgs: Vec<&str> = self
            .problems
            .iter()
            .filter(|p| p.subject == subject)
            .map(|p| p.message.as_str())
            .collect();
        (!msgs.is_empty()).then(|| msgs.join("; "))
    }
}

/// `/proc/uptime`'s first field (`12345.67`) in milliseconds.
pub(crate) fn parse_uptime_ms(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac_ms: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().ok()?
    };
    Some(whole * 1000 + frac_ms)
}

fn numbers(s: &str) -> Option<Vec<u64>> {
    s.split_whitespace().map(|n| n.parse().ok()).collect()
}

fn parse_file_id(s: &str) -> Option<FileId> {
    match numbers(s)?[..] {
        [dev, ino] => Some(FileId { dev, ino }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "continuity-probe 1
clock 878.46 1795434496
mount_point /data
writer_pid 10746
writer_stat 10746 (busybox) S 1 10746 10746 0 -1 4194304 389 1367 0 1 0 0 1 0 20 0 1 0 87795 3362816 582 18446744073709551615
marker tok1 ok
resolved /data
mountinfo 1510 27 0:52 / /data rw,relatime shared:1 - fuse.mountpoint-s3 mountpoint-s3 rw,user_id=0
mount_root 52 1
log_path /data/continuity.log
log_file 52 12 254
handle_target /data/continuity.log
handle_file 52 12
handle_mnt_id 1510
server_candidates 2
server_stat 77 (mount-s3) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0
server_cmdline mount-s3 bucket /data --allow-delete 
server_match mount-point
read_write ok
end
";

    #[test]
    fn parses_every_fact() {
        let r = MountRecord::parse(OUTPUT).unwrap();
        assert_eq!(
            r.clock,
            Some(ProbeClock {
                uptime_ms: 878_460,
                epoch: 1_795_434_496
            })
        );
        assert_eq!(r.mount_point, "/data");
        assert_eq!(r.mount.as_ref().unwrap().mount_id, 1510);
        assert_eq!(r.mount_root, Some(FileId { dev: 52, ino: 1 }));
        assert_eq!(r.log_file.unwrap().id, FileId { dev: 52, ino: 12 });
        assert_eq!(r.log_file.unwrap().size, 254);
        assert_eq!(r.writer_pid, Some(10746));
        let w = r.writer.as_ref().unwrap();
        assert_eq!(
            (w.pid, w.start_time, w.comm.as_str()),
            (10746, 87795, "busybox")
        );
        let h = r.handle.as_ref().unwrap();
        assert_eq!(h.file, Some(FileId { dev: 52, ino: 12 }));
        assert_eq!(h.mount_id, Some(1510));
        let s = r.server.as_ref().unwrap();
        assert_eq!(
            (s.process.pid, s.process.start_time, s.candidates),
            (77, 5000, 2)
        );
        assert_eq!(s.cmdline, "mount-s3 bucket /data --allow-delete");
        assert!(s.names_mount_point);
        assert_eq!(
            r.marker,
            Some(MarkerAck {
                token: "tok1".into(),
                status: MarkerStatus::Ok
            })
        );
        assert_eq!(r.read_write, Some(ReadWrite::Ok));
        assert!(r.problems.is_empty());
    }

    #[test]
    fn keeps_problems_and_failures() {
        let out = "continuity-probe 1\nmount_point /data\nwriter_pid 42\n\
error writer process 42 is not running\nmarker t1 timeout\n\
read_write failed cannot create /data/.continuity-rw.9\nerror log_file stat failed: No such file\nend\n";
        let r = MountRecord::parse(out).unwrap();
        assert_eq!(r.writer_pid, Some(42));
        assert!(r.writer.is_none());
        assert_eq!(
            r.problem("writer").as_deref(),
            Some("process 42 is not running")
        );
        assert_eq!(r.marker.as_ref().unwrap().status, MarkerStatus::Timeout);
        assert_eq!(
            r.read_write,
            Some(ReadWrite::Failed(
                "cannot create /data/.continuity-rw.9".into()
            ))
        );
        assert!(r.problem("server").is_none());
    }

    #[test]
    fn round_trips_through_json() {
        let r = MountRecord::parse(OUTPUT).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records/pod-a.json");
        r.save_json(&path).unwrap();
        assert_eq!(MountRecord::load_json(&path).unwrap(), r);
        let err = MountRecord::load_json(&dir.path().join("missing.json")).unwrap_err();
        assert!(err.to_string().contains("missing.json"), "{err}");
    }

    #[test]
    fn rejects_bad_output_clearly() {
        assert!(matches!(MountRecord::parse(""), Err(ParseError::Empty)));
        assert!(matches!(
            MountRecord::parse("error usage -m MOUNT_POINT is required\n"),
            Err(ParseError::Usage(m)) if m.contains("-m")
        ));
        assert!(matches!(
            MountRecord::parse("sh: not found\n"),
            Err(ParseError::BadHeader { .. })
        ));
        assert!(matches!(
            MountRecord::parse("continuity-probe 1\nmount_point /d\n"),
            Err(ParseError::Truncated { lines: 2 })
        ));
        let err = MountRecord::parse("continuity-probe 1\nmount_root 52\nend\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = MountRecord::parse("continuity-probe 1\nfrobnicate 1\nend\n").unwrap_err();
        assert!(err.to_string().contains("\"frobnicate\""), "{err}");
        let err = MountRecord::parse("continuity-probe 1\nhandle_file 1 2\nend\n").unwrap_err();
        assert!(err.to_string().contains("before handle_target"), "{err}");
    }

    #[test]
    fn server_facts_come_from_the_node_record() {
        let mut pod = MountRecord::parse(OUTPUT).unwrap();
        pod.server = None;
        let node = MountRecord::parse(
            "continuity-probe 1\nmount_point /var/lib/kubelet/x\nserver_candidates 0\n\
error server no process named 'mount-s3' is running\nend\n",
        )
        .unwrap();
        pod.take_server_from(&node);
        assert!(pod.server.is_none());
        assert!(pod.problem("server").unwrap().contains("mount-s3"));
        pod.take_server_from(&MountRecord::parse(OUTPUT).unwrap());
        assert_eq!(pod.server.as_ref().unwrap().process.pid, 77);
        assert!(pod.problem("server").is_none());
    }

    #[test]
    fn uptime_to_ms() {
        assert_eq!(parse_uptime_ms("878.46"), Some(878_460));
        assert_eq!(parse_uptime_ms("5.1"), Some(5_100));
        assert_eq!(parse_uptime_ms("12"), Some(12_000));
        assert_eq!(parse_uptime_ms("1.2345"), None);
        assert_eq!(parse_uptime_ms("x.1"), None);
    }
}
