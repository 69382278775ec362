//! The `/scale` subresource: an `autoscaling/v1` Scale view of a workload
//! or custom resource, written back to its replica path.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::write::{patch_context, patch_error, patch_input};
use super::{Req, json_response};
use crate::error::ApiError;
use crate::patch;
use crate::registry::ResourceInfo;
use crate::selectors::label_selector_string;
use crate::store::ops::{self, Part, WriteOpts, target};
use crate::store::{State, meta};

fn scale_view(info: &ResourceInfo, obj: &Value) -> Value {
    let paths = info.scale.as_ref().expect("scalable");
    let m = meta::metadata(obj).cloned().unwrap_or_default();
    let pick = |k: &str| m.get(k).cloned().unwrap_or(Value::Null);
    let replicas = |p: &str| meta::path(obj, p).and_then(Value::as_i64).unwrap_or(0);
    let mut status = json!({"replicas": replicas(&paths.status_replicas)});
    let selector = paths
        .label_selector
        .as_deref()
        .and_then(|p| meta::path(obj, p))
        .map(|s| match s {
            Value::String(s) => s.clone(),
            other => label_selector_string(other),
        });
    if let Some(sel) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = sel.into();
    }
    let mut metadata = json!({
        "name": pick("name"),
        "uid": pick("uid"),
        "resourceVersion": pick("resourceVersion"),
        "creationTimestamp": pick("creationTimestamp"),
    });
    if info.namespaced {
        metadata["namespace"] = pick("namespace");
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": replicas(&paths.spec_replicas)},
        "status": status,
    })
}

fn key(req: &Req) -> (String, String) {
    (
        req.namespace.clone().unwrap_or_default(),
        req.name.clone().unwrap_or_default(),
    )
}

pub(super) fn get(req: Req) -> Result<Response, ApiError> {
    let k = key(&req);
    let obj = req
        .shared
        .lock()
        .get(&req.info.gr(), &k)
        .ok_or_else(|| ApiError::not_found(target(&req.info, &k.1)))?;
    Ok(json_response(StatusCode::OK, &scale_view(&req.info, &obj)))
}

/// Writes a Scale back into the object it views.
fn write_scale(st: &mut State, req: &Req, scale: &Value, dry_run: bool) -> Result<Value, ApiError> {
    let k = key(req);
    let Some(live) = st.get(&req.info.gr(), &k) else {
        return Err(ApiError::not_found(target(&req.info, &k.1)));
    };
    let Some(replicas) = scale.pointer("/spec/replicas").and_then(Value::as_i64) else {
        return Err(ApiError::invalid(
            "Scale",
            crate::error::Target {
                group: "autoscaling",
                plural: "scale",
                name: &k.1,
            },
            &[("spec.replicas".into(), "Required value".into())],
        ));
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            "Scale",
            crate::error::Target {
                group: "autoscaling",
                plural: "scale",
                name: &k.1,
            },
            &[(
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    let mut new = (*live).clone();
    let rv = meta::str_field(scale, "resourceVersion");
    meta::set_str(
        &mut new,
        "resourceVersion",
        if rv.is_empty() {
            meta::resource_version(&live)
        } else {
            rv
        },
    );
    let paths = req.info.scale.as_ref().expect("scalable");
    meta::set_path(&mut new, &paths.spec_replicas, replicas.into());
    // The resourceVersion is always set above, so this is a plain update.
    let opts = WriteOpts {
        dry_run,
        from_patch: false,
        manager: super::write::field_manager(req),
        field_validation: Default::default(),
    };
    let out = ops::update(
        st,
        &req.info,
        &req.version,
        req.namespace.as_deref(),
        &k.1,
        new,
        Part::Main,
        opts,
    )?;
    Ok(scale_view(&req.info, &out))
}

pub(super) async fn update(mut req: Req) -> Result<Response, ApiError> {
    let scale = req.object().await?;
    let dry = req.params.dry_run();
    let out = req
        .shared
        .clone()
        .write(|st| write_scale(st, &req, &scale, dry))?;
    Ok(json_response(StatusCode::OK, &out))
}

pub(super) async fn patch(mut req: Req) -> Result<Response, ApiError> {
    let (ty, body) = patch_input(&mut req).await?;
    let dry = req.params.dry_run();
    let out = req.shared.clone().write(|st| {
        let k = key(&req);
        let live = st
            .get(&req.info.gr(), &k)
            .ok_or_else(|| ApiError::not_found(target(&req.info, &k.1)))?;
        let view = scale_view(&req.info, &live);
        let mut ctx = patch_context(&req, st.now());
        ctx.api_version = "autoscaling/v1".into();
        ctx.kind = "Scale".into();
        ctx.is_custom = false;
        let patched = patch::apply_patch(ty, Some(&view), &body, &ctx).map_err(patch_error)?;
        write_scale(st, &req, &patched, dry)
    })?;
    Ok(json_response(StatusCode::OK, &out))
}
