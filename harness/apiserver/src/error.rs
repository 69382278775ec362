//! Errors: [`ApiError`] is what a client sees (always a `Status` object with
//! the reason and code kube-apiserver would use); [`Error`] is what the
//! embedding program sees when starting or configuring the server.

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

/// A failure of one API request, rendered as a `metav1.Status`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status code (also the Status object's `code`).
    pub code: StatusCode,
    /// The Status object's `reason` (`NotFound`, `Conflict`, `Invalid`, …;
    /// an admission webhook may answer with its own).
    pub reason: &'static str,
    /// The Status object's `message`, worded as kube-apiserver words it.
    pub message: String,
    /// `details` of the Status (name, group, kind, causes); may be null.
    pub details: Value,
}

/// The resource an error is about, so the message reads like kube-apiserver's
/// (`pods "web-0" not found`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) group: &'a str,
    pub(crate) plural: &'a str,
    pub(crate) name: &'a str,
}

impl Target<'_> {
    fn qualified(&self) -> String {
        crate::registry::qualified(self.group, self.plural)
    }

    fn details(&self) -> Value {
        json!({"name": self.name, "group": self.group, "kind": self.plural})
    }
}

impl ApiError {
    pub(crate) fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: Value::Null,
        }
    }

    pub(crate) fn not_found(t: Target<'_>) -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{}\" not found", t.qualified(), t.name),
        );
        e.details = t.details();
        e
    }

    /// A path or resource the server does not serve at all: go-restful's
    /// answer through kube-apiserver's `serviceErrorHandler`
    /// (`NewGenericServerResponse`), whose empty details read `{}`.
    pub(crate) fn no_route() -> Self {
        let mut e = Self::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        );
        e.details = json!({});
        e
    }

    pub(crate) fn already_exists(t: Target<'_>) -> Self {
        let mut e = Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{}\" already exists", t.qualified(), t.name),
        );
        e.details = t.details();
        e
    }

    pub(crate) fn conflict(t: Target<'_>, why: &str) -> Self {
        let mut e = Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {why}",
                t.qualified(),
                t.name
            ),
        );
        e.details = t.details();
        e
    }

    /// The stale-resourceVersion conflict every controller retries on.
    pub(crate) fn stale(t: Target<'_>) -> Self {
        Self::conflict(
            t,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with one cause per invalid field, as kube-apiserver's validation reports.
    pub(crate) fn invalid(kind: &str, t: Target<'_>, causes: &[(String, String)]) -> Self {
        // The message lists each distinct error once (utilerrors' aggregate);
        // the causes keep every entry.
        let mut text: Vec<String> = Vec::new();
        for (f, m) in causes {
            let line = format!("{f}: {m}");
            if !text.contains(&line) {
                text.push(line);
            }
        }
        let what = if t.group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{}", t.group)
        };
        let message = if text.len() == 1 {
            format!("{what} \"{}\" is invalid: {}", t.name, text[0])
        } else {
            format!("{what} \"{}\" is invalid: [{}]", t.name, text.join(", "))
        };
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message);
        e.details = json!({
            "name": t.name,
            "group": t.group,
            "kind": kind,
            "causes": causes.iter().map(|(f, m)| json!({
                "reason": cause_reason(m), "message": m, "field": f
            })).collect::<Vec<_>>(),
        });
        e
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    /// `fieldValidation=Strict` and unknown fields: the decoder's error
    /// through `transformDecodeError` (apiserver's
    /// `pkg/endpoints/handlers/rest.go`), a 400.
    /// `errors` are the decoder's own (`unknown field "spec.x"`,
    /// `duplicate field "metadata.name"`).
    pub(crate) fn strict_decoding(kind: &str, version: &str, fields: &[String]) -> Self {
        Self::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {kind}: strict decoding error: {}",
            fields.join(", ")
        ))
    }

    pub(crate) fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// apimachinery's `NewForbidden`: `namespaces "default" is forbidden: …`,
    /// with the resource in `details`.
    pub(crate) fn forbidden_on(t: Target<'_>, why: &str) -> Self {
        let mut e = Self::forbidden(format!(
            "{} \"{}\" is forbidden: {why}",
            t.qualified(),
            t.name
        ));
        e.details = t.details();
        e
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub(crate) fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
        )
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// apimachinery's `NewInternalError(err)`: the error prefixed, and
    /// again as the one cause.
    pub(crate) fn internal_error(err: &str) -> Self {
        let mut e = Self::internal(format!("Internal error occurred: {err}"));
        e.details = json!({"causes": [{"message": err}]});
        e
    }

    /// The `metav1.Status` body, with kube-apiserver's field order and its
    /// empty fields omitted (`omitempty` in apimachinery's `Status` and
    /// `StatusDetails`); a Status with details but none set reads `{}`.
    pub fn status(&self) -> Value {
        Value::Object(self.status_map())
    }

    /// [`ApiError::status`] as its ordered map of fields.
    pub(crate) fn status_map(&self) -> serde_json::Map<String, Value> {
        let mut s = serde_json::Map::new();
        s.insert("kind".into(), "Status".into());
        s.insert("apiVersion".into(), "v1".into());
        s.insert("metadata".into(), json!({}));
        s.insert("status".into(), "Failure".into());
        s.insert("message".into(), self.message.clone().into());
        // Upstream omits an empty reason (e.g. eviction's multi-budget 500).
        if !self.reason.is_empty() {
            s.insert("reason".into(), self.reason.into());
        }
        if !self.details.is_null() {
            s.insert("details".into(), canonical_details(&self.details));
        }
        s.insert("code".into(), self.code.as_u16().into());
        s
    }
}

/// `StatusDetails` in its Go field order, empty fields left out.
fn canonical_details(details: &Value) -> Value {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Number(n) => n.as_u64() == Some(0),
        _ => false,
    };
    let mut out = serde_json::Map::new();
    for key in [
        "name",
        "group",
        "kind",
        "uid",
        "causes",
        "retryAfterSeconds",
    ] {
        if let Some(v) = details.get(key).filter(|v| !empty(v)) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = crate::rest::json_response(self.code, &self.status());
        // kube-apiserver turns a Status's retryAfterSeconds into the header
        // clients (client-go, kubectl drain) actually wait on.
        if let Some(secs) = self
            .details
            .get("retryAfterSeconds")
            .and_then(Value::as_u64)
            .filter(|s| *s > 0)
        {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        resp
    }
}

/// Why starting, serving or configuring the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding the HTTP listener or writing the kubeconfig failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A CRD manifest could not be read or parsed.
    #[error("CRD manifest {path}: {message}")]
    CrdManifest {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The server refused a CRD (invalid schema, conflicting names, …).
    #[error("CRD {name} was rejected: {message}")]
    CrdRejected {
        /// The CRD's name.
        name: String,
        /// The server's reason.
        message: String,
    },
    /// The bearer token given to the builder cannot be one.
    #[error("bearer token: {0}")]
    BadToken(&'static str),
    /// A fault file could not be read, or one of its rules makes no sense.
    #[error("fault rules {source_name}: {message}")]
    FaultFile {
        /// The file, or `<text>` for rules given as a string.
        source_name: String,
        /// What is wrong, naming the rule.
        message: String,
    },
    /// A CRD was accepted but its resource was not served in time.
    #[error("CRD {name} was not served within {waited_ms} ms")]
    CrdNotServed {
        /// The CRD's name.
        name: String,
        /// How long it waited.
        waited_ms: u64,
    },
}

/// The `field.ErrorType` of a cause, read back from how its body begins
/// (apimachinery's `field/errors.go` writes each type's text first); a type
/// mismatch found by schema validation is `FieldValueTypeInvalid`.
pub(crate) fn cause_reason(body: &str) -> &'static str {
    const PREFIXES: &[(&str, &str)] = &[
        ("Not found", "FieldValueNotFound"),
        ("Required value", "FieldValueRequired"),
        ("Duplicate value", "FieldValueDuplicate"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Forbidden", "FieldValueForbidden"),
        ("Too long", "FieldValueTooLong"),
        ("Too many", "FieldValueTooMany"),
        ("Internal error", "InternalError"),
    ];
    if let Some((_, reason)) = PREFIXES.iter().find(|(p, _)| body.starts_with(p)) {
        return reason;
    }
    if body.starts_with("Invalid value") && body.contains(" in body must be of type ") {
        return "FieldValueTypeInvalid";
    }
    "FieldValueInvalid"
}

/// A reason an admission webhook chose, as the `&'static str` the Status
/// keeps: metav1's own reasons are static already; any other is kept once
/// for the life of the process (webhooks use a handful).
pub(crate) fn reason_of(reason: &str) -> &'static str {
    static SEEN: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = seen.iter().find(|r| **r == reason) {
        return known;
    }
    let kept: &'static str = Box::leak(reason.to_string().into_boxed_str());
    seen.push(kept);
    kept
}
