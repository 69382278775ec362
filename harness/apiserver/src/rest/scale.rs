//! The `/scale` subresource: an `autoscaling/v1` Scale view of a workload
//! or custom resource, written back to its replica path.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::write::{patch_context, patch_error, patch_input};
use super::{Req, hooked, json_response};
use crate::admission::{SCALE, View};
use crate::error::ApiError;
use crate::patch;
use crate::registry::ResourceInfo;
use crate::selectors::label_selector_string;
use crate::store::meta;
use crate::store::ops::{self, Part, WriteOpts, target};

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

/// What admission sees of a `/scale` write.
pub(super) static VIEW: View = View {
    subresource: "scale",
    kind: SCALE,
    of: scale_view,
    back: scaled,
};

fn scale_invalid(name: &str, cause: String) -> ApiError {
    let at = crate::error::Target {
        group: "autoscaling",
        plural: "scale",
        name,
    };
    ApiError::invalid("Scale", at, &[("spec.replicas".into(), cause)])
}

/// The object `old` becomes under a written Scale: only `spec.replicas`
/// (and the resourceVersion to check) flow back, after the Scale itself is
/// validated (kube's `scaleUpdatedObjectInfo`, `ValidateScale`).
fn scaled(info: &ResourceInfo, old: &Value, scale: Value) -> Result<Value, ApiError> {
    let name = meta::name(old);
    let Some(replicas) = scale.pointer("/spec/replicas").and_then(Value::as_i64) else {
        return Err(scale_invalid(name, "Required value".into()));
    };
    if replicas < 0 {
        return Err(scale_invalid(
            name,
            format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    let mut new = old.clone();
    let rv = meta::str_field(&scale, "resourceVersion");
    if !rv.is_empty() {
        meta::set_str(&mut new, "resourceVersion", rv);
    }
    let paths = info.scale.as_ref().expect("scalable");
    meta::set_path(&mut new, &paths.spec_replicas, replicas.into());
    Ok(new)
}

fn write_opts(req: &Req) -> WriteOpts {
    WriteOpts {
        // The resourceVersion is always set, so a patch is a plain update.
        from_patch: false,
        field_validation: Default::default(),
        view: Some(&VIEW),
        ..super::write::opts(req, false)
    }
}

/// Writes what `next` makes of the current Scale back into the object it
/// views; with webhooks configured they see the Scales (see `hooked`).
async fn write(
    req: hooked::Write<'_>,
    hooked: bool,
    o: WriteOpts,
    name: &str,
    next: impl Fn(&Value) -> Result<Value, ApiError>,
) -> Result<Response, ApiError> {
    let info = req.info;
    let out = if hooked {
        hooked::update(&req, name, Part::Main, &o, next).await?
    } else {
        req.shared.write(|st| {
            let key = (req.namespace.unwrap_or_default().to_string(), name.into());
            let live = st
                .get(&info.gr(), &key)
                .ok_or_else(|| ApiError::not_found(target(info, name)))?;
            let new = scaled(info, &live, next(&scale_view(info, &live))?)?;
            ops::update(
                st,
                info,
                req.version,
                req.namespace,
                name,
                new,
                Part::Main,
                o,
            )
        })?
    };
    Ok(json_response(StatusCode::OK, &scale_view(info, &out)))
}

pub(super) async fn update(mut req: Req) -> Result<Response, ApiError> {
    let scale = req.object().await?;
    let (o, name) = (write_opts(&req), req.name.clone().unwrap_or_default());
    let hooked = hooked::configured(&req);
    write(hooked::Write::of(&req), hooked, o, &name, |_| {
        Ok(scale.clone())
    })
    .await
}

pub(super) async fn patch(mut req: Req) -> Result<Response, ApiError> {
    let (ty, body) = patch_input(&mut req).await?;
    let mut ctx = patch_context(&req, req.shared.lock().now());
    ctx.api_version = "autoscaling/v1".into();
    ctx.kind = "Scale".into();
    ctx.is_custom = false;
    let (o, name) = (write_opts(&req), req.name.clone().unwrap_or_default());
    let hooked = hooked::configured(&req);
    write(hooked::Write::of(&req), hooked, o, &name, |view| {
        patch::apply_patch(ty, Some(view), &body, &ctx).map_err(patch_error)
    })
    .await
}
