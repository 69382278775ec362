//! The rollout story that `cargo xtask demo` tells: the very scenarios the
//! rollout suites assert (the suite files are compiled into this example as
//! modules, so the story cannot drift from the tests), run one after another
//! on the embedded API server in paused tokio time, with what a reader wants
//! to see printed instead of captured: the timeline of a stuck-then-recovered
//! rollout, the Stuck-vs-Paused contract, and the message a user gets when a
//! restarted operator goes silent.
//!
//! Run: `cargo run -p kube-harness-suites --example rollout_story` (or `cargo xtask demo`).

// The suites' `#[test]` functions are not compiled here; what only they use
// would otherwise be reported as unused.
#![allow(dead_code, unused_imports)]

#[path = "../suites/cluster.rs"]
mod cluster;
#[path = "../suites/rollout/mod.rs"]
mod rollout;
#[path = "../suites/rollout_disruption.rs"]
mod rollout_disruption;
#[path = "../suites/rollout_paused.rs"]
mod rollout_paused;
#[path = "../suites/rollout_restart.rs"]
mod rollout_restart;
#[path = "../suites/rollout_stuck.rs"]
mod rollout_stuck;

use rollout::{Rollout, stuck_vs_paused};
use rollout_operator::Faults;
use std::future::Future;
use std::time::Instant as WallClock;
use tokio::time::Instant as VirtualClock;

/// A scenario on a fresh Ready deployment, torn down after.
async fn on_fresh<T>(
    faults: Faults,
    scenario: impl AsyncFnOnce(&Rollout) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let w = Rollout::ready(faults).await?;
    let value = scenario(&w).await?;
    w.finish().await?;
    Ok(value)
}

fn main() -> anyhow::Result<()> {
    // Paused time: the 10 s holds and 60 s recoveries pass in milliseconds.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    rt.block_on(story())
}

async fn story() -> anyhow::Result<()> {
    println!("# The rollout story: NodeDeployment \"seid\", 3 × sei:v1 → sei:v2\n");
    println!(
        "Embedded API server, StatusFaker playing the StatefulSet controller and kubelet, \
         rollout-operator in-process, tokio time paused.\n"
    );
    let wall = WallClock::now();
    let virt = VirtualClock::now();

    let timeline = step(
        "1. Stuck rollout: faker paused, image changed; the stuck shape holds for 10 s, \
         then the faker resumes and the rollout completes",
        on_fresh(Faults::default(), rollout_stuck::stuck_then_recovers),
    )
    .await?;
    step(
        "2. Paused contract, Stuck column: the same wedge matches Stuck and not Paused for 10 s",
        on_fresh(Faults::default(), rollout_paused::stuck_column),
    )
    .await?;
    step(
        "3. Paused contract, Paused column: spec.paused holds the new image back for 10 s; \
         unpausing rolls it out",
        on_fresh(Faults::default(), rollout_paused::paused_column),
    )
    .await?;
    step(
        "4. Operator restarted mid-rollout: it reconciles again and the rollout completes",
        on_fresh(Faults::default(), rollout_restart::restart_mid_rollout),
    )
    .await?;
    step(
        "5. A pod deleted mid-rollout: replaced, and the rollout completes once",
        on_fresh(
            Faults::default(),
            rollout_disruption::pod_deleted_mid_rollout,
        ),
    )
    .await?;
    step(
        "6. A node drained mid-rollout: evicted, rescheduled, and the rollout completes once",
        on_fresh(
            Faults::default(),
            rollout_disruption::node_drained_mid_rollout,
        ),
    )
    .await?;

    println!("\n## Timeline of step 1 (what a human reads after a failure)\n");
    println!("{timeline}");
    println!(
        "## The Stuck-vs-Paused contract (asserted in steps 2 and 3; docs/stuck-vs-paused.md)\n"
    );
    println!("{}", stuck_vs_paused().to_markdown());

    println!("## When the operator is broken: a restarted controller that never reconciles\n");
    println!(
        "The same scenario as step 4, with the fault seen in the wild injected. The suite fails, and says why:\n"
    );
    match on_fresh(
        Faults::default().silent_after_restart(),
        rollout_restart::restart_mid_rollout,
    )
    .await
    {
        Ok(()) => anyhow::bail!(
            "the silent-controller fault went unnoticed: the liveness probe is broken"
        ),
        Err(e) => println!("```\n{e:#}\n```\n"),
    }

    println!(
        "All steps: {:.1} s of cluster time in {:.2} s of wall time.",
        virt.elapsed().as_secs_f64(),
        wall.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one scenario and prints a verdict line with its virtual and wall time.
async fn step<T>(
    title: &str,
    scenario: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let wall = WallClock::now();
    let virt = VirtualClock::now();
    let outcome = scenario.await;
    let mark = if outcome.is_ok() { "✅" } else { "❌" };
    println!(
        "{mark} {title} ({:.1} s cluster time, {} ms wall)",
        virt.elapsed().as_secs_f64(),
        wall.elapsed().as_millis()
    );
    outcome.map_err(|e| e.context(format!("demo step failed: {title}")))
}
