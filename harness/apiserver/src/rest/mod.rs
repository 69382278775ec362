//! Routing: turns a request path into discovery or a resource verb, decodes
//! bodies and parameters, and guarantees every answer (even a panic) is a
//! `Status` object.

mod binding;
mod connect;
mod duplicates;
mod eviction;
mod finalize;
mod hooked;
pub(crate) mod node_proxy;
pub(crate) mod read;
mod reviews;
mod scale;
mod token;
mod write;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use http::{HeaderMap, Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::authz::User;
use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::server::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

pub(crate) fn json_response(code: StatusCode, body: &Value) -> Response {
    json_response_typed(code, body, "application/json")
}

/// The body as kube-apiserver's JSON serializer writes it (a Go
/// `json.Encoder`): compact, with a trailing newline.
pub(crate) fn json_response_typed(code: StatusCode, body: &Value, content_type: &str) -> Response {
    let mut bytes = serde_json::to_vec(body).unwrap_or_default();
    bytes.push(b'\n');
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn handle(State(shared): State<Arc<Shared>>, mut req: Request) -> Response {
    let Some(user) = authenticate(&shared, &req) else {
        return unauthorized();
    };
    req.extensions_mut().insert(user);
    let labels = crate::metrics::Labels::of(req.method(), req.uri(), req.headers());
    let started = tokio::time::Instant::now();
    let (outcome, warnings) =
        crate::warnings::collect(AssertUnwindSafe(dispatch(shared.clone(), req)).catch_unwind())
            .await;
    let mut response = match outcome {
        Ok(Ok(resp)) => resp,
        Ok(Err(e)) => e.into_response(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            ApiError::internal(format!("the server failed to handle the request: {what}"))
                .into_response()
        }
    };
    for w in warnings {
        if let Ok(v) = http::HeaderValue::from_bytes(crate::warnings::header(&w).as_bytes()) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    if let Some(labels) = labels {
        let code = response.status().as_u16();
        shared.metrics.observe(labels, code, started.elapsed());
    }
    response
}

/// Who sent the request, or None to answer 401: the admin when it presents
/// the server's bearer token (or when the server has none), the service
/// account a token this server signed names (checked as
/// `pkg/serviceaccount` checks it, against the API audience).
fn authenticate(shared: &Shared, req: &Request) -> Option<User> {
    let bearer = bearer(req);
    if let (Some(token), Some(presented)) = (&shared.token, bearer)
        && same(presented, token)
    {
        return Some(User::requester());
    }
    if let Some(presented) = bearer.filter(|b| crate::tokens::is_ours(b)) {
        let audiences = [crate::tokens::ISSUER.to_string()];
        return crate::tokens::authenticate(&shared.lock(), &shared.signer, presented, &audiences)
            .ok()
            .map(|a| a.user);
    }
    shared.token.is_none().then(User::requester)
}

/// The bearer token of the `Authorization` header (the scheme in any case,
/// as apiserver's `authentication/request/bearertoken` reads it).
fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    // `SplitN(auth, " ", 3)`: one space after the scheme, and a token.
    let (scheme, rest) = value.trim().split_once(' ')?;
    let presented = rest.split(' ').next().filter(|t| !t.is_empty())?;
    scheme.eq_ignore_ascii_case("bearer").then_some(presented)
}

/// Compared in constant time, so how long a refusal takes does not tell
/// how much of a guessed token was right.
fn same(presented: &str, token: &str) -> bool {
    let (a, b) = (presented.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// apiserver `endpoints/filters/authentication.go` `Unauthorized`: a Status
/// with no details and no `WWW-Authenticate` header.
fn unauthorized() -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized").into_response()
}

/// Query parameters, decoded.
#[derive(Debug, Default)]
pub(crate) struct Params(HashMap<String, String>);

impl Params {
    fn parse(uri: &http::Uri) -> Result<Self, ApiError> {
        let q: axum::extract::Query<HashMap<String, String>> =
            axum::extract::Query::try_from_uri(uri)
                .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
        Ok(Self(q.0))
    }

    /// Every `key=value` pair of a query, repeated keys included
    /// (`?exclude=a&exclude=b`, `?dryRun=All`); none if it does not parse.
    pub(crate) fn pairs(uri: &http::Uri) -> Vec<(String, String)> {
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map(|q| q.0)
            .unwrap_or_default()
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub(crate) fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }

    pub(crate) fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        self.get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request(format!("invalid value for {k}: {v:?}")))
            })
            .transpose()
    }
}

/// How the client asked to see objects (`Accept: ...;as=Table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Render {
    Full,
    Table,
    Metadata,
}

impl Render {
    fn from_headers(h: &HeaderMap) -> Self {
        let accept = h
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        for option in accept.split(',') {
            let params: Vec<&str> = option.split(';').map(str::trim).collect();
            if params.contains(&"as=Table") {
                return Self::Table;
            }
            if params.contains(&"as=PartialObjectMetadata")
                || params.contains(&"as=PartialObjectMetadataList")
            {
                return Self::Metadata;
            }
            if matches!(
                params.first(),
                Some(&("application/json" | "*/*" | "application/yaml"))
            ) && params.len() == 1
            {
                return Self::Full;
            }
        }
        Self::Full
    }
}

/// Everything a resource handler needs about the request.
pub(crate) struct Req {
    pub shared: Arc<Shared>,
    pub method: Method,
    pub headers: HeaderMap,
    pub params: Params,
    pub info: Arc<ResourceInfo>,
    pub version: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
    pub render: Render,
    pub body: Body,
    /// A fault rule's plan for this watch (close or stall it).
    pub watch_fault: Option<crate::faults::ArmedWatch>,
    /// A watch's view of the fault rules (rules added later may hit it).
    pub watch_rules: Option<crate::faults::WatchRules>,
    /// Keys the JSON body repeated, by path (see `object`).
    pub duplicates: Vec<String>,
    /// For `.../proxy/...`: the backend's path and query.
    pub proxy_path: Option<String>,
    /// Who sent it (authenticated; impersonation not yet applied).
    pub user: User,
}

impl Req {
    /// Reads the body within the size limit (413 beyond it).
    pub(crate) async fn bytes(&mut self) -> Result<bytes::Bytes, ApiError> {
        let limit = self.shared.body_limit;
        if let Some(len) = self
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            && len > limit
        {
            return Err(ApiError::too_large(limit));
        }
        let body = std::mem::replace(&mut self.body, Body::empty());
        match http_body_util::Limited::new(body, limit).collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(limit)),
            Err(e) => Err(ApiError::bad_request(format!(
                "reading the request body: {e}"
            ))),
        }
    }

    pub(crate) fn content_type(&self) -> String {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Decodes a JSON or YAML object body (create, update).
    pub(crate) async fn object(&mut self) -> Result<Value, ApiError> {
        let ct = self.content_type();
        let mime = ct.split(';').next().unwrap_or("").trim().to_string();
        let bytes = self.bytes().await?;
        let value: Value = match mime.as_str() {
            "" | "application/json" | "*/*" => {
                let (value, duplicates) = duplicates::parse(&bytes).map_err(|e| {
                    ApiError::bad_request(format!(
                        "couldn't get version/kind; json parse error: {e}"
                    ))
                })?;
                self.duplicates = duplicates;
                value
            }
            "application/yaml" | "application/x-yaml" | "text/yaml" => {
                serde_yaml::from_slice(&bytes).map_err(|e| {
                    ApiError::bad_request(format!(
                        "couldn't get version/kind; yaml parse error: {e}"
                    ))
                })?
            }
            "application/vnd.kubernetes.protobuf" => {
                crate::protobuf::decode(&bytes).map_err(|e| ApiError::bad_request(e.to_string()))?
            }
            other => return Err(ApiError::unsupported_media_type(other)),
        };
        if !value.is_object() {
            return Err(ApiError::bad_request(format!(
                "the object provided is unrecognized (must be a JSON object, got {})",
                match value {
                    Value::Null => "null",
                    Value::Array(_) => "an array",
                    _ => "a scalar",
                }
            )));
        }
        Ok(value)
    }
}

async fn dispatch(shared: Arc<Shared>, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let get = parts.method == Method::GET;
    match segs.as_slice() {
        ["version"] if get => return Ok(crate::discovery::version()),
        [endpoint @ ("healthz" | "readyz" | "livez"), check @ ..] if get => {
            return crate::health::serve(endpoint, check, &parts.uri)
                .ok_or_else(ApiError::no_route);
        }
        ["metrics"] if get => {
            let stored: Vec<(String, usize)> = shared
                .lock()
                .resources
                .iter()
                // Reviews have no storage, so no storage metric.
                .filter(|(_, r)| !r.info.review)
                .map(|(gr, r)| (gr.qualified(), r.objects.len()))
                .collect();
            return Ok(shared.metrics.render(stored));
        }
        ["api"] if get => return Ok(crate::discovery::api(&shared, &parts.headers)),
        ["apis"] if get => return Ok(crate::discovery::apis(&shared, &parts.headers)),
        ["api", v] if get => return crate::discovery::resource_list(&shared, "", v),
        ["apis", g] if get => return crate::discovery::group(&shared, g),
        ["apis", g, v] if get => return crate::discovery::resource_list(&shared, g, v),
        ["openapi", "v2"] if get => return Ok(crate::openapi::v2(&shared, &parts.headers)),
        ["openapi", "v3"] if get => return Ok(crate::openapi::root(&shared)),
        ["openapi", "v3", "api", v] if get => return crate::openapi::group_version(&shared, "", v),
        ["openapi", "v3", "apis", g, v] if get => {
            return crate::openapi::group_version(&shared, g, v);
        }
        ["api" | "apis" | "version"] | ["api", _] | ["apis", _] | ["apis", _, _] => {
            return Err(ApiError::method_not_allowed());
        }
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::no_route()),
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, r @ ..] if !r.is_empty() && !matches!(r[0], "status" | "finalize") => {
            (Some(ns.to_string()), r)
        }
        r => (None, r),
    };
    let (plural, name, sub, tail) = match rest {
        [p] => (*p, None, None, &[][..]),
        [p, n] => (*p, Some(n.to_string()), None, &[][..]),
        // A proxy's own path follows it.
        [p, n, "proxy", tail @ ..] => (*p, Some(n.to_string()), Some("proxy".to_string()), tail),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string()), &[][..]),
        _ => return Err(ApiError::no_route()),
    };
    // What the backend is asked for: the path after `/proxy` (trailing
    // slash kept, `JoinPreservingTrailingSlash`) and the query.
    let proxy_path = sub.as_deref().filter(|s| *s == "proxy").map(|_| {
        let slash = if !tail.is_empty() && path.ends_with('/') {
            "/"
        } else {
            ""
        };
        let query = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("/{}{slash}{query}", tail.join("/"))
    });
    let info = shared
        .lock()
        .lookup(group, version, plural)
        .ok_or_else(ApiError::no_route)?;
    if namespace.is_some() && !info.namespaced {
        return Err(ApiError::no_route());
    }
    let params = Params::parse(&parts.uri)?;
    let (watch_fault, watch_rules) = {
        let facts = request_facts(&parts, &params, &info, &namespace, &name, &sub);
        // A watch keeps its facts: rules added while it is open may hit it.
        let watch_rules = (facts.verb == "watch").then(|| shared.faults.watch_rules(&facts));
        match inject_fault(&shared, &facts, &parts.method, &info, &name).await {
            Injection::None => (None, watch_rules),
            Injection::Respond(response) => return Ok(response),
            Injection::Watch(fault) => (Some(fault), watch_rules),
        }
    };
    let render = Render::from_headers(&parts.headers);
    let user = parts
        .extensions
        .get::<User>()
        .cloned()
        .unwrap_or_else(User::requester);
    let req = Req {
        shared,
        method: parts.method,
        headers: parts.headers,
        params,
        info,
        version: version.to_string(),
        namespace,
        name,
        sub,
        render,
        body,
        watch_fault,
        watch_rules,
        duplicates: Vec::new(),
        proxy_path,
        user,
    };
    route_resource(req).await
}

/// What a fault rule does to a request.
enum Injection {
    None,
    Respond(Response),
    Watch(crate::faults::ArmedWatch),
}

/// What fault rules match a request on.
fn request_facts<'a>(
    parts: &'a http::request::Parts,
    params: &'a Params,
    info: &'a ResourceInfo,
    namespace: &'a Option<String>,
    name: &'a Option<String>,
    sub: &'a Option<String>,
) -> crate::faults::RequestFacts<'a> {
    use crate::faults::RequestFacts;
    let watch = params.flag("watch");
    RequestFacts {
        verb: RequestFacts::verb_of(&parts.method, name.is_some(), watch),
        group: &info.group,
        resource: &info.plural,
        subresource: sub.as_deref(),
        namespace: namespace.as_deref(),
        name: name.as_deref(),
        field_manager: params.get("fieldManager"),
        user_agent: RequestFacts::user_agent_of(&parts.headers),
        continues: params.get("continue").filter(|c| !c.is_empty()),
        // A watch from a version, unless it asks for the initial state
        // (which `watch::serve` treats as a fresh start).
        resume_from: (watch && params.get("sendInitialEvents") != Some("true"))
            .then(|| params.get("resourceVersion"))
            .flatten()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|rv| *rv != 0),
        label_selector: params.get("labelSelector"),
        field_selector: params.get("fieldSelector"),
    }
}

/// A fault rule's answer for this request, if one hits it (after its
/// latency, if that is what it adds).
async fn inject_fault(
    shared: &Shared,
    facts: &crate::faults::RequestFacts<'_>,
    method: &Method,
    info: &ResourceInfo,
    name: &Option<String>,
) -> Injection {
    use crate::faults::Decision;
    let Some(decision) = shared.faults.decide(facts, method) else {
        return Injection::None;
    };
    match decision {
        Decision::Delay(delay) => {
            tokio::time::sleep(delay).await;
            Injection::None
        }
        Decision::Answer(answer) => Injection::Respond(answer.respond(crate::error::Target {
            group: &info.group,
            plural: &info.plural,
            name: name.as_deref().unwrap_or(""),
        })),
        Decision::Watch(fault) => Injection::Watch(fault),
        Decision::ResumeGone => Injection::Respond(crate::watch::resume_gone(
            shared,
            facts.resume_from.unwrap_or(0),
        )),
    }
}

async fn route_resource(req: Req) -> Result<Response, ApiError> {
    if req.info.review {
        // Only the collection's POST is routed; a namespaced review has
        // no path outside a namespace.
        return match (req.name.is_some(), req.method == Method::POST) {
            (true, _) => Err(ApiError::no_route()),
            _ if req.info.namespaced && req.namespace.is_none() => Err(ApiError::no_route()),
            (false, true) => reviews::create(req).await,
            (false, false) => Err(ApiError::method_not_allowed()),
        };
    }
    let m = req.method.clone();
    let sub = req.sub.clone();
    match (req.name.is_some(), sub.as_deref()) {
        (false, _) => match m {
            Method::GET if req.params.flag("watch") => crate::watch::serve(req),
            Method::GET => read::list(req),
            Method::POST if req.info.namespaced && req.namespace.is_none() => {
                Err(ApiError::method_not_allowed())
            }
            Method::POST => write::create(req).await,
            Method::DELETE if !req.info.verbs().contains(&"deletecollection") => {
                Err(ApiError::method_not_allowed())
            }
            Method::DELETE => write::delete_collection(req).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        (true, None | Some("status")) => {
            if sub.is_some() && !req.info.status {
                return Err(ApiError::no_route());
            }
            if req.info.namespaced && req.namespace.is_none() {
                return Err(ApiError::no_route());
            }
            match m {
                Method::GET => read::get(req),
                Method::PUT => write::update(req).await,
                Method::PATCH => write::patch(req).await,
                Method::DELETE if sub.is_none() => write::delete(req).await,
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        (true, Some("scale")) if req.info.scale.is_some() => {
            if req.info.namespaced && req.namespace.is_none() {
                return Err(ApiError::no_route());
            }
            match m {
                Method::GET => scale::get(req),
                Method::PUT => scale::update(req).await,
                Method::PATCH => scale::patch(req).await,
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        (true, Some("finalize")) if core(&req.info, "namespaces") => match m {
            Method::PUT => finalize::finalize(req).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        (true, Some(sub @ ("log" | "exec" | "attach" | "portforward" | "proxy")))
            if req.info.group.is_empty()
                && connect::SERVED.contains(&(req.info.plural.as_str(), sub)) =>
        {
            if req.info.namespaced && req.namespace.is_none() {
                return Err(ApiError::no_route());
            }
            connect::serve(req, sub).await
        }
        (true, Some("ephemeralcontainers" | "resize")) if core(&req.info, "pods") => {
            if req.namespace.is_none() {
                return Err(ApiError::no_route());
            }
            match m {
                Method::GET => read::get(req),
                Method::PUT => write::update(req).await,
                Method::PATCH => write::patch(req).await,
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        (true, Some("approval"))
            if req.info.group == "certificates.k8s.io"
                && req.info.plural == "certificatesigningrequests" =>
        {
            match m {
                Method::GET => read::get(req),
                Method::PUT => write::update(req).await,
                Method::PATCH => write::patch(req).await,
                _ => Err(ApiError::method_not_allowed()),
            }
        }
        (true, Some("token")) if core(&req.info, "serviceaccounts") => match m {
            Method::POST => token::request(req).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        (true, Some("binding")) if core(&req.info, "pods") => match m {
            Method::POST => binding::bind(req).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        (true, Some("eviction")) if core(&req.info, "pods") => match m {
            Method::POST => eviction::evict(req).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        _ => Err(ApiError::no_route()),
    }
}

/// Whether `info` is the core group's `plural`.
fn core(info: &ResourceInfo, plural: &str) -> bool {
    info.group.is_empty() && info.plural == plural
}

/// Gives a stored object the apiVersion of the version it was asked under
/// (CRDs serve several versions of one storage without conversion).
///
/// Its first keys are `kind` and `apiVersion`, in that order, as Go's
/// encoder writes a typed object's embedded `TypeMeta` (clients that quote
/// a decoding error's column, as kube-client's own tests do, see the same
/// text); the rest keep their stored order.
pub(crate) fn as_version(info: &ResourceInfo, version: &str, obj: &Value) -> Value {
    let Some(fields) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = serde_json::Map::with_capacity(fields.len() + 1);
    if let Some(kind) = fields.get("kind") {
        out.insert("kind".into(), kind.clone());
    }
    out.insert("apiVersion".into(), info.api_version(version).into());
    for (k, v) in fields {
        if k != "kind" && k != "apiVersion" {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

/// Renders one object as the client asked (full, Table row, metadata only).
pub(crate) fn render_object(req: &Req, obj: &Value) -> Value {
    let obj = as_version(&req.info, &req.version, obj);
    match req.render {
        Render::Full => obj,
        Render::Metadata => crate::table::partial_metadata(&obj),
        Render::Table => {
            let now = req.shared.lock().clock.now();
            crate::table::table(&req.info, &req.version, &[obj], now, &req.params, None)
        }
    }
}
