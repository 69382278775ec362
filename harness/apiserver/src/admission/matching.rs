//! Whether a request falls under a policy's `matchConstraints` or a
//! binding's `matchResources` (apiserver's `admission/plugin/policy/matching`,
//! `webhook/predicates/rules`, `.../namespace` and `.../object` matchers).

use serde_json::Value;

use super::{Attributes, Operation};
use crate::registry::GroupResource;
use crate::selectors::LabelSelector;
use crate::store::{State, meta};

fn strings(v: &Value, key: &str) -> Vec<String> {
    meta::strings(v.get(key))
}

fn is_namespaces(a: &Attributes<'_>) -> bool {
    super::is_namespaces(a.info)
}

/// `rules.Matcher`: operation, group, version, resource (`res/sub`, `*`
/// matching main resources only) and scope.
fn rule_matches(rule: &Value, a: &Attributes<'_>) -> bool {
    let has = |key: &str, want: &str| strings(rule, key).iter().any(|s| s == "*" || s == want);
    let resource_ok = strings(rule, "resources").iter().any(|r| {
        let (res, sub) = r.split_once('/').unwrap_or((r, ""));
        (res == "*" || res == a.info.plural) && (sub == "*" || sub == a.subresource)
    });
    let scope_ok = match rule.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => !is_namespaces(a) && !a.namespace.is_empty(),
        Some("Cluster") => is_namespaces(a) || a.namespace.is_empty(),
        _ => true,
    };
    has("operations", a.operation.as_str())
        && has("apiGroups", &a.info.group)
        && has("apiVersions", a.version)
        && resource_ok
        && scope_ok
}

fn selector(criteria: &Value, key: &str) -> Option<LabelSelector> {
    criteria
        .get(key)
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
        .and_then(LabelSelector::from_object)
}

/// `Matches`: namespaceSelector, objectSelector, excludeResourceRules, then
/// resourceRules. A namespace that cannot be found is an error, reported
/// only when the rules match.
pub(super) fn matches(st: &State, a: &Attributes<'_>, criteria: &Value) -> Result<bool, String> {
    let mut namespace_missing = None;
    if let Some(sel) = selector(criteria, "namespaceSelector")
        && (!a.namespace.is_empty() || is_namespaces(a))
    {
        // A Namespace's own create or update is matched on the labels it
        // brings; its delete and its subresources on the stored ones
        // (`namespace/matcher.go`, `GetNamespaceLabels`).
        let selected =
            if is_namespaces(a) && a.subresource.is_empty() && a.operation != Operation::Delete {
                a.object.is_some_and(|o| sel.matches(o))
            } else {
                let ns = if is_namespaces(a) {
                    a.name
                } else {
                    a.namespace
                };
                let stored = st.get(
                    &GroupResource::new("", "namespaces"),
                    &(String::new(), ns.to_string()),
                );
                if stored.is_none() {
                    namespace_missing = Some(format!("namespaces \"{ns}\" not found"));
                }
                stored.is_some_and(|ns| sel.matches(&ns))
            };
        if namespace_missing.is_none() && !selected {
            return Ok(false);
        }
    }
    if let Some(sel) = selector(criteria, "objectSelector") {
        let hit = |o: Option<&Value>| o.is_some_and(|o| sel.matches(o));
        if !hit(a.object) && !hit(a.old_object) {
            return Ok(false);
        }
    }
    let rules = |key: &str| -> Vec<Value> {
        criteria
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    if rules("excludeResourceRules")
        .iter()
        .any(|r| rule_matches(r, a))
    {
        return Ok(false);
    }
    let include = rules("resourceRules");
    if !include.is_empty() {
        let Some(rule) = include.iter().find(|r| rule_matches(r, a)) else {
            return Ok(false);
        };
        let names = strings(rule, "resourceNames");
        if !names.is_empty() && !names.iter().any(|n| n == a.name) {
            return Ok(false);
        }
    }
    match namespace_missing {
        Some(e) => Err(e),
        None => Ok(true),
    }
}
