//! The in-memory object store: one global resourceVersion counter (as etcd
//! has), objects kept as JSON per group/resource, and for each resource one
//! ordered event log with bounded history that every watch reads from.
//!
//! Everything here runs under the server's single state lock, so a write,
//! its event and the garbage collection it triggers are one atomic step.

pub(crate) mod meta;
pub(crate) mod ops;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::registry::{GroupResource, ResourceInfo};

/// Stored objects are shared with event logs and watchers, never copied.
pub(crate) type Obj = Arc<Value>;

/// `(namespace, name)`; namespace is empty for cluster-scoped objects. The
/// tuple order makes a BTreeMap list namespace by namespace, as etcd does.
pub(crate) type Key = (String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One entry of a resource's event log.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub ty: EventType,
    pub object: Obj,
    /// The previous state, so a filtered watch can tell "left the selection"
    /// (sent as DELETED) from "changed inside it".
    pub old: Option<Obj>,
}

/// Objects and event log of one group/resource.
pub(crate) struct ResourceStore {
    pub info: Arc<ResourceInfo>,
    pub objects: BTreeMap<Key, Obj>,
    pub log: VecDeque<Arc<Event>>,
    /// Events with rv <= floor have been dropped from the log; watching
    /// from an older version answers 410 Gone.
    pub floor: u64,
    /// Carries the latest rv written to this resource; dropping it (CRD
    /// removed) ends every watch on the resource.
    pub notify: watch::Sender<u64>,
}

/// A stored object's address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjRef {
    pub gr: GroupResource,
    pub key: Key,
}

/// A pod whose graceful deletion should finish when its grace period ends
/// (the embedded server plays the kubelet's part).
#[derive(Debug, Clone)]
pub(crate) struct GraceTimer {
    pub at: ObjRef,
    pub uid: String,
    pub after: Duration,
}

pub(crate) struct State {
    pub rv: u64,
    pub resources: BTreeMap<GroupResource, ResourceStore>,
    pub history: usize,
    pub clock: Arc<dyn Clock>,
    /// uid -> object, for garbage collection.
    pub uids: HashMap<String, ObjRef>,
    /// owner uid -> objects naming it in ownerReferences.
    pub dependents: HashMap<String, BTreeSet<ObjRef>>,
    /// Objects with a deletionTimestamp (waiting on finalizers or grace).
    pub deleting: BTreeSet<ObjRef>,
    /// uids of removed objects that had dependents, for the next GC pass.
    pub removed_owners: Vec<String>,
    /// Grace periods to start once the lock is released.
    pub timers: Vec<GraceTimer>,
    /// ValidatingAdmissionPolicies whose new generation the status
    /// controller checks once the lock is released.
    pub policy_checks: Vec<String>,
    /// Garbage collection is running (its own deletes must not start it again).
    pub collecting: bool,
}

impl State {
    pub(crate) fn new(clock: Arc<dyn Clock>, history: usize) -> Self {
        Self {
            rv: 1,
            resources: BTreeMap::new(),
            history: history.max(1),
            clock,
            uids: HashMap::new(),
            dependents: HashMap::new(),
            deleting: BTreeSet::new(),
            removed_owners: Vec::new(),
            timers: Vec::new(),
            policy_checks: Vec::new(),
            collecting: false,
        }
    }

    pub(crate) fn now(&self) -> String {
        crate::clock::format_time(self.clock.now())
    }

    /// Serves a resource, or updates how it is served (a CRD changed).
    pub(crate) fn register(&mut self, info: ResourceInfo) {
        let gr = info.gr();
        match self.resources.get_mut(&gr) {
            Some(rs) => rs.info = Arc::new(info),
            None => {
                let (notify, _) = watch::channel(self.rv);
                self.resources.insert(
                    gr,
                    ResourceStore {
                        info: Arc::new(info),
                        objects: BTreeMap::new(),
                        log: VecDeque::new(),
                        floor: self.rv,
                        notify,
                    },
                );
            }
        }
    }

    /// Stops serving a resource; its objects must already be gone.
    pub(crate) fn unregister(&mut self, gr: &GroupResource) {
        self.resources.remove(gr);
    }

    /// Finds a resource by group, version and plural.
    pub(crate) fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceInfo>> {
        let rs = self.resources.get(&GroupResource::new(group, plural))?;
        rs.info.serves(version).then(|| rs.info.clone())
    }

    pub(crate) fn get(&self, gr: &GroupResource, key: &Key) -> Option<Obj> {
        self.resources.get(gr)?.objects.get(key).cloned()
    }

    pub(crate) fn exists(&self, r: &ObjRef) -> bool {
        self.get(&r.gr, &r.key).is_some()
    }

    /// Writes an object (create or update), stamping the next resourceVersion.
    pub(crate) fn commit(&mut self, gr: &GroupResource, mut obj: Value) -> Obj {
        self.rv += 1;
        let rv = self.rv;
        meta::set_str(&mut obj, "resourceVersion", &rv.to_string());
        let key = meta::key(&obj);
        let obj: Obj = Arc::new(obj);
        let at = ObjRef {
            gr: gr.clone(),
            key: key.clone(),
        };
        let rs = self
            .resources
            .get_mut(gr)
            .expect("commit to a registered resource");
        let old = rs.objects.insert(key, obj.clone());
        if let Some(old) = &old {
            self.unindex(&at, old);
        }
        self.index(&at, &obj);
        let ty = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.log_event(gr, ty, obj.clone(), old);
        if gr.group == "apiextensions.k8s.io" && gr.plural == "customresourcedefinitions" {
            crate::crd::on_commit(self, &obj);
        }
        if gr.group == "admissionregistration.k8s.io"
            && gr.plural == "validatingadmissionpolicies"
            && crate::admission::type_checking::unchecked(&obj)
        {
            self.policy_checks.push(meta::name(&obj).to_string());
        }
        obj
    }

    /// Removes an object for good; the DELETED event carries a fresh rv.
    pub(crate) fn remove(&mut self, at: &ObjRef) -> Option<Obj> {
        let old = self.resources.get_mut(&at.gr)?.objects.remove(&at.key)?;
        self.unindex(at, &old);
        self.rv += 1;
        let mut gone = (*old).clone();
        meta::set_str(&mut gone, "resourceVersion", &self.rv.to_string());
        let gone = Arc::new(gone);
        let uid = meta::uid(&old).to_string();
        if self.dependents.contains_key(&uid) {
            self.removed_owners.push(uid);
        }
        self.log_event(&at.gr, EventType::Deleted, gone.clone(), Some(old));
        if at.gr.group == "apiextensions.k8s.io" && at.gr.plural == "customresourcedefinitions" {
            crate::crd::on_remove(self, &gone);
        }
        Some(gone)
    }

    fn log_event(&mut self, gr: &GroupResource, ty: EventType, object: Obj, old: Option<Obj>) {
        let rv = self.rv;
        let history = self.history;
        let Some(rs) = self.resources.get_mut(gr) else {
            return;
        };
        rs.log.push_back(Arc::new(Event {
            rv,
            ty,
            object,
            old,
        }));
        while rs.log.len() > history {
            if let Some(e) = rs.log.pop_front() {
                rs.floor = e.rv;
            }
        }
        rs.notify.send_replace(rv);
    }

    fn index(&mut self, at: &ObjRef, obj: &Value) {
        let uid = meta::uid(obj);
        if !uid.is_empty() {
            self.uids.insert(uid.to_string(), at.clone());
        }
        for owner in meta::owner_uids(obj) {
            self.dependents.entry(owner).or_default().insert(at.clone());
        }
        if meta::deletion_timestamp(obj).is_some() {
            self.deleting.insert(at.clone());
        }
    }

    fn unindex(&mut self, at: &ObjRef, obj: &Value) {
        let uid = meta::uid(obj);
        if self.uids.get(uid) == Some(at) {
            self.uids.remove(uid);
        }
        for owner in meta::owner_uids(obj) {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(at);
                if set.is_empty() && !self.uids.contains_key(&owner) {
                    self.dependents.remove(&owner);
                }
            }
        }
        self.deleting.remove(at);
    }

    /// Live objects naming `owner_uid` as an owner.
    pub(crate) fn dependents_of(&self, owner_uid: &str) -> Vec<ObjRef> {
        self.dependents
            .get(owner_uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// All objects in one namespace, across resources.
    pub(crate) fn in_namespace(&self, ns: &str) -> Vec<ObjRef> {
        let mut out = Vec::new();
        for (gr, rs) in &self.resources {
            if !rs.info.namespaced {
                continue;
            }
            let from = (ns.to_string(), String::new());
            for (key, _) in rs.objects.range(from..) {
                if key.0 != ns {
                    break;
                }
                out.push(ObjRef {
                    gr: gr.clone(),
                    key: key.clone(),
                });
            }
        }
        out
    }
}
