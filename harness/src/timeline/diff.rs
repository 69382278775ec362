//! Which tracked values changed between two versions of an object. Works on
//! JSON so any kind (built-in or custom) can be tracked the same way.

use kube_harness_assert::matchers::FieldPath;
use serde_json::Value;

/// What to watch on tracked objects: `status.phase` and `status.conditions`
/// by default, plus any fields named with [`Track::field`].
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub(crate) name: Option<String>,
    pub(crate) phase: bool,
    pub(crate) conditions: bool,
    pub(crate) fields: Vec<(String, FieldPath)>,
}

impl Track {
    /// Every object of the kind in the namespace.
    pub fn all() -> Self {
        Self {
            name: None,
            phase: true,
            conditions: true,
            fields: Vec::new(),
        }
    }

    /// Only the object called `name`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::all()
        }
    }

    /// Also record changes of the field at `path`, in the path language of
    /// [`field`](kube_harness_assert::matchers::field)
    /// (`status.rollout.startedAt`, `spec.template.spec.containers[0].image`,
    /// `status.conditions[type=Ready].reason`).
    ///
    /// # Panics
    /// When `path` does not parse (the message says where).
    pub fn field(self, path: &str) -> Self {
        self.field_as(path, path)
    }

    /// Like [`Track::field`], shown under `label` (`spec.image` for a long path).
    ///
    /// # Panics
    /// When `path` does not parse (the message says where).
    pub fn field_as(mut self, label: &str, path: &str) -> Self {
        let parsed = FieldPath::parse(path).unwrap_or_else(|e| panic!("Track::field_as: {e}"));
        self.fields.push((label.to_string(), parsed));
        self
    }

    /// Do not record `status.phase` changes.
    pub fn without_phase(mut self) -> Self {
        self.phase = false;
        self
    }

    /// Do not record condition changes.
    pub fn without_conditions(mut self) -> Self {
        self.conditions = false;
        self
    }

    pub(crate) fn wants(&self, name: &str) -> bool {
        self.name.as_deref().is_none_or(|n| n == name)
    }
}

/// One changed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `phase`, a condition type, or a field label.
    pub label: String,
    /// Before (`None`: absent).
    pub from: Option<String>,
    /// After (`None`: absent).
    pub to: Option<String>,
    /// A condition's reason after the change.
    pub note: Option<String>,
}

/// The value at `path` (see [`Track::field`]), or `None` when absent or null.
fn lookup<'a>(value: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.resolve(Some(value)).filter(|v| !v.is_null())
}

fn lookup_str<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    lookup(value, &FieldPath::parse(path).expect("a fixed, valid path"))
}

/// A value as a timeline shows it: strings bare, everything else as JSON.
pub(super) fn show(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn conditions(obj: &Value) -> Vec<(String, Option<String>, Option<String>)> {
    lookup_str(obj, "status.conditions")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| {
                    let type_ = c.get("type")?.as_str()?.to_string();
                    let status = show(c.get("status"));
                    let reason = show(c.get("reason"));
                    Some((type_, status, reason))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The tracked values that differ between `old` and `new` (`Value::Null`
/// for "not seen before"), in a stable order: phase, conditions (in the
/// new object's order, then removed ones), fields (in the order tracked).
pub fn diff(old: &Value, new: &Value, track: &Track) -> Vec<Change> {
    let mut out = Vec::new();
    if track.phase {
        let (from, to) = (
            show(lookup_str(old, "status.phase")),
            show(lookup_str(new, "status.phase")),
        );
        if from != to {
            out.push(Change {
                label: "phase".into(),
                from,
                to,
                note: None,
            });
        }
    }
    if track.conditions {
        let before = conditions(old);
        let after = conditions(new);
        for (type_, status, reason) in &after {
            let prev = before.iter().find(|(t, ..)| t == type_);
            let (prev_status, prev_reason) = prev
                .map(|(_, s, r)| (s.clone(), r.clone()))
                .unwrap_or((None, None));
            if prev_status != *status || prev_reason != *reason {
                out.push(Change {
                    label: type_.clone(),
                    from: prev_status,
                    to: status.clone(),
                    note: reason.clone(),
                });
            }
        }
        for (type_, status, _) in &before {
            if !after.iter().any(|(t, ..)| t == type_) {
                out.push(Change {
                    label: type_.clone(),
                    from: status.clone(),
                    to: None,
                    note: None,
                });
            }
        }
    }
    for (label, path) in &track.fields {
        let (from, to) = (show(lookup(old, path)), show(lookup(new, path)));
        if from != to {
            out.push(Change {
                label: label.clone(),
                from,
                to,
                note: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nd(phase: &str, rip: (&str, &str), started: Option<&str>) -> Value {
        json!({
            "spec": {"image": "sei:v2"},
            "status": {
                "phase": phase,
                "rollout": started.map(|s| json!({"startedAt": s})),
                "conditions": [
                    {"type": "RolloutInProgress", "status": rip.0, "reason": rip.1},
                    {"type": "NodesReady", "status": "True", "reason": "AllNodesReady"}
                ]
            }
        })
    }

    #[test]
    fn first_sighting_reports_every_tracked_value() {
        let track = Track::named("seid").field("status.rollout.startedAt");
        let changes = diff(
            &Value::Null,
            &nd("Ready", ("False", "NoRollout"), None),
            &track,
        );
        let labels: Vec<&str> = changes.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["phase", "RolloutInProgress", "NodesReady"]);
        assert_eq!(changes[0].from, None);
        assert_eq!(changes[0].to.as_deref(), Some("Ready"));
    }

    #[test]
    fn only_changed_values_are_reported() {
        let track = Track::all().field("status.rollout.startedAt");
        let old = nd("Ready", ("False", "NoRollout"), None);
        let new = nd(
            "Upgrading",
            ("True", "RolloutStarted"),
            Some("2026-11-23T10:00:00Z"),
        );
        let changes = diff(&old, &new, &track);
        assert_eq!(
            changes,
            [
                Change {
                    label: "phase".into(),
                    from: Some("Ready".into()),
                    to: Some("Upgrading".into()),
                    note: None
                },
                Change {
                    label: "RolloutInProgress".into(),
                    from: Some("False".into()),
                    to: Some("True".into()),
                    note: Some("RolloutStarted".into())
                },
                Change {
                    label: "status.rollout.startedAt".into(),
                    from: None,
                    to: Some("2026-11-23T10:00:00Z".into()),
                    note: None
                },
            ]
        );
        assert!(diff(&new, &new, &track).is_empty());
    }

    #[test]
    fn reason_only_change_and_removed_condition() {
        let track = Track::all().without_phase();
        let old = nd("Ready", ("False", "NoRollout"), None);
        let new = nd("Ready", ("False", "RolloutComplete"), None);
        let changes = diff(&old, &new, &track);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].note.as_deref(), Some("RolloutComplete"));

        let gone = json!({"status": {"conditions": []}});
        let changes = diff(&old, &gone, &track.without_conditions());
        assert!(changes.is_empty(), "conditions not tracked");
        let changes = diff(&old, &gone, &Track::all().without_phase());
        assert_eq!(changes.len(), 2);
        assert!(changes.iter().all(|c| c.to.is_none()));
    }

    #[test]
    fn lookup_walks_objects_and_lists() {
        let v = json!({"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}, "x": null});
        assert_eq!(
            lookup_str(&v, "spec.containers[1].image"),
            Some(&json!("b"))
        );
        assert_eq!(lookup_str(&v, "spec.containers[7].image"), None);
        assert_eq!(
            lookup_str(&v, "spec.containers[name=a].image"),
            Some(&json!("a"))
        );
        assert_eq!(lookup_str(&v, "x"), None, "null reads as absent");
        assert_eq!(show(Some(&json!(3))).as_deref(), Some("3"));
    }

    #[test]
    fn named_track_filters() {
        assert!(Track::named("seid").wants("seid"));
        assert!(!Track::named("seid").wants("other"));
        assert!(Track::all().wants("anything"));
    }
}
