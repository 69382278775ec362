//! `POST` of the review kinds: SubjectAccessReview, LocalSubjectAccessReview,
//! SelfSubjectAccessReview, SelfSubjectRulesReview (authorization.k8s.io),
//! SelfSubjectReview and TokenReview (authentication.k8s.io). Nothing is
//! stored; the answer (the authorizer's decision from `crate::authz`, or
//! whom a token names from `crate::tokens`) is written into the object as
//! `pkg/registry/authorization/*/rest.go` and
//! `pkg/registry/authentication/*/` write it, with
//! the validation of `pkg/apis/authorization/validation/validation.go`.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::{Req, json_response, write::field_manager};
use crate::authz::{self, Attributes, User};
use crate::error::{ApiError, Target};
use crate::store::ops::{self, Part};
use crate::store::{State, meta};
use crate::validation::go_values;

pub(super) async fn create(mut req: Req) -> Result<Response, ApiError> {
    let mut obj = req.object().await?;
    // Decoded as its Go type: kind and apiVersion checked, unknown fields
    // dropped (or refused, as `fieldValidation` asks).
    ops::check_type_meta(&req.info, &req.version, &mut obj)?;
    let validation = ops::FieldValidation::from_param(req.params.get("fieldValidation"));
    crate::strategy::prune_builtin(&req.info, &req.version, &mut obj, validation)?;
    ops::check_namespace(&req.info, req.namespace.as_deref(), &mut obj)?;
    // `WipeObjectMetaSystemFields`: a review is never stored, so its
    // creationTimestamp stays unset (null on the wire).
    let m = meta::metadata_mut(&mut obj);
    for f in [
        "creationTimestamp",
        "uid",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        m.remove(f);
    }
    let o = obj.as_object_mut().expect("req.object() returns an object");
    o.insert(
        "apiVersion".into(),
        req.info.api_version(&req.version).into(),
    );
    o.insert("kind".into(), req.info.kind.clone().into());
    let st = req.shared.lock();
    let answer = match req.info.plural.as_str() {
        "selfsubjectrulesreviews" => {
            rules_review(&st, &User::of_request(&req.user, &req.headers), &obj)?
        }
        "selfsubjectreviews" => self_subject_review(&st, &req),
        "tokenreviews" => {
            let status = token_review(&st, &req.shared.signer, &obj)?;
            let mut answer = recorded(&st, &req, obj);
            answer["status"] = status;
            answer
        }
        plural => {
            access_review(plural, &obj)?;
            let (user, attrs) = match plural {
                "selfsubjectaccessreviews" => {
                    (User::of_request(&req.user, &req.headers), attributes(&obj))
                }
                _ => (spec_user(&obj), attributes(&obj)),
            };
            let decision = authz::authorize(&st, &user, &attrs);
            let mut status = Map::new();
            status.insert("allowed".into(), decision.allowed.into());
            if !decision.reason.is_empty() {
                status.insert("reason".into(), decision.reason.into());
            }
            let mut answer = recorded(&st, &req, obj);
            answer["status"] = Value::Object(status);
            answer
        }
    };
    Ok(json_response(StatusCode::CREATED, &answer))
}

/// The request object as the create handler's field manager leaves it:
/// `creationTimestamp: null` and an `Update` entry for the writer.
fn recorded(st: &State, req: &Req, mut obj: Value) -> Value {
    meta::metadata_mut(&mut obj).insert("creationTimestamp".into(), Value::Null);
    match field_manager(req) {
        Some(manager) => {
            let ctx = ops::managed_ctx(st, &req.info, &req.version, Part::Main);
            crate::patch::managed::record_update(None, &obj, &manager, &ctx)
        }
        None => obj,
    }
}

fn spec(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

fn present(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `authorization.NonResourceAttributes{...}` or `"null"`, as
/// `field.Invalid` prints the pointer it is given.
fn non_resource_value(spec: &Value) -> String {
    match spec.get("nonResourceAttributes").filter(|v| !v.is_null()) {
        None => "\"null\"".into(),
        Some(n) => format!(
            "authorization.NonResourceAttributes{{Path:{:?}, Verb:{:?}}}",
            str_of(n, "path"),
            str_of(n, "verb")
        ),
    }
}

/// `ValidateSubjectAccessReview`, `ValidateLocalSubjectAccessReview` and
/// `ValidateSelfSubjectAccessReview`: 422 naming each bad field. The
/// decoded internal object has no kind, so the message reads
/// `.authorization.k8s.io "" is invalid: …` as upstream's does.
fn access_review(plural: &str, obj: &Value) -> Result<(), ApiError> {
    let spec = spec(obj);
    let mut causes: Vec<(String, String)> = Vec::new();
    let (resource, non_resource) = (
        present(spec, "resourceAttributes"),
        present(spec, "nonResourceAttributes"),
    );
    if resource && non_resource {
        causes.push((
            "spec.nonResourceAttributes".into(),
            format!(
                "Invalid value: {}: cannot be specified in combination with resourceAttributes",
                non_resource_value(spec)
            ),
        ));
    }
    if !resource && !non_resource {
        causes.push((
            "spec.resourceAttributes".into(),
            "Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified".into(),
        ));
    }
    let groups_empty = spec
        .get("groups")
        .and_then(Value::as_array)
        .is_none_or(|g| g.is_empty());
    if plural != "selfsubjectaccessreviews" && str_of(spec, "user").is_empty() && groups_empty {
        causes.push((
            "spec.user".into(),
            "Invalid value: \"\": at least one of user or group must be specified".into(),
        ));
    }
    // `apiequality.Semantic.DeepEqual` with an empty ObjectMeta: zero
    // values (`""`, `0`, `{}`, `[]`, null) count as empty.
    let mut metadata = meta::metadata(obj).cloned().unwrap_or_default();
    metadata.remove("managedFields");
    metadata.retain(|_, v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Bool(b) => *b,
    });
    let local = plural == "localsubjectaccessreviews";
    let namespace = meta::namespace(obj).to_string();
    if local {
        metadata.remove("namespace");
    }
    if !metadata.is_empty() {
        let full = meta::metadata(obj).cloned().unwrap_or_default();
        let rule = if local {
            "must be empty except for namespace"
        } else {
            "must be empty"
        };
        causes.push((
            "metadata".into(),
            format!(
                "Invalid value: {}: {rule}",
                go_values::object_meta(&Value::Object(full))
            ),
        ));
    }
    if local {
        if let Some(attrs) = spec.get("resourceAttributes").filter(|v| !v.is_null())
            && str_of(attrs, "namespace") != namespace
        {
            causes.push((
                "spec.resourceAttributes.namespace".into(),
                format!(
                    "Invalid value: {:?}: must match metadata.namespace",
                    str_of(attrs, "namespace")
                ),
            ));
        }
        if non_resource {
            causes.push((
                "spec.nonResourceAttributes".into(),
                format!(
                    "Invalid value: {}: disallowed on this kind of request",
                    non_resource_value(spec)
                ),
            ));
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "",
        Target {
            group: "authorization.k8s.io",
            plural,
            name: "",
        },
        &causes,
    ))
}

/// The user a SubjectAccessReview asks about (`util.AuthorizationAttributesFrom`:
/// exactly the spec's user, groups, uid and extra; no implied groups).
fn spec_user(obj: &Value) -> User {
    let spec = spec(obj);
    User {
        name: str_of(spec, "user").into(),
        uid: str_of(spec, "uid").into(),
        groups: meta::strings(spec.get("groups")),
        extra: spec
            .get("extra")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    }
}

fn attributes(obj: &Value) -> Attributes {
    let spec = spec(obj);
    match spec.get("resourceAttributes").filter(|v| !v.is_null()) {
        Some(r) => Attributes::Resource {
            verb: str_of(r, "verb").into(),
            group: str_of(r, "group").into(),
            resource: str_of(r, "resource").into(),
            subresource: str_of(r, "subresource").into(),
            namespace: str_of(r, "namespace").into(),
            name: str_of(r, "name").into(),
        },
        None => {
            let n = spec.get("nonResourceAttributes").unwrap_or(&Value::Null);
            Attributes::NonResource {
                verb: str_of(n, "verb").into(),
                path: str_of(n, "path").into(),
            }
        }
    }
}

/// `selfsubjectrulesreview/rest.go`: a new object holding only the status,
/// each rule split into its resource and non-resource halves
/// (`rbac.ConvertToResourceRules`).
fn rules_review(st: &State, user: &User, obj: &Value) -> Result<Value, ApiError> {
    let namespace = str_of(spec(obj), "namespace");
    if namespace.is_empty() {
        return Err(ApiError::bad_request("no namespace on request"));
    }
    let (rules, error) = authz::rules_for(st, user, namespace);
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for rule in rules {
        let entry = |k: &str, v: &[String], out: &mut Map<String, Value>| {
            if !v.is_empty() {
                out.insert(k.into(), v.into());
            }
        };
        if !rule.resources.is_empty() {
            let mut r = Map::new();
            r.insert("verbs".into(), rule.verbs.clone().into());
            entry("apiGroups", &rule.api_groups, &mut r);
            entry("resources", &rule.resources, &mut r);
            entry("resourceNames", &rule.resource_names, &mut r);
            resource_rules.push(Value::Object(r));
        }
        if !rule.non_resource_urls.is_empty() {
            let mut r = Map::new();
            r.insert("verbs".into(), rule.verbs.clone().into());
            entry("nonResourceURLs", &rule.non_resource_urls, &mut r);
            non_resource_rules.push(Value::Object(r));
        }
    }
    let mut status = json!({
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": false,
    });
    if let Some(error) = error {
        status["evaluationError"] = error.into();
    }
    Ok(json!({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": {},
        "status": status,
    }))
}

/// `selfsubjectreview/rest.go`: who the request came from (`kubectl auth
/// whoami`), created now.
fn self_subject_review(st: &State, req: &Req) -> Value {
    let user = User::of_request(&req.user, &req.headers);
    json!({
        "kind": req.info.kind,
        "apiVersion": req.info.api_version(&req.version),
        "metadata": {"creationTimestamp": st.now()},
        "status": {"userInfo": user.user_info()},
    })
}

/// `tokenreview/storage.go`: whom a token names for the audiences asked
/// (the API audience when none), or why it names no one.
fn token_review(
    st: &State,
    signer: &crate::tokens::Signer,
    obj: &Value,
) -> Result<Value, ApiError> {
    let spec = spec(obj);
    let token = str_of(spec, "token");
    if token.is_empty() {
        return Err(ApiError::bad_request(
            "token is required for TokenReview in authentication",
        ));
    }
    let mut audiences = meta::strings(spec.get("audiences"));
    if audiences.is_empty() {
        audiences.push(crate::tokens::ISSUER.into());
    }
    Ok(
        match crate::tokens::authenticate(st, signer, token, &audiences) {
            Ok(found) => json!({
                "authenticated": true,
                "user": found.user.user_info(),
                "audiences": found.audiences,
            }),
            Err(why) => json!({"user": {}, "error": why}),
        },
    )
}
