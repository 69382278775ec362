//! Wait behaviour in virtual time: every instant asserted here is exact,
//! because tokio's paused clock only moves when all tasks are idle.

use super::*;
use crate::matchers::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::watch;
use tokio::time::{Instant, sleep};
use tokio_stream::wrappers::WatchStream;

/// A probe reading the latest value of a watch channel, counting calls.
fn watched(
    rx: &watch::Receiver<Value>,
    calls: &Arc<AtomicU32>,
) -> impl Probe<Output = Value> + use<> {
    let rx = rx.clone();
    let calls = calls.clone();
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        let v = rx.borrow().clone();
        async move { Ok::<_, String>(v) }
    }
}

/// Sets the channel to `v` after `after` of virtual time.
fn set_later(tx: watch::Sender<Value>, after: Duration, v: Value) {
    tokio::spawn(async move {
        sleep(after).await;
        tx.send_replace(v);
        // keep the sender alive so receivers do not see the channel close
        std::future::pending::<()>().await;
    });
}

fn stuck(started: &str) -> Value {
    json!({
        "phase": "Upgrading",
        "readyReplicas": 3,
        "rollout": {"startedAt": started, "targetImage": "sei:v2"},
        "conditions": [
            {"type": "RolloutInProgress", "status": "True"},
            {"type": "PlanInProgress", "status": "True"},
        ],
    })
}

#[tokio::test(start_paused = true)]
async fn ten_second_consistently_costs_milliseconds_of_wall_time() {
    let (_tx, rx) = watch::channel(json!({"phase": "Upgrading"}));
    let calls = Arc::new(AtomicU32::new(0));
    let wall = std::time::Instant::now();
    let virt = Instant::now();
    let last = consistently(watched(&rx, &calls))
        .for_(10.s())
        .every(500.ms())
        .should(field("phase", eq("Upgrading")))
        .await
        .unwrap();
    assert_eq!(last, json!({"phase": "Upgrading"}));
    assert_eq!(
        virt.elapsed(),
        10.s(),
        "held for exactly the virtual duration"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        21,
        "attempts at 0, 0.5, .., 10 s"
    );
    // Virtual time, not a performance target: real sleeping would take 10 s.
    assert!(
        wall.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        wall.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn eventually_returns_the_first_matching_value_on_a_poll_tick() {
    let (tx, rx) = watch::channel(json!({"phase": "Pending"}));
    set_later(tx, 1200.ms(), json!({"phase": "Ready", "n": 1}));
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let v = eventually(watched(&rx, &calls))
        .every(500.ms())
        .should(field("phase", eq("Ready")))
        .await
        .unwrap();
    assert_eq!(v, json!({"phase": "Ready", "n": 1}));
    assert_eq!(
        start.elapsed(),
        1500.ms(),
        "seen at the first poll after the change"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn triggered_eventually_sees_the_change_long_before_the_next_poll() {
    let (tx, rx) = watch::channel(json!({"phase": "Pending"}));
    set_later(tx, 1200.ms(), json!({"phase": "Ready"}));
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    eventually(watched(&rx, &calls))
        .every(10.s())
        .triggered_by(WatchStream::from_changes(rx.clone()))
        .should(field("phase", eq("Ready")))
        .await
        .unwrap();
    assert_eq!(
        start.elapsed(),
        1200.ms(),
        "re-run at the change, not at the 10 s poll"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn triggered_consistently_catches_a_flip_between_polls() {
    let (tx, rx) = watch::channel(json!({"phase": "Upgrading"}));
    let tx2 = tx.clone();
    tokio::spawn(async move {
        sleep(1200.ms()).await;
        tx2.send_replace(json!({"phase": "Ready"}));
        sleep(100.ms()).await;
        tx2.send_replace(json!({"phase": "Upgrading"}));
    });
    let calls = Arc::new(AtomicU32::new(0));
    let err = consistently(watched(&rx, &calls))
        .for_(10.s())
        .every(5.s())
        .triggered_by(WatchStream::from_changes(rx.clone()))
        .should(field("phase", eq("Upgrading")))
        .await
        .unwrap_err();
    assert_eq!(
        err.outcome,
        Outcome::Broke {
            attempt: 2,
            at: 1200.ms()
        }
    );
    drop(tx);
}

#[tokio::test(start_paused = true)]
async fn a_trigger_stream_that_ends_leaves_polling_in_charge() {
    let (tx, rx) = watch::channel(json!(0));
    set_later(tx, 700.ms(), json!(1));
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    eventually(watched(&rx, &calls))
        .every(1.s())
        .triggered_by(futures::stream::iter([(), ()]))
        .should(eq(1))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), 1.s());
}

#[tokio::test(start_paused = true)]
async fn eventually_timeout_reports_every_failing_field() {
    let (_tx, rx) = watch::channel(stuck("2026-11-23T10:00:00Z"));
    let calls = Arc::new(AtomicU32::new(0));
    let err = eventually(watched(&rx, &calls))
        .within(2.s())
        .every(500.ms())
        .describe("nodedeployment/seid in ns stuck-rollout-7f3k")
        .should(crate::all_of![
            condition("RolloutInProgress", "False").reason("RolloutComplete"),
            field("rollout", absent()),
            field("readyReplicas", eq(3)),
            field("currentImage", eq("sei:v2")),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::TimedOut);
    assert_eq!(err.attempts, 5);
    assert_eq!(err.waited, 2.s());
    assert_eq!(err.mismatches.len(), 3);
    insta::assert_snapshot!(err.to_string());
}

#[tokio::test(start_paused = true)]
async fn consistently_failure_names_the_attempt_time_and_fields() {
    let (tx, rx) = watch::channel(stuck("2026-11-23T10:00:00Z"));
    let mut restamped = stuck("2026-11-23T10:00:04Z");
    restamped["conditions"] = json!([{"type": "RolloutInProgress", "status": "True"}]);
    set_later(tx, 4400.ms(), restamped);
    let calls = Arc::new(AtomicU32::new(0));
    let err = consistently(watched(&rx, &calls))
        .for_(10.s())
        .every(500.ms())
        .describe("nodedeployment/seid in ns stuck-rollout-7f3k")
        .should(crate::all_of![
            field("phase", eq("Upgrading")),
            field("rollout.startedAt", stable()),
            condition("RolloutInProgress", "True"),
            condition("PlanInProgress", "True"),
            field("readyReplicas", eq(3)),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        err.outcome,
        Outcome::Broke {
            attempt: 10,
            at: 4500.ms()
        }
    );
    insta::assert_snapshot!(err.to_string());
}

#[tokio::test(start_paused = true)]
async fn must_pass_repeatedly_needs_a_run_of_passes() {
    // Flickers: passes on odd attempts only, so a run of 2 never happens.
    let n = Arc::new(AtomicU32::new(0));
    let flicker = {
        let n = n.clone();
        move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, String>(json!({"ready": i.is_multiple_of(2)})) }
        }
    };
    let err = eventually(flicker)
        .within(3.s())
        .every(1.s())
        .must_pass_repeatedly(2)
        .describe("flickering value")
        .should(field("ready", eq(true)))
        .await
        .unwrap_err();
    assert_eq!(err.streak, Some((1, 2)));
    assert_eq!(err.attempts, 4);
    insta::assert_snapshot!(err.to_string());

    // Steady from 0.5 s on: passes at 1, 2 and 3 s.
    let (tx, rx) = watch::channel(json!(false));
    set_later(tx, 500.ms(), json!(true));
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    eventually(watched(&rx, &calls))
        .every(1.s())
        .must_pass_repeatedly(3)
        .should(eq(true))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), 3.s());
}

#[tokio::test(start_paused = true)]
async fn stop_trying_ends_the_wait_at_once_with_its_reason() {
    let n = Arc::new(AtomicU32::new(0));
    let probe = {
        let n = n.clone();
        move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move {
                if i < 2 {
                    Ok(json!({"phase": "Provisioning"}))
                } else {
                    Err(anyhow::Error::from(StopTrying::new(
                        "phase is Failed: image pull backoff",
                    )))
                }
            }
        }
    };
    let start = Instant::now();
    let err = eventually(probe)
        .within(60.s())
        .every(1.s())
        .describe("nodedeployment/seid")
        .should(field("phase", eq("Ready")))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), 2.s(), "did not wait for the 60 s timeout");
    assert_eq!(
        err.outcome,
        Outcome::StoppedTrying {
            reason: "phase is Failed: image pull backoff".into()
        }
    );
    insta::assert_snapshot!(err.to_string());
}

#[tokio::test(start_paused = true)]
async fn stop_when_ends_the_wait_on_a_terminal_value() {
    let (tx, rx) = watch::channel(json!({"phase": "Provisioning"}));
    set_later(tx, 1200.ms(), json!({"phase": "Failed"}));
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let err = eventually(watched(&rx, &calls))
        .every(500.ms())
        .stop_when(field("phase", eq("Failed")))
        .should(field("phase", eq("Ready")))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), 1500.ms());
    assert_eq!(
        err.outcome,
        Outcome::StoppedTrying {
            reason: "reached terminal state phase = \"Failed\"".into()
        }
    );
    assert_eq!(
        err.mismatches,
        vec![Mismatch::new("phase", "\"Ready\"", "\"Failed\"")]
    );
}

#[tokio::test(start_paused = true)]
async fn probe_errors_are_retried_by_eventually_and_reported() {
    let n = Arc::new(AtomicU32::new(0));
    let flaky = {
        let n = n.clone();
        move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move {
                match i {
                    0 | 1 => Err(format!("connection refused (attempt {})", i + 1)),
                    _ => Ok(json!({"phase": "Ready"})),
                }
            }
        }
    };
    let v = eventually(flaky)
        .every(100.ms())
        .should(field("phase", eq("Ready")))
        .await
        .unwrap();
    assert_eq!(v["phase"], "Ready");

    // Errors after a value: both the last value's fields and the error show.
    let n = Arc::new(AtomicU32::new(0));
    let failing = {
        let n = n.clone();
        move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move {
                match i {
                    0 => Ok(json!({"phase": "Pending"})),
                    _ => Err("nodedeployments.sei.io \"seid\" not found".to_string()),
                }
            }
        }
    };
    let err = eventually(failing)
        .within(1.s())
        .every(500.ms())
        .describe("nodedeployment/seid")
        .should(field("phase", eq("Ready")))
        .await
        .unwrap_err();
    assert_eq!(err.error_count, 2);
    insta::assert_snapshot!(err.to_string());
}

#[tokio::test(start_paused = true)]
async fn a_probe_error_breaks_consistently() {
    let n = Arc::new(AtomicU32::new(0));
    let probe = {
        let n = n.clone();
        move || {
            let i = n.fetch_add(1, Ordering::SeqCst);
            async move {
                if i == 3 {
                    Err("the server is currently unable to handle the request")
                } else {
                    Ok(json!({"phase": "Upgrading"}))
                }
            }
        }
    };
    let err = consistently(probe)
        .for_(5.s())
        .every(1.s())
        .describe("nodedeployment/seid")
        .should(field("phase", eq("Upgrading")))
        .await
        .unwrap_err();
    assert_eq!(
        err.outcome,
        Outcome::Broke {
            attempt: 4,
            at: 3.s()
        }
    );
    insta::assert_snapshot!(err.to_string());
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_counts_as_a_failed_attempt() {
    let probe = || async {
        std::future::pending::<()>().await;
        Ok::<_, String>(json!(1))
    };
    let start = Instant::now();
    let err = eventually(probe)
        .within(1.s())
        .attempt_timeout(300.ms())
        .should(eq(1))
        .await
        .unwrap_err();
    assert_eq!(err.outcome, Outcome::TimedOut);
    assert!(start.elapsed() <= 1300.ms(), "{:?}", start.elapsed());
    let e = err.last_error.unwrap();
    assert_eq!(e.message, "probe did not answer within 300ms");
}

#[tokio::test(start_paused = true)]
async fn timeout_scale_multiplies_timeouts_and_durations() {
    let (_tx, rx) = watch::channel(json!("Pending"));
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let err = eventually(watched(&rx, &calls))
        .within(2.s())
        .timeout_scale(2.5)
        .describe("phase")
        .should(eq("Ready"))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), 5.s());
    assert_eq!(err.limit, 5.s());
    assert!(
        err.to_string().starts_with(
            "eventually timed out after 5s (21 attempts, within 5s (2s × HARNESS_TIMEOUT_SCALE=2.5)) waiting on phase:"
        ),
        "{err}"
    );

    let start = Instant::now();
    consistently(watched(&rx, &calls))
        .for_(4.s())
        .timeout_scale(0.5)
        .should(eq("Pending"))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), 2.s());
}

#[tokio::test(start_paused = true)]
async fn a_bad_timeout_scale_fails_the_wait_with_the_reason() {
    let err = eventually(|| async { Ok::<_, String>(1) })
        .timeout_scale(-1.0)
        .describe("x")
        .should(eq(1))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "eventually could not start waiting on x:\n  HARNESS_TIMEOUT_SCALE=-1 is out of range (expected a number > 0 and ≤ 100)\n"
    );
}

#[tokio::test(start_paused = true)]
async fn should_not_inverts_the_matcher() {
    let (tx, rx) = watch::channel(json!({"phase": "Ready"}));
    set_later(tx, 600.ms(), json!({"phase": "Upgrading"}));
    let calls = Arc::new(AtomicU32::new(0));
    let v = eventually(watched(&rx, &calls))
        .should_not(field("phase", eq("Ready")))
        .await
        .unwrap();
    assert_eq!(v["phase"], "Upgrading");
    let err = consistently(watched(&rx, &calls))
        .for_(1.s())
        .should_not(field("phase", eq("Upgrading")))
        .await
        .unwrap_err();
    assert_eq!(err.mismatches[0].expected, "not (phase = \"Upgrading\")");
}

#[tokio::test(start_paused = true)]
async fn stable_is_reset_at_the_start_of_each_wait() {
    let m = Arc::new(field("startedAt", stable()));
    let (tx, rx) = watch::channel(json!({"startedAt": "a"}));
    let calls = Arc::new(AtomicU32::new(0));
    consistently(watched(&rx, &calls))
        .for_(1.s())
        .should(m.clone())
        .await
        .unwrap();
    tx.send_replace(json!({"startedAt": "b"}));
    consistently(watched(&rx, &calls))
        .for_(1.s())
        .should(m.clone())
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "eventually timed out after 1s (5 attempts, within 1s) waiting on phase")]
async fn await_ok_panics_with_the_report() {
    eventually(|| async { Ok::<_, String>("Pending") })
        .within(1.s())
        .describe("phase")
        .should(eq("Ready"))
        .await_ok()
        .await;
}

#[tokio::test(start_paused = true)]
async fn await_ok_returns_the_value() {
    let v = eventually(|| async { Ok::<_, String>(7) })
        .should(gt(3))
        .await_ok()
        .await;
    assert_eq!(v, 7);
}

/// Waits stay `Send`, so they can run inside spawned tasks.
#[tokio::test(start_paused = true)]
async fn waits_are_send() {
    let h = tokio::spawn(async {
        eventually(|| async { Ok::<_, String>(1) })
            .should(eq(1))
            .await_ok()
            .await
    });
    assert_eq!(h.await.unwrap(), 1);
}
