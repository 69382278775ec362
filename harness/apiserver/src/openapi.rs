//! A minimal OpenAPI v3 publication: enough for kubectl to learn that every
//! resource's PATCH takes `fieldValidation` (so it validates server-side
//! instead of downloading full schemas). No component schemas are
//! published, so kubectl builds its patches from its compiled-in types, or
//! JSON merge patches for custom resources, as it does with older servers.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Map, Value, json};

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

pub(crate) fn group_version(
    shared: &Shared,
    group: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let st = shared.lock();
    let mut paths = Map::new();
    let mut served = false;
    for rs in st.resources.values() {
        if rs.info.group == group && rs.info.serves(version) {
            served = true;
            // A review is only created: it has no PATCH to publish.
            if !rs.info.review {
                patch_paths(&rs.info, version, &mut paths);
            }
        }
    }
    if !served {
        return Err(ApiError::no_route());
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": paths,
            "components": {"schemas": {}},
        }),
    ))
}
