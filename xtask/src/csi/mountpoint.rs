//! The Mountpoint for Amazon S3 CSI driver: its Helm chart at a pinned
//! version with `manifests/csi/mountpoint-s3/values.yaml`, plus an
//! in-cluster MinIO (`manifests/csi/minio/`) so tests need no AWS account.
//! The installed version is what `helm list` reports for the release.

use anyhow::{Context, Result};

use super::{Catalog, Ctx, Dynamic, Intent, S3Bucket, StaticVolume, UpgradeTraits, plan_change};
use crate::paths::repo_root;
use crate::process::Cmd;

/// The in-cluster S3 endpoint (`manifests/csi/minio/minio.yaml`).
const MINIO_NAMESPACE: &str = "s3-endpoint";
const MINIO_SERVICE: &str = "minio";

/// FUSE mounts served by `mount-s3` on the node; volumes are existing
/// buckets named by a PV, so there is no dynamic provisioning.
pub(super) const UPGRADE_TRAITS: UpgradeTraits = UpgradeTraits {
    dynamic: Dynamic::Unsupported(
        "the Mountpoint S3 CSI driver supports static provisioning only (a PV naming an \
         existing bucket)",
    ),
    static_volume: StaticVolume::S3Bucket(S3Bucket {
        bucket_job: "csi/minio/bucket-job.yaml",
        job_name: "create-bucket",
        endpoint_namespace: MINIO_NAMESPACE,
        endpoint_service: MINIO_SERVICE,
        volume: "upgrade-tests/static-s3.yaml",
    }),
    fuse_server: Some("mount-s3"),
};

fn kubectl(ctx: &Ctx, args: &[&str]) -> Cmd {
    Cmd::new("kubectl", ctx.kube_args()).args(args.iter().copied())
}

fn helm(ctx: &Ctx, args: &[&str]) -> Cmd {
    Cmd::new("helm", ctx.kube_args()).args(args.iter().copied())
}

fn manifest(name: &str) -> String {
    repo_root()
        .join("manifests/csi")
        .join(name)
        .display()
        .to_string()
}

struct Release<'a> {
    name: &'a str,
    chart: &'a str,
    repo: &'a str,
}

fn release(catalog: &Catalog) -> Result<Release<'_>> {
    let missing = |what: &str| format!("manifests/csi/mountpoint-s3/versions.yaml has no `{what}`");
    Ok(Release {
        name: catalog
            .release
            .as_deref()
            .with_context(|| missing("release"))?,
        chart: catalog.chart.as_deref().with_context(|| missing("chart"))?,
        repo: catalog.repo.as_deref().with_context(|| missing("repo"))?,
    })
}

/// The chart version of the installed release, from `helm list -o json`
/// (`"chart": "<chart>-<version>"`).
/// `None` in a dry run, where it is not queried.
fn installed(ctx: &Ctx, catalog: &Catalog, rel: &Release) -> Result<Option<Option<String>>> {
    let filter = format!("^{}$", rel.name);
    let cmd = helm(
        ctx,
        &[
            "list",
            "--namespace",
            &catalog.namespace,
            "--filter",
            &filter,
            "--output",
            "json",
        ],
    );
    match ctx.runner.query_ok(&cmd)? {
        None => Ok(None),
        Some(out) => parse_helm_list(&out, rel).map(Some),
    }
}

fn parse_helm_list(json: &str, rel: &Release) -> Result<Option<String>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        chart: String,
    }
    let entries: Vec<Entry> = serde_json::from_str(json.trim())
        .with_context(|| format!("reading `helm list` output: {json:?}"))?;
    let prefix = format!("{}-", rel.chart);
    Ok(entries
        .into_iter()
        .find(|e| e.name == rel.name)
        .map(|e| e.chart.strip_prefix(&prefix).unwrap_or(&e.chart).to_owned()))
}

fn wait_driver(ctx: &Ctx, catalog: &Catalog) -> Result<()> {
    let rollout = kubectl(
        ctx,
        &[
            "rollout",
            "status",
            "daemonset/s3-csi-node",
            "--namespace",
            &catalog.namespace,
            &ctx.timeout_arg(),
        ],
    );
    ctx.runner
        .wait(&rollout, "the s3-csi-node DaemonSet rollout", ctx.timeout)
}

pub(super) fn change(ctx: &Ctx, catalog: &Catalog, version: &str, intent: Intent) -> Result<()> {
    let rel = release(catalog)?;
    let current = installed(ctx, catalog, &rel)?;
    let current = current.as_ref().map(|c| c.as_deref());
    let act = plan_change("mountpoint-s3", current, version, intent)?;
    if intent == Intent::Install {
        // The S3 endpoint first: the driver is useless without it, and
        // re-applying it is harmless.
        ctx.runner.run(&kubectl(
            ctx,
            &["apply", "--filename", &manifest("minio/minio.yaml")],
        ))?;
        ctx.runner.run(&kubectl(
            ctx,
            &["apply", "--filename", &manifest("minio/credentials.yaml")],
        ))?;
        let minio = kubectl(
            ctx,
            &[
                "rollout",
                "status",
                "deployment/minio",
                "--namespace",
                MINIO_NAMESPACE,
                &ctx.timeout_arg(),
            ],
        );
        ctx.runner.wait(&minio, "MinIO Ready", ctx.timeout)?;
    }
    if act {
        let values = manifest("mountpoint-s3/values.yaml");
        let timeout = ctx.timeout_arg();
        let install = helm(
            ctx,
            &[
                "upgrade",
                "--install",
                rel.name,
                rel.chart,
                "--repo",
                rel.repo,
                "--version",
                version,
                "--namespace",
                &catalog.namespace,
                "--values",
                &values,
                "--wait",
                &timeout,
            ],
        );
        ctx.runner.wait(
            &install,
            &format!("helm {} {version}", rel.chart),
            ctx.timeout,
        )?;
    }
    wait_driver(ctx, catalog)?;
    if !ctx.runner.dry_run() {
        println!(
            "mountpoint-s3 {version} is Ready (driver {}, S3 endpoint: Service {MINIO_SERVICE} in namespace {MINIO_NAMESPACE})",
            catalog.driver
        );
    }
    Ok(())
}

pub(super) fn uninstall(ctx: &Ctx, catalog: &Catalog) -> Result<()> {
    let rel = release(catalog)?;
    let timeout = ctx.timeout_arg();
    let uninstall = helm(
        ctx,
        &[
            "uninstall",
            rel.name,
            "--namespace",
            &catalog.namespace,
            "--wait",
            &timeout,
        ],
    );
    match installed(ctx, catalog, &rel)? {
        Some(Some(_)) => ctx.runner.wait(&uninstall, "helm uninstall", ctx.timeout)?,
        None => ctx
            .runner
            .plan_only(&uninstall, "only if the release exists"),
        Some(None) => println!("mountpoint-s3 (release {}) is not installed", rel.name),
    }
    for file in ["minio/credentials.yaml", "minio/minio.yaml"] {
        let delete = kubectl(
            ctx,
            &[
                "delete",
                "--filename",
                &manifest(file),
                "--ignore-not-found",
                "--wait=true",
                &timeout,
            ],
        );
        ctx.runner
            .wait(&delete, &format!("{file} deleted"), ctx.timeout)?;
    }
    if !ctx.runner.dry_run() {
        println!("mountpoint-s3 and its MinIO endpoint uninstalled");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_list_gives_the_chart_version() {
        let rel = Release {
            name: "aws-mountpoint-s3-csi-driver",
            chart: "aws-mountpoint-s3-csi-driver",
            repo: "r",
        };
        let json = r#"[{"name":"aws-mountpoint-s3-csi-driver","namespace":"kube-system","revision":"1","status":"deployed","chart":"aws-mountpoint-s3-csi-driver-2.2.2","app_version":"2.2.2"}]"#;
        assert_eq!(
            parse_helm_list(json, &rel).unwrap().as_deref(),
            Some("2.2.2")
        );
        assert_eq!(parse_helm_list("[]", &rel).unwrap(), None);
        assert!(parse_helm_list("Error: nope", &rel).is_err());
    }
}
