//! CustomResourceDefinitions: validating them, serving their resources
//! (scope, versions, status/scale subresources, printer columns) and
//! removing every instance when the definition goes.

use serde_json::{Value, json};

use crate::error::{ApiError, Target};
use crate::registry::{GroupResource, PrinterColumn, Propagation, ResourceInfo, ScalePaths};
use crate::schema;
use crate::store::ops::FieldValidation;
use crate::store::{ObjRef, State, meta};

const KIND: &str = "CustomResourceDefinition";
const GROUP: &str = "apiextensions.k8s.io";

fn invalid(name: &str, causes: Vec<(String, String)>) -> ApiError {
    ApiError::invalid(
        KIND,
        Target {
            group: GROUP,
            plural: "customresourcedefinitions",
            name,
        },
        &causes,
    )
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// Validates a CRD, fills the defaults kube-apiserver fills and marks it
/// established (synchronously: by the time the write returns, the
/// resource is served).
pub(crate) fn prepare(st: &State, crd: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = meta::name(crd).to_string();
    let mut causes: Vec<(String, String)> = Vec::new();
    let group = s(crd, "/spec/group").to_string();
    let plural = s(crd, "/spec/names/plural").to_string();
    let kind = s(crd, "/spec/names/kind").to_string();
    if group.is_empty() {
        causes.push(("spec.group".into(), "Required value".into()));
    } else if !group.contains('.') || !crate::validation::is_dns_subdomain(&group) {
        causes.push((
            "spec.group".into(),
            format!("Invalid value: {group:?}: should be a domain with at least one dot"),
        ));
    }
    if plural.is_empty() {
        causes.push(("spec.names.plural".into(), "Required value".into()));
    } else if !crate::validation::is_dns_label(&plural) {
        causes.push((
            "spec.names.plural".into(),
            format!("Invalid value: {plural:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"),
        ));
    }
    if kind.is_empty() {
        causes.push(("spec.names.kind".into(), "Required value".into()));
    }
    if !plural.is_empty() && !group.is_empty() && name != format!("{plural}.{group}") {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    match s(crd, "/spec/scope") {
        "Namespaced" | "Cluster" => {}
        "" => causes.push(("spec.scope".into(), "Required value".into())),
        other => causes.push((
            "spec.scope".into(),
            format!("Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""),
        )),
    }
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push((
            "spec.versions".into(),
            "Invalid value: must have exactly one version marked as storage version".into(),
        ));
    }
    let storage: Vec<&Value> = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .collect();
    if !versions.is_empty() && storage.len() != 1 {
        causes.push((
            "spec.versions".into(),
            "Invalid value: must have exactly one version marked as storage version".into(),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        let vname = v.get("name").and_then(Value::as_str).unwrap_or("");
        if !crate::validation::is_dns_label(vname) {
            causes.push((
                format!("spec.versions[{i}].name"),
                format!("Invalid value: {vname:?}: a DNS-1035 label is required"),
            ));
        }
        match v.pointer("/schema/openAPIV3Schema") {
            None => causes.push((
                format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required".into(),
            )),
            Some(sch) => {
                let structural = schema::structural_errors(sch);
                let structural_ok = structural.is_empty();
                for (f, m) in structural {
                    causes.push((format!("spec.versions[{i}].schema.openAPIV3Schema{f}"), m));
                }
                // One schema shared by every version is checked once, under the
                // internal type's `spec.validation` (what v1 converts it to).
                let shared = versions
                    .iter()
                    .all(|o| o.pointer("/schema/openAPIV3Schema") == Some(sch));
                if structural_ok && (!shared || i == 0) {
                    let at = if shared {
                        "spec.validation.openAPIV3Schema".to_string()
                    } else {
                        format!("spec.versions[{i}].schema.openAPIV3Schema")
                    };
                    causes.extend(crate::cel_rules::definitions::check(sch, &at));
                }
            }
        }
        if let Some(scale) = v.pointer("/subresources/scale") {
            for field in ["specReplicasPath", "statusReplicasPath"] {
                if scale
                    .get(field)
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                {
                    causes.push((
                        format!("spec.versions[{i}].subresources.scale.{field}"),
                        "Required value".into(),
                    ));
                }
            }
        }
    }
    if let Some(old) = old {
        for (ptr, field) in [("/spec/group", "spec.group"), ("/spec/scope", "spec.scope")] {
            if s(old, ptr) != s(crd, ptr) {
                causes.push((field.into(), "Invalid value: field is immutable".into()));
            }
        }
    } else if let Some(clash) = st.resources.get(&GroupResource::new(&group, &plural))
        && !clash.info.custom
    {
        causes.push((
            "spec.names.plural".into(),
            format!("Invalid value: {plural:?}: conflicts with a built-in resource"),
        ));
    }
    if !causes.is_empty() {
        return Err(invalid(&name, causes));
    }

    if s(crd, "/spec/names/singular").is_empty() {
        meta::set_path(crd, ".spec.names.singular", kind.to_lowercase().into());
    }
    if s(crd, "/spec/names/listKind").is_empty() {
        meta::set_path(crd, ".spec.names.listKind", format!("{kind}List").into());
    }
    if crd.pointer("/spec/conversion").is_none() {
        meta::set_path(crd, ".spec.conversion", json!({"strategy": "None"}));
    }
    let storage_name = storage[0]["name"].clone();
    let mut stored: Vec<Value> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !stored.contains(&storage_name) {
        stored.push(storage_name);
    }
    let now = st.now();
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let condition = |ty: &str, reason: &str, message: &str| json!({"type": ty, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    let status = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    });
    crd.as_object_mut()
        .expect("object")
        .insert("status".into(), status);
    Ok(())
}

/// kube's version priority: GA before beta before alpha, higher first.
fn version_rank(v: &str) -> (u8, u64, u64) {
    let rest = v.strip_prefix('v').unwrap_or("");
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(major) = digits.parse::<u64>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    let (class, n) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        return (0, 0, 0);
    };
    (class, major, n)
}

/// How a stored CRD is served.
pub(crate) fn resource_info(crd: &Value) -> ResourceInfo {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let strs = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut versions: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .collect();
    versions.sort_by(|a, b| {
        let (a, b) = (s(a, "/name"), s(b, "/name"));
        version_rank(b).cmp(&version_rank(a)).then(a.cmp(b))
    });
    let first = versions.first().cloned().unwrap_or(json!({}));
    let scale = first.pointer("/subresources/scale").map(|sc| ScalePaths {
        spec_replicas: s(sc, "/specReplicasPath").into(),
        status_replicas: s(sc, "/statusReplicasPath").into(),
        label_selector: sc
            .get("labelSelectorPath")
            .and_then(Value::as_str)
            .map(String::from),
    });
    let mut printer_columns = Vec::new();
    let mut schemas = Vec::new();
    let mut field_selectors = Vec::new();
    for v in &versions {
        let vname = s(v, "/name").to_string();
        let cols = v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .map(|c| PrinterColumn {
                        name: s(c, "/name").into(),
                        type_: s(c, "/type").into(),
                        format: s(c, "/format").into(),
                        description: s(c, "/description").into(),
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        json_path: s(c, "/jsonPath").into(),
                    })
                    .collect()
            })
            .unwrap_or_else(|| {
                vec![PrinterColumn {
                    name: "Age".into(),
                    type_: "date".into(),
                    format: String::new(),
                    description: String::new(),
                    priority: 0,
                    json_path: ".metadata.creationTimestamp".into(),
                }]
            });
        printer_columns.push((vname.clone(), cols));
        if let Some(sch) = v.pointer("/schema/openAPIV3Schema") {
            schemas.push((vname.clone(), sch.clone()));
        }
        for f in v
            .get("selectableFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let p = s(f, "/jsonPath").trim_start_matches('.').to_string();
            if !p.is_empty() && !field_selectors.contains(&p) {
                field_selectors.push(p);
            }
        }
    }
    ResourceInfo {
        group: s(crd, "/spec/group").into(),
        versions: versions.iter().map(|v| s(v, "/name").to_string()).collect(),
        kind: s(&names, "/kind").into(),
        plural: s(&names, "/plural").into(),
        singular: s(&names, "/singular").into(),
        short_names: strs(names.get("shortNames")),
        categories: strs(names.get("categories")),
        namespaced: s(crd, "/spec/scope") == "Namespaced",
        status: first.pointer("/subresources/status").is_some(),
        scale,
        printer_columns,
        schemas,
        custom: true,
        field_selectors,
        generation: true,
        default_propagation: Propagation::Background,
        unconditional_update: false,
        review: false,
    }
}

pub(crate) fn on_commit(st: &mut State, crd: &Value) {
    let info = resource_info(crd);
    if info.plural.is_empty() || info.versions.is_empty() {
        return;
    }
    let group = info.group.clone();
    st.register(info);
    crate::aggregator::sync_crd_group(st, &group);
}

/// Removes every instance, then stops serving the resource (ending its
/// watches), as the CRD cleanup finalizer does.
pub(crate) fn on_remove(st: &mut State, crd: &Value) {
    let gr = GroupResource::new(s(crd, "/spec/group"), s(crd, "/spec/names/plural"));
    let Some(rs) = st.resources.get(&gr) else {
        return;
    };
    if !rs.info.custom {
        return;
    }
    let keys: Vec<_> = rs.objects.keys().cloned().collect();
    for key in keys {
        st.remove(&ObjRef {
            gr: gr.clone(),
            key,
        });
    }
    st.unregister(&gr);
    crate::aggregator::sync_crd_group(st, &gr.group);
}

/// Validates a custom object against its version's schema, pruning unknown
/// fields and applying defaults as kube-apiserver does; with
/// `fieldValidation=Strict`, unknown fields are refused instead.
///
/// Then the schema's CEL rules run on the whole object (`old` is the stored
/// one on an update), unless a schema error means the object is not what the
/// rules were written for (`strategy.go`'s `hasBlockingErr`).
pub(crate) fn validate_custom(
    info: &ResourceInfo,
    version: &str,
    obj: &mut Value,
    old: Option<&Value>,
    validation: FieldValidation,
) -> Result<(), ApiError> {
    let Some(sch) = info.schema(version) else {
        return Ok(());
    };
    let mut pruned = Vec::new();
    let mut causes = schema::apply(sch, obj, &mut pruned);
    validation.unknown_fields(&info.kind, version, &pruned)?;
    if causes.iter().any(|(_, m)| blocks_rules(m)) {
        causes.push((
            "<nil>".into(),
            "Invalid value: \"null\": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation".into(),
        ));
    } else {
        let outcome = crate::cel_rules::rules::validate(sch, obj, old);
        causes.extend(outcome.errors);
        for w in outcome.warnings {
            crate::warnings::add(w);
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            &info.kind,
            crate::store::ops::target(info, meta::name(obj)),
            &causes,
        ))
    }
}

/// Schema errors of the kinds that keep CEL rules from running: an
/// unsupported enum value, a missing required field, too long, too many, or
/// the wrong type.
fn blocks_rules(cause: &str) -> bool {
    matches!(
        crate::error::cause_reason(cause),
        "FieldValueNotSupported"
            | "FieldValueRequired"
            | "FieldValueTooLong"
            | "FieldValueTooMany"
            | "FieldValueTypeInvalid"
    )
}

#[cfg(test)]
mod tests {
    use super::version_rank;

    #[test]
    fn versions_sort_like_kube() {
        let mut v = vec!["v1alpha1", "v1", "v2beta1", "v1beta2", "v2", "foo"];
        v.sort_by_key(|x| std::cmp::Reverse(version_rank(x)));
        assert_eq!(v, ["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }
}
