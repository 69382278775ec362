//! One import for a test file: `use kube_harness::prelude::*;`.

// Waiting, matching, snapshots (crate `kube-harness-assert`).
pub use kube_harness_assert::prelude::*;

// Cluster, faker, disruptions.
pub use crate::disruption::{self, DisruptionError};
/// The rstest fixture. Needs feature `rstest`.
#[cfg(feature = "rstest")]
pub use crate::env::env;
pub use crate::env::{BackendKind, EnvError, OperatorHandle, TestEnv};
pub use crate::faker::{Kind as FakerKind, StatusFaker};
pub use crate::timeline::Track;
pub use crate::{object, skip};
/// Fault rules for `env.faults()`. Needs feature `embedded` (default).
#[cfg(feature = "embedded")]
pub use kube_harness_apiserver::Fault;
