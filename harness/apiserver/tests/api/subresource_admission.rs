//! Admission of the writes that are not a plain create, update or delete of
//! the resource: `/scale`, `pods/eviction`, DELETECOLLECTION and namespace
//! `/finalize`. What kube-apiserver 1.33 hands webhooks and policies there:
//! - the attributes come from the subresource's storage: `resource` is the
//!   parent, `kind` the storage's (k8s.io/apiserver
//!   `pkg/endpoints/installer.go`), `autoscaling/v1 Scale` for every scale
//!   (kubernetes `pkg/registry/apps/deployment/storage/storage.go`
//!   `ScaleREST.GroupVersionKind`) and `policy/v1 Eviction` for evictions
//!   (`pkg/registry/core/pod/storage/eviction.go`);
//! - a Scale is admitted as Scales made from the parent, and only
//!   `spec.replicas` flows back (`scaleUpdatedObjectInfo`);
//! - an eviction is admitted before any budget is read, and the pod's own
//!   delete is not admitted (`rest.ValidateAllObjectFunc`);
//! - DELETECOLLECTION admits each item as a DELETE with no name; the first
//!   refusal answers and earlier items stay deleted (apiserver
//!   `pkg/endpoints/handlers/delete.go`, `registry/generic/registry/store.go`
//!   `DeleteCollection`);
//! - a rule `deployments` does not match `deployments/scale`
//!   (`pkg/admission/plugin/webhook/predicates/rules/rules.go`).

use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::common::{create, send, server, status};
use crate::eviction::{budget, evict, evicted, healthy, pod_in};
use crate::policies::{bind, deployment, policy};
use crate::webhooks::{answer, hook, json_patch, mutating, validating};

/// A policy with one validation on what `rule` matches, bound with Deny.
async fn denying(client: &kube::Client, name: &str, rule: Value, validation: Value) {
    policy(
        client,
        name,
        json!({"matchConstraints": {"resourceRules": [rule]}, "validations": [validation]}),
    )
    .await;
    bind(
        client,
        name,
        json!({"policyName": name, "validationActions": ["Deny"]}),
    )
    .await;
}

/// Which configuration a webhook is registered in.
#[derive(Clone, Copy)]
enum Hook {
    Validating,
    Mutating,
}

/// Registers the webhook `<name>.harness.dev`, served as `webhooks/<name>`,
/// on `rules`, in a configuration of its own.
async fn configure(kind: Hook, client: &kube::Client, name: &str, rules: Value) {
    let hooks = vec![hook(&format!("{name}.harness.dev"), name, rules)];
    match kind {
        Hook::Validating => validating(client, name, hooks).await,
        Hook::Mutating => mutating(client, name, hooks).await,
    }
}

/// Every review a webhook received, in order.
type Seen = Arc<Mutex<Vec<Value>>>;

/// A rule for one group's resources (`resources` may name subresources).
fn rules(group: &str, operations: &[&str], resources: &[&str]) -> Value {
    json!({"rules": [{
        "apiGroups": [group], "apiVersions": ["v1"],
        "operations": operations, "resources": resources
    }]})
}

/// Serves `webhooks/<name>`: records each review and answers what `decide`
/// makes of it.
fn recorder(
    s: &kube_harness_apiserver::ApiServer,
    name: &str,
    decide: impl Fn(&Value) -> Value + Send + Sync + 'static,
) -> Seen {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let decide = Arc::new(decide);
    s.serve_webhook("webhooks", name, move |review| {
        log.lock().unwrap().push(review.clone());
        let decide = decide.clone();
        async move { decide(&review) }
    });
    seen
}

fn requests(seen: &Seen) -> Vec<Value> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|r| r["request"].clone())
        .collect()
}

#[tokio::test]
async fn scale_writes_are_admitted_as_autoscaling_scales() {
    let (s, client) = server().await;
    // Caps replicas at 4, and tries to label the Scale (dropped: only
    // spec.replicas flows back to the Deployment).
    let capper = recorder(&s, "capper", |review| {
        let replicas = review["request"]["object"]["spec"]["replicas"]
            .as_i64()
            .unwrap();
        if replicas <= 4 {
            return answer(review, true, json!({}));
        }
        let patch = json_patch(json!([
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "add", "path": "/metadata/labels", "value": {"capped": "yes"}},
        ]));
        answer(
            review,
            true,
            json!({"patchType": "JSONPatch", "patch": patch}),
        )
    });
    let main_only = recorder(&s, "main-only", |review| answer(review, true, json!({})));
    configure(
        Hook::Mutating,
        &client,
        "capper",
        rules("apps", &["UPDATE"], &["deployments/scale"]),
    )
    .await;
    configure(
        Hook::Validating,
        &client,
        "main-only",
        rules("apps", &["UPDATE"], &["deployments"]),
    )
    .await;
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();

    let scale = deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 9}})),
        )
        .await
        .expect("scaled");
    assert_eq!(scale.spec.unwrap().replicas, Some(4), "the webhook's cap");
    let web = deployments.get("web").await.unwrap();
    assert_eq!(web.spec.unwrap().replicas, Some(4));
    assert_eq!(web.metadata.labels, None, "only spec.replicas flows back");

    let seen = requests(&capper);
    assert_eq!(seen.len(), 1);
    let r = &seen[0];
    let scale_kind = json!({"group": "autoscaling", "version": "v1", "kind": "Scale"});
    let parent = json!({"group": "apps", "version": "v1", "resource": "deployments"});
    assert_eq!(r["kind"], scale_kind);
    assert_eq!(r["requestKind"], scale_kind);
    assert_eq!(r["resource"], parent);
    assert_eq!(r["requestResource"], parent);
    assert_eq!(
        (
            &r["subResource"],
            &r["name"],
            &r["namespace"],
            &r["operation"]
        ),
        (
            &json!("scale"),
            &json!("web"),
            &json!("default"),
            &json!("UPDATE")
        )
    );
    assert_eq!(r["oldObject"]["kind"], "Scale");
    assert_eq!(r["oldObject"]["spec"]["replicas"], 1);
    assert_eq!(r["object"]["spec"]["replicas"], 9);
    assert!(
        requests(&main_only).is_empty(),
        "a `deployments` rule does not match `deployments/scale`"
    );

    // Validating webhooks see the Scale of the Deployment as it would be
    // stored: here still capped, and refused.
    let guard = recorder(&s, "guard", |review| {
        answer(
            review,
            false,
            json!({"status": {"message": "at most 2 replicas"}}),
        )
    });
    configure(
        Hook::Validating,
        &client,
        "guard",
        rules("apps", &["UPDATE"], &["*/scale"]),
    )
    .await;
    let st = status(
        deployments
            .patch_scale(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 7}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(st.code, 400);
    assert_eq!(
        st.message,
        "admission webhook \"guard.harness.dev\" denied the request: at most 2 replicas"
    );
    let r = &requests(&guard)[0];
    assert_eq!(r["kind"], scale_kind);
    assert_eq!(r["object"]["spec"]["replicas"], 4);
    assert_eq!(r["oldObject"]["spec"]["replicas"], 4);
    let web = deployments.get("web").await.unwrap();
    assert_eq!(web.spec.unwrap().replicas, Some(4), "nothing stored");
}

#[tokio::test(start_paused = true)]
async fn policies_see_scales_and_not_the_parent_rule() {
    let (_s, client) = server().await;
    denying(
        &client,
        "scale-limit",
        json!({"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["deployments/scale"]}),
        json!({"expression": "request.kind.kind == 'Scale' && request.subResource == 'scale' && object.spec.replicas <= oldObject.spec.replicas + 2"}),
    )
    .await;
    // Refuses every update of the Deployment itself, never its scale.
    denying(
        &client,
        "frozen",
        json!({"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["deployments"]}),
        json!({"expression": "false", "message": "frozen"}),
    )
    .await;
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let scale_to = |n: i32| {
        let deployments = deployments.clone();
        async move {
            deployments
                .patch_scale(
                    "web",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": n}})),
                )
                .await
        }
    };
    scale_to(3).await.expect("within the step");
    let st = status(scale_to(9).await.unwrap_err());
    assert_eq!((st.code, st.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        st.message,
        "deployments.apps \"web\" is forbidden: ValidatingAdmissionPolicy 'scale-limit' with binding 'scale-limit' denied request: failed expression: request.kind.kind == 'Scale' && request.subResource == 'scale' && object.spec.replicas <= oldObject.spec.replicas + 2"
    );
    let st = status(
        deployments
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
            )
            .await
            .unwrap_err(),
    );
    assert!(
        st.message.ends_with("denied request: frozen"),
        "{}",
        st.message
    );
    assert_eq!(
        deployments.get("web").await.unwrap().spec.unwrap().replicas,
        Some(3)
    );
}

#[tokio::test]
async fn an_eviction_is_admitted_before_its_budget() {
    let (s, client) = server().await;
    let refuser = recorder(&s, "no-evictions", |review| {
        answer(
            review,
            false,
            json!({"status": {"code": 403, "message": "no evictions during tests"}}),
        )
    });
    let pod_deletes = recorder(&s, "pod-deletes", |review| answer(review, true, json!({})));
    configure(
        Hook::Validating,
        &client,
        "no-evictions",
        rules("", &["CREATE"], &["pods/eviction"]),
    )
    .await;
    configure(
        Hook::Validating,
        &client,
        "pod-deletes",
        rules("", &["DELETE"], &["pods"]),
    )
    .await;
    pod_in(&client, "web-0", "Running", true).await;
    budget(&client, "web", healthy(1)).await;

    let st = status(evict(&client, "web-0").await.unwrap_err());
    assert_eq!(st.code, 403);
    assert_eq!(
        st.message,
        "admission webhook \"no-evictions.harness.dev\" denied the request: no evictions during tests"
    );
    assert!(!evicted(&client, "web-0").await);
    let pdbs: Api<PodDisruptionBudget> = Api::default_namespaced(client.clone());
    let pdb = pdbs.get("web").await.unwrap().status.unwrap();
    assert_eq!(pdb.disruptions_allowed, 1, "the budget was never consulted");

    let r = &requests(&refuser)[0];
    assert_eq!(
        r["kind"],
        json!({"group": "policy", "version": "v1", "kind": "Eviction"})
    );
    assert_eq!(
        r["resource"],
        json!({"group": "", "version": "v1", "resource": "pods"})
    );
    assert_eq!(
        (&r["subResource"], &r["name"], &r["operation"]),
        (&json!("eviction"), &json!("web-0"), &json!("CREATE"))
    );
    assert_eq!(r["object"]["kind"], "Eviction");
    assert_eq!(r["object"]["metadata"]["namespace"], "default");
    assert_eq!(r["oldObject"], Value::Null);

    let configs: Api<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration> =
        Api::all(client.clone());
    configs
        .delete("no-evictions", &DeleteParams::default())
        .await
        .unwrap();
    evict(&client, "web-0").await.expect("granted");
    assert!(evicted(&client, "web-0").await);
    assert!(
        requests(&pod_deletes).is_empty(),
        "the eviction's own delete of the pod is not admitted"
    );
}

#[tokio::test(start_paused = true)]
async fn policies_see_evictions() {
    let (_s, client) = server().await;
    denying(
        &client,
        "keep-primary",
        json!({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods/eviction"]}),
        json!({
                "expression": "request.kind.kind == 'Eviction' && oldObject == null && request.name != 'web-0'",
                "messageExpression": "'pod ' + request.name + ' is the primary'"
            }),
    )
    .await;
    pod_in(&client, "web-0", "Running", true).await;
    pod_in(&client, "web-1", "Running", true).await;
    let st = status(evict(&client, "web-0").await.unwrap_err());
    assert_eq!(
        st.message,
        "pods \"web-0\" is forbidden: ValidatingAdmissionPolicy 'keep-primary' with binding 'keep-primary' denied request: pod web-0 is the primary"
    );
    assert!(!evicted(&client, "web-0").await);
    evict(&client, "web-1").await.expect("not the primary");
    assert!(evicted(&client, "web-1").await);
}

#[tokio::test]
async fn delete_collection_admits_each_item_without_a_name() {
    let (s, client) = server().await;
    let keeper = recorder(&s, "keeper", |review| {
        let keep = review["request"]["oldObject"]["metadata"]["labels"]["keep"] == "true";
        answer(
            review,
            !keep,
            json!({"status": {"message": "labelled keep"}}),
        )
    });
    configure(
        Hook::Validating,
        &client,
        "keeper",
        rules("", &["DELETE"], &["configmaps"]),
    )
    .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    for (name, keep) in [("a", false), ("b", true), ("c", false)] {
        let labels = if keep {
            json!({"keep": "true"})
        } else {
            json!({})
        };
        create(&cms, json!({"metadata": {"name": name, "labels": labels}})).await;
    }
    let st = status(
        cms.delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(st.code, 400);
    assert_eq!(
        st.message,
        "admission webhook \"keeper.harness.dev\" denied the request: labelled keep"
    );
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(
        left,
        ["b", "c"],
        "a stays deleted; b was refused and c never tried"
    );
    let seen = requests(&keeper);
    assert_eq!(seen.len(), 2, "one call per item, in name order");
    for (r, name) in seen.iter().zip(["a", "b"]) {
        assert_eq!(r["operation"], "DELETE");
        assert_eq!(r.get("name"), None, "no name: {r}");
        assert_eq!(r["namespace"], "default");
        assert_eq!(r["oldObject"]["metadata"]["name"], name);
        assert_eq!(r["object"], Value::Null);
    }
}

#[tokio::test(start_paused = true)]
async fn policies_see_collection_items_without_a_name() {
    let (_s, client) = server().await;
    denying(
        &client,
        "keep",
        json!({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["configmaps"]}),
        json!({
                "expression": "!has(oldObject.metadata.labels) || !('keep' in oldObject.metadata.labels)",
                "messageExpression": "'kept: ' + oldObject.metadata.name + ', name=[' + request.name + ']'"
            }),
    )
    .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    create(&cms, json!({"metadata": {"name": "a"}})).await;
    create(
        &cms,
        json!({"metadata": {"name": "b", "labels": {"keep": "yes"}}}),
    )
    .await;
    let st = status(
        cms.delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .unwrap_err(),
    );
    // With no name, `admission.NewForbidden` names the object "Unknown".
    assert_eq!(
        st.message,
        "configmaps \"Unknown\" is forbidden: ValidatingAdmissionPolicy 'keep' with binding 'keep' denied request: kept: b, name=[]"
    );
    assert!(cms.get_opt("a").await.unwrap().is_none());
    assert!(cms.get_opt("b").await.unwrap().is_some());
}

#[tokio::test]
async fn namespace_finalize_is_an_update_of_its_subresource() {
    let (s, client) = server().await;
    let guard = recorder(&s, "finalizers", |review| {
        let emptied = review["request"]["object"]["spec"]["finalizers"] == json!([]);
        answer(
            review,
            !emptied,
            json!({"status": {"message": "keep the kubernetes finalizer"}}),
        )
    });
    let main_only = recorder(&s, "main-only", |review| answer(review, true, json!({})));
    configure(
        Hook::Validating,
        &client,
        "finalizers",
        rules("", &["UPDATE"], &["namespaces/finalize"]),
    )
    .await;
    configure(
        Hook::Validating,
        &client,
        "main-only",
        rules("", &["UPDATE"], &["namespaces"]),
    )
    .await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    create(&namespaces, json!({"metadata": {"name": "doomed"}})).await;

    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "doomed"}, "spec": {"finalizers": []}});
    let (code, _, out) = send(&client, "PUT", "/api/v1/namespaces/doomed/finalize", &body).await;
    assert_eq!(code, 400, "{out}");
    assert_eq!(
        out["message"],
        "admission webhook \"finalizers.harness.dev\" denied the request: keep the kubernetes finalizer"
    );
    let ns = namespaces.get("doomed").await.unwrap();
    assert_eq!(
        ns.spec.unwrap().finalizers,
        Some(vec!["kubernetes".to_string()])
    );

    let r = &requests(&guard)[0];
    assert_eq!(
        r["kind"],
        json!({"group": "", "version": "v1", "kind": "Namespace"})
    );
    // A request on /namespaces/{name}/... has that name as its namespace
    // (apiserver `pkg/endpoints/request/requestinfo.go`).
    assert_eq!(
        (
            &r["subResource"],
            &r["name"],
            &r["namespace"],
            &r["operation"]
        ),
        (
            &json!("finalize"),
            &json!("doomed"),
            &json!("doomed"),
            &json!("UPDATE")
        )
    );
    assert_eq!(r["oldObject"]["spec"]["finalizers"], json!(["kubernetes"]));
    assert!(
        requests(&main_only).is_empty(),
        "a `namespaces` rule does not match `namespaces/finalize`"
    );

    // Any other finalizer list is admitted and stored.
    let body = json!({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": "doomed"}, "spec": {"finalizers": ["kubernetes", "harness.dev/x"]}});
    let (code, _, out) = send(&client, "PUT", "/api/v1/namespaces/doomed/finalize", &body).await;
    assert_eq!(code, 200, "{out}");
    let ns = namespaces.get("doomed").await.unwrap();
    assert_eq!(ns.spec.unwrap().finalizers.unwrap().len(), 2);
}

/// kube-apiserver's order on a delete: mutating webhooks, then policies,
/// then validating webhooks (kubernetes `pkg/kubeapiserver/options/plugins.go`
/// `AllOrderedPlugins`): a policy's refusal answers before any validating
/// webhook is called.
#[tokio::test]
async fn policies_refuse_deletes_before_validating_webhooks_are_called() {
    let (s, client) = server().await;
    let watcher = recorder(&s, "watcher", |review| answer(review, true, json!({})));
    configure(
        Hook::Validating,
        &client,
        "watcher",
        rules("", &["DELETE"], &["configmaps"]),
    )
    .await;
    denying(
        &client,
        "keep",
        json!({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["DELETE"], "resources": ["configmaps"]}),
        json!({"expression": "oldObject.metadata.name != 'kept'", "message": "kept"}),
    )
    .await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    create(&cms, json!({"metadata": {"name": "kept"}})).await;
    create(&cms, json!({"metadata": {"name": "gone"}})).await;
    let st = status(
        cms.delete("kept", &DeleteParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(
        st.message,
        "configmaps \"kept\" is forbidden: ValidatingAdmissionPolicy 'keep' with binding 'keep' denied request: kept"
    );
    assert!(requests(&watcher).is_empty(), "refused before the webhook");
    cms.delete("gone", &DeleteParams::default()).await.unwrap();
    assert_eq!(requests(&watcher).len(), 1);
    assert!(cms.get_opt("gone").await.unwrap().is_none());
}

/// An Eviction names the pod's namespace or none
/// (`EnsureObjectNamespaceMatchesRequestNamespace`, apiserver
/// `pkg/endpoints/handlers/rest.go`).
#[tokio::test]
async fn an_eviction_for_another_namespace_is_a_bad_request() {
    let (_s, client) = server().await;
    pod_in(&client, "web-0", "Running", true).await;
    let body = json!({"apiVersion": "policy/v1", "kind": "Eviction",
                      "metadata": {"name": "web-0", "namespace": "elsewhere"}});
    let (code, _, out) = send(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods/web-0/eviction",
        &body,
    )
    .await;
    assert_eq!(code, 400, "{out}");
    assert_eq!(
        out["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    assert!(!evicted(&client, "web-0").await);
}
