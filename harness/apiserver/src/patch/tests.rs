//! Every patch flavour through the public entry point, and its errors.

use serde_json::{Value, json};

use super::*;

fn ctx(kind: &str, manager: Option<&str>) -> PatchContext {
    PatchContext {
        api_version: if kind == "Deployment" {
            "apps/v1"
        } else {
            "v1"
        }
        .into(),
        kind: kind.into(),
        field_manager: manager.map(str::to_owned),
        now: "2025-01-02T03:04:05Z".into(),
        ..Default::default()
    }
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}}
        }
    })
}

fn patch(ty: PatchType, live: &Value, body: &str) -> Result<Value, PatchError> {
    apply_patch(ty, Some(live), body.as_bytes(), &ctx("Deployment", None))
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap().to_owned(),
                        e["operation"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn content_types_map_to_flavours() {
    assert_eq!(
        PatchType::from_content_type("application/strategic-merge-patch+json; charset=utf-8"),
        Some(PatchType::StrategicMerge)
    );
    assert_eq!(PatchType::from_content_type("application/json"), None);
}

#[test]
fn json_patch_applies_operations_in_order() {
    let out = patch(
        PatchType::Json,
        &deployment(),
        r#"[{"op":"test","path":"/spec/replicas","value":1},
            {"op":"replace","path":"/spec/replicas","value":3},
            {"op":"add","path":"/metadata/labels","value":{"a":"b"}}]"#,
    )
    .unwrap();
    assert_eq!(out["spec"]["replicas"], 3);
    assert_eq!(out["metadata"]["labels"]["a"], "b");
}

#[test]
fn json_patch_failed_test_is_invalid_and_bad_json_is_bad_request() {
    let err = patch(
        PatchType::Json,
        &deployment(),
        r#"[{"op":"test","path":"/spec/replicas","value":7}]"#,
    )
    .unwrap_err();
    assert!(matches!(err, PatchError::Invalid(_)), "{err:?}");
    assert_eq!(err.code(), 422);
    assert!(err.to_string().contains("/spec/replicas"), "{err}");

    let err = patch(PatchType::Json, &deployment(), r#"[{"op":"jump"}]"#).unwrap_err();
    assert!(matches!(err, PatchError::BadRequest(_)), "{err:?}");
    let err = patch(PatchType::Json, &deployment(), "[{").unwrap_err();
    assert_eq!((err.code(), err.reason()), (400, "BadRequest"));
}

/// evanphx/json-patch v4 (what kube-apiserver applies JSON patches with),
/// patch.go `test`: a missing key reads as null when its parent exists; a
/// missing parent fails ("test operation does not apply"), and so does a
/// non-null value against a missing key.
#[test]
fn json_patch_test_reads_a_missing_key_as_null_like_kube_apiserver() {
    // kube-runtime's finalizer() on an object without finalizers.
    let out = patch(
        PatchType::Json,
        &deployment(),
        r#"[{"op":"test","path":"/metadata/finalizers","value":null},
            {"op":"add","path":"/metadata/finalizers","value":["example.com/cleanup"]}]"#,
    )
    .unwrap();
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["example.com/cleanup"])
    );

    for (body, path) in [
        (
            r#"[{"op":"test","path":"/metadata/nothing/here","value":null}]"#,
            "/metadata/nothing/here",
        ),
        (
            r#"[{"op":"test","path":"/metadata/finalizers","value":["x"]}]"#,
            "/metadata/finalizers",
        ),
    ] {
        let err = patch(PatchType::Json, &deployment(), body).unwrap_err();
        assert_eq!(err.code(), 422, "{body}");
        assert!(err.to_string().contains(path), "{err}");
    }
    // The failing operation is named by its index in the whole patch.
    let err = patch(
        PatchType::Json,
        &deployment(),
        r#"[{"op":"test","path":"/metadata/finalizers","value":null},
            {"op":"test","path":"/spec/replicas","value":7}]"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("operation '/1'"), "{err}");
}

#[test]
fn merge_patch_replaces_lists_and_null_deletes() {
    let out = patch(
        PatchType::Merge,
        &deployment(),
        r#"{"spec":{"replicas":null,"template":{"spec":{"containers":[{"name":"other"}]}}}}"#,
    )
    .unwrap();
    assert!(out["spec"].get("replicas").is_none());
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "other"}]),
        "merge patch has no list merge keys"
    );
    let err = patch(PatchType::Merge, &deployment(), "{nope").unwrap_err();
    assert!(
        matches!(err, PatchError::BadRequest(ref m) if m.contains("merge patch")),
        "{err}"
    );
}

#[test]
fn strategic_merge_patch_keeps_other_containers() {
    let out = patch(
        PatchType::StrategicMerge,
        &deployment(),
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"s:1"}]}}}}"#,
    )
    .unwrap();
    let names: Vec<_> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "side"]);
}

#[test]
fn strategic_merge_on_a_custom_resource_is_415() {
    let mut c = ctx("Widget", None);
    c.is_custom = true;
    let live = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    let err = apply_patch(PatchType::StrategicMerge, Some(&live), b"{}", &c).unwrap_err();
    assert!(matches!(err, PatchError::Unsupported(_)), "{err:?}");
    assert_eq!((err.code(), err.reason()), (415, "UnsupportedMediaType"));
}

#[test]
fn non_apply_patches_record_an_update_when_the_writer_is_known() {
    let c = ctx("Deployment", Some("kubectl-patch"));
    let out = apply_patch(
        PatchType::Merge,
        Some(&deployment()),
        br#"{"spec":{"replicas":4}}"#,
        &c,
    )
    .unwrap();
    assert_eq!(
        managers(&out),
        [("kubectl-patch".to_owned(), "Update".to_owned())]
    );
    assert_eq!(
        out["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
}

const APPLY_V1: &str = "
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: app
        image: app:2
";

fn applied(
    live: Option<&Value>,
    body: &str,
    manager: &str,
    force: bool,
) -> Result<Value, PatchError> {
    let mut c = ctx("Deployment", Some(manager));
    c.force = force;
    apply_patch(PatchType::Apply, live, body.as_bytes(), &c)
}

#[test]
fn apply_creates_with_upstream_managed_fields() {
    let out = applied(None, APPLY_V1, "kubectl", false).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(out["metadata"]["name"], "web");
    assert_eq!(
        out["metadata"]["managedFields"],
        json!([{
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
            "time": "2025-01-02T03:04:05Z", "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                        ".": {}, "f:image": {}, "f:name": {}
                    }}}}
                }
            }
        }])
    );
}

#[test]
fn apply_without_field_manager_or_with_bad_yaml_is_bad_request() {
    let c = ctx("Deployment", None);
    let err = apply_patch(PatchType::Apply, None, APPLY_V1.as_bytes(), &c).unwrap_err();
    assert!(
        matches!(err, PatchError::BadRequest(ref m) if m.contains("fieldManager")),
        "{err}"
    );

    let err = applied(None, "kind: Deployment\n  bad: [indent", "m", false).unwrap_err();
    assert!(
        matches!(err, PatchError::BadRequest(ref m) if m.contains("YAML")),
        "{err}"
    );
    let err = applied(
        None,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
        "m",
        false,
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let err = applied(None, "- a\n- b\n", "m", false).unwrap_err();
    assert!(err.to_string().contains("must be an object"), "{err}");
}

#[test]
fn apply_conflicts_with_another_managers_value() {
    let live = applied(None, APPLY_V1, "kubectl", false).unwrap();
    // Someone scales with a plain update: they now own replicas.
    let c = ctx("Deployment", Some("hpa"));
    let live = apply_patch(
        PatchType::Merge,
        Some(&live),
        br#"{"spec":{"replicas":5}}"#,
        &c,
    )
    .unwrap();

    let err = applied(Some(&live), APPLY_V1, "kubectl", false).unwrap_err();
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"hpa\" using apps/v1: .spec.replicas"
    );
    let PatchError::Conflict { conflicts } = &err else {
        unreachable!()
    };
    assert_eq!(
        conflicts[0].cause_message(),
        "conflict with \"hpa\" using apps/v1"
    );

    // The same value is shared ownership, not a conflict.
    let same = APPLY_V1.replace("replicas: 2", "replicas: 5");
    let out = applied(Some(&live), &same, "kubectl", false).unwrap();
    assert_eq!(out["spec"]["replicas"], 5);
}

#[test]
fn several_conflicts_are_grouped_by_manager() {
    let live = applied(None, APPLY_V1, "a", false).unwrap();
    let other = APPLY_V1
        .replace("replicas: 2", "replicas: 3")
        .replace("app: web", "app: other");
    let err = applied(Some(&live), &other, "b", false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 2 conflicts: conflicts with \"a\":\n- .metadata.labels.app\n- .spec.replicas"
    );
}

#[test]
fn forced_apply_takes_ownership() {
    let live = applied(None, APPLY_V1, "kubectl", false).unwrap();
    let c = ctx("Deployment", Some("hpa"));
    let live = apply_patch(
        PatchType::Merge,
        Some(&live),
        br#"{"spec":{"replicas":5}}"#,
        &c,
    )
    .unwrap();
    let out = applied(Some(&live), APPLY_V1, "kubectl", true).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(
        managers(&out),
        [("kubectl".to_owned(), "Apply".to_owned())],
        "hpa owned only replicas, so its entry is gone"
    );
}

#[test]
fn fields_no_longer_applied_are_removed_unless_someone_else_owns_them() {
    let live = applied(None, APPLY_V1, "kubectl", false).unwrap();
    let without_labels = APPLY_V1.replace("  labels:\n    app: web\n", "");
    let out = applied(Some(&live), &without_labels, "kubectl", false).unwrap();
    assert!(out["metadata"].get("labels").is_none(), "{out}");

    // A label someone else changed (and so now owns) stays; an update that
    // rewrites a value unchanged takes no ownership, as upstream.
    let c = ctx("Deployment", Some("labeler"));
    let shared = apply_patch(
        PatchType::Merge,
        Some(&live),
        br#"{"metadata":{"labels":{"app":"web2","team":"x"}}}"#,
        &c,
    )
    .unwrap();
    let out = applied(Some(&shared), &without_labels, "kubectl", false).unwrap();
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web2", "team": "x"})
    );
}

#[test]
fn removed_list_items_go_and_other_items_stay() {
    let two = APPLY_V1.replace(
        "        image: app:2\n",
        "        image: app:2\n      - name: side\n        image: side:1\n",
    );
    let live = applied(None, &two, "kubectl", false).unwrap();
    let out = applied(Some(&live), APPLY_V1, "kubectl", false).unwrap();
    let containers = &out["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers, &json!([{"name": "app", "image": "app:2"}]));
}

#[test]
fn reapplying_the_same_config_changes_nothing() {
    let live = applied(None, APPLY_V1, "kubectl", false).unwrap();
    let mut later = ctx("Deployment", Some("kubectl"));
    later.now = "2030-01-01T00:00:00Z".into();
    let again = apply_patch(PatchType::Apply, Some(&live), APPLY_V1.as_bytes(), &later).unwrap();
    assert_eq!(again, live, "no change, not even the time stamp");
}

#[test]
fn status_subresource_apply_owns_only_status() {
    let mut c = ctx("Deployment", Some("controller"));
    c.subresource = Some("status".into());
    c.status_subresource = true;
    let live = applied(None, APPLY_V1, "kubectl", false).unwrap();
    let body = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 9}\nstatus: {readyReplicas: 2}\n";
    let out = apply_patch(PatchType::Apply, Some(&live), body.as_bytes(), &c).unwrap();
    assert_eq!(out["spec"]["replicas"], 2, "/status leaves spec alone");
    assert_eq!(out["status"]["readyReplicas"], 2);
    let entry = out["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "controller")
        .unwrap();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:readyReplicas": {}}})
    );
}

#[test]
fn first_apply_over_an_untracked_object_conflicts_with_before_first_apply() {
    let mut live = deployment();
    live["spec"]["replicas"] = json!(3);
    live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
    let err = applied(Some(&live), APPLY_V1, "kubectl", false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas"
    );
    let out = applied(Some(&live), APPLY_V1, "kubectl", true).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(
        managers(&out),
        [
            ("kubectl".to_owned(), "Apply".to_owned()),
            ("before-first-apply".to_owned(), "Update".to_owned())
        ]
    );
}
