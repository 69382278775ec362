//! The continuity writer, probe and analysis against real mounts and real
//! processes on this machine: tmpfs and bind mounts made under a temp dir,
//! then disturbed the ways a CSI upgrade can disturb them.
//!
//! Needs root (mount(2)); skipped with a printed reason otherwise. Each test
//! runs in a private mount namespace of its own thread, so its mounts are
//! invisible to the rest of the machine and vanish with the thread even if
//! the process dies; the [`Sandbox`] guard also kills the writers and
//! unmounts everything on drop, panics included.

use anyhow::{Context, Result, ensure};
use kube_harness_continuity::{
    AnalysisOptions, CheckId, LocalWriter, MarkerStatus, MountInfo, MountRecord, ProbeRequest,
    Report, Status, analyze, probe_local_with,
};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use std::os::unix::process::CommandExt;
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
    servers: Vec<std::process::Child>,
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
            servers: Vec::new(),
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

    /// A stand-in for a FUSE server such as `mount-s3`: a process with that
    /// kind of name whose command line names the mount point it serves.
    fn start_server(&mut self, serves: &Path) -> Result<u32> {
        let bin = self.dir.path().join(FAKE_SERVER);
        if !bin.exists() {
            std::fs::write(&bin, "#!/bin/sh\nwhile :; do sleep 1; done\n")?;
            std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        }
        let child = std::process::Command::new(&bin)
            .arg(serves)
            .stdin(std::process::Stdio::null())
            .process_group(0)
            .spawn()?;
        let pid = child.id();
        self.servers.push(child);
        // Bounded wait until the kernel shows the process under its name.
        for _ in 0..200 {
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == FAKE_SERVER)
            {
                return Ok(pid);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        anyhow::bail!("fake server {pid} never showed up as {FAKE_SERVER}")
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
        for s in &mut self.servers {
            kill_group(s);
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

const FAKE_SERVER: &str = "fake-mount-s3";

fn kill_group(child: &mut std::process::Child) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
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
        eprintln!(
            "skipped: busybox is not installed (apt-get install busybox); the pods run these scripts under busybox sh"
        );
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
fn a_restarted_mount_server_is_a_remount_and_the_right_server_is_picked() -> Result<()> {
    require_root!();
    let mut sb = Sandbox::new(&["sh"])?;
    let vol = sb.vol();
    sb.mount_tmpfs(&vol)?;
    sb.start_writer()?;
    // Another volume's server, started first: the probe must not take it.
    let other = sb.start_server(&sb.backing())?;
    let old = sb.start_server(&vol)?;
    let before = sb.probe(&sb.request().server_name("fake-mount-*"))?;
    let server = before.server.as_ref().context("no server found")?;
    assert_eq!(
        server.process.pid, old,
        "picked {server:?}, decoy was {other}"
    );
    assert_eq!(server.candidates, 2);
    assert!(server.names_mount_point, "{server:?}");

    // Saved by setup, loaded by verify: the analysis works on the round trip.
    let saved = sb.dir.path().join("records/before.json");
    before.save_json(&saved)?;
    let before = MountRecord::load_json(&saved)?;

    let mut old_server = sb.servers.pop().context("server")?;
    kill_group(&mut old_server);
    let new = sb.start_server(&vol)?;
    let mut request = sb.request().for_verify().server_name("fake-mount-*");
    request.marker_wait = Duration::from_millis(1_500);
    let after = sb.probe(&request)?;
    let log = std::fs::read_to_string(sb.log())?;
    let report = analyze(&before, &after, &log, &AnalysisOptions::default());
    println!("{report}");

    assert_eq!(
        report.check(CheckId::ServerPid).message,
        format!("Mount PID changed: {old} → {new} (REMOUNTED!)")
    );
    assert_statuses(
        &report,
        &[
            (CheckId::ServerStartTime, Status::Fail),
            (CheckId::WriterPid, Status::Pass),
            (CheckId::MountId, Status::Pass),
            (CheckId::MarkerWrite, Status::Pass),
        ],
    );
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
    let rec = kube_harness_continuity::probe_local(&req, req.suggested_timeout())?;
    assert!(rec.mount.is_some(), "{rec:?}");
    assert!(rec.writer.is_none());
    assert!(
        rec.problem("writer").unwrap().contains("no PID file"),
        "{rec:?}"
    );
    assert!(rec.problem("log_file").is_some(), "{rec:?}");

    let err = kube_harness_continuity::probe_local(&ProbeRequest::new(""), Duration::from_secs(5))
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

#[test]
fn scripts_are_valid_posix_sh_for_every_shell_we_have() -> Result<()> {
    use kube_harness_continuity::{PROBE_SCRIPT, WRITER_SCRIPT};
    let shells: Vec<Vec<&str>> = [vec!["sh"], vec!["dash"], vec!["busybox", "sh"]]
        .into_iter()
        .filter(|s| which(s[0]).is_some())
        .collect();
    ensure!(!shells.is_empty(), "no sh on PATH");
    for shell in &shells {
        for (name, script) in [("writer", WRITER_SCRIPT), ("probe", PROBE_SCRIPT)] {
            let out = std::process::Command::new(shell[0])
                .args(&shell[1..])
                .args(["-n", "-c", script])
                .output()?;
            ensure!(
                out.status.success(),
                "{name} script does not parse under {}: {}",
                shell.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    if which("shellcheck").is_none() {
        eprintln!(
            "shellcheck part skipped: shellcheck is not installed (apt-get install shellcheck)"
        );
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    for (name, script) in [("writer.sh", WRITER_SCRIPT), ("probe.sh", PROBE_SCRIPT)] {
        let path = dir.path().join(name);
        std::fs::write(&path, script)?;
        let out = std::process::Command::new("shellcheck")
            .args(["-s", "sh"])
            .arg(&path)
            .output()?;
        ensure!(
            out.status.success(),
            "shellcheck {name}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(())
}
