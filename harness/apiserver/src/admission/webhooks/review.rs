//! AdmissionReview v1 both ways: the request a webhook receives
//! (apiserver `admission/plugin/webhook/request/admissionreview.go`,
//! `CreateV1AdmissionReview`), the checks on what it answers
//! (`VerifyAdmissionResponse`), and the Status of a refusal
//! (`admission/plugin/webhook/errors/statuserror.go`).

use http::StatusCode;
use serde_json::{Value, json};

use super::super::Attributes;
use crate::error::ApiError;

/// The AdmissionReview version a webhook gets: the first of its
/// `admissionReviewVersions` the server knows (`CreateAdmissionObjects`).
pub(super) fn version(spec: &Value) -> Result<&'static str, String> {
    crate::store::meta::strings(spec.get("admissionReviewVersions"))
        .iter()
        .find_map(|v| match v.as_str() {
            "v1" => Some("admission.k8s.io/v1"),
            "v1beta1" => Some("admission.k8s.io/v1beta1"),
            _ => None,
        })
        .ok_or_else(|| {
            "could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)".to_string()
        })
}

/// The AdmissionReview sent for one call; `uid` identifies the call.
pub(super) fn request(a: &Attributes<'_>, uid: &str, api_version: &str) -> Value {
    let mut request = a.request();
    let map = request.as_object_mut().expect("object");
    map.insert("uid".into(), uid.into());
    // `omitempty` in `admission/v1` `AdmissionRequest`; the objects are
    // RawExtensions, null when absent.
    for key in ["subResource", "requestSubResource", "name", "namespace"] {
        if map.get(key).and_then(Value::as_str) == Some("") {
            map.remove(key);
        }
    }
    let options = map.remove("options");
    map.insert("object".into(), a.object.cloned().unwrap_or(Value::Null));
    map.insert(
        "oldObject".into(),
        a.old_object.cloned().unwrap_or(Value::Null),
    );
    let dry_run = map.remove("dryRun");
    map.insert("dryRun".into(), dry_run.unwrap_or(false.into()));
    map.insert("options".into(), options.unwrap_or(Value::Null));
    json!({"kind": "AdmissionReview", "apiVersion": api_version, "request": request})
}

/// A webhook's verified answer.
pub(super) struct Reply {
    pub allowed: bool,
    status: Value,
    patch: Option<Vec<u8>>,
    warnings: Vec<String>,
}

/// `VerifyAdmissionResponse`, in its order; a v1beta1 answer is only
/// checked for a response.
pub(super) fn reply(
    body: &Value,
    uid: &str,
    api_version: &str,
    mutating: bool,
) -> Result<Reply, String> {
    let invalid = |e: String| format!("received invalid webhook response: {e}");
    let Some(response) = body.get("response").filter(|r| r.is_object()) else {
        return Err(invalid("webhook response was absent".into()));
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    if api_version == "admission.k8s.io/v1" {
        let got_uid = text(response, "uid");
        if got_uid != uid {
            return Err(invalid(format!(
                "expected response.uid={uid:?}, got {got_uid:?}"
            )));
        }
        let (got_version, kind) = (text(body, "apiVersion"), text(body, "kind"));
        if got_version != api_version || kind != "AdmissionReview" {
            let (group, version) = got_version.rsplit_once('/').unwrap_or(("", &got_version));
            return Err(invalid(format!(
                "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {group}/{version}, Kind={kind}"
            )));
        }
    }
    let patch_type = text(response, "patchType");
    let patch = match response.get("patch").and_then(Value::as_str) {
        Some(p) if !p.is_empty() => Some(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p)
                .map_err(|e| invalid(format!("illegal base64 data in response.patch: {e}")))?,
        ),
        _ => None,
    };
    let checked = api_version == "admission.k8s.io/v1";
    match (mutating, patch.is_some(), patch_type.is_empty()) {
        _ if !checked => {}
        (true, true, true) => {
            return Err(invalid(
                "webhook returned response.patch but not response.patchType".into(),
            ));
        }
        (true, false, false) => {
            return Err(invalid(
                "webhook returned response.patchType but not response.patch".into(),
            ));
        }
        (false, true, _) => {
            return Err(invalid(
                "validating webhook may not return response.patch".into(),
            ));
        }
        (false, false, false) => {
            return Err(invalid(
                "validating webhook may not return response.patchType".into(),
            ));
        }
        _ => {}
    }
    if checked && mutating && response.get("patchType").is_some_and(|t| t == "") {
        return Err(invalid(format!(
            "webhook returned invalid response.patchType of {patch_type:?}"
        )));
    }
    let patch = patch.filter(|_| mutating);
    if checked && patch.is_some() && patch_type != "JSONPatch" {
        return Err(format!("unsupported patch type {patch_type:?}"));
    }
    Ok(Reply {
        allowed: response.get("allowed").and_then(Value::as_bool) == Some(true),
        status: response.get("status").cloned().unwrap_or(Value::Null),
        patch,
        warnings: crate::store::meta::strings(response.get("warnings")),
    })
}

impl Reply {
    /// The reply's warnings become the request's (`warning.AddWarning`).
    pub(super) fn warn(&self) {
        for w in self.warnings.iter().filter(|w| !w.trim().is_empty()) {
            crate::warnings::add(w.clone());
        }
    }

    pub(super) fn has_patch(&self) -> bool {
        self.patch
            .as_deref()
            .is_some_and(|p| p.trim_ascii() != b"[]")
    }

    /// The object after the reply's JSON patch; a patch that does not decode
    /// or apply is an internal error, whatever the failure policy.
    pub(super) fn patched(&self, object: &Value) -> Result<Value, ApiError> {
        let Some(bytes) = &self.patch else {
            return Ok(object.clone());
        };
        let internal = |e: String| ApiError::internal_error(&e);
        let ops: Value = serde_json::from_slice(bytes).map_err(|e| internal(e.to_string()))?;
        if !ops.is_array() {
            return Err(internal(
                "json: cannot unmarshal object into Go value of type jsonpatch.Patch".into(),
            ));
        }
        crate::patch::json_patch_apply(object, &ops).map_err(internal)
    }

    /// `ToStatusErr`: the webhook's Status, a code of at least 400, and the
    /// message prefixed with who refused.
    pub(super) fn denied(&self, webhook: &str) -> ApiError {
        let field = |key: &str| self.status.get(key).and_then(Value::as_str).unwrap_or("");
        let code = self
            .status
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| *c >= 400)
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        let denied_by = format!("admission webhook {webhook:?} denied the request");
        let message = match (field("message"), field("reason")) {
            ("", "") => format!("{denied_by} without explanation"),
            ("", reason) => format!("{denied_by}: {reason}"),
            (message, _) => format!("{denied_by}: {message}"),
        };
        let mut e = ApiError::new(code, "", message);
        e.reason = crate::error::reason_of(field("reason"));
        if let Some(details) = self.status.get("details").filter(|d| d.is_object()) {
            e.details = details.clone();
        }
        e
    }
}

/// `NewDryRunUnsupportedErr`.
pub(super) fn dry_run_unsupported(webhook: &str) -> ApiError {
    ApiError::bad_request(format!(
        "admission webhook {webhook:?} does not support dry run"
    ))
}

/// A call that failed under `failurePolicy: Fail` (`ErrCallingWebhook` as
/// an internal error).
pub(super) fn call_failed(webhook: &str, reason: &str) -> ApiError {
    ApiError::internal_error(&format!("failed calling webhook {webhook:?}: {reason}"))
}

/// A patch from a webhook called on a DELETE (which has no object).
pub(super) fn cannot_modify(webhook: &str) -> ApiError {
    ApiError::internal_error(&format!(
        "admission webhook {webhook:?} attempted to modify the object, which is not supported for this operation"
    ))
}
