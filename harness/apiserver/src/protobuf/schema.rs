//! The message table `cargo xtask protobuf-schema` derives from the
//! Kubernetes sources (`schema.txt`), read once on the first protobuf body.
//!
//! A table rather than generated types: the server stores JSON, so what it
//! needs from each field is its number, JSON name and type, not a struct.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Scalar {
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
pub(super) enum Type {
    Scalar(Scalar),
    Message(&'static str),
}

#[derive(Debug)]
pub(super) struct Field {
    /// `None`: the Go field is inlined (`json:",inline"`), so the nested
    /// message's fields belong to this object.
    pub json: Option<&'static str>,
    pub ty: Type,
    pub repeated: bool,
    /// `map<K, V>`: the key type (`ty` is `V`).
    pub map_key: Option<Scalar>,
    /// A zero scalar is written to JSON (a Go pointer, or no `omitempty`).
    pub keep_zero: bool,
}

#[derive(Debug, Default)]
pub(super) struct Message {
    /// A Go slice type wrapped in a message of one `items` field
    /// (`+protobuf.nullable=true`); JSON has the bare list.
    pub list: bool,
    pub fields: HashMap<u32, Field>,
}

pub(super) struct Schema {
    messages: HashMap<&'static str, Message>,
    /// (group, version) → proto package; the core group is `""`.
    packages: HashMap<(&'static str, &'static str), &'static str>,
}

impl Schema {
    pub(super) fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| parse(include_str!("schema.txt")))
    }

    pub(super) fn message(&self, name: &str) -> Option<&Message> {
        self.messages.get(name)
    }

    /// The message for `kind` in an `apiVersion`: the group version's own
    /// package, else meta/v1, whose kinds (DeleteOptions, …) every group
    /// version registers.
    pub(super) fn kind(&self, api_version: &str, kind: &str) -> Option<String> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        [self.packages.get(&(group, version)).copied(), Some(META)]
            .into_iter()
            .flatten()
            .map(|package| format!("{package}.{kind}"))
            .find(|name| self.messages.contains_key(name.as_str()))
    }
}

pub(super) const META: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

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
                    keep_zero: rest.contains(&"keep"),
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
    Schema { messages, packages }
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
