//! Deployment and ReplicaSet controllers: enough for an operator's own
//! Deployment to roll and report status.
//!
//! After upstream `pkg/controller/deployment` (a ReplicaSet per pod template
//! named `<deployment>-<pod-template-hash>`, `ScalingReplicaSet` events,
//! Available/Progressing conditions with reasons `MinimumReplicasAvailable`,
//! `NewReplicaSetAvailable`, `ReplicaSetUpdated`) and
//! `pkg/controller/replicaset` (`SuccessfulCreate` "Created pod: …",
//! `SuccessfulDelete` "Deleted pod: …"). Simplification: the new ReplicaSet is
//! scaled to the full count at once and old ones shrink as new pods become
//! available (maxSurge 100 %, maxUnavailable 0), which converges to the same
//! end state as any rolling parameters.

use k8s_openapi::api::apps::v1::ReplicaSet;
use serde_json::{Value, json};

use super::kubelet::set_condition;
use super::model::{
    EventSpec, Kind, Memory, ObjRef, Round, Target, Write, controlled_by, controller_ref,
    is_finished, is_running_and_ready, is_terminating, name, short_hash, status_write, to_value,
};

/// Label joining a ReplicaSet and its pods to one template.
pub(super) const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

fn event(obj: ObjRef, reason: &str, message: String, component: &'static str) -> Write {
    Write::Event(EventSpec::new("Normal", component, obj, reason, message))
}

/// One round of the Deployment controller.
pub(super) fn deployments(r: &Round, _mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    for d in &r.world.deployments {
        if r.paused(Kind::Deployment, &d.metadata) || is_terminating(&d.metadata) {
            continue;
        }
        let Some(spec) = d.spec.as_ref() else {
            continue;
        };
        let desired = spec.replicas.unwrap_or(1);
        let hash = short_hash(&to_value(&spec.template));
        let new_name = format!("{}-{hash}", name(&d.metadata));
        let owned: Vec<&ReplicaSet> = r
            .world
            .replicasets
            .iter()
            .filter(|rs| controlled_by(&rs.metadata, d.metadata.uid.as_deref()))
            .collect();
        let new_rs = owned.iter().find(|rs| name(&rs.metadata) == new_name);
        let d_ref = ObjRef::to(d);
        match new_rs {
            None => {
                let mut template = to_value(&spec.template);
                template["metadata"]["labels"][TEMPLATE_HASH_LABEL] = json!(hash);
                let mut selector = to_value(&spec.selector);
                selector["matchLabels"][TEMPLATE_HASH_LABEL] = json!(hash);
                let labels = template["metadata"]["labels"].clone();
                out.push(Write::Create {
                    kind: Kind::ReplicaSet,
                    object: json!({
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "metadata": {
                            "name": new_name,
                            "namespace": d.metadata.namespace,
                            "labels": labels,
                            "ownerReferences": [controller_ref(d)],
                        },
                        "spec": {"replicas": desired, "selector": selector, "template": template},
                    }),
                });
                out.push(event(
                    d_ref.clone(),
                    "ScalingReplicaSet",
                    format!("Scaled up replica set {new_name} from 0 to {desired}"),
                    "deployment-controller",
                ));
            }
            Some(rs) => {
                let have = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
                if have != desired {
                    out.push(Write::Patch {
                        target: Target::of(Kind::ReplicaSet, &rs.metadata),
                        patch: json!({"spec": {"replicas": desired}}),
                    });
                    let verb = if desired > have { "up" } else { "down" };
                    out.push(event(
                        d_ref.clone(),
                        "ScalingReplicaSet",
                        format!("Scaled {verb} replica set {new_name} from {have} to {desired}"),
                        "deployment-controller",
                    ));
                }
            }
        }
        let new_available = new_rs
            .and_then(|rs| rs.status.as_ref())
            .and_then(|s| s.available_replicas)
            .unwrap_or(0);
        let mut budget = (desired - new_available).max(0);
        for rs in owned.iter().filter(|rs| name(&rs.metadata) != new_name) {
            let have = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
            let want = have.min(budget);
            budget -= want;
            if want != have {
                out.push(Write::Patch {
                    target: Target::of(Kind::ReplicaSet, &rs.metadata),
                    patch: json!({"spec": {"replicas": want}}),
                });
                out.push(event(
                    d_ref.clone(),
                    "ScalingReplicaSet",
                    format!(
                        "Scaled down replica set {} from {have} to {want}",
                        name(&rs.metadata)
                    ),
                    "deployment-controller",
                ));
            }
        }

        let sum = |f: fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> Option<i32>| -> i32 {
            owned
                .iter()
                .filter_map(|rs| rs.status.as_ref())
                .map(|s| f(s).unwrap_or(0))
                .sum()
        };
        let replicas = sum(|s| Some(s.replicas));
        let ready = sum(|s| s.ready_replicas);
        let available = sum(|s| s.available_replicas);
        let updated = new_rs
            .and_then(|rs| rs.status.as_ref())
            .map(|s| s.replicas)
            .unwrap_or(0);
        let old = d.status.as_ref().map(to_value);
        let mut status = old.clone().unwrap_or_else(|| json!({}));
        status["observedGeneration"] = json!(d.metadata.generation.unwrap_or(0));
        status["replicas"] = json!(replicas);
        status["updatedReplicas"] = json!(updated);
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(available);
        status["unavailableReplicas"] = json!((desired - available).max(0));
        let ts = r.ts();
        if available >= desired {
            set_condition(
                &mut status,
                old.as_ref(),
                "Available",
                "True",
                Some((
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                )),
                &ts,
            );
        } else {
            set_condition(
                &mut status,
                old.as_ref(),
                "Available",
                "False",
                Some((
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                )),
                &ts,
            );
        }
        let complete = updated == desired && replicas == desired && available >= desired;
        let (reason, message) = if complete {
            (
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            )
        } else {
            (
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{new_name}\" is progressing."),
            )
        };
        set_condition(
            &mut status,
            old.as_ref(),
            "Progressing",
            "True",
            Some((reason, &message)),
            &ts,
        );
        keep_update_time(&mut status, old.as_ref(), &ts);
        out.extend(status_write(
            Target::of(Kind::Deployment, &d.metadata),
            old,
            status,
        ));
    }
    out
}

/// Deployment conditions carry `lastUpdateTime`; keep it when nothing changed.
fn keep_update_time(status: &mut Value, old: Option<&Value>, now: &str) {
    let Some(list) = status.get_mut("conditions").and_then(Value::as_array_mut) else {
        return;
    };
    for c in list {
        let prev = old
            .and_then(|o| o.get("conditions"))
            .and_then(Value::as_array)
            .and_then(|a| a.iter().find(|p| p["type"] == c["type"]));
        let same = prev.is_some_and(|p| {
            p["status"] == c["status"] && p["reason"] == c["reason"] && p["message"] == c["message"]
        });
        c["lastUpdateTime"] = match prev.and_then(|p| p.get("lastUpdateTime")) {
            Some(t) if same => t.clone(),
            _ => json!(now),
        };
    }
}

/// One round of the ReplicaSet controller.
pub(super) fn replicasets(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    for rs in &r.world.replicasets {
        if r.paused(Kind::ReplicaSet, &rs.metadata) || is_terminating(&rs.metadata) {
            continue;
        }
        let Some(spec) = rs.spec.as_ref() else {
            continue;
        };
        let desired = spec.replicas.unwrap_or(1);
        let rs_ref = ObjRef::to(rs);
        let pods: Vec<_> = r
            .world
            .pods
            .iter()
            .filter(|p| {
                controlled_by(&p.metadata, rs.metadata.uid.as_deref())
                    && !is_terminating(&p.metadata)
            })
            .collect();
        for p in pods.iter().filter(|p| is_finished(p)) {
            out.push(Write::Delete {
                target: Target::of(Kind::Pod, &p.metadata),
                grace_seconds: None,
            });
        }
        let live: Vec<_> = pods.iter().filter(|p| !is_finished(p)).collect();
        let have = live.len() as i32;
        if have < desired {
            for _ in have..desired {
                mem.serial += 1;
                let suffix: String = short_hash(&json!([rs.metadata.uid, mem.serial]))
                    .chars()
                    .take(5)
                    .collect();
                let pod_name = format!("{}-{suffix}", name(&rs.metadata));
                let template = to_value(&spec.template);
                out.push(Write::Create {
                    kind: Kind::Pod,
                    object: json!({
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": {
                            "name": pod_name,
                            "namespace": rs.metadata.namespace,
                            "labels": template.pointer("/metadata/labels"),
                            "annotations": template.pointer("/metadata/annotations"),
                            "ownerReferences": [controller_ref(rs)],
                        },
                        "spec": template.get("spec"),
                    }),
                });
                out.push(event(
                    rs_ref.clone(),
                    "SuccessfulCreate",
                    format!("Created pod: {pod_name}"),
                    "replicaset-controller",
                ));
            }
        } else if have > desired {
            // Not-ready pods go first, then the newest names (upstream ranks by
            // readiness, then age).
            let mut victims: Vec<_> = live.clone();
            victims.sort_by_key(|p| {
                (
                    is_running_and_ready(p),
                    std::cmp::Reverse(name(&p.metadata).to_owned()),
                )
            });
            for p in victims.into_iter().take((have - desired) as usize) {
                out.push(Write::Delete {
                    target: Target::of(Kind::Pod, &p.metadata),
                    grace_seconds: None,
                });
                out.push(event(
                    rs_ref.clone(),
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", name(&p.metadata)),
                    "replicaset-controller",
                ));
            }
        }
        let ready = live.iter().filter(|p| is_running_and_ready(p)).count() as i32;
        let old = rs.status.as_ref().map(to_value);
        let status = json!({
            "replicas": have,
            "fullyLabeledReplicas": have,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs.metadata.generation.unwrap_or(0),
        });
        out.extend(status_write(
            Target::of(Kind::ReplicaSet, &rs.metadata),
            old,
            status,
        ));
    }
    out
}
