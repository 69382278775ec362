//! The continuity writer, probe and analysis against real mounts and real
//! processes on this machine: tmpfs and bind mounts made under a temp dir,
//! then disturbed the ways a CSI upgrade can disturb them.
//!
//! Needs root (mount(2)); skipped with a printed reason otherwise. Each test
//! runs in a private mount namespace of its own thread, so its mounts are
//! invisible to the rest of the machine and vanish with the thread even if
//! the process dies; the [`Sandbox`] guard also kills the writers and
//! unmounts everything on drop, panics included.

use anyhow::{ensure, Context, Result};
use harness::continuity::{
    analyze, probe_local_with, AnalysisOptions, CheckId, LocalWriter, MarkerStatus, MountInfo,
    MountRecord, ProbeRequest, Report, Status,
};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

const READY: Duration = Duration::from_secs(5);

/// Skips the test (with the reason on stderr) unless we can mount.
macro_rules! require_root {
    () => {
        if !running_as_root() {
            eprintln!("skipped: needs root to create tmpfs/bind mounts (run the tests as root)");
            return Ok(());
        }
    };
}

/// A temp dir with a volume mount point, a control dir outside it, and the
/// writers and mounts a test made; tears them down in the right order.
struct Sandbox {
    shell: Vec<&'static str>,
    writers: Vec<LocalWriter>,
    mounted: Vec<PathBuf>,
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(shell: &[&'static str]) -> Result<Self> {
        isolate_mounts();
        let dir = tempfile::Builder::new()
            .prefix("continuity-it-")
            .tempdir()?;
        std::fs::create_dir(dir.path().join("vol"))?;
        std::fs::create_dir(dir.path().join("backing"))?;
        Ok(Sandbox {
            shell: shell.to_vec(),
            writers: Vec::new(),
            mounted: Vec::new(),
            dir,
        })
    }

    fn vol(&self) -> PathBuf {
        self.dir.path().join("vol")
    }

    fn backing(&self) -> PathBuf {
        self.dir.path().join("backing")
    }

    fn log(&self) -> PathBuf {
        self.vol().join("continuity.log")
    }

    fn ctl(&self) -> PathBuf {
        self.dir.path().join("ctl")
    }

    fn mount_tmpfs(&mut self, at: &Path) -> Result<()> {
        mount(
            Some("continuity-it"),
            at,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=4m"),
        )
        .with_context(|| format!("mount tmpfs on {}", at.display()))?;
        self.mounted.push(at.to_path_buf());
        Ok(())
    }

    fn bind(&mut self, from: &Path, to: &Path) -> Result<()> {
        mount(Some(from), to, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .with_context(|| format!("bind {} on {}", from.display(), to.display()))?;
        self.mounted.push(to.to_path_buf());
        Ok(())
    }

    /// What a node plugin does when it remounts: detach the mount even though
    /// it is busy (the writer holds a descriptor on it).
    fn lazy_unmount(&self, at: &Path) -> Result<()> {
        umount2(at, MntFlags::MNT_DETACH).with_context(|| format!("umount -l {}", at.display()))
    }

    fn start_writer(&mut self) -> Result<u32> {
        let mut w = LocalWriter::spawn_with(&self.shell, &self.log(), &self.ctl())?;
        let pid = w.pid();
        // Kept before waiting, so a writer that fails to start is still reaped.
        let ready = w.wait_until_writing(READY);
        self.writers.push(w);
        ready?;
        Ok(pid)
    }

    fn writer(&mut self) -> &mut LocalWriter {
        self.writers.last_mut().expect("a writer was started")
    }

    fn request(&self) -> ProbeRequest {
        ProbeRequest::for_writer(
            self.vol().to_str().unwrap(),
            self.log().to_str().unwrap(),
            self.ctl().to_str().unwrap(),
        )
    }

    fn probe(&self, request: &ProbeRequest) -> Result<MountRecord> {
        let rec = probe_local_with(&self.shell, request, request.suggested_timeout())?;
        Ok(rec)
    }

    /// Setup's record: the facts, plus a read/write check.
    fn probe_before(&self) -> Result<MountRecord> {
        self.probe(&self.request().read_write())
    }

    /// Verify: record again with a marker, read the log through its path,
    /// analyze. Printed so `--nocapture` shows what users would see.
    fn verify(&self, before: &MountRecord) -> Result<(MountRecord, Report)> {
        let mut request = self.request().for_verify();
        request.marker_wait = Duration::from_millis(1_500);
        let after = self.probe(&request)?;
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let report = analyze(before, &after, &log, &AnalysisOptions::default());
        println!("{report}");
        Ok((after, report))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for w in &mut self.writers {
            let _ = w.kill();
        }
        // Each recorded path may have several mounts stacked on it.
        for at in self.mounted.iter().rev() {
            for _ in 0..8 {
                if umount2(at, MntFlags::MNT_DETACH).is_err() {
                    break;
                }
            }
        }
    }
}

/// Moves this test's thread (and the processes it starts) into a private
/// mount namespace. Best effort: without it the guards still clean up.
fn isolate_mounts() {
    let private = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).and_then(|()| {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
    });
    if let Err(e) = private {
        eprintln!("note: no private mount namespace ({e}); mounts are made in the host's");
    }
}

/// The mount holding `path` as this thread sees it, read by Rust, to check
/// the probe against an independent reader.
fn mount_seen_by_rust(path: &Path) -> Result<MountInfo> {
    let text = std::fs::read_to_string("/proc/thread-self/mountinfo")?;
    let real = path.canonicalize()?;
    MountInfo::containing(&text, real.to_str().unwrap()).context("no mount holds the path")
}

fn assert_statuses(report: &Report, expected: &[(CheckId, Status)]) {
    let wrong: Vec<String> = expected
        .iter()
        .filter(|(id, st)| report.status(*id) != *st)
        .map(|(id, st)| format!("{id:?}: want {st:?}, got {}", report.check(*id)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{}\n--- report ---\n{report}",
        wrong.join("\n")
    );
}

fn undisturbed(shell: &[&'static str]) -> Result<()> {
    let mut sb = Sandbox::new(shell)?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    let pid = sb.start_writer()?;
    let before = sb.probe_before()?;

    // The probe agrees with the kernel as Rust reads it.
    let kernel = mount_seen_by_rust(&vol)?;
    let probed = before.mount.as_ref().context("probe saw no mount")?;
    assert_eq!(probed.mount_id, kernel.mount_id);
    assert_eq!(probed.fs_type, "tmpfs");
    assert_eq!(before.writer.as_ref().map(|w| w.pid), Some(pid));
    assert!(before.problems.is_empty(), "{:?}", before.problems);

    std::thread::sleep(Duration::from_millis(500));
    let (after, report) = sb.verify(&before)?;
    assert!(report.passed, "{report}");
    assert_eq!(
        after.marker.as_ref().map(|m| &m.status),
        Some(&MarkerStatus::Ok)
    );
    assert_statuses(
        &report,
        &[
            (CheckId::ServerPid, Status::Skipped),
            (CheckId::ServerStartTime, Status::Skipped),
            (CheckId::WriterPid, Status::Pass),
            (CheckId::WriterStartTime, Status::Pass),
            (CheckId::MountId, Status::Pass),
            (CheckId::MountRootInode, Status::Pass),
            (CheckId::LogFileInode, Status::Pass),
            (CheckId::HeldHandle, Status::Pass),
            (CheckId::MarkerWrite, Status::Pass),
            (CheckId::WriteGaps, Status::Pass),
            (CheckId::ReadWrite, Status::Pass),
        ],
    );
    let gap = report.max_gap.context("no gap measured")?;
    assert!(gap.duration < Duration::from_secs(1), "{gap:?}");
    ensure!(report.to_string().ends_with("without remounting!"));
    Ok(())
}

#[test]
fn undisturbed_mount_passes_every_check() -> Result<()> {
    require_root!();
    undisturbed(&["sh"])
}

#[test]
fn undisturbed_mount_passes_under_busybox() -> Result<()> {
    require_root!();
    if which("busybox").is_none() {
        eprintln!("skipped: busybox is not installed (apt-get install busybox); the pods run these scripts under busybox sh");
        return Ok(());
    }
    undisturbed(&["busybox", "sh"])
}

#[test]
fn fresh_filesystem_at_the_same_path_is_a_remount() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    sb.start_writer()?;
    let before = sb.probe_before()?;

    sb.lazy_unmount(&vol)?;
    sb.mount_tmpfs(&vol)?;
    let (after, report) = sb.verify(&before)?;

    assert!(!report.passed);
    assert_statuses(
        &report,
        &[
            (CheckId::WriterPid, Status::Pass),
            (CheckId::MountId, Status::Fail),
            (CheckId::MountRootInode, Status::Fail),
            (CheckId::LogFileInode, Status::Fail),
            (CheckId::HeldHandle, Status::Fail),
            (CheckId::MarkerWrite, Status::Fail),
            (CheckId::WriteGaps, Status::Fail),
        ],
    );
    // The old descriptor still writes (into the detached filesystem): the
    // writer says ok, yet the marker is not in the file at the path.
    assert_eq!(
        after.marker.as_ref().map(|m| &m.status),
        Some(&MarkerStatus::Ok)
    );
    let old = before.mount.as_ref().unwrap().mount_id;
    let new = after.mount.as_ref().unwrap().mount_id;
    let msg = &report.check(CheckId::MountId).message;
    assert!(
        msg.starts_with(&format!("Mount ID changed: {old} → {new} (REMOUNTED!)")),
        "{msg}"
    );
    assert_eq!(after.handle.as_ref().unwrap().mount_id, Some(old));
    assert!(
        report.verdict().starts_with("❌ mount was disrupted"),
        "{}",
        report.verdict()
    );
    Ok(())
}

#[test]
fn restarting_the_writer_on_the_new_mount_does_not_hide_the_remount() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    let old_pid = sb.start_writer()?;
    let before = sb.probe_before()?;

    sb.lazy_unmount(&vol)?;
    sb.mount_tmpfs(&vol)?;
    sb.writer().kill()?;
    let new_pid = sb.start_writer()?;
    let (_, report) = sb.verify(&before)?;

    // A fresh writer holds a fresh, valid handle on the new mount...
    assert_statuses(
        &report,
        &[
            (CheckId::HeldHandle, Status::Fail),
            (CheckId::MarkerWrite, Status::Pass),
            // ...but everything that compares with setup sees the change.
            (CheckId::WriterPid, Status::Fail),
            (CheckId::MountId, Status::Fail),
            (CheckId::LogFileInode, Status::Fail),
            (CheckId::WriteGaps, Status::Fail),
        ],
    );
    let msg = &report.check(CheckId::WriterPid).message;
    assert!(msg.contains(&format!("{old_pid} → {new_pid}")), "{msg}");
    let msg = &report.check(CheckId::WriteGaps).message;
    assert!(msg.contains("starts after setup"), "{msg}");
    Ok(())
}

#[test]
fn bind_remount_of_the_same_filesystem_changes_only_the_mount() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let (backing, vol) = (sb.backing(), sb.vol());
    sb.mount_tmpfs(&backing)?;
    sb.bind(&backing, &vol)?;
    sb.start_writer()?;
    let before = sb.probe_before()?;

    // What a node plugin re-publishing a volume does: same filesystem, new mount.
    sb.lazy_unmount(&vol)?;
    sb.bind(&backing, &vol)?;
    let (_, report) = sb.verify(&before)?;

    assert_statuses(
        &report,
        &[
            (CheckId::WriterPid, Status::Pass),
            // Inodes cannot see it, and writes through the old handle still
            // land in the same file...
            (CheckId::MountRootInode, Status::Pass),
            (CheckId::LogFileInode, Status::Pass),
            (CheckId::MarkerWrite, Status::Pass),
            (CheckId::WriteGaps, Status::Pass),
            // ...only the mount identity does.
            (CheckId::MountId, Status::Fail),
            (CheckId::HeldHandle, Status::Fail),
        ],
    );
    let msg = &report.check(CheckId::HeldHandle).message;
    assert!(msg.contains("held descriptor is on mount"), "{msg}");
    Ok(())
}

#[test]
fn a_stopped_writer_shows_as_a_gap_of_the_right_length() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    sb.start_writer()?;
    let before = sb.probe_before()?;

    sb.writer().pause()?;
    std::thread::sleep(Duration::from_secs(2));
    sb.writer().resume()?;
    std::thread::sleep(Duration::from_millis(300));
    let (_, report) = sb.verify(&before)?;

    assert_statuses(
        &report,
        &[
            (CheckId::WriteGaps, Status::Fail),
            (CheckId::WriterPid, Status::Pass),
            (CheckId::MountId, Status::Pass),
            (CheckId::HeldHandle, Status::Pass),
            (CheckId::MarkerWrite, Status::Pass),
        ],
    );
    let gap = report.max_gap.context("no gap measured")?;
    assert!(
        gap.duration >= Duration::from_millis(1_950)
            && gap.duration <= Duration::from_millis(2_700),
        "max gap {:?} should be about the 2 s the writer was stopped",
        gap.duration
    );
    assert!(
        gap.before.is_some(),
        "the gap is between two ticks: {gap:?}"
    );
    let msg = &report.check(CheckId::WriteGaps).message;
    assert!(msg.starts_with("Found 2."), "{msg}");
    assert!(msg.contains("second gap in writes (DISRUPTED!)"), "{msg}");
    Ok(())
}

#[test]
fn a_killed_and_restarted_writer_is_a_pid_change() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    let old_pid = sb.start_writer()?;
    let before = sb.probe_before()?;

    sb.writer().kill()?;
    let new_pid = sb.start_writer()?;
    let (_, report) = sb.verify(&before)?;

    assert_statuses(
        &report,
        &[
            (CheckId::WriterPid, Status::Fail),
            (CheckId::WriterStartTime, Status::Fail),
            (CheckId::MountId, Status::Pass),
            (CheckId::MountRootInode, Status::Pass),
            (CheckId::LogFileInode, Status::Pass),
            (CheckId::MarkerWrite, Status::Pass),
        ],
    );
    assert_eq!(
        report.check(CheckId::WriterPid).message,
        format!(
            "Writer PID changed: {old_pid} → {new_pid} (writer restarted: its descriptor is new)"
        )
    );
    assert!(
        report.verdict().contains("writer PID"),
        "{}",
        report.verdict()
    );
    Ok(())
}

#[test]
fn a_dead_writer_fails_verify_with_a_trailing_gap() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    let pid = sb.start_writer()?;
    let before = sb.probe_before()?;

    sb.writer().kill()?;
    std::thread::sleep(Duration::from_millis(1_200));
    let (after, report) = sb.verify(&before)?;

    assert_eq!(
        after.marker.as_ref().map(|m| &m.status),
        Some(&MarkerStatus::Timeout)
    );
    assert_statuses(
        &report,
        &[
            (CheckId::WriterPid, Status::Fail),
            (CheckId::MarkerWrite, Status::Fail),
            (CheckId::WriteGaps, Status::Fail),
            (CheckId::MountId, Status::Pass),
        ],
    );
    let msg = &report.check(CheckId::WriterPid).message;
    assert!(
        msg.starts_with(&format!("Writer PID changed: {pid} → (not running")),
        "{msg}"
    );
    let gap = report.max_gap.context("no gap")?;
    assert_eq!(gap.before, None, "the gap runs up to the probe: {gap:?}");
    Ok(())
}

#[test]
fn sandbox_leaves_nothing_behind_when_a_test_panics() -> Result<()> {
    require_root!();
    let seen = std::sync::Mutex::new(None);
    let outcome = std::panic::catch_unwind(|| {
        let mut sb = Sandbox::new(&["sh"]).unwrap();
        let vol = sb.vol();
        sb.mount_tmpfs(&vol).unwrap();
        let pid = sb.start_writer().unwrap();
        *seen.lock().unwrap() = Some((pid, sb.dir.path().to_path_buf(), vol));
        panic!("assertion failed in the middle of a test");
    });
    assert!(outcome.is_err());
    let (pid, dir, vol) = seen.lock().unwrap().take().context("sandbox not built")?;
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
    assert!(!alive, "writer {pid} still running");
    let mounts = std::fs::read_to_string("/proc/thread-self/mountinfo")?;
    let vol = vol.to_str().unwrap();
    assert!(!mounts.contains(vol), "{vol} still mounted");
    assert!(!dir.exists(), "{} not removed", dir.display());
    Ok(())
}

#[test]
fn probe_reports_a_missing_writer_and_log_instead_of_failing() -> Result<()> {
    // Needs no mount: the probe on a plain directory with nothing running.
    let dir = tempfile::tempdir()?;
    let req = ProbeRequest::for_writer(
        dir.path().to_str().unwrap(),
        dir.path().join("none.log").to_str().unwrap(),
        dir.path().join("ctl").to_str().unwrap(),
    );
    let rec = harness::continuity::probe_local(&req, req.suggested_timeout())?;
    assert!(rec.mount.is_some(), "{rec:?}");
    assert!(rec.writer.is_none());
    assert!(
        rec.problem("writer").unwrap().contains("no PID file"),
        "{rec:?}"
    );
    assert!(rec.problem("log_file").is_some(), "{rec:?}");

    let err = harness::continuity::probe_local(&ProbeRequest::new(""), Duration::from_secs(5))
        .unwrap_err();
    assert!(
        err.to_string().contains("-m MOUNT_POINT is required"),
        "{err}"
    );
    Ok(())
}

/// Effective UID 0, read from /proc (nix's `user` feature is not enabled).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}
