//! ValidatingAdmissionPolicy `status.typeChecking`, as kube-controller-
//! manager's `validatingadmissionpolicy-status-controller` writes it once
//! per new generation (kubernetes `pkg/controller/validatingadmissionpolicystatus`,
//! checks from apiserver `admission/plugin/policy/validating/typechecking.go`):
//! each expression and messageExpression is checked against the schema of
//! every kind the policy's rules name, and what fails is a warning naming
//! the kind and cel-go's issue.
//!
//! Where it is cheap: the kinds checked are those the server holds a schema
//! for (custom resources), and the issue found is the one CRD rules already
//! get here, a field the schema does not declare. Upstream also types
//! built-in kinds, `metadata`, `request` and the other variables, and
//! reports every cel-go type error; those warnings are not given.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::cel_rules::check::undefined_fields_in;
use crate::patch::{self, PatchContext, PatchType};
use crate::registry::GroupResource;
use crate::store::{Obj, State, meta};

/// Upstream stops collecting kinds at this many (`maxTypesToCheck`).
const MAX_TYPES: usize = 10;

const MANAGER: &str = "validatingadmissionpolicy-status-controller";
const API_VERSION: &str = "admissionregistration.k8s.io/v1";

/// Writes the status of a policy whose generation it has not checked yet,
/// as a server-side apply of the controller.
pub(crate) fn on_commit(st: &mut State, policy: &Obj) {
    let generation = policy
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let observed = policy
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    if observed.is_some_and(|o| o >= generation) || meta::deletion_timestamp(policy).is_some() {
        return;
    }
    let warnings = check(st, policy);
    let mut type_checking = json!({});
    if !warnings.is_empty() {
        type_checking["expressionWarnings"] = warnings.into();
    }
    let body = json!({
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": meta::name(policy)},
        "status": {"observedGeneration": generation, "typeChecking": type_checking},
    });
    let ctx = PatchContext {
        api_version: API_VERSION.into(),
        kind: "ValidatingAdmissionPolicy".into(),
        field_manager: Some(MANAGER.into()),
        force: true,
        now: st.now(),
        is_custom: false,
        subresource: Some("status".into()),
        status_subresource: true,
    };
    let body = serde_json::to_vec(&body).expect("serializable");
    if let Ok(new) = patch::apply_patch(PatchType::Apply, Some(policy), &body, &ctx) {
        st.commit(
            &GroupResource::new(
                "admissionregistration.k8s.io",
                "validatingadmissionpolicies",
            ),
            new,
        );
    }
}

/// `CheckContext`: the warnings of every validation's expression and
/// messageExpression, by field.
fn check(st: &State, policy: &Value) -> Vec<Value> {
    let kinds = typed_kinds(st, policy);
    if kinds.is_empty() {
        return Vec::new();
    }
    let params = policy
        .pointer("/spec/paramKind")
        .and_then(|k| schema_of_kind(st, k));
    let validations = policy
        .pointer("/spec/validations")
        .and_then(Value::as_array);
    let mut warnings = Vec::new();
    for (i, v) in validations.into_iter().flatten().enumerate() {
        for field in ["expression", "messageExpression"] {
            let source = v.get(field).and_then(Value::as_str).unwrap_or("");
            if source.is_empty() {
                continue;
            }
            let found = check_expression(source, &kinds, params.as_ref());
            if !found.is_empty() {
                warnings.push(json!({
                    "fieldRef": format!("spec.validations[{i}].{field}"),
                    "warning": found,
                }));
            }
        }
    }
    warnings
}

/// `CheckExpression` and `TypeCheckingResults.String`: one
/// `<gvk>: <issues>\n` per kind the expression fails on.
fn check_expression(source: &str, kinds: &[(String, Value)], params: Option<&Value>) -> String {
    let Ok(compiled) = crate::cel_rules::compile(source) else {
        return String::new();
    };
    let mut results = Vec::new();
    for (gvk, schema) in kinds {
        let scope = vec![
            ("object".to_string(), Some(schema.clone())),
            ("oldObject".to_string(), Some(schema.clone())),
            ("params".to_string(), params.cloned()),
        ];
        let issues = undefined_fields_in(source, &compiled.expression, scope);
        if !issues.is_empty() {
            results.push(format!("{gvk}: {}\n", issues.join("\n")));
        }
    }
    results.join("\n")
}

/// `typesToCheck` resolved to schemas: the kinds of the exact
/// group/version/resources the rules name (wildcards and subresources
/// skipped), sorted, at most `MAX_TYPES`; those without a schema dropped.
fn typed_kinds(st: &State, policy: &Value) -> Vec<(String, Value)> {
    let strings = |r: &Value, key: &str| meta::strings(r.get(key));
    let rules = policy
        .pointer("/spec/matchConstraints/resourceRules")
        .and_then(Value::as_array);
    let mut kinds = BTreeSet::new();
    'rules: for rule in rules.into_iter().flatten() {
        let (mut groups, mut versions) = (strings(rule, "apiGroups"), strings(rule, "apiVersions"));
        if groups.iter().chain(&versions).any(|s| s.contains('*')) {
            continue;
        }
        let mut resources: Vec<String> = strings(rule, "resources")
            .into_iter()
            .filter(|r| !r.contains(['*', '/']))
            .collect();
        groups.sort();
        versions.sort();
        resources.sort();
        for g in &groups {
            for v in &versions {
                for r in &resources {
                    let served = st
                        .resources
                        .values()
                        .map(|rs| &rs.info)
                        .find(|i| i.group == *g && i.plural == *r && i.serves(v));
                    if let Some(info) = served {
                        kinds.insert((g.clone(), v.clone(), info.kind.clone()));
                        if kinds.len() == MAX_TYPES {
                            break 'rules;
                        }
                    }
                }
            }
        }
    }
    kinds
        .into_iter()
        .filter_map(|(g, v, k)| {
            let schema = object_schema(st, &g, &v, &k)?;
            Some((format!("{g}/{v}, Kind={k}"), schema))
        })
        .collect()
}

fn schema_of_kind(st: &State, kind: &Value) -> Option<Value> {
    let api_version = kind.get("apiVersion").and_then(Value::as_str)?;
    let k = kind.get("kind").and_then(Value::as_str)?;
    let (g, v) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    object_schema(st, g, v, k)
}

/// The schema of a whole object of a kind, as the OpenAPI document gives
/// it: the version's schema with `apiVersion`, `kind` and `metadata`
/// (left untyped here).
fn object_schema(st: &State, group: &str, version: &str, kind: &str) -> Option<Value> {
    let info = st
        .resources
        .values()
        .map(|rs| &rs.info)
        .find(|i| i.group == group && i.kind == kind && i.serves(version))?;
    let mut schema = info.schema(version)?.clone();
    if let Some(props) = schema
        .as_object_mut()
        .map(|s| s.entry("properties").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        props.insert("apiVersion".into(), json!({"type": "string"}));
        props.insert("kind".into(), json!({"type": "string"}));
        props.insert(
            "metadata".into(),
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
    }
    Some(schema)
}
