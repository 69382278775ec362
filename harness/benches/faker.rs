//! `cargo xtask bench faker`: the StatusFaker playing a thousand pods.
//!
//! A StatefulSet of `PODS` replicas (Parallel, then OrderedReady) over
//! `NODES` fake nodes, from creation to every pod Ready, then a rolling
//! image change of the Parallel one, in paused tokio time on the embedded
//! server. Each row is run twice in one process: the faker as the env
//! starts it (after one list it catches up from the server's change feed)
//! and, as the peer, the same faker reading the world by listing every kind
//! whenever anything moved (how it read before the feed). kwok's column is
//! its published figure, not a run here.
//!
//! Prints a Markdown table on stdout, progress on stderr. `--quick` runs a
//! small size (for CI's regression guard); with `--min-ratio R` the run
//! fails when the feed is not at least R times faster than the peer on the
//! rolling image change (the row where rounds, not writes, dominate).

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube_harness::env::TestEnv;
use kube_harness::faker::StatusFaker;
use serde_json::json;

/// kwok's published throughput: it "can create 20 nodes or pods per
/// second" (kubernetes-sigs/kwok, README.md, "Why KWOK?").
const KWOK_PODS_PER_SECOND: f64 = 20.0;

/// Virtual time a rollout may take before the bench gives up.
const VIRTUAL_LIMIT: Duration = Duration::from_secs(6 * 3600);

#[derive(Clone, Copy, PartialEq)]
enum Reads {
    /// As the env sets the faker up: the change feed after one list.
    Feed,
    /// Every kind listed again whenever the cluster's revision moved.
    Relist,
}

struct Size {
    pods: i32,
    nodes: u32,
}

/// One scenario's result in one read mode.
struct Run {
    wall: Duration,
    virtual_time: Duration,
}

impl Run {
    fn pods_per_wall_second(&self, pods: i32) -> f64 {
        f64::from(pods) / self.wall.as_secs_f64()
    }
}

fn statefulset(name: &str, replicas: i32, policy: &str, image: &str) -> StatefulSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "podManagementPolicy": policy,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    }))
    .expect("a valid StatefulSet")
}

/// Sleeps in virtual time until the StatefulSet has `replicas` Ready pods
/// all at its update revision; `false` if the wall clock passes `cap` first.
async fn settled(api: &Api<StatefulSet>, name: &str, replicas: i32, cap: Duration) -> bool {
    let (start, wall) = (tokio::time::Instant::now(), std::time::Instant::now());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sts = api.get_status(name).await.expect("get the StatefulSet");
        let st = sts.status.unwrap_or_default();
        let done = st.ready_replicas == Some(replicas)
            && st.updated_replicas == Some(replicas)
            && st.current_revision.is_some()
            && st.current_revision == st.update_revision;
        if done {
            return true;
        }
        if wall.elapsed() > cap {
            return false;
        }
        assert!(
            start.elapsed() < VIRTUAL_LIMIT,
            "{name}: not settled after {VIRTUAL_LIMIT:?} of virtual time: {st:?}"
        );
    }
}

fn faker_for(env: &TestEnv, reads: Reads, nodes: u32) -> StatusFaker {
    let faker = match reads {
        Reads::Feed => env.status_faker(),
        Reads::Relist => StatusFaker::new(env.client(), Some(env.namespace().into()), env.stamp()),
    };
    faker.nodes(nodes);
    faker.start()
}

/// One row's work.
struct Scenario {
    label: &'static str,
    policy: &'static str,
    /// Measure a rolling image change of the Ready set (not its creation).
    roll: bool,
}

const SCENARIOS: [Scenario; 3] = [
    Scenario {
        label: "create → all Ready, Parallel",
        policy: "Parallel",
        roll: false,
    },
    Scenario {
        label: "create → all Ready, OrderedReady",
        policy: "OrderedReady",
        roll: false,
    },
    Scenario {
        label: "rolling image change, Parallel",
        policy: "Parallel",
        roll: true,
    },
];

/// Creates the StatefulSet and waits until it is Ready; then, when the row
/// rolls, changes its image and waits until every pod is replaced. The
/// times of the step the row measures, or `None` when it ran past `cap` of
/// wall time (then it is stopped).
async fn scenario(reads: Reads, size: &Size, row: &Scenario, cap: Duration) -> Option<Run> {
    let env = TestEnv::embedded().await.expect("an embedded env");
    let faker = faker_for(&env, reads, size.nodes);
    let api: Api<StatefulSet> = env.api();
    let name = "db";
    let (wall, virtual_time) = (std::time::Instant::now(), tokio::time::Instant::now());
    let sts = statefulset(name, size.pods, row.policy, "db:1");
    api.create(&PostParams::default(), &sts)
        .await
        .expect("create the StatefulSet");
    let mut done = settled(&api, name, size.pods, cap).await;
    let mut run = Run {
        wall: wall.elapsed(),
        virtual_time: virtual_time.elapsed(),
    };
    if row.roll && done {
        let (wall, virtual_time) = (std::time::Instant::now(), tokio::time::Instant::now());
        let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "db:2"}]}}}});
        api.patch(name, &PatchParams::default(), &Patch::Strategic(image))
            .await
            .expect("change the image");
        done = settled(&api, name, size.pods, cap).await;
        run = Run {
            wall: wall.elapsed(),
            virtual_time: virtual_time.elapsed(),
        };
    }
    faker.stop();
    env.finish().await.expect("tear the env down");
    done.then_some(run)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

struct Args {
    quick: bool,
    min_ratio: f64,
    /// Skip the relisting peer (profiling the feed alone).
    no_peer: bool,
}

fn args() -> Args {
    let mut out = Args {
        quick: false,
        min_ratio: 0.0,
        no_peer: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => out.quick = true,
            "--no-peer" => out.no_peer = true,
            "--min-ratio" => {
                out.min_ratio = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--min-ratio takes a number");
            }
            // `cargo bench` passes `--bench`; libtest's other flags mean nothing here.
            _ => {}
        }
    }
    out
}

/// The relisting peer is stopped after this much wall time per row (at a
/// thousand pods it would take many minutes); its cells then give bounds.
const PEER_CAP: Duration = Duration::from_secs(90);
/// The feed is never expected near this; it only keeps a regression from hanging.
const FEED_CAP: Duration = Duration::from_secs(1800);

fn main() {
    let args = args();
    let size = if args.quick {
        Size {
            pods: 100,
            nodes: 10,
        }
    } else {
        Size {
            pods: 1000,
            nodes: 100,
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let mut lines = Vec::new();
    let mut guard = None;
    for row in &SCENARIOS {
        eprintln!("{}: change feed …", row.label);
        let feed = rt
            .block_on(scenario(Reads::Feed, &size, row, FEED_CAP))
            .unwrap_or_else(|| panic!("{}: not done in {FEED_CAP:?} of wall time", row.label));
        let feed_rate = feed.pods_per_wall_second(size.pods);
        eprintln!(
            "{}: {} wall, {} virtual",
            row.label,
            secs(feed.wall),
            secs(feed.virtual_time)
        );
        let (relist_wall, ratio, relist_rate) = if args.no_peer {
            ("not run".to_owned(), "n/a".to_owned(), "n/a".to_owned())
        } else {
            eprintln!("{}: relist every round …", row.label);
            match rt.block_on(scenario(Reads::Relist, &size, row, PEER_CAP)) {
                Some(relist) => {
                    let ratio = relist.wall.as_secs_f64() / feed.wall.as_secs_f64();
                    if row.roll {
                        guard = Some(ratio);
                    }
                    (
                        secs(relist.wall),
                        format!("{ratio:.1}×"),
                        format!("{:.0}", relist.pods_per_wall_second(size.pods)),
                    )
                }
                None => (
                    format!("> {} (stopped)", secs(PEER_CAP)),
                    format!("> {:.1}×", PEER_CAP.as_secs_f64() / feed.wall.as_secs_f64()),
                    format!("< {:.0}", f64::from(size.pods) / PEER_CAP.as_secs_f64()),
                ),
            }
        };
        lines.push(format!(
            "| {} | {} | {} | {} | {relist_wall} | {ratio} | {feed_rate:.0} | {relist_rate} | {KWOK_PODS_PER_SECOND:.0} |",
            row.label,
            size.pods,
            secs(feed.virtual_time),
            secs(feed.wall),
        ));
    }
    println!(
        "| scenario | pods | virtual time | wall, change feed | wall, relist every round | speed-up | pods per wall second, feed | pods per wall second, relist | kwok (published) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for l in lines {
        println!("{l}");
    }
    println!();
    println!(
        "{} pods over {} nodes, one StatefulSet, no volumes, paused tokio time on one thread, faker round 100 ms. \
         Both columns run in the same process; the relist column is the faker reading every kind again whenever the revision moved \
         (stopped after {} of wall time per row). kwok: the 20 pods or nodes per second its README publishes, not measured here.",
        size.pods,
        size.nodes,
        secs(PEER_CAP)
    );
    if args.min_ratio > 0.0 {
        let ratio = guard.expect("the guard needs the rolling row's peer to finish");
        eprintln!(
            "faker regression guard: on the rolling image change the change feed is {ratio:.1}× relisting (minimum {:.1}×)",
            args.min_ratio
        );
        assert!(
            ratio >= args.min_ratio,
            "the faker's change feed is only {ratio:.1}× faster than relisting on the rolling image change (minimum {:.1}×)",
            args.min_ratio
        );
    }
}
