//! The StatefulSet controller, after upstream
//! `pkg/controller/statefulset/stateful_set_control.go` (`updateStatefulSet`):
//! one ControllerRevision per pod template, pods named `<set>-<ordinal>` with
//! the `controller-revision-hash` label, PVCs from `volumeClaimTemplates`
//! created before their pod, OrderedReady creation (a pod only after every
//! lower ordinal is Running and Ready), rolling update from the highest
//! ordinal down to the partition, one pod at a time, OnDelete left to the user,
//! and the status counters computed the way `computeReplicaStatus` does.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::model::{
    EventSpec, Kind, Memory, ObjRef, Round, Target, Write, controlled_by, controller_ref,
    is_finished, is_running_and_ready, is_terminating, name, say_once, short_hash, status_write,
    to_value,
};

/// Label carrying the revision a pod was made from (upstream `apps.ControllerRevisionHashLabelKey`).
pub(super) const REVISION_LABEL: &str = "controller-revision-hash";
/// Label carrying the pod's own name (upstream `StatefulSetPodNameLabel`).
pub(super) const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label carrying the ordinal (upstream `PodIndexLabel`, 1.28+).
pub(super) const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// One round of the StatefulSet controller over every set in the world.
pub(super) fn reconcile(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    for set in &r.world.statefulsets {
        if r.paused(Kind::StatefulSet, &set.metadata) || is_terminating(&set.metadata) {
            continue;
        }
        sync_set(r, mem, set, &mut out);
    }
    out
}

/// The revision name for a set's current template: `<set>-<hash>`.
pub(super) fn revision_name(set: &StatefulSet) -> String {
    let template = set.spec.as_ref().map(|s| to_value(&s.template));
    format!(
        "{}-{}",
        name(&set.metadata),
        short_hash(&template.unwrap_or(Value::Null))
    )
}

fn ordinal_of(set_name: &str, pod_name: &str) -> Option<i32> {
    pod_name
        .strip_prefix(set_name)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

fn pod_revision(pod: &Pod) -> Option<&str> {
    pod.metadata
        .labels
        .as_ref()?
        .get(REVISION_LABEL)
        .map(String::as_str)
}

fn sync_set(r: &Round, mem: &mut Memory, set: &StatefulSet, out: &mut Vec<Write>) {
    let set_name = name(&set.metadata).to_owned();
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let Some(spec) = set.spec.as_ref() else {
        return;
    };
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let set_uid = set.metadata.uid.as_deref();

    // Revisions: make the update revision if it does not exist yet.
    let update_revision = revision_name(set);
    let revisions: Vec<&ControllerRevision> = r
        .world
        .revisions
        .iter()
        .filter(|cr| controlled_by(&cr.metadata, set_uid))
        .collect();
    if !revisions
        .iter()
        .any(|cr| name(&cr.metadata) == update_revision)
    {
        let next = revisions.iter().map(|cr| cr.revision).max().unwrap_or(0) + 1;
        let mut labels = spec.selector.match_labels.clone().unwrap_or_default();
        labels.insert(
            HASH_LABEL.into(),
            update_revision.rsplit('-').next().unwrap_or("").into(),
        );
        out.push(Write::Create {
            kind: Kind::ControllerRevision,
            object: json!({
                "apiVersion": "apps/v1",
                "kind": "ControllerRevision",
                "metadata": {
                    "name": update_revision,
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [controller_ref(set)],
                },
                "data": {"spec": {"template": to_value(&spec.template)}},
                "revision": next,
            }),
        });
    }
    let status = set.status.as_ref();
    let current_revision = status
        .and_then(|s| s.current_revision.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| update_revision.clone());
    let template_of = |rev: &str| -> Value {
        if rev == update_revision {
            return to_value(&spec.template);
        }
        revisions
            .iter()
            .find(|cr| name(&cr.metadata) == rev)
            .and_then(|cr| cr.data.as_ref())
            .and_then(|d| d.0.pointer("/spec/template").cloned())
            .unwrap_or_else(|| to_value(&spec.template))
    };

    // Pods owned by this set, by ordinal.
    let mut pods: BTreeMap<i32, &Pod> = BTreeMap::new();
    for pod in &r.world.pods {
        if controlled_by(&pod.metadata, set_uid)
            && let Some(o) = ordinal_of(&set_name, name(&pod.metadata))
        {
            pods.insert(o, pod);
        }
    }

    let strategy = spec.update_strategy.as_ref();
    let on_delete = strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete");
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|ru| ru.partition)
        .unwrap_or(0);
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let set_ref = ObjRef::to(set);

    // Status from what exists now (computeReplicaStatus).
    let mut st_replicas = 0;
    let mut ready = 0;
    let mut current = 0;
    let mut updated = 0;
    for pod in pods.values() {
        st_replicas += 1;
        if is_running_and_ready(pod) {
            ready += 1;
        }
        if !is_terminating(&pod.metadata) {
            if pod_revision(pod) == Some(current_revision.as_str()) {
                current += 1;
            }
            if pod_revision(pod) == Some(update_revision.as_str()) {
                updated += 1;
            }
        }
    }
    let (mut cur_rev, mut cur_count) = (current_revision.clone(), current);
    // completeRollingUpdate: the update revision becomes current once every pod runs it.
    if !on_delete && updated == st_replicas && ready == st_replicas && st_replicas == replicas {
        cur_rev = update_revision.clone();
        cur_count = updated;
    }
    let mut new_status = status.map(to_value).unwrap_or_else(|| json!({}));
    let obj = new_status.as_object_mut().expect("status is an object");
    obj.insert(
        "observedGeneration".into(),
        json!(set.metadata.generation.unwrap_or(0)),
    );
    obj.insert("replicas".into(), json!(st_replicas));
    obj.insert("readyReplicas".into(), json!(ready));
    obj.insert("availableReplicas".into(), json!(ready));
    obj.insert("currentReplicas".into(), json!(cur_count));
    obj.insert("updatedReplicas".into(), json!(updated));
    obj.insert("currentRevision".into(), json!(cur_rev));
    obj.insert("updateRevision".into(), json!(update_revision));
    obj.entry("collisionCount").or_insert(json!(0));
    out.extend(status_write(
        Target::of(Kind::StatefulSet, &set.metadata),
        status.map(to_value),
        new_status,
    ));

    // Replace failed pods; they come back on the next round.
    for (o, pod) in &pods {
        if is_finished(pod) && !is_terminating(&pod.metadata) {
            delete_pod(mem, &set_ref, pod, *o, out);
            return;
        }
    }

    // Create missing pods (with their claims first).
    for ordinal in 0..replicas {
        if let Some(pod) = pods.get(&ordinal) {
            if !parallel && (!is_running_and_ready(pod) || is_terminating(&pod.metadata)) {
                // OrderedReady: wait for this ordinal before touching the next.
                return;
            }
            continue;
        }
        // newVersionedStatefulSetPod: below the partition keep the current revision.
        // (OnDelete recreates at the update revision, as upstream does.)
        let rev = if !on_delete && ordinal < partition {
            current_revision.clone()
        } else {
            update_revision.clone()
        };
        create_claims(r, set, ordinal, out);
        let pod = build_pod(set, ordinal, &rev, template_of(&rev));
        let pod_name = format!("{set_name}-{ordinal}");
        out.push(Write::Create {
            kind: Kind::Pod,
            object: pod,
        });
        out.push(Write::Event(EventSpec::new(
            "Normal",
            "statefulset-controller",
            set_ref.clone(),
            "SuccessfulCreate",
            format!("create Pod {pod_name} in StatefulSet {set_name} successful"),
        )));
        if !parallel {
            return;
        }
    }

    // Scale down: highest ordinal first, one at a time unless Parallel.
    for (o, pod) in pods.iter().rev() {
        if *o < replicas {
            break;
        }
        if is_terminating(&pod.metadata) {
            if !parallel {
                return;
            }
            continue;
        }
        delete_pod(mem, &set_ref, pod, *o, out);
        if !parallel {
            return;
        }
    }

    // Rolling update, reverse ordinal order down to the partition.
    if on_delete {
        return;
    }
    for ordinal in (partition..replicas).rev() {
        let Some(pod) = pods.get(&ordinal) else {
            return;
        };
        if pod_revision(pod) != Some(update_revision.as_str()) && !is_terminating(&pod.metadata) {
            delete_pod(mem, &set_ref, pod, ordinal, out);
            return;
        }
        if !is_running_and_ready(pod) {
            return;
        }
    }
}

fn delete_pod(mem: &mut Memory, set_ref: &ObjRef, pod: &Pod, _ordinal: i32, out: &mut Vec<Write>) {
    let pod_name = name(&pod.metadata).to_owned();
    out.push(Write::Delete {
        target: Target::of(Kind::Pod, &pod.metadata),
        grace_seconds: None,
    });
    say_once(
        mem,
        format!(
            "delete/{pod_name}/{}",
            pod.metadata.uid.as_deref().unwrap_or("")
        ),
        EventSpec::new(
            "Normal",
            "statefulset-controller",
            set_ref.clone(),
            "SuccessfulDelete",
            format!(
                "delete Pod {pod_name} in StatefulSet {} successful",
                set_ref.name
            ),
        ),
        out,
    );
}

/// PVC name for a claim template and ordinal (upstream `getPersistentVolumeClaimName`).
pub(super) fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{set}-{ordinal}")
}

fn create_claims(r: &Round, set: &StatefulSet, ordinal: i32, out: &mut Vec<Write>) {
    let Some(spec) = set.spec.as_ref() else {
        return;
    };
    let set_name = name(&set.metadata);
    for t in spec.volume_claim_templates.iter().flatten() {
        let claim = claim_name(name(&t.metadata), set_name, ordinal);
        if r.world.pvcs.iter().any(|p| name(&p.metadata) == claim) {
            continue;
        }
        let mut labels = t.metadata.labels.clone().unwrap_or_default();
        labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
        out.push(Write::Create {
            kind: Kind::PersistentVolumeClaim,
            object: json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {
                    "name": claim,
                    "namespace": set.metadata.namespace,
                    "labels": labels,
                    "annotations": t.metadata.annotations,
                },
                "spec": to_value(&t.spec),
            }),
        });
    }
}

fn build_pod(set: &StatefulSet, ordinal: i32, revision: &str, template: Value) -> Value {
    let set_name = name(&set.metadata);
    let pod_name = format!("{set_name}-{ordinal}");
    let spec = set.spec.as_ref();
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels[REVISION_LABEL] = json!(revision);
    labels[POD_NAME_LABEL] = json!(pod_name);
    labels[POD_INDEX_LABEL] = json!(ordinal.to_string());
    let mut pod_spec = template
        .get("spec")
        .cloned()
        .unwrap_or_else(|| json!({"containers": []}));
    pod_spec["hostname"] = json!(pod_name);
    if let Some(svc) = spec.and_then(|s| s.service_name.clone()) {
        pod_spec["subdomain"] = json!(svc);
    }
    let templates: Vec<String> = spec
        .and_then(|s| s.volume_claim_templates.as_ref())
        .map(|ts| ts.iter().map(|t| name(&t.metadata).to_owned()).collect())
        .unwrap_or_default();
    if !templates.is_empty() {
        let mut volumes: Vec<Value> = pod_spec
            .get("volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        volumes.retain(|v| {
            !templates
                .iter()
                .any(|t| v.get("name").and_then(Value::as_str) == Some(t))
        });
        for t in &templates {
            volumes.push(json!({
                "name": t,
                "persistentVolumeClaim": {"claimName": claim_name(t, set_name, ordinal)},
            }));
        }
        pod_spec["volumes"] = json!(volumes);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": set.metadata.namespace,
            "labels": labels,
            "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or(Value::Null),
            "ownerReferences": [controller_ref(set)],
        },
        "spec": pod_spec,
    })
}
