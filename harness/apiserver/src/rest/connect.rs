//! The subresources kube-apiserver answers by reaching a kubelet or a
//! backend: `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward`,
//! `pods/proxy`, `nodes/proxy` and `services/proxy`. There is no kubelet
//! here (unless a test plays one for `nodes/proxy`, see `node_proxy`), so
//! each answers what kube-apiserver answers when none is reachable,
//! after the same checks in the same order (`pkg/registry/core/pod/strategy.go`
//! `LogLocation`, `streamLocation`, `PortForwardLocation`;
//! `pkg/kubelet/client/kubelet_client.go` `GetConnectionInfo`;
//! apimachinery's `util/proxy` for dialling and upgrades).

use axum::body::Body;
use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::Value;

use super::Req;
use crate::error::{ApiError, Target};

/// (resource, subresource) pairs served here, as discovery lists them.
pub(crate) const SERVED: &[(&str, &str)] = &[
    ("nodes", "proxy"),
    ("pods", "attach"),
    ("pods", "exec"),
    ("pods", "log"),
    ("pods", "portforward"),
    ("pods", "proxy"),
    ("services", "proxy"),
];

/// The kubelet's port when a node does not publish one (`--kubelet-port`).
const KUBELET_PORT: u64 = 10250;

pub(crate) async fn serve(mut req: Req, sub: &str) -> Result<Response, ApiError> {
    let id = req.name.clone().unwrap_or_default();
    let name = name_of(&id);
    if req.info.plural == "services" {
        // The proxy reads the Endpoints, not the Service.
        return service_proxy(&req, &id);
    }
    let obj = stored(&req, &req.info.plural, name)?;
    match (req.info.plural.as_str(), sub) {
        ("pods", "log") => log(&req, name, &obj),
        ("pods", "exec" | "attach") => {
            container(&req, name, &obj)?;
            let node = node_of(&req, name, &obj)?;
            upgrade(&req, &node)
        }
        ("pods", "portforward") => {
            let node = node_of(&req, name, &obj)?;
            upgrade(&req, &node)
        }
        ("pods", "proxy") => pod_proxy(&id, &obj),
        ("nodes", "proxy") => match req.shared.kubelets.get(name) {
            Some(kubelet) => {
                let body = req.bytes().await?;
                let uri = req.proxy_path.clone().unwrap_or_else(|| "/".into());
                let (method, mut headers) = (req.method.clone(), std::mem::take(&mut req.headers));
                // The API server's own credentials stop here, as
                // kube-apiserver's authentication filter removes them.
                headers.remove(http::header::AUTHORIZATION);
                Ok(super::node_proxy::forward(kubelet, method, headers, &uri, body).await)
            }
            None => Err(unreachable_backend(&address(&obj)?)),
        },
        _ => Err(ApiError::no_route()),
    }
}

/// A proxy id is `name`, `name:port` or `scheme:name:port`
/// (apimachinery's `net.SplitSchemeNamePort`).
fn name_of(id: &str) -> &str {
    let parts: Vec<&str> = id.split(':').collect();
    match parts.as_slice() {
        [_, name, _] => name,
        [name, ..] => name,
        [] => id,
    }
}

fn port_of(id: &str) -> Option<u64> {
    let parts: Vec<&str> = id.split(':').collect();
    match parts.as_slice() {
        [_, _, port] | [_, port] => port.parse().ok(),
        _ => None,
    }
}

fn stored(req: &Req, plural: &str, name: &str) -> Result<Value, ApiError> {
    let st = req.shared.lock();
    let info = st.lookup("", "v1", plural).ok_or_else(ApiError::no_route)?;
    let ns = if info.namespaced {
        req.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    st.get(&info.gr(), &(ns, name.to_string()))
        .map(|o| o.as_ref().clone())
        .ok_or_else(|| {
            ApiError::not_found(Target {
                group: "",
                plural,
                name,
            })
        })
}

/// `LogLocation`: the container is checked first, then whether the pod has
/// a node; an unscheduled pod's log is empty (204, nothing streamed).
fn log(req: &Req, name: &str, pod: &Value) -> Result<Response, ApiError> {
    let container = container(req, name, pod)?;
    if node_name(pod).is_none() {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        return Ok(r);
    }
    let node = node_of(req, name, pod)?;
    let (host, port) = address(&node)?;
    let ns = req.namespace.clone().unwrap_or_default();
    let query: Vec<String> = [
        "follow",
        "limitBytes",
        "previous",
        "sinceSeconds",
        "sinceTime",
        "tailLines",
        "timestamps",
    ]
    .into_iter()
    .filter_map(|k| req.params.get(k).map(|v| format!("{k}={v}")))
    .collect();
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    Err(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "",
        format!(
            "Get \"https://{host}:{port}/containerLogs/{ns}/{name}/{container}{query}\": dial tcp {host}:{port}: connect: connection refused"
        ),
    ))
}

/// `validateContainer`: the named container (init and ephemeral ones
/// count), else the only one, else a 400 listing the choices.
fn container(req: &Req, name: &str, pod: &Value) -> Result<String, ApiError> {
    let names = |list: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
            .collect()
    };
    let (init, regular, ephemeral) = (
        names("initContainers"),
        names("containers"),
        names("ephemeralContainers"),
    );
    if let Some(wanted) = req.params.get("container").filter(|c| !c.is_empty()) {
        let known = init
            .iter()
            .chain(&regular)
            .chain(&ephemeral)
            .any(|c| c == wanted);
        return if known {
            Ok(wanted.to_string())
        } else {
            Err(ApiError::bad_request(format!(
                "container {wanted} is not valid for pod {name}"
            )))
        };
    }
    match regular.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}"
        ))),
        _ => {
            let all: Vec<String> = init.into_iter().chain(regular).chain(ephemeral).collect();
            Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            )))
        }
    }
}

fn node_name(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
}

/// The pod's node object; a pod not scheduled has no host to reach.
fn node_of(req: &Req, name: &str, pod: &Value) -> Result<Value, ApiError> {
    let node = node_name(pod).ok_or_else(|| {
        ApiError::bad_request(format!("pod {name} does not have a host assigned"))
    })?;
    stored(req, "nodes", node)
}

/// `GetConnectionInfo`: the first address in kube-apiserver's default
/// preference (`--kubelet-preferred-address-types`) and the kubelet port.
fn address(node: &Value) -> Result<(String, u64), ApiError> {
    let addresses: Vec<&Value> = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let host = [
        "Hostname",
        "InternalDNS",
        "InternalIP",
        "ExternalDNS",
        "ExternalIP",
    ]
    .into_iter()
    .find_map(|ty| {
        addresses
            .iter()
            .find(|a| a.get("type").and_then(Value::as_str) == Some(ty))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .filter(|a| !a.is_empty())
    })
    .ok_or_else(|| {
        let known: Vec<String> = addresses
            .iter()
            .map(|a| {
                format!(
                    "{{{} {}}}",
                    a.get("type").and_then(Value::as_str).unwrap_or(""),
                    a.get("address").and_then(Value::as_str).unwrap_or("")
                )
            })
            .collect();
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            format!(
                "no preferred addresses found; known addresses: [{}]",
                known.join(" ")
            ),
        )
    })?;
    let port = node
        .pointer("/status/daemonEndpoints/kubeletEndpoint/Port")
        .and_then(Value::as_u64)
        .filter(|p| *p > 0)
        .unwrap_or(KUBELET_PORT);
    Ok((host.to_string(), port))
}

/// exec, attach and port-forward stream over an upgraded connection to the
/// kubelet: a plain request is refused first (`UpgradeAwareHandler`), an
/// upgrade then fails to dial.
fn upgrade(req: &Req, node: &Value) -> Result<Response, ApiError> {
    let upgrading = req
        .headers
        .get(http::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade"));
    if !upgrading || !(req.method == Method::GET || req.method == Method::POST) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    let (host, port) = address(node)?;
    Err(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "",
        format!("error dialing backend: dial tcp {host}:{port}: connect: connection refused"),
    ))
}

/// A proxied request whose backend does not answer (apimachinery's proxy
/// `Transport`): 503.
fn unreachable_backend((host, port): &(String, u64)) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        format!(
            "error trying to reach service: dial tcp {host}:{port}: connect: connection refused"
        ),
    )
}

/// `pods/NAME[:port]/proxy`: to the pod's IP.
fn pod_proxy(id: &str, pod: &Value) -> Result<Response, ApiError> {
    let ip = pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| ApiError::bad_request("address not allowed"))?;
    let port = port_of(id).unwrap_or(80);
    Err(unreachable_backend(&(ip.to_string(), port)))
}

/// `services/NAME[:port]/proxy`: through the service's Endpoints.
fn service_proxy(req: &Req, id: &str) -> Result<Response, ApiError> {
    let endpoints = stored(req, "endpoints", name_of(id))?;
    let first = endpoints
        .pointer("/subsets/0")
        .filter(|s| s.pointer("/addresses/0/ip").is_some());
    let Some(subset) = first else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            format!("no endpoints available for service {id:?}"),
        ));
    };
    let ip = subset
        .pointer("/addresses/0/ip")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let port = subset
        .pointer("/ports/0/port")
        .and_then(Value::as_u64)
        .unwrap_or(80);
    Err(unreachable_backend(&(ip.to_string(), port)))
}
