//! The checks a ValidatingAdmissionPolicy and its binding get when written
//! (`pkg/apis/admissionregistration/validation/validation.go`): the ones a
//! policy author trips over, worded as there.

use serde_json::Value;

use crate::store::meta::text;

pub(super) fn list<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn supported(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A CEL expression that must parse: `Required` when empty, else
/// `compilation failed: <issues>`.
fn expression(field: String, expr: &str, what: &str, out: &mut Vec<(String, String)>) {
    if expr.trim().is_empty() {
        out.push((field, format!("Required value: {what} is not specified")));
    } else if let Err(issues) = crate::cel_rules::compile(expr) {
        out.push((
            field,
            format!("Invalid value: {expr:?}: compilation failed: {issues}"),
        ));
    }
}

/// `ValidateValidatingAdmissionPolicy`'s causes.
pub(crate) fn policy(obj: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let failure = text(spec, "failurePolicy");
    if !["Fail", "Ignore"].contains(&failure) {
        out.push((
            "spec.failurePolicy".into(),
            format!(
                "Unsupported value: {failure:?}: supported values: {}",
                supported(&["Fail", "Ignore"])
            ),
        ));
    }
    match spec.get("matchConstraints").filter(|m| m.is_object()) {
        None => out.push(("spec.matchConstraints".into(), "Required value".into())),
        Some(m) if list(m, "/resourceRules").is_empty() => out.push((
            "spec.matchConstraints.resourceRules".into(),
            "Required value".into(),
        )),
        Some(_) => {}
    }
    for (i, c) in list(spec, "/matchConditions").iter().enumerate() {
        let at = format!("spec.matchConditions[{i}]");
        if text(c, "name").is_empty() {
            out.push((format!("{at}.name"), "Required value".into()));
        }
        expression(
            format!("{at}.expression"),
            text(c, "expression"),
            "expression",
            &mut out,
        );
    }
    for (i, v) in list(spec, "/variables").iter().enumerate() {
        let at = format!("spec.variables[{i}]");
        if text(v, "name").is_empty() {
            out.push((
                format!("{at}.name"),
                "Required value: name is not specified".into(),
            ));
        }
        expression(
            format!("{at}.expression"),
            text(v, "expression"),
            "expression",
            &mut out,
        );
    }
    let validations = list(spec, "/validations");
    if validations.is_empty() && list(spec, "/auditAnnotations").is_empty() {
        for field in ["spec.validations", "spec.auditAnnotations"] {
            out.push((
                field.into(),
                "Required value: validations or auditAnnotations must contain at least one item"
                    .into(),
            ));
        }
    }
    for (i, v) in validations.iter().enumerate() {
        let at = format!("spec.validations[{i}]");
        expression(
            format!("{at}.expression"),
            text(v, "expression"),
            "expression",
            &mut out,
        );
        let message = text(v, "message");
        if !message.is_empty() && message.trim().is_empty() {
            out.push((
                format!("{at}.message"),
                format!("Invalid value: {message:?}: message must be non-empty if specified"),
            ));
        } else if message.contains('\n') {
            out.push((
                format!("{at}.message"),
                format!("Invalid value: {message:?}: message must not contain line breaks"),
            ));
        }
        let message_expression = text(v, "messageExpression");
        if !message_expression.is_empty() {
            expression(
                format!("{at}.messageExpression"),
                message_expression,
                "messageExpression",
                &mut out,
            );
        }
        if let Some(reason) = v.get("reason").and_then(Value::as_str) {
            let reasons = ["Forbidden", "Invalid", "RequestEntityTooLarge"];
            if !reasons.contains(&reason) {
                out.push((
                    format!("{at}.reason"),
                    format!(
                        "Unsupported value: {reason:?}: supported values: {}",
                        supported(&reasons)
                    ),
                ));
            }
        }
    }
    out
}

/// `ValidateValidatingAdmissionPolicyBinding`'s causes.
pub(crate) fn binding(obj: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if text(spec, "policyName").is_empty() {
        out.push(("spec.policyName".into(), "Required value".into()));
    }
    let actions: Vec<&str> = list(spec, "/validationActions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if actions.is_empty() {
        out.push((
            "spec.validationActions".into(),
            "Required value: at least one validation action is required".into(),
        ));
    }
    for (i, a) in actions.iter().enumerate() {
        if !["Audit", "Deny", "Warn"].contains(a) {
            out.push((
                format!("spec.validationActions[{i}]"),
                format!(
                    "Unsupported value: {a:?}: supported values: {}",
                    supported(&["Audit", "Deny", "Warn"])
                ),
            ));
        } else if actions[..i].contains(a) {
            out.push((
                format!("spec.validationActions[{i}]"),
                format!("Duplicate value: {a:?}"),
            ));
        }
    }
    if actions.contains(&"Deny") && actions.contains(&"Warn") {
        let shown: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
        out.push((
            "spec.validationActions".into(),
            format!(
                "Invalid value: []string{{{}}}: must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
                shown.join(", ")
            ),
        ));
    }
    if let Some(r) = spec.get("paramRef").filter(|r| r.is_object()) {
        match (
            text(r, "name").is_empty(),
            r.get("selector").is_some_and(Value::is_object),
        ) {
            (true, false) => out.push((
                "spec.paramRef".into(),
                "Required value: one of name or selector must be specified".into(),
            )),
            (false, true) => {
                for f in ["name", "selector"] {
                    out.push((
                        format!("spec.paramRef.{f}"),
                        "Forbidden: name and selector are mutually exclusive".into(),
                    ));
                }
            }
            _ => {}
        }
        match r.get("parameterNotFoundAction").and_then(Value::as_str) {
            None => out.push((
                "spec.paramRef.parameterNotFoundAction".into(),
                "Required value".into(),
            )),
            Some(a) if !["Deny", "Allow"].contains(&a) => out.push((
                "spec.paramRef.parameterNotFoundAction".into(),
                format!(
                    "Unsupported value: {a:?}: supported values: {}",
                    supported(&["Deny", "Allow"])
                ),
            )),
            Some(_) => {}
        }
    }
    out
}
