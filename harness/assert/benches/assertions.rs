//! Benchmark of the assertion core, in real time (unlike the unit tests):
//! - the cost of one attempt: probe, serialize, match a 7-field `all_of`;
//! - how long after a change a triggered `eventually` notices it, versus
//!   one polling every 500 ms.
//!
//! Prints a Markdown table on stdout (progress on stderr);
//! `cargo xtask bench assertions` runs it in release mode and keeps the table.

use kube_harness_assert::prelude::*;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;
use tokio_stream::wrappers::WatchStream;

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Status {
    phase: &'static str,
    ready_replicas: u32,
    current_image: &'static str,
    rollout: Option<Rollout>,
    conditions: Vec<Condition>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Rollout {
    started_at: &'static str,
    target_image: &'static str,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Condition {
    r#type: &'static str,
    status: &'static str,
    reason: &'static str,
    last_transition_time: &'static str,
}

fn status() -> Status {
    let c = |t, s| Condition {
        r#type: t,
        status: s,
        reason: "Reconciled",
        last_transition_time: "2026-11-23T10:00:00Z",
    };
    Status {
        phase: "Upgrading",
        ready_replicas: 3,
        current_image: "sei:v1",
        rollout: Some(Rollout {
            started_at: "2026-11-23T10:00:00Z",
            target_image: "sei:v2",
        }),
        conditions: vec![
            c("RolloutInProgress", "True"),
            c("PlanInProgress", "True"),
            c("NodesReady", "True"),
            c("Ready", "True"),
        ],
    }
}

fn stuck_shape() -> impl Matcher {
    all_of![
        field("phase", eq("Upgrading")),
        field("rollout.startedAt", eq("2026-11-23T10:00:00Z")),
        field("rollout", present()),
        condition("RolloutInProgress", "True"),
        condition("PlanInProgress", "True"),
        condition("NodesReady", "True"),
        field("readyReplicas", eq(3)),
    ]
}

struct Row {
    what: String,
    samples: usize,
    mean: Duration,
    p50: Duration,
    max: Duration,
}

impl Row {
    fn from(what: &str, mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let n = samples.len().max(1);
        Row {
            what: what.to_string(),
            samples: samples.len(),
            mean: samples.iter().sum::<Duration>() / n as u32,
            p50: samples.get(samples.len() / 2).copied().unwrap_or_default(),
            max: samples.last().copied().unwrap_or_default(),
        }
    }
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.2} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

/// Per-operation times of `batches` batches of `per_batch` calls.
async fn per_op<F, Fut>(batches: usize, per_batch: u32, mut op: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut out = Vec::with_capacity(batches);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per_batch {
            op().await;
        }
        out.push(t.elapsed() / per_batch);
    }
    out
}

async fn overhead() -> Vec<Row> {
    eprintln!("measuring the cost of one attempt…");
    let m = stuck_shape();
    let json = serde_json::to_value(status()).unwrap();
    let matcher_only = per_op(20, 2_000, || {
        assert!(m.mismatches(Some(&json), "").is_empty());
        std::future::ready(())
    })
    .await;
    let s = status();
    let attempt = per_op(20, 2_000, || {
        let s = s.clone();
        async {
            let probe = move || {
                let s = s.clone();
                async move { Ok::<_, String>(s) }
            };
            eventually(probe).should(stuck_shape()).await.unwrap();
        }
    })
    .await;
    vec![
        Row::from(
            "matcher only: 7-field `all_of` on a serialized status",
            matcher_only,
        ),
        Row::from(
            "one attempt: probe + serialize + build and match the `all_of`",
            attempt,
        ),
    ]
}

/// One change, observed by a triggered and a polling `eventually` at once.
async fn trial(delay: Duration) -> (Duration, Duration) {
    let (tx, rx) = watch::channel("Pending");
    let changed_at = Arc::new(Mutex::new(None::<Instant>));
    let probe = |rx: watch::Receiver<&'static str>| {
        move || {
            let v = *rx.borrow();
            async move { Ok::<_, String>(v) }
        }
    };
    let writer = {
        let changed_at = changed_at.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            *changed_at.lock().unwrap() = Some(Instant::now());
            tx.send_replace("Ready");
            tokio::time::sleep(Duration::from_secs(2)).await;
        })
    };
    let triggered = async {
        eventually(probe(rx.clone()))
            .every(500.ms())
            .triggered_by(WatchStream::from_changes(rx.clone()))
            .should(eq("Ready"))
            .await
            .unwrap();
        Instant::now()
    };
    let polling = async {
        eventually(probe(rx.clone()))
            .every(500.ms())
            .should(eq("Ready"))
            .await
            .unwrap();
        Instant::now()
    };
    let (t, p) = tokio::join!(triggered, polling);
    writer.abort();
    let at = changed_at
        .lock()
        .unwrap()
        .expect("the change happened before it was seen");
    (t - at, p - at)
}

async fn latency() -> Vec<Row> {
    const TRIALS: u64 = 12;
    eprintln!("measuring detection latency over {TRIALS} changes (about 10 s)…");
    let (mut triggered, mut polling) = (Vec::new(), Vec::new());
    for i in 0..TRIALS {
        // Changes land at spread-out offsets from the polls' phase.
        let (t, p) = trial(Duration::from_millis(60 + (i * 37) % 440)).await;
        triggered.push(t);
        polling.push(p);
    }
    vec![
        Row::from(
            "detection latency: triggered `eventually` (watch + 500 ms poll)",
            triggered,
        ),
        Row::from(
            "detection latency: polling `eventually` (500 ms poll)",
            polling,
        ),
    ]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut rows = rt.block_on(overhead());
    rows.extend(rt.block_on(latency()));
    println!("| measurement | samples | mean | p50 | max |");
    println!("|---|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.what,
            r.samples,
            fmt(r.mean),
            fmt(r.p50),
            fmt(r.max)
        );
    }
}
