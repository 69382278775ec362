//! POST, PUT, PATCH and DELETE of objects (main resource and `/status`).

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Req, hooked, json_response, render_object};
use crate::error::ApiError;
use crate::patch::{self, PatchContext, PatchError, PatchType};
use crate::registry::Propagation;
use crate::store::ops::{
    self, DeleteAdmission, DeleteOpts, Deleted, FieldValidation, Part, WriteOpts, target,
};
use crate::store::{Obj, ObjRef, meta};

pub(super) fn opts(req: &Req, from_patch: bool) -> WriteOpts {
    WriteOpts {
        dry_run: req.params.dry_run(),
        from_patch,
        manager: field_manager(req),
        field_validation: FieldValidation::from_param(req.params.get("fieldValidation")),
        view: None,
        user: Some(crate::authz::User::of_request(&req.user, &req.headers)),
    }
}

/// The options of a POST or PUT, once its body's repeated keys were
/// refused or warned about as `fieldValidation` says.
fn body_opts(req: &Req) -> Result<WriteOpts, ApiError> {
    let o = opts(req, false);
    o.field_validation
        .duplicate_fields(&req.info.kind, &req.version, &req.duplicates)?;
    Ok(o)
}

/// `?fieldManager=`, else what precedes the first '/' of the User-Agent,
/// minus unprintable characters and cut at 128 bytes, as kube-apiserver
/// names writers in managedFields. Every write is recorded, so with neither
/// (kube-rs sends no User-Agent) the manager is empty, not absent.
pub(super) fn field_manager(req: &Req) -> Option<String> {
    if let Some(m) = req.params.get("fieldManager").filter(|m| !m.is_empty()) {
        return Some(m.to_string());
    }
    let ua = req
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    Some(prefix_from_user_agent(&ua))
}

const FIELD_MANAGER_MAX_LEN: usize = 128;

fn prefix_from_user_agent(ua: &str) -> String {
    let mut out = String::new();
    for c in ua.split('/').next().unwrap_or("").chars() {
        if c.is_control() {
            continue;
        }
        if out.len() + c.len_utf8() > FIELD_MANAGER_MAX_LEN {
            break;
        }
        out.push(c);
    }
    out
}

fn part(req: &Req) -> Part {
    match req.sub.as_deref() {
        Some("status") => Part::Status,
        Some("ephemeralcontainers") => Part::EphemeralContainers,
        Some("resize") => Part::Resize,
        Some("approval") => Part::Approval,
        _ => Part::Main,
    }
}

pub(super) async fn create(mut req: Req) -> Result<Response, ApiError> {
    let obj = req.object().await?;
    let o = body_opts(&req)?;
    if hooked::configured(&req) {
        let w = hooked::Write::of(&req);
        let created = hooked::create(&w, obj, &o).await?;
        return Ok(json_response(
            StatusCode::CREATED,
            &render_object(&req, &created),
        ));
    }
    let created = req.shared.write(|st| {
        ops::create(
            st,
            &req.info,
            &req.version,
            req.namespace.as_deref(),
            obj,
            o,
        )
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        &render_object(&req, &created),
    ))
}

pub(super) async fn update(mut req: Req) -> Result<Response, ApiError> {
    let obj = req.object().await?;
    let name = req.name.clone().unwrap_or_default();
    let (o, p) = (body_opts(&req)?, part(&req));
    if hooked::configured(&req) {
        let w = hooked::Write::of(&req);
        let updated = hooked::update(&w, &name, p, &o, |_| Ok(obj.clone())).await?;
        return Ok(json_response(
            StatusCode::OK,
            &render_object(&req, &updated),
        ));
    }
    let updated = req.shared.write(|st| {
        ops::update(
            st,
            &req.info,
            &req.version,
            req.namespace.as_deref(),
            &name,
            obj,
            p,
            o,
        )
    })?;
    Ok(json_response(
        StatusCode::OK,
        &render_object(&req, &updated),
    ))
}

/// Maps the patch module's refusals onto the Status kube-apiserver sends.
pub(super) fn patch_error(e: PatchError) -> ApiError {
    let message = e.to_string();
    match e {
        PatchError::BadRequest(_) => ApiError::bad_request(message),
        PatchError::Invalid(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", message)
        }
        PatchError::Unsupported(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            message,
        ),
        PatchError::Untyped(_) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "", message),
        PatchError::Conflict { conflicts } => {
            let mut err = ApiError::new(StatusCode::CONFLICT, "Conflict", message);
            err.details = json!({
                "causes": conflicts.iter().map(|c| json!({
                    "reason": "FieldManagerConflict",
                    "message": c.cause_message(),
                    "field": c.field,
                })).collect::<Vec<_>>()
            });
            err
        }
    }
}

pub(super) fn patch_context(req: &Req, now: String) -> PatchContext {
    PatchContext {
        api_version: req.info.api_version(&req.version),
        kind: req.info.kind.clone(),
        field_manager: field_manager(req),
        force: req.params.flag("force"),
        now,
        is_custom: req.info.custom,
        subresource: req.sub.clone(),
        status_subresource: req.info.status,
    }
}

/// Parses the patch type and body, refusing what kube-apiserver refuses
/// before looking at the object.
pub(super) async fn patch_input(req: &mut Req) -> Result<(PatchType, bytes::Bytes), ApiError> {
    let ct = req.content_type();
    let ty =
        PatchType::from_content_type(&ct).ok_or_else(|| ApiError::unsupported_media_type(&ct))?;
    if ty == PatchType::Apply && req.params.get("fieldManager").is_none() {
        return Err(ApiError::invalid(
            "PatchOptions",
            crate::error::Target {
                group: "meta.k8s.io",
                plural: "patchoptions",
                name: "",
            },
            &[(
                "fieldManager".into(),
                "Required value: is required for apply patch".into(),
            )],
        ));
    }
    if ty == PatchType::StrategicMerge && req.info.custom {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for custom resource {})",
                req.info.kind
            ),
        ));
    }
    let body = req.bytes().await?;
    Ok((ty, body))
}

pub(super) async fn patch(mut req: Req) -> Result<Response, ApiError> {
    let (ty, body) = patch_input(&mut req).await?;
    let name = req.name.clone().unwrap_or_default();
    let key = (req.namespace.clone().unwrap_or_default(), name.clone());
    let (o, p) = (opts(&req, true), part(&req));
    if hooked::configured(&req) {
        let ctx = patch_context(&req, req.shared.lock().now());
        let w = hooked::Write::of(&req);
        let (code, obj) = hooked_patch(&w, ty, &body, &name, &ctx, p, &o).await?;
        return Ok(json_response(code, &render_object(&req, &obj)));
    }
    let (code, obj) = req.shared.write(|st| {
        let ctx = patch_context(&req, st.now());
        match st.get(&req.info.gr(), &key) {
            None if ty == PatchType::Apply && p == Part::Main => {
                let new = applied_new(ty, &body, &name, &ctx)?;
                let created = ops::create(
                    st,
                    &req.info,
                    &req.version,
                    req.namespace.as_deref(),
                    new,
                    o,
                )?;
                Ok((StatusCode::CREATED, created))
            }
            None => Err(ApiError::not_found(target(&req.info, &name))),
            Some(live) => {
                let live = super::as_version(&req.info, &req.version, &live);
                let new = patch::apply_patch(ty, Some(&live), &body, &ctx).map_err(patch_error)?;
                let updated = ops::update(
                    st,
                    &req.info,
                    &req.version,
                    req.namespace.as_deref(),
                    &name,
                    new,
                    p,
                    o,
                )?;
                Ok((StatusCode::OK, updated))
            }
        }
    })?;
    Ok(json_response(code, &render_object(&req, &obj)))
}

/// A PATCH with webhooks configured: an apply that creates goes the way of
/// a create, anything else is an update of what the patch makes of the
/// stored object.
async fn hooked_patch(
    w: &hooked::Write<'_>,
    ty: PatchType,
    body: &[u8],
    name: &str,
    ctx: &PatchContext,
    p: Part,
    o: &WriteOpts,
) -> Result<(StatusCode, Obj), ApiError> {
    if !w.exists(name) && ty == PatchType::Apply && p == Part::Main {
        let new = applied_new(ty, body, name, ctx)?;
        return Ok((StatusCode::CREATED, hooked::create(w, new, o).await?));
    }
    let updated = hooked::update(w, name, p, o, |live| {
        patch::apply_patch(ty, Some(live), body, ctx).map_err(patch_error)
    })
    .await?;
    Ok((StatusCode::OK, updated))
}

/// The object a server-side apply creates, named by the URL.
fn applied_new(
    ty: PatchType,
    body: &[u8],
    name: &str,
    ctx: &PatchContext,
) -> Result<Value, ApiError> {
    let mut new = patch::apply_patch(ty, None, body, ctx).map_err(patch_error)?;
    if meta::name(&new).is_empty() && new.is_object() {
        meta::set_str(&mut new, "name", name);
    }
    if meta::name(&new) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta::name(&new)
        )));
    }
    Ok(new)
}

/// DeleteOptions from the body (if any) and the query.
async fn delete_opts(req: &mut Req) -> Result<DeleteOpts, ApiError> {
    let bytes = req.bytes().await?;
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
    };
    delete_opts_from(req, &body)
}

pub(super) fn delete_opts_from(req: &Req, body: &Value) -> Result<DeleteOpts, ApiError> {
    let bad_policy = |p: &str| {
        ApiError::invalid(
            "DeleteOptions",
            crate::error::Target {
                group: "meta.k8s.io",
                plural: "deleteoptions",
                name: "",
            },
            &[(
                "propagationPolicy".into(),
                format!(
                    "Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            )],
        )
    };
    let mut o = DeleteOpts {
        grace_seconds: body.get("gracePeriodSeconds").and_then(Value::as_i64),
        uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from),
        resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
        dry_run: body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All")),
        propagation: None,
        admission: DeleteAdmission::Named,
    };
    if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
        o.propagation = Some(Propagation::parse(p).ok_or_else(|| bad_policy(p))?);
    }
    if let Some(orphan) = body.get("orphanDependents").and_then(Value::as_bool) {
        o.propagation.get_or_insert(if orphan {
            Propagation::Orphan
        } else {
            Propagation::Background
        });
    }
    if let Some(g) = req.params.int("gracePeriodSeconds")? {
        o.grace_seconds = Some(g);
    }
    if let Some(p) = req.params.get("propagationPolicy") {
        o.propagation = Some(Propagation::parse(p).ok_or_else(|| bad_policy(p))?);
    }
    if let Some(orphan) = req.params.get("orphanDependents") {
        o.propagation.get_or_insert(if orphan == "true" {
            Propagation::Orphan
        } else {
            Propagation::Background
        });
    }
    o.dry_run |= req.params.dry_run();
    Ok(o)
}

fn deleted_response(req: &Req, d: Deleted) -> Response {
    match d {
        // Pods answer with the object; most kinds with a success Status.
        Deleted::Gone(obj) if !(req.info.group.is_empty() && req.info.plural == "pods") => {
            json_response(StatusCode::OK, &ops::deleted_status(&req.info, &obj))
        }
        Deleted::Gone(obj) | Deleted::Pending(obj) => {
            json_response(StatusCode::OK, &render_object(req, &obj))
        }
    }
}

pub(super) async fn delete(mut req: Req) -> Result<Response, ApiError> {
    let mut o = delete_opts(&mut req).await?;
    let at = ObjRef {
        gr: req.info.gr(),
        key: (
            req.namespace.clone().unwrap_or_default(),
            req.name.clone().unwrap_or_default(),
        ),
    };
    if hooked::configured(&req) {
        let w = hooked::Write::of(&req);
        hooked::before_delete(&w, &at, &o).await?;
        o.admission = DeleteAdmission::Skipped;
    }
    let d = req.shared.write(|st| ops::delete(st, &req.info, &at, &o))?;
    Ok(deleted_response(&req, d))
}

/// DELETECOLLECTION: a DELETE of each listed item in name order, each
/// admitted on its own; the first refusal answers and what was deleted
/// before it stays deleted (apiserver `registry/generic/registry/store.go`,
/// `DeleteCollection`, "currently NOT atomic", one worker by default).
pub(super) async fn delete_collection(mut req: Req) -> Result<Response, ApiError> {
    let mut o = delete_opts(&mut req).await?;
    o.admission = DeleteAdmission::Unnamed;
    let filter = super::read::Filter::from_req(&req)?;
    let listed = |st: &crate::store::State| -> Vec<ObjRef> {
        st.resources
            .get(&req.info.gr())
            .map(|rs| {
                rs.objects
                    .iter()
                    .filter(|(_, obj)| filter.matches(obj))
                    .map(|(key, _)| ObjRef {
                        gr: req.info.gr(),
                        key: key.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let delete_one = |st: &mut crate::store::State, at: &ObjRef, o: &DeleteOpts| match ops::delete(
        st, &req.info, at, o,
    ) {
        Ok(Deleted::Gone(obj) | Deleted::Pending(obj)) => Ok(Some(obj)),
        Err(e) if e.code == StatusCode::NOT_FOUND => Ok(None),
        Err(e) => Err(e),
    };
    let mut objs = Vec::new();
    let rv = if hooked::configured(&req) {
        // Webhooks are network calls: the lock is taken per item.
        let w = hooked::Write::of(&req);
        let targets = listed(&req.shared.lock());
        let admitted = DeleteOpts {
            admission: DeleteAdmission::Skipped,
            ..o.clone()
        };
        for at in targets {
            hooked::before_delete(&w, &at, &o).await?;
            objs.extend(req.shared.write(|st| delete_one(st, &at, &admitted))?);
        }
        req.shared.lock().rv
    } else {
        req.shared.write(|st| {
            for at in listed(st) {
                objs.extend(delete_one(st, &at, &o)?);
            }
            Ok::<_, ApiError>(st.rv)
        })?
    };
    let items: Vec<Value> = objs
        .iter()
        .map(|o| super::as_version(&req.info, &req.version, o))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", req.info.kind),
            "apiVersion": req.info.api_version(&req.version),
            "metadata": {"resourceVersion": rv.to_string()},
            "items": items,
        }),
    ))
}
