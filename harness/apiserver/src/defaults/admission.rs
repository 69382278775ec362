//! admissionregistration.k8s.io/v1 defaults
//! (`pkg/apis/admissionregistration/v1/defaults.go`): webhooks and
//! policies fail closed, match equivalent versions, select everything, and
//! rules cover both scopes.

use serde_json::{Value, json};

use super::{at, fill, items};

/// `SetDefaults_Rule` on every rule of a list.
fn rules(obj: &mut Value, key: &str) {
    for rule in items(obj, key) {
        fill(rule, "scope", "*");
    }
}

/// `SetDefaults_MatchResources`.
fn match_resources(m: &mut Value) {
    fill(m, "matchPolicy", "Equivalent");
    fill(m, "namespaceSelector", json!({}));
    fill(m, "objectSelector", json!({}));
    rules(m, "resourceRules");
    rules(m, "excludeResourceRules");
}

/// `SetDefaults_ValidatingAdmissionPolicySpec`.
pub(super) fn policy(obj: &mut Value) {
    if let Some(spec) = at(obj, "/spec") {
        fill(spec, "failurePolicy", "Fail");
    }
    if let Some(m) = at(obj, "/spec/matchConstraints") {
        match_resources(m);
    }
}

/// A binding's `matchResources`, when it has one.
pub(super) fn binding(obj: &mut Value) {
    if let Some(m) = at(obj, "/spec/matchResources") {
        match_resources(m);
    }
}

/// `SetDefaults_ValidatingWebhook` / `SetDefaults_MutatingWebhook` (the
/// latter also `reinvocationPolicy: Never`) and `SetDefaults_ServiceReference`.
pub(super) fn webhooks(obj: &mut Value, mutating: bool) {
    for hook in items(obj, "webhooks") {
        fill(hook, "failurePolicy", "Fail");
        fill(hook, "matchPolicy", "Equivalent");
        fill(hook, "namespaceSelector", json!({}));
        fill(hook, "objectSelector", json!({}));
        fill(hook, "timeoutSeconds", 10);
        if mutating {
            fill(hook, "reinvocationPolicy", "Never");
        }
        rules(hook, "rules");
        if let Some(service) = at(hook, "/clientConfig/service") {
            fill(service, "port", 443);
        }
    }
}
