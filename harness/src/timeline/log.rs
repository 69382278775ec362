//! The [`Timeline`] itself: entries in order, with the bookkeeping that turns
//! raw watch notifications (which repeat, and may arrive out of order with a
//! list) into one entry per real happening. Pure: the recorder feeds it.

use super::diff::{Track, diff};
use super::entry::{Entry, EventFacts, What};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

/// Everything recorded for one namespace, in the order it was seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub(crate) namespace: String,
    pub(crate) entries: Vec<Entry>,
    /// Occurrences already recorded per Event identity.
    event_seen: HashMap<String, u32>,
    /// Last seen version of each tracked object, by `Kind/name`.
    objects: HashMap<String, Seen>,
}

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    uid: Option<String>,
    resource_version: Option<String>,
    value: Value,
}

/// `true` when `candidate` is older than `known` (resourceVersions are
/// opaque strings, but every server we run against uses integers; anything
/// unparsable is taken as newer so nothing is dropped).
fn is_older(candidate: Option<&str>, known: Option<&str>) -> bool {
    match (
        candidate.and_then(|c| c.parse::<u64>().ok()),
        known.and_then(|k| k.parse::<u64>().ok()),
    ) {
        (Some(c), Some(k)) => c < k,
        _ => false,
    }
}

impl Timeline {
    /// An empty timeline for `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            ..Self::default()
        }
    }

    /// The namespace this timeline is about.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// All entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The part from `at` on (entries stamped `at` or later), so "A before B"
    /// and "exactly once" can be asked about what followed an action (a pod
    /// deletion) without the set-up before it counting.
    pub fn since(&self, at: Duration) -> Timeline {
        Timeline {
            namespace: self.namespace.clone(),
            entries: self
                .entries
                .iter()
                .filter(|e| e.at >= at)
                .cloned()
                .collect(),
            ..Timeline::default()
        }
    }

    /// Appends an entry (for callers that record happenings of their own,
    /// such as "operator restarted").
    pub fn push(&mut self, at: Duration, object: impl Into<String>, what: What) {
        self.entries.push(Entry {
            at,
            object: object.into(),
            what,
        });
    }

    /// Records the occurrences of an Event not recorded yet.
    pub(crate) fn ingest_event(&mut self, at: Duration, facts: EventFacts) {
        let seen = self.event_seen.entry(facts.key.clone()).or_insert(0);
        let new = facts.occurrences.saturating_sub(*seen);
        *seen = (*seen).max(facts.occurrences);
        for _ in 0..new {
            self.entries.push(Entry {
                at,
                object: facts.object.clone(),
                what: What::Event {
                    reason: facts.reason.clone(),
                    message: facts.message.clone(),
                    type_: facts.type_.clone(),
                    source: facts.source.clone(),
                },
            });
        }
    }

    /// Records what changed on a tracked object (`value` is its JSON).
    pub(crate) fn ingest_object(&mut self, at: Duration, kind: &str, value: Value, track: &Track) {
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        if !track.wants(name) {
            return;
        }
        let key = format!("{kind}/{name}");
        let uid = value
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        let rv = value
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        let prev = self.objects.get(&key);
        let same_object = prev.is_some_and(|p| p.uid == uid);
        if same_object
            && is_older(
                rv.as_deref(),
                prev.and_then(|p| p.resource_version.as_deref()),
            )
        {
            return; // a list raced ahead of the watch; this version is stale
        }
        let null = Value::Null;
        let old = match prev {
            Some(p) if same_object => &p.value,
            _ => &null,
        };
        let changes = diff(old, &value, track);
        if !same_object {
            self.push(at, key.clone(), What::Created { uid: uid.clone() });
        }
        for c in changes {
            self.push(
                at,
                key.clone(),
                What::Changed {
                    label: c.label,
                    from: c.from,
                    to: c.to,
                    note: c.note,
                },
            );
        }
        self.objects.insert(
            key,
            Seen {
                uid,
                resource_version: rv,
                value,
            },
        );
    }

    /// Records that a tracked object went away.
    pub(crate) fn ingest_delete(
        &mut self,
        at: Duration,
        kind: &str,
        name: &str,
        uid: Option<&str>,
    ) {
        let key = format!("{kind}/{name}");
        match self.objects.get(&key) {
            // A delete for an older incarnation than the one we know of.
            Some(seen) if uid.is_some() && seen.uid.as_deref() != uid => {}
            Some(_) => {
                self.objects.remove(&key);
                self.push(at, key, What::Deleted);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn since_keeps_what_followed() {
        let mut tl = Timeline::new("ns");
        let ready = |to: &str| What::Changed {
            label: "Ready".into(),
            from: None,
            to: Some(to.into()),
            note: None,
        };
        tl.push(Duration::from_secs(1), "Pod/a", ready("True"));
        tl.push(Duration::from_secs(5), "Pod/a", What::Deleted);
        tl.push(Duration::from_secs(9), "Pod/a", ready("True"));
        let after = tl.since(Duration::from_secs(5));
        assert_eq!(after.namespace(), "ns");
        assert_eq!(after.entries().len(), 2);
        after.expect("Ready=True").exactly(1).unwrap();
        after.before("deleted", "Ready=True").unwrap();
        assert!(tl.before("deleted", "Ready=True").is_err());
    }

    fn facts(key: &str, reason: &str, n: u32) -> EventFacts {
        EventFacts {
            key: key.into(),
            occurrences: n,
            object: "NodeDeployment/seid".into(),
            reason: reason.into(),
            message: String::new(),
            type_: "Normal".into(),
            source: "rollout-operator".into(),
            last_seen: None,
        }
    }

    fn obj(uid: &str, rv: &str, phase: &str) -> Value {
        json!({"metadata": {"name": "seid", "uid": uid, "resourceVersion": rv},
               "status": {"phase": phase}})
    }

    #[test]
    fn events_are_recorded_once_per_occurrence() {
        let mut tl = Timeline::new("ns");
        tl.ingest_event(Duration::ZERO, facts("u1", "RolloutStarted", 1));
        tl.ingest_event(Duration::ZERO, facts("u1", "RolloutStarted", 1));
        assert_eq!(
            tl.entries().len(),
            1,
            "a repeated notification is not a new occurrence"
        );
        tl.ingest_event(Duration::from_secs(5), facts("u1", "RolloutStarted", 3));
        assert_eq!(tl.entries().len(), 3, "series count 3 is three occurrences");
        tl.ingest_event(Duration::from_secs(6), facts("u1", "RolloutStarted", 2));
        assert_eq!(tl.entries().len(), 3, "an older count adds nothing");
    }

    #[test]
    fn object_changes_become_entries() {
        let mut tl = Timeline::new("ns");
        let track = Track::named("seid");
        tl.ingest_object(
            Duration::ZERO,
            "NodeDeployment",
            obj("a", "1", "Pending"),
            &track,
        );
        tl.ingest_object(
            Duration::from_secs(1),
            "NodeDeployment",
            obj("a", "2", "Pending"),
            &track,
        );
        tl.ingest_object(
            Duration::from_secs(2),
            "NodeDeployment",
            obj("a", "3", "Ready"),
            &track,
        );
        let labels: Vec<&str> = tl.entries().iter().map(Entry::label).collect();
        assert_eq!(labels, ["created", "phase", "phase"]);
        assert_eq!(tl.entries()[2].detail(), "Pending → Ready");
        assert_eq!(tl.entries()[2].at, Duration::from_secs(2));
    }

    #[test]
    fn stale_versions_are_ignored() {
        let mut tl = Timeline::new("ns");
        let track = Track::all();
        tl.ingest_object(
            Duration::ZERO,
            "NodeDeployment",
            obj("a", "10", "Upgrading"),
            &track,
        );
        tl.ingest_object(
            Duration::ZERO,
            "NodeDeployment",
            obj("a", "9", "Ready"),
            &track,
        );
        assert_eq!(
            tl.entries().len(),
            2,
            "created + phase only; no bogus Upgrading → Ready"
        );
    }

    #[test]
    fn recreation_and_deletion() {
        let mut tl = Timeline::new("ns");
        let track = Track::all();
        tl.ingest_object(Duration::ZERO, "Pod", obj("a", "1", "Running"), &track);
        tl.ingest_delete(Duration::from_secs(1), "Pod", "seid", Some("old-uid"));
        assert_eq!(
            tl.entries().len(),
            2,
            "delete of another incarnation ignored"
        );
        tl.ingest_delete(Duration::from_secs(1), "Pod", "seid", Some("a"));
        tl.ingest_object(
            Duration::from_secs(2),
            "Pod",
            obj("b", "5", "Pending"),
            &track,
        );
        let labels: Vec<&str> = tl.entries().iter().map(Entry::label).collect();
        assert_eq!(labels, ["created", "phase", "deleted", "created", "phase"]);
        assert_eq!(tl.entries()[3].detail(), "uid b");
        assert_eq!(tl.entries()[4].detail(), "absent → Pending");
    }

    #[test]
    fn untracked_names_are_skipped() {
        let mut tl = Timeline::new("ns");
        tl.ingest_object(
            Duration::ZERO,
            "NodeDeployment",
            obj("a", "1", "Ready"),
            &Track::named("other"),
        );
        assert!(tl.entries().is_empty());
    }
}
