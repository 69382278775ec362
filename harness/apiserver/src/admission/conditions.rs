//! CEL in admission: compiling and running an expression with admission's
//! variables, and `matchConditions`, which policies and webhooks share
//! (apiserver's `admission/plugin/webhook/matchconditions`).

use kube_cel::cel;
use serde_json::Value;

use crate::cel_rules;

/// The variables an expression is evaluated with.
pub(super) type Vars = Vec<(&'static str, cel::Value)>;

/// Compiles (cached) and evaluates an expression, errors worded as
/// upstream's.
pub(super) fn run(expr: &str, vars: Vars) -> Result<cel::Value, String> {
    let compiled = cel_rules::compile(expr).map_err(|e| format!("compilation error: {e}"))?;
    cel_rules::eval_with(&compiled, vars).map_err(|e| {
        format!(
            "expression '{expr}' resulted in error: {}",
            cel_rules::error_text(&e)
        )
    })
}

/// How a list of `matchConditions` came out.
pub(super) enum Matched {
    /// Every condition is true.
    Yes,
    /// One is false: the policy or webhook does not apply, whatever the
    /// others say.
    No,
    /// None is false but some failed to evaluate (deduplicated, in order).
    Errors(Vec<String>),
}

pub(super) fn check(conditions: &[Value], vars: impl Fn() -> Vars) -> Matched {
    let mut errors: Vec<String> = Vec::new();
    for condition in conditions {
        let expr = condition
            .get("expression")
            .and_then(Value::as_str)
            .unwrap_or("");
        match run(expr, vars()) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(_) => return Matched::No,
            Err(e) => {
                if !errors.contains(&e) {
                    errors.push(e);
                }
            }
        }
    }
    if errors.is_empty() {
        Matched::Yes
    } else {
        Matched::Errors(errors)
    }
}

/// Several errors as Go's `utilerrors.NewAggregate` prints them.
pub(super) fn aggregate(mut errors: Vec<String>) -> String {
    if errors.len() == 1 {
        errors.remove(0)
    } else {
        format!("[{}]", errors.join(", "))
    }
}
