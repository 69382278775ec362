//! Who may do what, decided as kube-apiserver's authorizer chain decides it:
//! the `system:masters` group first, then RBAC over the stored Roles,
//! ClusterRoles and their bindings. The review APIs answer with it, so a
//! test can check that an operator's RBAC manifests grant what the operator
//! needs (`kubectl auth can-i --as`, a SubjectAccessReview) without a real
//! cluster.
//!
//! Requests themselves are not authorized here: a client is the admin
//! ([`User::requester`], in `system:masters`, as a cluster's admin
//! kubeconfig is) or the service account whose token it presents, and may
//! impersonate anyone ([`User::of_request`]); only the reviews answer for
//! that user. A service account's token therefore reaches everything the
//! admin does: RBAC decides reviews, it does not guard requests.

pub(crate) mod bootstrap;
mod rbac;

use serde_json::{Map, Value};

use crate::store::State;

pub(crate) use rbac::Rule;

/// The authenticated user a decision is about (apiserver's `user.Info`).
#[derive(Debug, Clone, Default)]
pub(crate) struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: Map<String, Value>,
}

/// kube-apiserver's `user.SystemPrivilegedGroup`: its authorizer allows
/// everything before RBAC is asked.
const MASTERS: &str = "system:masters";

impl User {
    /// Who every request to this server is: the cluster admin of the
    /// kubeconfig it writes.
    pub(crate) fn requester() -> Self {
        Self {
            name: "system:admin".into(),
            uid: String::new(),
            groups: vec![MASTERS.into(), "system:authenticated".into()],
            extra: Map::new(),
        }
    }
}

impl User {
    /// Who a request acts as: who sent it, or the user its
    /// `Impersonate-User` header names (anyone may impersonate anyone: see
    /// the module doc),
    /// with `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-*`
    /// read as apiserver's impersonation filter
    /// (`endpoints/filters/impersonation.go`) reads them: a service
    /// account given no groups gets `system:serviceaccounts` and
    /// `system:serviceaccounts:<ns>`; everyone but `system:anonymous` gets
    /// `system:authenticated` unless a group already says (un)authenticated.
    pub(crate) fn of_request(authenticated: &User, headers: &http::HeaderMap) -> Self {
        let text = |v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
        let Some(name) = headers
            .get("impersonate-user")
            .map(text)
            .filter(|n| !n.is_empty())
        else {
            return authenticated.clone();
        };
        let mut groups: Vec<String> = headers
            .get_all("impersonate-group")
            .iter()
            .map(text)
            .collect();
        if groups.is_empty()
            && let Some(ns) = service_account_namespace(&name)
        {
            groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ];
        }
        let (authenticated, unauthenticated) = ("system:authenticated", "system:unauthenticated");
        if name == "system:anonymous" {
            if !groups.iter().any(|g| g == unauthenticated) {
                groups.push(unauthenticated.into());
            }
        } else if !groups
            .iter()
            .any(|g| g == authenticated || g == unauthenticated)
        {
            groups.push(authenticated.into());
        }
        let mut extra = Map::new();
        for (header, value) in headers {
            if let Some(key) = header.as_str().strip_prefix("impersonate-extra-") {
                // Header names arrive lower-cased; the key is %-unescaped.
                let key = percent_decode(key);
                let values = extra.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = values {
                    list.push(text(value).into());
                }
            }
        }
        Self {
            name,
            uid: headers.get("impersonate-uid").map(text).unwrap_or_default(),
            groups,
            extra,
        }
    }
}

/// The namespace of a `system:serviceaccount:<ns>:<name>` username
/// (`serviceaccount.SplitUsername`: exactly two parts, each a valid name).
fn service_account_namespace(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("system:serviceaccount:")?;
    match rest.split(':').collect::<Vec<_>>().as_slice() {
        [ns, sa]
            if crate::validation::is_dns_label(ns) && crate::validation::is_dns_subdomain(sa) =>
        {
            Some(ns)
        }
        _ => None,
    }
}

impl User {
    /// authentication.k8s.io's `UserInfo`, as SelfSubjectReview and
    /// TokenReview write it: empty fields left out (`omitempty`).
    pub(crate) fn user_info(&self) -> Value {
        let mut info = Map::new();
        if !self.name.is_empty() {
            info.insert("username".into(), self.name.clone().into());
        }
        if !self.uid.is_empty() {
            info.insert("uid".into(), self.uid.clone().into());
        }
        if !self.groups.is_empty() {
            info.insert("groups".into(), self.groups.clone().into());
        }
        if !self.extra.is_empty() {
            info.insert("extra".into(), Value::Object(self.extra.clone()));
        }
        Value::Object(info)
    }
}

/// `url.PathUnescape`, keeping the key as it is when it does not decode.
fn percent_decode(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = key
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return key.to_string();
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| key.to_string())
}

/// What is asked (apiserver's `authorizer.Attributes`).
#[derive(Debug, Clone)]
pub(crate) enum Attributes {
    Resource {
        verb: String,
        group: String,
        resource: String,
        subresource: String,
        namespace: String,
        name: String,
    },
    NonResource {
        verb: String,
        path: String,
    },
}

/// The chain's answer. Neither authorizer here ever denies outright, so a
/// refusal is "no opinion" (`allowed: false`, `denied` unset), with the
/// reason RBAC gives when it failed to read a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// The union authorizer of kube-apiserver (`authorization/union/union.go`)
/// over the privileged-group authorizer (`authorizerfactory/builtin.go`,
/// allow with an empty reason) and RBAC
/// (`plugin/pkg/auth/authorizer/rbac/rbac.go`). The Node authorizer is left
/// out: it has no opinion on anyone but kubelets.
pub(crate) fn authorize(st: &State, user: &User, attrs: &Attributes) -> Decision {
    if user.groups.iter().any(|g| g == MASTERS) {
        return Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    rbac::authorize(st, user, attrs)
}

/// The rules RBAC grants `user` in `namespace` (cluster-wide ones included),
/// with the errors met reading roles as one message: a
/// SelfSubjectRulesReview's answer.
pub(crate) fn rules_for(st: &State, user: &User, namespace: &str) -> (Vec<Rule>, Option<String>) {
    let (rules, errors) = rbac::rules_for(st, user, namespace);
    (
        rules,
        (!errors.is_empty()).then(|| rbac::aggregate(&errors)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn impersonating(headers: &[(&'static str, &str)]) -> User {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, v.parse().unwrap());
        }
        User::of_request(&User::requester(), &map)
    }

    /// The cases of apiserver's `impersonation_test.go`.
    #[test]
    fn impersonation_gives_the_groups_apiserver_gives() {
        assert_eq!(impersonating(&[]).name, "system:admin");
        let sa = impersonating(&[("impersonate-user", "system:serviceaccount:foo:default")]);
        assert_eq!(
            sa.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:foo",
                "system:authenticated"
            ]
        );
        let grouped = impersonating(&[
            ("impersonate-user", "bob"),
            ("impersonate-group", "some-group"),
            ("impersonate-extra-example.com%2fscopes", "read"),
            ("impersonate-uid", "1234"),
        ]);
        assert_eq!(grouped.groups, ["some-group", "system:authenticated"]);
        assert_eq!(grouped.uid, "1234");
        assert_eq!(
            grouped.extra["example.com/scopes"],
            serde_json::json!(["read"])
        );
        let odd = impersonating(&[("impersonate-user", "system:serviceaccount:a:b:c")]);
        assert_eq!(
            odd.groups,
            ["system:authenticated"],
            "not a service account name"
        );
        assert_eq!(
            impersonating(&[("impersonate-user", "")]).name,
            "system:admin"
        );
        let plus = impersonating(&[("impersonate-user", "u"), ("impersonate-extra-a%+f", "v")]);
        assert!(plus.extra.contains_key("a%+f"), "{:?}", plus.extra);
        let anonymous = impersonating(&[("impersonate-user", "system:anonymous")]);
        assert_eq!(anonymous.groups, ["system:unauthenticated"]);
    }
}
