//! `cargo xtask csi install|upgrade|uninstall <driver> --version V`.
//!
//! The three actions share one shape: find out what is installed, refuse
//! the action if it makes no sense for that state (install over another
//! version, upgrade of nothing) with a message that says what to run
//! instead, change the cluster, then wait for the driver's pods to be Ready
//! with a progress line. Manifests and Helm values are pinned under
//! `manifests/csi/`.

mod catalog;
mod hostpath;
mod mountpoint;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::paths;
use crate::process::{self, Runner};

pub(crate) use catalog::Catalog;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Install a driver at a version (waits for its pods to be Ready).
    Install(VersionArgs),
    /// Move an installed driver to another version (waits for the rollout).
    Upgrade(VersionArgs),
    /// Remove a driver and what `install` created for it.
    Uninstall(Common),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driver {
    /// kubernetes-csi hostpath driver (hostpath.csi.k8s.io), node-local volumes.
    Hostpath,
    /// Mountpoint for Amazon S3 CSI driver (s3.csi.aws.com), FUSE, with an
    /// in-cluster MinIO as the S3 endpoint.
    #[value(name = "mountpoint-s3")]
    MountpointS3,
}

impl Driver {
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Driver::Hostpath => "hostpath",
            Driver::MountpointS3 => "mountpoint-s3",
        }
    }

    /// What the upgrade tests need to know about this driver; each driver
    /// module states its own.
    pub(crate) fn upgrade_traits(self) -> &'static UpgradeTraits {
        match self {
            Driver::Hostpath => &hostpath::UPGRADE_TRAITS,
            Driver::MountpointS3 => &mountpoint::UPGRADE_TRAITS,
        }
    }
}

/// What the upgrade tests (`cargo xtask setup-upgrade-tests` …) ask of a
/// driver: how to get a volume of it for each scenario and how to find
/// what serves its mounts. Only facts live here; the steps that use them
/// are in `crate::upgrade`.
pub(crate) struct UpgradeTraits {
    /// How the dynamic scenario gets its volume.
    pub dynamic: Dynamic,
    /// How the static scenario gets a pre-provisioned volume.
    pub static_volume: StaticVolume,
    /// For a FUSE driver, a glob on the name of the process serving a mount
    /// on the node (invisible from inside the pod); `None` for a kernel
    /// mount.
    pub fuse_server: Option<&'static str>,
}

/// The dynamic scenario: a claim of a StorageClass.
pub(crate) enum Dynamic {
    /// The StorageClass `csi install` creates.
    StorageClass(&'static str),
    /// The driver cannot provision volumes, for this reason.
    Unsupported(&'static str),
}

/// A static volume that is an S3 bucket. Templates are paths under
/// `manifests/`.
pub(crate) struct S3Bucket {
    /// The template of the Job that creates the bucket, and the Job's name.
    pub bucket_job: &'static str,
    pub job_name: &'static str,
    /// The S3 endpoint's Service: namespace and name.
    pub endpoint_namespace: &'static str,
    pub endpoint_service: &'static str,
    /// The PV + PVC template.
    pub volume: &'static str,
}

/// How a pre-provisioned volume of the driver is made for the static
/// scenario. Templates are paths under `manifests/`.
pub(crate) enum StaticVolume {
    /// A bucket on the in-cluster S3 endpoint, created by a Job, and a
    /// hand-written PV naming it and the endpoint's ClusterIP.
    S3Bucket(S3Bucket),
    /// The driver only mounts volumes it created: one is provisioned
    /// through a Retain class (the claim is `<claim>-seed`), its claim and
    /// PV object are deleted (the volume stays), and a hand-written PV
    /// points at it by volume handle and node affinity.
    Reprovisioned {
        /// The Retain StorageClass and seed claim template.
        seed: &'static str,
        /// The hand-written PV + PVC template.
        volume: &'static str,
    },
}

#[derive(clap::Args)]
struct Common {
    driver: Driver,
    /// kubeconfig to use (default: kubectl's own, i.e. $KUBECONFIG or
    /// ~/.kube/config). `cargo xtask cluster up` prints the one it wrote.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// How long to wait for the driver's pods, e.g. 300s or 5m.
    #[arg(long, default_value = "5m", value_parser = process::parse_duration)]
    timeout: Duration,
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args)]
struct VersionArgs {
    #[command(flatten)]
    common: Common,
    /// Driver version, one of those in manifests/csi/<driver>/versions.yaml.
    #[arg(long)]
    version: String,
}

/// What the caller wants done, after the state of the cluster is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    Install,
    Upgrade,
}

/// Options every driver implementation gets.
pub(crate) struct Ctx<'a> {
    pub runner: &'a Runner,
    pub kubeconfig: Option<String>,
    pub timeout: Duration,
}

impl Ctx<'_> {
    /// `--kubeconfig P` for kubectl and helm, if one was given.
    pub(crate) fn kube_args(&self) -> Vec<String> {
        match &self.kubeconfig {
            Some(path) => vec!["--kubeconfig".into(), path.clone()],
            None => Vec::new(),
        }
    }

    pub(crate) fn timeout_arg(&self) -> String {
        format!("--timeout={}s", self.timeout.as_secs())
    }
}

pub(crate) fn run(args: Args) -> Result<()> {
    match args.action {
        Action::Install(a) => change(a, Intent::Install),
        Action::Upgrade(a) => change(a, Intent::Upgrade),
        Action::Uninstall(c) => uninstall(c),
    }
}

fn tools(driver: Driver) -> Vec<crate::prereq::Tool> {
    use crate::prereq::Tool;
    match driver {
        Driver::Hostpath => vec![Tool::Kubectl],
        Driver::MountpointS3 => vec![Tool::Kubectl, Tool::Helm],
    }
}

fn change(args: VersionArgs, intent: Intent) -> Result<()> {
    let c = &args.common;
    crate::prereq::check(&tools(c.driver), c.dry_run)?;
    let catalog = Catalog::load(c.driver.dir())?;
    let version = catalog.resolve(c.driver.dir(), &args.version)?;
    let runner = Runner::new(c.dry_run);
    let ctx = Ctx {
        runner: &runner,
        kubeconfig: c.kubeconfig.as_ref().map(|p| p.display().to_string()),
        timeout: c.timeout,
    };
    match c.driver {
        Driver::Hostpath => hostpath::change(&ctx, &catalog, &version, intent),
        Driver::MountpointS3 => mountpoint::change(&ctx, &catalog, &version, intent),
    }
}

fn uninstall(c: Common) -> Result<()> {
    crate::prereq::check(&tools(c.driver), c.dry_run)?;
    let catalog = Catalog::load(c.driver.dir())?;
    let runner = Runner::new(c.dry_run);
    let ctx = Ctx {
        runner: &runner,
        kubeconfig: c.kubeconfig.as_ref().map(|p| p.display().to_string()),
        timeout: c.timeout,
    };
    match c.driver {
        Driver::Hostpath => hostpath::uninstall(&ctx, &catalog),
        Driver::MountpointS3 => mountpoint::uninstall(&ctx, &catalog),
    }
}

/// Decides what to do given the installed version (`None` in a dry run,
/// where it is not queried); `Ok(false)` means the driver is already where
/// it should be. Shared so both drivers refuse the same nonsense with the
/// same words.
pub(crate) fn plan_change(
    driver: &str,
    installed: Option<Option<&str>>,
    wanted: &str,
    intent: Intent,
) -> Result<bool> {
    let Some(installed) = installed else {
        println!("(dry run: the installed version is not queried; the plan shows the change)");
        return Ok(true);
    };
    match (intent, installed) {
        (_, Some(v)) if v == wanted => {
            println!("{driver} {wanted} is already installed; checking its pods are Ready");
            Ok(false)
        }
        (Intent::Install, Some(v)) => bail!(
            "{driver} {v} is already installed; to move it to {wanted} run \
             `cargo xtask csi upgrade {driver} --version {wanted}`"
        ),
        (Intent::Upgrade, None) => bail!(
            "{driver} is not installed, so there is nothing to upgrade; run \
             `cargo xtask csi install {driver} --version <old version>` first"
        ),
        (Intent::Install, None) => {
            println!("installing {driver} {wanted}");
            Ok(true)
        }
        (Intent::Upgrade, Some(v)) => {
            println!("upgrading {driver} {v} → {wanted}");
            Ok(true)
        }
    }
}

/// Substitutes `{{KEY}}` placeholders; a placeholder left over is a bug in
/// the template or the catalog, reported with its name.
pub(crate) fn render(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    if let Some(start) = out.find("{{") {
        let end = out[start..].find("}}").map_or(out.len(), |e| start + e + 2);
        bail!("template placeholder {} has no value", &out[start..end]);
    }
    Ok(out)
}

/// Where rendered manifests go (kept, so a user can see what was applied).
pub(crate) fn rendered_path(name: &str) -> PathBuf {
    paths::out_dir().join("xtask").join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_placeholders_and_names_missing_ones() {
        assert_eq!(
            render("image: {{A}} ns: {{B}}", &[("A", "x:1"), ("B", "n")]).unwrap(),
            "image: x:1 ns: n"
        );
        let err = render("a: {{A}} b: {{B}}", &[("A", "1")]).unwrap_err();
        assert_eq!(err.to_string(), "template placeholder {{B}} has no value");
    }

    /// The names a driver's [`UpgradeTraits`] give are those its
    /// manifests create, and its templates exist.
    #[test]
    fn upgrade_traits_match_the_manifests() {
        let manifests = crate::paths::repo_root().join("manifests");
        let read = |path: &str| {
            std::fs::read_to_string(manifests.join(path))
                .unwrap_or_else(|e| panic!("manifests/{path}: {e}"))
        };
        for driver in [Driver::Hostpath, Driver::MountpointS3] {
            let traits = driver.upgrade_traits();
            if let Dynamic::StorageClass(class) = traits.dynamic {
                let installed = read(&format!("csi/{}/driver.yaml", driver.dir()));
                assert!(
                    installed
                        .contains(&format!("kind: StorageClass\nmetadata:\n  name: {class}\n")),
                    "{}: driver.yaml creates no StorageClass {class}",
                    driver.dir()
                );
            }
            match &traits.static_volume {
                StaticVolume::S3Bucket(b) => {
                    let job = read(b.bucket_job);
                    assert!(
                        job.contains(&format!("kind: Job\nmetadata:\n  name: {}\n", b.job_name))
                    );
                    let endpoint = read("csi/minio/minio.yaml");
                    assert!(endpoint.contains(&format!(
                        "kind: Service\nmetadata:\n  name: {}\n  namespace: {}\n",
                        b.endpoint_service, b.endpoint_namespace
                    )));
                    read(b.volume);
                }
                StaticVolume::Reprovisioned { seed, volume } => {
                    assert!(read(seed).contains("name: {{CLAIM}}-seed"), "{seed}");
                    read(volume);
                }
            }
        }
    }

    #[test]
    fn plan_change_refuses_what_makes_no_sense() {
        assert!(plan_change("hostpath", Some(None), "v2", Intent::Install).unwrap());
        assert!(!plan_change("hostpath", Some(Some("v2")), "v2", Intent::Install).unwrap());
        assert!(plan_change("hostpath", Some(Some("v1")), "v2", Intent::Upgrade).unwrap());
        assert!(plan_change("hostpath", None, "v2", Intent::Upgrade).unwrap());
        let err = plan_change("hostpath", Some(Some("v1")), "v2", Intent::Install).unwrap_err();
        assert!(
            err.to_string()
                .contains("csi upgrade hostpath --version v2"),
            "{err}"
        );
        let err = plan_change("hostpath", Some(None), "v2", Intent::Upgrade).unwrap_err();
        assert!(err.to_string().contains("nothing to upgrade"), "{err}");
    }
}
