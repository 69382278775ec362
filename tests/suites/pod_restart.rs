//! Pod restart timeline (seed 004, issue 6): delete one pod of a 3-replica
//! StatefulSet with a PVC per pod, a preStop hook and a termination grace
//! period, under write load, and record what happened when: the deletion,
//! `Killing`, `FailedPreStopHook` (a hook that outlives the grace period),
//! the end of termination against the grace period, the volume's detach and
//! attach, the replacement's node and its Ready again. The order and the
//! durations are asserted and a Markdown report is written under
//! `target/reports/` (its path is printed).
//!
//! What is real and what is modelled:
//! - Embedded backend (the default, runs everywhere, paused time): no
//!   containers run. The StatusFaker plays the StatefulSet controller, the
//!   scheduler, the kubelet (preStop duration, grace period, `Killing`,
//!   `FailedPreStopHook`) and the CSI attach/detach path (VolumeAttachment
//!   objects, `SuccessfulAttachVolume`, the Multi-Attach error). The write
//!   load is modelled as what the API can see: a writer task updates a
//!   ConfigMap per pod every 100 ms while that pod is Ready and not
//!   terminating (a client writing through a Service), and the report shows
//!   the write gap around the restart. All timings are virtual: they check
//!   the shape, not a real cluster's speed.
//! - A real cluster (`HARNESS_CLUSTER=existing`, e.g. kind in the e2e
//!   workflow): the real controllers and kubelet run a busybox container that
//!   appends a timestamp to a file on its PVC every 100 ms; the replacement
//!   prints the last timestamp it finds and its own first one, which gives
//!   the real write gap. Timings are wall-clock. `POD_RESTART_STORAGE_CLASS`
//!   picks the storage class (default: the cluster's), `POD_RESTART_CORDON=1`
//!   cordons the old node so the pod must move (off by default: kind's
//!   volumes are node-local, so a moved pod could never mount its volume).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube_harness::disruption;
use kube_harness::env::TestEnv;
use kube_harness::prelude::{DurationExt, eq, eventually, present, skip};
use kube_harness::timeline::{Recorder, Timeline, Track, offset};
use serde_json::json;
use tokio::task::JoinHandle;

const NAME: &str = "etcd";
const VICTIM: &str = "etcd-0";
const REPLICAS: usize = 3;
const WRITE_EVERY: Duration = Duration::from_millis(100);
/// The kubelet grants a preStop hook that used up the grace period one extra
/// 2 s to finish (`minimumGracePeriodInSeconds`, kuberuntime_container.go),
/// and notices a deletion on its next sync: termination may end that much
/// after the grace period and still be "within" it.
const TERMINATION_SLACK: Duration = Duration::from_secs(2);

/// One restart study: how the pod is configured and what the test does.
#[derive(Debug, Clone)]
struct Scenario {
    /// Report file stem.
    slug: &'static str,
    title: &'static str,
    grace_seconds: i64,
    /// How long the preStop hook runs (a `sleep` in the real container).
    prestop: Duration,
    /// Cordon the old node so the replacement lands elsewhere.
    cordon: bool,
}

impl Scenario {
    fn prestop_outlives_grace(&self) -> bool {
        self.prestop > Duration::from_secs(self.grace_seconds as u64)
    }
}

/// seed 004's shape: a preStop hook longer than the grace period, and a
/// replacement that must move to another node.
fn hook_outlives_grace() -> Scenario {
    Scenario {
        slug: "pod-restart-hook-outlives-grace",
        title: "preStop outlives the grace period, pod moves to another node",
        grace_seconds: 30,
        prestop: Duration::from_secs(45),
        cordon: true,
    }
}

/// The healthy contrast: the hook finishes well inside the grace period.
fn hook_within_grace() -> Scenario {
    Scenario {
        slug: "pod-restart-hook-within-grace",
        title: "preStop finishes within the grace period, same node allowed",
        grace_seconds: 30,
        prestop: Duration::from_secs(5),
        cordon: false,
    }
}

/// The container of a real cluster: append a timestamp to the PVC every
/// 100 ms; at start, print the last one the previous container wrote and the
/// first of its own, so the test reads the real write gap from the logs.
const WRITER: &str = r#"f=/data/writes.log; touch "$f"
echo "last-before-start $(tail -n 1 "$f")"
echo "first-after-start $(date +%s.%N)"
while true; do date +%s.%N >> "$f"; sleep 0.1; done"#;

fn statefulset(sc: &Scenario) -> Result<StatefulSet> {
    let storage_class = std::env::var("POD_RESTART_STORAGE_CLASS").ok();
    let hook = format!(
        "echo \"prestop $(date +%s.%N)\" >> /data/prestop.log; sleep {}",
        sc.prestop.as_secs()
    );
    Ok(serde_json::from_value(json!({
        "metadata": {"name": NAME},
        "spec": {
            "replicas": REPLICAS,
            "serviceName": NAME,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {
                    "terminationGracePeriodSeconds": sc.grace_seconds,
                    "containers": [{
                        "name": "writer",
                        "image": "busybox:1.36",
                        "command": ["sh", "-c", WRITER],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        "readinessProbe": {
                            "exec": {"command": ["test", "-s", "/data/writes.log"]},
                            "periodSeconds": 1,
                        },
                        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", hook]}}},
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class,
                    "resources": {"requests": {"storage": "64Mi"}},
                },
            }],
        },
    }))?)
}

fn ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn node_of(p: &Pod) -> Option<String> {
    p.spec.as_ref().and_then(|s| s.node_name.clone())
}

/// The embedded write load: per pod, the tokio times of its successful writes.
struct WriteLoad {
    task: JoinHandle<()>,
    writes: Arc<Mutex<BTreeMap<String, Vec<Duration>>>>,
}

impl WriteLoad {
    async fn start(env: &TestEnv, rec: &Arc<Recorder>) -> Result<Self> {
        let cms: Api<ConfigMap> = env.api();
        for i in 0..REPLICAS {
            let cm: ConfigMap = serde_json::from_value(json!({
                "metadata": {"name": format!("{NAME}-{i}-writes")},
                "data": {"seq": "0"},
            }))?;
            cms.create(&PostParams::default(), &cm).await?;
        }
        let pods: Api<Pod> = env.api();
        let writes: Arc<Mutex<BTreeMap<String, Vec<Duration>>>> = Arc::default();
        let (out, rec) = (writes.clone(), rec.clone());
        let task = tokio::spawn(async move {
            let mut seq = 0u64;
            loop {
                tokio::time::sleep(WRITE_EVERY).await;
                let Ok(list) = pods
                    .list(&ListParams::default().labels(&format!("app={NAME}")))
                    .await
                else {
                    continue;
                };
                for p in list.items.iter().filter(|p| ready(p)) {
                    seq += 1;
                    let patch = json!({"data": {"seq": seq.to_string()}});
                    let cm = format!("{}-writes", p.name_any());
                    if cms
                        .patch(&cm, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .is_ok()
                    {
                        let mut w = out.lock().expect("writes lock");
                        w.entry(p.name_any()).or_default().push(rec.elapsed());
                    }
                }
            }
        });
        Ok(WriteLoad { task, writes })
    }

    /// Per pod: the longest pause between writes from `since` on, and the
    /// last write before / first write after that pause.
    fn gaps(&self, since: Duration) -> BTreeMap<String, Gap> {
        self.task.abort();
        let writes = self.writes.lock().expect("writes lock");
        writes
            .iter()
            .map(|(pod, at)| {
                let mut gap = Gap::default();
                let recent: Vec<Duration> = at
                    .iter()
                    .copied()
                    .filter(|t| *t + WRITE_EVERY * 5 >= since)
                    .collect();
                for pair in recent.windows(2) {
                    let d = pair[1] - pair[0];
                    if d > gap.max {
                        gap = Gap {
                            max: d,
                            last_before: Some(pair[0]),
                            first_after: Some(pair[1]),
                        };
                    }
                }
                (pod.clone(), gap)
            })
            .collect()
    }
}

#[derive(Debug, Default, Clone)]
struct Gap {
    max: Duration,
    last_before: Option<Duration>,
    first_after: Option<Duration>,
}

/// Record what happens to the PVs' VolumeAttachments as timeline notes on
/// `Volume/<pv>` (`attach requested`, `attached`, `detaching`, `detached`,
/// each with the node): the recorder tracks namespaced kinds only, and
/// VolumeAttachments are cluster-scoped. Polled every 100 ms (the faker's
/// round), which is the resolution of these entries.
fn watch_attachments(env: &TestEnv, rec: Arc<Recorder>, pvs: HashSet<String>) -> JoinHandle<()> {
    let api: Api<VolumeAttachment> = Api::all(env.client());
    tokio::spawn(async move {
        // VolumeAttachment name → (pv, node, attached, detaching)
        let mut known: Option<HashMap<String, (String, String, bool, bool)>> = None;
        loop {
            if let Ok(list) = api.list(&ListParams::default()).await {
                let now: HashMap<_, _> = list
                    .items
                    .iter()
                    .filter_map(|va| {
                        let pv = va.spec.source.persistent_volume_name.clone()?;
                        pvs.contains(&pv).then(|| {
                            let state = (
                                pv,
                                va.spec.node_name.clone(),
                                va.status.as_ref().is_some_and(|s| s.attached),
                                va.metadata.deletion_timestamp.is_some(),
                            );
                            (va.name_any(), state)
                        })
                    })
                    .collect();
                if let Some(before) = &known {
                    for (name, (pv, node, attached, detaching)) in &now {
                        let object = format!("Volume/{pv}");
                        let was = before.get(name);
                        if was.is_none() {
                            rec.note(&object, "attach requested", node);
                        }
                        if *attached && !was.is_some_and(|w| w.2) {
                            rec.note(&object, "attached", node);
                        }
                        if *detaching && !was.is_some_and(|w| w.3) {
                            rec.note(&object, "detaching", node);
                        }
                    }
                    for (name, (pv, node, _, _)) in before {
                        if !now.contains_key(name) {
                            rec.note(&format!("Volume/{pv}"), "detached", node);
                        }
                    }
                }
                known = Some(now);
            }
            tokio::time::sleep(WRITE_EVERY).await;
        }
    })
}

/// What a restart study found, for the assertions and the report.
struct Outcome {
    backend: String,
    namespace: String,
    after: Timeline,
    deleted_at: Duration,
    old_node: String,
    new_node: String,
    cordoned: bool,
    gaps: BTreeMap<String, Gap>,
    /// Real clusters: the gap in the victim's own log (last old write → first new).
    file_gap: Option<Result<Duration, String>>,
    attachments_seen: bool,
}

impl Outcome {
    fn first(&self, selector: &str) -> Option<Duration> {
        self.after.first(selector).map(|e| e.at)
    }

    /// When the old pod left the API: the deletion of the tracked pod.
    fn terminated(&self) -> Option<Duration> {
        self.after
            .entries()
            .iter()
            .find(|e| e.object == format!("Pod/{VICTIM}") && e.label() == "deleted")
            .map(|e| e.at)
    }

    /// The replacement's Ready (the first Ready=True after the deletion).
    fn ready_again(&self) -> Option<Duration> {
        self.first("Ready=True")
    }
}

async fn study(env: &TestEnv, sc: &Scenario) -> Result<Outcome> {
    let real = env.backend().is_real();
    let limit = if real {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(120)
    };
    let rec = env.shared_timeline();
    rec.track::<Pod>(
        Track::named(VICTIM)
            .without_phase()
            .field_as("node", "spec.nodeName"),
    )
    .await?;
    env.apply(statefulset(sc)?).await?;
    let pods: Api<Pod> = env.api();
    eventually(|| async {
        let list = pods
            .list(&ListParams::default().labels(&format!("app={NAME}")))
            .await?;
        anyhow::Ok(list.items.iter().filter(|p| ready(p)).count())
    })
    .describe("pods Ready")
    .within(limit)
    .every(200.ms())
    .should(eq(REPLICAS))
    .await?;
    let pvcs: Api<PersistentVolumeClaim> = env.api();
    let pvs: HashSet<String> = pvcs
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(|c| c.spec.as_ref()?.volume_name.clone())
        .collect();
    let va_watch = watch_attachments(env, rec.clone(), pvs);
    let load = if real {
        None
    } else {
        Some(WriteLoad::start(env, &rec).await?)
    };
    // Let the load run before the disruption, so the report shows its rhythm.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let old = pods.get(VICTIM).await?;
    let old_uid = old.uid().unwrap_or_default();
    let old_node = node_of(&old).context("the victim is not scheduled")?;
    let cordoned =
        sc.cordon && (!real || std::env::var("POD_RESTART_CORDON").is_ok_and(|v| v == "1"));
    if cordoned {
        disruption::cordon(&env.client(), &old_node).await?;
        rec.note(&format!("Node/{old_node}"), "cordoned", "by the test");
    }
    let deleted_at = rec.elapsed();
    rec.note(&format!("Pod/{VICTIM}"), "delete requested", "by the test");
    pods.delete(VICTIM, &DeleteParams::default()).await?;

    let outcome = eventually(|| async {
        let p = pods.get_opt(VICTIM).await?;
        anyhow::Ok(p.filter(|p| p.uid().as_deref() != Some(old_uid.as_str()) && ready(p)))
    })
    .describe("the replacement Ready")
    .within(Duration::from_secs(sc.grace_seconds as u64) + limit)
    .every(200.ms())
    .should(present())
    .await;
    // Let the writers show they resumed, and the last events arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    rec.sync().await?;
    va_watch.abort();
    if cordoned {
        disruption::uncordon(&env.client(), &old_node).await?;
    }
    let gaps = load.map(|l| l.gaps(deleted_at)).unwrap_or_default();
    let file_gap = if real {
        Some(file_gap(&pods).await)
    } else {
        None
    };
    let new = outcome?.context("`present` matched, so the replacement is there")?;
    let after = rec.timeline().since(deleted_at);
    let attachments_seen = after
        .entries()
        .iter()
        .any(|e| e.object.starts_with("Volume/"));
    let result = Outcome {
        backend: env.backend().to_string(),
        namespace: env.namespace().to_string(),
        after,
        deleted_at,
        old_node,
        new_node: node_of(&new).unwrap_or_default(),
        cordoned,
        gaps,
        file_gap,
        attachments_seen,
    };
    Ok(result)
}

/// Real clusters: the replacement's first log lines carry the last timestamp
/// the old container wrote to the PVC and its own first one.
async fn file_gap(pods: &Api<Pod>) -> Result<Duration, String> {
    let logs = pods
        .logs(
            VICTIM,
            &LogParams {
                tail_lines: None,
                limit_bytes: Some(4096),
                ..LogParams::default()
            },
        )
        .await
        .map_err(|e| format!("cannot read the logs of {VICTIM}: {e}"))?;
    let value = |key: &str| -> Result<f64, String> {
        let line = logs
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .ok_or_else(|| format!("no `{key}` line in the logs of {VICTIM}"))?;
        line.trim().parse::<f64>().map_err(|_| {
            format!(
                "`{key}` is {:?}, not a timestamp (does the image's date support %N?)",
                line.trim()
            )
        })
    };
    let (last, first) = (value("last-before-start")?, value("first-after-start")?);
    Ok(Duration::from_secs_f64((first - last).max(0.0)))
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn since_delete(o: &Outcome, at: Option<Duration>) -> String {
    match at {
        Some(at) => format!("{} | {}", offset(at), secs(at.saturating_sub(o.deleted_at))),
        None => "— | not observed".to_string(),
    }
}

fn render(sc: &Scenario, o: &Outcome) -> String {
    use std::fmt::Write as _;
    let grace = Duration::from_secs(sc.grace_seconds as u64);
    let mut md = format!("## Pod restart timeline: {}\n\n", sc.title);
    let _ = writeln!(
        md,
        "Backend `{}`, namespace `{}`; StatefulSet `{NAME}` × {REPLICAS} (one PVC each), pod `{VICTIM}` deleted. Times are {}.\n",
        o.backend,
        o.namespace,
        if o.backend == "embedded" {
            "virtual (paused tokio time; the StatusFaker plays controllers, kubelet and CSI attacher)"
        } else {
            "wall-clock"
        }
    );
    md.push_str("| setting | value |\n|---|---|\n");
    let _ = writeln!(
        md,
        "| terminationGracePeriodSeconds | {} |",
        sc.grace_seconds
    );
    let _ = writeln!(md, "| preStop hook runs for | {} |", secs(sc.prestop));
    let _ = writeln!(
        md,
        "| old node cordoned | {} |\n",
        if o.cordoned { "yes" } else { "no" }
    );

    md.push_str("### Key moments\n\n| moment | at | since deletion |\n|---|---:|---:|\n");
    let rows = [
        ("delete requested", Some(o.deleted_at)),
        ("Killing (preStop starts, then SIGTERM)", o.first("Killing")),
        ("FailedPreStopHook", o.first("FailedPreStopHook")),
        ("old pod gone (termination end)", o.terminated()),
        ("volume detaching", o.first("detaching")),
        ("volume detached", o.first("detached")),
        (
            "Multi-Attach refused (FailedAttachVolume)",
            o.first("FailedAttachVolume"),
        ),
        ("replacement created", o.first("created")),
        ("volume attached", o.first("attached")),
        ("SuccessfulAttachVolume", o.first("SuccessfulAttachVolume")),
        ("replacement Ready", o.ready_again()),
    ];
    for (what, at) in rows {
        let _ = writeln!(md, "| {what} | {} |", since_delete(o, at));
    }

    md.push_str("\n### Checks\n\n");
    let check = |ok: bool| if ok { "✅" } else { "❌" };
    let took = o.terminated().map(|t| t.saturating_sub(o.deleted_at));
    let _ = writeln!(
        md,
        "- {} termination took {} of a {} grace period (allowed slack {})",
        check(took.is_some_and(|t| t <= grace + TERMINATION_SLACK)),
        took.map(secs).unwrap_or_else(|| "?".into()),
        secs(grace),
        secs(TERMINATION_SLACK)
    );
    let hook_failed = o.first("FailedPreStopHook").is_some();
    let _ = writeln!(
        md,
        "- {} FailedPreStopHook {} (hook {} the grace period)",
        check(hook_failed == sc.prestop_outlives_grace()),
        if hook_failed {
            "reported"
        } else {
            "not reported"
        },
        if sc.prestop_outlives_grace() {
            "outlives"
        } else {
            "fits in"
        }
    );
    let _ = writeln!(
        md,
        "- node: {} → {}{}",
        o.old_node,
        o.new_node,
        if o.old_node == o.new_node {
            " (same node)"
        } else {
            " (moved)"
        }
    );
    if !o.attachments_seen {
        md.push_str("- no VolumeAttachment changed: the driver does not require attach (e.g. `attachRequired: false`), or it stayed attached\n");
    }
    if let Some(ready) = o.ready_again() {
        let _ = writeln!(
            md,
            "- back to Ready {} after the deletion",
            secs(ready.saturating_sub(o.deleted_at))
        );
    }
    if !o.gaps.is_empty() {
        md.push_str("\n### Write load (modelled: ConfigMap updates every 100 ms while the pod is Ready)\n\n| pod | writes stopped | resumed | longest gap |\n|---|---:|---:|---:|\n");
        for (pod, g) in &o.gaps {
            let show = |d: Option<Duration>| d.map(offset).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                md,
                "| {pod} | {} | {} | {} |",
                show(g.last_before),
                show(g.first_after),
                secs(g.max)
            );
        }
    }
    if let Some(gap) = &o.file_gap {
        md.push_str("\n### Write load (real: a timestamp appended to the PVC every 100 ms)\n\n");
        match gap {
            Ok(g) => {
                let _ = writeln!(
                    md,
                    "- {VICTIM}: last write of the old container → first of the new: {}",
                    secs(*g)
                );
            }
            Err(e) => {
                let _ = writeln!(md, "- {VICTIM}: write gap unknown: {e}");
            }
        }
    }
    md.push('\n');
    md.push_str(&o.after.to_markdown());
    md
}

/// `target/reports/<slug>.md` (honouring `CARGO_TARGET_DIR`); prints the path.
fn write_report(sc: &Scenario, text: &str) -> Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("reports");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join(format!("{}.md", sc.slug));
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    println!("pod restart report: {}", path.display());
    Ok(path)
}

/// The order and durations every restart must show, whatever the backend.
fn check(sc: &Scenario, o: &Outcome) -> Result<()> {
    let tl = &o.after;
    let victim = format!("Pod/{VICTIM}");
    tl.expect("deleted").on(&victim).exactly(1)?;
    tl.before("delete requested", "Killing")?;
    tl.before("Killing", "deleted")?;
    tl.before("deleted", "created")?;
    tl.before("created", "Ready=True")?;
    tl.expect("Ready=True").on(&victim).exactly(1)?;
    let grace = Duration::from_secs(sc.grace_seconds as u64);
    let took = o.terminated().context("the old pod never left")? - o.deleted_at;
    anyhow::ensure!(
        took <= grace + TERMINATION_SLACK,
        "termination of {VICTIM} took {took:?}, more than its grace period {grace:?} (+{TERMINATION_SLACK:?})"
    );
    if o.cordoned {
        anyhow::ensure!(
            o.new_node != o.old_node,
            "{VICTIM} came back on cordoned node {}",
            o.old_node
        );
    }
    Ok(())
}

/// Embedded-only: what the faker models must be in the timeline too.
fn check_modelled(sc: &Scenario, o: &Outcome) -> Result<()> {
    let tl = &o.after;
    let grace = Duration::from_secs(sc.grace_seconds as u64);
    let took = o.terminated().context("the old pod never left")? - o.deleted_at;
    if sc.prestop_outlives_grace() {
        tl.expect("FailedPreStopHook").exactly(1)?;
        tl.before("Killing", "FailedPreStopHook")?;
        tl.before("FailedPreStopHook", "deleted")?;
        anyhow::ensure!(
            took >= grace,
            "killed before its grace period ended: {took:?}"
        );
    } else {
        tl.expect("FailedPreStopHook").never()?;
        anyhow::ensure!(
            took >= sc.prestop && took < grace,
            "a {:?} hook should end termination inside the grace period, took {took:?}",
            sc.prestop
        );
    }
    // The ReadWriteOnce volume leaves the old node before the new one gets it.
    tl.before("deleted", "detaching")?;
    tl.before("detached", "attached")?;
    tl.before("attached", "Ready=True")?;
    tl.before("SuccessfulAttachVolume", "Ready=True")?;
    if o.new_node != o.old_node {
        tl.expect("FailedAttachVolume").at_least(1)?;
    }
    // The victim's writes paused for the restart; the others never did.
    let victim = o.gaps.get(VICTIM).context("no writes to the victim")?;
    anyhow::ensure!(
        victim.max >= took,
        "{VICTIM}'s writes paused {:?}, shorter than its termination {took:?}",
        victim.max
    );
    for (pod, g) in o.gaps.iter().filter(|(p, _)| *p != VICTIM) {
        anyhow::ensure!(
            g.max <= WRITE_EVERY * 3,
            "{pod} is not restarted but its writes paused {:?}",
            g.max
        );
    }
    Ok(())
}

async fn run_embedded(sc: Scenario) -> Result<()> {
    let env = TestEnv::embedded().await?;
    env.status_faker()
        .prestop_runs_for(&format!("app={NAME}"), sc.prestop)
        .start();
    let o = study(&env, &sc).await?;
    // The faker plays the kubelet that lets the namespace's pods go.
    env.finish().await?;
    let report = render(&sc, &o);
    write_report(&sc, &report)?;
    check(&sc, &o)
        .and_then(|()| check_modelled(&sc, &o))
        .map_err(|e| anyhow::anyhow!("{e:#}\n\n{report}"))
}

#[tokio::test(start_paused = true)]
async fn pod_restart_prestop_outliving_grace_fails_and_pod_moves() -> Result<()> {
    run_embedded(hook_outlives_grace()).await
}

#[tokio::test(start_paused = true)]
async fn pod_restart_prestop_within_grace_terminates_early() -> Result<()> {
    run_embedded(hook_within_grace()).await
}

/// The same study against a real cluster (kind in the e2e workflow): real
/// kubelet, real preStop `sleep`, real CSI driver, wall-clock timings. Runs
/// with `HARNESS_CLUSTER=existing`; skipped, saying so, on the embedded backend
/// (real sockets and paused time do not mix, so this test runs unpaused).
#[tokio::test]
async fn pod_restart_on_a_real_cluster() -> Result<()> {
    let settings = kube_harness::env::Settings::from_env()?;
    if settings.faker_plays_controllers() {
        skip!(
            "HARNESS_CLUSTER={}{} (needs a real cluster with its own kubelets: HARNESS_CLUSTER=existing without HARNESS_FAKER)",
            settings.backend,
            if settings.faker_plays_all {
                " HARNESS_FAKER=all"
            } else {
                ""
            }
        );
    }
    let mut failures = Vec::new();
    for sc in [hook_outlives_grace(), hook_within_grace()] {
        let env = TestEnv::new().await?;
        let o = study(&env, &sc).await?;
        env.finish().await?;
        let report = render(&sc, &o);
        write_report(&sc, &report)?;
        if let Err(e) = check(&sc, &o) {
            failures.push(format!("{}: {e:#}\n\n{report}", sc.slug));
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n\n"));
    }
    Ok(())
}
