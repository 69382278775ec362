//! A small but real kube-runtime operator, the system under test of the
//! kube-harness rollout suites.
//!
//! A [`NodeDeployment`] owns a StatefulSet of `replicas` nodes running
//! `image`. Changing the image starts an in-place rollout driven by a plan of
//! tasks (see [`decide`]); `spec.paused` holds image changes back. The status
//! contract (phase, conditions, `rollout.startedAt`, Events) is what an
//! on-call reads, and what the suites pin.
//!
//! Run it in-process, so a test can start, abort and restart it:
//!
//! ```no_run
//! # async fn demo(client: kube::Client) {
//! use rollout_operator::OperatorConfig;
//! let handle = tokio::spawn(rollout_operator::run(client, OperatorConfig::default()));
//! // … later
//! handle.abort();
//! # }
//! ```
//!
//! or as the `rollout-operator` binary against any kubeconfig.

pub mod child;
pub mod clock;
pub mod conditions;
mod controller;
pub mod crd;
pub mod decide;
pub mod faults;

pub use clock::{Clock, TokioClock, WallClock};
pub use controller::{ReconcileError, run};
pub use crd::{
    NodeDeployment, NodeDeploymentSpec, NodeDeploymentStatus, Phase, PlanPhase, PlanStatus,
    PlanTask, RolloutStatus, TaskName, TaskState,
};
pub use faults::Faults;

use std::sync::Arc;
use std::time::Duration;

/// How [`run`] behaves. `Default` is the production configuration.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Watch one namespace, or all of them (`None`).
    pub namespace: Option<String>,
    /// Where timestamps written into status come from.
    pub clock: Arc<dyn Clock>,
    /// Re-check interval while a rollout (or the first deployment) is in
    /// flight, so time-based status stays fresh without watch events.
    pub busy_resync: Duration,
    /// Re-check interval when idle: the usual safety net against missed events.
    pub idle_resync: Duration,
    /// Retry delay after a failed reconcile.
    pub error_backoff: Duration,
    /// `reportingController` of the Events the operator publishes.
    pub reporter: String,
    /// Test-only mutation switches; all off in production. See [`Faults`].
    pub faults: Faults,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            clock: Arc::new(WallClock),
            busy_resync: Duration::from_secs(5),
            idle_resync: Duration::from_secs(300),
            error_backoff: Duration::from_secs(1),
            reporter: "rollout-operator".to_string(),
            faults: Faults::default(),
        }
    }
}

impl OperatorConfig {
    /// Watch only `namespace`.
    pub fn namespaced(namespace: impl Into<String>) -> Self {
        Self {
            namespace: Some(namespace.into()),
            ..Self::default()
        }
    }

    /// Use `clock` for timestamps.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Break the operator on purpose (tests only).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

/// The CustomResourceDefinition as YAML, exactly as committed in
/// `manifests/crds/nodedeployment.yaml`.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let crd = NodeDeployment::crd();
    let body = serde_yaml::to_string(&crd).expect("a CRD always serializes");
    format!(
        "# Generated from examples/rollout-operator/src/crd.rs; do not edit.\n\
         # Regenerate: cargo run -p rollout-operator -- crd > manifests/crds/nodedeployment.yaml\n{body}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crd_matches_the_derive() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../manifests/crds/nodedeployment.yaml"
        );
        let committed = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path}: {e}; generate it with `cargo run -p rollout-operator -- crd > manifests/crds/nodedeployment.yaml`"));
        assert!(
            committed == crd_yaml(),
            "manifests/crds/nodedeployment.yaml is out of date with examples/rollout-operator/src/crd.rs; \
             regenerate it with `cargo run -p rollout-operator -- crd > manifests/crds/nodedeployment.yaml`"
        );
    }

    #[test]
    fn crd_has_status_subresource_and_printer_columns() {
        use kube::CustomResourceExt;
        let crd = NodeDeployment::crd();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("nodedeployments.rollout.kube-harness.dev")
        );
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let columns: Vec<&str> = version
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["Phase", "Current", "Target", "Ready", "Age"]);
    }

    #[test]
    fn status_round_trips_and_omits_cleared_fields() {
        let status = NodeDeploymentStatus {
            phase: Phase::Ready,
            ready_replicas: 3,
            current_image: Some("sei:v2".into()),
            ..NodeDeploymentStatus::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"phase": "Ready", "readyReplicas": 3, "currentImage": "sei:v2", "conditions": []})
        );
        let back: NodeDeploymentStatus = serde_json::from_value(json).unwrap();
        assert_eq!(back, status);
    }
}
