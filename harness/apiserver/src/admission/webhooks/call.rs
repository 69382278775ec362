//! One AdmissionReview round trip: to a URL over HTTPS (the configuration's
//! `caBundle` the only trusted root, as kube-apiserver's webhook client
//! does), over plain HTTP where a test routed a Service to an `http://`
//! URL, or to a handler the test registered in-process. All three see the
//! same JSON, so a handler cannot tell how it was reached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

/// An in-process webhook: the AdmissionReview in, the AdmissionReview out.
pub(crate) type WebhookHandler = Arc<dyn Fn(Value) -> BoxFuture<'static, Value> + Send + Sync>;

/// What a `clientConfig.service` reaches, since no Service routes here.
#[derive(Clone)]
pub(crate) enum Route {
    /// A base URL (`https://…` or, opted into by the test, `http://…`); the
    /// service's `path` is appended.
    Url(String),
    Handler(WebhookHandler),
}

/// Service routes a test registered, by `(namespace, name)`.
#[derive(Default)]
pub(crate) struct Routes(Mutex<HashMap<(String, String), Route>>);

impl Routes {
    pub(crate) fn set(&self, namespace: &str, name: &str, route: Route) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((namespace.to_string(), name.to_string()), route);
    }

    fn get(&self, namespace: &str, name: &str) -> Option<Route> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }
}

/// Where one webhook is called.
pub(super) enum Endpoint {
    Http {
        url: String,
        ca_bundle: Vec<u8>,
        /// The name the certificate must carry: the URL's host, or for a
        /// Service `<name>.<namespace>.svc` wherever the test routed it.
        server_name: Option<String>,
    },
    Handler(WebhookHandler),
}

impl Endpoint {
    /// `clientConfig.url`, or `clientConfig.service` through the routes
    /// (its URL, were a Service there, is `https://name.namespace.svc:port/path`).
    pub(super) fn resolve(
        client_config: &Value,
        routes: &Routes,
        timeout: Duration,
    ) -> Result<Self, String> {
        let text = |ptr: &str| {
            client_config
                .pointer(ptr)
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let ca_bundle = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            text("/caBundle"),
        )
        .unwrap_or_default();
        if let Some(url) = client_config.get("url").and_then(Value::as_str) {
            let uri: http::Uri = url.parse().map_err(|e| format!("Unparsable URL: {e}"))?;
            let base = match (uri.scheme_str(), uri.authority()) {
                (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
                _ => return Err(format!("Unparsable URL: {url}")),
            };
            return Ok(Self::Http {
                url: format!("{base}{}", clean_path(uri.path())),
                ca_bundle,
                server_name: None,
            });
        }
        let (ns, name) = (text("/service/namespace"), text("/service/name"));
        let path = clean_path(text("/service/path"));
        match routes.get(ns, name) {
            Some(Route::Handler(h)) => Ok(Self::Handler(h)),
            Some(Route::Url(base)) => Ok(Self::Http {
                url: format!("{}{path}", base.trim_end_matches('/')),
                ca_bundle,
                server_name: Some(format!("{name}.{ns}.svc")),
            }),
            None => {
                let port = client_config
                    .pointer("/service/port")
                    .and_then(Value::as_i64)
                    .unwrap_or(443);
                Err(format!(
                    "failed to call webhook: Post \"https://{name}.{ns}.svc:{port}{path}?timeout={}s\": service \"{name}\" not found (no Service routes here: give it a URL with ApiServer::route_service or a handler with ApiServer::serve_webhook)",
                    timeout.as_secs()
                ))
            }
        }
    }

    /// Sends the review and reads the review back, within `timeout`.
    pub(super) async fn call(&self, review: Value, timeout: Duration) -> Result<Value, String> {
        match self {
            Self::Handler(h) => tokio::time::timeout(timeout, h(review))
                .await
                .map_err(|_| "failed to call webhook: context deadline exceeded".to_string()),
            Self::Http {
                url,
                ca_bundle,
                server_name,
            } => {
                let url = with_timeout(url, timeout);
                let posted = tokio::time::timeout(
                    timeout,
                    post(&url, ca_bundle, server_name.as_deref(), &review),
                )
                .await;
                match posted {
                    Err(_) => Err(format!(
                        "failed to call webhook: Post \"{url}\": context deadline exceeded"
                    )),
                    Ok(Err(e)) => Err(format!("failed to call webhook: Post \"{url}\": {e}")),
                    Ok(Ok(body)) => serde_json::from_slice(&body)
                        .map_err(|e| format!("received invalid webhook response: {e}")),
                }
            }
        }
    }
}

/// client-go's `path.Join("/", path)`: cleaned, no trailing slash, `/` when
/// empty.
fn clean_path(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    format!("/{}", segments.join("/"))
}

/// kube-apiserver tells the webhook its budget in the query (`?timeout=10s`).
fn with_timeout(url: &str, timeout: Duration) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timeout={}s", timeout.as_secs())
}

async fn post(
    url: &str,
    ca_bundle: &[u8],
    server_name: Option<&str>,
    review: &Value,
) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let host = uri.host().ok_or("no host in URL")?.to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
    let body = serde_json::to_vec(review).map_err(|e| e.to_string())?;
    if https {
        let tls = tls_config(ca_bundle)?;
        let name = server_name.unwrap_or(host.trim_matches(['[', ']']));
        let name =
            rustls_pki_types::ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        exchange(stream, &uri, body).await
    } else {
        exchange(tcp, &uri, body).await
    }
}

/// Trusts exactly the bundle's certificates (none when it is empty, where
/// kube-apiserver would fall back to the system roots it has and we do not).
fn tls_config(ca_bundle: &[u8]) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_bundle) {
        let cert = cert.map_err(|e| format!("caBundle: {e}"))?;
        roots.add(cert).map_err(|e| format!("caBundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

async fn exchange<S>(stream: S, uri: &http::Uri, body: Vec<u8>) -> Result<Vec<u8>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // The connection's task goes with this call, however it ends
    // (an error, or the timeout dropping it).
    let _driver = AbortOnDrop(tokio::spawn(conn));
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = http::Request::post(path)
        .header(
            http::header::HOST,
            uri.authority().map_or("", |a| a.as_str()),
        )
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json, */*")
        .header(http::header::USER_AGENT, "kube-apiserver-admission")
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(unsuccessful(status.as_u16(), &bytes));
    }
    if bytes.is_empty() {
        return Err(format!(
            "0-length response with status code: {} and content type: {content_type}",
            status.as_u16()
        ));
    }
    Ok(bytes.to_vec())
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What client-go makes of a webhook's non-2xx answer (`rest/request.go`
/// `transformResponse`, apimachinery's `NewGenericServerResponse`): a
/// failure Status's own message, else the generic text for the code.
fn unsuccessful(code: u16, body: &[u8]) -> String {
    if let Ok(status) = serde_json::from_slice::<Value>(body)
        && status.get("kind").and_then(Value::as_str) == Some("Status")
        && status.get("status").and_then(Value::as_str) == Some("Failure")
    {
        return status
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
    }
    match code {
        400 => "the server rejected our request for an unknown reason".into(),
        401 => "the server has asked for the client to provide credentials".into(),
        403 => String::from_utf8_lossy(body).trim().to_string(),
        404 => "the server could not find the requested resource".into(),
        429 => "the server has received too many requests and has asked us to try again later".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request".into(),
        c if c >= 500 => format!(
            "an error on the server ({:?}) has prevented the request from succeeding",
            String::from_utf8_lossy(body).trim()
        ),
        c => format!("the server responded with the status code {c} but did not return more information"),
    }
}
