//! Typed snapshots compared field by field.
//!
//! A test declares `#[derive(Serialize)] struct Snap { phase, ready_replicas, .. }`,
//! fills it from the objects it reads, and compares it with the expected
//! one. `assert_eq!` would print two `Debug` dumps to diff by eye; this
//! prints one line per differing field with its path.

use crate::matchers::{Matcher, Mismatch, to_json};
use serde::Serialize;
use std::fmt;

/// Every differing field between an actual and an expected snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsDiff {
    /// One entry per differing leaf field.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for FieldsDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.mismatches.len();
        writeln!(
            f,
            "snapshot differs in {n} field{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for m in &self.mismatches {
            writeln!(f, "  {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldsDiff {}

/// The fields where `actual` differs from `expected` (both serialized), one
/// mismatch per differing leaf; `null` equals a missing field.
pub fn diff_fields<A: Serialize + ?Sized, E: Serialize + ?Sized>(
    actual: &A,
    expected: &E,
) -> Vec<Mismatch> {
    let (a, e) = match (to_json(actual), to_json(expected)) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(m), _) | (_, Err(m)) => return vec![m],
    };
    crate::matchers::eq(&e).mismatches(Some(&a), "")
}

/// `Ok` when equal, else every differing field.
pub fn fields_eq<A: Serialize + ?Sized, E: Serialize + ?Sized>(
    actual: &A,
    expected: &E,
) -> Result<(), FieldsDiff> {
    let mismatches = diff_fields(actual, expected);
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(FieldsDiff { mismatches })
    }
}

/// Panics with one line per differing field when two snapshots differ.
#[macro_export]
macro_rules! assert_fields_eq {
    ($actual:expr, $expected:expr $(,)?) => {
        if let Err(diff) = $crate::snapshot::fields_eq(&$actual, &$expected) {
            panic!("{diff}");
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize, Clone)]
    #[serde(rename_all = "camelCase")]
    struct Snap {
        phase: &'static str,
        ready_replicas: u32,
        rollout_started_at: Option<&'static str>,
        child_images: Vec<&'static str>,
    }

    fn stuck() -> Snap {
        Snap {
            phase: "Upgrading",
            ready_replicas: 3,
            rollout_started_at: Some("2026-11-23T10:00:00Z"),
            child_images: vec!["sei:v2", "sei:v2", "sei:v2"],
        }
    }

    #[test]
    fn equal_snapshots_pass() {
        assert_eq!(fields_eq(&stuck(), &stuck()), Ok(()));
        crate::assert_fields_eq!(stuck(), stuck());
    }

    #[test]
    fn each_differing_field_gets_its_own_line() {
        let mut got = stuck();
        got.phase = "Ready";
        got.rollout_started_at = None;
        got.child_images[1] = "sei:v1";
        let diff = fields_eq(&got, &stuck()).unwrap_err();
        assert_eq!(
            diff.to_string(),
            "snapshot differs in 3 fields:\n\
             \x20 phase: expected \"Upgrading\", got \"Ready\"\n\
             \x20 rolloutStartedAt: expected \"2026-11-23T10:00:00Z\", got absent\n\
             \x20 childImages[1]: expected \"sei:v2\", got \"sei:v1\"\n"
        );
    }

    #[test]
    #[should_panic(expected = "readyReplicas: expected 3, got 2")]
    fn the_macro_panics_with_the_diff() {
        let mut got = stuck();
        got.ready_replicas = 2;
        crate::assert_fields_eq!(got, stuck());
    }
}
