//! `PUT namespaces/{name}/finalize`: the only way to change a namespace's
//! `spec.finalizers` (what tools use to release a stuck namespace). Admission
//! sees an UPDATE of the Namespace with subresource `finalize`; everything
//! but `spec.finalizers` stays as stored (kube's `namespaceFinalizeStrategy`).

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Req, hooked, json_response, render_object};
use crate::admission::{self, Attributes, Operation, webhooks};
use crate::error::ApiError;
use crate::store::ops::{self, target};
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
    let w = hooked::Write::of(&req);
    let missing = || ApiError::not_found(target(&req.info, &name));
    for _ in 0..hooked::ATTEMPTS {
        let old = req.shared.lock().get(&at.gr, &at.key).ok_or_else(missing)?;
        let body = if hooked {
            let a = attributes(&w, &name, None, &old, dry_run);
            let mutated = webhooks::mutate(&req.shared, &a, Some(body.clone())).await?;
            mutated.unwrap_or_else(|| body.clone())
        } else {
            body.clone()
        };
        let new = finalized(&req, &old, &body)?;
        // Policies under the lock; without webhooks the write is stored in
        // the same step.
        let stored = req.shared.write(|st| {
            if moved(st, &at, &old) {
                return Ok::<_, ApiError>(None);
            }
            admission::validate(st, &attributes(&w, &name, Some(&new), &old, dry_run))?;
            Ok(Some(
                (!hooked).then(|| commit(st, &at, &old, new.clone(), dry_run)),
            ))
        })?;
        let out = match stored {
            None => continue,
            Some(Some(out)) => out,
            Some(None) => {
                let a = attributes(&w, &name, Some(&new), &old, dry_run);
                webhooks::validate(&req.shared, &a).await?;
                let committed = req.shared.write(|st| {
                    (!moved(st, &at, &old)).then(|| commit(st, &at, &old, new, dry_run))
                });
                let Some(out) = committed else { continue };
                out
            }
        };
        return Ok(json_response(StatusCode::OK, &render_object(&req, &out)));
    }
    Err(ApiError::stale(target(&req.info, &name)))
}

fn attributes<'a>(
    req: &'a hooked::Write<'a>,
    name: &'a str,
    object: Option<&'a Value>,
    old: &'a Value,
    dry_run: bool,
) -> Attributes<'a> {
    Attributes {
        info: req.info,
        version: req.version,
        subresource: "finalize",
        kind: None,
        operation: Operation::Update,
        name,
        namespace: "",
        object,
        old_object: Some(old),
        dry_run,
    }
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

fn moved(st: &State, at: &ObjRef, old: &Value) -> bool {
    st.get(&at.gr, &at.key)
        .is_none_or(|now| meta::resource_version(&now) != meta::resource_version(old))
}

fn commit(st: &mut State, at: &ObjRef, old: &Obj, new: Value, dry_run: bool) -> Obj {
    if new == **old {
        return old.clone();
    }
    if dry_run {
        return Obj::new(new);
    }
    let out = st.commit(&at.gr, new);
    if ops::ready_to_remove(&out) {
        st.remove(at);
    }
    crate::gc::collect(st);
    out
}
