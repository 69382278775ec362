//! Field paths as Kubernetes users write them: `status.conditions[type=Ready].status`.
//!
//! The path addresses the *serialized* form (serde_json), so it uses the
//! JSON names (`readyReplicas`), exactly what `kubectl get -o jsonpath` shows.

use serde_json::Value;
use std::fmt;

/// Why a field path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path has an empty segment, e.g. `status..phase` or a trailing dot.
    #[error("field path `{path}`: empty segment at byte {at}")]
    EmptySegment {
        /// The whole path as given.
        path: String,
        /// Byte offset of the empty segment.
        at: usize,
    },
    /// A `[` without its `]`.
    #[error("field path `{path}`: `[` at byte {at} is never closed")]
    Unclosed {
        /// The whole path as given.
        path: String,
        /// Byte offset of the `[`.
        at: usize,
    },
    /// Something between brackets that is neither an index, a quoted key nor `key=value`.
    #[error(
        "field path `{path}`: `[{inner}]` is not an index, a quoted key or a key=value selector"
    )]
    BadBracket {
        /// The whole path as given.
        path: String,
        /// What was between the brackets.
        inner: String,
    },
}

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key: `status`, or `["app.kubernetes.io/name"]`.
    Key(String),
    /// A list index: `[0]`.
    Index(usize),
    /// The first list element whose `key` equals `value`: `[type=Ready]`.
    Select {
        /// Field of the element to compare.
        key: String,
        /// Expected value, compared with the element's field as text.
        value: String,
    },
}

/// A parsed path; [`FieldPath::resolve`] walks a JSON value along it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

impl FieldPath {
    /// Parses `a.b[0].c[type=Ready]["x.y/z"]`. The empty string is the value itself.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let mut segments = Vec::new();
        let bytes = path.as_bytes();
        let mut i = 0;
        let mut expect_key = true; // at start or after a dot
        while i < bytes.len() {
            match bytes[i] {
                b'[' => {
                    let close = find_close(path, i).ok_or_else(|| PathError::Unclosed {
                        path: path.to_string(),
                        at: i,
                    })?;
                    segments.push(parse_bracket(path, &path[i + 1..close])?);
                    i = close + 1;
                    expect_key = false;
                }
                b'.' if !expect_key => {
                    i += 1;
                    expect_key = true;
                    if i == bytes.len() || bytes[i] == b'.' {
                        return Err(PathError::EmptySegment {
                            path: path.to_string(),
                            at: i,
                        });
                    }
                }
                _ => {
                    let end = path[i..].find(['.', '[']).map_or(path.len(), |off| i + off);
                    if end == i {
                        return Err(PathError::EmptySegment {
                            path: path.to_string(),
                            at: i,
                        });
                    }
                    segments.push(Segment::Key(path[i..end].to_string()));
                    i = end;
                    expect_key = false;
                }
            }
        }
        Ok(Self {
            text: path.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed steps.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The value at this path, or `None` when any step is missing.
    pub fn resolve<'v>(&self, root: Option<&'v Value>) -> Option<&'v Value> {
        let mut cur = root?;
        for seg in &self.segments {
            cur = match seg {
                Segment::Key(k) => cur.as_object()?.get(k)?,
                Segment::Index(i) => cur.as_array()?.get(*i)?,
                Segment::Select { key, value } => cur
                    .as_array()?
                    .iter()
                    .find(|el| el.get(key).is_some_and(|v| text_of(v) == *value))?,
            };
        }
        Some(cur)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Joins a parent path and a child path for messages (`status` + `phase`).
pub fn join(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_string(),
        (_, true) => parent.to_string(),
        _ if child.starts_with('[') => format!("{parent}{child}"),
        _ => format!("{parent}.{child}"),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Finds the `]` closing the `[` at `open`, skipping over quoted text.
fn find_close(path: &str, open: usize) -> Option<usize> {
    let mut in_quote = false;
    for (off, c) in path[open + 1..].char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            ']' if !in_quote => return Some(open + 1 + off),
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('"')?.strip_suffix('"')
}

fn parse_bracket(path: &str, inner: &str) -> Result<Segment, PathError> {
    let bad = || PathError::BadBracket {
        path: path.to_string(),
        inner: inner.to_string(),
    };
    let trimmed = inner.trim();
    if let Ok(i) = trimmed.parse::<usize>() {
        return Ok(Segment::Index(i));
    }
    if let Some(key) = unquote(trimmed) {
        return Ok(Segment::Key(key.to_string()));
    }
    let (key, value) = trimmed.split_once('=').ok_or_else(bad)?;
    let key = key.trim();
    let value = value.trim();
    if key.is_empty() || value.is_empty() {
        return Err(bad());
    }
    let value = unquote(value).unwrap_or(value);
    Ok(Segment::Select {
        key: key.to_string(),
        value: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn parses_keys_indexes_and_selectors() {
        assert_eq!(
            p(r#"status.conditions[type=Ready].status"#).segments(),
            &[
                Segment::Key("status".into()),
                Segment::Key("conditions".into()),
                Segment::Select {
                    key: "type".into(),
                    value: "Ready".into()
                },
                Segment::Key("status".into()),
            ]
        );
        assert_eq!(
            p(r#"metadata.labels["app.kubernetes.io/name"]"#).segments()[2],
            Segment::Key("app.kubernetes.io/name".into())
        );
        assert_eq!(p("items[2]").segments()[1], Segment::Index(2));
        assert_eq!(
            p(r#"x[name="a]b"]"#).segments()[1],
            Segment::Select {
                key: "name".into(),
                value: "a]b".into()
            }
        );
        assert!(p("").segments().is_empty());
    }

    #[test]
    fn rejects_malformed_paths_with_the_problem_named() {
        let err = FieldPath::parse("status..phase").unwrap_err();
        assert!(
            matches!(err, PathError::EmptySegment { at: 7, .. }),
            "{err}"
        );
        assert!(matches!(
            FieldPath::parse("status.").unwrap_err(),
            PathError::EmptySegment { .. }
        ));
        let err = FieldPath::parse("a[0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "field path `a[0`: `[` at byte 1 is never closed"
        );
        let err = FieldPath::parse("a[=x]").unwrap_err();
        assert!(matches!(err, PathError::BadBracket { .. }), "{err}");
        assert!(FieldPath::parse(".a").is_err());
    }

    #[test]
    fn resolves_against_json() {
        let v = json!({
            "status": {
                "readyReplicas": 3,
                "conditions": [
                    {"type": "Ready", "status": "True"},
                    {"type": "Paused", "status": "False"}
                ]
            },
            "spec": {"ports": [{"port": 80}, {"port": 443}]}
        });
        let r = |s: &str| p(s).resolve(Some(&v)).cloned();
        assert_eq!(
            r("status.conditions[type=Paused].status"),
            Some(json!("False"))
        );
        assert_eq!(r("status.conditions[1].type"), Some(json!("Paused")));
        assert_eq!(r("spec.ports[port=443].port"), Some(json!(443)));
        assert_eq!(r("status.readyReplicas"), Some(json!(3)));
        assert_eq!(r("status.conditions[type=Missing]"), None);
        assert_eq!(r("status.readyReplicas.nested"), None);
        assert_eq!(r("status.conditions[9]"), None);
        assert_eq!(r(""), Some(v.clone()));
    }

    #[test]
    fn join_uses_dots_except_before_brackets() {
        assert_eq!(join("", "a"), "a");
        assert_eq!(join("a", ""), "a");
        assert_eq!(join("a", "b"), "a.b");
        assert_eq!(join("a", "[0]"), "a[0]");
    }
}
