//! Suite 2 (seed 003's contrast matrix): a paused deployment must be
//! distinguishable from a stuck rollout on every row an on-call reads. The
//! matrix is declared once (`rollout_common::stuck_vs_paused`), asserted here
//! for each column, and rendered into docs/stuck-vs-paused.md.

use crate::rollout_common::{stuck_vs_paused, Rollout, NAME, V1, V2};
use harness::prelude::*;
use rollout_operator::Faults;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/stuck-vs-paused.md");

/// The stuck column holds for 10 s.
async fn stuck_column(w: &Rollout) -> anyhow::Result<()> {
    w.faker.pause();
    w.set_image(V2).await?;
    eventually(|| w.shape())
        .describe("nodedeployment/seid")
        .should(field("status.phase", eq("Upgrading")))
        .await
        .map_err(|f| w.with_timeline(f))?;
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
async fn paused_column(w: &Rollout) -> anyhow::Result<()> {
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

pub async fn paused_scenario(faults: Faults) -> anyhow::Result<()> {
    Rollout::run(faults, paused_column).await
}

#[tokio::test(start_paused = true)]
async fn rollout_paused_stuck_column_holds() -> anyhow::Result<()> {
    Rollout::run(Faults::default(), stuck_column).await
}

#[tokio::test(start_paused = true)]
async fn rollout_paused_paused_column_holds_then_unpause_rolls_out() -> anyhow::Result<()> {
    paused_scenario(Faults::default()).await
}

#[tokio::test(start_paused = true)]
async fn rollout_paused_catches_image_propagation_while_paused() {
    let err = paused_scenario(Faults::default().propagate_image_while_paused())
        .await
        .expect_err("propagating the image while paused must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(msg.contains("childSpecImage"), "{msg}");
    assert!(msg.contains(V1), "{msg}");
}

#[test]
fn rollout_paused_contract_doc_is_current() {
    let rendered = format!(
        "# Stuck vs Paused: the NodeDeployment status contract\n\n\
         Generated from `stuck_vs_paused()` in `tests/suites/rollout_common.rs`, which\n\
         the `rollout_paused` suite asserts column by column on the embedded backend\n\
         (seed 003). A paused deployment must be told from a stuck rollout on every row.\n\
         Regenerate: `UPDATE_DOCS=1 cargo test -p suites --test suites rollout_paused_contract_doc`.\n\n\
         {}\n",
        stuck_vs_paused().to_markdown().trim_end()
    );
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(DOC, &rendered).expect("write docs/stuck-vs-paused.md");
    }
    let committed = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/stuck-vs-paused.md is out of date with stuck_vs_paused(); regenerate it with \
         `UPDATE_DOCS=1 cargo test -p suites --test suites rollout_paused_contract_doc`"
    );
}
