//! Stability: a field keeps the value it had at the first attempt.

use super::path::{FieldPath, PathError};
use super::render::render;
use super::{Matcher, Mismatch};
use serde_json::Value;
use std::sync::Mutex;

/// Remembers a field's first observed value; see [`stable`].
pub struct Stable {
    path: FieldPath,
    /// `None` until the first attempt; then the value seen (`None` inside = absent).
    first: Mutex<Option<Option<Value>>>,
}

/// The field at `path` keeps the value it had at the first attempt of the
/// wait (e.g. `status.rollout.startedAt` must not be re-stamped while a
/// rollout is stuck: age-based alerts read it). An empty path means the
/// whole value. The memory is cleared when a wait starts, so one matcher
/// can serve several waits.
///
/// # Panics
/// When `path` does not parse.
pub fn stable(path: &str) -> Stable {
    try_stable(path).unwrap_or_else(|e| panic!("{e}"))
}

fn try_stable(path: &str) -> Result<Stable, PathError> {
    Ok(Stable {
        path: FieldPath::parse(path)?,
        first: Mutex::new(None),
    })
}

impl Matcher for Stable {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let now = self.path.resolve(actual).filter(|v| !v.is_null()).cloned();
        let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        match &*first {
            None => {
                *first = Some(now);
                Vec::new()
            }
            Some(seen) if *seen == now => Vec::new(),
            Some(seen) => vec![Mismatch::new(
                &super::path::join(at, self.path.as_str()),
                format!("{} (first observed)", render(seen.as_ref())),
                render(now.as_ref()),
            )],
        }
    }
    fn describe(&self) -> String {
        if self.path.as_str().is_empty() {
            "stable".to_string()
        } else {
            format!("{} stable", self.path)
        }
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
        let m = stable("rollout.startedAt");
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
    }
}
