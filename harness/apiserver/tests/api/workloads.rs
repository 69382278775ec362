//! The validation of workload specs that operator tests trip over, as
//! kube-apiserver words it: `pkg/apis/apps/validation/validation.go`
//! (`ValidateDeploymentSpec`, `ValidateReplicaSetSpec`,
//! `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`),
//! `pkg/apis/batch/validation/validation.go` (`validateJobSpec`,
//! `ValidateJobSpecUpdate`, `validateCronJobSpec` with robfig/cron's
//! parser errors), the registry strategies' selector immutability, and
//! apimachinery's `field/errors.go` printing the bad values as Go's `%#v`.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::common::{create, send, server, status};

async fn refused<K>(api: &Api<K>, body: Value) -> kube::core::Status
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(body).unwrap();
    status(api.create(&PostParams::default(), &obj).await.unwrap_err())
}

fn causes(s: &kube::core::Status) -> Vec<(String, String, String)> {
    s.details
        .as_ref()
        .unwrap()
        .causes
        .iter()
        .map(|c| (c.field.clone(), c.reason.clone(), c.message.clone()))
        .collect()
}

fn cause(field: &str, reason: &str, message: &str) -> (String, String, String) {
    (field.into(), reason.into(), message.into())
}

fn template(labels: Value) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    })
}

#[tokio::test(start_paused = true)]
async fn deployments_refuse_bad_replicas_selectors_and_templates() {
    let (_s, client) = server().await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");

    // Without a selector at all (raw JSON: k8s-openapi always sends one).
    let (code, _, body) = send(
        &client,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": -1, "template": template(json!({"app": "web"}))}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        body["message"],
        "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`]"
    );
    assert_eq!(
        body["details"]["causes"][1],
        json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"})
    );
    // A typed client sends the empty selector its struct holds.
    let s = refused(
        &api,
        json!({"metadata": {"name": "web"}, "spec": {"template": template(json!({"app": "web"}))}}),
    )
    .await;
    assert_eq!(
        s.message,
        "Deployment.apps \"web\" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
    );

    let s = refused(
        &api,
        json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "nginx:1.27"}]}}
        }}),
    )
    .await;
    assert_eq!(
        causes(&s),
        [
            cause(
                "spec.template.spec.restartPolicy",
                "FieldValueNotSupported",
                "Unsupported value: \"Never\": supported values: \"Always\""
            ),
            cause(
                "spec.strategy.rollingUpdate.maxUnavailable",
                "FieldValueInvalid",
                "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0"
            ),
        ]
    );

    let good = json!({"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}))
    }});
    let mut stored: Deployment = serde_json::from_value(create(&api, good).await).unwrap();
    stored.spec.as_mut().unwrap().selector.match_labels =
        Some([("app".to_string(), "other".to_string())].into());
    stored
        .spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .labels = Some([("app".to_string(), "other".to_string())].into());
    let s = status(
        api.replace("web", &PostParams::default(), &stored)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        causes(&s),
        [cause(
            "spec.selector",
            "FieldValueInvalid",
            "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"other\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn stateful_and_daemon_sets_check_their_own_way() {
    let (_s, client) = server().await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let s = refused(
        &sts,
        json!({"metadata": {"name": "db"}, "spec": {
            "podManagementPolicy": "Sometimes", "selector": {},
            "serviceName": "db", "template": template(json!({"app": "db"}))
        }}),
    )
    .await;
    assert_eq!(
        causes(&s),
        [
            cause(
                "spec.podManagementPolicy",
                "FieldValueInvalid",
                "Invalid value: \"Sometimes\": must be 'OrderedReady' or 'Parallel'"
            ),
            cause(
                "spec.selector",
                "FieldValueInvalid",
                "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for statefulset"
            ),
        ]
    );

    // A DaemonSet without a selector is only told its labels do not match.
    let (code, _, body) = send(
        &client,
        "POST",
        "/apis/apps/v1/namespaces/default/daemonsets",
        &json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"template": template(json!({"app": "agent"}))}}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        body["details"]["causes"],
        json!([{
            "reason": "FieldValueInvalid",
            "message": "Invalid value: map[string]string{\"app\":\"agent\"}: `selector` does not match template `labels`",
            "field": "spec.template.metadata.labels"
        }])
    );
}

#[tokio::test(start_paused = true)]
async fn jobs_need_a_restart_policy_and_keep_their_template() {
    let (_s, client) = server().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let s = refused(
        &jobs,
        json!({"metadata": {"name": "once"}, "spec": {"backoffLimit": -1, "template": template(json!({}))}}),
    )
    .await;
    assert_eq!(
        causes(&s),
        [
            cause(
                "spec.backoffLimit",
                "FieldValueInvalid",
                "Invalid value: -1: must be greater than or equal to 0"
            ),
            cause(
                "spec.template.spec.restartPolicy",
                "FieldValueRequired",
                "Required value: valid values: \"OnFailure\", \"Never\""
            ),
        ]
    );

    let mut t = template(json!({}));
    t["spec"]["restartPolicy"] = json!("Never");
    let created: Job = serde_json::from_value(
        create(
            &jobs,
            json!({"metadata": {"name": "once"}, "spec": {"template": t}}),
        )
        .await,
    )
    .unwrap();
    let mut changed = created.clone();
    changed
        .spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .containers[0]
        .image = Some("nginx:1.28".into());
    let s = status(
        jobs.replace("once", &PostParams::default(), &changed)
            .await
            .unwrap_err(),
    );
    let got = causes(&s);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0].0, "spec.template");
    assert!(got[0].2.ends_with(": field is immutable"), "{got:#?}");

    let cron: Api<CronJob> = Api::namespaced(client, "default");
    let mut t = template(json!({}));
    t["spec"]["restartPolicy"] = json!("OnFailure");
    let s = refused(
        &cron,
        json!({"metadata": {"name": "nightly"}, "spec": {
            "schedule": "0 * * * * *", "jobTemplate": {"spec": {"template": t}}
        }}),
    )
    .await;
    assert_eq!(
        s.message,
        "CronJob.batch \"nightly\" is invalid: spec.schedule: Invalid value: \"0 * * * * *\": expected exactly 5 fields, found 6: [0 * * * * *]"
    );
}

/// `ValidateStatefulSetUpdate`: replicas, template, update strategy and a
/// few more may change; a new volumeClaimTemplates (the storage change
/// operators most often try) or serviceName is refused as a whole.
#[tokio::test(start_paused = true)]
async fn a_stateful_sets_storage_and_identity_are_fixed_after_creation() {
    let (_s, client) = server().await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let claim = |size: &str| {
        json!([{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}
        }}])
    };
    let created: StatefulSet = serde_json::from_value(
        create(
            &sts,
            json!({"metadata": {"name": "db"}, "spec": {
                "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                "template": template(json!({"app": "db"})),
                "volumeClaimTemplates": claim("1Gi")
            }}),
        )
        .await,
    )
    .unwrap();

    let mut scaled = created.clone();
    scaled.spec.as_mut().unwrap().replicas = Some(3);
    let scaled = sts
        .replace("db", &PostParams::default(), &scaled)
        .await
        .expect("replicas may change");

    let mut grown = scaled.clone();
    grown.spec.as_mut().unwrap().volume_claim_templates =
        Some(serde_json::from_value(claim("2Gi")).unwrap());
    let s = status(
        sts.replace("db", &PostParams::default(), &grown)
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert_eq!(
        causes(&s),
        [cause(
            "spec",
            "FieldValueForbidden",
            "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        )]
    );
    let mut renamed = scaled;
    renamed.spec.as_mut().unwrap().service_name = Some("other".into());
    assert!(
        sts.replace("db", &PostParams::default(), &renamed)
            .await
            .is_err()
    );
}
