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

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::cel_rules::check::undefined_fields_in;
use crate::patch::{self, PatchContext, PatchType};
use crate::registry::{GroupResource, ResourceInfo};
use crate::store::{State, meta};

/// Upstream stops collecting kinds at this many (`maxTypesToCheck`).
const MAX_TYPES: usize = 10;

const MANAGER: &str = "validatingadmissionpolicy-status-controller";
const API_VERSION: &str = "admissionregistration.k8s.io/v1";

/// Whether a policy's generation has not been checked yet.
pub(crate) fn unchecked(policy: &Value) -> bool {
    let observed = policy
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    observed.is_none_or(|o| o < generation(policy)) && meta::deletion_timestamp(policy).is_none()
}

fn generation(policy: &Value) -> i64 {
    policy
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// The controller's reconcile of one policy, after the write that made a
/// new generation (a write of its own, as upstream's controller makes it,
/// so that write's response stays current): the status as a server-side
/// apply of the controller.
pub(crate) fn reconcile(st: &mut State, name: &str) {
    let gr = GroupResource::new(
        "admissionregistration.k8s.io",
        "validatingadmissionpolicies",
    );
    let Some(policy) = st.get(&gr, &(String::new(), name.to_string())) else {
        return;
    };
    if !unchecked(&policy) {
        return;
    }
    let warnings = check(st, &policy);
    let mut type_checking = json!({});
    if !warnings.is_empty() {
        type_checking["expressionWarnings"] = warnings.into();
    }
    let body = json!({
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "status": {"observedGeneration": generation(&policy), "typeChecking": type_checking},
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
    if let Ok(new) = patch::apply_patch(PatchType::Apply, Some(&policy), &body, &ctx) {
        st.commit(&gr, new);
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
    let mut kinds = BTreeMap::new();
    for rule in rules.into_iter().flatten() {
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
        // Upstream counts per rule and stops everything at the cap.
        let mut count = 0;
        for g in &groups {
            for v in &versions {
                for r in &resources {
                    if let Some(info) = st.lookup(g, v, r) {
                        kinds.insert((g.clone(), v.clone(), info.kind.clone()), info);
                        count += 1;
                        if count == MAX_TYPES {
                            return with_schemas(kinds);
                        }
                    }
                }
            }
        }
    }
    with_schemas(kinds)
}

/// The kinds that have a schema here, named as `GroupVersionKind.String`.
fn with_schemas(
    kinds: BTreeMap<(String, String, String), Arc<ResourceInfo>>,
) -> Vec<(String, Value)> {
    kinds
        .into_iter()
        .filter_map(|((g, v, k), info)| {
            let schema = object_schema(&info, &v)?;
            Some((format!("{g}/{v}, Kind={k}"), schema))
        })
        .collect()
}

fn schema_of_kind(st: &State, kind: &Value) -> Option<Value> {
    let info = super::policy::resolve_kind(st, kind).ok()?;
    let api_version = kind.get("apiVersion").and_then(Value::as_str)?;
    let version = api_version.rsplit_once('/').map_or(api_version, |(_, v)| v);
    object_schema(&info, version)
}

/// The schema of a whole object of a kind, as the OpenAPI document gives
/// it: the version's schema with `apiVersion`, `kind` and `metadata`
/// (left untyped here).
fn object_schema(info: &ResourceInfo, version: &str) -> Option<Value> {
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
