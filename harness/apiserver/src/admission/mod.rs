//! Admission, as kube-apiserver's chain runs it: mutating webhooks before a
//! write's own validation; after it, ValidatingAdmissionPolicy (under the
//! store's lock, it needs no network) and then validating webhooks (with
//! the lock released, see `webhooks`).

mod conditions;
pub(crate) mod definitions;
mod matching;
mod policy;
pub(crate) mod storage;
pub(crate) mod type_checking;
pub(crate) mod webhooks;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::store::State;

/// The admission operation a write is (a PATCH is an UPDATE, or a CREATE
/// when it creates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }

    /// The `request.options` kind of the operation.
    fn options_kind(self) -> &'static str {
        match self {
            Self::Create => "CreateOptions",
            Self::Update => "UpdateOptions",
            Self::Delete => "DeleteOptions",
        }
    }
}

/// The kind of a subresource whose object is not the resource's own: the
/// storage's `GroupVersionKind`, which admission names as `kind` while
/// `resource` stays the parent's (apiserver `endpoints/installer.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
}

/// What every `/scale` takes, for built-in workloads and custom resources
/// (`ScaleREST.GroupVersionKind`, apiextensions `customresource_handler.go`).
pub(crate) const SCALE: Kind = Kind {
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
};

/// What `pods/eviction` takes (`EvictionREST.GroupVersionKind`).
pub(crate) const EVICTION: Kind = Kind {
    group: "policy",
    version: "v1",
    kind: "Eviction",
};

/// How admission sees a write through a subresource whose object is not
/// the stored one. Upstream's scale storage hands admission Scales made
/// from the parent before and after the write, and writes back only what
/// a Scale carries (`pkg/registry/apps/deployment/storage/storage.go`,
/// `scaleUpdatedObjectInfo`, `toScaleUpdateValidation`).
#[derive(Debug)]
pub(crate) struct View {
    pub subresource: &'static str,
    pub kind: Kind,
    /// The subresource's object for a stored object.
    pub of: fn(&ResourceInfo, &Value) -> Value,
    /// The stored object a written subresource object makes of `old`,
    /// refused when the subresource object is invalid.
    pub back: fn(&ResourceInfo, &Value, Value) -> Result<Value, ApiError>,
}

/// What admission knows of a request (apiserver's `admission.Attributes`).
#[derive(Clone, Copy)]
pub(crate) struct Attributes<'a> {
    pub info: &'a ResourceInfo,
    pub version: &'a str,
    /// `status`, `scale`, ..., or empty for the main resource.
    pub subresource: &'a str,
    /// The subresource's own kind; none when it is the resource's.
    pub kind: Option<Kind>,
    pub operation: Operation,
    pub name: &'a str,
    pub namespace: &'a str,
    /// The incoming object; none on DELETE.
    pub object: Option<&'a Value>,
    /// The stored object; none on CREATE.
    pub old_object: Option<&'a Value>,
    pub dry_run: bool,
}

impl Attributes<'_> {
    /// The `request` variable of admission CEL (`kubernetes.AdmissionRequest`).
    /// The server has no users: every request is the one admin.
    fn request(&self) -> Value {
        let kind = match self.kind {
            Some(k) => json!({"group": k.group, "version": k.version, "kind": k.kind}),
            None => {
                json!({"group": self.info.group, "version": self.version, "kind": self.info.kind})
            }
        };
        let resource = json!({"group": self.info.group, "version": self.version, "resource": self.info.plural});
        // A request on `/namespaces/{name}...` has that name as its
        // namespace (apiserver `endpoints/request/requestinfo.go`), so a
        // Namespace's own update or delete names itself; a create does not.
        let namespace = if is_namespaces(self.info) && self.operation != Operation::Create {
            self.name
        } else {
            self.namespace
        };
        json!({
            "kind": kind,
            "resource": resource,
            "subResource": self.subresource,
            "requestKind": kind,
            "requestResource": resource,
            "requestSubResource": self.subresource,
            "name": self.name,
            "namespace": namespace,
            "operation": self.operation.as_str(),
            "userInfo": {"username": ADMIN, "groups": ["system:masters", "system:authenticated"]},
            "dryRun": self.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": self.operation.options_kind()},
        })
    }
}

fn is_namespaces(info: &ResourceInfo) -> bool {
    info.group.is_empty() && info.plural == "namespaces"
}

/// Who every request is, for `request.userInfo`.
const ADMIN: &str = "system:admin";

/// Runs the validating admission plugins on a write; a refusal is the
/// Status the request answers.
pub(crate) fn validate(st: &State, a: &Attributes<'_>) -> Result<(), ApiError> {
    storage::resize(st, a)?;
    policy::dispatch(st, a)
}

/// `apierrors.NewForbidden` for the request's resource: 403 naming the
/// object (or only the resource when the request has no name yet).
pub(crate) fn forbidden(a: &Attributes<'_>, why: &str) -> ApiError {
    let resource = crate::registry::qualified(&a.info.group, &a.info.plural);
    let message = if a.name.is_empty() {
        format!("{resource} is forbidden: {why}")
    } else {
        format!("{resource} {:?} is forbidden: {why}", a.name)
    };
    let mut e = ApiError::new(http::StatusCode::FORBIDDEN, "Forbidden", message);
    e.details = json!({"name": a.name, "group": a.info.group, "kind": a.info.plural});
    e
}
