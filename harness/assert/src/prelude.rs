//! One import for a test file: `use kube_harness_assert::prelude::*;`
//! (the facade's `kube_harness::prelude` includes all of it).

// Waiting.
pub use crate::wait::{
    AwaitOk, DurationExt, Failure, Probe, ProbeError, StopTrying, consistently, eventually,
};

// Matching.
pub use crate::matchers::{
    Matcher, absent, condition, contains, eq, field, ge, gt, le, lt, matches_regex, no_condition,
    not, present, stable, zero,
};
pub use crate::{all_of, any_of, assert_that};

// Snapshots.
pub use crate::assert_fields_eq;
#[cfg(feature = "insta")]
pub use crate::assert_k8s_snapshot;
pub use crate::snapshot::{ContrastMatrix, cell, na};

// What nearly every test also needs.
pub use serde_json::json;
pub use std::time::Duration;
