//! The instances: the StatefulSet the operator owns, the claims it creates
//! itself (a StatefulSet's claim template is immutable, so replicas added
//! later would get the initial size; the operator creates each claim at the
//! effective size first, and the StatefulSet adopts it by name), and who is
//! primary.

use crate::crd::{CONTAINER, DATA, DATABASE_LABEL, Database, DatabaseStatus, ROLE_LABEL, reason};
use crate::plan::Note;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Resource, ResourceExt};
use serde_json::json;

/// Where the data volume is mounted.
pub const DATA_PATH: &str = "/var/lib/db";

/// The claim of instance `pod` (`data-<database>-<n>`, the StatefulSet's
/// own naming).
pub fn claim_name(pod: &str) -> String {
    format!("{DATA}-{pod}")
}

/// The pod of ordinal `n`.
pub fn pod_name(db: &str, n: i32) -> String {
    format!("{db}-{n}")
}

/// Is the pod Ready?
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Is the pod serving: ready and not being deleted?
pub fn is_serving(pod: &Pod) -> bool {
    is_ready(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// The image the pod's container is running.
pub fn running_image(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER)
        .map(|c| c.image.as_str())
}

/// The StatefulSet a database runs as.
pub fn statefulset(db: &Database) -> StatefulSet {
    let name = db.name_any();
    let labels = json!({ DATABASE_LABEL: name });
    let owner = db
        .controller_owner_ref(&())
        .expect("a stored Database has a uid");
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels, "ownerReferences": [owner] },
        "spec": {
            "replicas": db.spec.instances,
            "serviceName": name,
            "selector": { "matchLabels": labels },
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "containers": [{
                        "name": CONTAINER,
                        "image": db.spec.image,
                        "volumeMounts": [{ "name": DATA, "mountPath": DATA_PATH }],
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": DATA, "labels": labels },
                "spec": claim_spec(db, &db.spec.storage.size),
            }],
        },
    }))
    .expect("the StatefulSet literal is well-formed")
}

/// A claim for instance `pod` at `size`, owned by the database.
pub fn claim(db: &Database, pod: &str, size: &str) -> PersistentVolumeClaim {
    let owner = db
        .controller_owner_ref(&())
        .expect("a stored Database has a uid");
    serde_json::from_value(json!({
        "metadata": {
            "name": claim_name(pod),
            "labels": { DATABASE_LABEL: db.name_any() },
            "ownerReferences": [owner],
        },
        "spec": claim_spec(db, size),
    }))
    .expect("the claim literal is well-formed")
}

/// One instance's claim spec at `size`, in the database's class (the
/// cluster's default when it names none).
fn claim_spec(db: &Database, size: &str) -> serde_json::Value {
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": size } },
    });
    if let Some(class) = &db.spec.storage.storage_class_name {
        spec["storageClassName"] = json!(class);
    }
    spec
}

/// Who is primary after this reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Primary {
    /// The primary (absent until an instance first serves).
    pub name: Option<String>,
    /// Since when it has been gone or not ready (absent: it serves).
    pub unready_since: Option<Time>,
    /// A failover is due or under way.
    pub failing_over: bool,
    /// Events for what changed.
    pub notes: Vec<Note>,
}

/// Keeps or moves the primary: a primary that has not served for `delay`
/// hands over to the lowest serving replica (`never_promote`: the broken
/// operator that never does).
pub fn primary(
    pods: &[Pod],
    status: &DatabaseStatus,
    delay: jiff::SignedDuration,
    now: Timestamp,
    never_promote: bool,
) -> Primary {
    let serving = |name: &str| pods.iter().any(|p| p.name_any() == name && is_serving(p));
    let mut candidates: Vec<&Pod> = pods.iter().filter(|p| is_serving(p)).collect();
    candidates.sort_by_key(|p| ordinal(&p.name_any()));
    let Some(current) = status.current_primary.clone() else {
        // First primary: the lowest instance to serve.
        return Primary {
            name: candidates.first().map(|p| p.name_any()),
            unready_since: None,
            failing_over: false,
            notes: Vec::new(),
        };
    };
    if serving(&current) {
        return Primary {
            name: Some(current),
            unready_since: None,
            failing_over: false,
            notes: Vec::new(),
        };
    }
    let mut notes = Vec::new();
    let since = status.primary_unready_since.clone().unwrap_or_else(|| {
        notes.push(Note {
            warning: true,
            reason: reason::FAILOVER_STARTED,
            message: format!(
                "primary {current} is not ready; a replica is promoted if it is not back within {delay:#}"
            ),
        });
        Time(now)
    });
    let waited = now.duration_since(since.0);
    let replica = candidates.iter().find(|p| p.name_any() != current);
    if waited >= delay
        && !never_promote
        && let Some(replica) = replica
    {
        let promoted = replica.name_any();
        notes.push(Note {
            warning: false,
            reason: reason::FAILOVER_COMPLETED,
            message: format!(
                "promoted {promoted}: primary {current} was not ready for {:#}",
                jiff::SignedDuration::from_secs(waited.as_secs())
            ),
        });
        return Primary {
            name: Some(promoted),
            unready_since: None,
            failing_over: false,
            notes,
        };
    }
    Primary {
        name: Some(current),
        unready_since: Some(since),
        failing_over: true,
        notes,
    }
}

fn ordinal(pod: &str) -> i32 {
    pod.rsplit_once('-')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(i32::MAX)
}

/// The role label each pod should carry, where it differs from what it has.
pub fn relabels<'a>(pods: &'a [Pod], primary: Option<&str>) -> Vec<(&'a Pod, &'static str)> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            let want = if Some(p.name_any().as_str()) == primary {
                "primary"
            } else {
                "replica"
            };
            (p.labels().get(ROLE_LABEL).map(String::as_str) != Some(want)).then_some((p, want))
        })
        .collect()
}

/// The pod's owner is this database's StatefulSet (what a pod list by
/// label could also pick up from a stale copy).
pub fn owned_by(pod: &Pod, set: &str) -> bool {
    pod.owner_references()
        .iter()
        .any(|o| o.kind == StatefulSet::kind(&()) && o.name == set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "status": { "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] },
        }))
        .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_primary_that_stays_away_is_replaced_after_the_delay() {
        let status = DatabaseStatus {
            current_primary: Some("db-0".into()),
            ..DatabaseStatus::default()
        };
        let pods = [pod("db-0", false), pod("db-2", true), pod("db-1", true)];
        let delay = jiff::SignedDuration::from_secs(30);
        let first = primary(&pods, &status, delay, at("2026-11-30T10:00:00Z"), false);
        assert!(first.failing_over);
        assert_eq!(first.notes[0].reason, reason::FAILOVER_STARTED);
        let waiting = DatabaseStatus {
            primary_unready_since: first.unready_since.clone(),
            ..status
        };
        let later = primary(&pods, &waiting, delay, at("2026-11-30T10:00:30Z"), false);
        assert_eq!(later.name.as_deref(), Some("db-1"));
        assert!(!later.failing_over);
        assert_eq!(
            later.notes[0].message,
            "promoted db-1: primary db-0 was not ready for 30s"
        );
        let broken = primary(&pods, &waiting, delay, at("2026-11-30T10:05:00Z"), true);
        assert_eq!(
            (broken.name.as_deref(), broken.failing_over),
            (Some("db-0"), true)
        );
    }

    #[test]
    fn claims_and_the_template_use_the_database_class_or_the_default() {
        let mut db = crate::Database::new(
            "db",
            crate::DatabaseSpec {
                instances: 1,
                image: "db:v1".into(),
                storage: crate::StorageSpec::new("5Gi", "20Gi"),
                failover_delay_seconds: None,
            },
        );
        db.metadata.uid = Some("u".into());
        let class =
            |c: &PersistentVolumeClaim| c.spec.as_ref().and_then(|s| s.storage_class_name.clone());
        assert_eq!(class(&claim(&db, "db-0", "6Gi")), None);
        db.spec.storage.storage_class_name = Some("csi-hostpath".into());
        let made = claim(&db, "db-0", "6Gi");
        assert_eq!(class(&made).as_deref(), Some("csi-hostpath"));
        let set = statefulset(&db);
        let templates = set.spec.unwrap().volume_claim_templates.unwrap();
        assert_eq!(class(&templates[0]).as_deref(), Some("csi-hostpath"));
    }
}
