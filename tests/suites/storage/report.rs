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

/// One scenario's recorded outcome.
#[derive(Serialize, Deserialize)]
struct Outcome {
    test: String,
    title: String,
    passed: bool,
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
/// records its outcome in the report; returns the outcome unchanged.
pub(crate) async fn scenario(body: impl Future<Output = Result<()>>) -> Result<()> {
    let test = std::thread::current()
        .name()
        .unwrap_or_default()
        .to_string();
    let start = tokio::time::Instant::now();
    let result = body.await;
    let Some((_, title, notes)) = SCENARIOS.iter().find(|(t, ..)| *t == test) else {
        // Not one of the seed's rows (run under another name): nothing to record.
        return result;
    };
    let error = result.as_ref().err().map(|e| format!("{e:#}"));
    let outcome = Outcome {
        test: test.clone(),
        title: title.to_string(),
        passed: result.is_ok(),
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
    result
}

fn record(outcome: &Outcome) -> Result<()> {
    let dir = target_dir().join("reports").join("storage");
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let slug = outcome.test.replace("::", "-");
    let path = dir.join(format!("{slug}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(outcome)?)
        .with_context(|| format!("write {}", path.display()))?;
    render()
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
    let ran: Vec<&Outcome> = outcomes.iter().flatten().collect();
    let passed = ran.iter().filter(|o| o.passed).count();
    let mut md = String::new();
    let _ = writeln!(md, "# Dynamic Storage Test Results\n");
    let _ = writeln!(md, "## Results Summary");
    let _ = writeln!(md, "- **Total Dynamic Storage Tests**: {}", SCENARIOS.len());
    let _ = writeln!(md, "- **Passed**: {passed}");
    let _ = writeln!(md, "- **Failed**: {}", ran.len() - passed);
    let _ = writeln!(md, "- **Not run**: {}\n", SCENARIOS.len() - ran.len());
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
    assert_eq!(SCENARIOS.len(), 22);
    let mut titles: Vec<&str> = SCENARIOS.iter().map(|(_, t, _)| *t).collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 22);
}
