//! Unit tests of the pure controllers, driven round by round through [`Sim`].

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::json;

use super::model::{Kind, is_running_and_ready, pod_condition};
use super::sim::{Sim, statefulset};
use super::statefulset::REVISION_LABEL;

const MINUTE: Duration = Duration::from_secs(60);

fn sts(sim: &Sim, name: &str) -> StatefulSet {
    sim.typed(Kind::StatefulSet, name)
}

fn pod(sim: &Sim, name: &str) -> Pod {
    sim.typed(Kind::Pod, name)
}

fn ready_replicas(sim: &Sim, name: &str) -> i32 {
    sts(sim, name)
        .status
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

fn revision(p: &Pod) -> String {
    p.metadata.labels.as_ref().unwrap()[REVISION_LABEL].clone()
}

fn converged(sim: &Sim, name: &str, replicas: i32) -> bool {
    let s = sts(sim, name);
    let st = s.status.unwrap_or_default();
    st.ready_replicas == Some(replicas)
        && st.updated_replicas == Some(replicas)
        && st.current_revision == st.update_revision
        && st.observed_generation == s.metadata.generation
}

#[test]
fn statefulset_becomes_ready_in_ordinal_order() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 3, "db:v1"));
    // Watch creation order: pod N only appears once pod N-1 is Ready.
    let mut seen = Vec::new();
    let ok = sim.run_until(MINUTE, |s| {
        for n in s.names(Kind::Pod) {
            if !seen.contains(&n) {
                if let Some(prev) = n
                    .strip_prefix("db-")
                    .and_then(|o| o.parse::<i32>().ok())
                    .filter(|o| *o > 0)
                {
                    assert!(
                        is_running_and_ready(&pod(s, &format!("db-{}", prev - 1))),
                        "{n} created before db-{} was Ready",
                        prev - 1
                    );
                }
                seen.push(n);
            }
        }
        converged(s, "db", 3)
    });
    assert!(
        ok,
        "statefulset did not converge: {:?}",
        sts(&sim, "db").status
    );
    assert_eq!(seen, ["db-0", "db-1", "db-2"]);

    let s = sts(&sim, "db");
    let st = s.status.unwrap();
    assert_eq!(
        (st.replicas, st.available_replicas, st.current_replicas),
        (3, Some(3), Some(3))
    );
    assert_eq!(st.observed_generation, Some(1));
    assert!(st.current_revision.as_deref().unwrap().starts_with("db-"));
    assert_eq!(
        sim.names(Kind::ControllerRevision),
        [st.update_revision.clone().unwrap()]
    );

    let p = pod(&sim, "db-1");
    assert_eq!(revision(&p), st.update_revision.clone().unwrap());
    let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("StatefulSet", "db", Some(true))
    );
    let spec = p.spec.as_ref().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("db-1"));
    let claim = spec
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "data")
        .unwrap();
    assert_eq!(
        claim.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-db-1"
    );
    let status = p.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    let cs = &status.container_statuses.unwrap()[0];
    assert_eq!(
        (cs.image.as_str(), cs.ready, cs.restart_count),
        ("db:v1", true, 0)
    );
    assert!(cs.state.as_ref().unwrap().running.is_some());

    // PVCs bound to provisioned PVs.
    for i in 0..3 {
        let pvc: PersistentVolumeClaim =
            sim.typed(Kind::PersistentVolumeClaim, &format!("data-db-{i}"));
        assert_eq!(pvc.status.unwrap().phase.as_deref(), Some("Bound"));
        assert!(pvc.spec.unwrap().volume_name.unwrap().starts_with("pvc-"));
    }
    assert_eq!(sim.names(Kind::PersistentVolume).len(), 3);
    // Events as the real components record them.
    assert_eq!(
        sim.reasons("db-0"),
        // The CSI volume is attached before the kubelet pulls and starts.
        [
            "Scheduled",
            "SuccessfulAttachVolume",
            "Pulling",
            "Pulled",
            "Created",
            "Started"
        ]
    );
    assert_eq!(
        sim.reasons("db")
            .iter()
            .filter(|r| *r == "SuccessfulCreate")
            .count(),
        3
    );
}

#[test]
fn idle_world_writes_nothing() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 2, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 2)));
    sim.tick();
    assert_eq!(sim.tick(), vec![], "a converged world must not churn");
}

#[test]
fn image_change_rolls_pods_in_reverse_ordinal_order() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 3, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    let old_rev = sts(&sim, "db").status.unwrap().current_revision.unwrap();
    sim.deletions.clear();

    sim.patch(Kind::StatefulSet, "db", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:v2"}]}}}}));
    // Mid-roll the status says "updating": current and update revisions differ.
    sim.tick();
    let st = sts(&sim, "db").status.unwrap();
    assert_eq!(st.current_revision.as_deref(), Some(old_rev.as_str()));
    assert_ne!(st.update_revision, st.current_revision);
    assert_eq!(st.observed_generation, Some(2));

    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    let rolled: Vec<_> = sim
        .deletions
        .iter()
        .filter(|n| n.starts_with("db-"))
        .cloned()
        .collect();
    assert_eq!(rolled, ["db-2", "db-1", "db-0"]);
    let st = sts(&sim, "db").status.unwrap();
    assert_ne!(st.current_revision.as_deref(), Some(old_rev.as_str()));
    for i in 0..3 {
        let p = pod(&sim, &format!("db-{i}"));
        assert_eq!(revision(&p), st.update_revision.clone().unwrap());
        assert_eq!(
            p.status.unwrap().container_statuses.unwrap()[0].image,
            "db:v2"
        );
    }
    assert_eq!(sim.names(Kind::ControllerRevision).len(), 2);
}

#[test]
fn partition_keeps_lower_ordinals_and_current_revision() {
    let mut sim = Sim::new();
    let mut set = statefulset("db", 3, "db:v1");
    set["spec"]["updateStrategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
    sim.create(Kind::StatefulSet, set);
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    sim.patch(Kind::StatefulSet, "db", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:v2"}]}}}}));
    assert!(
        sim.run_until(MINUTE, |s| sts(s, "db").status.unwrap().updated_replicas
            == Some(1)
            && ready_replicas(s, "db") == 3)
    );
    sim.run_until(Duration::from_secs(10), |_| false);
    let st = sts(&sim, "db").status.unwrap();
    assert_eq!(
        (st.updated_replicas, st.current_replicas),
        (Some(1), Some(2))
    );
    assert_ne!(st.current_revision, st.update_revision);
    assert_eq!(revision(&pod(&sim, "db-2")), st.update_revision.unwrap());
    assert_eq!(
        revision(&pod(&sim, "db-0")),
        st.current_revision.clone().unwrap()
    );
    assert_eq!(
        pod(&sim, "db-0").spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("db:v1")
    );
}

#[test]
fn on_delete_waits_for_the_user() {
    let mut sim = Sim::new();
    let mut set = statefulset("db", 2, "db:v1");
    set["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    sim.create(Kind::StatefulSet, set);
    assert!(sim.run_until(MINUTE, |s| ready_replicas(s, "db") == 2));
    sim.patch(Kind::StatefulSet, "db", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:v2"}]}}}}));
    sim.run_until(Duration::from_secs(20), |_| false);
    assert_eq!(sts(&sim, "db").status.unwrap().updated_replicas, Some(0));
    let old_uid = pod(&sim, "db-1").metadata.uid;
    sim.delete(Kind::Pod, "db-1");
    assert!(
        sim.run_until(MINUTE, |s| s.get(Kind::Pod, "db-1").is_some_and(|_| pod(
            s, "db-1"
        )
        .metadata
        .uid
            != old_uid
            && is_running_and_ready(&pod(s, "db-1"))))
    );
    assert_eq!(
        pod(&sim, "db-1").spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("db:v2")
    );
    assert_eq!(
        pod(&sim, "db-0").spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("db:v1")
    );
}

#[test]
fn pause_holds_everything_and_resume_catches_up() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 3, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    sim.pauses.all = true;
    sim.patch(Kind::StatefulSet, "db", json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "db:v2"}]}}}}));
    let before = sim.get(Kind::StatefulSet, "db").cloned();
    sim.writes.clear();
    sim.run_until(Duration::from_secs(30), |_| false);
    assert!(sim.writes.is_empty(), "paused faker wrote {:?}", sim.writes);
    assert_eq!(sim.get(Kind::StatefulSet, "db").cloned(), before);
    sim.pauses = Default::default();
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
}

#[test]
fn pause_by_kind_and_selector_is_scoped() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("a", 1, "x:v1"));
    sim.create(Kind::StatefulSet, statefulset("b", 1, "x:v1"));
    sim.pauses
        .scoped
        .push((Some(Kind::Pod), super::rules::parse_selector("app=a")));
    assert!(sim.run_until(MINUTE, |s| ready_replicas(s, "b") == 1));
    // a-0 exists but nothing (scheduler, kubelet) touched it.
    assert!(pod(&sim, "a-0").spec.unwrap().node_name.is_none());
    assert!(pod(&sim, "a-0").status.is_none());
    sim.pauses.scoped.clear();
    assert!(sim.run_until(MINUTE, |s| ready_replicas(s, "a") == 1));
}

#[test]
fn image_pull_failure_shows_err_image_pull_then_back_off() {
    let mut sim = Sim::new();
    sim.rules
        .pull_failures
        .push(super::Pattern::new("db:broken*"));
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:broken-1"));
    let waiting = |s: &Sim| {
        s.get(Kind::Pod, "db-0").and_then(|_| {
            pod(s, "db-0").status?.container_statuses?[0]
                .state
                .as_ref()?
                .waiting
                .as_ref()?
                .reason
                .clone()
        })
    };
    assert!(sim.run_until(MINUTE, |s| waiting(s).as_deref() == Some("ErrImagePull")));
    assert_eq!(
        pod(&sim, "db-0").status.unwrap().phase.as_deref(),
        Some("Pending")
    );
    assert!(sim.run_until(MINUTE, |s| waiting(s).as_deref()
        == Some("ImagePullBackOff")));
    let msgs: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.regarding.name == "db-0")
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    assert!(
        msgs.contains(&("Failed", "Error: ErrImagePull")),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&("BackOff", "Back-off pulling image \"db:broken-1\"")),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&("Failed", "Error: ImagePullBackOff")),
        "{msgs:?}"
    );
    assert!(!msgs.iter().any(|(r, _)| *r == "Started"));
    let st = sts(&sim, "db").status.unwrap();
    assert_eq!((st.replicas, st.ready_replicas), (1, Some(0)));
}

#[test]
fn crash_loop_counts_restarts() {
    let mut sim = Sim::new();
    sim.rules.crash_loops.push(super::Pattern::new("*:crash"));
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:crash"));
    assert!(sim.run_until(MINUTE, |s| {
        s.get(Kind::Pod, "db-0").is_some_and(|_| {
            pod(s, "db-0")
                .status
                .and_then(|st| st.container_statuses)
                .is_some_and(|cs| cs[0].restart_count >= 2)
        })
    }));
    let cs = pod(&sim, "db-0")
        .status
        .unwrap()
        .container_statuses
        .unwrap()
        .remove(0);
    assert!(!cs.ready);
    assert_eq!(cs.last_state.unwrap().terminated.unwrap().exit_code, 1);
    assert!(sim.reasons("db-0").contains(&"BackOff".to_string()));
    assert_eq!(ready_replicas(&sim, "db"), 0);
}

#[test]
fn unbindable_pvc_stays_pending_and_blocks_scheduling() {
    let mut sim = Sim::new();
    let mut set = statefulset("db", 1, "db:v1");
    set["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] = json!("slow-ssd");
    sim.rules.unbound_pvcs.push(super::Pattern::new("slow-ssd"));
    sim.create(Kind::StatefulSet, set);
    sim.run_until(Duration::from_secs(30), |_| false);
    let pvc: PersistentVolumeClaim = sim.typed(Kind::PersistentVolumeClaim, "data-db-0");
    assert_eq!(pvc.status.unwrap().phase.as_deref(), Some("Pending"));
    let failed: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.reason == "ProvisioningFailed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .message
            .starts_with("failed to provision volume with StorageClass \"slow-ssd\"")
    );
    let p = pod(&sim, "db-0");
    assert!(p.spec.unwrap().node_name.is_none());
    assert_eq!(
        pod_condition(&pod(&sim, "db-0"), "PodScheduled"),
        Some("False")
    );
    let fs: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.reason == "FailedScheduling")
        .collect();
    assert!(
        fs[0]
            .message
            .contains("pod has unbound immediate PersistentVolumeClaims"),
        "{}",
        fs[0].message
    );
    assert!(sim.names(Kind::PersistentVolume).is_empty());
}

#[test]
fn slow_readiness_delays_ready() {
    let mut sim = Sim::new();
    sim.rules.slow_readiness.push((
        super::rules::parse_selector("app=db"),
        Duration::from_secs(20),
    ));
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:v1"));
    assert!(
        sim.run_until(MINUTE, |s| s.get(Kind::Pod, "db-0").is_some_and(|_| pod(
            s, "db-0"
        )
        .status
        .and_then(|s| s.phase)
            == Some("Running".into())))
    );
    let running_at = sim.now;
    assert!(sim.run_until(MINUTE, |s| ready_replicas(s, "db") == 1));
    assert!(sim.now.duration_since(running_at) >= Duration::from_secs(20));
}

#[test]
fn node_not_ready_marks_node_and_its_pods() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 3, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    let node = pod(&sim, "db-0").spec.unwrap().node_name.unwrap();
    sim.rules.not_ready_nodes.insert(node.clone());
    sim.tick();
    sim.tick();
    let n: Node = sim.typed(Kind::Node, &node);
    let ready = n
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("Unknown", Some("NodeStatusUnknown"))
    );
    assert!(
        n.spec
            .unwrap()
            .taints
            .unwrap()
            .iter()
            .any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoSchedule")
    );
    assert_eq!(pod_condition(&pod(&sim, "db-0"), "Ready"), Some("False"));
    assert_eq!(ready_replicas(&sim, "db"), 2);
    // A pod deleted on the dead node stays Terminating (no kubelet to confirm).
    sim.delete(Kind::Pod, "db-0");
    sim.run_until(Duration::from_secs(60), |_| false);
    assert!(pod(&sim, "db-0").metadata.deletion_timestamp.is_some());
    // Node back: the pod finishes terminating and is replaced.
    sim.rules.not_ready_nodes.clear();
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
}

#[test]
fn pdb_status_follows_healthy_pods() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 3, "db:v1"));
    sim.create(
        Kind::PodDisruptionBudget,
        json!({
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "db"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "db"}}},
        }),
    );
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    sim.tick();
    let pdb: PodDisruptionBudget = sim.typed(Kind::PodDisruptionBudget, "db");
    let st = pdb.status.unwrap();
    assert_eq!(
        (
            st.expected_pods,
            st.current_healthy,
            st.desired_healthy,
            st.disruptions_allowed
        ),
        (3, 3, 3, 0)
    );
    sim.patch(
        Kind::PodDisruptionBudget,
        "db",
        json!({"spec": {"minAvailable": "50%"}}),
    );
    sim.tick();
    let pdb: PodDisruptionBudget = sim.typed(Kind::PodDisruptionBudget, "db");
    assert_eq!(pdb.status.unwrap().disruptions_allowed, 1);
}

#[test]
fn deleted_pod_terminates_within_grace_and_comes_back_with_new_uid() {
    let mut sim = Sim::new();
    let mut set = statefulset("db", 1, "db:v1");
    set["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(30);
    sim.create(Kind::StatefulSet, set);
    sim.rules
        .ignore_sigterm
        .push(super::rules::parse_selector("app=db"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    let old_uid = pod(&sim, "db-0").metadata.uid.unwrap();
    sim.delete(Kind::Pod, "db-0");
    let deleted_at = sim.now;
    assert!(
        sim.run_until(MINUTE, |s| s.get(Kind::Pod, "db-0").is_none_or(|_| pod(
            s, "db-0"
        )
        .metadata
        .uid
        .as_deref()
            != Some(old_uid.as_str())))
    );
    let took = sim.now.duration_since(deleted_at);
    assert!(
        took >= Duration::from_secs(30) && took <= Duration::from_millis(30_200),
        "terminated after {took:?}"
    );
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    assert_ne!(pod(&sim, "db-0").metadata.uid.unwrap(), old_uid);
    assert!(sim.reasons("db-0").contains(&"Killing".to_string()));
}

#[test]
fn prestop_outliving_grace_reports_failed_prestop_hook() {
    let mut sim = Sim::new();
    let mut set = statefulset("etcd", 1, "etcd:v1");
    set["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = json!(5);
    set["spec"]["template"]["spec"]["containers"][0]["lifecycle"] =
        json!({"preStop": {"exec": {"command": ["sleep", "30"]}}});
    sim.create(Kind::StatefulSet, set);
    sim.rules.prestop.push((
        super::rules::parse_selector("app=etcd"),
        Duration::from_secs(30),
    ));
    assert!(sim.run_until(MINUTE, |s| converged(s, "etcd", 1)));
    sim.delete(Kind::Pod, "etcd-0");
    let t0 = sim.now;
    assert!(sim.run_until(MINUTE, |s| {
        s.events.iter().any(|e| e.reason == "FailedPreStopHook")
    }));
    // Reported in the last rounds of the 5 s grace period, never early.
    let round = sim.rules.timings.round;
    let reported = sim.now.duration_since(t0);
    assert!(
        reported >= Duration::from_secs(5) - round * 2 && reported <= Duration::from_secs(5),
        "FailedPreStopHook after {reported:?}"
    );
    let ev = sim
        .events
        .iter()
        .find(|e| e.reason == "FailedPreStopHook")
        .unwrap();
    assert_eq!(ev.type_, "Warning");
    assert!(ev.message.contains("exited with 137"), "{}", ev.message);
}

#[test]
fn expansion_follows_request() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    sim.patch(
        Kind::PersistentVolumeClaim,
        "data-db-0",
        json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}}),
    );
    sim.tick();
    let pvc: PersistentVolumeClaim = sim.typed(Kind::PersistentVolumeClaim, "data-db-0");
    let st = pvc.status.unwrap();
    assert_eq!(st.capacity.unwrap()["storage"].0, "1Gi");
    assert_eq!(st.conditions.unwrap()[0].type_, "Resizing");
    assert_eq!(st.allocated_resources.unwrap()["storage"].0, "2Gi");
    assert!(sim.run_until(MINUTE, |s| {
        let pvc: PersistentVolumeClaim = s.typed(Kind::PersistentVolumeClaim, "data-db-0");
        pvc.status.unwrap().capacity.unwrap()["storage"].0 == "2Gi"
    }));
    sim.tick();
    let pvc: PersistentVolumeClaim = sim.typed(Kind::PersistentVolumeClaim, "data-db-0");
    assert!(
        pvc.status
            .unwrap()
            .conditions
            .unwrap_or_default()
            .is_empty()
    );
    let reasons = sim.reasons("data-db-0");
    for r in [
        "ExternalExpanding",
        "Resizing",
        "FileSystemResizeRequired",
        "FileSystemResizeSuccessful",
    ] {
        assert!(
            reasons.contains(&r.to_string()),
            "{r} missing from {reasons:?}"
        );
    }
}

#[test]
fn deployment_rolls_to_new_replicaset() {
    let mut sim = Sim::new();
    sim.create(Kind::Deployment, json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "op"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "op"}},
                 "template": {"metadata": {"labels": {"app": "op"}}, "spec": {"containers": [{"name": "op", "image": "op:v1"}]}}},
    }));
    let available = |s: &Sim, n: i32| {
        let d: Deployment = s.typed(Kind::Deployment, "op");
        let st = d.status.unwrap_or_default();
        st.available_replicas == Some(n)
            && st.updated_replicas == Some(n)
            && st.replicas == Some(n)
            && st.observed_generation == d.metadata.generation
    };
    assert!(sim.run_until(MINUTE, |s| available(s, 2)));
    assert_eq!(sim.names(Kind::ReplicaSet).len(), 1);
    sim.patch(
        Kind::Deployment,
        "op",
        json!({"spec": {"template": {"spec": {"containers": [{"name": "op", "image": "op:v2"}]}}}}),
    );
    sim.tick();
    assert!(sim.run_until(MINUTE, |s| available(s, 2)));
    let images: Vec<_> = sim
        .names(Kind::Pod)
        .iter()
        .map(|n| pod(&sim, n))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.spec.unwrap().containers[0].image.clone().unwrap())
        .collect();
    assert_eq!(images, ["op:v2", "op:v2"]);
    let d: Deployment = sim.typed(Kind::Deployment, "op");
    let prog = d
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(prog.reason.as_deref(), Some("NewReplicaSetAvailable"));
    assert!(sim.reasons("op").iter().any(|r| r == "ScalingReplicaSet"));
}

#[test]
fn scale_down_removes_the_highest_ordinal_first() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 3, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 3)));
    sim.deletions.clear();
    sim.patch(Kind::StatefulSet, "db", json!({"spec": {"replicas": 1}}));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)
        && s.names(Kind::Pod) == ["db-0"]));
    // (their volumes' attachments go too: db-2's is released before db-1 is deleted)
    let pods: Vec<&String> = sim
        .deletions
        .iter()
        .filter(|n| n.starts_with("db-"))
        .collect();
    assert_eq!(pods, ["db-2", "db-1"]);
    // Claims are retained, as with the default persistentVolumeClaimRetentionPolicy.
    assert_eq!(sim.names(Kind::PersistentVolumeClaim).len(), 3);
}

#[test]
fn parallel_policy_creates_all_pods_at_once() {
    let mut sim = Sim::new();
    let mut set = statefulset("db", 3, "db:v1");
    set["spec"]["podManagementPolicy"] = json!("Parallel");
    sim.create(Kind::StatefulSet, set);
    sim.tick();
    sim.tick();
    assert_eq!(sim.names(Kind::Pod), ["db-0", "db-1", "db-2"]);
}

fn attachments(sim: &Sim) -> Vec<(String, String, bool, bool)> {
    sim.names(Kind::VolumeAttachment)
        .iter()
        .map(|n| {
            let va: k8s_openapi::api::storage::v1::VolumeAttachment =
                sim.typed(Kind::VolumeAttachment, n);
            (
                va.spec.source.persistent_volume_name.unwrap_or_default(),
                va.spec.node_name,
                va.status.is_some_and(|s| s.attached),
                va.metadata.deletion_timestamp.is_some(),
            )
        })
        .collect()
}

#[test]
fn csi_volume_is_attached_before_containers_start() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    let p = pod(&sim, "db-0");
    let node = p.spec.unwrap().node_name.unwrap();
    let pv = sim
        .typed::<PersistentVolumeClaim>(Kind::PersistentVolumeClaim, "data-db-0")
        .spec
        .unwrap()
        .volume_name
        .unwrap();
    assert_eq!(attachments(&sim), vec![(pv, node, true, false)]);
    let reasons = sim.reasons("db-0");
    let at = |r: &str| reasons.iter().position(|x| x == r).unwrap();
    assert!(at("SuccessfulAttachVolume") < at("Started"), "{reasons:?}");
    // A finalizer guards the detach, as the external-attacher's does.
    let va: k8s_openapi::api::storage::v1::VolumeAttachment = sim.typed(
        Kind::VolumeAttachment,
        &sim.names(Kind::VolumeAttachment)[0],
    );
    assert_eq!(
        va.metadata.finalizers.unwrap(),
        vec!["external-attacher/faker.csi.kube-harness.io".to_string()]
    );
}

#[test]
fn pod_moved_to_another_node_detaches_then_attaches_its_volume() {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    let old_node = pod(&sim, "db-0").spec.unwrap().node_name.unwrap();
    sim.patch(
        Kind::Node,
        &old_node,
        json!({"spec": {"unschedulable": true}}),
    );
    sim.delete(Kind::Pod, "db-0");
    let mut saw_detaching = false;
    let moved = sim.run_until(MINUTE, |s| {
        saw_detaching |= attachments(s).iter().any(|a| a.1 == old_node && a.3);
        converged(s, "db", 1)
            && pod(s, "db-0").spec.unwrap().node_name.as_deref() != Some(old_node.as_str())
    });
    assert!(moved, "db-0 never came back on another node");
    assert!(
        saw_detaching,
        "the old attachment never showed a detach in flight"
    );
    let now = attachments(&sim);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0].1, old_node);
    assert!(now[0].2, "{now:?}");
    // While the old node still held the ReadWriteOnce volume, the new pod was
    // told why it waits (seed 004's attach conflict).
    let evs: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.regarding.name == "db-0")
        .map(|e| (e.reason.as_str(), e.message.as_str()))
        .collect();
    let multi = evs
        .iter()
        .find(|(r, _)| *r == "FailedAttachVolume")
        .expect("a Multi-Attach error while the old node held the volume");
    assert!(
        multi.1.starts_with("Multi-Attach error for volume \"pvc-"),
        "{multi:?}"
    );
    let attached = evs
        .iter()
        .filter(|(r, _)| *r == "SuccessfulAttachVolume")
        .count();
    assert_eq!(attached, 2, "once per pod (old and new uid): {evs:?}");
}

#[test]
fn attach_controller_off_leaves_pods_unblocked() {
    let mut sim = Sim::new();
    sim.enabled.remove(&Kind::VolumeAttachment);
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    assert!(sim.names(Kind::VolumeAttachment).is_empty());
}

fn backup_job(name: &str, backoff_limit: i32) -> serde_json::Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit,
                 "template": {"metadata": {"labels": {"app": "backup"}},
                              "spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "backup", "image": "db:v1"}]}}},
    })
}

fn job(sim: &Sim, name: &str) -> k8s_openapi::api::batch::v1::Job {
    sim.typed(Kind::Job, name)
}

fn job_done(sim: &Sim, name: &str, type_: &str) -> bool {
    job(sim, name)
        .status
        .and_then(|s| s.conditions)
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

fn job_pods(sim: &Sim, job: &str) -> Vec<Pod> {
    sim.names(Kind::Pod)
        .iter()
        .map(|n| pod(sim, n))
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("job-name"))
                .map(String::as_str)
                == Some(job)
        })
        .collect()
}

#[test]
fn a_job_runs_its_pod_to_completion() {
    let mut sim = Sim::new();
    sim.create(Kind::Job, backup_job("backup-nightly", 6));
    assert!(sim.run_until(MINUTE, |s| job_done(s, "backup-nightly", "Complete")));
    let st = job(&sim, "backup-nightly").status.unwrap();
    assert_eq!(
        (st.succeeded, st.failed, st.active),
        (Some(1), Some(0), Some(0))
    );
    assert!(st.start_time.is_some() && st.completion_time.is_some());
    let types: Vec<String> = st
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| c.type_)
        .collect();
    assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
    let pods = job_pods(&sim, "backup-nightly");
    assert_eq!(pods.len(), 1);
    let p = &pods[0];
    assert_eq!(
        p.status.as_ref().unwrap().phase.as_deref(),
        Some("Succeeded")
    );
    let terminated = p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .clone()
        .unwrap();
    assert_eq!(
        (terminated.exit_code, terminated.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert_eq!(pod_condition(p, "Ready"), Some("False"));
    let reasons = sim.reasons("backup-nightly");
    assert_eq!(reasons, ["SuccessfulCreate", "Completed"], "{reasons:?}");
}

#[test]
fn failed_job_pods_are_replaced_until_the_backoff_limit() {
    let mut sim = Sim::new();
    sim.rules
        .failing_jobs
        .push((super::rules::Pattern::new("backup-*"), 2));
    sim.create(Kind::Job, backup_job("backup-a", 6));
    // Two failures (10 s, then 20 s of back-off), then a success.
    assert!(sim.run_until(3 * MINUTE, |s| job_done(s, "backup-a", "Complete")));
    let st = job(&sim, "backup-a").status.unwrap();
    assert_eq!((st.succeeded, st.failed), (Some(1), Some(2)));
    assert_eq!(job_pods(&sim, "backup-a").len(), 3);

    // A limit of 1 gives up on the second failure.
    sim.create(Kind::Job, backup_job("backup-b", 1));
    assert!(sim.run_until(3 * MINUTE, |s| job_done(s, "backup-b", "Failed")));
    let st = job(&sim, "backup-b").status.unwrap();
    assert_eq!(st.failed, Some(2));
    let failed = st
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failed")
        .unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    assert!(
        sim.reasons("backup-b")
            .contains(&"BackoffLimitExceeded".to_string())
    );
}

#[test]
fn a_hung_job_never_finishes() {
    let mut sim = Sim::new();
    sim.rules
        .hung_jobs
        .push(super::rules::Pattern::new("backup-*"));
    sim.create(Kind::Job, backup_job("backup-hung", 6));
    assert!(!sim.run_until(10 * MINUTE, |s| {
        job_done(s, "backup-hung", "Complete") || job_done(s, "backup-hung", "Failed")
    }));
    let st = job(&sim, "backup-hung").status.unwrap();
    assert_eq!((st.active, st.ready), (Some(1), Some(1)));
}

fn claim_capacity(sim: &Sim, name: &str) -> String {
    let pvc: PersistentVolumeClaim = sim.typed(Kind::PersistentVolumeClaim, name);
    pvc.status
        .and_then(|s| s.capacity)
        .and_then(|c| c.get("storage").map(|q| q.0.clone()))
        .unwrap_or_default()
}

fn grow(sim: &mut Sim, name: &str, to: &str) {
    sim.patch(
        Kind::PersistentVolumeClaim,
        name,
        json!({"spec": {"resources": {"requests": {"storage": to}}}}),
    );
}

/// A bound claim of a one-pod StatefulSet "db" at 1Gi.
fn one_claim() -> Sim {
    let mut sim = Sim::new();
    sim.create(Kind::StatefulSet, statefulset("db", 1, "db:v1"));
    assert!(sim.run_until(MINUTE, |s| converged(s, "db", 1)));
    sim
}

#[test]
fn a_failing_resize_is_reported_and_retried_once_lifted() {
    let mut sim = one_claim();
    sim.rules
        .resize_failures
        .push(super::rules::Pattern::new("data-*"));
    grow(&mut sim, "data-db-0", "2Gi");
    assert!(!sim.run_until(MINUTE, |s| claim_capacity(s, "data-db-0") == "2Gi"));
    let pvc: PersistentVolumeClaim = sim.typed(Kind::PersistentVolumeClaim, "data-db-0");
    let error = pvc
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "ControllerResizeError")
        .unwrap();
    let pv = pvc.spec.unwrap().volume_name.unwrap();
    let message = error.message.unwrap();
    assert!(
        message.starts_with(&format!("resize volume \"{pv}\" by resizer \"faker.csi.kube-harness.io\" failed: rpc error: code = Internal")),
        "{message}"
    );
    let failed: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.reason == "VolumeResizeFailed")
        .collect();
    assert_eq!(failed.len(), 1, "said once per requested size");
    assert_eq!(failed[0].type_, "Warning");
    sim.rules.resize_failures.clear();
    assert!(sim.run_until(MINUTE, |s| claim_capacity(s, "data-db-0") == "2Gi"));
}

#[test]
fn a_second_resize_within_the_cooldown_fails_until_it_passes() {
    let mut sim = one_claim();
    sim.rules.resize_cooldown = Some(Duration::from_secs(6 * 3600));
    grow(&mut sim, "data-db-0", "2Gi");
    assert!(sim.run_until(MINUTE, |s| claim_capacity(s, "data-db-0") == "2Gi"));
    grow(&mut sim, "data-db-0", "3Gi");
    assert!(!sim.run_until(10 * MINUTE, |s| claim_capacity(s, "data-db-0") == "3Gi"));
    let failed = sim
        .events
        .iter()
        .find(|e| e.reason == "VolumeResizeFailed")
        .unwrap();
    assert!(
        failed.message.contains(
            "volume modification rate exceeded: one modification per volume every 21600s"
        ),
        "{}",
        failed.message
    );
    // Six hours after the first expansion the same request goes through.
    sim.rules.timings.round = Duration::from_secs(60);
    assert!(sim.run_until(6 * 60 * MINUTE, |s| claim_capacity(s, "data-db-0") == "3Gi"));
}

#[test]
fn a_slow_resize_takes_its_time() {
    let mut sim = one_claim();
    sim.rules
        .slow_resizes
        .push((super::rules::Pattern::new("data-db-0"), 5 * MINUTE));
    grow(&mut sim, "data-db-0", "2Gi");
    assert!(!sim.run_until(4 * MINUTE, |s| claim_capacity(s, "data-db-0") == "2Gi"));
    assert!(sim.run_until(2 * MINUTE, |s| claim_capacity(s, "data-db-0") == "2Gi"));
}

#[test]
fn a_block_volume_is_done_by_the_resizer_alone() {
    let mut sim = Sim::new();
    sim.create(
        Kind::PersistentVolumeClaim,
        json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "raw"},
            "spec": {"volumeMode": "Block", "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}},
        }),
    );
    assert!(sim.run_until(MINUTE, |s| claim_capacity(s, "raw") == "1Gi"));
    grow(&mut sim, "raw", "2Gi");
    assert!(sim.run_until(MINUTE, |s| claim_capacity(s, "raw") == "2Gi"));
    let reasons = sim.reasons("raw");
    assert!(
        reasons.contains(&"VolumeResizeSuccessful".to_string()),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|r| r.starts_with("FileSystemResize")),
        "{reasons:?}"
    );
}
