//! Defaults every write of a built-in kind gets, as kube-apiserver 1.33
//! fills them: each group's `pkg/apis/<group>/v1/defaults.go` in
//! kubernetes/kubernetes (core: `pkg/apis/core/v1/defaults.go`), plus what
//! the registry strategies add on create (`pkg/registry/batch/job/strategy.go`
//! `generateSelector`; `pkg/registry/apps/daemonset/strategy.go` and the v1
//! conversion's `deprecated.daemonset.template.generation`). Written through
//! kube-rs's typed Api, read back as JSON.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Endpoints, LimitRange, Pod, ReplicationController, Secret};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::common::{create, server};

/// A Job's pod template (its pods may not restart `Always`).
fn template(labels: Value) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}
    })
}

/// A workload's pod template: restartPolicy defaulted to Always, the only
/// one apps/v1 accepts.
fn pod_template(labels: Value) -> Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]}
    })
}

#[tokio::test]
async fn jobs_get_batch_defaults_and_a_generated_selector() {
    let (_s, client) = server().await;
    let jobs: Api<Job> = Api::namespaced(client, "default");
    let job = create(
        &jobs,
        json!({"metadata": {"name": "once"}, "spec": {"template": template(json!({"app": "once"}))}}),
    )
    .await;
    let uid = job["metadata"]["uid"].as_str().unwrap();
    let spec = &job["spec"];
    // SetDefaults_Job.
    for (field, want) in [
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("backoffLimit", json!(6)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ("manualSelector", json!(false)),
    ] {
        assert_eq!(spec[field], want, "spec.{field}");
    }
    // generateSelector: the uid selects, and the template carries both the
    // batch.kubernetes.io/ labels and the legacy ones.
    assert_eq!(
        spec["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    );
    let labels = json!({
        "app": "once",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "once",
        "controller-uid": uid,
        "job-name": "once",
    });
    assert_eq!(spec["template"]["metadata"]["labels"], labels);
    assert_eq!(
        job["metadata"]["labels"], labels,
        "a job without labels takes its template's"
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(
        pod["containers"][0]["imagePullPolicy"], "Always",
        "busybox has no tag"
    );

    // A per-index backoff limit leaves no global one (MaxInt32), and set
    // completions keep parallelism's own default.
    let indexed = create(
        &jobs,
        json!({"metadata": {"name": "indexed"}, "spec": {
            "completions": 3, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
            "podFailurePolicy": {"rules": [{"action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget"}]}]},
            "template": template(json!({"app": "indexed"}))}}),
    )
    .await;
    assert_eq!(indexed["spec"]["backoffLimit"], 2147483647);
    assert_eq!(indexed["spec"]["parallelism"], 1);
    assert_eq!(indexed["spec"]["podReplacementPolicy"], "Failed");
    assert_eq!(
        indexed["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
        "True"
    );
}

#[tokio::test]
async fn cron_jobs_default_their_policy_but_not_their_job_template() {
    let (_s, client) = server().await;
    let crons: Api<CronJob> = Api::namespaced(client, "default");
    let cron = create(
        &crons,
        json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": template(json!({"app": "nightly"}))}}}}),
    )
    .await;
    let spec = &cron["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Allow");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["successfulJobsHistoryLimit"], 3);
    assert_eq!(spec["failedJobsHistoryLimit"], 1);
    // SetDefaults_Job is registered for Job, not for a CronJob's JobSpec.
    assert_eq!(spec["jobTemplate"]["spec"].get("backoffLimit"), None);
    let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
}

#[tokio::test]
async fn workloads_default_their_strategies_field_by_field() {
    let (_s, client) = server().await;
    let web = json!({"app": "web"});
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    // An empty strategy is filled in, not left empty.
    let d = create(
        &deployments,
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": web},
            "strategy": {}, "template": pod_template(web.clone())}}),
    )
    .await;
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let recreate = create(
        &deployments,
        json!({"metadata": {"name": "batch"}, "spec": {"selector": {"matchLabels": web},
            "strategy": {"type": "Recreate"}, "template": pod_template(web.clone())}}),
    )
    .await;
    assert_eq!(recreate["spec"]["strategy"], json!({"type": "Recreate"}));

    let daemons: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let ds = create(
        &daemons,
        json!({"metadata": {"name": "agent"}, "spec": {"selector": {"matchLabels": web},
            "template": pod_template(web.clone())}}),
    )
    .await;
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    let generation = |v: &Value| {
        v["metadata"]["annotations"]["deprecated.daemonset.template.generation"].clone()
    };
    assert_eq!(generation(&ds), "1");
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:1.37"}]}}}});
    let patched = daemons
        .patch("agent", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    assert_eq!(generation(&serde_json::to_value(patched).unwrap()), "2");

    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let claim = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}}}});
    let sts = create(
        &sets,
        json!({"metadata": {"name": "db"}, "spec": {"selector": {"matchLabels": web},
            "serviceName": "db", "template": pod_template(web.clone()), "volumeClaimTemplates": [claim]}}),
    )
    .await;
    assert_eq!(
        sts["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
    assert_eq!(claim["status"], json!({"phase": "Pending"}));
    // A RollingUpdate named without its block gets none: only a defaulted
    // type brings one.
    let named = create(
        &sets,
        json!({"metadata": {"name": "named"}, "spec": {"selector": {"matchLabels": web},
            "serviceName": "db", "updateStrategy": {"type": "RollingUpdate"},
            "template": pod_template(web.clone())}}),
    )
    .await;
    assert_eq!(
        named["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate"})
    );

    // SetDefaults_ReplicationController: selector and labels from the template.
    let rcs: Api<ReplicationController> = Api::namespaced(client, "default");
    let rc = create(
        &rcs,
        json!({"metadata": {"name": "legacy"}, "spec": {"template": pod_template(web.clone())}}),
    )
    .await;
    assert_eq!(rc["spec"]["selector"], web);
    assert_eq!(rc["metadata"]["labels"], web);
    assert_eq!(rc["spec"]["replicas"], 1);
}

#[tokio::test]
async fn pods_get_probe_volume_and_resource_defaults() {
    let (_s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod = create(
        &pods,
        json!({"metadata": {"name": "app"}, "spec": {
            "hostNetwork": true,
            "containers": [{
                "name": "main", "image": "registry.example/app:1.2",
                "ports": [{"containerPort": 8080}],
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                "resources": {"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "500m"}},
                "livenessProbe": {"httpGet": {"port": 8080}},
                "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 5}
            }],
            "volumes": [
                {"name": "scratch"},
                {"name": "config", "configMap": {"name": "settings"}},
                {"name": "host", "hostPath": {"path": "/var/log"}},
                {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
            ]
        }}),
    )
    .await;
    let spec = &pod["spec"];
    assert_eq!(spec["enableServiceLinks"], true, "SetDefaults_Pod");
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(
        c["ports"][0],
        json!({"containerPort": 8080, "protocol": "TCP", "hostPort": 8080})
    );
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "500m", "memory": "64Mi"}),
        "a limit without a request requests what it limits"
    );
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
               "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
    assert_eq!(
        c["readinessProbe"]["grpc"],
        json!({"port": 9090, "service": ""})
    );
    let volumes = &spec["volumes"];
    assert_eq!(volumes[0], json!({"name": "scratch", "emptyDir": {}}));
    assert_eq!(volumes[1]["configMap"]["defaultMode"], 420);
    assert_eq!(
        volumes[2]["hostPath"],
        json!({"path": "/var/log", "type": ""})
    );
    assert_eq!(volumes[3]["projected"]["defaultMode"], 420);
    assert_eq!(
        volumes[3]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        3600
    );
}

#[tokio::test]
async fn core_storage_and_rbac_kinds_get_their_defaults() {
    let (_s, client) = server().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    let secret = create(
        &secrets,
        json!({"metadata": {"name": "s"}, "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(secret["type"], "Opaque");
    // Convert_v1_Secret_To_core_Secret folds stringData into data.
    assert_eq!(secret["data"], json!({"k": "dg=="}));
    assert_eq!(secret.get("stringData"), None);

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let ep = create(
        &endpoints,
        json!({"metadata": {"name": "ext"}, "subsets": [{"addresses": [{"ip": "10.1.2.3"}],
            "ports": [{"port": 443}]}]}),
    )
    .await;
    assert_eq!(ep["subsets"][0]["ports"][0]["protocol"], "TCP");

    // SetDefaults_LimitRangeItem: default ← max, defaultRequest ← default.
    let ranges: Api<LimitRange> = Api::namespaced(client.clone(), "default");
    let lr = create(
        &ranges,
        json!({"metadata": {"name": "limits"}, "spec": {"limits": [
            {"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "16Mi"}}]}}),
    )
    .await;
    let item = &lr["spec"]["limits"][0];
    assert_eq!(item["default"], json!({"cpu": "2"}));
    assert_eq!(
        item["defaultRequest"],
        json!({"cpu": "2", "memory": "16Mi"})
    );

    let classes: Api<StorageClass> = Api::all(client.clone());
    let sc = create(
        &classes,
        json!({"metadata": {"name": "fast"}, "provisioner": "example.com/csi"}),
    )
    .await;
    assert_eq!(
        (sc["reclaimPolicy"].clone(), sc["volumeBindingMode"].clone()),
        (json!("Delete"), json!("Immediate"))
    );

    let drivers: Api<CSIDriver> = Api::all(client.clone());
    let driver = create(
        &drivers,
        json!({"metadata": {"name": "example.com"}, "spec": {}}),
    )
    .await;
    assert_eq!(
        driver["spec"],
        json!({"attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
               "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
               "requiresRepublish": false, "seLinuxMount": false})
    );

    let bindings: Api<RoleBinding> = Api::namespaced(client, "default");
    let rb = create(
        &bindings,
        json!({"metadata": {"name": "readers"},
               "roleRef": {"apiGroup": "", "kind": "Role", "name": "reader"},
               "subjects": [{"kind": "User", "name": "alice"},
                            {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}]}),
    )
    .await;
    assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(rb["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
    assert_eq!(rb["subjects"][1].get("apiGroup"), None);
}
