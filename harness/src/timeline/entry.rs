//! What a timeline holds: one [`Entry`] per thing that happened, in the order
//! the recorder saw it, stamped with tokio time since the recorder started.

use std::time::Duration;

/// One thing that happened to one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Tokio time since the recorder started (virtual under paused time).
    pub at: Duration,
    /// `Kind/name` of the object it happened to, e.g. `NodeDeployment/seid`.
    pub object: String,
    /// What happened.
    pub what: What,
}

/// The kinds of happenings a timeline records.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A Kubernetes Event (core/v1 or events.k8s.io/v1); one entry per
    /// occurrence, so a deduplicated Event seen with count 3 gives 3 entries.
    Event {
        /// `reason`, e.g. `RolloutStarted`.
        reason: String,
        /// `message` (core/v1) or `note` (events.k8s.io/v1).
        message: String,
        /// `Normal` or `Warning`.
        type_: String,
        /// Who reported it: reporting controller or source component.
        source: String,
    },
    /// A tracked object appeared (first sighting, or a new uid under the same name).
    Created {
        /// The new object's uid.
        uid: Option<String>,
    },
    /// A tracked object was deleted.
    Deleted,
    /// A tracked value changed: `phase`, a condition type, or a tracked field.
    Changed {
        /// `phase`, the condition type (`RolloutInProgress`), or the field's label.
        label: String,
        /// Value before, `None` when absent.
        from: Option<String>,
        /// Value after, `None` when absent.
        to: Option<String>,
        /// Extra detail: a condition's reason.
        note: Option<String>,
    },
    /// Something the test did (deleted a pod, restarted the operator), put
    /// on the record by [`super::Recorder::note`] so the cause sits among
    /// its effects.
    Note {
        /// What happened, e.g. `deleted by test`.
        label: String,
        /// Free text, e.g. `mid-rollout`.
        detail: String,
    },
}

impl Entry {
    /// The name an expectation matches on: the Event reason, `created`,
    /// `deleted`, or the changed value's label.
    pub fn label(&self) -> &str {
        match &self.what {
            What::Event { reason, .. } => reason,
            What::Created { .. } => "created",
            What::Deleted => "deleted",
            What::Changed { label, .. } | What::Note { label, .. } => label,
        }
    }

    /// Human-readable detail for the rendered timeline.
    pub fn detail(&self) -> String {
        match &self.what {
            What::Event { message, type_, .. } if type_ != "Normal" && !type_.is_empty() => {
                format!("[{type_}] {message}")
            }
            What::Event { message, .. } => message.clone(),
            What::Created { uid } => match uid {
                Some(uid) => format!("uid {uid}"),
                None => String::new(),
            },
            What::Deleted => String::new(),
            What::Note { detail, .. } => detail.clone(),
            What::Changed { from, to, note, .. } => {
                let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".to_string());
                let mut out = format!("{} → {}", show(from), show(to));
                if let Some(note) = note {
                    out = format!("{out} ({note})");
                }
                out
            }
        }
    }
}

/// The occurrence count Kubernetes keeps on a deduplicated Event.
pub(crate) fn occurrences(count: Option<i32>, series: Option<i32>) -> u32 {
    let n = count.unwrap_or(0).max(series.unwrap_or(0)).max(1);
    u32::try_from(n).unwrap_or(1)
}

/// The facts of an Event, whichever API it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventFacts {
    /// Identity across both APIs (uid when known, else name).
    pub key: String,
    pub occurrences: u32,
    pub object: String,
    pub reason: String,
    pub message: String,
    pub type_: String,
    pub source: String,
    /// When it last happened, by the reporter's clock (for "the last one before").
    pub last_seen: Option<jiff::Timestamp>,
}

fn object_label(kind: Option<&str>, name: Option<&str>) -> String {
    format!("{}/{}", kind.unwrap_or("?"), name.unwrap_or("?"))
}

fn first_nonempty(options: &[Option<&str>]) -> String {
    options
        .iter()
        .flatten()
        .find(|s| !s.is_empty())
        .map(|s| s.to_string())
        .unwrap_or_default()
}

impl EventFacts {
    pub(crate) fn from_core(ev: &k8s_openapi::api::core::v1::Event) -> Self {
        let key = ev
            .metadata
            .uid
            .clone()
            .or_else(|| ev.metadata.name.clone())
            .unwrap_or_default();
        Self {
            key,
            occurrences: occurrences(ev.count, ev.series.as_ref().and_then(|s| s.count)),
            object: object_label(
                ev.involved_object.kind.as_deref(),
                ev.involved_object.name.as_deref(),
            ),
            reason: ev.reason.clone().unwrap_or_default(),
            message: ev.message.clone().unwrap_or_default(),
            type_: ev.type_.clone().unwrap_or_default(),
            source: first_nonempty(&[
                ev.reporting_component.as_deref(),
                ev.source.as_ref().and_then(|s| s.component.as_deref()),
            ]),
            last_seen: ev
                .series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref().map(|t| t.0))
                .or(ev.last_timestamp.as_ref().map(|t| t.0))
                .or(ev.event_time.as_ref().map(|t| t.0))
                .or(ev.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        }
    }

    pub(crate) fn from_events_v1(ev: &k8s_openapi::api::events::v1::Event) -> Self {
        let key = ev
            .metadata
            .uid
            .clone()
            .or_else(|| ev.metadata.name.clone())
            .unwrap_or_default();
        let regarding = ev.regarding.as_ref();
        Self {
            key,
            occurrences: occurrences(ev.deprecated_count, ev.series.as_ref().map(|s| s.count)),
            object: object_label(
                regarding.and_then(|r| r.kind.as_deref()),
                regarding.and_then(|r| r.name.as_deref()),
            ),
            reason: ev.reason.clone().unwrap_or_default(),
            message: ev.note.clone().unwrap_or_default(),
            type_: ev.type_.clone().unwrap_or_default(),
            source: first_nonempty(&[
                ev.reporting_controller.as_deref(),
                ev.deprecated_source
                    .as_ref()
                    .and_then(|s| s.component.as_deref()),
            ]),
            last_seen: ev
                .series
                .as_ref()
                .map(|s| s.last_observed_time.0)
                .or(ev.deprecated_last_timestamp.as_ref().map(|t| t.0))
                .or(ev.event_time.as_ref().map(|t| t.0))
                .or(ev.metadata.creation_timestamp.as_ref().map(|t| t.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};
    use k8s_openapi::api::events::v1::{Event as EventV1, EventSeries};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

    #[test]
    fn core_event_facts() {
        let ev = k8s_openapi::api::core::v1::Event {
            metadata: ObjectMeta {
                name: Some("seid-0.1".into()),
                uid: Some("u1".into()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                name: Some("seid-0".into()),
                ..ObjectReference::default()
            },
            reason: Some("Killing".into()),
            message: Some("Stopping container node".into()),
            type_: Some("Normal".into()),
            count: Some(2),
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: None,
            }),
            ..Default::default()
        };
        let f = EventFacts::from_core(&ev);
        assert_eq!(f.key, "u1");
        assert_eq!(f.occurrences, 2);
        assert_eq!(f.object, "Pod/seid-0");
        assert_eq!(f.reason, "Killing");
        assert_eq!(f.source, "kubelet");
    }

    #[test]
    fn events_v1_facts_count_the_series() {
        let ev = EventV1 {
            metadata: ObjectMeta {
                name: Some("seid.17f".into()),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(jiff::Timestamp::UNIX_EPOCH)),
            regarding: Some(ObjectReference {
                kind: Some("NodeDeployment".into()),
                name: Some("seid".into()),
                ..ObjectReference::default()
            }),
            reason: Some("RolloutStarted".into()),
            note: Some("image sei:v1 → sei:v2".into()),
            type_: Some("Normal".into()),
            reporting_controller: Some("rollout-operator".into()),
            series: Some(EventSeries {
                count: 3,
                last_observed_time: MicroTime(jiff::Timestamp::UNIX_EPOCH),
            }),
            ..Default::default()
        };
        let f = EventFacts::from_events_v1(&ev);
        assert_eq!(f.key, "seid.17f", "falls back to the name without a uid");
        assert_eq!(f.occurrences, 3);
        assert_eq!(f.object, "NodeDeployment/seid");
        assert_eq!(f.message, "image sei:v1 → sei:v2");
        assert_eq!(f.source, "rollout-operator");
    }

    #[test]
    fn occurrences_never_below_one() {
        assert_eq!(occurrences(None, None), 1);
        assert_eq!(occurrences(Some(0), None), 1);
        assert_eq!(occurrences(Some(4), Some(2)), 4);
    }

    #[test]
    fn details_read_like_a_log_line() {
        let e = |what| Entry {
            at: Duration::ZERO,
            object: "NodeDeployment/seid".into(),
            what,
        };
        let changed = e(What::Changed {
            label: "RolloutInProgress".into(),
            from: None,
            to: Some("True".into()),
            note: Some("RolloutStarted".into()),
        });
        assert_eq!(changed.label(), "RolloutInProgress");
        assert_eq!(changed.detail(), "absent → True (RolloutStarted)");
        let warning = e(What::Event {
            reason: "InvalidSpec".into(),
            message: "spec.image is empty".into(),
            type_: "Warning".into(),
            source: "rollout-operator".into(),
        });
        assert_eq!(warning.detail(), "[Warning] spec.image is empty");
        let note = e(What::Note {
            label: "restarted".into(),
            detail: "mid-rollout".into(),
        });
        assert_eq!(
            (note.label(), note.detail().as_str()),
            ("restarted", "mid-rollout")
        );
    }
}
