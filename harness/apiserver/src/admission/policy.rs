//! ValidatingAdmissionPolicy and its bindings, enforced as apiserver's
//! `admission/plugin/policy/validating` does (dispatcher.go, validator.go):
//! every bound policy whose constraints match is evaluated, each failing
//! validation goes where its binding's `validationActions` say (Deny,
//! Warn, Audit), and the first denial answers the request. Policies are
//! taken in name order (upstream's order is a Go map's).

use http::StatusCode;
use kube_cel::cel;
use serde_json::{Value, json};

use super::conditions::{self, Matched, Vars};
use super::{Attributes, matching};
use crate::cel_rules::value;
use crate::error::ApiError;
use crate::registry::{GroupResource, ResourceInfo};
use crate::selectors::LabelSelector;
use crate::store::{Obj, State, meta};

const GROUP: &str = "admissionregistration.k8s.io";

/// Resources no policy applies to (`generic/plugin.go` and kube-apiserver's
/// admission exclusion list).
const EXCLUDED: &[(&str, &str)] = &[
    (GROUP, "validatingadmissionpolicies"),
    (GROUP, "validatingadmissionpolicybindings"),
    (GROUP, "mutatingadmissionpolicies"),
    (GROUP, "mutatingadmissionpolicybindings"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
];

/// Compiles and evaluates an expression, errors worded as upstream's.
type Run<'a> = dyn Fn(&str, Vars) -> Result<cel::Value, String> + 'a;

/// A failed validation (or a configuration error) on its way to the
/// binding's actions.
struct Decision {
    message: String,
    /// The validation's `reason`; `Invalid` when none.
    reason: Option<String>,
}

/// A denial, with the policy and binding that made it.
struct Denial {
    policy: String,
    binding: Option<String>,
    decision: Decision,
}

fn objects(st: &State, plural: &str) -> Vec<Obj> {
    st.resources
        .get(&GroupResource::new(GROUP, plural))
        .map(|rs| rs.objects.values().cloned().collect())
        .unwrap_or_default()
}

fn text<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn dispatch(st: &State, a: &Attributes<'_>) -> Result<(), ApiError> {
    if EXCLUDED.contains(&(a.info.group.as_str(), a.info.plural.as_str())) {
        return Ok(());
    }
    let bindings = objects(st, "validatingadmissionpolicybindings");
    if bindings.is_empty() {
        return Ok(());
    }
    let mut denied = Vec::new();
    for policy in objects(st, "validatingadmissionpolicies") {
        let name = meta::name(&policy);
        let bound: Vec<&Obj> = bindings
            .iter()
            .filter(|b| text(b, "/spec/policyName") == name)
            .collect();
        if !bound.is_empty() {
            run_policy(st, a, &policy, &bound, &mut denied);
        }
    }
    match denied.into_iter().next() {
        Some(d) => Err(deny(a, d)),
        None => Ok(()),
    }
}

fn run_policy(
    st: &State,
    a: &Attributes<'_>,
    policy: &Value,
    bound: &[&Obj],
    denied: &mut Vec<Denial>,
) {
    let policy_name = meta::name(policy).to_string();
    let fail = text(policy, "/spec/failurePolicy") != "Ignore";
    let config_error = |denied: &mut Vec<Denial>, binding: Option<&str>, err: String| {
        if fail {
            let prefix = if binding.is_some() {
                "binding"
            } else {
                "policy"
            };
            denied.push(Denial {
                policy: policy_name.clone(),
                binding: binding.map(String::from),
                decision: Decision {
                    message: format!("failed to configure {prefix}: {err}"),
                    reason: None,
                },
            });
        }
    };
    let constraints = policy
        .pointer("/spec/matchConstraints")
        .unwrap_or(&Value::Null);
    match matching::matches(st, a, constraints) {
        Err(e) => return config_error(denied, None, e),
        Ok(false) => return,
        Ok(true) => {}
    }
    let param_kind = policy.pointer("/spec/paramKind").filter(|k| k.is_object());
    let param_info = match param_kind.map(|k| resolve_kind(st, k)) {
        Some(Err(e)) => return config_error(denied, None, e),
        Some(Ok(info)) => Some(info),
        None => None,
    };
    for binding in bound {
        let binding_name = meta::name(binding);
        if let Some(mr) = binding
            .pointer("/spec/matchResources")
            .filter(|m| m.is_object())
        {
            match matching::matches(st, a, mr) {
                Err(e) => {
                    config_error(denied, Some(binding_name), e);
                    continue;
                }
                Ok(false) => continue,
                Ok(true) => {}
            }
        }
        let params = match collect_params(st, a, param_info.as_ref(), binding) {
            Ok(p) => p,
            Err(e) => {
                config_error(denied, Some(binding_name), e);
                continue;
            }
        };
        let namespace_object = namespace_object(st, a);
        let actions: Vec<&str> = binding
            .pointer("/spec/validationActions")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for param in params {
            for decision in evaluate(
                a,
                policy,
                fail,
                param_info.is_some(),
                &param,
                &namespace_object,
            ) {
                for action in &actions {
                    match *action {
                        "Deny" => denied.push(Denial {
                            policy: policy_name.clone(),
                            binding: Some(binding_name.to_string()),
                            decision: Decision {
                                message: decision.message.clone(),
                                reason: decision.reason.clone(),
                            },
                        }),
                        "Warn" => crate::warnings::add(format!(
                            "Validation failed for ValidatingAdmissionPolicy '{policy_name}' with binding '{binding_name}': {}",
                            decision.message
                        )),
                        // Audit writes an audit annotation; the server keeps no audit log.
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The served resource of a `paramKind`.
pub(super) fn resolve_kind(
    st: &State,
    kind: &Value,
) -> Result<std::sync::Arc<ResourceInfo>, String> {
    let (api_version, k) = (text(kind, "/apiVersion"), text(kind, "/kind"));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    st.resources
        .values()
        .map(|rs| &rs.info)
        .find(|i| i.group == group && i.kind == k && i.serves(version))
        .cloned()
        .ok_or_else(|| {
            format!(
                "failed to find resource referenced by paramKind: '{group}/{version}, Kind={k}'"
            )
        })
}

/// `CollectParams`: the param objects a binding's `paramRef` names (one
/// null param when the policy or binding has none).
fn collect_params(
    st: &State,
    a: &Attributes<'_>,
    info: Option<&std::sync::Arc<ResourceInfo>>,
    binding: &Value,
) -> Result<Vec<Value>, String> {
    let (Some(info), Some(r)) = (
        info,
        binding.pointer("/spec/paramRef").filter(|r| r.is_object()),
    ) else {
        return Ok(vec![Value::Null]);
    };
    let namespace = if info.namespaced {
        let ns = match text(r, "/namespace") {
            "" => a.namespace,
            ns => ns,
        };
        if ns.is_empty() {
            return Err("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources".into());
        }
        ns
    } else {
        if !text(r, "/namespace").is_empty() {
            return Err(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`".into(),
            );
        }
        ""
    };
    let name = text(r, "/name");
    let selector = r.get("selector").filter(|s| s.is_object());
    let store = st
        .resources
        .get(&GroupResource::new(&info.group, &info.plural));
    let found: Vec<Value> = match (name.is_empty(), selector) {
        (false, Some(_)) => {
            return Err("paramRef.name and paramRef.selector are mutually exclusive".into());
        }
        (true, None) => return Err("one of name or selector must be provided".into()),
        (false, None) => store
            .and_then(|rs| rs.objects.get(&(namespace.to_string(), name.to_string())))
            .map(|o| vec![(**o).clone()])
            .unwrap_or_default(),
        (true, Some(sel)) => {
            let sel = LabelSelector::from_object(sel).unwrap_or_default();
            store
                .map(|rs| {
                    rs.objects
                        .iter()
                        .filter(|((ns, _), o)| {
                            (namespace.is_empty() || ns == namespace) && sel.matches(o)
                        })
                        .map(|(_, o)| (**o).clone())
                        .collect()
                })
                .unwrap_or_default()
        }
    };
    if found.is_empty() && text(r, "/parameterNotFoundAction") == "Deny" {
        return Err(
            "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
        );
    }
    Ok(found)
}

/// The request's Namespace as `namespaceObject` sees it; null for
/// cluster-scoped requests and for Namespaces themselves.
fn namespace_object(st: &State, a: &Attributes<'_>) -> Value {
    if a.namespace.is_empty() || (a.info.group.is_empty() && a.info.plural == "namespaces") {
        return Value::Null;
    }
    st.get(
        &GroupResource::new("", "namespaces"),
        &(String::new(), a.namespace.to_string()),
    )
    .map(|ns| {
        let mut ns = (*ns).clone();
        if let Some(m) = ns.pointer_mut("/metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
            m.remove("ownerReferences");
            m.remove("selfLink");
        }
        ns
    })
    .unwrap_or(Value::Null)
}

fn dyn_value(v: Option<&Value>) -> cel::Value {
    v.map_or(cel::Value::Null, value::untyped)
}

/// Runs one (policy, binding, param): matchConditions, then every
/// validation; returns the failures.
fn evaluate(
    a: &Attributes<'_>,
    policy: &Value,
    fail: bool,
    has_params: bool,
    param: &Value,
    namespace_object: &Value,
) -> Vec<Decision> {
    let request = a.request();
    let base = |ns: &Value| {
        let mut vars = vec![
            ("object", dyn_value(a.object)),
            ("oldObject", dyn_value(a.old_object)),
            ("request", value::untyped(&request)),
            ("namespaceObject", value::untyped(ns)),
        ];
        if has_params {
            vars.push(("params", value::untyped(param)));
        }
        vars
    };
    let run = |expr: &str, vars: Vars| conditions::run(expr, vars);
    let list = |key: &str| -> Vec<Value> {
        policy
            .pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };

    // matchConditions: any false skips the policy; errors without a false
    // deny under Fail (aggregated as utilerrors prints them).
    match conditions::check(&list("matchConditions"), || base(&Value::Null)) {
        Matched::Yes => {}
        Matched::No => return Vec::new(),
        Matched::Errors(_) if !fail => return Vec::new(),
        Matched::Errors(errors) => {
            return vec![Decision {
                message: conditions::aggregate(errors),
                reason: None,
            }];
        }
    }

    // variables, in order, each seeing the ones before it.
    let mut variable_values: Vec<(String, cel::Value)> = Vec::new();
    for var in list("variables") {
        let name = text(&var, "/name").to_string();
        let mut vars = base(namespace_object);
        vars.push(("variables", variables_value(&variable_values)));
        if let Ok(v) = run(text(&var, "/expression"), vars) {
            variable_values.push((name, v));
        }
    }
    let with_variables = || {
        let mut vars = base(namespace_object);
        vars.push(("variables", variables_value(&variable_values)));
        vars
    };

    let mut out = Vec::new();
    for validation in list("validations") {
        let expr = text(&validation, "/expression");
        match run(expr, with_variables()) {
            Ok(cel::Value::Bool(true)) => {}
            Ok(_) => out.push(Decision {
                message: failure_message(&validation, &run, with_variables()),
                reason: Some(text(&validation, "/reason"))
                    .filter(|r| !r.is_empty())
                    .map(String::from),
            }),
            Err(e) if fail => out.push(Decision {
                message: e,
                reason: None,
            }),
            Err(_) => {}
        }
    }
    out
}

fn variables_value(values: &[(String, cel::Value)]) -> cel::Value {
    let map: std::collections::HashMap<cel::objects::Key, cel::Value> = values
        .iter()
        .map(|(k, v)| {
            (
                cel::objects::Key::String(std::sync::Arc::new(k.clone())),
                v.clone(),
            )
        })
        .collect();
    cel::Value::Map(cel::objects::Map {
        map: std::sync::Arc::new(map),
    })
}

/// `messageExpression` when it yields a usable one-line string, else
/// `message`, else `failed expression: <expression>`.
fn failure_message(validation: &Value, run: &Run<'_>, vars: Vars) -> String {
    let expr = text(validation, "/messageExpression");
    if !expr.is_empty()
        && let Ok(cel::Value::String(s)) = run(expr, vars)
    {
        let s = s.trim();
        if !s.is_empty() && !s.contains('\n') && s.len() <= 5 * 1024 {
            return s.to_string();
        }
    }
    let message = text(validation, "/message").trim();
    if !message.is_empty() {
        return message.to_string();
    }
    format!(
        "failed expression: {}",
        text(validation, "/expression").trim()
    )
}

/// The Status of a denial: `admission.NewForbidden` with the policy's
/// reason (422 Invalid unless the validation names another) and one cause.
fn deny(a: &Attributes<'_>, d: Denial) -> ApiError {
    let message = match &d.binding {
        Some(b) => format!(
            "ValidatingAdmissionPolicy '{}' with binding '{b}' denied request: {}",
            d.policy, d.decision.message
        ),
        None => format!(
            "ValidatingAdmissionPolicy '{}' denied request: {}",
            d.policy, d.decision.message
        ),
    };
    let (code, reason) = match d.decision.reason.as_deref() {
        Some("Forbidden") => (StatusCode::FORBIDDEN, "Forbidden"),
        Some("Unauthorized") => (StatusCode::UNAUTHORIZED, "Unauthorized"),
        Some("RequestEntityTooLarge") => (StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge"),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
    };
    let name = if a.name.is_empty() { "Unknown" } else { a.name };
    let mut e = ApiError::new(
        code,
        reason,
        format!(
            "{} {name:?} is forbidden: {message}",
            crate::registry::qualified(&a.info.group, &a.info.plural)
        ),
    );
    e.details = json!({
        "name": name,
        "group": a.info.group,
        "kind": a.info.plural,
        "causes": [{"message": message}],
    });
    e
}
