//! Every patch flavour over arbitrary bodies against a fixed live object:
//! whatever the body, the answer is a patched object or a typed error.
#![no_main]

use kube_harness_apiserver::patch::{apply_patch, PatchContext, PatchType};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

#[derive(Debug, Arbitrary)]
struct Input {
    flavour: u8,
    custom: bool,
    force: bool,
    create: bool,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                     "finalizers": ["a"], "managedFields": [{
            "manager": "other", "operation": "Update", "apiVersion": "apps/v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}],
             "ports": [{"containerPort": 80}]}]}}}
    });
    let ty = match input.flavour % 4 {
        0 => PatchType::Json,
        1 => PatchType::Merge,
        2 => PatchType::StrategicMerge,
        _ => PatchType::Apply,
    };
    let ctx = PatchContext {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        field_manager: Some("fuzz".into()),
        force: input.force,
        now: "2025-01-01T00:00:00Z".into(),
        is_custom: input.custom,
        ..Default::default()
    };
    let live = (!input.create).then_some(&live);
    if let Ok(out) = apply_patch(ty, live, &input.body, &ctx) {
        assert!(out.is_object(), "a patch result must be an object: {out}");
    }
});
