//! `PUT namespaces/{name}/finalize`: the only way to change a namespace's
//! `spec.finalizers` (what tools use to release a stuck namespace). Admission
//! sees an UPDATE of the Namespace with subresource `finalize`. Only
//! `spec.finalizers` is taken from the body; upstream's
//! `namespaceFinalizeStrategy` keeps only the status, so metadata a body
//! changes here is dropped where kube-apiserver would store it.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Req, hooked, json_response, render_object};
use crate::admission::{self, Operation, webhooks};
use crate::error::ApiError;
use crate::store::ops::{self, UpdatePlan, WriteOpts, target};
use crate::store::{Obj, ObjRef, State, meta};

pub(super) async fn finalize(mut req: Req) -> Result<Response, ApiError> {
    let body = req.object().await?;
    let name = req.name.clone().unwrap_or_default();
    let at = ObjRef {
        gr: req.info.gr(),
        key: (String::new(), name.clone()),
    };
    let hooked = hooked::configured(&req);
    let dry_run = req.params.dry_run();
    let o = WriteOpts {
        dry_run,
        ..WriteOpts::default()
    };
    let w = hooked::Write::of(&req);
    let key = (String::new(), name.clone());
    let scope = ("finalize", None);
    let missing = || ApiError::not_found(target(&req.info, &name));
    for _ in 0..hooked::ATTEMPTS {
        let old = req.shared.lock().get(&at.gr, &at.key).ok_or_else(missing)?;
        let body = if hooked {
            let a = hooked::attributes(
                &w,
                Operation::Update,
                scope,
                &key,
                None,
                Some(&old),
                dry_run,
            );
            let mutated = webhooks::mutate(&req.shared, &a, Some(body.clone())).await?;
            mutated.unwrap_or_else(|| body.clone())
        } else {
            body.clone()
        };
        let plan = UpdatePlan {
            at: at.clone(),
            new: finalized(&req, &old, &body)?,
            old,
        };
        // Policies under the lock; without webhooks the write is stored in
        // the same step.
        let stored = req.shared.write(|st| {
            if !plan.is_current(st) {
                return Ok::<_, ApiError>(None);
            }
            let a = hooked::attributes(
                &w,
                Operation::Update,
                scope,
                &key,
                Some(&plan.new),
                Some(&plan.old),
                dry_run,
            );
            admission::validate(st, &a)?;
            Ok(Some((!hooked).then(|| commit(st, &plan, &o))))
        })?;
        let out = match stored {
            None => continue,
            Some(Some(out)) => out,
            Some(None) => {
                let a = hooked::attributes(
                    &w,
                    Operation::Update,
                    scope,
                    &key,
                    Some(&plan.new),
                    Some(&plan.old),
                    dry_run,
                );
                webhooks::validate(&req.shared, &a).await?;
                let committed = req
                    .shared
                    .write(|st| plan.is_current(st).then(|| commit(st, &plan, &o)));
                let Some(out) = committed else { continue };
                out
            }
        };
        return Ok(json_response(StatusCode::OK, &render_object(&req, &out)));
    }
    Err(ApiError::stale(target(&req.info, &name)))
}

/// The stored namespace with the body's `spec.finalizers`, refused when the
/// body names another resourceVersion.
fn finalized(req: &Req, old: &Value, body: &Value) -> Result<Value, ApiError> {
    let rv = meta::resource_version(body);
    if !rv.is_empty() && rv != meta::resource_version(old) {
        return Err(ApiError::stale(target(&req.info, meta::name(old))));
    }
    let finalizers = body
        .pointer("/spec/finalizers")
        .cloned()
        .unwrap_or(json!([]));
    let mut new = old.clone();
    meta::set_path(&mut new, ".spec.finalizers", finalizers);
    Ok(new)
}

/// Stores the plan, unless it changes nothing.
fn commit(st: &mut State, plan: &UpdatePlan, o: &WriteOpts) -> Obj {
    if plan.new == *plan.old {
        return plan.old.clone();
    }
    ops::commit_update(st, plan.clone(), o)
}
