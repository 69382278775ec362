//! `POST pods/{name}/binding`: how a scheduler places a pod, as
//! kube-apiserver's `BindingREST` does it (pkg/registry/core/pod/storage/storage.go,
//! `assignPod` / `setPodNodeAndMetadata`). Custom schedulers and tests of
//! scheduling extenders bind through it; the pod gets its node, the
//! Binding's annotations and `PodScheduled=True` in one write.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{Req, json_response};
use crate::error::{ApiError, Target};
use crate::store::{meta, ops};

/// `ValidatePodBinding` (pkg/apis/core/validation/validation.go). Its
/// errors come back as a plain aggregate, which apiserver answers as a 500
/// with no reason.
fn validate(binding: &Value) -> Result<(), ApiError> {
    let target = binding.get("target").unwrap_or(&Value::Null);
    let kind = target.get("kind").and_then(Value::as_str).unwrap_or("");
    let mut errors = Vec::new();
    if !kind.is_empty() && kind != "Node" {
        errors.push(format!(
            "target.kind: Unsupported value: {kind:?}: supported values: \"Node\", \"<empty>\""
        ));
    }
    if target
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        errors.push("target.name: Required value".to_string());
    }
    match errors.as_slice() {
        [] => Ok(()),
        [one] => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "", one)),
        many => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "",
            format!("[{}]", many.join(", ")),
        )),
    }
}

pub(super) async fn bind(mut req: Req) -> Result<Response, ApiError> {
    let mut binding = req.object().await?;
    ops::check_namespace(&req.info, req.namespace.as_deref(), &mut binding)?;
    let name = req.name.clone().unwrap_or_default();
    if meta::name(&binding) != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Binding object",
        ));
    }
    validate(&binding)?;
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let annotations = meta::metadata(&binding)
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let key = (req.namespace.clone().unwrap_or_default(), name.clone());
    let info = req.info.clone();
    req.shared.write(|st| {
        let Some(pod) = st.get(&info.gr(), &key) else {
            return Err(ApiError::not_found(ops::target(&info, &name)));
        };
        // Refusals are plain errors `assignPod` wraps as a Conflict on
        // `pods/binding`.
        let conflict = |why: String| {
            ApiError::conflict(
                Target {
                    group: "",
                    plural: "pods/binding",
                    name: &name,
                },
                &why,
            )
        };
        if meta::deletion_timestamp(&pod).is_some() {
            return Err(conflict(format!(
                "pod {name} is being deleted, cannot be assigned to a host"
            )));
        }
        let assigned = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !assigned.is_empty() {
            return Err(conflict(format!(
                "pod {name} is already assigned to node {assigned:?}"
            )));
        }
        if pod
            .pointer("/spec/schedulingGates")
            .and_then(Value::as_array)
            .is_some_and(|g| !g.is_empty())
        {
            return Err(conflict(format!(
                "pod {name} has non-empty .spec.schedulingGates"
            )));
        }
        let mut pod = (*pod).clone();
        pod["spec"]["nodeName"] = node.clone().into();
        if !annotations.is_empty() {
            let m = meta::metadata_mut(&mut pod);
            let merged = m
                .entry("annotations")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(merged) = merged.as_object_mut() {
                merged.extend(annotations);
            }
        }
        scheduled(&mut pod, &st.now());
        ops::system_write(st, &crate::store::ObjRef { gr: info.gr(), key }, pod);
        Ok(())
    })?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    ))
}

/// `podutil.UpdatePodCondition` with `PodScheduled=True`: the condition
/// replaces any earlier one, keeping its transition time when the status
/// was already True.
fn scheduled(pod: &mut Value, now: &str) {
    let status = pod
        .as_object_mut()
        .expect("a stored pod is an object")
        .entry("status")
        .or_insert_with(|| json!({}));
    let conditions = status
        .as_object_mut()
        .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(Value::Array(conditions)) = conditions else {
        return;
    };
    let mut condition = json!({
        "type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now,
    });
    match conditions.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(old) => {
            if old["status"] == "True" {
                condition["lastTransitionTime"] = old["lastTransitionTime"].clone();
            }
            *old = condition;
        }
        None => conditions.push(condition),
    }
}
