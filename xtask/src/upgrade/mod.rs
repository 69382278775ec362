//! `cargo xtask setup-upgrade-tests | verify-upgrade-tests | cleanup-upgrade-tests`:
//! prove that a CSI driver upgrade did not remount the volumes in use.
//!
//! The flow users know from `mage setupUpgradeTests`: setup deploys writer
//! pods on volumes of the driver under test and records each mount's
//! identity (saved under `<target>/upgrade-tests/<namespace>/`); the user
//! upgrades the driver (`cargo xtask csi upgrade …`); verify probes again,
//! reads the writer's log and prints one ✅/❌ line per check and a verdict,
//! exiting non-zero on any ❌; cleanup removes everything setup created.
//! What each check proves is documented in `kube_harness_continuity`.
//!
//! One module per command ([`setup`], [`verify`], [`cleanup`]); what they
//! share (kubectl in the test namespace, the probes) is here; what differs
//! between drivers is asked of [`crate::csi::UpgradeTraits`].

pub(crate) mod cleanup;
mod continuity;
mod settings;
pub(crate) mod setup;
pub(crate) mod verify;

use anyhow::{Context, Result};

use crate::csi::render;
use crate::paths::repo_root;
use crate::prereq::Tool;
use crate::process::{Cmd, Runner};
use continuity::Record;
use settings::{Scenario, Settings};

/// The label on every cluster-scoped object the tests create.
const PART_OF: &str = "app.kubernetes.io/part-of=kube-harness-upgrade-test";

/// The tools setup and verify need: kubectl, and docker for a FUSE driver,
/// whose mount server is probed on the kind node.
fn tools(s: &Settings) -> Vec<Tool> {
    if s.driver.upgrade_traits().fuse_server.is_some() {
        vec![Tool::Kubectl, Tool::Docker]
    } else {
        vec![Tool::Kubectl]
    }
}

/// The settings and the runner every step uses.
struct Ctx<'a> {
    s: &'a Settings,
    runner: &'a Runner,
}

impl Ctx<'_> {
    fn kubectl(&self, args: &[&str]) -> Cmd {
        Cmd::new("kubectl", self.s.kube_args()).args(args.iter().copied())
    }

    fn ns(&self) -> &str {
        &self.s.namespace
    }

    /// Renders a template from manifests/ into the record directory (so
    /// what was applied stays inspectable) and returns its path.
    fn render(&self, template: &str, out_name: &str, values: &[(&str, &str)]) -> Result<String> {
        let path = repo_root().join("manifests").join(template);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let out = self.s.record_dir().join("manifests").join(out_name);
        self.runner.write_file(&out, &render(&text, values)?)?;
        Ok(out.display().to_string())
    }

    fn apply(&self, file: &str) -> Result<()> {
        self.runner
            .run(&self.kubectl(&["apply", "--filename", file]))
    }

    /// `kubectl exec` of an argument vector in the writer container.
    fn exec(&self, pod: &str, argv: &[String]) -> Cmd {
        let mut cmd = self.kubectl(&[
            "exec",
            pod,
            "--namespace",
            self.ns(),
            "--container",
            "writer",
            "--",
        ]);
        cmd.args.extend(argv.iter().cloned());
        cmd
    }

    fn jsonpath(&self, kind: &str, name: &str, path: &str) -> Result<Option<String>> {
        let out = format!("--output=jsonpath={path}");
        let cmd = self.kubectl(&["get", kind, name, "--namespace", self.ns(), &out]);
        Ok(self.runner.query_ok(&cmd)?.map(|s| s.trim().to_owned()))
    }
}

/// Probes a scenario's writer pod (and, for FUSE drivers, the node serving
/// its mount). `None` in a dry run.
fn probe(ctx: &Ctx, scenario: Scenario, verify: bool) -> Result<Option<Record>> {
    let pod = scenario.object_name();
    let argv = if verify {
        continuity::verify_probe()
    } else {
        continuity::setup_probe()
    };
    let out = ctx.runner.query_ok(&ctx.exec(&pod, &argv))?;
    let node_record = match ctx.s.driver.upgrade_traits().fuse_server {
        Some(server) => node_probe(ctx, scenario, server)?,
        None => None,
    };
    let Some(out) = out else { return Ok(None) };
    if ctx.s.dry_run {
        return Ok(None);
    }
    let record = continuity::parse(&out, &format!("pod {pod}"))?;
    Ok(Some(match node_record {
        Some(node) => record.with_server_from(node),
        None => record,
    }))
}

/// On kind, a node is a container named after the node: the FUSE server
/// is found there with `docker exec`, at the volume's kubelet mount path.
fn node_probe(ctx: &Ctx, scenario: Scenario, server: &str) -> Result<Option<Record>> {
    let pod = scenario.object_name();
    let where_ = ctx.jsonpath("pod", &pod, "{.spec.nodeName} {.metadata.uid}")?;
    let volume = ctx.jsonpath("persistentvolumeclaim", &pod, "{.spec.volumeName}")?;
    let (node, host_mount) = match (where_, volume) {
        (Some(w), Some(pv)) => {
            let (node, uid) = w.split_once(' ').with_context(|| {
                format!("pod {pod} is not scheduled yet (node and UID read as {w:?})")
            })?;
            let mount = format!("/var/lib/kubelet/pods/{uid}/volumes/kubernetes.io~csi/{pv}/mount");
            (node.to_owned(), mount)
        }
        _ => (
            "NODE".to_owned(),
            "/var/lib/kubelet/pods/POD_UID/volumes/kubernetes.io~csi/PV/mount".to_owned(),
        ),
    };
    let mut cmd = Cmd::new("docker", ["exec", &node]);
    cmd.args.extend(continuity::node_probe(&host_mount, server));
    match ctx.runner.query_ok(&cmd)? {
        None => Ok(None),
        Some(out) => continuity::parse(&out, &format!("node {node}")).map(Some),
    }
}
