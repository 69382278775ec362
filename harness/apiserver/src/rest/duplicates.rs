//! JSON bodies parsed as kube-apiserver's strict decoder reads them
//! (sigs.k8s.io/json `UnmarshalStrict`): the last of duplicate keys wins,
//! and each duplicate is reported as `duplicate field "<path>"`, for
//! `fieldValidation` to refuse (Strict) or warn about (Warn). One pass: the
//! value is built while the keys are checked.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Where a value sits, as a chain on the stack (no allocation unless a
/// duplicate is found).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Field(parent, name) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
            Path::Index(parent, i) => {
                parent.render(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

struct Node<'p, 's> {
    path: Path<'p>,
    duplicates: &'s mut Vec<String>,
}

/// Parses a JSON body; returns the value and the paths of duplicate keys,
/// each once, in the order met.
pub(crate) fn parse(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let mut duplicates = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Node {
        path: Path::Root,
        duplicates: &mut duplicates,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((value, duplicates))
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = Path::Index(&self.path, out.len());
            let node = Node {
                path,
                duplicates: &mut *self.duplicates,
            };
            match seq.next_element_seed(node)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = Path::Field(&self.path, &key);
            let value = map.next_value_seed(Node {
                path,
                duplicates: &mut *self.duplicates,
            })?;
            if out.insert(key.clone(), value).is_some() {
                let mut shown = String::new();
                Path::Field(&self.path, &key).render(&mut shown);
                if !self.duplicates.contains(&shown) {
                    self.duplicates.push(shown);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use serde_json::json;

    #[test]
    fn the_last_duplicate_wins_and_each_is_named_by_its_path() {
        let (v, dups) = parse(
            br#"{"metadata":{"name":"a","name":"b"},"spec":{"items":[{"x":1,"x":2}]},"kind":"K","kind":"K"}"#,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"name": "b"}, "spec": {"items": [{"x": 2}]}, "kind": "K"})
        );
        assert_eq!(dups, ["metadata.name", "spec.items[0].x", "kind"]);
    }

    #[test]
    fn numbers_and_errors_read_as_serde_json_reads_them() {
        let (v, dups) =
            parse(br#"{"a": 1, "b": -2, "c": 1.5, "d": 18446744073709551615}"#).unwrap();
        assert_eq!(
            v,
            serde_json::from_str::<serde_json::Value>(
                r#"{"a": 1, "b": -2, "c": 1.5, "d": 18446744073709551615}"#
            )
            .unwrap()
        );
        assert!(dups.is_empty());
        assert!(parse(b"{\"a\": 1} trailing").is_err());
    }
}
