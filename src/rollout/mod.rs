//! What the rollout suites share: a NodeDeployment "seid" (3 × sei:v1) made
//! Ready by the operator under test on the embedded backend, with the
//! StatusFaker playing the StatefulSet controller and kubelet, a timeline
//! recorder, and the Stuck-vs-Paused contrast matrix (seed 003). One
//! submodule per suite holds that suite's scenario.

pub mod disruption;
pub mod paused;
pub mod restart;
pub mod stuck;

use harness::env::{OperatorHandle, TestEnv};
use harness::faker::StatusFaker;
use harness::prelude::*;
use harness::timeline::{Recorder, Track};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use rollout_operator::child;
use rollout_operator::crd::DEPLOYMENT_LABEL;
use rollout_operator::{Faults, NodeDeployment, NodeDeploymentStatus, OperatorConfig, TokioClock};
use serde::Serialize;

pub const NAME: &str = "seid";
pub const V1: &str = "sei:v1";
pub const V2: &str = "sei:v2";
pub const REPLICAS: i32 = 3;

/// One rollout scenario's world.
pub struct Rollout {
    pub env: TestEnv,
    pub faker: StatusFaker,
    pub operator: OperatorHandle,
    pub timeline: Recorder,
    pub nds: Api<NodeDeployment>,
}

/// Everything an on-call (and the contrast matrix) reads, in one value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    pub status: NodeDeploymentStatus,
    /// `RolloutStarted` Events seen so far.
    pub rollout_started_events: usize,
    /// `RolloutComplete` Events seen so far.
    pub rollout_complete_events: usize,
    /// The image the child StatefulSet's pod template asks for.
    pub child_spec_image: Option<String>,
    /// The image each pod's container status reports (the child's current image).
    pub pod_images: Vec<String>,
}

impl Rollout {
    /// A Ready deployment of `sei:v1`, with the operator broken by `faults`.
    pub async fn ready(faults: Faults) -> anyhow::Result<Self> {
        let env = TestEnv::embedded().await?;
        env.install_crds(concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/crds"))
            .await?;
        let faker = env.status_faker().start();
        let timeline = Recorder::start(env.client(), env.namespace()).await?;
        timeline
            .track::<NodeDeployment>(Track::named(NAME).field("status.rollout.startedAt"))
            .await?;
        timeline
            .track::<StatefulSet>(
                Track::named(NAME)
                    .without_phase()
                    .without_conditions()
                    .field_as("spec.image", "spec.template.spec.containers.0.image"),
            )
            .await?;
        let config = OperatorConfig::namespaced(env.namespace())
            .with_clock(TokioClock::starting_at((env.stamp())()))
            .with_faults(faults);
        let operator =
            env.spawn_operator(move |client| rollout_operator::run(client, config.clone()))?;
        let nds = env.api::<NodeDeployment>();
        env.apply(NodeDeployment::build(NAME, REPLICAS, V1)).await?;
        let world = Self {
            env,
            faker,
            operator,
            timeline,
            nds,
        };
        eventually(|| world.nds.get(NAME))
            .describe("nodedeployment/seid")
            .within(30.s())
            .should(all_of![
                field("status.phase", eq("Ready")),
                field("status.currentImage", eq(V1)),
                field("status.readyReplicas", eq(REPLICAS)),
            ])
            .await
            .map_err(|f| world.with_timeline(f))?;
        Ok(world)
    }

    /// Reads the whole shape once.
    pub async fn shape(&self) -> anyhow::Result<Shape> {
        self.timeline.sync().await?;
        let nd = self.nds.get(NAME).await?;
        let child = self.env.api::<StatefulSet>().get_opt(NAME).await?;
        let pods: Api<Pod> = self.env.api();
        let mut pods = pods
            .list(&ListParams::default().labels(&format!("{DEPLOYMENT_LABEL}={NAME}")))
            .await?
            .items;
        pods.sort_by_key(|p| p.metadata.name.clone());
        let tl = self.timeline.timeline();
        Ok(Shape {
            status: nd.status.unwrap_or_default(),
            rollout_started_events: tl.count("RolloutStarted"),
            rollout_complete_events: tl.count("RolloutComplete"),
            child_spec_image: child
                .as_ref()
                .and_then(child::spec_image)
                .map(str::to_string),
            pod_images: pods
                .iter()
                .map(|p| child::observed_image(p).unwrap_or("<none>").to_string())
                .collect(),
        })
    }

    /// Changes the image, as a user would.
    pub async fn set_image(&self, image: &str) -> anyhow::Result<()> {
        let nd = self.nds.get(NAME).await?;
        self.env
            .patch(&nd, json!({"spec": {"image": image}}))
            .await?;
        Ok(())
    }

    /// Wedges a rollout to `image`: the faker (the StatefulSet controller
    /// and kubelet) pauses, the image changes, and the operator starts the
    /// rollout it can then never see converge. Returns the first Upgrading
    /// shape.
    pub async fn wedge(&self, image: &str) -> anyhow::Result<Shape> {
        self.faker.pause();
        self.set_image(image).await?;
        eventually(|| self.shape())
            .describe("nodedeployment/seid (wedged)")
            .should(all_of![
                field("status.phase", eq("Upgrading")),
                field("childSpecImage", eq(image)),
            ])
            .await
            .map_err(|f| self.with_timeline(f))
    }

    /// Stops the operator and deletes the namespace while the faker still
    /// plays the kubelet (pods terminate, so the namespace goes quickly, in
    /// virtual time); call it on success and failure alike.
    pub async fn finish(self) -> anyhow::Result<()> {
        let Self {
            env,
            faker,
            mut operator,
            timeline,
            ..
        } = self;
        operator.stop().await;
        drop(timeline);
        faker.resume(); // a paused kubelet would leave pods terminating forever
        let cleaned = env.cleanup().await;
        faker.stop();
        Ok(cleaned?)
    }

    /// Runs `scenario` on a Ready deployment and cleans up either way.
    pub async fn run<T>(
        faults: Faults,
        scenario: impl AsyncFnOnce(&Rollout) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let world = Self::ready(faults).await?;
        let outcome = scenario(&world).await;
        let cleaned = world.finish().await;
        // The scenario's failure is the story; a cleanup failure only matters alone.
        let value = outcome?;
        cleaned?;
        Ok(value)
    }

    /// A wait failure with the timeline attached: what a human reads first.
    pub fn with_timeline(&self, failure: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{failure}\n{}", self.timeline.render())
    }
}

/// Seed 003's contract: a paused deployment must be distinguishable from a
/// stuck rollout on every row. Declared once; the paused suite asserts it
/// and renders it into docs/stuck-vs-paused.md.
pub fn stuck_vs_paused() -> ContrastMatrix<2> {
    ContrastMatrix::new(["Stuck", "Paused"])
        .field("status.phase", [cell(eq("Upgrading")), cell(eq("Paused"))])
        .field("status.rollout", [cell(present()), cell(absent())])
        .field(
            "status.plan",
            [cell(field("phase", eq("Active"))), cell(absent())],
        )
        .row(
            "RolloutInProgress",
            [
                cell(condition("RolloutInProgress", "True")),
                cell(condition("RolloutInProgress", "False")),
            ],
        )
        .row(
            "PlanInProgress",
            [
                cell(condition("PlanInProgress", "True")),
                cell(condition("PlanInProgress", "False")),
            ],
        )
        .row(
            "Paused",
            [
                cell(condition("Paused", "False")),
                cell(condition("Paused", "True")),
            ],
        )
        .field(
            "status.readyReplicas",
            [cell(eq(REPLICAS)), cell(eq(REPLICAS))],
        )
        .row(
            "NodesReady",
            [
                cell(condition("NodesReady", "True")),
                cell(condition("NodesReady", "True")),
            ],
        )
        .field("status.rollout.startedAt", [cell(stable("")), na()])
        .field("rolloutStartedEvents", [cell(eq(1)), cell(eq(0))])
        .field("rolloutCompleteEvents", [cell(eq(0)), cell(eq(0))])
        .field("childSpecImage", [cell(eq(V2)), cell(eq(V1))])
        .field(
            "podImages",
            [cell(eq([V1, V1, V1])), cell(eq([V1, V1, V1]))],
        )
}
