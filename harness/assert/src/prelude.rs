//! One import for a test file: `use kube_harness_assert::prelude::*;`
//! (the facade's `kube_harness::prelude` includes all of it).

// Waiting.
pub use crate::wait::{
    consistently, eventually, AwaitOk, DurationExt, Failure, Probe, ProbeError, StopTrying,
};

// Matching.
pub use crate::matchers::{
    absent, condition, contains, eq, field, ge, gt, le, lt, matches_regex, no_condition, not,
    present, stable, Matcher,
};
pub use crate::{all_of, any_of, assert_that};

// Snapshots.
pub use crate::assert_fields_eq;
#[cfg(feature = "insta")]
pub use crate::assert_k8s_snapshot;
pub use crate::snapshot::{cell, na, ContrastMatrix};

// What nearly every test also needs.
pub use serde_json::json;
pub use std::time::Duration;
