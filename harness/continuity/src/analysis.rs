//! The verdict: compare the record taken before the upgrade with the one taken
//! after it, plus the writer's log, one check per fact (see the module docs of
//! [`super`] for why each check proves what it proves).

use super::log::{Gap, Tick, WriteLog};
use super::procfs::FileId;
use super::record::{MarkerStatus, MountRecord, ProcessIdentity, ReadWrite};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Knobs of the analysis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalysisOptions {
    /// The longest time without a timestamp that still counts as "I/O never
    /// interrupted". The writer stamps every ~100 ms; scheduling noise on a
    /// busy node stays well under the 1 s default.
    #[serde(with = "secs_f64")]
    pub max_gap: Duration,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            max_gap: Duration::from_secs(1),
        }
    }
}

/// Which fact a [`Check`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// PID of the process serving the mount (FUSE drivers).
    ServerPid,
    /// Start time of the process serving the mount.
    ServerStartTime,
    /// PID of the writer that holds the log open.
    WriterPid,
    /// Start time of the writer.
    WriterStartTime,
    /// Mount ID of the mount holding the mount point.
    MountId,
    /// Device + inode of the mount point directory.
    MountRootInode,
    /// Device + inode of the log file.
    LogFileInode,
    /// The writer's held descriptor reaches the file and mount at the path.
    HeldHandle,
    /// A marker written through the held descriptor shows up in the file.
    MarkerWrite,
    /// No long pause between consecutive timestamps.
    WriteGaps,
    /// A fresh file can be written and read back.
    ReadWrite,
}

impl CheckId {
    /// What a passing check proves, in the words of the users' table.
    pub fn proves(self) -> &'static str {
        match self {
            CheckId::ServerPid | CheckId::ServerStartTime => {
                "the process serving the mount never restarted"
            }
            CheckId::WriterPid | CheckId::WriterStartTime => {
                "the application kept running and kept its descriptor"
            }
            CheckId::MountId => "Linux sees it as the same mount",
            CheckId::MountRootInode | CheckId::LogFileInode => "the filesystem was not recreated",
            CheckId::HeldHandle | CheckId::MarkerWrite => "the kernel did not unmount it",
            CheckId::WriteGaps => "I/O was never interrupted",
            CheckId::ReadWrite => "the volume is still usable for new I/O",
        }
    }

    fn short(self) -> &'static str {
        match self {
            CheckId::ServerPid => "mount PID",
            CheckId::ServerStartTime => "mount process start time",
            CheckId::WriterPid => "writer PID",
            CheckId::WriterStartTime => "writer start time",
            CheckId::MountId => "mount ID",
            CheckId::MountRootInode => "mount root inode",
            CheckId::LogFileInode => "log file inode",
            CheckId::HeldHandle => "open file handle",
            CheckId::MarkerWrite => "write through held handle",
            CheckId::WriteGaps => "write gaps",
            CheckId::ReadWrite => "read/write",
        }
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The fact is unchanged / the property holds.
    Pass,
    /// The fact changed or the property does not hold.
    Fail,
    /// Not applicable (e.g. no mount-serving process for a non-FUSE driver);
    /// does not count towards the verdict, and says why.
    Skipped,
}

impl Status {
    /// ✅, ❌ or ➖.
    pub fn icon(self) -> &'static str {
        match self {
            Status::Pass => "✅",
            Status::Fail => "❌",
            Status::Skipped => "➖",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was compared.
    pub id: CheckId,
    /// The outcome.
    pub status: Status,
    /// The human line, e.g. `Mount PID changed: 12345 → 67890 (REMOUNTED!)`.
    pub message: String,
    /// The value before, when the check compares two values.
    pub before: Option<String>,
    /// The value after.
    pub after: Option<String>,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.icon(), self.message)
    }
}

/// The whole analysis: one [`Check`] per fact and a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// The longest time without a timestamp, and where it was.
    pub max_gap: Option<Gap>,
    /// The options used.
    pub options: AnalysisOptions,
    /// True when no check failed.
    pub passed: bool,
}

impl Report {
    /// The check for `id`.
    pub fn check(&self, id: CheckId) -> &Check {
        self.checks
            .iter()
            .find(|c| c.id == id)
            .expect("analyze emits every CheckId once")
    }

    /// The status of the check for `id`.
    pub fn status(&self, id: CheckId) -> Status {
        self.check(id).status
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// The last line of the report.
    pub fn verdict(&self) -> String {
        if self.passed {
            "✅ VERIFIED: Mount survived upgrade without remounting!".to_string()
        } else {
            let failed: Vec<&str> = self.failures().map(|c| c.id.short()).collect();
            format!(
                "❌ mount was disrupted during upgrade: {} of {} checks failed ({})",
                failed.len(),
                self.checks
                    .iter()
                    .filter(|c| c.status != Status::Skipped)
                    .count(),
                failed.join(", ")
            )
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            writeln!(f, "{c}")?;
        }
        write!(f, "{}", self.verdict())
    }
}

/// Compares the record taken before the disruption with the one taken after
/// it (with a marker request and the read/write check), and the log text
/// read through the path after the second probe.
pub fn analyze(
    before: &MountRecord,
    after: &MountRecord,
    log_text: &str,
    options: &AnalysisOptions,
) -> Report {
    let log = WriteLog::parse(log_text);
    let max_gap = log.max_gap(after.clock.map(|c| c.uptime_ms));
    let mut checks = Vec::new();
    let (pid, start) = process_checks(
        ProcessRole::Server,
        before.server.as_ref().map(|s| &s.process),
        after.server.as_ref().map(|s| &s.process),
        before,
        after,
    );
    checks.push(pid);
    checks.push(start);
    let (pid, start) = process_checks(
        ProcessRole::Writer,
        before.writer.as_ref(),
        after.writer.as_ref(),
        before,
        after,
    );
    checks.push(pid);
    checks.push(start);
    checks.push(mount_id_check(before, after));
    checks.push(file_id_check(
        CheckId::MountRootInode,
        "Mount root inode",
        before.mount_root,
        after.mount_root,
        after
            .problem("mount_root")
            .or_else(|| after.problem("mount")),
    ));
    checks.push(file_id_check(
        CheckId::LogFileInode,
        "Log file inode",
        before.log_file.map(|l| l.id),
        after.log_file.map(|l| l.id),
        after.problem("log_file"),
    ));
    checks.push(handle_check(before, after));
    checks.push(marker_check(after, &log));
    checks.push(gap_check(before, after, &log, max_gap, options));
    checks.push(read_write_check(after));
    let passed = checks.iter().all(|c| c.status != Status::Fail);
    Report {
        checks,
        max_gap,
        options: options.clone(),
        passed,
    }
}

fn check(id: CheckId, status: Status, message: String) -> Check {
    Check {
        id,
        status,
        message,
        before: None,
        after: None,
    }
}

fn compared(mut c: Check, before: Option<String>, after: Option<String>) -> Check {
    c.before = before;
    c.after = after;
    c
}

#[derive(Clone, Copy)]
enum ProcessRole {
    Server,
    Writer,
}

fn process_checks(
    role: ProcessRole,
    before: Option<&ProcessIdentity>,
    after: Option<&ProcessIdentity>,
    rec_before: &MountRecord,
    rec_after: &MountRecord,
) -> (Check, Check) {
    let (pid_id, start_id, name, subject, broken) = match role {
        ProcessRole::Server => (
            CheckId::ServerPid,
            CheckId::ServerStartTime,
            "Mount",
            "server",
            "REMOUNTED!",
        ),
        ProcessRole::Writer => (
            CheckId::WriterPid,
            CheckId::WriterStartTime,
            "Writer",
            "writer",
            "writer restarted: its descriptor is new",
        ),
    };
    let why = |rec: &MountRecord| {
        rec.problem(subject)
            .unwrap_or_else(|| "not recorded".to_string())
    };
    let pid_str = |p: Option<&ProcessIdentity>| p.map(|p| p.pid.to_string());
    let start_str = |p: Option<&ProcessIdentity>| p.map(|p| p.start_time.to_string());
    let report = match (before, after) {
        (None, None)
            if matches!(role, ProcessRole::Server)
                && rec_before.problem(subject).is_none()
                && rec_after.problem(subject).is_none() =>
        {
            let reason = "no mount-serving process was looked for (not a FUSE driver)";
            (
                check(
                    pid_id,
                    Status::Skipped,
                    format!("{name} PID not checked: {reason}"),
                ),
                check(
                    start_id,
                    Status::Skipped,
                    format!("{name} process start time not checked: {reason}"),
                ),
            )
        }
        (None, _) => (
            compared(
                check(
                    pid_id,
                    Status::Fail,
                    format!(
                        "{name} process missing at setup, nothing to compare: {}",
                        why(rec_before)
                    ),
                ),
                None,
                pid_str(after),
            ),
            check(
                start_id,
                Status::Skipped,
                format!("{name} process start time not checked: no process at setup"),
            ),
        ),
        (Some(b), None) => (
            compared(
                check(
                    pid_id,
                    Status::Fail,
                    format!(
                        "{name} PID changed: {} → (not running: {}) ({broken})",
                        b.pid,
                        why(rec_after)
                    ),
                ),
                pid_str(before),
                None,
            ),
            check(
                start_id,
                Status::Skipped,
                format!(
                    "{name} process start time not checked: process {} is gone",
                    b.pid
                ),
            ),
        ),
        (Some(b), Some(a)) => {
            let pid = if b.pid == a.pid {
                let mut msg = format!("{name} PID unchanged: {}", a.pid);
                if a.state == 'T' || a.state == 'Z' {
                    msg.push_str(&format!(" (but its state is now {:?})", a.state));
                }
                check(pid_id, Status::Pass, msg)
            } else {
                check(
                    pid_id,
                    Status::Fail,
                    format!("{name} PID changed: {} → {} ({broken})", b.pid, a.pid),
                )
            };
            let start = if b.start_time == a.start_time && b.pid == a.pid {
                check(
                    start_id,
                    Status::Pass,
                    format!("{name} process start time unchanged: {}", a.start_time),
                )
            } else if b.pid == a.pid {
                check(
                    start_id,
                    Status::Fail,
                    format!(
                        "{name} process start time changed: {} → {} (PID {} reused by a new process: {broken})",
                        b.start_time, a.start_time, a.pid
                    ),
                )
            } else {
                check(
                    start_id,
                    Status::Fail,
                    format!(
                        "{name} process start time changed: {} → {} (new process)",
                        b.start_time, a.start_time
                    ),
                )
            };
            (
                compared(pid, pid_str(before), pid_str(after)),
                compared(start, start_str(before), start_str(after)),
            )
        }
    };
    let (mut pid, start) = report;
    if let Some(guess) = [&rec_before.server, &rec_after.server]
        .into_iter()
        .flatten()
        .find(|s| !s.names_mount_point && s.candidates > 1)
        .filter(|_| matches!(role, ProcessRole::Server))
    {
        pid.message.push_str(&format!(
            " (note: picked by name among {} processes; none names the mount point)",
            guess.candidates
        ));
    }
    (pid, start)
}

fn mount_id_check(before: &MountRecord, after: &MountRecord) -> Check {
    let desc = |m: &super::procfs::MountInfo| {
        format!(
            "{} {} on {}, dev {}",
            m.fs_type,
            m.source,
            m.mount_point,
            m.device()
        )
    };
    let id = CheckId::MountId;
    let c = match (&before.mount, &after.mount) {
        (None, _) => check(
            id,
            Status::Fail,
            format!(
                "Mount ID missing at setup, nothing to compare: {}",
                before.problem("mount").unwrap_or_default()
            ),
        ),
        (Some(b), None) => check(
            id,
            Status::Fail,
            format!(
                "Mount ID changed: {} → (no mount: {}) (REMOUNTED!)",
                b.mount_id,
                after.problem("mount").unwrap_or_default()
            ),
        ),
        (Some(b), Some(a)) if b.mount_id != a.mount_id => check(
            id,
            Status::Fail,
            format!(
                "Mount ID changed: {} → {} (REMOUNTED!): was {}, now {}",
                b.mount_id,
                a.mount_id,
                desc(b),
                desc(a)
            ),
        ),
        (Some(b), Some(a)) if (b.major, b.minor) != (a.major, a.minor) => check(
            id,
            Status::Fail,
            format!(
                "Mount ID {} now names another filesystem: dev {} → {} (REMOUNTED!)",
                a.mount_id,
                b.device(),
                a.device()
            ),
        ),
        (Some(_), Some(a)) => check(
            id,
            Status::Pass,
            format!("Mount ID unchanged: {} ({})", a.mount_id, desc(a)),
        ),
    };
    compared(
        c,
        before.mount.as_ref().map(|m| m.mount_id.to_string()),
        after.mount.as_ref().map(|m| m.mount_id.to_string()),
    )
}

fn file_id_check(
    id: CheckId,
    name: &str,
    before: Option<FileId>,
    after: Option<FileId>,
    after_problem: Option<String>,
) -> Check {
    let c = match (before, after) {
        (None, _) => check(
            id,
            Status::Fail,
            format!("{name} missing at setup, nothing to compare"),
        ),
        (Some(b), None) => check(
            id,
            Status::Fail,
            format!(
                "{name} changed: {b} → (missing: {}) (filesystem recreated!)",
                after_problem.unwrap_or_default()
            ),
        ),
        (Some(b), Some(a)) if a != b => check(
            id,
            Status::Fail,
            format!("{name} changed: {b} → {a} (filesystem recreated!)"),
        ),
        (Some(_), Some(a)) => check(id, Status::Pass, format!("{name} unchanged: {a}")),
    };
    compared(
        c,
        before.map(|f| f.to_string()),
        after.map(|f| f.to_string()),
    )
}

fn handle_check(before: &MountRecord, after: &MountRecord) -> Check {
    let id = CheckId::HeldHandle;
    let fail = |msg: String| check(id, Status::Fail, msg);
    if after.writer.is_none() {
        return fail(format!(
            "Open file handle not checked: the writer is not running ({})",
            after.problem("writer").unwrap_or_default()
        ));
    }
    let Some(h) = &after.handle else {
        return fail(format!(
            "Open file handle broken: the writer holds no log descriptor ({})",
            after.problem("handle").unwrap_or_default()
        ));
    };
    let Some(file) = h.file else {
        return fail(format!(
            "Open file handle broken (REMOUNTED!): {}",
            after.problem("handle").unwrap_or_default()
        ));
    };
    let at_path = after.log_file.map(|l| l.id);
    let c = if at_path != Some(file) {
        fail(format!(
            "Open file handle broken (REMOUNTED!): the held descriptor reaches {file}, the path {} reaches {}",
            after.log_path.as_deref().unwrap_or("?"),
            at_path.map_or("nothing".to_string(), |f| f.to_string())
        ))
    } else if let Some((hm, m)) = h
        .mount_id
        .zip(after.mount.as_ref().map(|m| m.mount_id))
        .filter(|(hm, m)| hm != m)
    {
        fail(format!(
            "Open file handle broken (REMOUNTED!): the held descriptor is on mount {hm}, the path is on mount {m}"
        ))
    } else if let Some(old) = before
        .handle
        .as_ref()
        .and_then(|h| h.file)
        .filter(|old| *old != file)
    {
        fail(format!(
            "Open file handle replaced: the held descriptor reached {old} at setup, now {file} (log reopened)"
        ))
    } else {
        check(
            id,
            Status::Pass,
            format!(
                "Open file handle still valid: fd 3 reaches the file at the path ({file}{})",
                h.mount_id.map_or(String::new(), |m| format!(", mount {m}"))
            ),
        )
    };
    compared(
        c,
        before
            .handle
            .as_ref()
            .and_then(|h| h.file)
            .map(|f| f.to_string()),
        Some(file.to_string()),
    )
}

fn marker_check(after: &MountRecord, log: &WriteLog) -> Check {
    let id = CheckId::MarkerWrite;
    let Some(m) = &after.marker else {
        return check(
            id,
            Status::Skipped,
            "Write through the held handle not checked: no marker was requested".to_string(),
        );
    };
    let fail = |msg: String| check(id, Status::Fail, msg);
    match m.status {
        MarkerStatus::Timeout => fail(format!(
            "Open file handle not proven: the writer did not answer marker {} in time (stopped, dead, or blocked on the volume)",
            m.token
        )),
        MarkerStatus::Mismatch => fail(format!(
            "Open file handle not proven: the writer answered another marker than {} (two verifies at once?)",
            m.token
        )),
        MarkerStatus::WriteFailed => fail(format!(
            "Open file handle broken (REMOUNTED!): writing marker {} through the held descriptor failed",
            m.token
        )),
        MarkerStatus::Ok => match log.markers.iter().find(|l| l.token == m.token) {
            None => fail(format!(
                "Open file handle broken (REMOUNTED!): marker {} was written through the held descriptor but is not in the file at the path (the descriptor reaches a detached filesystem)",
                m.token
            )),
            Some(line) if after.writer.as_ref().is_some_and(|w| w.pid != line.pid) => {
                fail(format!(
                    "Marker {} in the log was written by PID {}, not the writer probed ({})",
                    m.token,
                    line.pid,
                    after.writer.as_ref().map_or(0, |w| w.pid)
                ))
            }
            Some(line) => check(
                id,
                Status::Pass,
                format!(
                    "Write through the held handle reached the file: marker {} at line {}",
                    m.token, line.line
                ),
            ),
        },
    }
}

fn when(t: &Tick) -> String {
    let at = jiff::Timestamp::from_second(t.epoch)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.epoch.to_string());
    format!("tick {} at line {} ({at})", t.seq, t.line)
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

fn gap_check(
    before: &MountRecord,
    after: &MountRecord,
    log: &WriteLog,
    max_gap: Option<Gap>,
    options: &AnalysisOptions,
) -> Check {
    let id = CheckId::WriteGaps;
    let fail = |msg: String| check(id, Status::Fail, msg);
    let path = after.log_path.as_deref().unwrap_or("the log");
    let (Some(first), Some(gap)) = (log.ticks.first(), max_gap) else {
        return fail(format!(
            "No timestamps in {path}: the writes do not reach the file at the path (DISRUPTED!)"
        ));
    };
    let mut note = String::new();
    if let Some((line, text)) = log.unreadable.first() {
        note = format!(
            "; {} unreadable line(s), first at line {line}: {text:?}",
            log.unreadable.len()
        );
    }
    let limit = secs(options.max_gap);
    if let Some((a, b)) = log.clock_went_back() {
        return fail(format!(
            "Clock went backwards in {path} between {} and {} (node rebooted?) (DISRUPTED!){note}",
            when(&a),
            when(&b)
        ));
    }
    // Setup records only after the writer's first tick, so an intact log
    // always has a tick from before the setup probe.
    if let Some(setup) = before.clock.filter(|c| first.uptime_ms > c.uptime_ms) {
        return fail(format!(
            "Continuous write log starts after setup: first timestamp {} is {} after the setup probe, earlier writes are gone from {path} (DISRUPTED!){note}",
            when(first),
            secs(Duration::from_millis(first.uptime_ms - setup.uptime_ms))
        ));
    }
    let c = if gap.duration > options.max_gap {
        let place = match gap.before {
            Some(next) => format!("between {} and {}", when(&gap.after), when(&next)),
            None => format!(
                "after {}, the last timestamp before the probe (continuous write stopped)",
                when(&gap.after)
            ),
        };
        fail(format!(
            "Found {:.2} second gap in writes (DISRUPTED!): {place}, limit {limit}{note}",
            gap.duration.as_secs_f64()
        ))
    } else {
        check(
            id,
            Status::Pass,
            format!(
                "No significant gaps (max: {}, limit {limit}, {} timestamps){note}",
                secs(gap.duration),
                log.ticks.len()
            ),
        )
    };
    compared(c, None, Some(secs(gap.duration)))
}

fn read_write_check(after: &MountRecord) -> Check {
    let id = CheckId::ReadWrite;
    match &after.read_write {
        None => check(
            id,
            Status::Skipped,
            "Read/write not checked: the probe was not asked to (-w)".to_string(),
        ),
        Some(ReadWrite::Ok) => check(
            id,
            Status::Pass,
            "Read/write operations working".to_string(),
        ),
        Some(ReadWrite::Failed(why)) => check(
            id,
            Status::Fail,
            format!("Read/write operations failing: {why}"),
        ),
    }
}

mod secs_f64 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::MountRecord;

    /// A setup record of a FUSE mount served by `mount-s3` PID 12345.
    fn record(server_pid: u32, server_start: u64, mount_id: u64, marker: &str) -> MountRecord {
        let out = format!(
            "continuity-probe 1
clock 1000.00 1795434496
mount_point /data
writer_pid 42
writer_stat 42 (sh) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 900 0 0
{marker}
resolved /data
mountinfo {mount_id} 27 0:52 / /data rw,relatime - fuse.mountpoint-s3 mountpoint-s3 rw
mount_root 52 1
log_path /data/continuity.log
log_file 52 12 254
handle_target /data/continuity.log
handle_file 52 12
handle_mnt_id {mount_id}
server_candidates 1
server_stat {server_pid} (mount-s3) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {server_start} 0 0
server_cmdline mount-s3 bucket /data
server_match mount-point
read_write ok
end
"
        );
        MountRecord::parse(&out).unwrap()
    }

    fn log_until(secs: u64, marker: Option<&str>) -> String {
        let mut log = String::from("start 42 999.90 1795434496\n");
        // One tick every 100 ms from uptime 999.90 s.
        for i in 0..secs * 10 {
            let ms = 999_900 + i * 100;
            log.push_str(&format!(
                "tick {} {}.{:02} 1795434496 42\n",
                i + 1,
                ms / 1000,
                ms % 1000 / 10
            ));
        }
        if let Some(token) = marker {
            log.push_str(&format!("marker {token} 1 1000.50 1795434496 42\n"));
        }
        log
    }

    #[test]
    fn an_undisturbed_fuse_mount_passes_with_the_users_wording() {
        let before = record(12345, 5000, 1510, "");
        let mut after = record(12345, 5000, 1510, "marker tok ok");
        after.clock.as_mut().unwrap().uptime_ms = 1_000_000 + 5_000;
        let report = analyze(
            &before,
            &after,
            &log_until(6, Some("tok")),
            &AnalysisOptions::default(),
        );
        assert!(report.passed, "{report}");
        let text = report.to_string();
        assert!(
            text.starts_with(
                "✅ Mount PID unchanged: 12345\n✅ Mount process start time unchanged: 5000\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("✅ No significant gaps (max: 0.10s, limit 1.00s"),
            "{text}"
        );
        assert!(
            text.ends_with("✅ VERIFIED: Mount survived upgrade without remounting!"),
            "{text}"
        );
    }

    #[test]
    fn a_restarted_mount_server_is_a_remount() {
        let before = record(12345, 5000, 1510, "");
        let after = record(67890, 7000, 1510, "marker tok ok");
        let report = analyze(
            &before,
            &after,
            &log_until(2, Some("tok")),
            &AnalysisOptions::default(),
        );
        assert_eq!(
            report.check(CheckId::ServerPid).message,
            "Mount PID changed: 12345 → 67890 (REMOUNTED!)"
        );
        assert_eq!(
            report.check(CheckId::ServerPid).before.as_deref(),
            Some("12345")
        );
        assert_eq!(
            report.check(CheckId::ServerPid).after.as_deref(),
            Some("67890")
        );
        assert_eq!(report.status(CheckId::ServerStartTime), Status::Fail);
        assert!(!report.passed);
        assert_eq!(
            report.verdict(),
            "❌ mount was disrupted during upgrade: 2 of 11 checks failed (mount PID, mount process start time)"
        );
    }

    #[test]
    fn a_reused_pid_is_caught_by_the_start_time() {
        let before = record(12345, 5000, 1510, "");
        let after = record(12345, 9000, 1510, "marker tok ok");
        let report = analyze(
            &before,
            &after,
            &log_until(2, Some("tok")),
            &AnalysisOptions::default(),
        );
        assert_eq!(report.status(CheckId::ServerPid), Status::Pass);
        let msg = &report.check(CheckId::ServerStartTime).message;
        assert!(msg.contains("5000 → 9000 (PID 12345 reused"), "{msg}");
    }

    #[test]
    fn a_server_picked_by_name_only_is_flagged() {
        let mut before = record(12345, 5000, 1510, "");
        let server = before.server.as_mut().unwrap();
        server.names_mount_point = false;
        server.candidates = 3;
        let after = record(12345, 5000, 1510, "marker tok ok");
        let report = analyze(
            &before,
            &after,
            &log_until(2, Some("tok")),
            &AnalysisOptions::default(),
        );
        assert_eq!(
            report.check(CheckId::ServerPid).message,
            "Mount PID unchanged: 12345 (note: picked by name among 3 processes; none names the mount point)"
        );
    }

    #[test]
    fn a_recycled_mount_id_on_another_device_still_fails() {
        let before = record(1, 1, 1510, "");
        let mut after = record(1, 1, 1510, "marker tok ok");
        after.mount.as_mut().unwrap().minor = 60;
        let report = analyze(
            &before,
            &after,
            &log_until(2, Some("tok")),
            &AnalysisOptions::default(),
        );
        let msg = &report.check(CheckId::MountId).message;
        assert_eq!(
            msg,
            "Mount ID 1510 now names another filesystem: dev 0:52 → 0:60 (REMOUNTED!)"
        );
    }

    #[test]
    fn a_vanished_server_and_a_failed_handle_write_are_named() {
        let before = record(12345, 5000, 1510, "");
        let mut after = record(
            12345,
            5000,
            1510,
            "marker tok write-failed\nread_write failed cannot create /data/x",
        );
        after.server = None;
        after.problems.push(crate::ProbeProblem {
            subject: "server".into(),
            message: "no process named 'mount-s3' is running".into(),
        });
        after.read_write = Some(ReadWrite::Failed("cannot create /data/x".into()));
        let report = analyze(
            &before,
            &after,
            &log_until(2, None),
            &AnalysisOptions::default(),
        );
        assert_eq!(
            report.check(CheckId::ServerPid).message,
            "Mount PID changed: 12345 → (not running: no process named 'mount-s3' is running) (REMOUNTED!)"
        );
        assert_eq!(report.status(CheckId::ServerStartTime), Status::Skipped);
        assert!(
            report
                .check(CheckId::MarkerWrite)
                .message
                .contains("through the held descriptor failed")
        );
        assert_eq!(
            report.check(CheckId::ReadWrite).message,
            "Read/write operations failing: cannot create /data/x"
        );
    }

    #[test]
    fn the_gap_limit_is_configurable_and_the_json_form_is_stable() {
        let before = record(1, 1, 1510, "");
        let after = record(1, 1, 1510, "marker tok ok");
        let log = "tick 1 999.90 1795434496 42\ntick 2 1000.40 1795434496 42\nmarker tok 2 1000.40 1795434496 42\n";
        let strict = AnalysisOptions {
            max_gap: Duration::from_millis(300),
        };
        let report = analyze(&before, &after, log, &strict);
        let msg = &report.check(CheckId::WriteGaps).message;
        assert!(msg.starts_with("Found 0.50 second gap in writes (DISRUPTED!): between tick 1 at line 1 (2026-11-23T"), "{msg}");
        assert!(msg.ends_with("limit 0.30s"), "{msg}");
        assert!(analyze(&before, &after, log, &AnalysisOptions::default()).passed);

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["options"]["max_gap"], 0.3);
        assert_eq!(json["max_gap"]["duration"], 500);
        let gaps = json["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "write-gaps")
            .unwrap();
        assert_eq!(gaps["status"], "fail");
        assert_eq!(gaps["after"], "0.50s");
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }
}
