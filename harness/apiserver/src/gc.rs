//! The garbage collector and namespace controller, run to a fixed point
//! after every write instead of as separate controllers: dependents of a
//! removed owner go (background), owners deleted in the foreground wait for
//! their dependents, orphaning strips ownerReferences, and a terminating
//! namespace empties itself before it goes.

use serde_json::Value;

use crate::registry::{GroupResource, Propagation};
use crate::store::ops::{self, DeleteOpts};
use crate::store::{ObjRef, State, meta};

const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";
const NAMESPACE_FINALIZER: &str = "kubernetes";

/// Rounds after which a cascade is assumed stuck (it never is in practice:
/// every productive round removes or marks an object).
const MAX_ROUNDS: usize = 10_000;

/// Runs to a fixed point. The deletes it makes end in `collect` again; those
/// inner calls return at once, since this loop goes on until nothing changes
/// (nested passes re-scanned a terminating namespace once per object in it).
pub(crate) fn collect(st: &mut State) {
    if st.collecting {
        return;
    }
    st.collecting = true;
    let settled = (0..MAX_ROUNDS).any(|_| {
        let mut changed = background(st);
        for at in st.deleting.clone() {
            changed |= finalize(st, &at);
        }
        !changed
    });
    st.collecting = false;
    if !settled {
        tracing::warn!("garbage collection did not settle");
    }
}

fn delete_quietly(st: &mut State, at: &ObjRef, propagation: Option<Propagation>) -> bool {
    let Some(info) = st.resources.get(&at.gr).map(|r| r.info.clone()) else {
        return false;
    };
    let opts = DeleteOpts {
        propagation,
        ..DeleteOpts::default()
    };
    ops::delete(st, &info, at, &opts).is_ok()
}

/// Deletes dependents whose owners are all gone.
fn background(st: &mut State) -> bool {
    let mut changed = false;
    let removed = std::mem::take(&mut st.removed_owners);
    for uid in removed {
        for dep in st.dependents_of(&uid) {
            let Some(obj) = st.get(&dep.gr, &dep.key) else {
                continue;
            };
            if meta::deletion_timestamp(&obj).is_some() {
                continue;
            }
            let owners_gone = meta::owner_uids(&obj)
                .iter()
                .all(|u| !st.uids.contains_key(u));
            if owners_gone {
                changed |= delete_quietly(st, &dep, None);
            }
        }
        if !st.uids.contains_key(&uid) && st.dependents.get(&uid).is_none_or(|s| s.is_empty()) {
            st.dependents.remove(&uid);
        }
    }
    changed
}

/// Advances one object that is being deleted.
fn finalize(st: &mut State, at: &ObjRef) -> bool {
    let Some(obj) = st.get(&at.gr, &at.key) else {
        return false;
    };
    let uid = meta::uid(&obj).to_string();
    let fins = meta::finalizers(&obj);
    let mut changed = false;

    if fins.iter().any(|f| f == ORPHAN) {
        for dep in st.dependents_of(&uid) {
            let Some(d) = st.get(&dep.gr, &dep.key) else {
                continue;
            };
            let mut d = (*d).clone();
            let refs: Vec<Value> = meta::owner_refs(&d)
                .into_iter()
                .filter(|r| r.get("uid").and_then(Value::as_str) != Some(uid.as_str()))
                .collect();
            let m = meta::metadata_mut(&mut d);
            if refs.is_empty() {
                m.remove("ownerReferences");
            } else {
                m.insert("ownerReferences".into(), refs.into());
            }
            ops::system_write(st, &dep, d);
        }
        strip_finalizer(st, at, ORPHAN);
        return true;
    }

    if fins.iter().any(|f| f == FOREGROUND) {
        let deps = st.dependents_of(&uid);
        for dep in &deps {
            let Some(d) = st.get(&dep.gr, &dep.key) else {
                continue;
            };
            if meta::deletion_timestamp(&d).is_some() {
                continue;
            }
            // Only when no other live owner keeps it.
            let kept = meta::owner_uids(&d).iter().any(|u| {
                u != &uid
                    && st
                        .uids
                        .get(u)
                        .and_then(|r| st.get(&r.gr, &r.key))
                        .is_some_and(|o| {
                            meta::deletion_timestamp(&o).is_none()
                                || !meta::finalizers(&o).iter().any(|f| f == FOREGROUND)
                        })
            });
            if !kept {
                changed |= delete_quietly(st, dep, Some(Propagation::Foreground));
            }
        }
        let remaining = st.dependents_of(&uid).iter().any(|d| st.exists(d));
        if !remaining {
            strip_finalizer(st, at, FOREGROUND);
            return true;
        }
        return changed;
    }

    if at.gr == GroupResource::new("", "namespaces") {
        let ns = at.key.1.clone();
        let contents = st.in_namespace(&ns);
        for item in &contents {
            // Gone already (removed with an owner) or waiting on its finalizers or grace.
            let live = st
                .get(&item.gr, &item.key)
                .is_some_and(|o| meta::deletion_timestamp(&o).is_none());
            if live {
                changed |= delete_quietly(st, item, Some(Propagation::Background));
            }
        }
        if st.in_namespace(&ns).is_empty() {
            let Some(obj) = st.get(&at.gr, &at.key) else {
                return true;
            };
            let mut new = (*obj).clone();
            if let Some(list) = new
                .pointer_mut("/spec/finalizers")
                .and_then(Value::as_array_mut)
            {
                list.retain(|f| f.as_str() != Some(NAMESPACE_FINALIZER));
            }
            if new != *obj {
                ops::system_write(st, at, new);
                return true;
            }
        }
    }
    changed
}

fn strip_finalizer(st: &mut State, at: &ObjRef, finalizer: &str) {
    let Some(obj) = st.get(&at.gr, &at.key) else {
        return;
    };
    let mut new = (*obj).clone();
    let fins: Vec<String> = meta::finalizers(&obj)
        .into_iter()
        .filter(|f| f != finalizer)
        .collect();
    meta::set_finalizers(&mut new, &fins);
    ops::system_write(st, at, new);
}
