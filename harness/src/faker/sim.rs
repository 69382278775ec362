//! A tiny in-memory stand-in for the API server, for unit tests of the pure
//! controllers: it applies [`Write`]s the way kube-apiserver would (uids,
//! generation on spec changes, graceful pod deletion) and advances virtual time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::model::{EventSpec, Kind, Memory, Pauses, Round, World, Write, apply_merge};
use super::rules::Rules;

pub(super) struct Sim {
    objects: BTreeMap<(Kind, String, String), Value>,
    serial: u64,
    pub events: Vec<EventSpec>,
    pub deletions: Vec<String>,
    pub writes: Vec<Write>,
    pub rules: Rules,
    pub pauses: Pauses,
    pub enabled: BTreeSet<Kind>,
    pub mem: Memory,
    pub start: Instant,
    pub now: Instant,
    /// The rules as last seen by a round: tests change `rules` directly,
    /// so a round bumps their generation when they differ, as
    /// `StatusFaker::with_rules` does.
    rules_seen: String,
}

fn key(kind: Kind, ns: Option<&str>, name: &str) -> (Kind, String, String) {
    let ns = if kind.cluster_scoped() {
        ""
    } else {
        ns.unwrap_or("")
    };
    (kind, ns.to_owned(), name.to_owned())
}

impl Sim {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Sim {
            objects: BTreeMap::new(),
            serial: 0,
            events: Vec::new(),
            deletions: Vec::new(),
            writes: Vec::new(),
            rules: Rules {
                nodes: 3,
                ..Rules::default()
            },
            pauses: Pauses::default(),
            enabled: Kind::ALL.into_iter().collect(),
            mem: Memory::default(),
            start: now,
            now,
            rules_seen: String::new(),
        }
    }

    /// Create an object as a user would (kubectl apply).
    pub(super) fn create(&mut self, kind: Kind, mut obj: Value) {
        self.serial += 1;
        obj["metadata"]["uid"] = json!(format!("uid-{}", self.serial));
        obj["metadata"]["generation"] = json!(1);
        obj["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        if !kind.cluster_scoped() && obj["metadata"].get("namespace").is_none_or(Value::is_null) {
            obj["metadata"]["namespace"] = json!("ns");
        }
        let k = key(
            kind,
            obj["metadata"]["namespace"].as_str(),
            obj["metadata"]["name"].as_str().unwrap_or(""),
        );
        self.objects.insert(k, obj);
    }

    pub(super) fn get(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|((k, _, n), _)| *k == kind && n == name)
            .map(|(_, v)| v)
    }

    pub(super) fn typed<T: DeserializeOwned>(&self, kind: Kind, name: &str) -> T {
        serde_json::from_value(
            self.get(kind, name)
                .cloned()
                .unwrap_or_else(|| panic!("{kind:?}/{name} missing")),
        )
        .expect("valid object")
    }

    pub(super) fn names(&self, kind: Kind) -> Vec<String> {
        self.objects
            .keys()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, _, n)| n.clone())
            .collect()
    }

    /// A user's patch (bumps generation when spec changes, as the server does).
    pub(super) fn patch(&mut self, kind: Kind, name: &str, patch: Value) {
        let k = self
            .objects
            .keys()
            .find(|(kk, _, n)| *kk == kind && n == name)
            .cloned()
            .expect("exists");
        let obj = self.objects.get_mut(&k).expect("exists");
        let before = obj.get("spec").cloned();
        apply_merge(obj, &patch);
        if obj.get("spec").cloned() != before {
            let g = obj["metadata"]["generation"].as_i64().unwrap_or(1);
            obj["metadata"]["generation"] = json!(g + 1);
        }
    }

    /// A user's delete (graceful for bound pods).
    pub(super) fn delete(&mut self, kind: Kind, name: &str) {
        let k = self
            .objects
            .keys()
            .find(|(kk, _, n)| *kk == kind && n == name)
            .cloned()
            .expect("exists");
        self.delete_key(k, None);
    }

    fn delete_key(&mut self, k: (Kind, String, String), grace: Option<i64>) {
        let Some(obj) = self.objects.get_mut(&k) else {
            return;
        };
        let bound = obj.pointer("/spec/nodeName").is_some_and(|v| !v.is_null());
        let grace = grace
            .or_else(|| {
                obj.pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30);
        if has_finalizers(obj) {
            // The API server only marks an object with finalizers.
            if obj["metadata"].get("deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            }
            return;
        }
        if k.0 == Kind::Pod && bound && grace > 0 {
            if obj["metadata"].get("deletionTimestamp").is_none() {
                obj["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            }
            return;
        }
        self.deletions.push(k.2.clone());
        self.objects.remove(&k);
    }

    /// Objects as a list returns them, each with a resourceVersion that
    /// changes whenever the object does (as the API server's does; the
    /// kubelet and node memos rely on it).
    fn list<T: DeserializeOwned>(&self, kind: Kind) -> Vec<T> {
        self.objects
            .iter()
            .filter(|((k, _, _), _)| *k == kind)
            .map(|(_, v)| {
                let mut v = v.clone();
                v["metadata"]["resourceVersion"] = json!(super::model::short_hash(&v));
                serde_json::from_value(v).expect("valid object")
            })
            .collect()
    }

    pub(super) fn world(&self) -> World {
        World {
            statefulsets: self.list(Kind::StatefulSet),
            deployments: self.list(Kind::Deployment),
            replicasets: self.list(Kind::ReplicaSet),
            revisions: self.list(Kind::ControllerRevision),
            pods: self.list(Kind::Pod),
            pvcs: self.list(Kind::PersistentVolumeClaim),
            pvs: self.list(Kind::PersistentVolume),
            nodes: self.list(Kind::Node),
            pdbs: self.list(Kind::PodDisruptionBudget),
            attachments: self.list(Kind::VolumeAttachment),
            jobs: self.list(Kind::Job),
        }
    }

    /// One faker round at the current virtual time; returns the writes.
    pub(super) fn round(&mut self) -> Vec<Write> {
        let seen = format!(
            "{:?}",
            Rules {
                generation: 0,
                ..self.rules.clone()
            }
        );
        if seen != self.rules_seen {
            self.rules.generation += 1;
            self.rules_seen = seen;
        }
        let world = self.world();
        let secs = self.now.duration_since(self.start).as_secs() as i64;
        let r = Round {
            world: &world,
            rules: &self.rules,
            now: self.now,
            stamp: jiff::Timestamp::from_second(1_767_225_600 + secs).expect("valid"),
            pauses: &self.pauses,
        };
        let writes = super::round(&r, &self.enabled, &mut self.mem);
        for w in &writes {
            self.apply(w.clone());
        }
        self.writes.extend(writes.clone());
        writes
    }

    /// Advance time by one round interval and run a round.
    pub(super) fn tick(&mut self) -> Vec<Write> {
        self.now += self.rules.timings.round;
        self.round()
    }

    /// Tick until `done` holds, at most `limit` of virtual time.
    pub(super) fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Sim) -> bool,
    ) -> bool {
        let until = self.now + limit;
        while self.now < until {
            self.tick();
            if done(self) {
                return true;
            }
        }
        false
    }

    pub(super) fn apply(&mut self, w: Write) {
        match w {
            Write::Create { kind, object } => {
                let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
                let k = key(kind, object["metadata"]["namespace"].as_str(), &name);
                if !self.objects.contains_key(&k) {
                    self.create(kind, object);
                }
            }
            Write::Patch { target, patch } | Write::PatchStatus { target, patch } => {
                let k = key(target.kind, target.namespace.as_deref(), &target.name);
                if let Some(obj) = self.objects.get_mut(&k) {
                    apply_merge(obj, &patch);
                    let released =
                        obj["metadata"].get("deletionTimestamp").is_some() && !has_finalizers(obj);
                    if released {
                        self.deletions.push(k.2.clone());
                        self.objects.remove(&k);
                    }
                }
            }
            Write::Delete {
                target,
                grace_seconds,
            } => {
                let k = key(target.kind, target.namespace.as_deref(), &target.name);
                self.delete_key(k, grace_seconds);
            }
            Write::Bind {
                namespace,
                pod,
                node,
            } => {
                if let Some(obj) = self
                    .objects
                    .get_mut(&key(Kind::Pod, Some(&namespace), &pod))
                {
                    obj["spec"]["nodeName"] = json!(node);
                }
            }
            Write::Event(e) => self.events.push(e),
        }
    }

    pub(super) fn reasons(&self, object: &str) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| e.regarding.name == object)
            .map(|e| e.reason.clone())
            .collect()
    }
}

/// A StatefulSet manifest for tests.
pub(super) fn statefulset(name: &str, replicas: i32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    })
}

/// Whether the API server would hold this object's deletion.
fn has_finalizers(obj: &Value) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}
