//! `metadata.managedFields` entries: who owns which fields, and how the
//! server records writes that are not applies (`Update` operations).

use serde_json::{Map, Value, json};

use super::PatchContext;
use super::fields::{FieldSet, lookup};

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

pub const APPLY: &str = "Apply";
pub const UPDATE: &str = "Update";

impl Entry {
    pub fn new(manager: &str, operation: &str, ctx: &PatchContext) -> Entry {
        Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            api_version: ctx.api_version.clone(),
            time: Some(whole_seconds(&ctx.now)),
            subresource: ctx.subresource.clone(),
            fields: FieldSet::default(),
        }
    }

    /// Whether `other` is the same manager as upstream identifies them: an
    /// applier is one manager whatever apiVersion it applies with, an updater
    /// is one per apiVersion.
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == APPLY || self.api_version == other.api_version)
    }

    /// How conflict messages name this manager, e.g. `"kubectl" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == UPDATE {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Entry {
            manager: s("manager").unwrap_or_default(),
            operation: s("operation")?,
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource").filter(|s| !s.is_empty()),
            fields: v
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        // `manager` is omitempty upstream: a client with neither
        // ?fieldManager= nor a User-Agent (kube-rs sends none) gets an
        // entry without one.
        if !self.manager.is_empty() {
            m.insert("manager".into(), json!(self.manager));
        }
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        Value::Object(m)
    }
}

/// managedFields times have second precision upstream.
fn whole_seconds(t: &str) -> String {
    match (t.find('.'), t.ends_with('Z')) {
        (Some(dot), true) => format!("{}Z", &t[..dot]),
        _ => t.to_owned(),
    }
}

/// The entries of `obj`; malformed ones are skipped.
pub fn read(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Entry::from_json).collect())
        .unwrap_or_default()
}

/// Writes `entries` into `obj`, dropping managers that own nothing and
/// sorting as kube-apiserver does (Apply before Update, then by time).
pub fn write(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.0.is_empty());
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(meta) = metadata_mut(obj) else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_json).collect()),
        );
    }
}

pub fn metadata_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    map.entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Records a write that is not an apply (create, update, any non-apply
/// patch) made by `manager`: the fields it changed become its own, taken
/// from whoever owned them, and fields it removed are owned by nobody.
/// Returns `after` with its `managedFields` set, as kube-apiserver stores it.
///
/// A client may send `managedFields` itself: leaving them out (or `[]`) keeps
/// the stored ones, `[{}]` clears them all, anything else replaces them.
pub fn record_update(
    before: Option<&Value>,
    after: &Value,
    manager: &str,
    ctx: &PatchContext,
) -> Value {
    let mut out = after.clone();
    let sent = after.pointer("/metadata/managedFields");
    let stored = before.and_then(|b| b.pointer("/metadata/managedFields"));
    let mut entries = match sent {
        Some(Value::Array(items)) if !items.is_empty() && sent != stored => {
            if items
                .iter()
                .all(|i| i.as_object().is_some_and(Map::is_empty))
            {
                if let Some(meta) = metadata_mut(&mut out) {
                    meta.remove("managedFields");
                }
                return out;
            }
            read(after)
        }
        _ => before.map(read).unwrap_or_default(),
    };

    let shape = ctx.shape();
    let before_set = before
        .map(|b| FieldSet::of_object(b, shape))
        .unwrap_or_default();
    let after_set = FieldSet::of_object(after, shape);
    let mut changed = FieldSet::default();
    for p in &after_set.0 {
        let old = before.and_then(|b| lookup(b, p));
        if old != lookup(after, p) && (old.is_none() || after_set.is_leaf(p)) {
            changed.0.insert(p.clone());
        }
    }
    let removed: Vec<_> = before_set.0.difference(&after_set.0).cloned().collect();

    let me = Entry::new(manager, UPDATE, ctx);
    for e in &mut entries {
        for p in &removed {
            e.fields.0.remove(p);
        }
        if !e.same_manager(&me) {
            for p in &changed.0 {
                e.fields.0.remove(p);
            }
        }
    }
    if !changed.0.is_empty() {
        match entries.iter_mut().find(|e| e.same_manager(&me)) {
            Some(e) => {
                e.fields.0.extend(changed.0);
                e.time = me.time.clone();
            }
            None => entries.push(Entry {
                fields: changed,
                ..me
            }),
        }
    }
    write(&mut out, entries);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(now: &str) -> PatchContext {
        PatchContext {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            now: now.into(),
            ..Default::default()
        }
    }

    #[test]
    fn create_records_every_field_for_the_creator() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"k": "v"}});
        let out = record_update(
            None,
            &cm,
            "kubectl-create",
            &ctx("2024-05-01T10:00:00.123Z"),
        );
        assert_eq!(
            out["metadata"]["managedFields"],
            json!([{
                "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
                "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}
            }])
        );
    }

    #[test]
    fn an_update_takes_changed_fields_and_drops_removed_ones() {
        let v1 = json!({"metadata": {"name": "c"}, "data": {"k": "v", "gone": "x"}});
        let v1 = record_update(None, &v1, "creator", &ctx("2024-05-01T10:00:00Z"));
        let mut v2 = v1.clone();
        v2["data"] = json!({"k": "changed"});
        let v2 = record_update(Some(&v1), &v2, "editor", &ctx("2024-05-01T11:00:00Z"));
        let entries = read(&v2);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].manager, "creator");
        assert_eq!(entries[0].fields.to_fields_v1(), json!({"f:data": {}}));
        assert_eq!(entries[1].manager, "editor");
        assert_eq!(
            entries[1].fields.to_fields_v1(),
            json!({"f:data": {"f:k": {}}})
        );
    }

    #[test]
    fn a_client_can_clear_managed_fields() {
        let v1 = record_update(
            None,
            &json!({"metadata": {"name": "c"}, "data": {"k": "v"}}),
            "m",
            &ctx("t"),
        );
        let mut v2 = v1.clone();
        v2["metadata"]["managedFields"] = json!([{}]);
        let v2 = record_update(Some(&v1), &v2, "m", &ctx("t"));
        assert!(v2["metadata"].get("managedFields").is_none());
        let mut v3 = v1.clone();
        v3["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        let v3 = record_update(Some(&v1), &v3, "m", &ctx("t"));
        assert_eq!(
            v3["metadata"]["managedFields"], v1["metadata"]["managedFields"],
            "omitted keeps them"
        );
    }
}
