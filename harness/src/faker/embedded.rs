//! A faker bound to an embedded server: it reads the server's change feed
//! and answers the server's node proxy as each fake node's kubelet.

use std::sync::Arc;

use super::StatusFaker;

/// Each fake node's kubelet, as `nodes/{node}/proxy` reaches it: the
/// faker's summary API at `/stats/summary`, and the kubelet's own 404
/// (Go's `http.NotFound`) for any other path.
pub(super) fn serve_kubelets(server: &kube_harness_apiserver::ApiServer, faker: &StatusFaker) {
    let read = Arc::new(faker.summaries());
    let server = server.clone();
    faker.serve_kubelets_with(Arc::new(move |node: &str| {
        let (read, name) = (read.clone(), node.to_owned());
        server.serve_node_proxy(node, move |request: http::Request<bytes::Bytes>| {
            let asked =
                request.method() == http::Method::GET && request.uri().path() == "/stats/summary";
            let summary = if asked { read(&name) } else { None };
            async move {
                let (status, kind, body) = match summary {
                    Some(s) => (http::StatusCode::OK, "application/json", s.to_string()),
                    None => (
                        http::StatusCode::NOT_FOUND,
                        "text/plain; charset=utf-8",
                        "404 page not found\n".to_string(),
                    ),
                };
                let mut response = http::Response::new(bytes::Bytes::from(body));
                *response.status_mut() = status;
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(kind),
                );
                response
            }
        });
    }));
}
