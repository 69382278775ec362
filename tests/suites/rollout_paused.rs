//! Suite 2: the Stuck-vs-Paused contract; scenario in `suites::rollout::paused`.

use rollout_operator::Faults;
use suites::rollout::paused::{contract_doc, paused_scenario, stuck_column};
use suites::rollout::{Rollout, V1};

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/stuck-vs-paused.md");

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
    let rendered = contract_doc();
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
