//! What the request-level fuzz targets share: one server on one runtime for
//! the whole run (objects pile up across inputs, as on a long-lived server),
//! and the invariant every answer must hold.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kube_harness_apiserver::ApiServer;
use tower::ServiceExt;

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

pub fn server() -> &'static ApiServer {
    static SERVER: OnceLock<ApiServer> = OnceLock::new();
    SERVER.get_or_init(|| runtime().block_on(ApiServer::start()).expect("server starts"))
}

/// Sends `req` through the router. No request may answer 500; an error body
/// is a `Status` whose `code` is the HTTP status. A successful watch streams
/// until cancelled, so its body is not read: dropping it must end the watch.
pub fn send(req: Request<Body>, watch: bool) -> StatusCode {
    let what = format!("{} {}", req.method(), req.uri());
    // Outside `block_on`: the first call starts the server on the runtime.
    let router = server().router();
    runtime().block_on(async {
        let resp = router
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = resp.status();
        if watch && status.is_success() {
            return status;
        }
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert_ne!(status.as_u16(), 500, "{what} answered 500: {text}");
        if status.is_client_error() && !bytes.is_empty() {
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("{what}: error body is not JSON ({e}): {text}"));
            assert_eq!(v["kind"], "Status", "{what}: {v}");
            assert_eq!(v["code"], status.as_u16(), "{what}: {v}");
        }
        status
    })
}
