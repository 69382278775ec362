//! The vocabulary shared by the per-kind controllers: what they read (a
//! [`World`] snapshot), what they remember between rounds ([`Memory`]) and
//! what they ask the driver to do ([`Write`]).
//!
//! Controllers are pure functions of `(world, rules, memory, now)`, so unit
//! tests can drive them round by round without any API server.

use kube_harness_apiserver::selectors::LabelSelector;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::core::ApiResource;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::rules::Rules;

/// The kinds the faker reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 ControllerRevision.
    ControllerRevision,
    /// v1 Pod (kubelet and scheduler writes).
    Pod,
    /// v1 PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// v1 PersistentVolume (cluster-scoped).
    PersistentVolume,
    /// v1 Node (cluster-scoped).
    Node,
    /// policy/v1 PodDisruptionBudget.
    PodDisruptionBudget,
    /// v1 Event.
    Event,
    /// storage.k8s.io/v1 VolumeAttachment (cluster-scoped).
    VolumeAttachment,
    /// batch/v1 Job.
    Job,
}

impl Kind {
    /// Every kind, in the order the driver lists them.
    pub const ALL: [Kind; 12] = [
        Kind::StatefulSet,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::ControllerRevision,
        Kind::Pod,
        Kind::PersistentVolumeClaim,
        Kind::PersistentVolume,
        Kind::Node,
        Kind::PodDisruptionBudget,
        Kind::Event,
        Kind::VolumeAttachment,
        Kind::Job,
    ];

    /// The REST coordinates used by the driver's dynamic client.
    pub fn api_resource(self) -> ApiResource {
        use k8s_openapi::api::core::v1::Event;
        use k8s_openapi::api::storage::v1::VolumeAttachment;
        match self {
            Kind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
            Kind::Deployment => ApiResource::erase::<Deployment>(&()),
            Kind::ReplicaSet => ApiResource::erase::<ReplicaSet>(&()),
            Kind::ControllerRevision => ApiResource::erase::<ControllerRevision>(&()),
            Kind::Pod => ApiResource::erase::<Pod>(&()),
            Kind::PersistentVolumeClaim => ApiResource::erase::<PersistentVolumeClaim>(&()),
            Kind::PersistentVolume => ApiResource::erase::<PersistentVolume>(&()),
            Kind::Node => ApiResource::erase::<Node>(&()),
            Kind::PodDisruptionBudget => ApiResource::erase::<PodDisruptionBudget>(&()),
            Kind::Event => ApiResource::erase::<Event>(&()),
            Kind::VolumeAttachment => ApiResource::erase::<VolumeAttachment>(&()),
            Kind::Job => ApiResource::erase::<k8s_openapi::api::batch::v1::Job>(&()),
        }
    }

    /// Cluster-scoped kinds live outside the test namespace.
    pub fn cluster_scoped(self) -> bool {
        matches!(
            self,
            Kind::PersistentVolume | Kind::Node | Kind::VolumeAttachment
        )
    }
}

/// Names one object a write targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Its kind.
    pub kind: Kind,
    /// Its namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl Target {
    /// Target an existing typed object.
    pub(crate) fn of(kind: Kind, meta: &ObjectMeta) -> Self {
        Target {
            kind,
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

/// One change a controller asks the driver to make.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Write {
    /// Create an object (full JSON body with apiVersion/kind).
    Create {
        /// Kind of the object.
        kind: Kind,
        /// The body.
        object: Value,
    },
    /// JSON merge patch of the main resource.
    Patch {
        /// Object patched.
        target: Target,
        /// RFC 7386 merge patch.
        patch: Value,
    },
    /// JSON merge patch of the `/status` subresource.
    PatchStatus {
        /// Object patched.
        target: Target,
        /// RFC 7386 merge patch, rooted at the object (`{"status": …}`).
        patch: Value,
    },
    /// Delete with an optional grace period.
    Delete {
        /// Object deleted.
        target: Target,
        /// `gracePeriodSeconds` (`Some(0)` removes a terminating pod at once).
        grace_seconds: Option<i64>,
    },
    /// Bind a pod to a node (the scheduler's `pods/binding`).
    Bind {
        /// Pod namespace.
        namespace: String,
        /// Pod name.
        pod: String,
        /// Node chosen.
        node: String,
    },
    /// Record a core/v1 Event.
    Event(EventSpec),
}

/// A core/v1 Event as the real component would record it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct EventSpec {
    /// The object the event is about.
    pub regarding: ObjRef,
    /// `Normal` or `Warning`.
    pub type_: &'static str,
    /// CamelCase reason (`Scheduled`, `Pulled`, `Killing`, …).
    pub reason: String,
    /// Human message in the upstream wording.
    pub message: String,
    /// `source.component` (`kubelet`, `default-scheduler`, …).
    pub component: &'static str,
    /// `source.host` for kubelet events.
    pub host: Option<String>,
}

impl EventSpec {
    /// An event as `component` records it; `type_` is `Normal` or `Warning`.
    /// Only the kubelet names its node, so the host is added with [`Self::on_host`].
    pub(crate) fn new(
        type_: &'static str,
        component: &'static str,
        regarding: ObjRef,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            regarding,
            type_,
            reason: reason.into(),
            message: message.into(),
            component,
            host: None,
        }
    }

    /// `source.host`: the node whose kubelet recorded the event.
    pub(crate) fn on_host(mut self, node: impl Into<String>) -> Self {
        self.host = Some(node.into());
        self
    }
}

/// The reference an event carries (`involvedObject`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ObjRef {
    /// apiVersion of the object.
    pub api_version: String,
    /// kind of the object.
    pub kind: String,
    /// namespace of the object (events about cluster-scoped objects go to `default`).
    pub namespace: Option<String>,
    /// name of the object.
    pub name: String,
    /// uid of the object.
    pub uid: Option<String>,
}

impl ObjRef {
    /// Reference a typed object.
    pub(crate) fn to<K: kube::Resource<DynamicType = ()>>(obj: &K) -> Self {
        let meta = obj.meta();
        ObjRef {
            api_version: K::api_version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespace: meta.namespace.clone(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone(),
        }
    }
}

/// What the faker sees at the start of a round.
#[derive(Clone, Debug, Default)]
pub(crate) struct World {
    /// StatefulSets in scope.
    pub statefulsets: Vec<StatefulSet>,
    /// Deployments in scope.
    pub deployments: Vec<Deployment>,
    /// ReplicaSets in scope.
    pub replicasets: Vec<ReplicaSet>,
    /// ControllerRevisions in scope.
    pub revisions: Vec<ControllerRevision>,
    /// Pods in scope.
    pub pods: Vec<Pod>,
    /// PVCs in scope.
    pub pvcs: Vec<PersistentVolumeClaim>,
    /// All PVs.
    pub pvs: Vec<PersistentVolume>,
    /// All nodes.
    pub nodes: Vec<Node>,
    /// PDBs in scope.
    pub pdbs: Vec<PodDisruptionBudget>,
    /// All VolumeAttachments.
    pub attachments: Vec<VolumeAttachment>,
    /// Jobs in scope.
    pub jobs: Vec<k8s_openapi::api::batch::v1::Job>,
}

/// Per-object facts the controllers carry between rounds: when the faker first
/// saw something happen, so delays run in tokio time whatever the server's clock.
#[derive(Debug, Default)]
pub(super) struct Memory {
    /// Keyed by pod uid.
    pub pods: HashMap<String, PodMemory>,
    /// Keyed by PVC uid.
    pub pvcs: HashMap<String, PvcMemory>,
    /// Events already recorded once and not to be repeated (dedup keys).
    pub said: HashSet<String>,
    /// Counter for generated names (ReplicaSet pods).
    pub serial: u64,
    /// Keyed by node name: the node's resourceVersion and the rules'
    /// generation when its status needed no write (see `PodMemory::settled`).
    pub settled_nodes: HashMap<String, Settled>,
    /// Keyed by VolumeAttachment name: when its attach or detach began.
    pub attachments: HashMap<String, Instant>,
    /// Keyed by `<job uid>/<failed count>`: when the Job controller first
    /// saw that many failures (its replacement back-off counts from there).
    pub jobs: HashMap<String, Instant>,
}

/// What the kubelet remembers about one pod.
#[derive(Debug, Default, Clone)]
pub(super) struct PodMemory {
    /// When the kubelet first saw the pod bound to its node.
    pub bound_at: Option<Instant>,
    /// When the containers started (after the image pull).
    pub started_at: Option<Instant>,
    /// When the kubelet first saw the deletion.
    pub deleting_at: Option<Instant>,
    /// The pod's resourceVersion and the rules' generation when the kubelet
    /// last found it settled (every container running and ready, nothing
    /// to write): while both hold, time alone changes nothing, so later
    /// rounds skip it instead of rebuilding its status.
    pub settled: Option<Settled>,
}

/// What the volume controllers remember about one PVC.
#[derive(Debug, Default, Clone)]
pub(super) struct PvcMemory {
    /// When the PVC was first seen pending.
    pub pending_at: Option<Instant>,
    /// When the current expansion was first seen.
    pub resize_at: Option<Instant>,
    /// When the last expansion finished (the per-volume cooldown counts from here).
    pub resized_at: Option<Instant>,
}

/// Everything a controller needs for one round.
pub(super) struct Round<'a> {
    /// The objects.
    pub world: &'a World,
    /// Fault rules and timings.
    pub rules: &'a Rules,
    /// Virtual now (tokio).
    pub now: Instant,
    /// Timestamp to write into objects (from the env's clock).
    pub stamp: jiff::Timestamp,
    /// What the test paused.
    pub pauses: &'a Pauses,
}

/// What `pause()` holds still: everything, or objects of a kind (and labels).
#[derive(Clone, Debug, Default)]
pub(super) struct Pauses {
    /// Global pause.
    pub all: bool,
    /// Scoped pauses: kind (or any) plus a label selector (empty: all labels).
    pub scoped: Vec<(Option<Kind>, LabelSelector)>,
}

impl Pauses {
    /// Is this object held still? A controller skips it entirely, so nothing
    /// about it is written until resume, and then it catches up in one go.
    pub(super) fn holds(&self, kind: Kind, meta: &ObjectMeta) -> bool {
        self.all
            || self.scoped.iter().any(|(k, sel)| {
                k.is_none_or(|k| k == kind) && labels_match(sel, meta.labels.as_ref())
            })
    }
}

/// An object's resourceVersion and the rules' generation: what a
/// controller remembers of an object it found settled. While both are
/// unchanged, time alone changes nothing it would write.
pub(super) type Settled = (String, u64);

impl Round<'_> {
    /// This object's [`Settled`] key in this round.
    pub(super) fn settled(&self, meta: &ObjectMeta) -> Settled {
        (
            meta.resource_version.clone().unwrap_or_default(),
            self.rules.generation,
        )
    }

    /// Is this object paused?
    pub(super) fn paused(&self, kind: Kind, meta: &ObjectMeta) -> bool {
        self.pauses.holds(kind, meta)
    }

    /// RFC 3339 form of [`Round::stamp`], truncated to seconds like the API's `Time`.
    pub(super) fn ts(&self) -> String {
        let secs = self.stamp.as_second();
        jiff::Timestamp::from_second(secs)
            .unwrap_or(self.stamp)
            .to_string()
    }

    /// Has `since` happened at least `delay` ago?
    pub(super) fn elapsed(&self, since: Instant, delay: Duration) -> bool {
        self.now.duration_since(since) >= delay
    }
}

/// Name of an object, or "".
pub(super) fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

/// Does an object with `labels` (none: no labels) match `selector`?
pub(super) fn labels_match(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    match labels {
        Some(labels) => selector.matches_labels(labels),
        None => selector.matches_labels(&BTreeMap::new()),
    }
}

/// Is `meta` controlled by the owner with this uid?
pub(super) fn controlled_by(meta: &ObjectMeta, owner_uid: Option<&str>) -> bool {
    let Some(uid) = owner_uid else { return false };
    meta.owner_references.as_ref().is_some_and(|refs| {
        refs.iter()
            .any(|r| r.controller == Some(true) && r.uid == uid)
    })
}

/// A controller ownerReference to a typed object (what the real controllers set,
/// so garbage collection and `kubectl` work).
pub(super) fn controller_ref<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// RFC 7386 merge patch that turns `old` into `new`, or `None` if equal.
/// Removed keys become `null`, arrays are replaced whole (as merge patch does).
pub(super) fn merge_diff(old: &Value, new: &Value) -> Option<Value> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut out = Map::new();
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) => {
                        if let Some(d) = merge_diff(ov, nv) {
                            out.insert(k.clone(), d);
                        }
                    }
                    None if nv.is_null() => {}
                    None => {
                        out.insert(k.clone(), nv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ if old == new => None,
        _ => Some(new.clone()),
    }
}

/// Apply an RFC 7386 merge patch to `target` in place.
pub(super) fn apply_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    apply_merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A status write if `new` differs from the object's current status.
pub(super) fn status_write(target: Target, old: Option<Value>, new: Value) -> Option<Write> {
    let old = old.unwrap_or_else(|| json!({}));
    merge_diff(&old, &new).map(|d| Write::PatchStatus {
        target,
        patch: json!({ "status": d }),
    })
}

/// Serialize a typed value, or `Value::Null` (k8s-openapi types never fail).
pub(super) fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Short, stable hash (FNV-1a, hex) of a JSON value: the revision hashes the
/// controllers put in names and labels. Upstream uses FNV-32a too
/// (`k8s.io/kubernetes/pkg/util/hash`), though over a different encoding, so
/// the values differ from a real cluster's; only stability matters here.
pub(super) fn short_hash(v: &Value) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    // upstream renders the hash with SafeEncodeString (no vowels); we do too so
    // a name never spells a word.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::new();
    let mut n = h;
    while out.len() < 10 {
        out.push(ALPHABET[(n % ALPHABET.len() as u32) as usize] as char);
        n /= ALPHABET.len() as u32;
        if n == 0 {
            break;
        }
    }
    out
}

/// An event, said once per `key` (upstream's recorder aggregates repeats;
/// we record the first, which is what assertions look for).
pub(super) fn say_once(mem: &mut Memory, key: String, ev: EventSpec, out: &mut Vec<Write>) {
    if mem.said.insert(key) {
        out.push(Write::Event(ev));
    }
}

/// Find a pod's condition of a type.
pub(super) fn pod_condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.as_str())
}

/// Running and Ready, the StatefulSet controller's `isRunningAndReady`.
pub(super) fn is_running_and_ready(pod: &Pod) -> bool {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    running && pod_condition(pod, "Ready") == Some("True")
}

/// Has the API server marked it for deletion?
pub(super) fn is_terminating(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Phase Failed or Succeeded: the workload controllers replace such pods.
pub(super) fn is_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Failed") | Some("Succeeded")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_diff_nulls_removed_keys_and_skips_equal() {
        let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1]});
        let new = json!({"a": 1, "b": {"c": 5}, "e": [1, 2]});
        assert_eq!(
            merge_diff(&old, &new),
            Some(json!({"b": {"c": 5, "d": null}, "e": [1, 2]}))
        );
        assert_eq!(merge_diff(&new, &new), None);
    }

    #[test]
    fn short_hash_is_stable_and_distinguishes() {
        let a = short_hash(&json!({"image": "a"}));
        assert_eq!(a, short_hash(&json!({"image": "a"})));
        assert_ne!(a, short_hash(&json!({"image": "b"})));
        assert!(a.chars().all(|c| !"aeiou".contains(c)));
    }
}
