//! A small but real kube-runtime database operator with dynamic storage,
//! the system under test of kube-harness's storage suite (seed 000).
//!
//! A [`Database`] owns a StatefulSet of `instances` pods, one primary and
//! the rest replicas, each with a data claim. The operator reads every
//! instance's disk usage from its kubelet's summary API through the API
//! server's node proxy, and grows all claims to one effective size by the
//! storage policy ([`plan`]): planned growth inside the maintenance window,
//! emergency growth at once, never beyond `limit`, never shrinking, within
//! daily budgets. A primary that stays away is replaced by a replica. A
//! [`Backup`] runs a Job.
//!
//! Run it in-process (a test can start, abort and restart it):
//!
//! ```no_run
//! # async fn demo(client: kube::Client) {
//! use storage_operator::OperatorConfig;
//! let handle = tokio::spawn(storage_operator::run(client, OperatorConfig::default()));
//! handle.abort();
//! # }
//! ```
//!
//! or as the `storage-operator` binary against any kubeconfig.

pub mod backup;
pub mod clock;
mod controller;
pub mod crd;
pub mod faults;
pub mod instances;
pub mod plan;
pub mod size;
pub mod usage;
pub mod window;

pub use clock::{Clock, TokioClock, WallClock};
pub use controller::{ReconcileError, run};
pub use crd::{
    ActionKind, Backup, BackupSpec, BackupStatus, Budgets, Database, DatabaseSpec, DatabaseStatus,
    MaintenanceWindow, PendingAction, Phase, StorageAction, StorageSpec,
};
pub use faults::Faults;

use std::sync::Arc;
use std::time::Duration;

/// How [`run`] behaves. `Default` is the production configuration.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Watch one namespace, or all of them (`None`).
    pub namespace: Option<String>,
    /// Where "now" comes from (windows, budgets, timestamps).
    pub clock: Arc<dyn Clock>,
    /// How often each database's disk usage is read: usage changes raise
    /// no watch event, so this is the operator's reaction time.
    pub poll: Duration,
    /// Retry delay after a failed reconcile.
    pub error_backoff: Duration,
    /// `reportingController` of the Events the operator publishes.
    pub reporter: String,
    /// Test-only breakages; all off in production. See [`Faults`].
    pub faults: Faults,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            clock: Arc::new(WallClock),
            poll: Duration::from_secs(10),
            error_backoff: Duration::from_secs(1),
            reporter: "storage-operator".to_string(),
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

    /// Use `clock` for "now".
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

/// The CustomResourceDefinitions as one YAML stream, exactly as committed
/// in `manifests/crds/storage.yaml`.
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let body = |crd| serde_yaml::to_string(&crd).expect("a CRD always serializes");
    format!(
        "# Generated from examples/storage-operator/src/crd.rs; do not edit.\n\
         # Regenerate: cargo run -p storage-operator -- crd > manifests/crds/storage.yaml\n{}---\n{}",
        body(Database::crd()),
        body(Backup::crd())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crds_match_the_derive() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../manifests/crds/storage.yaml"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == crd_yaml(),
            "manifests/crds/storage.yaml is out of date with examples/storage-operator/src/crd.rs; \
             regenerate it with `cargo run -p storage-operator -- crd > manifests/crds/storage.yaml`"
        );
    }
}
