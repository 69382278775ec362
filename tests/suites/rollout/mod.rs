//! What the rollout suites share (seeds 002 and 003): a NodeDeployment
//! "seid" (3 × sei:v1) made Ready by the operator under test on the embedded
//! backend, with the StatusFaker playing the StatefulSet controller and
//! kubelet; the [`Shape`] an on-call reads; and the Stuck-vs-Paused contrast
//! matrix. The env owns the faker, the operator and the timeline, and tears
//! them down in order when the world drops or [`Rollout::finish`] runs.

use anyhow::Result;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube_harness::env::OperatorHandle;
use kube_harness::prelude::*;
use rollout_operator::child;
use rollout_operator::crd::DEPLOYMENT_LABEL;
use rollout_operator::{Faults, NodeDeployment, NodeDeploymentStatus, OperatorConfig, TokioClock};
use serde::Serialize;

pub(crate) const NAME: &str = "seid";
pub(crate) const V1: &str = "sei:v1";
pub(crate) const V2: &str = "sei:v2";
pub(crate) const REPLICAS: i32 = 3;

/// One rollout scenario's world: the env, and handles to what it owns.
pub(crate) struct Rollout {
    pub env: TestEnv,
    pub faker: StatusFaker,
    pub operator: OperatorHandle,
}

/// Everything an on-call (and the contrast matrix) reads, in one value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Shape {
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
    /// A Ready deployment of `sei:v1`, with the operator broken by `faults`,
    /// on a simulated env ([`crate::cluster::simulated`]).
    pub(crate) async fn ready(faults: Faults) -> Result<Self> {
        Self::ready_on(crate::cluster::simulated().await?, faults).await
    }

    /// The same on a given env (a scenario that needs the in-process server
    /// asks for [`TestEnv::embedded`]).
    pub(crate) async fn ready_on(env: TestEnv, faults: Faults) -> Result<Self> {
        env.install_crds("../manifests/crds").await?;
        let faker = env.status_faker().start();
        env.timeline()
            .track::<NodeDeployment>(Track::named(NAME).field("status.rollout.startedAt"))
            .await?;
        env.timeline()
            .track::<StatefulSet>(
                Track::named(NAME)
                    .without_phase()
                    .without_conditions()
                    .field_as("spec.image", "spec.template.spec.containers[0].image"),
            )
            .await?;
        let config = OperatorConfig::namespaced(env.namespace())
            .with_clock(TokioClock::starting_at(env.now()))
            .with_faults(faults);
        let operator = env.spawn_operator("rollout-operator", move |client| {
            rollout_operator::run(client, config.clone())
        })?;
        let nd = env.apply(NodeDeployment::build(NAME, REPLICAS, V1)).await?;
        eventually(env.get(&nd))
            .should(all_of![
                field("status.phase", eq("Ready")),
                field("status.currentImage", eq(V1)),
                field("status.readyReplicas", eq(REPLICAS)),
            ])
            .await?;
        Ok(Self {
            env,
            faker,
            operator,
        })
    }

    /// The whole shape, as a probe of the env: a failed wait on it names
    /// `nodedeployment/seid (shape)` and carries the timeline and the
    /// operator's last log lines.
    pub(crate) fn shape(&self) -> impl Probe<Output = Shape> + '_ {
        self.env
            .probe("nodedeployment/seid (shape)", move || self.read_shape())
    }

    /// Reads the whole shape once.
    pub(crate) async fn read_shape(&self) -> Result<Shape> {
        let env = &self.env;
        env.timeline().sync().await?;
        let nd = env.api::<NodeDeployment>().get(NAME).await?;
        let child = env.api::<StatefulSet>().get_opt(NAME).await?;
        let mut pods = env
            .api::<Pod>()
            .list(&ListParams::default().labels(&format!("{DEPLOYMENT_LABEL}={NAME}")))
            .await?
            .items;
        pods.sort_by_key(|p| p.metadata.name.clone());
        let tl = env.timeline().timeline();
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

    /// Patches the NodeDeployment's spec, as a user would.
    pub(crate) async fn patch_spec(&self, spec: serde_json::Value) -> Result<()> {
        let nd = self.env.api::<NodeDeployment>().get(NAME).await?;
        self.env.patch(&nd, json!({ "spec": spec })).await?;
        Ok(())
    }

    /// Wedges a rollout to `image`: the faker (the StatefulSet controller
    /// and kubelet) pauses, the image changes, and the operator starts the
    /// rollout it can then never see converge. Returns the first Upgrading
    /// shape.
    pub(crate) async fn wedge(&self, image: &str) -> Result<Shape> {
        self.faker.pause();
        self.patch_spec(json!({ "image": image })).await?;
        Ok(eventually(self.shape())
            .should(all_of![
                field("status.phase", eq("Upgrading")),
                field("childSpecImage", eq(image)),
            ])
            .await?)
    }

    /// Ordered teardown with its errors reported (dropping the world does
    /// the same silently): operator, faker resumed, namespace, faker stopped.
    pub(crate) async fn finish(self) -> Result<()> {
        Ok(self.env.finish().await?)
    }
}

/// Seed 003's contract: a paused deployment must be distinguishable from a
/// stuck rollout on every row. Declared once; the paused suite asserts it
/// and renders it into docs/stuck-vs-paused.md.
pub(crate) fn stuck_vs_paused() -> ContrastMatrix<2> {
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
        .field("status.rollout.startedAt", [cell(stable()), na()])
        .field("rolloutStartedEvents", [cell(eq(1)), cell(eq(0))])
        .field("rolloutCompleteEvents", [cell(eq(0)), cell(eq(0))])
        .field("childSpecImage", [cell(eq(V2)), cell(eq(V1))])
        .field(
            "podImages",
            [cell(eq([V1, V1, V1])), cell(eq([V1, V1, V1]))],
        )
}
