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
    let mut total = Total::default();
    let place = Place {
        at: at.to_string(),
        uncorrelatable: None,
        root: true,
        cardinality: Some(1),
    };
    walk(schema, &place, &mut total, &mut out);
    total.check(at, &mut out);
    out
}

/// Where a schema node sits: its field path, the list above it that makes
/// `oldSelf` uncorrelatable, and how many times a request may hold it
/// (`None`: unbounded).
struct Place {
    at: String,
    uncorrelatable: Option<String>,
    root: bool,
    cardinality: Option<u64>,
}

impl Place {
    fn child(&self, parent: &Json, suffix: &str, uncorrelatable: Option<String>) -> Self {
        Self {
            at: format!("{}{suffix}", self.at),
            uncorrelatable,
            root: false,
            cardinality: self
                .cardinality
                .zip(super::cost::children(parent))
                .map(|(a, b)| a.saturating_mul(b)),
        }
    }
}

/// The schema's estimated cost, all rules together (`TotalCost`), with the
/// four most expensive rules of at least a hundredth of the limit.
#[derive(Default)]
struct Total {
    sum: u64,
    most_expensive: Vec<(String, u64)>,
}

impl Total {
    fn observe(&mut self, path: String, cost: u64) {
        self.sum = self.sum.saturating_add(cost);
        if cost >= super::cost::SCHEMA_LIMIT / 100 {
            self.most_expensive.push((path, cost));
            self.most_expensive.sort_by_key(|e| std::cmp::Reverse(e.1));
            self.most_expensive.truncate(4);
        }
    }

    fn check(self, at: &str, out: &mut Vec<(String, String)>) {
        if self.sum <= super::cost::SCHEMA_LIMIT {
            return;
        }
        for (path, _) in self.most_expensive {
            out.push((
                path,
                "Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema".into(),
            ));
        }
        out.push((
            at.to_string(),
            format!(
                "Forbidden: {}",
                super::cost::exceeds(
                    "x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema",
                    self.sum,
                    super::cost::SCHEMA_LIMIT
                )
            ),
        ));
    }
}

fn walk(schema: &Json, place: &Place, total: &mut Total, out: &mut Vec<(String, String)>) {
    if let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Json::as_array)
    {
        let this = super::check::self_schema(schema, place.root);
        let cardinality = place
            .cardinality
            .unwrap_or_else(|| super::cost::unbounded_cardinality(&this));
        for (i, rule) in rules.iter().enumerate() {
            let p = format!("{}.x-kubernetes-validations[{i}]", place.at);
            let rule_place = RulePlace {
                path: &p,
                uncorrelatable: place.uncorrelatable.as_deref(),
                cardinality,
            };
            check_rule(schema, &this, rule, &rule_place, total, out);
        }
    }
    if let Some(props) = schema.get("properties").and_then(Json::as_object) {
        for (k, ps) in props {
            let child = place.child(
                schema,
                &format!(".properties[{k}]"),
                place.uncorrelatable.clone(),
            );
            walk(ps, &child, total, out);
        }
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        let child = place.child(
            schema,
            ".additionalProperties",
            place.uncorrelatable.clone(),
        );
        walk(extra, &child, total, out);
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        let is_map = schema.get("x-kubernetes-list-type").and_then(Json::as_str) == Some("map");
        let below = if is_map {
            place.uncorrelatable.clone()
        } else {
            place.uncorrelatable.clone().or(Some(place.at.clone()))
        };
        let child = place.child(schema, ".items", below);
        walk(items, &child, total, out);
    }
}

/// Refuses an expression whose estimated cost is over the per-rule limit,
/// and adds it to the schema's total.
fn budget(
    field: String,
    what: &str,
    cost: u64,
    total: &mut Total,
    out: &mut Vec<(String, String)>,
) {
    if cost > super::cost::RULE_LIMIT {
        let message = super::cost::exceeds(what, cost, super::cost::RULE_LIMIT);
        out.push((field.clone(), format!("Forbidden: {message}")));
    }
    total.observe(field, cost);
}

/// A rule's field path, the list that makes its `oldSelf` uncorrelatable,
/// and how many times it may run per request.
struct RulePlace<'a> {
    path: &'a str,
    uncorrelatable: Option<&'a str>,
    cardinality: u64,
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
    place: &RulePlace<'_>,
    total: &mut Total,
    out: &mut Vec<(String, String)>,
) {
    let (p, uncorrelatable) = (place.path, place.uncorrelatable);
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
            if issues.is_empty() {
                let cost = super::cost::estimate(&compiled.expression, this)
                    .saturating_mul(place.cardinality);
                budget(format!("{p}.rule"), "estimated rule cost", cost, total, out);
            }
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
            Ok(c) => {
                let issues = super::check::undefined_fields(expression, &c.expression, this);
                if issues.is_empty() {
                    // Not multiplied by cardinality: a message is built once.
                    let cost = super::cost::estimate(&c.expression, this);
                    let field = format!("{p}.messageExpression");
                    budget(field, "estimated messageExpression cost", cost, total, out);
                }
                issues.join("\n")
            }
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
