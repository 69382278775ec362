//! kube-apiserver's built-in storage admission plugins, on by default:
//! DefaultStorageClass gives a claim without a class the default one
//! (kubernetes `plugin/pkg/admission/storage/storageclass/setdefault`,
//! `pkg/volume/util/storageclass.go` `GetDefaultClass`), and
//! PersistentVolumeClaimResize lets a claim grow only when it is bound and
//! its StorageClass allows expansion
//! (`plugin/pkg/admission/storage/persistentvolume/resize/admission.go`).

use serde_json::Value;

use super::{Attributes, Operation};
use crate::error::ApiError;
use crate::registry::GroupResource;
use crate::store::{State, meta};

const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The class a claim named before `spec.storageClassName` existed.
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

fn classes(st: &State) -> Vec<std::sync::Arc<Value>> {
    st.resources
        .get(&GroupResource::new("storage.k8s.io", "storageclasses"))
        .map(|rs| rs.objects.values().cloned().collect())
        .unwrap_or_default()
}

/// `IsDefaultAnnotation`: a class marked default by either annotation.
pub(crate) fn is_default(class: &Value) -> bool {
    annotation(class, DEFAULT_CLASS) == Some("true")
        || annotation(class, BETA_DEFAULT_CLASS) == Some("true")
}

/// DefaultStorageClass, on a claim's create: a claim that names no class
/// (not even `""`) gets the newest default class, by name on a tie.
pub(crate) fn default_class(st: &State, claim: &mut Value) {
    let named = claim
        .pointer("/spec/storageClassName")
        .is_some_and(|c| !c.is_null())
        || annotation(claim, BETA_CLASS).is_some();
    if named {
        return;
    }
    let mut defaults: Vec<_> = classes(st).into_iter().filter(|c| is_default(c)).collect();
    // RFC 3339 seconds in UTC sort as text.
    defaults.sort_by(|a, b| {
        meta::str_field(b, "creationTimestamp")
            .cmp(meta::str_field(a, "creationTimestamp"))
            .then_with(|| meta::name(a).cmp(meta::name(b)))
    });
    if let Some(class) = defaults.first() {
        meta::set_path(claim, ".spec.storageClassName", meta::name(class).into());
    }
}

/// `GetPersistentVolumeClaimClass`: the beta annotation's class, else the
/// spec's.
fn class_of(claim: &Value) -> &str {
    annotation(claim, BETA_CLASS)
        .or_else(|| {
            claim
                .pointer("/spec/storageClassName")
                .and_then(Value::as_str)
        })
        .unwrap_or("")
}

/// A claim's storage request in bytes (0 when none).
pub(crate) fn requested(claim: &Value) -> f64 {
    claim
        .pointer("/spec/resources/requests/storage")
        .and_then(Value::as_str)
        .and_then(crate::quantity::parse_bytes)
        .unwrap_or(0.0)
}

/// PersistentVolumeClaimResize, on a claim's update that asks for more
/// storage.
pub(crate) fn resize(st: &State, a: &Attributes<'_>) -> Result<(), ApiError> {
    let is_claim = a.info.group.is_empty() && a.info.plural == "persistentvolumeclaims";
    if !is_claim || !a.subresource.is_empty() || a.operation != Operation::Update {
        return Ok(());
    }
    let (Some(new), Some(old)) = (a.object, a.old_object) else {
        return Ok(());
    };
    if requested(new) <= requested(old) {
        return Ok(());
    }
    if old.pointer("/status/phase").and_then(Value::as_str) != Some("Bound") {
        return Err(super::forbidden(
            a,
            "Only bound persistent volume claims can be expanded",
        ));
    }
    let class = class_of(new);
    let allowed = !class.is_empty()
        && class == class_of(old)
        && st
            .get(
                &GroupResource::new("storage.k8s.io", "storageclasses"),
                &(String::new(), class.to_string()),
            )
            .and_then(|sc| sc.get("allowVolumeExpansion").and_then(Value::as_bool))
            == Some(true);
    if !allowed {
        return Err(super::forbidden(
            a,
            "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize",
        ));
    }
    Ok(())
}
