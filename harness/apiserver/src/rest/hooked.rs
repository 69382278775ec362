//! Writes when admission webhooks are configured. A webhook is a network
//! call, so it cannot run under the store's lock: mutating webhooks see the
//! object first, the write is then admitted under the lock (checks,
//! defaults, validation, ValidatingAdmissionPolicy), validating webhooks
//! see the admitted object with the lock released, and the write is stored
//! only if nothing changed the stored object meanwhile. An update that lost
//! that race starts again, as kube-apiserver's `GuaranteedUpdate` does; one
//! that named a resourceVersion then fails with the usual 409.

use serde_json::Value;

use std::sync::Arc;

use super::Req;
use crate::admission::{Attributes, Kind, Operation, webhooks};
use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::server::Shared;
use crate::store::ops::{self, Admitted, DeleteAdmission, DeleteOpts, Part, WriteOpts, target};
use crate::store::{Obj, ObjRef, meta};

/// How many times an update races other writers before it gives up.
pub(super) const ATTEMPTS: usize = 5;

pub(super) fn configured(req: &Req) -> bool {
    webhooks::configured(&req.shared.lock())
}

/// What a hooked write needs of its request (a `Req` holds its body, which
/// is not `Sync`, so the write cannot borrow the whole of it across calls).
pub(super) struct Write<'a> {
    pub shared: &'a Arc<Shared>,
    pub info: &'a ResourceInfo,
    pub version: &'a str,
    pub namespace: Option<&'a str>,
}

impl<'a> Write<'a> {
    pub(super) fn of(req: &'a Req) -> Self {
        Self {
            shared: &req.shared,
            info: &req.info,
            version: &req.version,
            namespace: req.namespace.as_deref(),
        }
    }

    pub(super) fn exists(&self, name: &str) -> bool {
        let key = (
            self.namespace.unwrap_or_default().to_string(),
            name.to_string(),
        );
        self.shared.lock().get(&self.info.gr(), &key).is_some()
    }
}

pub(super) fn attributes<'a>(
    req: &'a Write<'a>,
    operation: Operation,
    (subresource, kind): (&'static str, Option<Kind>),
    key: &'a (String, String),
    object: Option<&'a Value>,
    old_object: Option<&'a Value>,
    dry_run: bool,
) -> Attributes<'a> {
    Attributes {
        info: req.info,
        version: req.version,
        subresource,
        kind,
        operation,
        name: &key.1,
        namespace: &key.0,
        object,
        old_object,
        dry_run,
    }
}

/// A create: mutating webhooks on the object as decoded (namespace from
/// the URL, defaults applied), then admission, validating webhooks, commit.
pub(super) async fn create(
    req: &Write<'_>,
    mut obj: Value,
    o: &WriteOpts,
) -> Result<Obj, ApiError> {
    if let Some(ns) = req.namespace.filter(|_| req.info.namespaced)
        && meta::namespace(&obj).is_empty()
    {
        meta::set_str(&mut obj, "namespace", ns);
    }
    crate::defaults::apply(&req.info.group, &req.info.plural, &mut obj);
    // Built-in mutating admission runs before the webhooks (kubernetes
    // `pkg/kubeapiserver/options/plugins.go`).
    if req.info.group.is_empty() && req.info.plural == "persistentvolumeclaims" {
        crate::admission::storage::default_class(&req.shared.lock(), &mut obj);
    }
    let key = meta::key(&obj);
    let a = attributes(
        req,
        Operation::Create,
        ops::admission_scope(Part::Main, None),
        &key,
        None,
        None,
        o.dry_run,
    );
    let obj = webhooks::mutate(req.shared, &a, Some(obj.clone()))
        .await?
        .unwrap_or(obj);
    let admitted = req
        .shared
        .write(|st| ops::admit_create(st, req.info, req.version, req.namespace, obj, o))?;
    let key = meta::key(&admitted);
    let a = attributes(
        req,
        Operation::Create,
        ops::admission_scope(Part::Main, None),
        &key,
        Some(&admitted),
        None,
        o.dry_run,
    );
    webhooks::validate(req.shared, &a).await?;
    req.shared
        .write(|st| ops::commit_create(st, req.info, admitted, o))
}

/// An update of `name` to what `next` makes of the stored object (a PUT's
/// body, or a PATCH applied to it), tried again from the new stored object
/// when another write got in first. Through a subresource with a view
/// (`/scale`), `next` and the webhooks see the view, and the view's `back`
/// makes the stored object of what they leave.
pub(super) async fn update(
    req: &Write<'_>,
    name: &str,
    part: Part,
    o: &WriteOpts,
    next: impl Fn(&Value) -> Result<Value, ApiError>,
) -> Result<Obj, ApiError> {
    let at = ObjRef {
        gr: req.info.gr(),
        key: (
            req.namespace.unwrap_or_default().to_string(),
            name.to_string(),
        ),
    };
    let scope = ops::admission_scope(part, o.view);
    for _ in 0..ATTEMPTS {
        let Some(old) = req.shared.lock().get(&at.gr, &at.key) else {
            return Err(ApiError::not_found(target(req.info, name)));
        };
        let old = super::as_version(req.info, req.version, &old);
        let old_shown = o.view.map(|v| (v.of)(req.info, &old));
        let old_seen = old_shown.as_ref().unwrap_or(&old);
        let mut body = next(old_seen)?;
        if o.view.is_none() {
            crate::defaults::apply(&req.info.group, &req.info.plural, &mut body);
        }
        let a = attributes(
            req,
            Operation::Update,
            scope,
            &at.key,
            None,
            Some(old_seen),
            o.dry_run,
        );
        let body = webhooks::mutate(req.shared, &a, Some(body.clone()))
            .await?
            .unwrap_or(body);
        let body = match o.view {
            Some(v) => (v.back)(req.info, &old, body)?,
            None => body,
        };
        // Another write while the mutating webhooks ran: start again from
        // it (a body that named the old resourceVersion then gets its 409).
        let admitted = req.shared.write(|st| {
            let moved = st
                .get(&at.gr, &at.key)
                .is_none_or(|now| meta::resource_version(&now) != meta::resource_version(&old));
            if moved {
                return Ok(None);
            }
            ops::admit_update(
                st,
                req.info,
                req.version,
                req.namespace,
                name,
                body,
                part,
                o,
            )
            .map(Some)
        })?;
        let plan = match admitted {
            None => continue,
            // Validating admission runs before a write is found to change
            // nothing, so a webhook can still refuse it.
            Some(Admitted::Unchanged(obj)) => {
                validate_update(req, scope, &at.key, &obj, old_seen, o).await?;
                return Ok(obj);
            }
            Some(Admitted::Changed(plan)) => plan,
        };
        validate_update(req, scope, &at.key, &plan.new, old_seen, o).await?;
        let stored = req
            .shared
            .write(|st| plan.is_current(st).then(|| ops::commit_update(st, plan, o)));
        if let Some(obj) = stored {
            return Ok(obj);
        }
    }
    Err(ApiError::stale(target(req.info, name)))
}

/// The validating webhooks on an admitted update (`old` as they saw it
/// already, `new` still as stored).
async fn validate_update(
    req: &Write<'_>,
    scope: (&'static str, Option<Kind>),
    key: &(String, String),
    new: &Value,
    old: &Value,
    o: &WriteOpts,
) -> Result<(), ApiError> {
    let new_shown = o.view.map(|v| (v.of)(req.info, new));
    let a = attributes(
        req,
        Operation::Update,
        scope,
        key,
        Some(new_shown.as_ref().unwrap_or(new)),
        Some(old),
        o.dry_run,
    );
    webhooks::validate(req.shared, &a).await
}

/// A delete: the whole chain sees the stored object as `oldObject` before
/// the delete runs (mutating webhooks may refuse, not change it; policies
/// then validating webhooks), so the delete itself is then stored with
/// `DeleteAdmission::Skipped`. An item of a DELETECOLLECTION is admitted
/// with no name.
pub(super) async fn before_delete(
    req: &Write<'_>,
    at: &ObjRef,
    o: &DeleteOpts,
) -> Result<(), ApiError> {
    let Some(old) = req.shared.lock().get(&at.gr, &at.key) else {
        return Ok(());
    };
    let old = super::as_version(req.info, req.version, &old);
    let key = if o.admission == DeleteAdmission::Unnamed {
        (at.key.0.clone(), String::new())
    } else {
        at.key.clone()
    };
    let a = attributes(
        req,
        Operation::Delete,
        ops::admission_scope(Part::Main, None),
        &key,
        None,
        Some(&old),
        o.dry_run,
    );
    webhooks::mutate(req.shared, &a, None).await?;
    req.shared.write(|st| crate::admission::validate(st, &a))?;
    webhooks::validate(req.shared, &a).await
}
