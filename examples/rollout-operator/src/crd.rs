//! The `NodeDeployment` custom resource: the contract an on-call reads with
//! `kubectl get nodedeployments` and `kubectl describe`.
//!
//! Every status field here is part of the contract the suites pin (stuck vs
//! paused shape), so renaming one is a breaking change for their alerts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the operator's resources.
pub const GROUP: &str = "rollout.kube-harness.dev";
/// Name of the container the operator manages inside the child StatefulSet.
pub const CONTAINER: &str = "node";
/// Label put on the child StatefulSet's pods; it maps a pod back to its owner.
pub const DEPLOYMENT_LABEL: &str = "rollout.kube-harness.dev/deployment";

/// Condition types the operator maintains (always all four, so `kubectl
/// describe` shows the full picture and a missing one is a bug, not a state).
pub mod condition {
    /// An in-place rollout has started and has not completed.
    pub const ROLLOUT_IN_PROGRESS: &str = "RolloutInProgress";
    /// The rollout's plan of tasks is executing (False while paused mid-plan).
    pub const PLAN_IN_PROGRESS: &str = "PlanInProgress";
    /// Every desired replica is ready.
    pub const NODES_READY: &str = "NodesReady";
    /// `spec.paused` holds image changes back.
    pub const PAUSED: &str = "Paused";
}

/// Event reasons the operator emits (through kube's events `Recorder`).
pub mod reason {
    /// A rollout to a new image began.
    pub const ROLLOUT_STARTED: &str = "RolloutStarted";
    /// Every pod runs the target image; the rollout and plan were cleared.
    pub const ROLLOUT_COMPLETE: &str = "RolloutComplete";
    /// The image changed again while a rollout was running; the plan restarted.
    pub const ROLLOUT_RETARGETED: &str = "RolloutRetargeted";
    /// The spec cannot be acted on (Warning).
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// A StatefulSet with the child's name exists but is not ours (Warning).
    pub const CHILD_CONFLICT: &str = "ChildConflict";
}

/// Desired state: `replicas` pods running `image`, unless `paused` holds an
/// image change back.
// Several printer columns share `type_ = "string"`; clippy reads that as a
// duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "rollout.kube-harness.dev",
    version = "v1alpha1",
    kind = "NodeDeployment",
    namespaced,
    status = "NodeDeploymentStatus",
    derive = "PartialEq",
    shortname = "nd",
    doc = "A set of identical nodes run as a StatefulSet and upgraded in place.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Current", type_ = "string", json_path = ".status.currentImage"),
    printcolumn(name = "Target", type_ = "string", json_path = ".spec.image"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct NodeDeploymentSpec {
    /// Number of nodes (StatefulSet replicas).
    pub replicas: i32,
    /// Container image every node runs; changing it starts an in-place rollout.
    pub image: String,
    /// Hold image changes: no rollout starts and the child keeps its image.
    #[serde(default)]
    pub paused: bool,
}

impl NodeDeployment {
    /// A NodeDeployment with no namespace (the API call decides it), for
    /// tests and examples.
    pub fn build(name: &str, replicas: i32, image: &str) -> Self {
        NodeDeployment::new(
            name,
            NodeDeploymentSpec {
                replicas,
                image: image.to_string(),
                paused: false,
            },
        )
    }
}

/// Lifecycle phase; the first column an on-call reads.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema, Default)]
pub enum Phase {
    /// Created; the first image has not been observed on every node yet.
    #[default]
    Pending,
    /// Every node runs `currentImage`; no rollout is running.
    Ready,
    /// A rollout is running (or wedged: read the conditions and the plan).
    Upgrading,
    /// `spec.paused` is set: image changes are held back.
    Paused,
    /// The spec or the child cannot be acted on; see the Warning events.
    Failed,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Observed state. The operator replaces the whole status (PUT on `/status`
/// with the `resourceVersion` it read), so an absent optional field is
/// removed, which is how `rollout` and `plan` are cleared on completion.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeDeploymentStatus {
    /// Lifecycle phase.
    #[serde(default)]
    pub phase: Phase,
    /// Ready pods of the child StatefulSet.
    #[serde(default)]
    pub ready_replicas: i32,
    /// The image every node was last observed running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_image: Option<String>,
    /// The running rollout; absent when none runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,
    /// The running rollout's plan of tasks; absent when none runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanStatus>,
    /// RolloutInProgress, PlanInProgress, NodesReady, Paused.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// `metadata.generation` of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A rollout in progress.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// When the rollout started; stable for its whole life, so age-based
    /// alerts ("rollout stuck for more than 1h") can key on it.
    pub started_at: Time,
    /// The image being rolled out.
    pub target_image: String,
}

/// The ordered tasks of a rollout.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    /// `Active` while tasks execute, `Held` while `spec.paused` freezes them.
    pub phase: PlanPhase,
    /// Tasks in execution order.
    pub tasks: Vec<PlanTask>,
}

/// Whether a plan's tasks are executing.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum PlanPhase {
    /// Tasks execute on every reconcile.
    Active,
    /// `spec.paused` was set mid-rollout; tasks wait where they are.
    Held,
}

/// One step of a rollout plan.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanTask {
    /// What the task does.
    pub name: TaskName,
    /// How far it got.
    pub state: TaskState,
}

/// The steps of an in-place rollout, in order.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum TaskName {
    /// Write the target image into the child StatefulSet's pod template.
    UpdateChildSpec,
    /// Wait until the StatefulSet reports every replica updated and ready on
    /// the new revision.
    AwaitChildConvergence,
    /// Wait until every pod's container status reports the target image.
    ObserveImage,
    /// Record the new image and clear the rollout.
    Complete,
}

/// Progress of one task.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum TaskState {
    /// Not reached yet.
    Pending,
    /// Waiting on the cluster.
    Running,
    /// Finished.
    Done,
}

impl NodeDeploymentStatus {
    /// The condition of `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}
