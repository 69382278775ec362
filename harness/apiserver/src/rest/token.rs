//! `POST serviceaccounts/{name}/token` (TokenRequest, `kubectl create
//! token`): a token for the service account, signed by this server, as
//! kube-apiserver's `TokenREST.Create` makes it
//! (pkg/registry/core/serviceaccount/storage/token.go), with the defaults
//! of pkg/apis/authentication/v1/defaults.go and the checks of
//! pkg/apis/authentication/validation/validation.go.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Req, json_response};
use crate::error::{ApiError, Target};
use crate::registry::GroupResource;
use crate::store::{meta, ops};
use crate::tokens::ISSUER;

/// `SetDefaults_TokenRequestSpec`: an hour.
const DEFAULT_EXPIRATION: i64 = 60 * 60;
/// `MinTokenAgeSec`.
const MIN_EXPIRATION: i64 = 10 * 60;

fn invalid(field: &str, message: String) -> ApiError {
    ApiError::invalid(
        "TokenRequest",
        Target {
            group: "authentication.k8s.io",
            plural: "tokenrequests",
            name: "",
        },
        &[(field.to_string(), message)],
    )
}

pub(super) async fn request(mut req: Req) -> Result<Response, ApiError> {
    let mut tr = req.object().await?;
    // What Go's JSON decoding into the type says of a spec that is no
    // object (`encoding/json` `UnmarshalTypeError`).
    let what = match tr.get("spec") {
        Some(Value::Number(_)) => Some("number"),
        Some(Value::String(_)) => Some("string"),
        Some(Value::Bool(_)) => Some("bool"),
        Some(Value::Array(_)) => Some("array"),
        _ => None,
    };
    if let Some(what) = what {
        return Err(ApiError::bad_request(format!(
            "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: json: cannot unmarshal {what} into Go struct field TokenRequest.spec of type v1.TokenRequestSpec"
        )));
    }
    let name = req.name.clone().unwrap_or_default();
    let namespace = req.namespace.clone().unwrap_or_default();
    for (field, want, what) in [
        ("name", &name, "name"),
        ("namespace", &namespace, "namespace"),
    ] {
        let given = meta::metadata(&tr)
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !given.is_empty() && given != want {
            return Err(invalid(
                &format!("metadata.{field}"),
                format!(
                    "Invalid value: {given:?}: must match the service account {what} if specified"
                ),
            ));
        }
    }
    let st = req.shared.lock();
    let sa = st
        .get(
            &GroupResource::new("", "serviceaccounts"),
            &(namespace.clone(), name.clone()),
        )
        .ok_or_else(|| ApiError::not_found(ops::target(&req.info, &name)))?;
    let spec = tr
        .get("spec")
        .filter(|s| s.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let expiration = spec
        .get("expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_EXPIRATION);
    if expiration < MIN_EXPIRATION {
        return Err(invalid(
            "spec.expirationSeconds",
            format!("Invalid value: {expiration}: may not specify a duration less than 10 minutes"),
        ));
    }
    if expiration > 1 << 32 {
        return Err(invalid(
            "spec.expirationSeconds",
            format!(
                "Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"
            ),
        ));
    }
    let mut audiences: Vec<Value> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if audiences.is_empty() {
        audiences.push(ISSUER.into());
    }
    let mut bound = serde_json::Map::new();
    if let Some(r) = spec.get("boundObjectRef").filter(|r| !r.is_null()) {
        let (kind, plural, ns) = match r.get("kind").and_then(Value::as_str).unwrap_or("") {
            "Pod" => ("pod", "pods", namespace.as_str()),
            "Secret" => ("secret", "secrets", namespace.as_str()),
            "Node" => ("node", "nodes", ""),
            other => {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token to object of type {other}"
                )));
            }
        };
        let bound_name = r.get("name").and_then(Value::as_str).unwrap_or("");
        let info = st
            .resources
            .get(&GroupResource::new("", plural))
            .expect("core kinds registered")
            .info
            .clone();
        let object = st
            .get(&info.gr(), &(ns.to_string(), bound_name.to_string()))
            .ok_or_else(|| ApiError::not_found(ops::target(&info, bound_name)))?;
        let uid = meta::uid(&object);
        if let Some(asked) = r
            .get("uid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            && asked != uid
        {
            return Err(ApiError::conflict(
                ops::target(&info, bound_name),
                &format!(
                    "the UID in the bound object reference ({asked}) does not match the UID in record. The object might have been deleted and then recreated"
                ),
            ));
        }
        if kind == "pod" {
            let runs_as = object
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if runs_as != name {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {name:?} to pod running with different serviceaccount name."
                )));
            }
        }
        bound.insert(kind.into(), json!({"name": bound_name, "uid": uid}));
    }
    let now = st.clock.now().as_second();
    let mut k8s = json!({
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": meta::uid(&sa)},
    });
    if let Some(m) = k8s.as_object_mut() {
        m.extend(bound);
    }
    let token = req.shared.signer.sign(&json!({
        "aud": audiences,
        "exp": now + expiration,
        "iat": now,
        "iss": ISSUER,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": k8s,
        "nbf": now,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    }));
    let expires = jiff::Timestamp::from_second(now + expiration)
        .map(crate::clock::format_time)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // The request echoed, named, created now, with its defaults and status.
    let m = meta::metadata_mut(&mut tr);
    m.insert("name".into(), name.into());
    m.insert("namespace".into(), namespace.into());
    m.insert("creationTimestamp".into(), st.now().into());
    tr["spec"] = spec;
    tr["spec"]["audiences"] = audiences.into();
    tr["spec"]["expirationSeconds"] = expiration.into();
    tr["status"] = json!({"token": token, "expirationTimestamp": expires});
    tr["apiVersion"] = "authentication.k8s.io/v1".into();
    tr["kind"] = "TokenRequest".into();
    Ok(json_response(StatusCode::CREATED, &tr))
}
