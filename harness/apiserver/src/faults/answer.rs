//! The answers an injected fault gives, as kube-apiserver words them.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::json;

use super::rule::{Effect, StatusKind};
use crate::error::{ApiError, Target};

/// apiserver `storage/etcd3/errors.go` `handleCompactedErrorForPaging`: the
/// Status a list gets when its continue token names a compacted revision.
const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// An injected answer, built once the request's object is known (with the
/// list's continue token, which an expired-continue answer hands back).
pub(crate) struct Answer(pub(super) Effect, pub(super) Option<String>);

impl Answer {
    /// The response kube-apiserver would give.
    pub(crate) fn respond(self, target: Target<'_>) -> Response {
        match self.0 {
            Effect::Status(StatusKind::Conflict) => ApiError::stale(target).into_response(),
            Effect::Status(StatusKind::Internal(cause)) => {
                ApiError::internal_error(&cause).into_response()
            }
            Effect::Status(StatusKind::Unavailable(message)) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            )
            .into_response(),
            Effect::Status(StatusKind::Timeout(message)) => {
                let mut e = ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Timeout",
                    format!("Timeout: {message}"),
                );
                e.details = json!({"retryAfterSeconds": 1});
                e.into_response()
            }
            Effect::Status(StatusKind::Custom {
                code,
                reason,
                message,
            }) => {
                let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                // The reason goes where a Status has it: after the message.
                let mut status = serde_json::Map::new();
                for (k, v) in ApiError::new(code, "", message).status_map() {
                    let after_message = k == "message";
                    status.insert(k, v);
                    if after_message && !reason.is_empty() {
                        status.insert("reason".into(), json!(reason));
                    }
                }
                crate::rest::json_response(code, &serde_json::Value::Object(status))
            }
            Effect::Throttle {
                retry_after_seconds,
            } => Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                // What Go's http.Error writes.
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("X-Content-Type-Options", "nosniff")
                .header(header::RETRY_AFTER, retry_after_seconds.to_string())
                .body(Body::from("Too many requests, please try again later.\n"))
                .unwrap_or_else(|_| StatusCode::TOO_MANY_REQUESTS.into_response()),
            Effect::ExpiredContinue => {
                // Upstream hands back a token that continues at the latest
                // version (`metadata.continue`); nothing is compacted here,
                // so the request's own token does that.
                let mut status = ApiError::gone(EXPIRED_CONTINUE).status();
                status["metadata"]["continue"] = json!(self.1.unwrap_or_default());
                crate::rest::json_response(StatusCode::GONE, &status)
            }
            Effect::Latency(_) | Effect::Watch { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}
