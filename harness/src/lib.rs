//! kube-harness: the disruption and upgrade tests Kubernetes operator teams
//! write today with envtest + Gomega + shell scripts, as plain `cargo test`.
//!
//! Folders are named for the job a test does with them:
//! - [`wait`]: Eventually / Consistently over an async probe, in tokio time.
//! - [`matchers`]: composable matchers over any `Serialize` value.
//! - [`snapshot`]: typed snapshots, stability checks, contrast matrices, golden files.
//! - [`env`]: `TestEnv`, a cluster + namespace + client for one test.
//! - [`faker`]: the StatusFaker that plays kubelet and built-in controllers.
//! - [`disruption`]: restart operators, delete pods, drain nodes.
//! - [`timeline`]: events and transitions of a namespace, in order.
//! - [`liveness`]: proof that a controller reconciles, not just that it started.
//! - [`continuity`]: proof that a CSI upgrade did not remount a volume.

pub mod continuity;
pub mod disruption;
pub mod env;
pub mod faker;
pub mod liveness;
pub mod matchers;
pub mod snapshot;
pub mod timeline;
pub mod wait;

pub mod prelude;
