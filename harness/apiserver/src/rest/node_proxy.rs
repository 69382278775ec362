//! `nodes/{name}/proxy/{path}` to a kubelet a test (or the faker) plays:
//! kube-apiserver forwards the request to the node's kubelet with the path
//! after `/proxy` (`pkg/registry/core/node/rest/proxy.go`,
//! `JoinPreservingTrailingSlash`); here a handler registered for the node
//! answers it in-process. What the summary API
//! (`/stats/summary`) returns is how autoscalers and metrics-server read
//! volume usage, so code that reads it works unchanged on a real cluster.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;

/// What answers one node's proxied requests.
pub(crate) type Handler = Arc<
    dyn Fn(http::Request<Bytes>) -> Pin<Box<dyn Future<Output = http::Response<Bytes>> + Send>>
        + Send
        + Sync,
>;

/// The kubelets a test registered, by node name.
#[derive(Default)]
pub(crate) struct Kubelets(Mutex<HashMap<String, Handler>>);

impl Kubelets {
    pub(crate) fn set(&self, node: &str, handler: Handler) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node.to_string(), handler);
    }

    pub(crate) fn get(&self, node: &str) -> Option<Handler> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(node)
            .cloned()
    }
}

/// Sends the request on to the node's handler: its method, headers, body,
/// and the backend path and query (`Req::proxy_path`).
pub(crate) async fn forward(
    handler: Handler,
    method: http::Method,
    headers: http::HeaderMap,
    uri: &str,
    body: Bytes,
) -> Response {
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri.parse().unwrap_or_else(|_| http::Uri::from_static("/"));
    *request.headers_mut() = headers;
    let answer = handler(request).await;
    let (parts, body) = answer.into_parts();
    Response::from_parts(parts, Body::from(body))
}
