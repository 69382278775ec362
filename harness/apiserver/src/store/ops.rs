//! The write verbs with kube-apiserver's metadata rules: who owns which
//! field, when resourceVersion conflicts, when generation moves, and how
//! deletion waits for finalizers and grace periods.

use std::time::Duration;

use serde_json::{Value, json};

use super::{GraceTimer, Obj, ObjRef, State, meta};
use crate::admission::{Attributes, Operation};
use crate::error::{ApiError, Target};
use crate::registry::{Propagation, ResourceInfo};
use crate::{gc, strategy, validation};

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The object minus status (when the resource has a status subresource).
    Main,
    /// Only `.status`.
    Status,
    /// Only a pod's `spec.ephemeralContainers` (`kubectl debug`).
    EphemeralContainers,
    /// Only a pod's containers' `resources` and `resizePolicy`.
    Resize,
    /// Only a CertificateSigningRequest's conditions (`kubectl certificate
    /// approve`).
    Approval,
}

impl Part {
    /// The subresource a write of this part comes through.
    pub(crate) fn subresource(self) -> Option<&'static str> {
        match self {
            Part::Main => None,
            Part::Status => Some("status"),
            Part::EphemeralContainers => Some("ephemeralcontainers"),
            Part::Resize => Some("resize"),
            Part::Approval => Some("approval"),
        }
    }
}

/// Options shared by create and update.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteOpts {
    pub dry_run: bool,
    /// The body came out of a PATCH, which never needs a resourceVersion
    /// and whose managedFields the patch module already maintained.
    pub from_patch: bool,
    /// Who writes (`?fieldManager=` or the User-Agent's product, possibly
    /// empty); recorded in managedFields as an Update. `None` (the server's
    /// own writes) leaves them as they are.
    pub manager: Option<String>,
    /// What unknown fields earn (`?fieldValidation=`).
    pub field_validation: FieldValidation,
    /// How admission sees the write when it came through a subresource
    /// with an object of its own (`/scale`).
    pub view: Option<&'static crate::admission::View>,
    /// Who asks, for kinds that record it (a CSR's requestor); `None` is
    /// the server's own write or the admin.
    pub user: Option<crate::authz::User>,
}

/// `?fieldValidation=`: what a body's unknown fields earn once they are
/// dropped (apiserver's `handlers/rest.go`). Clients that say nothing get
/// `Warn`; the server's own writes `Ignore`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum FieldValidation {
    #[default]
    Ignore,
    Warn,
    Strict,
}

impl FieldValidation {
    pub(crate) fn from_param(value: Option<&str>) -> Self {
        match value {
            Some("Strict") => Self::Strict,
            Some("Ignore") => Self::Ignore,
            _ => Self::Warn,
        }
    }

    /// Refuses (Strict, a 400 naming every field) or warns of (Warn, one
    /// `unknown field "path"` each) the fields dropped from a body.
    pub(crate) fn unknown_fields(
        self,
        kind: &str,
        version: &str,
        fields: &[String],
    ) -> Result<(), ApiError> {
        self.strict_errors(kind, version, fields, "unknown")
    }

    /// The same for keys a JSON body repeats (the last one was kept).
    pub(crate) fn duplicate_fields(
        self,
        kind: &str,
        version: &str,
        fields: &[String],
    ) -> Result<(), ApiError> {
        self.strict_errors(kind, version, fields, "duplicate")
    }

    fn strict_errors(
        self,
        kind: &str,
        version: &str,
        fields: &[String],
        what: &str,
    ) -> Result<(), ApiError> {
        let errors = || fields.iter().map(|f| format!("{what} field {f:?}"));
        match self {
            _ if fields.is_empty() => Ok(()),
            Self::Strict => Err(ApiError::strict_decoding(
                kind,
                version,
                &errors().collect::<Vec<_>>(),
            )),
            Self::Warn => {
                errors().for_each(crate::warnings::add);
                Ok(())
            }
            Self::Ignore => Ok(()),
        }
    }
}

/// The field-ownership context for a plain write of `info`.
pub(crate) fn managed_ctx(
    st: &State,
    info: &ResourceInfo,
    version: &str,
    part: Part,
) -> crate::patch::PatchContext {
    crate::patch::PatchContext {
        api_version: info.api_version(version),
        kind: info.kind.clone(),
        now: st.now(),
        is_custom: info.custom,
        subresource: part.subresource().map(str::to_string),
        status_subresource: info.status,
        ..Default::default()
    }
}

/// Records a plain write in managedFields (the patch module owns the rules).
fn record(
    st: &State,
    info: &ResourceInfo,
    version: &str,
    part: Part,
    before: Option<&Value>,
    after: Value,
    opts: &WriteOpts,
) -> Value {
    match opts.manager.as_deref() {
        Some(m) if !opts.from_patch => {
            let ctx = managed_ctx(st, info, version, part);
            crate::patch::managed::record_update(before, &after, m, &ctx)
        }
        _ => after,
    }
}

/// Equality that ignores resourceVersion and managedFields timestamps, so
/// rewriting an unchanged object stays a no-op.
fn same_content(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("managedFields");
            m.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
}

pub(crate) fn target<'a>(info: &'a ResourceInfo, name: &'a str) -> Target<'a> {
    Target {
        group: &info.group,
        plural: &info.plural,
        name,
    }
}

/// Checks `apiVersion`/`kind` against the URL and fills them in if absent
/// (kube-apiserver decodes with the URL's kind as the default).
pub(crate) fn check_type_meta(
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    };
    let expected = info.api_version(version);
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), expected.clone().into());
        }
        Some(av) => {
            let (group, ver) = av.rsplit_once('/').unwrap_or(("", av));
            if group != info.group || !info.serves(ver) {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({av}) does not match the expected API version ({expected})"
                )));
            }
            map.insert("apiVersion".into(), expected.into());
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), info.kind.clone().into());
        }
        Some(k) if k == info.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                info.kind
            )));
        }
    }
    match map.get("metadata") {
        None | Some(Value::Object(_)) => Ok(()),
        Some(Value::Null) => {
            map.remove("metadata");
            Ok(())
        }
        Some(_) => Err(ApiError::bad_request("metadata must be an object")),
    }
}

/// Matches the body's namespace with the URL's and stamps it.
pub(crate) fn check_namespace(
    info: &ResourceInfo,
    ns: Option<&str>,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if info.namespaced {
        let Some(ns) = ns else {
            return Err(ApiError::bad_request(
                "a namespace must be given for a namespaced resource",
            ));
        };
        let body_ns = meta::namespace(obj);
        if !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta::set_str(obj, "namespace", ns);
    } else {
        meta::metadata_mut(obj).remove("namespace");
    }
    Ok(())
}

/// Creating in a missing namespace is NotFound; in a terminating one,
/// Forbidden with the `NamespaceTerminating` cause, as the NamespaceLifecycle
/// admission plugin answers (apiserver
/// `pkg/admission/plugin/namespace/lifecycle/admission.go`). It runs before
/// a generated name exists, so the message names `generateName` then.
fn check_namespace_usable(st: &State, info: &ResourceInfo, obj: &Value) -> Result<(), ApiError> {
    let ns = meta::namespace(obj);
    let gr = crate::registry::GroupResource::new("", "namespaces");
    match st.get(&gr, &(String::new(), ns.to_string())) {
        None => Err(ApiError::not_found(Target {
            group: "",
            plural: "namespaces",
            name: ns,
        })),
        Some(n) if meta::deletion_timestamp(&n).is_some() => {
            let name = [meta::name(obj), meta::str_field(obj, "generateName")]
                .into_iter()
                .find(|n| !n.is_empty())
                .unwrap_or("Unknown");
            let mut e = ApiError::forbidden_on(
                target(info, name),
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            );
            e.details["causes"] = json!([{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {ns} is being terminated"),
                "field": "metadata.namespace",
            }]);
            Err(e)
        }
        Some(_) => Ok(()),
    }
}

/// Namespaces the NamespaceLifecycle plugin never lets go.
pub(crate) const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

pub(crate) fn create(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    ns: Option<&str>,
    obj: Value,
    opts: WriteOpts,
) -> Result<Obj, ApiError> {
    let admitted = admit_create(st, info, version, ns, obj, &opts)?;
    // Admitted under this same lock: nothing can have taken the name since.
    Ok(store_created(st, info, admitted, &opts))
}

/// Everything a create does before it is stored: checks, defaults,
/// validation and validating admission. The object it returns is the one
/// `commit_create` stores, so a caller may release the lock in between (to
/// call admission webhooks) and commit later.
pub(crate) fn admit_create(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    ns: Option<&str>,
    mut obj: Value,
    opts: &WriteOpts,
) -> Result<Value, ApiError> {
    check_type_meta(info, version, &mut obj)?;
    check_namespace(info, ns, &mut obj)?;
    if info.namespaced {
        check_namespace_usable(st, info, &obj)?;
    }
    if meta::name(&obj).is_empty() {
        let prefix = meta::str_field(&obj, "generateName").to_string();
        if prefix.is_empty() {
            return Err(ApiError::invalid(
                &info.kind,
                target(info, ""),
                &[(
                    "metadata.name".into(),
                    "Required value: name or generateName is required".into(),
                )],
            ));
        }
        meta::set_str(&mut obj, "name", &format!("{prefix}{}", random_suffix()));
    }
    validation::validate_meta(info, &obj)?;
    let key = meta::key(&obj);
    if st.get(&info.gr(), &key).is_some() {
        return Err(ApiError::already_exists(target(info, &key.1)));
    }
    let now = st.now();
    {
        let m = meta::metadata_mut(&mut obj);
        for f in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
            "generation",
        ] {
            m.remove(f);
        }
        m.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
        m.insert("creationTimestamp".into(), now.into());
        if info.generation || info.custom {
            m.insert("generation".into(), 1.into());
        }
    }
    strategy::prepare_create(st, info, version, &mut obj, opts)?;
    let (ns, obj_name) = meta::key(&obj);
    crate::admission::validate(
        st,
        &Attributes {
            info,
            version,
            subresource: "",
            kind: None,
            operation: Operation::Create,
            name: &obj_name,
            namespace: &ns,
            object: Some(&obj),
            old_object: None,
            dry_run: opts.dry_run,
        },
    )?;
    Ok(record(st, info, version, Part::Main, None, obj, opts))
}

/// Stores what `admit_create` admitted, unless the name was taken or the
/// namespace began terminating since (possible only when the lock was
/// released in between).
pub(crate) fn commit_create(
    st: &mut State,
    info: &ResourceInfo,
    obj: Value,
    opts: &WriteOpts,
) -> Result<Obj, ApiError> {
    if !opts.dry_run {
        let key = meta::key(&obj);
        if st.get(&info.gr(), &key).is_some() {
            return Err(ApiError::already_exists(target(info, &key.1)));
        }
        if info.namespaced {
            check_namespace_usable(st, info, &obj)?;
        }
    }
    Ok(store_created(st, info, obj, opts))
}

/// Stores an admitted object (a dry run stores nothing).
fn store_created(st: &mut State, info: &ResourceInfo, obj: Value, opts: &WriteOpts) -> Obj {
    if opts.dry_run {
        return Obj::new(obj);
    }
    let out = st.commit(&info.gr(), obj);
    gc::collect(st);
    out
}

/// Server-owned metadata a client cannot change through an update.
const SERVER_FIELDS: &[&str] = &[
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    ns: Option<&str>,
    name: &str,
    body: Value,
    part: Part,
    opts: WriteOpts,
) -> Result<Obj, ApiError> {
    match admit_update(st, info, version, ns, name, body, part, &opts)? {
        Admitted::Unchanged(old) => Ok(old),
        Admitted::Changed(plan) => Ok(commit_update(st, plan, &opts)),
    }
}

/// What an admitted update will do.
pub(crate) enum Admitted {
    /// The write changes nothing: no new resourceVersion, no event.
    Unchanged(Obj),
    Changed(UpdatePlan),
}

/// An admitted update, waiting to be stored.
#[derive(Clone)]
pub(crate) struct UpdatePlan {
    pub at: ObjRef,
    pub old: Obj,
    pub new: Value,
}

impl UpdatePlan {
    /// Whether the stored object is still the one the update was admitted
    /// against (false once another write came in between).
    pub(crate) fn is_current(&self, st: &State) -> bool {
        st.get(&self.at.gr, &self.at.key)
            .is_some_and(|o| meta::resource_version(&o) == meta::resource_version(&self.old))
    }
}

/// Everything an update does before it is stored (see `admit_create`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn admit_update(
    st: &mut State,
    info: &ResourceInfo,
    version: &str,
    ns: Option<&str>,
    name: &str,
    mut body: Value,
    part: Part,
    opts: &WriteOpts,
) -> Result<Admitted, ApiError> {
    check_type_meta(info, version, &mut body)?;
    let body_name = meta::name(&body);
    if body_name.is_empty() {
        meta::set_str(&mut body, "name", name);
    } else if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    check_namespace(info, ns, &mut body)?;
    let at = ObjRef {
        gr: info.gr(),
        key: meta::key(&body),
    };
    let Some(old) = st.get(&at.gr, &at.key) else {
        return Err(ApiError::not_found(target(info, name)));
    };
    let rv = meta::resource_version(&body);
    if rv.is_empty() {
        if !info.unconditional_update && !opts.from_patch {
            return Err(ApiError::invalid(
                &info.kind,
                target(info, name),
                &[(
                    "metadata.resourceVersion".into(),
                    "Invalid value: 0x0: must be specified for an update".into(),
                )],
            ));
        }
    } else if rv != meta::resource_version(&old) {
        return Err(ApiError::stale(target(info, name)));
    }
    let body_uid = meta::uid(&body);
    if !body_uid.is_empty() && body_uid != meta::uid(&old) {
        return Err(ApiError::conflict(
            target(info, name),
            &format!(
                "Precondition failed: UID in precondition: {body_uid}, UID in object meta: {}",
                meta::uid(&old)
            ),
        ));
    }

    let mut new = match part {
        Part::Main => {
            let mut new = body;
            let old_meta = meta::metadata(&old).cloned().unwrap_or_default();
            let m = meta::metadata_mut(&mut new);
            for f in SERVER_FIELDS {
                match old_meta.get(*f) {
                    Some(v) => m.insert(f.to_string(), v.clone()),
                    None => m.remove(*f),
                };
            }
            if !m.contains_key("managedFields")
                && let Some(mf) = old_meta.get("managedFields")
            {
                m.insert("managedFields".into(), mf.clone());
            }
            if info.status {
                let map = new.as_object_mut().expect("object");
                match old.get("status") {
                    Some(s) => map.insert("status".into(), s.clone()),
                    None => map.remove("status"),
                };
            }
            new
        }
        // The approval strategy keeps only the conditions of this status.
        Part::Status | Part::Approval => {
            let mut new = (*old).clone();
            let map = new.as_object_mut().expect("object");
            match body.get("status") {
                Some(s) => map.insert("status".into(), s.clone()),
                None => map.remove("status"),
            };
            if let Some(mf) = meta::metadata(&body).and_then(|m| m.get("managedFields")) {
                meta::metadata_mut(&mut new).insert("managedFields".into(), mf.clone());
            }
            new
        }
        // `dropNonEphemeralContainerUpdates`: everything else the body
        // changed is dropped silently.
        Part::EphemeralContainers => {
            let mut new = (*old).clone();
            let spec = new
                .as_object_mut()
                .expect("object")
                .entry("spec")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(spec) = spec.as_object_mut() {
                match body.pointer("/spec/ephemeralContainers") {
                    Some(e) if !e.is_null() => spec.insert("ephemeralContainers".into(), e.clone()),
                    _ => spec.remove("ephemeralContainers"),
                };
            }
            if let Some(mf) = meta::metadata(&body).and_then(|m| m.get("managedFields")) {
                meta::metadata_mut(&mut new).insert("managedFields".into(), mf.clone());
            }
            new
        }
        // `podResizeStrategy`: resources and resize policies only; a
        // changed container count reaches validation as sent.
        Part::Resize => {
            let mut new =
                validation::pod_resize::keep_resize_fields(&old, &body).unwrap_or_else(|| {
                    let mut new = (*old).clone();
                    new["spec"] = body.get("spec").cloned().unwrap_or_default();
                    new
                });
            if let Some(mf) = meta::metadata(&body).and_then(|m| m.get("managedFields")) {
                meta::metadata_mut(&mut new).insert("managedFields".into(), mf.clone());
            }
            new
        }
    };
    validation::validate_meta(info, &new)?;
    if meta::deletion_timestamp(&old).is_some() {
        let before = meta::finalizers(&old);
        if meta::finalizers(&new).iter().any(|f| !before.contains(f)) {
            return Err(ApiError::invalid(
                &info.kind,
                target(info, name),
                &[(
                    "metadata.finalizers".into(),
                    "Forbidden: no new finalizers can be added if the object is being deleted"
                        .into(),
                )],
            ));
        }
    }
    strategy::prepare_update(
        st,
        info,
        version,
        &old,
        &mut new,
        part,
        opts.field_validation,
    )?;
    let (subresource, kind) = admission_scope(part, opts.view);
    let viewed = opts.view.map(|v| ((v.of)(info, &new), (v.of)(info, &old)));
    let (object, old_object) = viewed.as_ref().map_or((&new, &*old), |(n, o)| (n, o));
    crate::admission::validate(
        st,
        &Attributes {
            info,
            version,
            subresource,
            kind,
            operation: Operation::Update,
            name,
            namespace: &at.key.0,
            object: Some(object),
            old_object: Some(old_object),
            dry_run: opts.dry_run,
        },
    )?;
    let mut new = record(st, info, version, part, Some(&old), new, opts);
    if (info.generation || info.custom) && meta::spec_part(&new) != meta::spec_part(&old) {
        let g = meta::metadata(&old)
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta::metadata_mut(&mut new).insert("generation".into(), (g + 1).into());
    }
    // A write that changes nothing is not a write: no new resourceVersion,
    // no watch event (controllers rely on this to settle).
    meta::set_str(&mut new, "resourceVersion", meta::resource_version(&old));
    if same_content(&new, &old) {
        return Ok(Admitted::Unchanged(old));
    }
    Ok(Admitted::Changed(UpdatePlan { at, old, new }))
}

/// Stores an admitted update; the caller checked `is_current` if it
/// released the lock since.
pub(crate) fn commit_update(st: &mut State, plan: UpdatePlan, opts: &WriteOpts) -> Obj {
    if opts.dry_run {
        return Obj::new(plan.new);
    }
    let out = st.commit(&plan.at.gr, plan.new);
    if ready_to_remove(&out) {
        st.remove(&plan.at);
    }
    gc::collect(st);
    out
}

/// A deleted object goes once its finalizers are gone and its grace is over.
pub(crate) fn ready_to_remove(obj: &Value) -> bool {
    if meta::deletion_timestamp(obj).is_none() || !meta::finalizers(obj).is_empty() {
        return false;
    }
    let grace = meta::metadata(obj)
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let spec_finalizers = obj
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .map(|a| !a.is_empty())
        .unwrap_or(false);
    let is_namespace = obj.get("kind").and_then(Value::as_str) == Some("Namespace")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    grace == 0 && !(is_namespace && spec_finalizers)
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOpts {
    pub grace_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
    pub admission: DeleteAdmission,
}

/// How admission names an update's subresource and kind: the view's when
/// the write came through one, else the stored kind's (`status` or none).
pub(crate) fn admission_scope(
    part: Part,
    view: Option<&crate::admission::View>,
) -> (&'static str, Option<crate::admission::Kind>) {
    match (view, part) {
        (Some(v), _) => (v.subresource, Some(v.kind)),
        (None, part) => (part.subresource().unwrap_or(""), None),
    }
}

/// How admission sees a delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum DeleteAdmission {
    /// A DELETE of the named object.
    #[default]
    Named,
    /// One item of a DELETECOLLECTION: a DELETE with no name (apiserver
    /// `handlers/delete.go` builds one set of attributes for the whole
    /// collection).
    Unnamed,
    /// Not here: the delete a granted eviction does (its storage passes
    /// `rest.ValidateAllObjectFunc`; the Eviction itself was admitted), or
    /// one whose whole chain already ran with webhooks (`hooked::before_delete`).
    Skipped,
}

/// What a delete did: removed the object, or marked it and left it waiting.
#[derive(Debug)]
pub(crate) enum Deleted {
    Gone(Obj),
    Pending(Obj),
}

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";

fn grace_for(info: &ResourceInfo, obj: &Value, asked: Option<i64>) -> i64 {
    if info.group.is_empty() && info.plural == "pods" {
        let scheduled = obj
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let terminal = matches!(
            obj.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        if !scheduled || terminal {
            return 0;
        }
        let default = obj
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(30);
        asked.unwrap_or(default).max(0)
    } else {
        0
    }
}

pub(crate) fn delete(
    st: &mut State,
    info: &ResourceInfo,
    at: &ObjRef,
    opts: &DeleteOpts,
) -> Result<Deleted, ApiError> {
    let name = at.key.1.as_str();
    let Some(old) = st.get(&at.gr, &at.key) else {
        return Err(ApiError::not_found(target(info, name)));
    };
    if at.gr == crate::registry::GroupResource::new("", "namespaces")
        && IMMORTAL_NAMESPACES.contains(&name)
    {
        return Err(ApiError::forbidden_on(
            target(info, name),
            "this namespace may not be deleted",
        ));
    }
    if let Some(uid) = &opts.uid
        && uid != meta::uid(&old)
    {
        return Err(ApiError::conflict(
            target(info, name),
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid(&old)
            ),
        ));
    }
    if let Some(rv) = &opts.resource_version
        && rv != meta::resource_version(&old)
    {
        return Err(ApiError::conflict(
            target(info, name),
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta::resource_version(&old)
            ),
        ));
    }
    let policy = opts.propagation.unwrap_or(info.default_propagation);
    let mut fins = meta::finalizers(&old);
    match policy {
        Propagation::Orphan => {
            fins.retain(|f| f != FOREGROUND);
            if !fins.iter().any(|f| f == ORPHAN) {
                fins.push(ORPHAN.into());
            }
        }
        Propagation::Foreground => {
            fins.retain(|f| f != ORPHAN);
            if !fins.iter().any(|f| f == FOREGROUND) {
                fins.push(FOREGROUND.into());
            }
        }
        Propagation::Background => {}
    }
    let grace = grace_for(info, &old, opts.grace_seconds);
    let old_grace = meta::metadata(&old)
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64);
    let is_namespace = info.group.is_empty() && info.plural == "namespaces";
    if opts.admission != DeleteAdmission::Skipped {
        let unnamed = opts.admission == DeleteAdmission::Unnamed;
        crate::admission::validate(
            st,
            &Attributes {
                info,
                version: info.versions.first().map_or("", String::as_str),
                subresource: "",
                kind: None,
                operation: Operation::Delete,
                name: if unnamed { "" } else { name },
                namespace: &at.key.0,
                object: None,
                old_object: Some(&old),
                dry_run: opts.dry_run,
            },
        )?;
    }
    if opts.dry_run {
        return Ok(Deleted::Pending(old));
    }

    let mut new = (*old).clone();
    meta::set_finalizers(&mut new, &fins);
    let already = meta::deletion_timestamp(&old).is_some();
    let m = meta::metadata_mut(&mut new);
    if !already || old_grace.is_some_and(|g| grace < g) {
        let now = st.clock.now();
        let when = now
            .checked_add(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(now);
        m.insert(
            "deletionTimestamp".into(),
            crate::clock::format_time(when).into(),
        );
        m.insert("deletionGracePeriodSeconds".into(), grace.into());
    }
    // The first mark of deletion changes what controllers may do, so a
    // generation moves (`BeforeDelete` in apiserver's
    // pkg/registry/rest/delete.go, `markAsDeleting` in
    // pkg/registry/generic/registry/store.go).
    if !already
        && let Some(g) = m
            .get("generation")
            .and_then(Value::as_i64)
            .filter(|g| *g > 0)
    {
        m.insert("generation".into(), (g + 1).into());
    }
    if is_namespace {
        meta::set_path(&mut new, ".status.phase", "Terminating".into());
    }
    if ready_to_remove(&new) {
        let gone = st.remove(at).expect("present");
        gc::collect(st);
        return Ok(Deleted::Gone(gone));
    }
    let pending = if new == *old {
        old
    } else {
        st.commit(&at.gr, new)
    };
    let waits = meta::metadata(&pending)
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if waits > 0 && old_grace != Some(waits) {
        st.timers.push(GraceTimer {
            at: at.clone(),
            uid: meta::uid(&pending).to_string(),
            after: Duration::from_secs(waits as u64),
        });
    }
    gc::collect(st);
    Ok(Deleted::Pending(pending))
}

/// Ends a pod's grace period (the kubelet's confirmation, played by the
/// server): the object goes unless finalizers still hold it.
pub(crate) fn finish_grace(st: &mut State, at: &ObjRef, uid: &str) {
    let Some(obj) = st.get(&at.gr, &at.key) else {
        return;
    };
    if meta::uid(&obj) != uid || meta::deletion_timestamp(&obj).is_none() {
        return;
    }
    let mut new = (*obj).clone();
    meta::metadata_mut(&mut new).insert("deletionGracePeriodSeconds".into(), 0.into());
    if ready_to_remove(&new) {
        st.remove(at);
    } else if new != *obj {
        st.commit(&at.gr, new);
    }
    gc::collect(st);
}

/// Writes an updated object the server itself changed (GC, namespace
/// controller), removing it if nothing holds it any more.
pub(crate) fn system_write(st: &mut State, at: &ObjRef, new: Value) {
    let out = st.commit(&at.gr, new);
    if ready_to_remove(&out) {
        st.remove(at);
    }
}

/// The `Status` kube-apiserver answers for an immediate delete.
pub(crate) fn deleted_status(info: &ResourceInfo, obj: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta::name(obj),
            "group": info.group,
            "kind": info.plural,
            "uid": meta::uid(obj),
        }
    })
}
