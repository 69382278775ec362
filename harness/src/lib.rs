//! kube-harness: the disruption and upgrade tests Kubernetes operator teams
//! write today with envtest + Gomega + shell scripts, as plain `cargo test`.
//!
//! Modules are named for the job a test does with them:
//! - [`wait`], [`matchers`], [`snapshot`] (crate `kube-harness-assert`):
//!   Eventually / Consistently in tokio time, composable matchers, typed
//!   snapshots and contrast matrices.
//! - [`env`](mod@env): `TestEnv`, a cluster + namespace + client for one
//!   test, with the faults of the embedded server (`env.faults()`).
//! - [`faker`]: the StatusFaker that plays kubelet and built-in controllers.
//! - [`disruption`]: restart operators, delete pods, drain nodes.
//! - [`timeline`]: events and transitions of a namespace, in order.
//! - [`liveness`]: proof that a controller reconciles, not just that it started.
//! - `continuity` (feature `continuity`, crate `kube-harness-continuity`):
//!   proof that a CSI upgrade did not remount a volume.
//! - `apiserver` (feature `embedded`, default; crate `kube-harness-apiserver`):
//!   the embedded API server and its fault rules.

pub mod disruption;
pub mod env;
pub mod faker;
pub mod liveness;
#[doc(hidden)]
pub mod skip;
pub mod timeline;

/// Needs feature `insta`.
#[cfg(feature = "insta")]
pub use kube_harness_assert::assert_k8s_snapshot;
pub use kube_harness_assert::{all_of, any_of, assert_fields_eq, assert_that};
pub use kube_harness_assert::{matchers, snapshot, wait};

/// The CSI mount-continuity checker (crate `kube-harness-continuity`).
/// Needs feature `continuity`.
#[cfg(feature = "continuity")]
pub use kube_harness_continuity as continuity;

/// The embedded API server (crate `kube-harness-apiserver`).
/// Needs feature `embedded` (on by default).
#[cfg(feature = "embedded")]
pub use kube_harness_apiserver as apiserver;

pub mod prelude;

#[doc(hidden)]
pub mod __private {
    //! What the crate's macros expand to; not part of the API.
    pub use kube;
    pub use serde_json;
}
