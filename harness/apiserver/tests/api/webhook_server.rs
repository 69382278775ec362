//! Webhook servers the way operators write them: hyper behind rustls with a
//! certificate their own CA signed (the CA goes into `caBundle`), or plain
//! HTTP where a test routes a Service to it. Each records what it was sent.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// One request a webhook server received.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub path_and_query: String,
    pub user_agent: String,
    pub review: Value,
}

type Handler = fn(Value) -> Value;

/// A running webhook server; stops when dropped.
pub(crate) struct WebhookServer {
    pub url: String,
    /// The signing CA's certificate, base64 PEM as `caBundle` wants it.
    pub ca_bundle: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookServer {
    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn respond(
    req: http::Request<Incoming>,
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<http::Response<Full<bytes::Bytes>>, Infallible> {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let review: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push(Seen {
        path_and_query,
        user_agent,
        review: review.clone(),
    });
    let answer = serde_json::to_vec(&handler(review)).unwrap();
    Ok(http::Response::builder()
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes::Bytes::from(answer)))
        .unwrap())
}

/// Serves `handler` over HTTPS on 127.0.0.1 with a certificate for that
/// address, signed by a CA made for this server alone.
pub(crate) async fn https_webhook(handler: Handler) -> WebhookServer {
    https_webhook_for(&["127.0.0.1"], handler).await
}

/// The same with a certificate for `names` (a Service's
/// `<name>.<namespace>.svc`, as cert-manager would issue it).
pub(crate) async fn https_webhook_for(names: &[&str], handler: Handler) -> WebhookServer {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, log) = (acceptor.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service =
                    hyper::service::service_fn(move |req| respond(req, handler, log.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    WebhookServer {
        url,
        ca_bundle: base64::engine::general_purpose::STANDARD.encode(ca.pem()),
        seen,
        task,
    }
}

/// Serves `handler` over plain HTTP on 127.0.0.1.
pub(crate) async fn plain_webhook(handler: Handler) -> WebhookServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req| respond(req, handler, log.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    WebhookServer {
        url,
        ca_bundle: String::new(),
        seen,
        task,
    }
}
