//! `field(path, m)` and Kubernetes conditions.

use super::path::{FieldPath, PathError, join};
use super::{Matcher, Mismatch};
use serde_json::Value;

/// Applies a matcher to the value at a path; see [`field`].
pub struct Field<M> {
    path: FieldPath,
    inner: M,
}

/// Applies `m` to the value at `path` (`status.conditions[type=Ready].status`,
/// `spec.template.spec.containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`).
/// A missing step makes the field absent, which only [`absent`](super::absent)
/// (or `not(present())`) accepts.
///
/// # Panics
/// When `path` does not parse; the message names the problem. Use
/// [`try_field`] to handle it instead.
pub fn field<M: Matcher>(path: &str, m: M) -> Field<M> {
    try_field(path, m).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`field`], returning the parse error instead of panicking.
pub fn try_field<M: Matcher>(path: &str, m: M) -> Result<Field<M>, PathError> {
    Ok(Field {
        path: FieldPath::parse(path)?,
        inner: m,
    })
}

impl<M: Matcher> Matcher for Field<M> {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        self.inner
            .mismatches(self.path.resolve(actual), &join(at, self.path.as_str()))
    }
    fn describe(&self) -> String {
        format!("{} {}", self.path, self.inner.describe())
    }
    fn reset(&self) {
        self.inner.reset()
    }
}

/// The `conditions` list of a Kubernetes object (`status.conditions`), or of
/// a status / snapshot given directly (`conditions`).
fn conditions(actual: Option<&Value>) -> Option<&Vec<Value>> {
    let v = actual?;
    v.pointer("/status/conditions")
        .and_then(Value::as_array)
        .or_else(|| v.get("conditions").and_then(Value::as_array))
}

fn find<'v>(actual: Option<&'v Value>, type_: &str) -> Option<&'v Value> {
    conditions(actual)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn str_field<'v>(c: &'v Value, key: &str) -> Option<&'v str> {
    c.get(key).and_then(Value::as_str)
}

/// A condition of a given type with a given status (and optionally reason).
#[derive(Debug, Clone)]
pub struct Condition {
    type_: String,
    status: String,
    reason: Option<String>,
}

/// The object's condition `type_` has `status` (`"True"`, `"False"`,
/// `"Unknown"`). Reads `status.conditions`, or `conditions` when given a
/// status or a snapshot directly.
pub fn condition(type_: &str, status: &str) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: None,
    }
}

impl Condition {
    /// Also require this `reason` (e.g. `RolloutComplete`).
    pub fn reason(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }
}

/// How a found condition reads in a message: `Ready=False (reason Foo, message "…")`.
fn show(type_: &str, c: &Value) -> String {
    let mut s = format!(
        "{type_}={}",
        str_field(c, "status").unwrap_or("<no status>")
    );
    let mut extra = Vec::new();
    if let Some(r) = str_field(c, "reason").filter(|r| !r.is_empty()) {
        extra.push(format!("reason {r}"));
    }
    if let Some(m) = str_field(c, "message").filter(|m| !m.is_empty()) {
        extra.push(format!("message {m:?}"));
    }
    if !extra.is_empty() {
        s.push_str(&format!(" ({})", extra.join(", ")));
    }
    s
}

impl Matcher for Condition {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let path = join(at, &format!("condition {}", self.type_));
        let ok = find(actual, &self.type_).is_some_and(|c| {
            str_field(c, "status") == Some(self.status.as_str())
                && self
                    .reason
                    .as_deref()
                    .is_none_or(|r| str_field(c, "reason") == Some(r))
        });
        if ok {
            return Vec::new();
        }
        let got = find(actual, &self.type_)
            .map_or_else(|| "absent".to_string(), |c| show(&self.type_, c));
        vec![Mismatch::new(&path, self.describe(), got)]
    }
    fn describe(&self) -> String {
        match &self.reason {
            Some(r) => format!("{}={} (reason {r})", self.type_, self.status),
            None => format!("{}={}", self.type_, self.status),
        }
    }
}

/// No condition of this type at all; see [`no_condition`].
#[derive(Debug, Clone)]
pub struct NoCondition {
    type_: String,
}

/// The object has no condition of type `type_` (e.g. `Paused` on a stuck rollout).
pub fn no_condition(type_: &str) -> NoCondition {
    NoCondition {
        type_: type_.to_string(),
    }
}

impl Matcher for NoCondition {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        match find(actual, &self.type_) {
            None => Vec::new(),
            Some(c) => vec![Mismatch::new(
                &join(at, &format!("condition {}", self.type_)),
                self.describe(),
                show(&self.type_, c),
            )],
        }
    }
    fn describe(&self) -> String {
        format!("no {} condition", self.type_)
    }
}

#[cfg(test)]
mod tests {
    use crate::matchers::*;
    use serde_json::json;

    fn obj() -> serde_json::Value {
        json!({
            "metadata": {"name": "seid", "labels": {"app.kubernetes.io/name": "sei"}},
            "status": {
                "phase": "Upgrading",
                "readyReplicas": 3,
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "AllGood"},
                    {"type": "RolloutInProgress", "status": "False", "reason": "RolloutComplete", "message": "done"}
                ]
            }
        })
    }

    #[test]
    fn field_addresses_nested_paths_and_prefixes_mismatches() {
        let v = obj();
        assert!(
            field("status.phase", eq("Upgrading"))
                .mismatches(Some(&v), "")
                .is_empty()
        );
        assert!(
            field(r#"metadata.labels["app.kubernetes.io/name"]"#, eq("sei"))
                .mismatches(Some(&v), "")
                .is_empty()
        );
        assert_eq!(
            field("status.conditions[type=Ready].status", eq("False")).mismatches(Some(&v), ""),
            vec![Mismatch::new(
                "status.conditions[type=Ready].status",
                "\"False\"",
                "\"True\""
            )]
        );
        // nested field() joins paths
        let m = field("status", field("readyReplicas", gt(3)));
        assert_eq!(
            m.mismatches(Some(&v), ""),
            vec![Mismatch::new("status.readyReplicas", "> 3", "3")]
        );
        assert_eq!(m.describe(), "status readyReplicas > 3");
        assert_eq!(
            field("status.rollout", present()).mismatches(Some(&v), ""),
            vec![Mismatch::new("status.rollout", "present", "absent")]
        );
        assert!(matches!(
            try_field("a..b", present()),
            Err(PathError::EmptySegment { .. })
        ));
        let panic = std::panic::catch_unwind(|| {
            field("a[", present());
        })
        .unwrap_err();
        assert!(
            panic
                .downcast_ref::<String>()
                .unwrap()
                .contains("never closed")
        );
    }

    #[test]
    fn condition_checks_status_and_reason() {
        let v = obj();
        assert!(
            condition("Ready", "True")
                .mismatches(Some(&v), "")
                .is_empty()
        );
        assert!(
            condition("RolloutInProgress", "False")
                .reason("RolloutComplete")
                .mismatches(Some(&v), "")
                .is_empty()
        );
        assert_eq!(
            condition("RolloutInProgress", "True").mismatches(Some(&v), ""),
            vec![Mismatch::new(
                "condition RolloutInProgress",
                "RolloutInProgress=True",
                "RolloutInProgress=False (reason RolloutComplete, message \"done\")"
            )]
        );
        assert_eq!(
            condition("Ready", "True")
                .reason("Other")
                .mismatches(Some(&v), ""),
            vec![Mismatch::new(
                "condition Ready",
                "Ready=True (reason Other)",
                "Ready=True (reason AllGood)"
            )]
        );
        assert_eq!(
            condition("Paused", "True").mismatches(Some(&v), ""),
            vec![Mismatch::new("condition Paused", "Paused=True", "absent")]
        );
        // a status or snapshot given directly
        let status = v["status"].clone();
        assert!(
            condition("Ready", "True")
                .mismatches(Some(&status), "")
                .is_empty()
        );
        assert!(!condition("Ready", "True").mismatches(None, "").is_empty());
    }

    #[test]
    fn no_condition_requires_the_type_to_be_missing() {
        let v = obj();
        assert!(no_condition("Paused").mismatches(Some(&v), "").is_empty());
        assert_eq!(
            no_condition("Ready").mismatches(Some(&v), ""),
            vec![Mismatch::new(
                "condition Ready",
                "no Ready condition",
                "Ready=True (reason AllGood)"
            )]
        );
    }
}
