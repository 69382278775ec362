//! The storage story that `cargo xtask demo` tells (seed 000): one database
//! through a day and a half of cluster time, on the embedded API server in
//! paused tokio time, with the storage suites' own world and helpers (their
//! files are compiled in as modules): usage rising, a growth queued for the
//! maintenance window, the window opening, an emergency, the daily budget,
//! then the seed's own bug and the message that names it.
//!
//! Run: `cargo run -p kube-harness-suites --example storage_story` (or `cargo xtask demo`).

// The suites' `#[test]` functions are not compiled here; what only they use
// would otherwise be reported as unused.
#![allow(dead_code, unused_imports)]

#[path = "../suites/cluster.rs"]
mod cluster;
#[path = "../suites/storage/mod.rs"]
mod storage;
#[path = "../suites/storage_disruption.rs"]
mod storage_disruption;
#[path = "../suites/storage_policy.rs"]
mod storage_policy;
#[path = "../suites/storage_sizing.rs"]
mod storage_sizing;

use kube_harness::prelude::*;
use std::future::Future;
use std::time::Instant as WallClock;
use storage::{Storage, spec, window};
use storage_operator::Faults;
use tokio::time::Instant as VirtualClock;

const HOUR: Duration = Duration::from_secs(3600);

fn main() -> anyhow::Result<()> {
    // Paused time: hours of cluster time pass in milliseconds.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    rt.block_on(story())
}

async fn story() -> anyhow::Result<()> {
    println!("# The storage story: Database \"db\", 2 × db:v1 on 5Gi, limit 20Gi\n");
    println!(
        "Embedded API server; the StatusFaker plays the StatefulSet controller, the kubelets \
         (disk usage behind the node proxy) and the external resizer; storage-operator \
         in-process; tokio time paused. Policy: keep 20% free, emergency at 95%, window \
         04:00-06:00 UTC, at most 2 growths a day. The operator's clock starts at \
         {}.\n",
        storage::START
    );
    let wall = WallClock::now();
    let virt = VirtualClock::now();
    let mut rows = Vec::new();

    let mut s = spec(2);
    s.storage.maintenance_window = Some(window());
    s.storage.max_actions_per_day = Some(2);
    let w = Storage::healthy(s, Faults::default()).await?;

    step(
        &mut rows,
        "usage rising: db-0 fills at 20 MiB/s; outside the window the growth is queued",
        async {
            w.use_gib(0, 3.5).await?;
            w.faker().fill_disk("data-db-0", 20 << 20);
            let shape = eventually(w.shape())
                .within(5.mins())
                .should(field("status.pendingAction.kind", eq("Planned")))
                .await?;
            w.use_gib(0, 4.2).await?;
            let pending = shape.status.pending_action.expect("pending");
            Ok(format!(
                "queued {} to {}: {}",
                pending.kind, pending.size, pending.reason
            ))
        },
    )
    .await?;

    step(
        &mut rows,
        "the window opens (the operator's clock jumps 2 h): the queued growth runs",
        async {
            w.jump(2 * HOUR);
            w.grown_to("6Gi", 2).await?;
            Ok("every claim 5Gi → 6Gi inside the window".into())
        },
    )
    .await?;

    step(
        &mut rows,
        "an emergency after the window closed: db-1 at 96% grows at once",
        async {
            w.jump(3 * HOUR);
            w.use_gib(1, 5.8).await?;
            w.grown_to("8Gi", 2).await?;
            Ok("every claim 6Gi → 8Gi at once, window closed".into())
        },
    )
    .await?;

    step(
        &mut rows,
        "the budget: two growths today, so a third emergency waits for tomorrow",
        async {
            w.use_gib(1, 7.7).await?;
            let shape = eventually(w.shape())
                .should(field(
                    "status.pendingAction.reason",
                    contains("the daily budget of 2 growths is spent"),
                ))
                .await?;
            w.jump(24 * HOUR);
            w.grown_to("10Gi", 2).await?;
            let budget = shape.status.budget.expect("budget");
            Ok(format!(
                "waited with {} growths on {}, grew to 10Gi the next day",
                budget.actions, budget.day
            ))
        },
    )
    .await?;

    println!("\n## Timeline (what a human reads after a failure)\n");
    println!("{}", w.env.timeline().render());
    w.finish().await?;

    println!("\n## When the operator is broken: the seed's bug\n");
    println!(
        "The growth scenario with the instances filtered out before their disk status is read \
         (seed 000's \"No instances available for disk status collection\"). The suite fails \
         after 5 minutes of cluster time, not 300 s of wall time, and says why:\n"
    );
    let broken = Storage::healthy(spec(3), Faults::default().filter_out_ready_instances()).await?;
    match storage_sizing::grows_on_usage(&broken).await {
        Ok(()) => anyhow::bail!("the disk-status fault went unnoticed: the diagnostic is broken"),
        Err(e) => {
            let text = format!("{e:#}");
            let head: Vec<&str> = text.lines().take(3).collect();
            println!("```\n{}\n```\n", head.join("\n"));
            rows.push((
                "grows storage when usage exceeds target buffer (operator broken)".to_string(),
                false,
                head[0].to_string(),
            ));
        }
    }
    broken.finish().await?;

    println!("## Results\n");
    println!("| Test | Status | Notes |\n|------|--------|-------|");
    for (title, passed, notes) in &rows {
        let status = if *passed {
            "PASSED"
        } else {
            "FAILED (as meant)"
        };
        println!("| {title} | {status} | {} |", notes.replace('|', "\\|"));
    }
    println!(
        "\nAll steps: {:.0} s of tokio time and 29 h of the operator's clock, in {:.2} s of wall time. \
         The suites' full report: target/reports/storage-results.md (after `cargo test`).",
        virt.elapsed().as_secs_f64(),
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one step, prints a verdict line with its virtual and wall time, and
/// adds its row to the results.
async fn step(
    rows: &mut Vec<(String, bool, String)>,
    title: &str,
    body: impl Future<Output = anyhow::Result<String>>,
) -> anyhow::Result<()> {
    let wall = WallClock::now();
    let virt = VirtualClock::now();
    let outcome = body.await;
    let mark = if outcome.is_ok() { "✅" } else { "❌" };
    println!(
        "{mark} {title} ({:.1} s cluster time, {} ms wall)",
        virt.elapsed().as_secs_f64(),
        wall.elapsed().as_millis()
    );
    let note = outcome.map_err(|e| e.context(format!("demo step failed: {title}")))?;
    println!("   {note}");
    rows.push((title.to_string(), true, note));
    Ok(())
}
