//! The OpenAPI documents: `/openapi/v3` per group version, `/openapi/v2`
//! whole. The v3 paths say each resource's PATCH takes `fieldValidation`
//! (so kubectl validates server-side); the component schemas serve
//! `kubectl explain` and kubectl's client-side validation of what has no
//! PATCH path. The PATCH operations declare no request body, so kubectl
//! builds apply patches from its compiled-in types, or JSON merge patches
//! for custom resources, not from these schemas.

mod gnostic;
mod schemas;

use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use schemas::Dialect;

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::rest::json_response;
use crate::server::Shared;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub(crate) fn root(shared: &Shared) -> Response {
    let st = shared.lock();
    let mut paths = Map::new();
    for rs in st.resources.values() {
        for v in &rs.info.versions {
            let p = gv_path(&rs.info.group, v);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=R{}", st.rv)}),
            );
        }
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

/// The version `info` names, as the server's `/version` does.
const VERSION: &str = "v1.33.0";

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn patch_paths(info: &ResourceInfo, version: &str, paths: &mut Map<String, Value>) {
    let base = format!("/{}", gv_path(&info.group, version));
    let item = if info.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}/{{name}}", info.plural)
    } else {
        format!("{base}/{}/{{name}}", info.plural)
    };
    let op = json!({
        "patch": {
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": info.group, "version": version, "kind": info.kind},
            "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation"), param("force")],
            "responses": {"200": {"description": "OK"}},
        }
    });
    paths.insert(item, op);
}

/// A review is only created: its collection path publishes a POST, which
/// is where `kubectl explain` finds its kind.
fn review_path(info: &ResourceInfo, version: &str, paths: &mut Map<String, Value>) {
    let base = format!("/{}", gv_path(&info.group, version));
    let path = if info.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", info.plural)
    } else {
        format!("{base}/{}", info.plural)
    };
    let op = json!({
        "post": {
            "x-kubernetes-action": "post",
            "x-kubernetes-group-version-kind": {"group": info.group, "version": version, "kind": info.kind},
            "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation")],
            "responses": {"201": {"description": "Created"}},
        }
    });
    paths.insert(path, op);
}

pub(crate) fn group_version(
    shared: &Shared,
    group: &str,
    version: &str,
) -> Result<Response, ApiError> {
    // Clones, so schemas are built without holding the store.
    let served: Vec<Arc<ResourceInfo>> = shared
        .lock()
        .resources
        .values()
        .filter(|rs| rs.info.group == group && rs.info.serves(version))
        .map(|rs| rs.info.clone())
        .collect();
    if served.is_empty() {
        return Err(ApiError::no_route());
    }
    let mut paths = Map::new();
    for info in &served {
        if info.review {
            review_path(info, version, &mut paths);
        } else {
            patch_paths(info, version, &mut paths);
        }
    }
    let schemas = schemas::definitions(Dialect::V3, served.iter().map(|i| (&**i, version)));
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": VERSION},
            "paths": paths,
            "components": {"schemas": schemas},
        }),
    ))
}

/// `GET /openapi/v2`: one Swagger 2.0 document with the definitions of
/// every served kind, as JSON or as gnostic protobuf, negotiated as
/// kube-openapi's `handler.go` does (the first acceptable clause wins;
/// none is 406). No paths: kubectl reads v2 for client-side validation of
/// what the v3 paths do not cover (a `kind: List`, a review), and a v2
/// PATCH path would make `kubectl apply` build strategic merge patches from
/// these schemas instead of its compiled-in types.
pub(crate) fn v2(shared: &Shared, headers: &HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or("*/*");
    let Some(format) = negotiate(accept) else {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    };
    let served: Vec<Arc<ResourceInfo>> = shared
        .lock()
        .resources
        .values()
        .map(|rs| rs.info.clone())
        .collect();
    let pairs = served
        .iter()
        .flat_map(|i| i.versions.iter().map(move |v| (&**i, v.as_str())));
    let doc = json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": VERSION},
        "paths": {},
        "definitions": schemas::definitions(Dialect::V2, pairs),
    });
    match format {
        V2Format::Json => json_response(StatusCode::OK, &doc),
        V2Format::Protobuf => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, PROTOBUF_V2)
            .body(Body::from(gnostic::document(&doc)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

/// What kube-openapi returns for either protobuf media type it accepts
/// (the `@` form kubectl asks for is deprecated).
const PROTOBUF_V2: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

#[derive(Debug, PartialEq)]
enum V2Format {
    Json,
    Protobuf,
}

/// The format of the first clause (by `q`, then order) kube-openapi
/// serves: `application/json`, either protobuf type, or a wildcard (JSON).
fn negotiate(accept: &str) -> Option<V2Format> {
    let mut clauses: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, clause)| {
            let mut parts = clause.split(';').map(str::trim);
            let media = parts.next()?;
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .map_or(Some(1.0), |q| q.parse::<f32>().ok())?;
            (q > 0.0).then_some((q, i, media))
        })
        .collect();
    clauses.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    clauses.into_iter().find_map(|(_, _, media)| {
        let (ty, sub) = media.split_once('/')?;
        if ty != "application" && ty != "*" {
            return None;
        }
        match sub {
            "json" | "*" => Some(V2Format::Json),
            "com.github.proto-openapi.spec.v2@v1.0+protobuf"
            | "com.github.proto-openapi.spec.v2.v1.0+protobuf" => Some(V2Format::Protobuf),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_negotiation_follows_kube_openapi() {
        assert_eq!(negotiate("*/*"), Some(V2Format::Json));
        assert_eq!(
            negotiate("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
            Some(V2Format::Protobuf)
        );
        assert_eq!(
            negotiate(
                "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
            ),
            Some(V2Format::Protobuf)
        );
        assert_eq!(negotiate("text/html"), None);
        assert_eq!(negotiate("application/yaml"), None);
    }
}
