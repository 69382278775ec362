//! The assertion core of kube-harness, with no Kubernetes in it: Gomega's
//! `Eventually` / `Consistently` for async Rust in tokio time, matchers that
//! report every failing field instead of the first, typed snapshots and
//! contrast matrices.
//!
//! It is its own crate because nothing here needs a cluster: a controller's
//! pure state machine, a CLI's JSON output or a test's own struct can be
//! asserted with the same vocabulary, without compiling kube. The facade
//! crate `kube-harness` re-exports all of it.
//!
//! - [`wait`]: `eventually` / `consistently` over an async probe.
//! - [`matchers`]: `field("status.phase", eq("Ready"))`, `condition(..)`, `all_of!`.
//! - [`snapshot`]: `assert_fields_eq!`, contrast matrices, golden files (feature `insta`).

pub mod matchers;
pub mod prelude;
pub mod snapshot;
pub mod wait;
