//! An in-process change feed for controllers that share the server's
//! process (the harness's StatusFaker): what a watch on a resource would
//! deliver between two revisions, read from the same event log watches read,
//! without serializing each event to JSON and parsing it back.
//!
//! A controller on a real cluster keeps its cache with informers, which lag
//! the server; a test that writes and then runs one round of the faker needs
//! that round to see the write. Reading the log up to a revision taken
//! first gives both: work proportional to what changed, and a view exactly
//! as of that revision.

use std::sync::{Arc, Weak};

use serde::de::DeserializeOwned;

use crate::registry::GroupResource;
use crate::server::Shared;
use crate::store::{EventType, Obj, meta};

/// One change of an object, in log order.
#[derive(Debug, Clone)]
pub struct Change {
    deleted: bool,
    object: Obj,
}

impl Change {
    /// The change removed the object (a watch's DELETED); otherwise it was
    /// added or modified and [`Change::object`] is its new state.
    pub fn is_delete(&self) -> bool {
        self.deleted
    }

    /// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
    pub fn key(&self) -> (&str, &str) {
        (meta::namespace(&self.object), meta::name(&self.object))
    }

    /// The object as a GET would have returned it at this revision
    /// (the last state before removal for a delete).
    pub fn object<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&*self.object)
    }
}

/// What [`ChangeFeed::changes`] found.
#[derive(Debug)]
pub enum Changes {
    /// Every change in the range, oldest first (possibly none).
    Events(Vec<Change>),
    /// The start is older than the kept history (a watch would get 410
    /// Gone): list again.
    Expired,
    /// The server does not serve this resource (any more).
    NotServed,
}

/// A handle on a server's event logs that does not keep the server alive.
#[derive(Clone)]
pub struct ChangeFeed {
    shared: Weak<Shared>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

impl ChangeFeed {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        Self {
            shared: Arc::downgrade(shared),
        }
    }

    /// The server's latest resourceVersion, as a list would report it
    /// (`None` once the server is gone).
    pub fn revision(&self) -> Option<u64> {
        Some(self.shared.upgrade()?.lock().rv)
    }

    /// Changes of `group`/`resource` with `since < resourceVersion <= until`,
    /// limited to `namespace` when given, as a watch from `since` would
    /// have delivered them.
    pub fn changes(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
        since: u64,
        until: u64,
    ) -> Changes {
        let Some(shared) = self.shared.upgrade() else {
            return Changes::NotServed;
        };
        let st = shared.lock();
        let Some(rs) = st
            .resources
            .get(&GroupResource::new(group, resource))
            .filter(|rs| !rs.info.review)
        else {
            return Changes::NotServed;
        };
        if since < rs.floor {
            return Changes::Expired;
        }
        let first = rs.log.partition_point(|e| e.rv <= since);
        let events = rs
            .log
            .range(first..)
            .take_while(|e| e.rv <= until)
            .filter(|e| namespace.is_none_or(|ns| meta::namespace(&e.object) == ns))
            .map(|e| Change {
                deleted: e.ty == EventType::Deleted,
                object: e.object.clone(),
            })
            .collect();
        Changes::Events(events)
    }
}
