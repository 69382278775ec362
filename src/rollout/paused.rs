//! Suite 2 (seed 003's contrast matrix): a paused deployment must be
//! distinguishable from a stuck rollout on every row an on-call reads. The
//! matrix is declared once (`super::stuck_vs_paused`), asserted here
//! for each column, and rendered into docs/stuck-vs-paused.md.

use super::{stuck_vs_paused, Rollout, NAME, V2};
use harness::prelude::*;
use rollout_operator::Faults;

/// The stuck column holds for 10 s.
pub async fn stuck_column(w: &Rollout) -> anyhow::Result<()> {
    w.wedge(V2).await?;
    consistently(|| w.shape())
        .describe("nodedeployment/seid (Stuck column)")
        .for_(10.s())
        .every(500.ms())
        .should(stuck_vs_paused().shape("Stuck"))
        .await
        .map_err(|f| w.with_timeline(f))?;
    Ok(())
}

/// The paused column holds for 10 s, then unpausing starts the held rollout.
pub async fn paused_column(w: &Rollout) -> anyhow::Result<()> {
    let nd = w.nds.get(NAME).await?;
    w.env.patch(&nd, json!({"spec": {"paused": true}})).await?;
    w.set_image(V2).await?;
    eventually(|| w.shape())
        .describe("nodedeployment/seid")
        .should(all_of![
            field("status.phase", eq("Paused")),
            field("status.observedGeneration", eq(3)),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;
    consistently(|| w.shape())
        .describe("nodedeployment/seid (Paused column)")
        .for_(10.s())
        .every(500.ms())
        .should(stuck_vs_paused().shape("Paused"))
        .await
        .map_err(|f| w.with_timeline(f))?;

    let nd = w.nds.get(NAME).await?;
    w.env.patch(&nd, json!({"spec": {"paused": false}})).await?;
    eventually(|| w.shape())
        .describe("nodedeployment/seid (unpaused)")
        .within(60.s())
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.currentImage", eq(V2)),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(1)),
            condition("Paused", "False"),
        ])
        .await
        .map_err(|f| w.with_timeline(f))?;
    w.timeline.before("Paused=True", "RolloutStarted")?;
    Ok(())
}

/// The paused column on a fresh deployment, operator broken by `faults`.
pub async fn paused_scenario(faults: Faults) -> anyhow::Result<()> {
    Rollout::run(faults, paused_column).await
}

/// The contract doc (docs/stuck-vs-paused.md): the matrix the suite asserts,
/// rendered, so the doc cannot drift from the test.
pub fn contract_doc() -> String {
    format!(
        "# Stuck vs Paused: the NodeDeployment status contract\n\n\
         Generated from `stuck_vs_paused()` in `src/rollout/mod.rs`, which\n\
         the `rollout_paused` suite asserts column by column on the embedded backend\n\
         (seed 003). A paused deployment must be told from a stuck rollout on every row.\n\
         Regenerate: `UPDATE_DOCS=1 cargo test -p suites --test suites rollout_paused_contract_doc`.\n\n\
         {}\n",
        stuck_vs_paused().to_markdown().trim_end()
    )
}
