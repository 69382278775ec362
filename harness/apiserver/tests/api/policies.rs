//! ValidatingAdmissionPolicy and its bindings, enforced on writes as
//! kube-apiserver's admission plugin does. Expected texts come from
//! k8s.io/apiserver v0.33 `pkg/admission/plugin/policy/validating`
//! (dispatcher.go: the denial and Warn texts; validator.go: message
//! fallbacks and failurePolicy), `.../policy/generic/policy_dispatcher.go`
//! (param errors), `pkg/admission/plugin/cel/activation.go` (runtime
//! errors) and kubernetes' `pkg/apis/admissionregistration` (defaults and
//! validation of the policy objects).

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

use crate::common::{create, namespace, send, server, status};

pub(crate) fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
            }
        }
    }))
    .unwrap()
}

pub(crate) async fn policy(client: &Client, name: &str, spec: Value) -> Value {
    let api: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    create(&api, json!({"metadata": {"name": name}, "spec": spec})).await
}

pub(crate) async fn bind(client: &Client, name: &str, spec: Value) {
    let api: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    create(&api, json!({"metadata": {"name": name}, "spec": spec})).await;
}

fn deployments_rule() -> Value {
    json!({"resourceRules": [{
        "apiGroups": ["apps"], "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]
    }]})
}

#[tokio::test(start_paused = true)]
async fn a_denied_request_names_policy_binding_and_expression() {
    let (_s, client) = server().await;
    let created = policy(
        &client,
        "replica-limit",
        json!({
            "matchConstraints": deployments_rule(),
            "validations": [{"expression": "object.spec.replicas <= 5"}]
        }),
    )
    .await;
    // Defaults: failurePolicy Fail, Equivalent matching, empty selectors,
    // rules of both scopes.
    assert_eq!(created["spec"]["failurePolicy"], "Fail");
    let constraints = &created["spec"]["matchConstraints"];
    assert_eq!(constraints["matchPolicy"], "Equivalent");
    assert_eq!(constraints["namespaceSelector"], json!({}));
    assert_eq!(constraints["resourceRules"][0]["scope"], "*");
    bind(
        &client,
        "replica-limit-binding",
        json!({
            "policyName": "replica-limit",
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"limits": "on"}}}
        }),
    )
    .await;
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    create(
        &ns,
        json!({"metadata": {"name": "limited", "labels": {"limits": "on"}}}),
    )
    .await;
    namespace(&client, "free").await;

    let limited: Api<Deployment> = Api::namespaced(client.clone(), "limited");
    let s = status(
        limited
            .create(&PostParams::default(), &deployment("web", 7))
            .await
            .unwrap_err(),
    );
    let message = "ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-binding' denied request: failed expression: object.spec.replicas <= 5";
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        s.message,
        format!("deployments.apps \"web\" is forbidden: {message}")
    );
    let details = s.details.unwrap();
    assert_eq!(
        (
            details.name.as_str(),
            details.group.as_str(),
            details.kind.as_str()
        ),
        ("web", "apps", "deployments")
    );
    assert_eq!(details.causes.len(), 1);
    assert_eq!(details.causes[0].message, message);
    assert_eq!(details.causes[0].reason, "");

    limited
        .create(&PostParams::default(), &deployment("web", 3))
        .await
        .expect("within the limit");
    let free: Api<Deployment> = Api::namespaced(client.clone(), "free");
    free.create(&PostParams::default(), &deployment("web", 7))
        .await
        .expect("the binding's namespaceSelector leaves this namespace out");
}

#[tokio::test(start_paused = true)]
async fn reason_message_expression_and_warn() {
    let (_s, client) = server().await;
    policy(
        &client,
        "no-latest",
        json!({
            "matchConstraints": deployments_rule(),
            "validations": [{
                "expression": "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
                "messageExpression": "'deployment ' + object.metadata.name + ' uses a :latest image'",
                "reason": "Forbidden"
            }]
        }),
    )
    .await;
    bind(
        &client,
        "no-latest-deny",
        json!({"policyName": "no-latest", "validationActions": ["Deny"]}),
    )
    .await;
    let mut latest = deployment("web", 1);
    latest
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[0]
        .image = Some("nginx:latest".into());
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let s = status(
        api.create(&PostParams::default(), &latest)
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert!(
        s.message
            .ends_with("denied request: deployment web uses a :latest image"),
        "{}",
        s.message
    );

    // The same policy bound to warn only: the write goes through with the
    // failure in a Warning header.
    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    bindings
        .delete("no-latest-deny", &DeleteParams::default())
        .await
        .unwrap();
    bind(
        &client,
        "no-latest-warn",
        json!({"policyName": "no-latest", "validationActions": ["Warn"]}),
    )
    .await;
    let body = serde_json::to_value(&latest).unwrap();
    let (code, warnings, created) = send(
        &client,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        &body,
    )
    .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(
        warnings,
        [
            r#"299 - "Validation failed for ValidatingAdmissionPolicy 'no-latest' with binding 'no-latest-warn': deployment web uses a :latest image""#
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn params_come_from_the_bound_object() {
    let (_s, client) = server().await;
    policy(
        &client,
        "replica-limit",
        json!({
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": deployments_rule(),
            "validations": [{
                "expression": "object.spec.replicas <= int(params.data.maxReplicas)",
                "messageExpression": "'at most ' + params.data.maxReplicas + ' replicas'"
            }]
        }),
    )
    .await;
    bind(
        &client,
        "limits",
        json!({
            "policyName": "replica-limit",
            "validationActions": ["Deny"],
            "paramRef": {"name": "limits", "parameterNotFoundAction": "Deny"}
        }),
    )
    .await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let s = status(
        api.create(&PostParams::default(), &deployment("web", 2))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "deployments.apps \"web\" is forbidden: ValidatingAdmissionPolicy 'replica-limit' with binding 'limits' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction"
    );

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    create(
        &cms,
        json!({"metadata": {"name": "limits"}, "data": {"maxReplicas": "3"}}),
    )
    .await;
    api.create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("within the param's limit");
    let s = status(
        api.create(&PostParams::default(), &deployment("big", 4))
            .await
            .unwrap_err(),
    );
    assert!(
        s.message.ends_with("denied request: at most 3 replicas"),
        "{}",
        s.message
    );
}

#[tokio::test(start_paused = true)]
async fn runtime_errors_follow_the_failure_policy_and_deletes_see_old_object() {
    let (_s, client) = server().await;
    let rules = json!({"resourceRules": [{
        "apiGroups": [""], "apiVersions": ["v1"],
        "operations": ["CREATE", "DELETE"], "resources": ["configmaps"]
    }]});
    policy(
        &client,
        "strict",
        json!({
            "matchConstraints": rules,
            "validations": [{"expression": "request.operation == 'DELETE' || object.data.mode == 'fast'"}]
        }),
    )
    .await;
    bind(
        &client,
        "strict",
        json!({"policyName": "strict", "validationActions": ["Deny"]}),
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"other": "x"}}))
            .unwrap();
    let s = status(cms.create(&PostParams::default(), &cm).await.unwrap_err());
    assert!(
        s.message.ends_with(
            "denied request: expression 'request.operation == 'DELETE' || object.data.mode == 'fast'' resulted in error: no such key: mode"
        ),
        "{}",
        s.message
    );

    // Under Ignore, an expression that errors lets the request through.
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let mut p = policies.get("strict").await.unwrap();
    p.spec.as_mut().unwrap().failure_policy = Some("Ignore".into());
    policies
        .replace("strict", &PostParams::default(), &p)
        .await
        .unwrap();
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("ignored");

    policy(
        &client,
        "keep-settings",
        json!({
            "failurePolicy": "Fail",
            "matchConstraints": rules,
            "validations": [{
                "expression": "request.operation != 'DELETE' || oldObject.metadata.name != 'settings'",
                "message": "settings may not be deleted"
            }]
        }),
    )
    .await;
    bind(
        &client,
        "keep-settings",
        json!({"policyName": "keep-settings", "validationActions": ["Deny"]}),
    )
    .await;
    let s = status(
        cms.delete("settings", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "configmaps \"settings\" is forbidden: ValidatingAdmissionPolicy 'keep-settings' with binding 'keep-settings' denied request: settings may not be deleted"
    );
    assert!(cms.get_opt("settings").await.unwrap().is_some());
}

#[tokio::test(start_paused = true)]
async fn policies_and_bindings_are_validated_when_written() {
    let (_s, client) = server().await;
    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let bad: ValidatingAdmissionPolicy = serde_json::from_value(json!({
        "metadata": {"name": "bad"},
        "spec": {
            "matchConstraints": deployments_rule(),
            "validations": [
                {"expression": "object.spec.replicas <="},
                {"expression": "true", "reason": "Unauthorized"}
            ]
        }
    }))
    .unwrap();
    let s = status(
        policies
            .create(&PostParams::default(), &bad)
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    let causes = s.details.unwrap().causes;
    assert_eq!(causes[0].field, "spec.validations[0].expression");
    assert!(
        causes[0].message.starts_with(
            "Invalid value: \"object.spec.replicas <=\": compilation failed: ERROR: <input>:1:"
        ),
        "{}",
        causes[0].message
    );
    assert_eq!(causes[1].field, "spec.validations[1].reason");
    assert_eq!(
        causes[1].message,
        "Unsupported value: \"Unauthorized\": supported values: \"Forbidden\", \"Invalid\", \"RequestEntityTooLarge\""
    );
    assert_eq!(causes[1].reason, "FieldValueNotSupported");

    let bindings: Api<ValidatingAdmissionPolicyBinding> = Api::all(client.clone());
    let b: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
        "metadata": {"name": "b"},
        "spec": {"policyName": "p", "validationActions": []}
    }))
    .unwrap();
    let s = status(
        bindings
            .create(&PostParams::default(), &b)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "ValidatingAdmissionPolicyBinding.admissionregistration.k8s.io \"b\" is invalid: spec.validationActions: Required value: at least one validation action is required"
    );
}

/// The policy once the status controller has seen `generation` (it runs
/// after the write, as on a real cluster).
async fn observed(api: &Api<ValidatingAdmissionPolicy>, name: &str, generation: i64) -> Value {
    let seen = kube::runtime::wait::await_condition(
        api.clone(),
        name,
        move |p: Option<&ValidatingAdmissionPolicy>| {
            p.and_then(|p| p.status.as_ref())
                .and_then(|s| s.observed_generation)
                == Some(generation)
        },
    );
    let policy = tokio::time::timeout(std::time::Duration::from_secs(10), seen)
        .await
        .expect("status written in time")
        .expect("watch works")
        .expect("policy exists");
    serde_json::to_value(policy).unwrap()
}

/// `status.typeChecking`, as the validatingadmissionpolicy-status
/// controller writes it per generation (kubernetes
/// `pkg/controller/validatingadmissionpolicystatus/controller.go`; the
/// texts from apiserver `admission/plugin/policy/validating/typechecking.go`,
/// `TypeCheckingResult.String`, and cel-go's issue format). Kinds without a
/// schema here (built-ins) are skipped, as upstream skips a kind whose
/// schema is not found.
#[tokio::test]
async fn type_checking_names_undefined_fields_per_kind() {
    let (_s, client) = server().await;
    crate::common::install_database_crd(&client).await;
    let rules = json!({"resourceRules": [
        {"apiGroups": ["harness.dev"], "apiVersions": ["v1"],
         "operations": ["CREATE"], "resources": ["databases"]},
        {"apiGroups": ["apps"], "apiVersions": ["v1"],
         "operations": ["CREATE"], "resources": ["deployments"]},
    ]});
    let created = policy(
        &client,
        "typos",
        json!({
            "matchConstraints": rules,
            "validations": [
                {"expression": "object.spec.replicsa > 0",
                 "messageExpression": "'bad ' + object.spec.version + object.spec.nmae"},
                {"expression": "object.spec.replicas <= 5 && object.metadata.name != ''"},
            ]
        }),
    )
    .await;
    assert_eq!(created.get("status"), None, "written after the create");

    let policies: Api<ValidatingAdmissionPolicy> = Api::all(client.clone());
    let stored = observed(&policies, "typos", 1).await;
    assert_eq!(
        stored["status"]["typeChecking"]["expressionWarnings"],
        json!([
            {"fieldRef": "spec.validations[0].expression",
             "warning": "harness.dev/v1, Kind=Database: ERROR: <input>:1:12: undefined field 'replicsa'\n | object.spec.replicsa > 0\n | ...........^\n"},
            {"fieldRef": "spec.validations[0].messageExpression",
             "warning": "harness.dev/v1, Kind=Database: ERROR: <input>:1:43: undefined field 'nmae'\n | 'bad ' + object.spec.version + object.spec.nmae\n | ..........................................^\n"},
        ])
    );
    let managers: Vec<(String, String, String)> = stored["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
            (s("manager"), s("operation"), s("subresource"))
        })
        .collect();
    assert!(
        managers.contains(&(
            "validatingadmissionpolicy-status-controller".into(),
            "Apply".into(),
            "status".into()
        )),
        "{managers:?}"
    );

    // A new generation is checked again; no warnings leave typeChecking empty.
    let fixed = json!({"spec": {"validations": [{"expression": "object.spec.replicas > 0"}]}});
    policies
        .patch(
            "typos",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&fixed),
        )
        .await
        .unwrap();
    let stored = observed(&policies, "typos", 2).await;
    assert_eq!(stored["metadata"]["generation"], 2);
    assert_eq!(stored["status"]["typeChecking"], json!({}));
}
