//! `cargo xtask setup-upgrade-tests | verify-upgrade-tests | cleanup-upgrade-tests`:
//! prove that a CSI driver upgrade did not remount the volumes in use.
//!
//! The flow users know from `mage setupUpgradeTests`: setup deploys writer
//! pods on volumes of the driver under test and records each mount's
//! identity (saved under `<target>/upgrade-tests/<namespace>/`); the user
//! upgrades the driver (`cargo xtask csi upgrade …`); verify probes again,
//! reads the writer's log and prints one ✅/❌ line per check and a verdict,
//! exiting non-zero on any ❌; cleanup removes everything setup created.
//! What each check proves is documented in `harness::continuity`.

mod continuity;
mod settings;

use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::csi::{render, Driver};
use crate::prereq::{self, Tool};
use crate::process::{repo_root, Cmd, Runner};
use continuity::Record;
use settings::{Scenario, Settings};

#[derive(clap::Args)]
pub struct SetupArgs {
    #[command(flatten)]
    settings: Settings,
}

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when every check is ✅ (or ➖ not applicable); \
1 when a check is ❌ or a step failed; 2 for a bad flag or UPGRADE_TEST_* value."
)]
pub struct VerifyArgs {
    #[command(flatten)]
    settings: Settings,
    /// The longest pause between two timestamps that still counts as
    /// uninterrupted I/O, e.g. 1s or 500ms.
    #[arg(long, env = "UPGRADE_TEST_MAX_GAP", default_value = "1s", value_parser = settings::parse_max_gap)]
    max_gap: Duration,
}

#[derive(clap::Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    settings: Settings,
}

const PART_OF: &str = "app.kubernetes.io/part-of=kube-harness-upgrade-test";

/// What differs between drivers in these tests.
struct DriverTraits {
    /// StorageClass of the dynamic scenario.
    storage_class: Option<&'static str>,
    /// Glob on the name of the process serving a FUSE mount on the node.
    fuse_server: Option<&'static str>,
}

fn traits(driver: Driver) -> DriverTraits {
    match driver {
        Driver::Hostpath => DriverTraits {
            storage_class: Some("csi-hostpath"),
            fuse_server: None,
        },
        Driver::MountpointS3 => DriverTraits {
            storage_class: None,
            fuse_server: Some("mount-s3"),
        },
    }
}

fn tools(s: &Settings) -> Vec<Tool> {
    if traits(s.driver).fuse_server.is_some() {
        vec![Tool::Kubectl, Tool::Docker]
    } else {
        vec![Tool::Kubectl]
    }
}

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

pub fn setup(args: SetupArgs) -> Result<()> {
    let s = &args.settings;
    prereq::check(&tools(s), s.dry_run)?;
    let scenarios = s.scenarios()?;
    let runner = Runner::new(s.dry_run);
    let ctx = Ctx { s, runner: &runner };
    let ns = ctx.ns().to_owned();
    let ns_file = ctx.render(
        "upgrade-tests/namespace.yaml",
        "namespace.yaml",
        &[("NAMESPACE", &ns)],
    )?;
    ctx.apply(&ns_file)?;
    for &scenario in &scenarios {
        deploy(&ctx, scenario)?;
    }
    for &scenario in &scenarios {
        let pod = scenario.object_name();
        let wait = ctx.kubectl(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{pod}"),
            "--namespace",
            &ns,
            &s.timeout_arg(),
        ]);
        runner.wait(&wait, &format!("pod {pod} Ready"), s.timeout)?;
    }
    for &scenario in &scenarios {
        let Some(record) = probe(&ctx, scenario, false)? else {
            continue;
        };
        let path = s.record_dir().join(format!("{}.json", scenario.name()));
        record.save(&path)?;
        println!(
            "{} scenario: mount recorded in {}",
            scenario.name(),
            path.display()
        );
        for line in record.summary() {
            println!("    {line}");
        }
        // A baseline with holes would only turn into confusing ❌ lines
        // after the upgrade: refuse it now, while the cause is fresh.
        if record.has_problems() {
            bail!(
                "the {} scenario's baseline is incomplete (the probe problems are listed above); \
                 fix them and run setup-upgrade-tests again",
                scenario.name()
            );
        }
    }
    if !s.dry_run {
        println!(
            "setup done; now upgrade the driver, then run `cargo xtask verify-upgrade-tests` \
             (UPGRADE_TEST_NAMESPACE={ns})"
        );
    }
    Ok(())
}

/// Creates the volume of a scenario and the writer pod on it.
fn deploy(ctx: &Ctx, scenario: Scenario) -> Result<()> {
    let s = ctx.s;
    let ns = ctx.ns().to_owned();
    let name = scenario.object_name();
    match scenario {
        Scenario::Static => match s.driver {
            Driver::MountpointS3 => static_s3(ctx, &name)?,
            Driver::Hostpath => static_hostpath(ctx, &name)?,
        },
        Scenario::Dynamic => {
            let class = traits(s.driver)
                .storage_class
                .context("the driver has no StorageClass for the dynamic scenario")?;
            let file = ctx.render(
                "upgrade-tests/dynamic-pvc.yaml",
                "dynamic-pvc.yaml",
                &[
                    ("NAMESPACE", &ns),
                    ("CLAIM", &name),
                    ("STORAGE_CLASS", class),
                ],
            )?;
            ctx.apply(&file)?;
        }
    }
    let pod_file = writer_pod(ctx, scenario)?;
    ctx.apply(&pod_file)
}

/// Mountpoint S3: a bucket on the in-cluster MinIO and a PV naming it.
fn static_s3(ctx: &Ctx, name: &str) -> Result<()> {
    let s = ctx.s;
    let ns = ctx.ns().to_owned();
    let job = ctx.render(
        "csi/minio/bucket-job.yaml",
        "bucket-job.yaml",
        &[("NAMESPACE", &ns), ("BUCKET", &s.bucket)],
    )?;
    ctx.apply(&job)?;
    let wait = ctx.kubectl(&[
        "wait",
        "--for=condition=Complete",
        "job/create-bucket",
        "--namespace",
        &ns,
        &s.timeout_arg(),
    ]);
    ctx.runner
        .wait(&wait, &format!("bucket {} created", s.bucket), s.timeout)?;
    let cluster_ip = Cmd::new("kubectl", s.kube_args()).args([
        "get",
        "service",
        "minio",
        "--namespace",
        "s3-endpoint",
        "--output=jsonpath={.spec.clusterIP}",
    ]);
    let endpoint = match ctx.runner.query_ok(&cluster_ip)? {
        Some(ip) if ip.trim().is_empty() => bail!(
            "the MinIO Service has no ClusterIP; is the driver installed \
             (`cargo xtask csi install mountpoint-s3 --version V`)?"
        ),
        Some(ip) => ip.trim().to_owned(),
        None => "MINIO_CLUSTER_IP".to_owned(),
    };
    let pv = format!("{ns}-{name}");
    let file = ctx.render(
        "upgrade-tests/static-s3.yaml",
        "static-s3.yaml",
        &[
            ("NAMESPACE", &ns),
            ("PV", &pv),
            ("CLAIM", name),
            ("BUCKET", &s.bucket),
            ("ENDPOINT", &endpoint),
        ],
    )?;
    ctx.apply(&file)?;
    Ok(())
}

/// hostpath: the driver only mounts volumes it created, so the
/// pre-provisioned volume is made as an admin would: provisioned once
/// through a Retain class, then its claim and PV object are deleted (the
/// volume stays), and a hand-written PV points at it.
fn static_hostpath(ctx: &Ctx, name: &str) -> Result<()> {
    let s = ctx.s;
    let ns = ctx.ns().to_owned();
    let seed = format!("{name}-seed");
    let file = ctx.render(
        "upgrade-tests/hostpath-seed.yaml",
        "hostpath-seed.yaml",
        &[("NAMESPACE", &ns), ("CLAIM", name)],
    )?;
    ctx.apply(&file)?;
    let bound = ctx.kubectl(&[
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        &format!("persistentvolumeclaim/{seed}"),
        "--namespace",
        &ns,
        &s.timeout_arg(),
    ]);
    ctx.runner
        .wait(&bound, &format!("claim {seed} Bound"), s.timeout)?;
    let seed_pv = ctx
        .jsonpath("persistentvolumeclaim", &seed, "{.spec.volumeName}")?
        .unwrap_or_else(|| "SEED_PV".to_owned());
    let facts = ctx.jsonpath(
        "persistentvolume",
        &seed_pv,
        "{.spec.csi.volumeHandle} \
         {.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].key} \
         {.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}",
    )?;
    let (handle, key, value) = match facts {
        None => ("HANDLE".into(), "TOPOLOGY_KEY".into(), "NODE".into()),
        Some(f) => match f.split_whitespace().collect::<Vec<_>>()[..] {
            [h, k, v] => (h.to_owned(), k.to_owned(), v.to_owned()),
            _ => bail!(
                "PV {seed_pv} made for claim {seed} has no CSI volume handle and node affinity \
                 (read {f:?}); is it a hostpath volume?"
            ),
        },
    };
    let timeout = s.timeout_arg();
    for (kind, object) in [
        ("persistentvolumeclaim", &seed),
        ("persistentvolume", &seed_pv),
    ] {
        let delete = ctx.kubectl(&[
            "delete",
            kind,
            object,
            "--namespace",
            &ns,
            "--ignore-not-found",
            "--wait=true",
            &timeout,
        ]);
        ctx.runner.wait(
            &delete,
            &format!("{kind} {object} deleted (volume kept)"),
            s.timeout,
        )?;
    }
    let file = ctx.render(
        "upgrade-tests/static-hostpath.yaml",
        "static-hostpath.yaml",
        &[
            ("NAMESPACE", &ns),
            ("PV", &format!("{ns}-{name}")),
            ("CLAIM", name),
            ("HANDLE", &handle),
            ("TOPOLOGY_KEY", &key),
            ("TOPOLOGY_VALUE", &value),
        ],
    )?;
    ctx.apply(&file)
}

/// The writer pod: the template with the continuity writer as its command.
fn writer_pod(ctx: &Ctx, scenario: Scenario) -> Result<String> {
    let name = scenario.object_name();
    let path = repo_root().join("manifests/upgrade-tests/writer-pod.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let text = render(
        &text,
        &[
            ("NAME", &name),
            ("NAMESPACE", ctx.ns()),
            ("SCENARIO", scenario.name()),
            ("CLAIM", &name),
        ],
    )?;
    let mut pod: serde_yaml::Value =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let container = pod
        .get_mut("spec")
        .and_then(|s| s.get_mut("containers"))
        .and_then(|c| c.get_mut(0))
        .context("writer-pod.yaml has no spec.containers[0]")?;
    container["command"] = serde_yaml::to_value(continuity::writer_command())?;
    let out = ctx
        .s
        .record_dir()
        .join("manifests")
        .join(format!("{name}-pod.yaml"));
    ctx.runner.write_file(&out, &serde_yaml::to_string(&pod)?)?;
    Ok(out.display().to_string())
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
    let node_record = match traits(ctx.s.driver).fuse_server {
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

pub fn verify(args: VerifyArgs) -> Result<()> {
    let s = &args.settings;
    prereq::check(&tools(s), s.dry_run)?;
    let scenarios = s.scenarios()?;
    let mut befores = Vec::new();
    for &scenario in &scenarios {
        let path = s.record_dir().join(format!("{}.json", scenario.name()));
        if s.dry_run {
            println!(
                "(dry run: would compare with the setup record {})",
                path.display()
            );
            befores.push(None);
            continue;
        }
        if !path.exists() {
            bail!(
                "no setup record for the {} scenario at {}: run `cargo xtask setup-upgrade-tests` \
                 first, with the same UPGRADE_TEST_NAMESPACE ({}) and UPGRADE_TEST_TYPE",
                scenario.name(),
                path.display(),
                s.namespace
            );
        }
        befores.push(Some(Record::load(&path)?));
    }
    let runner = Runner::new(s.dry_run);
    let ctx = Ctx { s, runner: &runner };
    let mut failed = Vec::new();
    for (&scenario, before) in scenarios.iter().zip(befores) {
        let pod = scenario.object_name();
        let after = probe(&ctx, scenario, true)?;
        let cat = ctx.exec(&pod, &["cat".to_owned(), continuity::LOG_FILE.to_owned()]);
        let log = runner.query_ok(&cat)?;
        let (Some(before), Some(after), Some(log)) = (before, after, log) else {
            continue;
        };
        let verdict = continuity::analyze(&before, &after, &log, args.max_gap);
        println!("\n{} scenario ({}):", scenario.name(), s.driver.dir());
        println!("{}", verdict.text);
        let report = s
            .record_dir()
            .join(format!("{}.verify.txt", scenario.name()));
        std::fs::write(&report, format!("{}\n", verdict.text))
            .with_context(|| format!("writing {}", report.display()))?;
        after.save(
            &s.record_dir()
                .join(format!("{}.after.json", scenario.name())),
        )?;
        if !verdict.passed {
            failed.push(scenario.name());
        }
    }
    if !failed.is_empty() {
        bail!(
            "mount continuity NOT verified for the {} scenario(s): see the ❌ lines above",
            failed.join(", ")
        );
    }
    Ok(())
}

pub fn cleanup(args: CleanupArgs) -> Result<()> {
    let s = &args.settings;
    prereq::check(&[Tool::Kubectl], s.dry_run)?;
    let runner = Runner::new(s.dry_run);
    let ctx = Ctx { s, runner: &runner };
    let timeout = s.timeout_arg();
    let ns = ctx.kubectl(&[
        "delete",
        "namespace",
        &s.namespace,
        "--ignore-not-found",
        "--wait=true",
        &timeout,
    ]);
    runner.wait(
        &ns,
        &format!("namespace {} deleted", s.namespace),
        s.timeout,
    )?;
    let selector = format!(
        "{PART_OF},kube-harness/upgrade-test-namespace={}",
        s.namespace
    );
    let pvs = ctx.kubectl(&[
        "delete",
        "persistentvolume,storageclass",
        "--selector",
        &selector,
        "--ignore-not-found",
        "--wait=true",
        &timeout,
    ]);
    runner.wait(
        &pvs,
        "the static PersistentVolumes and StorageClass deleted",
        s.timeout,
    )?;
    let dir = s.record_dir();
    if s.dry_run {
        println!("(dry run: would remove {})", dir.display());
    } else if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        println!("removed {}", dir.display());
    }
    if !s.dry_run {
        println!("upgrade tests in namespace {} cleaned up", s.namespace);
    }
    Ok(())
}
