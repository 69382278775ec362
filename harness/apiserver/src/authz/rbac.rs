//! RBAC as kube-apiserver evaluates it (`plugin/pkg/auth/authorizer/rbac/rbac.go`,
//! `pkg/registry/rbac/validation/rule.go` `VisitRulesFor`,
//! `pkg/apis/rbac/v1/evaluation_helpers.go`): every ClusterRoleBinding, then
//! the RoleBindings of the namespace asked about; the first binding whose
//! subjects include the user and whose role has a matching rule allows, and
//! its name, role and subject make the reason. Upstream visits bindings in
//! its informer's (unspecified) order; name order here keeps the reason a
//! test reads the same from run to run.

use serde_json::Value;

use super::{Attributes, Decision, User};
use crate::registry::GroupResource;
use crate::store::{State, meta};

const GROUP: &str = "rbac.authorization.k8s.io";

/// One PolicyRule of a role, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

impl Rule {
    fn of(v: &Value) -> Self {
        let list = |k: &str| meta::strings(v.get(k));
        Self {
            verbs: list("verbs"),
            api_groups: list("apiGroups"),
            resources: list("resources"),
            resource_names: list("resourceNames"),
            non_resource_urls: list("nonResourceURLs"),
        }
    }

    /// `RuleAllows`.
    fn allows(&self, attrs: &Attributes) -> bool {
        let has = |list: &[String], want: &str| list.iter().any(|x| x == "*" || x == want);
        match attrs {
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                name,
                ..
            } => {
                has(&self.verbs, verb)
                    && has(&self.api_groups, group)
                    && self.matches_resource(resource, subresource)
                    && (self.resource_names.is_empty()
                        || self.resource_names.iter().any(|n| n == name))
            }
            Attributes::NonResource { verb, path } => {
                has(&self.verbs, verb)
                    && self.non_resource_urls.iter().any(|u| {
                        u == "*"
                            || u == path
                            || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
                    })
            }
        }
    }

    /// `ResourceMatches`: `*`, the resource with its subresource
    /// (`pods/log`; plain `pods` does not cover it), or `*/log`.
    fn matches_resource(&self, resource: &str, subresource: &str) -> bool {
        let combined = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!subresource.is_empty()
                    && r.strip_prefix("*/").is_some_and(|s| s == subresource))
        })
    }
}

/// A binding that names the user, with the first subject that did: the
/// reason names that one (`appliesTo` returns its index).
struct Applying<'a> {
    kind: &'static str,
    binding: &'a Value,
    namespace: String,
    subject: &'a Value,
}

impl Applying<'_> {
    /// `ClusterRoleBinding "b" of ClusterRole "r" to User "u"`; a
    /// RoleBinding is named `name/namespace`, a service account subject
    /// `name/namespace` (its binding's namespace when it gives none).
    fn describe(&self) -> String {
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut name = meta::name(self.binding).to_string();
        if !self.namespace.is_empty() {
            name = format!("{name}/{}", self.namespace);
        }
        let role_ref = self.binding.get("roleRef").unwrap_or(&Value::Null);
        let subject_kind = s(self.subject, "kind");
        let mut subject_name = s(self.subject, "name");
        if subject_kind == "ServiceAccount" {
            let ns = Some(s(self.subject, "namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| self.namespace.clone());
            subject_name = format!("{subject_name}/{ns}");
        }
        format!(
            "{} {name:?} of {} {:?} to {subject_kind} {subject_name:?}",
            self.kind,
            s(role_ref, "kind"),
            s(role_ref, "name"),
        )
    }
}

/// `appliesToUser`: a User by name, a Group by membership, a
/// ServiceAccount by its username `system:serviceaccount:<ns>:<name>`
/// (no namespace on the subject or the binding matches no one).
fn applies(subject: &Value, user: &User, binding_namespace: &str) -> bool {
    let s = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    match s("kind") {
        "User" => user.name == s("name"),
        "Group" => user.groups.iter().any(|g| g == s("name")),
        "ServiceAccount" => {
            let ns = if s("namespace").is_empty() {
                binding_namespace
            } else {
                s("namespace")
            };
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{}", s("name"))
        }
        _ => false,
    }
}

/// Every binding naming the user: ClusterRoleBindings first, then the
/// namespace's RoleBindings, each in name order (see the module doc).
fn applying<'a>(st: &'a State, user: &User, namespace: &str) -> Vec<Applying<'a>> {
    let objects = |plural: &str| {
        st.resources
            .get(&GroupResource::new(GROUP, plural))
            .into_iter()
            .flat_map(|r| r.objects.values())
    };
    let cluster = objects("clusterrolebindings").map(|b| ("ClusterRoleBinding", b, String::new()));
    let local = objects("rolebindings")
        .filter(|b| !namespace.is_empty() && meta::namespace(b) == namespace)
        .map(|b| ("RoleBinding", b, namespace.to_string()));
    cluster
        .chain(local)
        .filter_map(|(kind, binding, ns)| {
            let subject = binding
                .get("subjects")
                .and_then(Value::as_array)?
                .iter()
                .find(|s| applies(s, user, &ns))?;
            Some(Applying {
                kind,
                binding: binding.as_ref(),
                namespace: ns,
                subject,
            })
        })
        .collect()
}

/// `GetRoleReferenceRules`: the rules of the role a binding refers to, or
/// the error upstream's listers give.
fn role_rules(st: &State, binding: &Applying<'_>) -> Result<Vec<Rule>, String> {
    let role_ref = binding.binding.get("roleRef").unwrap_or(&Value::Null);
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    let (plural, namespace) = match role_ref.get("kind").and_then(Value::as_str).unwrap_or("") {
        "ClusterRole" => ("clusterroles", ""),
        "Role" => ("roles", binding.namespace.as_str()),
        other => return Err(format!("unsupported role reference kind: {other:?}")),
    };
    let role = st.get(
        &GroupResource::new(GROUP, plural),
        &(namespace.to_string(), name.to_string()),
    );
    let Some(role) = role else {
        let singular = plural.trim_end_matches('s');
        return Err(format!("{singular}.{GROUP} {name:?} not found"));
    };
    Ok(role
        .get("rules")
        .and_then(Value::as_array)
        .map(|rules| rules.iter().map(Rule::of).collect())
        .unwrap_or_default())
}

/// apiserver's `utilerrors.NewAggregate(..).Error()`: repeats dropped, one
/// error bare, several in brackets.
pub(super) fn aggregate(errors: &[String]) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for e in errors {
        if !unique.contains(&e.as_str()) {
            unique.push(e);
        }
    }
    match unique.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

pub(super) fn authorize(st: &State, user: &User, attrs: &Attributes) -> Decision {
    let namespace = match attrs {
        Attributes::Resource { namespace, .. } => namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    let mut errors = Vec::new();
    for binding in applying(st, user, namespace) {
        match role_rules(st, &binding) {
            Ok(rules) if rules.iter().any(|r| r.allows(attrs)) => {
                return Decision {
                    allowed: true,
                    reason: format!("RBAC: allowed by {}", binding.describe()),
                };
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    Decision {
        allowed: false,
        reason: if errors.is_empty() {
            String::new()
        } else {
            format!("RBAC: {}", aggregate(&errors))
        },
    }
}

pub(super) fn rules_for(st: &State, user: &User, namespace: &str) -> (Vec<Rule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for binding in applying(st, user, namespace) {
        match role_rules(st, &binding) {
            Ok(r) => rules.extend(r),
            Err(e) => errors.push(e),
        }
    }
    (rules, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    /// `evaluation_helpers.go`: wildcards, subresources, resource names and
    /// non-resource URL prefixes.
    #[test]
    fn rules_match_as_upstream_helpers_do() {
        let rule = Rule::of(&json!({
            "verbs": ["get"], "apiGroups": [""], "resources": ["pods", "*/scale"],
            "resourceNames": ["web"],
        }));
        assert!(rule.allows(&resource("get", "", "pods", "", "web")));
        assert!(
            !rule.allows(&resource("get", "", "pods", "", "")),
            "a name list needs a name"
        );
        assert!(
            !rule.allows(&resource("get", "", "pods", "log", "web")),
            "pods is not pods/log"
        );
        assert!(rule.allows(&resource("get", "", "deployments", "scale", "web")));
        assert!(!rule.allows(&resource("list", "", "pods", "", "web")));
        assert!(!rule.allows(&resource("get", "apps", "pods", "", "web")));
        let urls = Rule::of(&json!({"verbs": ["*"], "nonResourceURLs": ["/healthz", "/apis/*"]}));
        let path = |p: &str| Attributes::NonResource {
            verb: "get".into(),
            path: p.into(),
        };
        assert!(urls.allows(&path("/healthz")));
        assert!(urls.allows(&path("/apis/apps/v1")));
        assert!(!urls.allows(&path("/healthz/etcd")));
        assert!(!urls.allows(&resource("get", "", "pods", "", "")));
        let scale =
            Rule::of(&json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]}));
        assert!(!scale.allows(&resource("get", "apps", "deployments", "", "")));
    }

    #[test]
    fn errors_aggregate_as_apimachinery_prints_them() {
        let missing = "clusterrole.rbac.authorization.k8s.io \"x\" not found".to_string();
        assert_eq!(aggregate(&[missing.clone(), missing.clone()]), missing);
        assert_eq!(
            aggregate(&[
                missing.clone(),
                "unsupported role reference kind: \"Y\"".into()
            ]),
            format!("[{missing}, unsupported role reference kind: \"Y\"]")
        );
    }

    #[test]
    fn service_account_subjects_need_a_namespace() {
        let sa = User {
            name: "system:serviceaccount:ns:robot".into(),
            ..User::default()
        };
        let subject = json!({"kind": "ServiceAccount", "name": "robot"});
        assert!(applies(&subject, &sa, "ns"));
        assert!(
            !applies(&subject, &sa, ""),
            "a ClusterRoleBinding gives none"
        );
        let named = json!({"kind": "ServiceAccount", "name": "robot", "namespace": "ns"});
        assert!(applies(&named, &sa, ""));
        assert!(
            applies(&named, &sa, "other"),
            "the subject's own namespace wins"
        );
    }
}
