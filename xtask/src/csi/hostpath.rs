//! The kubernetes-csi hostpath driver: plain manifests rendered from
//! `manifests/csi/hostpath/driver.yaml`, applied with kubectl. The
//! installed version is read back from the DaemonSet's
//! `app.kubernetes.io/version` label, so the cluster is the only state.

use anyhow::{Context, Result};

use super::{
    Catalog, Ctx, Dynamic, Intent, StaticVolume, UpgradeTraits, plan_change, render, rendered_path,
};
use crate::process::Cmd;

const DAEMONSET: &str = "csi-hostpathplugin";
const LABEL: &str = "app.kubernetes.io/name=csi-hostpathplugin";
/// The StorageClass `driver.yaml` creates.
const STORAGE_CLASS: &str = "csi-hostpath";

/// Node-local kernel mounts, provisioned dynamically through
/// [`STORAGE_CLASS`]; the driver only mounts volumes it created, so a
/// static volume is one it provisioned, re-bound by hand.
pub(super) const UPGRADE_TRAITS: UpgradeTraits = UpgradeTraits {
    dynamic: Dynamic::StorageClass(STORAGE_CLASS),
    static_volume: StaticVolume::Reprovisioned {
        seed: "upgrade-tests/hostpath-seed.yaml",
        volume: "upgrade-tests/static-hostpath.yaml",
    },
    fuse_server: None,
};

fn kubectl(ctx: &Ctx, args: &[&str]) -> Cmd {
    Cmd::new("kubectl", ctx.kube_args()).args(args.iter().copied())
}

/// The installed version, `Some(None)` if absent, `None` in a dry run
/// (where the answer is unknown).
fn installed(ctx: &Ctx, catalog: &Catalog) -> Result<Option<Option<String>>> {
    let cmd = kubectl(
        ctx,
        &[
            "get",
            "daemonset",
            DAEMONSET,
            "--namespace",
            &catalog.namespace,
            "--ignore-not-found",
            "--output=jsonpath={.metadata.labels.app\\.kubernetes\\.io/version}",
        ],
    );
    Ok(ctx.runner.query_ok(&cmd)?.map(|s| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_owned())
    }))
}

fn manifest(ctx: &Ctx, catalog: &Catalog, version: &str) -> Result<String> {
    let images = catalog
        .versions
        .get(version)
        .with_context(|| format!("hostpath {version} is not in the catalog"))?;
    let need = |image: &Option<String>, what: &str| {
        image.clone().with_context(|| {
            format!("manifests/csi/hostpath/versions.yaml: {version} has no {what} image")
        })
    };
    let template_path = Catalog::dir("hostpath").join("driver.yaml");
    let template = std::fs::read_to_string(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let text = render(
        &template,
        &[
            ("NAMESPACE", &catalog.namespace),
            ("VERSION", version),
            ("PLUGIN_IMAGE", &need(&images.plugin, "plugin")?),
            (
                "PROVISIONER_IMAGE",
                &need(&images.provisioner, "provisioner")?,
            ),
            ("REGISTRAR_IMAGE", &need(&images.registrar, "registrar")?),
            (
                "LIVENESS_IMAGE",
                &need(&images.livenessprobe, "livenessprobe")?,
            ),
            ("RESIZER_IMAGE", &need(&images.resizer, "resizer")?),
        ],
    )?;
    let path = rendered_path(&format!("csi-hostpath-{version}.yaml"));
    ctx.runner.write_file(&path, &text)?;
    Ok(path.display().to_string())
}

fn wait_ready(ctx: &Ctx, catalog: &Catalog) -> Result<()> {
    let timeout = ctx.timeout_arg();
    let rollout = kubectl(
        ctx,
        &[
            "rollout",
            "status",
            &format!("daemonset/{DAEMONSET}"),
            "--namespace",
            &catalog.namespace,
            &timeout,
        ],
    );
    ctx.runner
        .wait(&rollout, "the hostpath plugin rollout", ctx.timeout)?;
    let ready = kubectl(
        ctx,
        &[
            "wait",
            "--for=condition=Ready",
            "pod",
            "--selector",
            LABEL,
            "--namespace",
            &catalog.namespace,
            &timeout,
        ],
    );
    ctx.runner
        .wait(&ready, "hostpath plugin pods Ready", ctx.timeout)
}

pub(super) fn change(ctx: &Ctx, catalog: &Catalog, version: &str, intent: Intent) -> Result<()> {
    let current = installed(ctx, catalog)?;
    let current = current.as_ref().map(|c| c.as_deref());
    if plan_change("hostpath", current, version, intent)? {
        let file = manifest(ctx, catalog, version)?;
        ctx.runner
            .run(&kubectl(ctx, &["apply", "--filename", &file]))?;
    }
    wait_ready(ctx, catalog)?;
    if !ctx.runner.dry_run() {
        println!(
            "hostpath {version} is Ready (driver {}, StorageClass {STORAGE_CLASS})",
            catalog.driver
        );
    }
    Ok(())
}

pub(super) fn uninstall(ctx: &Ctx, catalog: &Catalog) -> Result<()> {
    let current = installed(ctx, catalog)?;
    let version = match current {
        Some(Some(v)) => v,
        None => catalog
            .versions
            .keys()
            .next_back()
            .cloned()
            .unwrap_or_default(),
        Some(None) => {
            println!("hostpath is not installed; nothing to uninstall");
            return Ok(());
        }
    };
    // An unknown version (installed by hand) still has the same objects:
    // delete them through the newest template.
    let version = if catalog.versions.contains_key(&version) {
        version
    } else {
        catalog
            .versions
            .keys()
            .next_back()
            .cloned()
            .unwrap_or_default()
    };
    let file = manifest(ctx, catalog, &version)?;
    let timeout = ctx.timeout_arg();
    let delete = kubectl(
        ctx,
        &[
            "delete",
            "--filename",
            &file,
            "--ignore-not-found",
            "--wait=true",
            &timeout,
        ],
    );
    ctx.runner
        .wait(&delete, "the hostpath driver to be deleted", ctx.timeout)?;
    if !ctx.runner.dry_run() {
        println!("hostpath uninstalled");
    }
    Ok(())
}
