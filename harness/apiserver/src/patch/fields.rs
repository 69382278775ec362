//! Field sets: which fields of an object a manager owns, in the `fieldsV1`
//! format kube-apiserver writes into `metadata.managedFields`.
//!
//! A path is a list of elements spelled as upstream spells them: `f:name`
//! for a struct or map field, `k:{"name":"app"}` for a list item found by its
//! merge keys, `v:"x"` for an item of a set of scalars, `i:3` for an index.
//! Keeping that spelling as the in-memory form means encoding and decoding
//! `fieldsV1` is a tree walk, and sets of paths are plain `BTreeSet`s.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::lists::{ListKind, is_granular_map, list_kind};

/// One path into an object, as `fieldsV1` path elements.
pub type FieldPath = Vec<String>;

/// Which part of an object a write may own: the main resource never owns
/// `status` when the kind has a status subresource, and the `/status`
/// subresource owns nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Every field except server-owned metadata.
    All,
    /// Everything but `status` (main resource of a kind with `/status`).
    NoStatus,
    /// Only `status` (the `/status` subresource).
    StatusOnly,
}

/// What a field-set walk needs to know about the object's type.
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    pub kind: &'a str,
    pub is_custom: bool,
    pub section: Section,
}

/// Metadata the server owns; no manager ever owns these.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// A set of owned fields. Every member path is stored; a list item or a
/// free-form map is a member itself as well as its children (the `.` entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<FieldPath>);

impl FieldSet {
    /// Every field set in `obj`.
    pub fn of_object(obj: &Value, shape: Shape<'_>) -> FieldSet {
        let mut set = FieldSet::default();
        let Value::Object(map) = obj else {
            return set;
        };
        for (key, value) in map {
            let keep = match key.as_str() {
                "apiVersion" | "kind" => false,
                "status" => shape.section != Section::NoStatus,
                _ => shape.section != Section::StatusOnly,
            };
            if !keep || value.is_null() {
                continue;
            }
            let mut names = vec![key.clone()];
            let mut path = vec![format!("f:{key}")];
            if key == "metadata" {
                if let Value::Object(meta) = value {
                    for (mk, mv) in meta {
                        if SERVER_METADATA.contains(&mk.as_str()) || mv.is_null() {
                            continue;
                        }
                        names.push(mk.clone());
                        path.push(format!("f:{mk}"));
                        set.walk(mv, &mut names, &mut path, shape);
                        names.pop();
                        path.pop();
                    }
                }
                continue;
            }
            set.walk(value, &mut names, &mut path, shape);
        }
        set
    }

    fn walk(&mut self, value: &Value, names: &mut Vec<String>, path: &mut FieldPath, shape: Shape) {
        match value {
            Value::Object(map) => {
                if map.is_empty() || (!shape.is_custom && is_granular_map(shape.kind, names)) {
                    self.0.insert(path.clone());
                }
                for (k, v) in map {
                    if v.is_null() {
                        continue;
                    }
                    names.push(k.clone());
                    path.push(format!("f:{k}"));
                    self.walk(v, names, path, shape);
                    names.pop();
                    path.pop();
                }
            }
            Value::Array(items) => match list_kind(shape.kind, names, shape.is_custom) {
                ListKind::Set if items.iter().all(is_scalar) => {
                    self.0.insert(path.clone());
                    for item in items {
                        let mut p = path.clone();
                        p.push(format!("v:{item}"));
                        self.0.insert(p);
                    }
                }
                ListKind::Map(keys) if items.iter().all(|i| item_key(i, keys).is_some()) => {
                    if items.is_empty() {
                        self.0.insert(path.clone());
                    }
                    for item in items {
                        path.push(item_key(item, keys).unwrap_or_default());
                        self.0.insert(path.clone());
                        if let Value::Object(fields) = item {
                            for (k, v) in fields {
                                if v.is_null() {
                                    continue;
                                }
                                names.push(k.clone());
                                path.push(format!("f:{k}"));
                                self.walk(v, names, path, shape);
                                names.pop();
                                path.pop();
                            }
                        }
                        path.pop();
                    }
                }
                _ => {
                    self.0.insert(path.clone());
                }
            },
            _ => {
                self.0.insert(path.clone());
            }
        }
    }

    /// Whether `path` or anything below it is in the set.
    pub fn covers(&self, path: &FieldPath) -> bool {
        self.0
            .range(path.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(path))
    }

    /// Whether `path` is in the set with nothing below it.
    pub fn is_leaf(&self, path: &FieldPath) -> bool {
        let mut after = self.0.range(path.clone()..);
        after.next() == Some(path) && !after.next().is_some_and(|p| p.starts_with(path))
    }

    /// `fieldsV1`: a tree of path elements, `.` marking a member that also
    /// has children.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: BTreeMap<String, Node>,
        }
        fn render(node: &Node) -> Value {
            let mut out = Map::new();
            if node.member && !node.children.is_empty() {
                out.insert(".".into(), Value::Object(Map::new()));
            }
            for (k, child) in &node.children {
                out.insert(k.clone(), render(child));
            }
            Value::Object(out)
        }
        let mut root = Node::default();
        for path in &self.0 {
            let mut node = &mut root;
            for el in path {
                node = node.children.entry(el.clone()).or_default();
            }
            node.member = true;
        }
        render(&root)
    }

    /// Reads `fieldsV1`; anything that is not a tree of objects is ignored,
    /// since a malformed entry should not make the object unwritable.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        fn read(v: &Value, path: &mut FieldPath, set: &mut FieldSet) {
            let Value::Object(map) = v else { return };
            for (k, child) in map {
                if k == "." {
                    set.0.insert(path.clone());
                    continue;
                }
                path.push(k.clone());
                if child.as_object().is_some_and(Map::is_empty) {
                    set.0.insert(path.clone());
                } else {
                    read(child, path, set);
                }
                path.pop();
            }
        }
        let mut set = FieldSet::default();
        read(v, &mut Vec::new(), &mut set);
        set
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// `k:{...}` for a list item, with its merge-key fields in name order as
/// upstream prints them (an omitted key field at its default); `None` when
/// the item has no scalar value for the first key.
pub(crate) fn item_key(item: &Value, keys: &[&str]) -> Option<String> {
    item.as_object()?;
    // Without its first key an item is not keyed (upstream refuses it).
    given_key_field(item, keys[0])?;
    let mut sorted: Vec<&str> = keys.to_vec();
    sorted.sort_unstable();
    let mut key = Map::new();
    for k in sorted {
        if let Some(v) = key_field(item, k) {
            key.insert(k.to_owned(), v);
        }
    }
    Some(format!("k:{}", Value::Object(key)))
}

/// A key field's value as the list item gives it (a non-null scalar).
fn given_key_field<'a>(item: &'a Value, field: &str) -> Option<&'a Value> {
    item.get(field).filter(|v| is_scalar(v) && !v.is_null())
}

/// A key field's value in a list item, its default when the item omits it.
fn key_field(item: &Value, field: &str) -> Option<Value> {
    match given_key_field(item, field) {
        Some(v) => Some(v.clone()),
        None => super::lists::key_default(field).map(Value::from),
    }
}

/// Whether a list item matches a `k:`, `v:` or `i:` element.
fn item_matches(el: &str, index: usize, item: &Value) -> bool {
    if let Some(key) = el.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
            return false;
        };
        !key.is_empty()
            && key
                .iter()
                .all(|(k, v)| key_field(item, k).as_ref() == Some(v))
    } else if let Some(v) = el.strip_prefix("v:") {
        serde_json::from_str::<Value>(v).is_ok_and(|v| &v == item)
    } else if let Some(i) = el.strip_prefix("i:") {
        i.parse::<usize>() == Ok(index)
    } else {
        false
    }
}

/// The value at `path` in `obj`.
pub fn lookup<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for el in path {
        cur = match el.strip_prefix("f:") {
            Some(name) => cur.as_object()?.get(name)?,
            None => {
                let items = cur.as_array()?;
                items
                    .iter()
                    .enumerate()
                    .find(|(i, item)| item_matches(el, *i, item))?
                    .1
            }
        };
    }
    Some(cur)
}

/// Removes the value at `path` from `obj`; no-op when it is not there.
pub fn remove(obj: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for el in parent {
        let next = match el.strip_prefix("f:") {
            Some(name) => cur.as_object_mut().and_then(|m| m.get_mut(name)),
            None => cur.as_array_mut().and_then(|items| {
                items
                    .iter_mut()
                    .enumerate()
                    .find(|(i, item)| item_matches(el, *i, item))
                    .map(|(_, item)| item)
            }),
        };
        let Some(next) = next else { return };
        cur = next;
    }
    match last.strip_prefix("f:") {
        Some(name) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(name);
            }
        }
        None => {
            if let Some(items) = cur.as_array_mut() {
                let mut i = 0;
                items.retain(|item| {
                    let keep = !item_matches(last, i, item);
                    i += 1;
                    keep
                });
            }
        }
    }
}

/// A path as kube-apiserver prints it in conflict messages, e.g.
/// `.spec.containers[name="app"].image` or `.metadata.finalizers[="x"]`.
pub fn display(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if let Some(name) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = el.strip_prefix("k:") {
            let parts: Vec<String> = match serde_json::from_str::<Value>(key) {
                Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                _ => vec![key.to_owned()],
            };
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = el.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const POD: Shape = Shape {
        kind: "Pod",
        is_custom: false,
        section: Section::All,
    };

    #[test]
    fn fields_v1_has_upstream_shape() {
        let obj = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["x"]},
            "spec": {"containers": [{"name": "app", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}
        });
        let set = FieldSet::of_object(&obj, POD);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {
                    "f:finalizers": {".": {}, "v:\"x\"": {}},
                    "f:labels": {".": {}, "f:app": {}}
                },
                "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                    ".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                        ".": {}, "f:containerPort": {}, "f:protocol": {}
                    }}
                }}}
            })
        );
        assert_eq!(
            FieldSet::from_fields_v1(&set.to_fields_v1()),
            set,
            "round trip"
        );
    }

    #[test]
    fn lookup_remove_and_display_follow_keys() {
        let mut obj = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        let path: FieldPath = vec![
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"b\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(lookup(&obj, &path), Some(&json!("2")));
        assert_eq!(display(&path), ".spec.containers[name=\"b\"].image");
        remove(&mut obj, &path[..3]);
        assert_eq!(
            obj,
            json!({"spec": {"containers": [{"name": "a", "image": "1"}]}})
        );
    }

    #[test]
    fn list_items_are_keyed_by_their_first_key_and_defaults() {
        let ports = ["containerPort", "protocol"];
        assert_eq!(
            item_key(&json!({"containerPort": 80}), &ports).as_deref(),
            Some(r#"k:{"containerPort":80,"protocol":"TCP"}"#),
            "an omitted protocol is keyed by its default"
        );
        // No first key: the item is not keyed, and an empty key matches
        // nothing (it would otherwise match, and remove, every item).
        assert_eq!(
            item_key(&json!({"name": null, "value": "x"}), &["name"]),
            None
        );
        assert_eq!(item_key(&json!({"protocol": "UDP"}), &ports), None);
        let mut env = json!({"env": [{"name": "A"}, {"name": "B"}]});
        remove(&mut env, &["f:env".into(), "k:{}".into()]);
        assert_eq!(env, json!({"env": [{"name": "A"}, {"name": "B"}]}));
        let udp = json!({"containerPort": 80, "protocol": "UDP"});
        assert!(!item_matches(
            r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            0,
            &udp
        ));
        assert!(item_matches(
            r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            0,
            &json!({"containerPort": 80})
        ));
    }

    #[test]
    fn status_section_is_split_from_the_rest() {
        let obj = json!({"spec": {"replicas": 1}, "status": {"phase": "Running"}});
        let main = FieldSet::of_object(
            &obj,
            Shape {
                section: Section::NoStatus,
                ..POD
            },
        );
        let status = FieldSet::of_object(
            &obj,
            Shape {
                section: Section::StatusOnly,
                ..POD
            },
        );
        assert_eq!(main.to_fields_v1(), json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(status.to_fields_v1(), json!({"f:status": {"f:phase": {}}}));
    }
}
