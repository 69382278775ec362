//! The thin adapter between the cluster plumbing here and
//! `kube_harness_continuity` (the writer/probe scripts, the record and the
//! analysis). Everything xtask knows about those lives in this file, so a
//! change of that API is a change of this file only.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use kube_harness_continuity::{self as hc, AnalysisOptions, MountRecord, ProbeRequest};

/// Where the writer keeps its log: on the volume under test.
pub(super) const MOUNT: &str = "/data";
pub(super) const LOG_FILE: &str = "/data/continuity.log";
/// The writer's control directory: in the container's own filesystem, so it
/// keeps working whatever happens to the volume.
pub(super) const CONTROL_DIR: &str = "/tmp/continuity";

/// The container command of a writer pod.
pub(super) fn writer_command() -> Vec<String> {
    hc::writer_command(LOG_FILE, CONTROL_DIR)
}

/// The probe run inside the pod at setup: identities only.
pub(super) fn setup_probe() -> Vec<String> {
    ProbeRequest::for_writer(MOUNT, LOG_FILE, CONTROL_DIR).command()
}

/// The probe run inside the pod at verify: also a write through the held
/// descriptor (marker) and a fresh read/write.
pub(super) fn verify_probe() -> Vec<String> {
    ProbeRequest::for_writer(MOUNT, LOG_FILE, CONTROL_DIR)
        .for_verify()
        .command()
}

/// The probe run on the kind node for FUSE drivers, whose mount-serving
/// process is invisible from inside the pod: `host_mount` is the volume's
/// mount point on the node, `server` a glob on the server's process name.
pub(super) fn node_probe(host_mount: &str, server: &str) -> Vec<String> {
    ProbeRequest::new(host_mount).server_name(server).command()
}

pub(super) struct Record(pub MountRecord);

pub(super) fn parse(output: &str, what: &str) -> Result<Record> {
    MountRecord::parse(output).map(Record).with_context(|| {
        format!("the continuity probe in {what} printed something unreadable:\n{output}")
    })
}

impl Record {
    /// Takes the mount-serving process from the node probe: the pod's own
    /// record knows the mount as the writer sees it, the node's knows who
    /// serves it.
    pub(super) fn with_server_from(mut self, node: Record) -> Self {
        self.0.server = node.0.server;
        self.0.problems.extend(
            node.0
                .problems
                .into_iter()
                .filter(|p| p.subject == "server"),
        );
        self
    }

    pub(super) fn save(&self, path: &Path) -> Result<()> {
        self.0.save_json(path).map_err(anyhow::Error::from)
    }

    pub(super) fn load(path: &Path) -> Result<Self> {
        MountRecord::load_json(path)
            .map(Record)
            .map_err(anyhow::Error::from)
    }

    /// Whether the probe could not read some fact.
    pub(super) fn has_problems(&self) -> bool {
        !self.0.problems.is_empty()
    }

    /// A few lines for the terminal; the full record is in the JSON file.
    pub(super) fn summary(&self) -> Vec<String> {
        let r = &self.0;
        let mut out = Vec::new();
        if let Some(w) = &r.writer {
            out.push(format!(
                "writer PID {} (start time {})",
                w.pid, w.start_time
            ));
        }
        if let Some(m) = &r.mount {
            out.push(format!(
                "mount ID {} ({} {} on {})",
                m.mount_id, m.fs_type, m.source, m.mount_point
            ));
        }
        if let Some(id) = r.mount_root {
            out.push(format!("mount root inode {}:{}", id.dev, id.ino));
        }
        if let Some(l) = r.log_file {
            out.push(format!(
                "log file inode {}:{} ({} bytes)",
                l.id.dev, l.id.ino, l.size
            ));
        }
        if let Some(s) = &r.server {
            out.push(format!(
                "mount served by PID {} ({}, start time {})",
                s.process.pid, s.process.comm, s.process.start_time
            ));
        }
        for p in &r.problems {
            out.push(format!("probe problem ({}): {}", p.subject, p.message));
        }
        out
    }
}

/// The verdict of one scenario.
pub(super) struct Verdict {
    pub text: String,
    pub passed: bool,
}

pub(super) fn analyze(before: &Record, after: &Record, log: &str, max_gap: Duration) -> Verdict {
    let options = AnalysisOptions { max_gap };
    let report = hc::analyze(&before.0, &after.0, log, &options);
    Verdict {
        text: report.to_string(),
        passed: report.passed,
    }
}
