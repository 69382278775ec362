//! `cargo xtask setup-upgrade-tests`: deploy a writer pod on a volume of
//! the driver under test for each scenario, wait for it, and record each
//! mount's identity as the baseline verify compares with.

use anyhow::{Context, Result, bail};

use super::settings::{Scenario, Settings};
use super::{Ctx, continuity, probe, tools};
use crate::csi::{Dynamic, S3Bucket, StaticVolume, render};
use crate::paths::repo_root;
use crate::prereq;
use crate::process::{Cmd, Runner};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    settings: Settings,
}

pub(crate) fn run(args: Args) -> Result<()> {
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

/// The file name of a template, for its rendered copy.
fn file_name(template: &str) -> &str {
    template.rsplit('/').next().unwrap_or(template)
}

/// Creates the volume of a scenario and the writer pod on it.
fn deploy(ctx: &Ctx, scenario: Scenario) -> Result<()> {
    let traits = ctx.s.driver.upgrade_traits();
    let ns = ctx.ns().to_owned();
    let name = scenario.object_name();
    match scenario {
        Scenario::Static => match &traits.static_volume {
            StaticVolume::S3Bucket(bucket) => static_bucket(ctx, &name, bucket)?,
            StaticVolume::Reprovisioned { seed, volume } => {
                static_reprovisioned(ctx, &name, seed, volume)?
            }
        },
        Scenario::Dynamic => {
            let Dynamic::StorageClass(class) = traits.dynamic else {
                bail!("the driver has no StorageClass for the dynamic scenario");
            };
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

/// A bucket on the in-cluster S3 endpoint and a PV naming it.
fn static_bucket(ctx: &Ctx, name: &str, b: &S3Bucket) -> Result<()> {
    let s = ctx.s;
    let ns = ctx.ns().to_owned();
    let job = ctx.render(
        b.bucket_job,
        file_name(b.bucket_job),
        &[("NAMESPACE", &ns), ("BUCKET", &s.bucket)],
    )?;
    ctx.apply(&job)?;
    let wait = ctx.kubectl(&[
        "wait",
        "--for=condition=Complete",
        &format!("job/{}", b.job_name),
        "--namespace",
        &ns,
        &s.timeout_arg(),
    ]);
    ctx.runner
        .wait(&wait, &format!("bucket {} created", s.bucket), s.timeout)?;
    let cluster_ip = Cmd::new("kubectl", s.kube_args()).args([
        "get",
        "service",
        b.endpoint_service,
        "--namespace",
        b.endpoint_namespace,
        "--output=jsonpath={.spec.clusterIP}",
    ]);
    let endpoint = match ctx.runner.query_ok(&cluster_ip)? {
        Some(ip) if ip.trim().is_empty() => bail!(
            "the MinIO Service has no ClusterIP; is the driver installed \
             (`cargo xtask csi install {} --version V`)?",
            s.driver.dir()
        ),
        Some(ip) => ip.trim().to_owned(),
        None => "MINIO_CLUSTER_IP".to_owned(),
    };
    let pv = format!("{ns}-{name}");
    let file = ctx.render(
        b.volume,
        file_name(b.volume),
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

/// A driver that only mounts volumes it created: the pre-provisioned
/// volume is made as an admin would: provisioned once through a Retain
/// class (the `seed` template), then its claim and PV object are deleted
/// (the volume stays), and a hand-written PV (the `volume` template)
/// points at it.
fn static_reprovisioned(ctx: &Ctx, name: &str, seed_template: &str, volume: &str) -> Result<()> {
    let s = ctx.s;
    let ns = ctx.ns().to_owned();
    let seed = format!("{name}-seed");
    let file = ctx.render(
        seed_template,
        file_name(seed_template),
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
                 (read {f:?}); is it a {} volume?",
                ctx.s.driver.dir()
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
        volume,
        file_name(volume),
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
