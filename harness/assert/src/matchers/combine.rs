//! `all_of` / `any_of`: combining matchers without losing any failing field.

use super::render::render;
use super::{BoxMatcher, Matcher, Mismatch};
use serde_json::Value;

/// Every inner matcher must pass; reports the mismatches of all of them.
pub struct AllOf(Vec<BoxMatcher>);

/// Every matcher must pass; a failure lists every failing field, not the
/// first (Gomega's `SatisfyAll` stops at one). See also the [`all_of!`](crate::all_of!) macro.
pub fn all_of(matchers: Vec<BoxMatcher>) -> AllOf {
    AllOf(matchers)
}

impl Matcher for AllOf {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        self.0
            .iter()
            .flat_map(|m| m.mismatches(actual, at))
            .collect()
    }
    fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|m| m.describe()).collect();
        parts.join(" and ")
    }
    fn reset(&self) {
        self.0.iter().for_each(|m| m.reset())
    }
}

/// At least one inner matcher must pass.
pub struct AnyOf(Vec<BoxMatcher>);

/// At least one matcher must pass; a failure shows each alternative's
/// complaint. See also the [`any_of!`](crate::any_of!) macro.
pub fn any_of(matchers: Vec<BoxMatcher>) -> AnyOf {
    AnyOf(matchers)
}

impl Matcher for AnyOf {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let mut inner = Vec::new();
        for m in &self.0 {
            let ms = m.mismatches(actual, at);
            if ms.is_empty() {
                return Vec::new();
            }
            inner.extend(ms);
        }
        // Alternatives on this very value: show the value once. Alternatives
        // on sub-fields: say what each field was.
        let got = if inner.iter().all(|m| m.path == at) {
            render(actual)
        } else {
            let parts: Vec<String> = inner
                .iter()
                .map(|m| format!("{} was {}", m.path, m.actual))
                .collect();
            parts.join(", ")
        };
        vec![Mismatch::new(at, self.describe(), got)]
    }
    fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|m| m.describe()).collect();
        parts.join(" or ")
    }
    fn reset(&self) {
        self.0.iter().for_each(|m| m.reset())
    }
}

/// `all_of![m1, m2, ..]`: every matcher must pass; all failing fields are reported.
#[macro_export]
macro_rules! all_of {
    ($($m:expr),* $(,)?) => {
        $crate::matchers::all_of(vec![$($crate::matchers::boxed($m)),*])
    };
}

/// `any_of![m1, m2, ..]`: at least one matcher must pass.
#[macro_export]
macro_rules! any_of {
    ($($m:expr),* $(,)?) => {
        $crate::matchers::any_of(vec![$($crate::matchers::boxed($m)),*])
    };
}

#[cfg(test)]
mod tests {
    use crate::matchers::*;
    use serde_json::json;

    #[test]
    fn all_of_reports_every_failing_field() {
        let m = crate::all_of![
            field("phase", eq("Upgrading")),
            field("ready", eq(3)),
            field("rollout", present()),
            condition("Ready", "True"),
        ];
        let v = json!({"phase": "Ready", "ready": 3, "status": {"conditions": []}});
        let got = m.mismatches(Some(&v), "");
        assert_eq!(
            got,
            vec![
                Mismatch::new("phase", "\"Upgrading\"", "\"Ready\""),
                Mismatch::new("rollout", "present", "absent"),
                Mismatch::new("condition Ready", "Ready=True", "absent"),
            ]
        );
        assert!(crate::all_of![].mismatches(Some(&v), "").is_empty());
        assert_eq!(
            crate::all_of![eq(1), present()].describe(),
            "= 1 and present"
        );
    }

    #[test]
    fn any_of_passes_on_one_and_explains_all_alternatives() {
        let m = crate::any_of![eq("Paused"), eq("Ready")];
        assert!(m.mismatches(Some(&json!("Ready")), "phase").is_empty());
        assert_eq!(
            m.mismatches(Some(&json!("Upgrading")), "phase"),
            vec![Mismatch::new(
                "phase",
                "= \"Paused\" or = \"Ready\"",
                "\"Upgrading\""
            )]
        );
        let m = crate::any_of![field("a", eq(1)), field("b", eq(2))];
        assert_eq!(
            m.mismatches(Some(&json!({"a": 0})), ""),
            vec![Mismatch::new("", "a = 1 or b = 2", "a was 0, b was absent")]
        );
        assert!(!crate::any_of![].mismatches(Some(&json!(1)), "").is_empty());
    }
}
