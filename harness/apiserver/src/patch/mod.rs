//! PATCH and server-side apply, as pure functions over JSON documents.
//!
//! The REST layer parses the request and calls [`apply_patch`]; this module
//! knows nothing about storage, so every patch flavour is testable alone.

mod apply;
pub mod fields;
pub mod lists;
pub mod managed;
mod strategic;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use managed::record_update;

/// The patch flavours kube-apiserver accepts, told apart by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// Maps a request's Content-Type to a flavour; `None` answers 415.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let ct = content_type.split(';').next().unwrap_or("").trim();
        match ct {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// What a patch needs besides the documents.
#[derive(Debug, Clone, Default)]
pub struct PatchContext {
    /// `apiVersion` of the object, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind` of the object, e.g. `StatefulSet`.
    pub kind: String,
    /// `?fieldManager=`; required for apply.
    pub field_manager: Option<String>,
    /// `?force=true` on apply.
    pub force: bool,
    /// RFC 3339 time stamp for managedFields entries.
    pub now: String,
    /// Whether the kind is a custom resource (no strategic merge for those).
    pub is_custom: bool,
    /// The subresource written to (`Some("status")` for `/status`); recorded
    /// in managedFields and limits which fields the write may own.
    pub subresource: Option<String>,
    /// Whether the kind has a `/status` subresource, so that writes to the
    /// main resource never own `status` (upstream resets those fields).
    pub status_subresource: bool,
}

impl PatchContext {
    fn shape(&self) -> fields::Shape<'_> {
        let section = match self.subresource.as_deref() {
            Some("status") => fields::Section::StatusOnly,
            _ if self.status_subresource => fields::Section::NoStatus,
            _ => fields::Section::All,
        };
        fields::Shape {
            kind: &self.kind,
            is_custom: self.is_custom,
            section,
        }
    }
}

/// Why a patch was refused; the REST layer maps each to a `Status`.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The body is not valid for the patch type (answers 400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// The patch applied but produced an invalid object (answers 422 Invalid).
    #[error("{0}")]
    Invalid(String),
    /// Strategic merge on a custom resource (answers 415 UnsupportedMediaType).
    #[error("{0}")]
    Unsupported(String),
    /// Server-side apply conflicts with other managers (answers 409 Conflict).
    #[error("{}", conflict_message(.conflicts))]
    Conflict { conflicts: Vec<ApplyConflict> },
    /// An apply configuration that does not fit the type (answers 500 with
    /// no reason: structured-merge-diff's error reaches the client as is).
    #[error("{0}")]
    Untyped(String),
}

impl PatchError {
    /// The HTTP status code kube-apiserver answers with.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::Unsupported(_) => 415,
            PatchError::Conflict { .. } => 409,
            PatchError::Untyped(_) => 500,
        }
    }

    /// The `reason` of the `Status` object kube-apiserver answers with.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Invalid(_) => "Invalid",
            PatchError::Unsupported(_) => "UnsupportedMediaType",
            PatchError::Conflict { .. } => "Conflict",
            PatchError::Untyped(_) => "",
        }
    }
}

/// The message kube-apiserver writes for apply conflicts: one conflict on
/// one line, several grouped by manager with one field per line.
fn conflict_message(conflicts: &[ApplyConflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.describe(),
            c.field
        );
    }
    let mut managers: Vec<String> = conflicts.iter().map(ApplyConflict::describe).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.describe() == m) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// One field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyConflict {
    pub manager: String,
    /// The field path, as kube-apiserver prints it, e.g. `.spec.replicas`.
    pub field: String,
    /// The manager as upstream names it in messages, e.g.
    /// `"kubectl-client-side-apply" using apps/v1` for an updater; empty
    /// means `"<manager>"`.
    pub description: String,
}

impl ApplyConflict {
    /// `"manager"` plus how it wrote (`using apps/v1` for updaters).
    pub fn describe(&self) -> String {
        if self.description.is_empty() {
            format!("{:?}", self.manager)
        } else {
            self.description.clone()
        }
    }

    /// The `message` of this conflict's `StatusCause` (type
    /// `FieldManagerConflict`, `field` = [`ApplyConflict::field`]).
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.describe())
    }
}

/// Applies `body` to `live` (absent for an apply that creates) and returns
/// the new object. Metadata the server owns (resourceVersion, uid, …) is the
/// caller's business; managedFields are maintained here: for apply always,
/// for the other flavours when `ctx.field_manager` names the writer (the
/// server passes `?fieldManager=` or the name it derives from the client),
/// by [`record_update`]. Creates and updates call [`record_update`] directly.
pub fn apply_patch(
    ty: PatchType,
    live: Option<&Value>,
    body: &[u8],
    ctx: &PatchContext,
) -> Result<Value, PatchError> {
    if ty == PatchType::Apply {
        return apply::apply(live, body, ctx);
    }
    let Some(live) = live else {
        return Err(PatchError::BadRequest(
            "only server-side apply can create an object; other patches need an existing one"
                .into(),
        ));
    };
    let patched = match ty {
        PatchType::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| PatchError::BadRequest(format!("error decoding JSON patch: {e}")))?;
            let mut doc = live.clone();
            apply_json_patch(&mut doc, &patch.0)
                .map_err(|e| PatchError::Invalid(format!("the JSON patch failed: {e}")))?;
            doc
        }
        PatchType::Merge => {
            let patch = parse_object(body, "merge patch")?;
            let mut doc = live.clone();
            json_patch::merge(&mut doc, &patch);
            doc
        }
        PatchType::StrategicMerge => {
            if ctx.is_custom {
                return Err(PatchError::Unsupported(
                    "the body of the request was in an unknown format - accepted media types \
                     include: application/json-patch+json, application/merge-patch+json, \
                     application/apply-patch+yaml"
                        .into(),
                ));
            }
            let patch = parse_object(body, "strategic merge patch")?;
            strategic::patch(&ctx.kind, live, &patch)?
        }
        PatchType::Apply => unreachable!("handled above"),
    };
    if !patched.is_object() {
        return Err(PatchError::Invalid(format!(
            "the patched object must be a JSON object, the patch made it {patched}"
        )));
    }
    Ok(match ctx.field_manager.as_deref() {
        Some(manager) => record_update(Some(live), &patched, manager, ctx),
        None => patched,
    })
}

fn parse_object(body: &[u8], what: &str) -> Result<Value, PatchError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(PatchError::BadRequest(format!(
            "a {what} must be a JSON object, found {other}"
        ))),
        Err(e) => Err(PatchError::BadRequest(format!(
            "error decoding {what}: {e}"
        ))),
    }
}

/// RFC 6902 as kube-apiserver applies it (it uses evanphx/json-patch v4,
/// `patch.go`'s `test`): a `test` whose value is `null` passes when its key
/// is missing from an object that exists, because that library reads a
/// missing key as null. kube-runtime's `finalizer()` helper depends on it:
/// its first patch tests `/metadata/finalizers` against `null` on an object
/// that has none. Everything else is the json-patch crate's; the document is
/// a copy, so a failure part-way leaves nothing behind.
fn apply_json_patch(doc: &mut Value, ops: &[json_patch::PatchOperation]) -> Result<(), String> {
    for (i, op) in ops.iter().enumerate() {
        if let json_patch::PatchOperation::Test(test) = op
            && test.value.is_null()
            && missing_from_an_object(doc, &test.path)
        {
            continue;
        }
        json_patch::patch(doc, std::slice::from_ref(op))
            .map_err(|e| format!("operation '/{i}' failed at path '{}': {}", e.path, e.kind))?;
    }
    Ok(())
}

/// A JSON patch (a list of operations) applied to a copy of `doc` with
/// kube-apiserver's semantics, as admission webhooks' patches are.
pub(crate) fn json_patch_apply(doc: &Value, ops: &Value) -> Result<Value, String> {
    let patch: json_patch::Patch =
        serde_json::from_value(ops.clone()).map_err(|e| e.to_string())?;
    let mut out = doc.clone();
    apply_json_patch(&mut out, &patch.0)?;
    Ok(out)
}

/// The pointer's parent is an object that lacks the pointer's last key.
fn missing_from_an_object(doc: &Value, path: &jsonptr::Pointer) -> bool {
    let (Some(parent), Some(key)) = (path.parent(), path.last()) else {
        return false;
    };
    doc.pointer(parent.as_str())
        .and_then(Value::as_object)
        .is_some_and(|o| !o.contains_key(key.decoded().as_ref()))
}
