//! Stability: a field keeps the value it had at the first attempt.

use super::render::render;
use super::{Matcher, Mismatch};
use serde_json::Value;
use std::sync::Mutex;

/// Remembers the first observed value; see [`stable`].
pub struct Stable {
    /// `None` until the first attempt; then the value seen (`None` inside = absent).
    first: Mutex<Option<Option<Value>>>,
}

/// The value keeps what it was at the first attempt of the wait. Put it
/// under a [`field`](super::field) to pin one field:
/// `field("status.rollout.startedAt", stable())` (a stuck rollout must not
/// re-stamp it: age-based alerts read it). Absent counts as a value, so
/// appearing or disappearing is a change. The memory is cleared when a wait
/// starts, so one matcher can serve several waits.
pub fn stable() -> Stable {
    Stable {
        first: Mutex::new(None),
    }
}

impl Matcher for Stable {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let now = actual.filter(|v| !v.is_null()).cloned();
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        match &*first {
            None => {
                *first = Some(now);
                Vec::new()
            }
            Some(seen) if *seen == now => Vec::new(),
            Some(seen) => vec![Mismatch::new(
                at,
                format!("{} (first observed)", render(seen.as_ref())),
                render(now.as_ref()),
            )],
        }
    }
    fn describe(&self) -> String {
        "stable".to_string()
    }
    fn reset(&self) {
        *self.first.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use crate::matchers::*;
    use serde_json::json;

    #[test]
    fn stable_remembers_the_first_value_until_reset() {
        let m = field("rollout.startedAt", stable());
        let at = |t: &str| json!({"rollout": {"startedAt": t}});
        assert!(m.mismatches(Some(&at("10:00")), "").is_empty());
        assert!(m.mismatches(Some(&at("10:00")), "").is_empty());
        assert_eq!(
            m.mismatches(Some(&at("10:04")), "status"),
            vec![Mismatch::new(
                "status.rollout.startedAt",
                "\"10:00\" (first observed)",
                "\"10:04\""
            )]
        );
        // disappearing is a change too
        assert_eq!(m.mismatches(Some(&json!({})), "")[0].actual, "absent");
        m.reset();
        assert!(m.mismatches(Some(&at("10:04")), "").is_empty());
        assert_eq!(m.describe(), "rollout.startedAt stable");
        assert_eq!(stable().describe(), "stable");
    }
}
