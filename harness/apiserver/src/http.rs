//! The HTTP listener and its kubeconfig, so kubectl and operators in any
//! language reach the same server.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use axum::Router;
use tempfile::NamedTempFile;

use crate::error::Error;

/// A running HTTP listener. Dropping it stops listening and removes the
/// kubeconfig file.
#[derive(Debug)]
pub struct HttpEndpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A kubeconfig (mode 0600) whose current context points at `url`.
    pub kubeconfig: PathBuf,
    _file: NamedTempFile,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        context: context.to_string(),
        source,
    }
}

/// The kubeconfig text for a server URL.
pub fn kubeconfig_yaml(url: &str) -> String {
    kubeconfig_yaml_with_token(url, None)
}

/// The kubeconfig text for a server URL whose user presents a bearer token.
pub fn kubeconfig_yaml_with_token(url: &str, token: Option<&str>) -> String {
    // A JSON string is a YAML string: any token is quoted safely.
    let user = match token {
        Some(t) => format!("{{token: {}}}", serde_json::Value::from(t)),
        None => "{}".to_string(),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: harness
  cluster:
    server: {url}
users:
- name: harness
  user: {user}
contexts:
- name: harness
  context:
    cluster: harness
    user: harness
    namespace: default
current-context: harness
preferences: {{}}
"
    )
}

pub(crate) async fn serve(
    router: Router,
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<HttpEndpoint, Error> {
    let binding = format!("binding {addr}");
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(io(&binding))?;
    let addr = listener
        .local_addr()
        .map_err(io("reading the bound address"))?;
    // An unspecified address serves every interface; clients on this
    // machine reach it on loopback.
    let host = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}", SocketAddr::new(host, addr.port()));
    // NamedTempFile creates the file with mode 0600.
    let mut file = tempfile::Builder::new()
        .prefix("harness-kubeconfig-")
        .suffix(".yaml")
        .tempfile()
        .map_err(io("creating the kubeconfig file"))?;
    file.write_all(kubeconfig_yaml_with_token(&url, token).as_bytes())
        .and_then(|_| file.flush())
        .map_err(io("writing the kubeconfig file"))?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::warn!("HTTP listener stopped: {e}");
        }
    });
    Ok(HttpEndpoint {
        url,
        kubeconfig: file.path().to_path_buf(),
        _file: file,
        task,
    })
}
