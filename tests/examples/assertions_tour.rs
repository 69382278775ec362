//! A tour of the assertion core on plain values: a passing `eventually`, the
//! report of a failing `consistently`, and a contrast matrix rendered as
//! Markdown. Runs on paused tokio time, so its 10 s of waiting take
//! milliseconds. `cargo xtask demo` runs it.

use kube_harness::prelude::*;
use serde::Serialize;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

/// The fields of a rollout's status an on-call reads, as a test's own snapshot.
#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct RolloutSnapshot {
    phase: &'static str,
    ready_replicas: u32,
    started_at: Option<&'static str>,
    conditions: Vec<serde_json::Value>,
}

fn stuck(started_at: &'static str) -> RolloutSnapshot {
    RolloutSnapshot {
        phase: "Upgrading",
        ready_replicas: 3,
        started_at: Some(started_at),
        conditions: vec![
            json!({"type": "RolloutInProgress", "status": "True"}),
            json!({"type": "PlanInProgress", "status": "True"}),
            json!({"type": "NodesReady", "status": "True"}),
        ],
    }
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    rt.block_on(tour())
}

async fn tour() -> anyhow::Result<()> {
    let wall = std::time::Instant::now();
    let virtual_start = tokio::time::Instant::now();
    let (tx, rx) = watch::channel(RolloutSnapshot {
        phase: "Ready",
        ready_replicas: 3,
        started_at: None,
        conditions: vec![],
    });
    let probe = {
        let rx = rx.clone();
        move || {
            let v = rx.borrow().clone();
            async move { Ok::<_, String>(v) }
        }
    };

    // 1. A passing eventually, woken by a change notification 1.2 s in.
    let writer = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(1200.ms()).await;
        writer.send_replace(stuck("2026-11-23T10:00:00Z"));
    });
    let start = tokio::time::Instant::now();
    let seen = eventually(probe.clone())
        .within(30.s())
        .every(5.s())
        .triggered_by(WatchStream::from_changes(rx.clone()))
        .describe("rollout seid")
        .should(all_of![
            field("phase", eq("Upgrading")),
            condition("RolloutInProgress", "True")
        ])
        .await?;
    println!("## 1. eventually passed\n");
    println!(
        "phase {} seen {} (virtual) after the wait began; polling every 5s alone would have taken 5s.\n",
        seen.phase,
        kube_harness::wait::fmt_duration(start.elapsed())
    );

    // 2. A consistently that breaks: the controller re-stamps startedAt at 4.4 s.
    let writer = tx.clone();
    tokio::spawn(async move {
        tokio::time::sleep(4400.ms()).await;
        let mut restamped = stuck("2026-11-23T10:00:04Z");
        restamped.conditions.remove(1);
        writer.send_replace(restamped);
    });
    let failure = consistently(probe.clone())
        .for_(10.s())
        .every(500.ms())
        .describe("rollout seid in ns stuck-rollout-7f3k")
        .should(all_of![
            field("phase", eq("Upgrading")),
            field("startedAt", stable()),
            condition("RolloutInProgress", "True"),
            condition("PlanInProgress", "True"),
            condition("NodesReady", "True"),
            field("readyReplicas", eq(3)),
        ])
        .await
        .expect_err("the tour's consistently is meant to fail");
    println!("## 2. a failing consistently reports\n\n```text\n{failure}```\n");

    // 3. The contract between a stuck and a paused rollout, as one source.
    let matrix = ContrastMatrix::new(["Stuck", "Paused"])
        .field(
            "phase",
            [
                cell(eq("Upgrading")),
                cell(any_of![eq("Paused"), eq("Ready")]),
            ],
        )
        .field("startedAt", [cell(present()), cell(absent())])
        .row(
            "RolloutInProgress condition",
            [
                cell(condition("RolloutInProgress", "True")),
                cell(any_of![
                    condition("RolloutInProgress", "False"),
                    no_condition("RolloutInProgress")
                ]),
            ],
        )
        .row(
            "Paused condition",
            [
                cell(no_condition("Paused")),
                cell(condition("Paused", "True")),
            ],
        )
        .field("readyReplicas", [cell(eq(3)), cell(eq(3))])
        .row(
            "NodesReady condition",
            [
                cell(condition("NodesReady", "True")),
                cell(condition("NodesReady", "True")),
            ],
        );
    matrix.check("Stuck", &stuck("2026-11-23T10:00:00Z"))?;
    println!("## 3. contrast matrix (checked: the stuck snapshot is Stuck and not Paused)\n");
    println!("{}", matrix.to_markdown());

    println!(
        "{} of virtual waiting took {:?} of wall time.",
        kube_harness::wait::fmt_duration(virtual_start.elapsed()),
        wall.elapsed()
    );
    Ok(())
}
