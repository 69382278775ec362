//! The checks a CRD's `x-kubernetes-validations` get when the CRD is
//! written (apiextensions' `pkg/apis/apiextensions/validation/validation.go`,
//! `validateCustomResourceDefinitionOpenAPISchema`): required and one-line
//! texts, known reasons, resolvable field paths, rules that compile, and
//! `oldSelf` only where old values correlate.

use serde_json::Value as Json;

use crate::store::meta::text;

const REASONS: &[&str] = &[
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// The 422 causes of every rule under `schema`, whose field path is `at`
/// (`spec.validation.openAPIV3Schema` or `spec.versions[i].schema.openAPIV3Schema`).
pub(crate) fn check(schema: &Json, at: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(schema, at, None, true, &mut out);
    out
}

fn walk(
    schema: &Json,
    at: &str,
    uncorrelatable: Option<&str>,
    root: bool,
    out: &mut Vec<(String, String)>,
) {
    if let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Json::as_array)
    {
        let this = super::check::self_schema(schema, root);
        for (i, rule) in rules.iter().enumerate() {
            let p = format!("{at}.x-kubernetes-validations[{i}]");
            check_rule(schema, &this, rule, &p, uncorrelatable, out);
        }
    }
    if let Some(props) = schema.get("properties").and_then(Json::as_object) {
        for (k, ps) in props {
            walk(
                ps,
                &format!("{at}.properties[{k}]"),
                uncorrelatable,
                false,
                out,
            );
        }
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        walk(
            extra,
            &format!("{at}.additionalProperties"),
            uncorrelatable,
            false,
            out,
        );
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        let is_map = schema.get("x-kubernetes-list-type").and_then(Json::as_str) == Some("map");
        let below = if is_map {
            uncorrelatable
        } else {
            uncorrelatable.or(Some(at))
        };
        walk(items, &format!("{at}.items"), below, false, out);
    }
}

/// The rule as Go's `%#v` prints an `apiextensions.ValidationRule`, the
/// bad value of a compile error. A set `reason` or `optionalOldSelf` is a
/// pointer upstream, printed as an address no fake can reproduce.
fn go_dump(rule: &Json) -> String {
    let pointer = |key: &str, ty: &str| match rule.get(key) {
        Some(v) if !v.is_null() => format!("(*{ty})(0xc000000000)"),
        _ => format!("(*{ty})(nil)"),
    };
    format!(
        "apiextensions.ValidationRule{{Rule:{:?}, Message:{:?}, MessageExpression:{:?}, Reason:{}, FieldPath:{:?}, OptionalOldSelf:{}}}",
        text(rule, "rule"),
        text(rule, "message"),
        text(rule, "messageExpression"),
        pointer("reason", "apiextensions.FieldValueErrorReason"),
        text(rule, "fieldPath"),
        pointer("optionalOldSelf", "bool"),
    )
}

fn check_rule(
    schema: &Json,
    this: &Json,
    rule: &Json,
    p: &str,
    uncorrelatable: Option<&str>,
    out: &mut Vec<(String, String)>,
) {
    let before = out.len();
    let (source, message) = (text(rule, "rule"), text(rule, "message"));
    let line_break = |s: &str| s.contains(['\n', '\r']);
    if source.trim().is_empty() {
        out.push((
            format!("{p}.rule"),
            "Required value: rule is not specified".into(),
        ));
    } else if !message.is_empty() && message.trim().is_empty() {
        out.push((
            format!("{p}.message"),
            format!("Invalid value: {message:?}: message must be non-empty if specified"),
        ));
    } else if line_break(message.trim()) {
        out.push((
            format!("{p}.message"),
            format!("Invalid value: {message:?}: message must not contain line breaks"),
        ));
    } else if line_break(source.trim()) && message.is_empty() {
        out.push((
            format!("{p}.message"),
            "Required value: message must be specified if rule contains line breaks".into(),
        ));
    }
    let expression = text(rule, "messageExpression");
    if !expression.is_empty() && expression.trim().is_empty() {
        out.push((
            format!("{p}.messageExpression"),
            "Required value: messageExpression must be non-empty if specified".into(),
        ));
    }
    if let Some(reason) = rule.get("reason").and_then(Json::as_str)
        && !REASONS.contains(&reason)
    {
        let supported: Vec<String> = REASONS.iter().map(|r| format!("{r:?}")).collect();
        out.push((
            format!("{p}.reason"),
            format!(
                "Unsupported value: {reason:?}: supported values: {}",
                supported.join(", ")
            ),
        ));
    }
    if let Some(fp) = rule.get("fieldPath").and_then(Json::as_str) {
        let problem = if fp.trim().is_empty() {
            Some("fieldPath must be non-empty if specified")
        } else if line_break(fp) {
            Some("fieldPath must not contain line breaks")
        } else if super::rules::normalized_field_path(schema, fp.trim()).is_none() {
            Some("fieldPath must be a valid path")
        } else {
            None
        };
        if let Some(problem) = problem {
            out.push((
                format!("{p}.fieldPath"),
                format!("Invalid value: {fp:?}: {problem}"),
            ));
        }
    }
    if out.len() > before {
        return;
    }
    match super::compile(source) {
        Err(issues) => out.push((
            format!("{p}.rule"),
            format!(
                "Invalid value: {}: compilation failed: {issues}",
                go_dump(rule)
            ),
        )),
        Ok(compiled) => {
            let issues = super::check::undefined_fields(source, &compiled.expression, this);
            if !issues.is_empty() {
                out.push((
                    format!("{p}.rule"),
                    format!(
                        "Invalid value: {}: compilation failed: {}",
                        go_dump(rule),
                        issues.join("\n")
                    ),
                ));
            }
            if compiled.uses_old_self
                && let Some(list) = uncorrelatable
            {
                out.push((
                    format!("{p}.rule"),
                    format!("Invalid value: {source:?}: oldSelf cannot be used on the uncorrelatable portion of the schema within {list}"),
                ));
            }
            if !compiled.uses_old_self
                && rule
                    .get("optionalOldSelf")
                    .and_then(Json::as_bool)
                    .is_some()
            {
                let set = rule["optionalOldSelf"].as_bool().unwrap_or_default();
                out.push((
                    format!("{p}.optionalOldSelf"),
                    format!("Invalid value: {set}: may not be set if oldSelf is not used in rule"),
                ));
            }
        }
    }
    if !expression.trim().is_empty() {
        let issues = match super::compile(expression) {
            Err(issues) => issues,
            Ok(c) => super::check::undefined_fields(expression, &c.expression, this).join("\n"),
        };
        if !issues.is_empty() {
            out.push((
                format!("{p}.messageExpression"),
                format!(
                    "Invalid value: {}: messageExpression compilation failed: {issues}",
                    go_dump(rule)
                ),
            ));
        }
    }
}
