//! Snapshots: a test's own struct of the fields it asserts, compared field
//! by field; contrast matrices of named shapes; golden files of whole objects.
//!
//! - [`fields`]: `assert_fields_eq!(actual, expected)` with one line per differing field.
//! - [`contrast`]: `Stuck` vs `Paused` as a table of field expectations,
//!   checked in a test and rendered as the Markdown contract.
//! - [`golden`]: `insta` snapshots of Kubernetes objects with volatile
//!   metadata (uid, resourceVersion, timestamps) redacted.

pub mod contrast;
pub mod fields;
#[cfg(feature = "insta")]
pub mod golden;

pub use contrast::{Cell, ContrastFailure, ContrastMatrix, ShapeMatcher, cell, na};
pub use fields::{FieldsDiff, diff_fields, fields_eq};
#[cfg(feature = "insta")]
#[doc(hidden)]
pub use golden::__insta;
#[cfg(feature = "insta")]
pub use golden::{K8S_REDACTIONS, redact_k8s};
