//! Composable matchers over any `serde::Serialize` value.
//!
//! A value is serialized once to `serde_json::Value` and every matcher reads
//! that, so the same matchers work on a typed Kubernetes object, a test's own
//! snapshot struct, or a `json!` literal, and paths use the JSON names
//! (`status.readyReplicas`) that `kubectl` shows.
//!
//! Unlike a boolean predicate, a matcher returns *every* way the value falls
//! short ([`Mismatch`]: path, expected, actual), so a flaky `consistently`
//! explains itself in one run (Gomega's `SatisfyAll(HaveField(..))`, but
//! without stopping at the first failing field).
//!
//! Missing fields and JSON `null` are treated alike ("absent"): Go operators
//! omit empty fields while Rust structs serialize `None` as `null`, and a
//! test should not care which one produced the object.

mod basic;
mod combine;
mod field;
mod path;
mod render;
mod stable;

pub use basic::{
    Zero, absent, contains, eq, ge, gt, le, lt, matches_regex, not, present, try_matches_regex,
    zero,
};
pub use combine::{AllOf, AnyOf, all_of, any_of};
pub use field::{Condition, Field, condition, field, no_condition, try_field};
pub use path::{FieldPath, PathError, Segment, join as join_path};
pub use render::{render, render_pretty};
pub use stable::{Stable, stable};

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// A check of one JSON value that explains every way it fails.
///
/// Implementations must be `Send + Sync` so a wait future stays `Send`; a
/// matcher that remembers earlier attempts (see [`stable`]) uses interior
/// mutability and clears it in [`Matcher::reset`].
pub trait Matcher: Send + Sync {
    /// Every way `actual` falls short; empty when it matches.
    ///
    /// `actual` is `None` when the field does not exist; `at` is its path,
    /// used to name the field in each [`Mismatch`].
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch>;

    /// What the matcher expects, short enough for one table cell
    /// (`= "Ready"`, `present`, `Ready=True`).
    fn describe(&self) -> String;

    /// Forgets what earlier attempts observed; a wait calls this once before
    /// its first attempt, so a reused matcher starts fresh.
    fn reset(&self) {}
}

impl<M: Matcher + ?Sized> Matcher for Box<M> {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        (**self).mismatches(actual, at)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn reset(&self) {
        (**self).reset()
    }
}

impl<M: Matcher + ?Sized> Matcher for std::sync::Arc<M> {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        (**self).mismatches(actual, at)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn reset(&self) {
        (**self).reset()
    }
}

/// A boxed matcher, for lists of matchers of different types.
pub type BoxMatcher = Box<dyn Matcher>;

/// Boxes any matcher; handy for `vec![..]` of mixed matchers.
pub fn boxed(m: impl Matcher + 'static) -> BoxMatcher {
    Box::new(m)
}

/// One way a value differs from what a matcher expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Where: a field path (`status.phase`), `condition Ready`, or empty for the value itself.
    pub path: String,
    /// What the matcher wanted, rendered for humans.
    pub expected: String,
    /// What was there (`absent` when the field does not exist).
    pub actual: String,
}

impl Mismatch {
    /// A mismatch at `path`.
    pub fn new(path: &str, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Self {
            path: path.to_string(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "value"
        } else {
            &self.path
        };
        write!(f, "{path}: expected {}, got {}", self.expected, self.actual)
    }
}

/// Every mismatch of one value against one matcher, plus the value itself.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchFailure {
    /// What the matcher expected as a whole.
    pub expectation: String,
    /// Each failing field.
    pub mismatches: Vec<Mismatch>,
    /// The value as the matcher saw it (`None` when it could not be serialized).
    pub value: Option<Value>,
}

impl fmt::Display for MatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "value does not match: {}", self.expectation)?;
        for m in &self.mismatches {
            writeln!(f, "  {m}")?;
        }
        if let Some(v) = &self.value {
            writeln!(f, "value:")?;
            for line in render_pretty(v).lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for MatchFailure {}

/// Serializes `value` once to JSON; a serialization failure becomes a
/// mismatch rather than a panic, so a wait reports it like any other.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Value, Mismatch> {
    serde_json::to_value(value).map_err(|e| {
        Mismatch::new(
            "",
            "a value serde_json can serialize",
            format!("error: {e}"),
        )
    })
}

/// Checks one value against one matcher, outside of any wait.
pub fn check<T: Serialize + ?Sized>(value: &T, matcher: &dyn Matcher) -> Result<(), MatchFailure> {
    let json = match to_json(value) {
        Ok(v) => v,
        Err(m) => {
            return Err(MatchFailure {
                expectation: matcher.describe(),
                mismatches: vec![m],
                value: None,
            });
        }
    };
    let mismatches = matcher.mismatches(Some(&json), "");
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(MatchFailure {
            expectation: matcher.describe(),
            mismatches,
            value: Some(json),
        })
    }
}

/// Panics with every failing field when `value` does not match.
///
/// ```
/// use kube_harness_assert::prelude::*;
/// let status = json!({
///     "phase": "Ready",
///     "conditions": [{"type": "Ready", "status": "True"}],
/// });
/// assert_that!(status, all_of![field("phase", eq("Ready")), condition("Ready", "True")]);
/// ```
#[macro_export]
macro_rules! assert_that {
    ($value:expr, $matcher:expr $(,)?) => {
        if let Err(failure) = $crate::matchers::check(&$value, &$matcher) {
            panic!("{failure}");
        }
    };
}
