//! Suite 2, seed 003's contrast matrix: a paused deployment must be told
//! from a stuck rollout on every row an on-call reads. The matrix is
//! declared once (`rollout::stuck_vs_paused`), asserted here column by
//! column, and rendered into docs/stuck-vs-paused.md.

use crate::rollout::{Rollout, V1, V2, stuck_vs_paused};
use anyhow::Result;
use kube_harness::prelude::*;
use rollout_operator::Faults;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/stuck-vs-paused.md");

/// The Stuck column holds for 10 s.
pub(crate) async fn stuck_column(w: &Rollout) -> Result<()> {
    w.wedge(V2).await?;
    consistently(w.shape())
        .for_(10.s())
        .every(500.ms())
        .should(stuck_vs_paused().shape("Stuck"))
        .await?;
    Ok(())
}

/// The Paused column holds for 10 s, then unpausing starts the held rollout.
pub(crate) async fn paused_column(w: &Rollout) -> Result<()> {
    w.patch_spec(json!({"paused": true})).await?;
    w.patch_spec(json!({"image": V2})).await?;
    eventually(w.shape())
        .should(all_of![
            field("status.phase", eq("Paused")),
            field("status.observedGeneration", eq(3)),
        ])
        .await?;
    consistently(w.shape())
        .for_(10.s())
        .every(500.ms())
        .should(stuck_vs_paused().shape("Paused"))
        .await?;

    w.patch_spec(json!({"paused": false})).await?;
    eventually(w.shape())
        .within(60.s())
        .should(all_of![
            field("status.phase", eq("Ready")),
            field("status.currentImage", eq(V2)),
            field("rolloutStartedEvents", eq(1)),
            field("rolloutCompleteEvents", eq(1)),
            condition("Paused", "False"),
        ])
        .await?;
    w.env.timeline().before("Paused=True", "RolloutStarted")?;
    Ok(())
}

/// The contract doc (docs/stuck-vs-paused.md): the matrix the suite asserts,
/// rendered, so the doc cannot drift from the test.
pub(crate) fn contract_doc() -> String {
    format!(
        "# Stuck vs Paused: the NodeDeployment status contract\n\n\
         Generated from `stuck_vs_paused()` in `tests/suites/rollout/mod.rs`, which\n\
         the `rollout_paused` suite asserts column by column on the embedded backend\n\
         (seed 003). A paused deployment must be told from a stuck rollout on every row.\n\
         Regenerate: `UPDATE_DOCS=1 cargo test -p kube-harness-suites --test suites rollout_paused_contract_doc`.\n\n\
         {}\n",
        stuck_vs_paused().to_markdown().trim_end()
    )
}

#[tokio::test(start_paused = true)]
async fn rollout_paused_stuck_column_holds() -> Result<()> {
    let w = Rollout::ready(Faults::default()).await?;
    stuck_column(&w).await?;
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_paused_paused_column_holds_then_unpause_rolls_out() -> Result<()> {
    let w = Rollout::ready(Faults::default()).await?;
    paused_column(&w).await?;
    w.finish().await
}

#[tokio::test(start_paused = true)]
async fn rollout_paused_catches_image_propagation_while_paused() -> Result<()> {
    let w = Rollout::ready(Faults::default().propagate_image_while_paused()).await?;
    let err = paused_column(&w)
        .await
        .expect_err("propagating the image while paused must fail the suite");
    let msg = format!("{err:#}");
    println!("{msg}");
    assert!(msg.contains("childSpecImage"), "{msg}");
    assert!(msg.contains(V1), "{msg}");
    w.finish().await
}

#[test]
fn rollout_paused_contract_doc_is_current() {
    let rendered = contract_doc();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(DOC, &rendered).expect("write docs/stuck-vs-paused.md");
    }
    let committed = std::fs::read_to_string(DOC).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/stuck-vs-paused.md is out of date with stuck_vs_paused(); regenerate it with \
         `UPDATE_DOCS=1 cargo test -p kube-harness-suites --test suites rollout_paused_contract_doc`"
    );
}
