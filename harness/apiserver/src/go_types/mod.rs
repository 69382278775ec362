//! The built-in Go types as a table (`table.txt`, which `cargo xtask
//! go-types` derives from the Kubernetes sources), read once on first use.
//!
//! A table rather than generated types: the server stores JSON, so what it
//! needs from each field is its number, JSON name, type and Go tags (for
//! reading protobuf, and for pruning JSON as Go's decoding would), not a
//! struct.

mod prune;

pub(crate) use prune::{Seg, dotted, prune};

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    UInt32,
    UInt64,
    Double,
    Float,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Type {
    Scalar(Scalar),
    Message(&'static str),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// `None`: the Go field is inlined (`json:",inline"`), so the nested
    /// message's fields belong to this object.
    pub json: Option<&'static str>,
    pub ty: Type,
    pub repeated: bool,
    /// `map<K, V>`: the key type (`ty` is `V`).
    pub map_key: Option<Scalar>,
    /// A Go pointer: set or nil, so a zero value is a value.
    pub pointer: bool,
    /// `omitempty`: Go's JSON leaves out zero scalars, empty lists and
    /// maps, and nil pointers.
    pub omitempty: bool,
}

impl Field {
    /// Go writes a zero scalar of this field to JSON.
    pub(crate) fn keeps_zero(&self) -> bool {
        self.pointer || !self.omitempty
    }
}

#[derive(Debug, Default)]
pub(crate) struct Message {
    /// A Go slice type wrapped in a message of one `items` field
    /// (`+protobuf.nullable=true`); JSON has the bare list.
    pub list: bool,
    pub fields: HashMap<u32, Field>,
    /// By JSON name, with inlined structs' fields in place.
    pub by_json: HashMap<&'static str, Field>,
}

pub(crate) struct Schema {
    messages: HashMap<&'static str, Message>,
    /// (group, version) → proto package; the core group is `""`.
    packages: HashMap<(&'static str, &'static str), &'static str>,
}

impl Schema {
    pub(crate) fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| parse(include_str!("table.txt")))
    }

    pub(crate) fn message(&self, name: &str) -> Option<&Message> {
        self.messages.get(name)
    }

    /// The message for `kind` in an `apiVersion`: the group version's own
    /// package, else meta/v1, whose kinds (DeleteOptions, …) every group
    /// version registers.
    pub(crate) fn kind(&self, api_version: &str, kind: &str) -> Option<String> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        [self.packages.get(&(group, version)).copied(), Some(META)]
            .into_iter()
            .flatten()
            .map(|package| format!("{package}.{kind}"))
            .find(|name| self.messages.contains_key(name.as_str()))
    }
}

pub(crate) const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

// apimachinery's hand-written types: on the wire a message, in JSON a
// string, number or raw object of their own format.
pub(crate) const TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Time";
pub(crate) const MICRO_TIME: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime";
pub(crate) const DURATION: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.Duration";
pub(crate) const FIELDS_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1";
pub(crate) const QUANTITY: &str = "k8s.io.apimachinery.pkg.api.resource.Quantity";
pub(crate) const INT_OR_STRING: &str = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
pub(crate) const RAW_EXTENSION: &str = "k8s.io.apimachinery.pkg.runtime.RawExtension";

/// Whether a message's JSON is its own format rather than an object of its
/// fields.
pub(crate) fn is_opaque(name: &str) -> bool {
    [
        TIME,
        MICRO_TIME,
        DURATION,
        FIELDS_V1,
        QUANTITY,
        INT_OR_STRING,
        RAW_EXTENSION,
    ]
    .contains(&name)
}

/// A zero scalar, which `omitempty` leaves out of Go's JSON.
pub(crate) fn is_zero(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn scalar(word: &str) -> Option<Scalar> {
    Some(match word {
        "string" => Scalar::String,
        "bytes" => Scalar::Bytes,
        "bool" => Scalar::Bool,
        "int32" => Scalar::Int32,
        "int64" => Scalar::Int64,
        "uint32" => Scalar::UInt32,
        "uint64" => Scalar::UInt64,
        "double" => Scalar::Double,
        "float" => Scalar::Float,
        _ => return None,
    })
}

/// The table is generated and checked in, so a line it cannot read is a bug
/// in the generator: the unit test below reads the whole table.
fn parse(text: &'static str) -> Schema {
    let mut messages = HashMap::new();
    let mut packages = HashMap::new();
    let mut current: Option<(&'static str, Message)> = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&'static str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["P", package, group, version] => {
                let group = if *group == "core" { "" } else { group };
                packages.insert((group, *version), *package);
            }
            ["M", name, rest @ ..] => {
                if let Some((n, m)) = current.take() {
                    messages.insert(n, m);
                }
                let message = Message {
                    list: rest.contains(&"list"),
                    ..Message::default()
                };
                current = Some((name, message));
            }
            ["F", number, json, ty, rest @ ..] => {
                let (_, message) = current
                    .as_mut()
                    .expect("a field line follows a message line");
                let field = Field {
                    json: (*json != "-").then_some(*json),
                    ty: scalar(ty).map_or(Type::Message(ty), Type::Scalar),
                    repeated: rest.contains(&"rep"),
                    map_key: rest
                        .iter()
                        .find_map(|w| w.strip_prefix("map="))
                        .map(|k| scalar(k).expect("map keys are scalars")),
                    pointer: rest.contains(&"ptr"),
                    omitempty: rest.contains(&"omit"),
                };
                let number = number.parse().expect("field numbers are integers");
                message.fields.insert(number, field);
            }
            _ => panic!("unreadable protobuf schema line: {line}"),
        }
    }
    if let Some((n, m)) = current.take() {
        messages.insert(n, m);
    }
    let names: Vec<&'static str> = messages.keys().copied().collect();
    for name in names {
        let mut by_json = HashMap::new();
        json_fields(&messages, name, &mut by_json, 0);
        messages.get_mut(name).expect("listed").by_json = by_json;
    }
    Schema { messages, packages }
}

/// A message's fields by JSON name; an inlined struct's fields join its
/// parent's (Volume's VolumeSource, Probe's ProbeHandler).
fn json_fields(
    messages: &HashMap<&'static str, Message>,
    name: &str,
    out: &mut HashMap<&'static str, Field>,
    depth: usize,
) {
    let Some(message) = messages.get(name) else {
        return;
    };
    for field in message.fields.values() {
        match (field.json, field.ty) {
            (Some(json), _) => {
                out.insert(json, *field);
            }
            (None, Type::Message(inner)) if depth < 8 => {
                json_fields(messages, inner, out, depth + 1)
            }
            (None, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_table_reads_and_names_the_served_kinds() {
        let schema = Schema::get();
        assert!(schema.messages.len() > 1000, "{}", schema.messages.len());
        for (api_version, kind) in [
            ("v1", "Pod"),
            ("apps/v1", "Deployment"),
            ("batch/v1", "CronJob"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            ("policy/v1", "PodDisruptionBudget"),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            ("apiregistration.k8s.io/v1", "APIService"),
            ("apps/v1", "DeleteOptions"),
        ] {
            assert!(
                schema.kind(api_version, kind).is_some(),
                "{api_version} {kind}"
            );
        }
        assert_eq!(schema.kind("apps/v1", "Pod"), None);
        // Every message a field names is in the table.
        for message in schema.messages.values() {
            for field in message.fields.values() {
                if let Type::Message(name) = field.ty {
                    assert!(schema.messages.contains_key(name), "{name}");
                }
            }
        }
    }
}
