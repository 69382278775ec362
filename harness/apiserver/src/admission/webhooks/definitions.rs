//! The checks a Validating/MutatingWebhookConfiguration gets when written
//! (`pkg/apis/admissionregistration/validation/validation.go`
//! `validateValidatingWebhook`, `validateMutatingWebhook`,
//! `validateAdmissionReviewVersions`; the URL and service checks of
//! apiserver's `pkg/util/webhook/validation.go`), worded as there.

use serde_json::Value;

use super::super::definitions::{list, supported};
use crate::services::go_strings;
use crate::store::meta::{strings, text};
use crate::validation::is_dns_subdomain;

type Causes = Vec<(String, String)>;

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const URL_FORM: &str = "; desired format: https://host[/path]";

fn unsupported(out: &mut Causes, field: String, value: &str, allowed: &[&str]) {
    out.push((
        field,
        format!(
            "Unsupported value: {value:?}: supported values: {}",
            supported(allowed)
        ),
    ));
}

/// Every webhook of a configuration, then duplicate names.
pub(crate) fn configuration(obj: &Value, mutating: bool) -> Causes {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, hook) in list(obj, "/webhooks").iter().enumerate() {
        let at = format!("webhooks[{i}]");
        webhook(hook, &at, mutating, &mut out);
        review_versions(hook, &at, &mut out);
        let name = text(hook, "name");
        if !name.is_empty() {
            if seen.iter().any(|n| n == name) {
                out.push((format!("{at}.name"), format!("Duplicate value: {name:?}")));
            }
            seen.push(name.to_string());
        }
    }
    out
}

fn webhook(hook: &Value, at: &str, mutating: bool, out: &mut Causes) {
    let name = text(hook, "name");
    if name.is_empty() {
        out.push((format!("{at}.name"), "Required value".into()));
    } else if !is_dns_subdomain(name) {
        out.push((
            format!("{at}.name"),
            format!("Invalid value: {name:?}: {SUBDOMAIN}"),
        ));
    } else if name.split('.').count() < 3 {
        out.push((
            format!("{at}.name"),
            format!("Invalid value: {name:?}: should be a domain with at least three segments separated by dots"),
        ));
    }
    for (j, rule) in list(hook, "/rules").iter().enumerate() {
        rule_checks(rule, &format!("{at}.rules[{j}]"), out);
    }
    let enum_field = |out: &mut Causes, key: &str, allowed: &[&str]| {
        if let Some(v) = hook.get(key).and_then(Value::as_str)
            && !allowed.contains(&v)
        {
            unsupported(out, format!("{at}.{key}"), v, allowed);
        }
    };
    enum_field(out, "failurePolicy", &["Fail", "Ignore"]);
    enum_field(out, "matchPolicy", &["Equivalent", "Exact"]);
    match hook.get("sideEffects").and_then(Value::as_str) {
        None => out.push((
            format!("{at}.sideEffects"),
            "Required value: must specify one of None, NoneOnDryRun".into(),
        )),
        Some(v) if !["None", "NoneOnDryRun"].contains(&v) => {
            unsupported(
                out,
                format!("{at}.sideEffects"),
                v,
                &["None", "NoneOnDryRun"],
            );
        }
        Some(_) => {}
    }
    if let Some(t) = hook.get("timeoutSeconds").and_then(Value::as_i64)
        && !(1..=30).contains(&t)
    {
        out.push((
            format!("{at}.timeoutSeconds"),
            format!("Invalid value: {t}: the timeout value must be between 1 and 30 seconds"),
        ));
    }
    if mutating {
        enum_field(out, "reinvocationPolicy", &["IfNeeded", "Never"]);
    }
    client_config(hook.get("clientConfig").unwrap_or(&Value::Null), at, out);
    let conditions = list(hook, "/matchConditions");
    if conditions.len() > 64 {
        out.push((
            format!("{at}.matchConditions"),
            format!("Too many: {}: must have at most 64 items", conditions.len()),
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for (k, c) in conditions.iter().enumerate() {
        let field = format!("{at}.matchConditions[{k}]");
        let expr = text(c, "expression");
        if expr.trim().is_empty() {
            out.push((format!("{field}.expression"), "Required value".into()));
        } else if let Err(issues) = crate::cel_rules::compile(expr) {
            out.push((
                format!("{field}.expression"),
                format!("Invalid value: {expr:?}: compilation failed: {issues}"),
            ));
        }
        let cname = text(c, "name");
        if cname.is_empty() {
            out.push((format!("{field}.name"), "Required value".into()));
        } else if names.contains(&cname) {
            out.push((
                format!("{field}.name"),
                format!("Duplicate value: {cname:?}"),
            ));
        }
        names.push(cname);
    }
}

/// `validateRuleWithOperations` and `validateRule` (the rule is inlined,
/// so its fields sit directly under `rules[j]`).
fn rule_checks(rule: &Value, at: &str, out: &mut Causes) {
    let ops = strings(rule.get("operations"));
    if ops.is_empty() {
        out.push((format!("{at}.operations"), "Required value".into()));
    } else if ops.len() > 1 && ops.iter().any(|o| o == "*") {
        let shown: Vec<String> = ops.iter().map(|o| format!("{o:?}")).collect();
        out.push((
            format!("{at}.operations"),
            format!(
                "Invalid value: []admissionregistration.OperationType{{{}}}: if '*' is present, must not specify other operations",
                shown.join(", ")
            ),
        ));
    }
    let allowed = ["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];
    for (k, o) in ops.iter().enumerate() {
        if !allowed.contains(&o.as_str()) {
            unsupported(out, format!("{at}.operations[{k}]"), o, &allowed);
        }
    }
    for (key, what) in [("apiGroups", "API groups"), ("apiVersions", "API versions")] {
        let values = strings(rule.get(key));
        if values.is_empty() {
            out.push((format!("{at}.{key}"), "Required value".into()));
        } else if values.len() > 1 && values.iter().any(|v| v == "*") {
            out.push((
                format!("{at}.{key}"),
                format!(
                    "Invalid value: {}: if '*' is present, must not specify other {what}",
                    go_strings(&values)
                ),
            ));
        }
        if key == "apiVersions" {
            for (k, v) in values.iter().enumerate() {
                if v.is_empty() {
                    out.push((format!("{at}.{key}[{k}]"), "Required value".into()));
                }
            }
        }
    }
    let resources = strings(rule.get("resources"));
    if resources.is_empty() {
        out.push((format!("{at}.resources"), "Required value".into()));
    }
    for (k, r) in resources.iter().enumerate() {
        if r.is_empty() {
            out.push((format!("{at}.resources[{k}]"), "Required value".into()));
        }
    }
    if resources.len() > 1 && resources.iter().any(|r| r == "*/*") {
        out.push((
            format!("{at}.resources"),
            format!(
                "Invalid value: {}: if '*/*' is present, must not specify other resources",
                go_strings(&resources)
            ),
        ));
    }
    if let Some(scope) = rule.get("scope").and_then(Value::as_str) {
        let allowed = ["*", "Cluster", "Namespaced"];
        if !allowed.contains(&scope) {
            unsupported(out, format!("{at}.scope"), scope, &allowed);
        }
    }
}

/// Exactly one of `url` and `service`, each checked as upstream does.
fn client_config(cc: &Value, at: &str, out: &mut Causes) {
    let at = format!("{at}.clientConfig");
    let url = cc.get("url").and_then(Value::as_str);
    let service = cc.get("service").filter(|s| s.is_object());
    match (url, service) {
        (Some(url), None) => url_checks(url, &format!("{at}.url"), out),
        (None, Some(s)) => service_checks(s, &format!("{at}.service"), out),
        _ => out.push((
            at,
            "Required value: exactly one of url or service is required".into(),
        )),
    }
}

fn url_checks(url: &str, at: &str, out: &mut Causes) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = rest.split('/').next().unwrap_or("");
    let (user, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    if scheme != "https" {
        out.push((
            at.into(),
            format!("Invalid value: {scheme:?}: 'https' is the only allowed URL scheme{URL_FORM}"),
        ));
    }
    if host.is_empty() || scheme.is_empty() {
        out.push((
            at.into(),
            format!("Invalid value: \"\": host must be specified{URL_FORM}"),
        ));
    }
    if !user.is_empty() {
        out.push((
            at.into(),
            format!("Invalid value: {user:?}: user information is not permitted in the URL"),
        ));
    }
    if !fragment.is_empty() {
        out.push((
            at.into(),
            format!("Invalid value: {fragment:?}: fragments are not permitted in the URL"),
        ));
    }
    if !query.is_empty() {
        out.push((
            at.into(),
            format!("Invalid value: {query:?}: query parameters are not permitted in the URL"),
        ));
    }
}

fn service_checks(s: &Value, at: &str, out: &mut Causes) {
    if text(s, "name").is_empty() {
        out.push((
            format!("{at}.name"),
            "Required value: service name is required".into(),
        ));
    }
    if text(s, "namespace").is_empty() {
        out.push((
            format!("{at}.namespace"),
            "Required value: service namespace is required".into(),
        ));
    }
    if let Some(port) = s.get("port").and_then(Value::as_i64)
        && !(1..=65535).contains(&port)
    {
        out.push((
            format!("{at}.port"),
            format!(
                "Invalid value: {port}: port is not valid: must be between 1 and 65535, inclusive"
            ),
        ));
    }
    let path = text(s, "path");
    if path.is_empty() || path == "/" {
        return;
    }
    if path == "//" {
        out.push((
            format!("{at}.path"),
            "Invalid value: \"//\": segment[0] may not be empty".into(),
        ));
        return;
    }
    if !path.starts_with('/') {
        out.push((
            format!("{at}.path"),
            format!("Invalid value: {path:?}: must start with a '/'"),
        ));
    }
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    for (i, segment) in trimmed.split('/').enumerate() {
        if segment.is_empty() {
            out.push((
                format!("{at}.path"),
                format!("Invalid value: {path:?}: segment[{i}] may not be empty"),
            ));
        } else if !is_dns_subdomain(segment) {
            out.push((
                format!("{at}.path"),
                format!("Invalid value: {path:?}: segment[{i}]: {SUBDOMAIN}"),
            ));
        }
    }
}

/// `validateAdmissionReviewVersions` (create: one of them must be known).
fn review_versions(hook: &Value, at: &str, out: &mut Causes) {
    let versions = strings(hook.get("admissionReviewVersions"));
    let field = format!("{at}.admissionReviewVersions");
    if versions.is_empty() {
        out.push((
            field,
            "Required value: must specify one of v1, v1beta1".into(),
        ));
        return;
    }
    for (k, v) in versions.iter().enumerate() {
        if versions[..k].contains(v) {
            out.push((
                format!("{field}[{k}]"),
                format!("Invalid value: {v:?}: duplicate version"),
            ));
        }
    }
    if !versions.iter().any(|v| v == "v1" || v == "v1beta1") {
        out.push((
            field,
            format!(
                "Invalid value: {}: must include at least one of v1, v1beta1",
                go_strings(&versions)
            ),
        ));
    }
}
