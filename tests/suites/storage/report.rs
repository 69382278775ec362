//! The seed's results report, kept by the suite itself: every storage
//! scenario records its outcome (status, notes, and for a failure its error
//! and the root cause the diagnostic names) under
//! `target/reports/storage/`, and the Markdown report
//! `target/reports/storage-results.md` is rendered anew from all of them
//! after each scenario. `cargo xtask ci-summary --reports target/reports`
//! puts the same tables in the GitHub job summary.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;

/// The seed's 22 scenarios: test function (its path in the `suites` binary),
/// the seed's title, the P0 requirement it covers and the note a passing
/// row carries.
const SCENARIOS: &[(&str, &str, &str)] = &[
    (
        "storage_sizing::rejects_invalid_configurations",
        "rejects invalid configurations",
        "Admission rules name each field",
    ),
    (
        "storage_sizing::provisions_pvc_at_request_size",
        "provisions PVC at request size",
        "Initial sizing correct",
    ),
    (
        "storage_sizing::grows_storage_when_usage_exceeds_target_buffer",
        "grows storage when usage exceeds target buffer",
        "Growth on usage",
    ),
    (
        "storage_sizing::respects_limit_and_does_not_grow_beyond_it",
        "respects limit and does not grow beyond it",
        "Limit enforcement",
    ),
    (
        "storage_replicas::creates_new_replicas_at_effective_size",
        "creates new replicas at effective size",
        "Replica sizing",
    ),
    (
        "storage_policy::queues_growth_when_outside_maintenance_window",
        "queues growth when outside maintenance window",
        "Maintenance window scheduling",
    ),
    (
        "storage_sizing::grows_immediately_when_critical_threshold_is_reached",
        "grows immediately when critical threshold is reached",
        "Emergency growth",
    ),
    (
        "storage_policy::respects_max_actions_per_day_budget",
        "respects max actions per day budget",
        "Rate limiting",
    ),
    (
        "storage_policy::respects_planned_emergency_action_budget",
        "respects planned/emergency action budget",
        "Budget tracking",
    ),
    (
        "storage_disruption::resumes_growth_operation_after_operator_pod_restart",
        "resumes growth operation after operator pod restart",
        "Operator restart recovery",
    ),
    (
        "storage_backup::backup_succeeds_without_deadlocking_storage_reconciliation",
        "backup succeeds without deadlocking storage reconciliation",
        "Backup/storage interaction",
    ),
    (
        "storage_replicas::creates_new_replica_at_effective_operational_size",
        "creates new replica at effective operational size",
        "Replica replacement",
    ),
    (
        "storage_sizing::handles_dynamic_sizing::case_1_no_replicas_t1",
        "handles dynamic sizing with no replicas (T1)",
        "Topology T1",
    ),
    (
        "storage_sizing::handles_dynamic_sizing::case_3_multiple_replicas_t3",
        "handles dynamic sizing with multiple replicas (T3)",
        "Topology T3",
    ),
    (
        "storage_policy::spec_mutation_re_evaluates_plan_deterministically",
        "Spec mutation: re-evaluates plan deterministically",
        "Spec change handling",
    ),
    (
        "storage_sizing::handles_dynamic_sizing::case_2_single_replica_t2",
        "handles dynamic sizing with single replica (T2)",
        "Topology T2",
    ),
    (
        "storage_disruption::resumes_growth_operation_after_primary_pod_restart",
        "resumes growth operation after primary pod restart",
        "Primary pod restart",
    ),
    (
        "storage_disruption::continues_growth_safely_after_failover",
        "continues growth safely after failover",
        "Failover",
    ),
    (
        "storage_backup::concurrent_backup_node_drain_and_in_flight_growth",
        "concurrent backup, node drain and in-flight growth (P1)",
        "Backup + drain + growth",
    ),
    (
        "storage_disruption::rolling_image_upgrade_while_dynamic_sizing_active",
        "rolling image upgrade while dynamic sizing active (P1)",
        "Growth during upgrade",
    ),
    (
        "storage_policy::repeated_oscillation_around_threshold_band",
        "repeated oscillation around threshold band (P1)",
        "Threshold hysteresis",
    ),
    (
        "storage_disruption::recovers_growth_operation_after_node_drain",
        "recovers growth operation after node drain",
        "Node drain",
    ),
];

/// The seed's "P0 Requirements Coverage" table: requirement, test.
const P0: &[(&str, &str)] = &[
    (
        "Invalid config rejection",
        "storage_sizing::rejects_invalid_configurations",
    ),
    (
        "Initial PVC sizing",
        "storage_sizing::provisions_pvc_at_request_size",
    ),
    (
        "Growth on usage",
        "storage_sizing::grows_storage_when_usage_exceeds_target_buffer",
    ),
    (
        "Limit enforcement",
        "storage_sizing::respects_limit_and_does_not_grow_beyond_it",
    ),
    (
        "Emergency growth",
        "storage_sizing::grows_immediately_when_critical_threshold_is_reached",
    ),
    (
        "Maintenance window",
        "storage_policy::queues_growth_when_outside_maintenance_window",
    ),
    (
        "Operator restart",
        "storage_disruption::resumes_growth_operation_after_operator_pod_restart",
    ),
    (
        "Primary pod restart",
        "storage_disruption::resumes_growth_operation_after_primary_pod_restart",
    ),
    (
        "Failover",
        "storage_disruption::continues_growth_safely_after_failover",
    ),
    (
        "Node drain",
        "storage_disruption::recovers_growth_operation_after_node_drain",
    ),
    (
        "Backup interaction",
        "storage_backup::backup_succeeds_without_deadlocking_storage_reconciliation",
    ),
    (
        "Replica sizing",
        "storage_replicas::creates_new_replicas_at_effective_size",
    ),
    (
        "Rate limiting",
        "storage_policy::respects_max_actions_per_day_budget",
    ),
];

/// The seed's "Topology Coverage" table: topology, test.
const TOPOLOGIES: &[(&str, &str)] = &[
    (
        "T1 (instances=1)",
        "storage_sizing::handles_dynamic_sizing::case_1_no_replicas_t1",
    ),
    (
        "T2 (instances=2)",
        "storage_sizing::handles_dynamic_sizing::case_2_single_replica_t2",
    ),
    (
        "T3 (instances>=3)",
        "storage_sizing::handles_dynamic_sizing::case_3_multiple_replicas_t3",
    ),
];

/// Where a scenario can run.
pub(crate) enum Runs {
    /// Where the faker plays the cluster and on a real one.
    Anywhere,
    /// Only where the faker plays the cluster; on a real one the scenario
    /// is skipped with this reason (printed, and in the report).
    Simulated(&'static str),
}

/// Why a scenario does not run on a real cluster: it covers hours or days
/// of the operator's clock (jumped in paused time).
pub(crate) const VIRTUAL_TIME: &str = "covers hours or days of the operator's clock in paused time; \
     a real cluster runs in real time";
/// Why a scenario does not run on a real cluster: it scripts the faker.
pub(crate) const FAKER: &str = "scripts the faker's kubelets and controllers (paused kinds, node \
     readiness, slow pulls, Jobs, a fill rate), which a real cluster does not have";
/// Why a scenario does not run on a real cluster: it needs each volume's
/// own usage, or more than one growth.
pub(crate) const SHARED_FILESYSTEM: &str = "needs each volume's own usage or more than one growth, \
     but csi-hostpath's volumes are directories of one filesystem whose size does not follow \
     its claims";

/// One scenario's recorded outcome.
#[derive(Serialize, Deserialize)]
struct Outcome {
    test: String,
    title: String,
    passed: bool,
    /// Skipped on this cluster, and why.
    #[serde(default)]
    skipped: Option<String>,
    notes: String,
    /// The failure's first line: what the diagnostic names.
    cause: Option<String>,
    /// The failure, whole (shape, timeline, logs).
    error: Option<String>,
    /// Tokio (virtual) time the scenario took; clock jumps not counted.
    cluster_time: String,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Runs one of the seed's scenarios (named by the running test) and
/// records its outcome in the report, a panic included (most checks are
/// `assert!`s); returns the outcome, or resumes the panic. On a real
/// cluster a scenario that `runs` only where the faker plays the cluster
/// is skipped, saying why.
pub(crate) async fn scenario(runs: Runs, body: impl Future<Output = Result<()>>) -> Result<()> {
    use futures::FutureExt;
    let test = std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string();
    let row = SCENARIOS.iter().find(|(t, ..)| *t == test);
    if row.is_some() {
        // A stale outcome must never stand in for this run's.
        let _ = std::fs::remove_file(outcome_path(&test));
    }
    if let Runs::Simulated(why) = runs
        && super::on_real_cluster()?
    {
        let why = format!("skipped on a real cluster: it {why}");
        kube_harness::skip::announce(&why);
        if let Some((_, title, notes)) = row {
            let outcome = Outcome {
                test: test.clone(),
                title: title.to_string(),
                passed: false,
                skipped: Some(why),
                notes: notes.to_string(),
                cause: None,
                error: None,
                cluster_time: "-".into(),
            };
            if let Err(e) = record(&outcome) {
                println!("storage report not written: {e:#}");
            }
        }
        return Ok(());
    }
    let start = tokio::time::Instant::now();
    let caught = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    let Some((_, title, notes)) = row else {
        // Not one of the seed's rows (run under another name): nothing to record.
        return caught.unwrap_or_else(|p| std::panic::resume_unwind(p));
    };
    let error = match &caught {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(p) => Some(
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into()),
        ),
    };
    let outcome = Outcome {
        test: test.clone(),
        title: title.to_string(),
        passed: error.is_none(),
        skipped: None,
        notes: notes.to_string(),
        cause: error
            .as_deref()
            .map(|e| e.lines().next().unwrap_or_default().to_string()),
        error,
        cluster_time: kube_harness::wait::fmt_duration(start.elapsed()),
    };
    if let Err(e) = record(&outcome) {
        println!("storage report not written: {e:#}");
    }
    caught.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn outcome_path(test: &str) -> PathBuf {
    target_dir()
        .join("reports")
        .join("storage")
        .join(format!("{}.json", test.replace("::", "-")))
}

/// Writes the outcome and renders the report under a file lock: scenarios
/// finish in parallel (threads, or nextest's processes), and a render that
/// read the outcomes before another's was written must not land after it.
fn record(outcome: &Outcome) -> Result<()> {
    let dir = target_dir().join("reports").join("storage");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".lock"))?;
    lock.lock()?;
    let path = outcome_path(&outcome.test);
    std::fs::write(&path, serde_json::to_vec_pretty(outcome)?)
        .with_context(|| format!("write {}", path.display()))?;
    let rendered = render();
    lock.unlock()?;
    rendered
}

/// Renders the report from every outcome recorded so far (a scenario not
/// run yet is listed as such), through a temporary file, so a reader never
/// sees half a report while scenarios finish in parallel.
fn render() -> Result<()> {
    let dir = target_dir().join("reports");
    let outcomes: Vec<Option<Outcome>> = SCENARIOS
        .iter()
        .map(|(test, ..)| {
            let path = dir
                .join("storage")
                .join(format!("{}.json", test.replace("::", "-")));
            std::fs::read(path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
        })
        .collect();
    let md = markdown(&outcomes);
    let tmp = dir.join(format!(".storage-results.{}.md", std::process::id()));
    std::fs::write(&tmp, md)?;
    std::fs::rename(&tmp, dir.join("storage-results.md"))?;
    Ok(())
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn markdown(outcomes: &[Option<Outcome>]) -> String {
    let skipped: Vec<&Outcome> = outcomes
        .iter()
        .flatten()
        .filter(|o| o.skipped.is_some())
        .collect();
    let ran: Vec<&Outcome> = outcomes
        .iter()
        .flatten()
        .filter(|o| o.skipped.is_none())
        .collect();
    let passed = ran.iter().filter(|o| o.passed).count();
    let mut md = String::new();
    let _ = writeln!(md, "# Dynamic Storage Test Results\n");
    let _ = writeln!(md, "## Results Summary");
    let _ = writeln!(md, "- **Total Dynamic Storage Tests**: {}", SCENARIOS.len());
    let _ = writeln!(md, "- **Passed**: {passed}");
    let _ = writeln!(md, "- **Failed**: {}", ran.len() - passed);
    if !skipped.is_empty() {
        let _ = writeln!(md, "- **Skipped on this cluster**: {}", skipped.len());
    }
    let _ = writeln!(
        md,
        "- **Not run**: {}\n",
        SCENARIOS.len() - ran.len() - skipped.len()
    );
    let _ = writeln!(md, "## Passing Tests");
    let _ = writeln!(md, "| Test | Status | Cluster time | Notes |");
    let _ = writeln!(md, "|------|--------|--------------|-------|");
    for o in ran.iter().filter(|o| o.passed) {
        let _ = writeln!(
            md,
            "| {} | PASSED | {} | {} |",
            o.title,
            o.cluster_time,
            cell(&o.notes)
        );
    }
    let failed: Vec<&&Outcome> = ran.iter().filter(|o| !o.passed).collect();
    if !failed.is_empty() {
        let _ = writeln!(md, "\n## Failing Tests");
        for (i, o) in failed.iter().enumerate() {
            let _ = writeln!(md, "\n### {}. {}", i + 1, o.title);
            let _ = writeln!(
                md,
                "**Status**: FAILED after {} of cluster time",
                o.cluster_time
            );
            let _ = writeln!(
                md,
                "**Root Cause**: {}",
                o.cause.as_deref().unwrap_or("unknown")
            );
            let _ = writeln!(md, "\n```\n{}\n```", o.error.as_deref().unwrap_or_default());
        }
    }
    if !skipped.is_empty() {
        let _ = writeln!(md, "\n## Skipped on this cluster");
        let _ = writeln!(md, "| Test | Why |\n|------|-----|");
        for o in &skipped {
            let why = o.skipped.as_deref().unwrap_or_default();
            let _ = writeln!(md, "| {} | {} |", o.title, cell(why));
        }
    }
    let status_of = |test: &str| {
        SCENARIOS
            .iter()
            .zip(outcomes)
            .find(|((t, ..), _)| *t == test)
            .map(|((_, title, _), o)| {
                let status = match o {
                    Some(o) if o.skipped.is_some() => "SKIP",
                    Some(o) if o.passed => "PASS",
                    Some(_) => "FAIL",
                    None => "NOT RUN",
                };
                (*title, status)
            })
            .unwrap_or(("?", "NOT RUN"))
    };
    for (heading, first, rows) in [
        ("P0 Requirements Coverage", "Requirement", P0),
        ("Topology Coverage", "Topology", TOPOLOGIES),
    ] {
        let _ = writeln!(md, "\n## {heading}");
        let _ = writeln!(md, "| {first} | Test | Status |\n|---|---|---|");
        for (name, test) in rows {
            let (title, status) = status_of(test);
            let _ = writeln!(md, "| {name} | {title} | {status} |");
        }
    }
    let missing: Vec<&str> = SCENARIOS
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| o.is_none())
        .map(|((_, title, _), _)| *title)
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(md, "\n## Not Run\n");
        for title in missing {
            let _ = writeln!(md, "- {title}");
        }
    }
    md
}

#[test]
fn every_seed_scenario_has_one_row() {
    for (_, test) in P0.iter().chain(TOPOLOGIES) {
        assert!(
            SCENARIOS.iter().any(|(t, ..)| t == test),
            "{test} is not a scenario"
        );
    }
    assert_eq!(SCENARIOS.len(), 22);
    let mut titles: Vec<&str> = SCENARIOS.iter().map(|(_, t, _)| *t).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 22);
}

#[test]
fn a_failure_gets_its_row_its_cause_and_its_section() {
    let mut outcomes: Vec<Option<Outcome>> = SCENARIOS.iter().map(|_| None).collect();
    let (test, title, notes) = SCENARIOS[2];
    outcomes[2] = Some(Outcome {
        test: test.into(),
        title: title.into(),
        passed: false,
        skipped: None,
        notes: notes.into(),
        cause: Some("growth never requested: usage of db-0/data reached 90% used".into()),
        error: Some("growth never requested: usage of db-0/data reached 90% used\n  its log says: No instances available for disk status collection".into()),
        cluster_time: "5m15s".into(),
    });
    let md = markdown(&outcomes);
    assert!(
        md.contains("- **Passed**: 0\n- **Failed**: 1\n- **Not run**: 21"),
        "{md}"
    );
    assert!(md.contains("### 1. grows storage when usage exceeds target buffer\n**Status**: FAILED after 5m15s of cluster time\n**Root Cause**: growth never requested: usage of db-0/data reached 90% used"), "{md}");
    assert!(
        md.contains("its log says: No instances available for disk status collection"),
        "{md}"
    );
    assert!(
        md.contains("| Growth on usage | grows storage when usage exceeds target buffer | FAIL |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| T2 (instances=2) | handles dynamic sizing with single replica (T2) | NOT RUN |"
        ),
        "{md}"
    );
}

#[test]
fn a_skipped_scenario_says_why_and_is_neither_passed_nor_failed() {
    let mut outcomes: Vec<Option<Outcome>> = SCENARIOS.iter().map(|_| None).collect();
    let (test, title, notes) = SCENARIOS[5];
    outcomes[5] = Some(Outcome {
        test: test.into(),
        title: title.into(),
        passed: false,
        skipped: Some(format!("skipped on a real cluster: it {VIRTUAL_TIME}")),
        notes: notes.into(),
        cause: None,
        error: None,
        cluster_time: "-".into(),
    });
    let md = markdown(&outcomes);
    assert!(
        md.contains(
            "- **Passed**: 0\n- **Failed**: 0\n- **Skipped on this cluster**: 1\n- **Not run**: 21"
        ),
        "{md}"
    );
    assert!(!md.contains("## Failing Tests"), "{md}");
    assert!(
        md.contains("| queues growth when outside maintenance window | skipped on a real cluster: it covers hours or days of the operator's clock"),
        "{md}"
    );
    assert!(
        md.contains(
            "| Maintenance window | queues growth when outside maintenance window | SKIP |"
        ),
        "{md}"
    );
}
