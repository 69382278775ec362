//! `labelSelector` and `fieldSelector` query parameters: parsing (400 on bad
//! syntax or unsupported fields) and matching against JSON objects.
//!
//! [`LabelSelector`] is public because the harness's StatusFaker selects
//! pods with the same grammar: one parser, so a selector a test hands the
//! faker means what it means to the server (and to kube-apiserver).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ApiError;
use crate::registry::ResourceInfo;
use crate::store::meta;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Exists,
    NotExists,
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<(String, Op)>);

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A label selector that does not parse; the server answers it with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unable to parse requirement: {reason} (in {selector:?})")]
#[non_exhaustive]
pub struct SelectorError {
    /// The whole selector as given.
    pub selector: String,
    /// What is wrong with it.
    pub reason: String,
}

impl From<SelectorError> for ApiError {
    fn from(e: SelectorError) -> Self {
        ApiError::bad_request(e.to_string())
    }
}

fn bad_label(s: &str, why: &str) -> SelectorError {
    SelectorError {
        selector: s.to_string(),
        reason: why.to_string(),
    }
}

fn check_key(k: &str, whole: &str) -> Result<String, SelectorError> {
    if crate::validation::is_qualified_name(k) {
        Ok(k.to_string())
    } else {
        Err(bad_label(whole, &format!("invalid label key {k:?}")))
    }
}

fn set_values(rest: &str, whole: &str) -> Result<Vec<String>, SelectorError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad_label(whole, "expected a parenthesised set of values"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl LabelSelector {
    /// `metav1.LabelSelectorAsSelector`: None when the selector is invalid.
    pub(crate) fn from_object(sel: &Value) -> Option<Self> {
        let ops_ok = sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|e| {
                let values = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                match e.get("operator").and_then(Value::as_str) {
                    Some("In" | "NotIn") => values > 0,
                    Some("Exists" | "DoesNotExist") => values == 0,
                    _ => false,
                }
            });
        if !ops_ok {
            return None;
        }
        Self::parse(&label_selector_string(sel)).ok()
    }

    /// Parses the string form (`app=db,tier in (a,b),!canary,rev>3`); the
    /// empty string selects everything.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(Self(reqs));
        }
        for part in split_top(s) {
            let p = part.trim();
            if p.is_empty() {
                return Err(bad_label(s, "empty requirement"));
            }
            let req = if let Some(k) = p.strip_prefix('!') {
                (check_key(k.trim(), s)?, Op::NotExists)
            } else if let Some((k, v)) = p.split_once("!=") {
                (check_key(k.trim(), s)?, Op::NotEq(v.trim().into()))
            } else if let Some((k, v)) = p.split_once("==") {
                (check_key(k.trim(), s)?, Op::Eq(v.trim().into()))
            } else if let Some((k, v)) = p.split_once('=') {
                (check_key(k.trim(), s)?, Op::Eq(v.trim().into()))
            } else if let Some((k, v)) = p.split_once(" notin ") {
                (check_key(k.trim(), s)?, Op::NotIn(set_values(v, s)?))
            } else if let Some((k, v)) = p.split_once(" in ") {
                (check_key(k.trim(), s)?, Op::In(set_values(v, s)?))
            } else if let Some((k, v)) = p.split_once('>') {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| bad_label(s, "expected an integer after '>'"))?;
                (check_key(k.trim(), s)?, Op::Gt(n))
            } else if let Some((k, v)) = p.split_once('<') {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| bad_label(s, "expected an integer after '<'"))?;
                (check_key(k.trim(), s)?, Op::Lt(n))
            } else if p.contains(char::is_whitespace) || p.contains('(') {
                return Err(bad_label(s, "found unexpected token"));
            } else {
                (check_key(p, s)?, Op::Exists)
            };
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    /// Selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Does an object with these labels match?
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|k| labels.get(k).map(String::as_str))
    }

    /// Does this JSON object's `metadata.labels` match?
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        let labels = meta::labels(obj);
        self.matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    fn matches_with<'a>(&self, label: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|(k, op)| {
            let v = label(k);
            match op {
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
                Op::Eq(x) => v == Some(x.as_str()),
                Op::NotEq(x) => v != Some(x.as_str()),
                Op::In(xs) => v.is_some_and(|v| xs.iter().any(|x| x == v)),
                Op::NotIn(xs) => v.is_none_or(|v| !xs.iter().any(|x| x == v)),
                Op::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                Op::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

/// Renders a `metav1.LabelSelector` object as the string form (`/scale`'s
/// `status.selector`).
pub(crate) fn label_selector_string(sel: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let vals: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match e
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => parts.push(format!("{k} in ({})", vals.join(","))),
            "NotIn" => parts.push(format!("{k} notin ({})", vals.join(","))),
            "Exists" => parts.push(k.to_string()),
            "DoesNotExist" => parts.push(format!("!{k}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// A parsed field selector: `path=value`, `path==value`, `path!=value`.
/// For built-in kinds the value compared is the one the kind's
/// `ToSelectableFields` renders, not always the JSON at that path.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
    builtin: bool,
}

/// The value a built-in kind's `ToSelectableFields` gives `field`, where it
/// is not simply the string at that path: Go renders an unset bool or
/// number as `false` or `0` (pkg/registry/core/node/strategy.go
/// `fmt.Sprint(node.Spec.Unschedulable)`; replicasets, replication
/// controllers and jobs use `strconv.Itoa`, and a Job's `status.successful`
/// reads `status.succeeded`), and a core Event's `source` is its
/// component, else its reporting controller
/// (pkg/registry/core/event/strategy.go).
fn builtin_value(obj: &Value, field: &str) -> Option<String> {
    let text = |path: &str| meta::as_selector_string(meta::path(obj, path));
    let number = |path: &str| {
        meta::path(obj, path)
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string()
    };
    Some(match field {
        "spec.unschedulable" => {
            let set = meta::path(obj, field)
                .and_then(Value::as_bool)
                .unwrap_or(false);
            set.to_string()
        }
        "status.replicas" => number(field),
        "status.successful" => number("status.succeeded"),
        "source" => {
            let component = text("source.component");
            if component.is_empty() {
                text("reportingController")
            } else {
                component
            }
        }
        "reportingComponent" => text("reportingController"),
        _ => return None,
    })
}

impl FieldSelector {
    pub(crate) fn parse(s: &str, info: &ResourceInfo) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        let builtin = !info.custom;
        if s.trim().is_empty() {
            return Ok(Self { reqs, builtin });
        }
        for part in s.split(',') {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || info.field_selectors.iter().any(|f| f == field);
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self { reqs, builtin })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.reqs.iter().all(|(field, eq, want)| {
            let got = self
                .builtin
                .then(|| builtin_value(obj, field))
                .flatten()
                .unwrap_or_else(|| meta::as_selector_string(meta::path(obj, field)));
            (got == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "labels": labels}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn set_based_and_equality_requirements() {
        let p = pod(json!({"app": "web", "tier": "front"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("app in (web, db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("missing notin (x)", true),
            ("app in (db),tier", false),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&p),
                want,
                "{sel}"
            );
        }
    }

    #[test]
    fn malformed_label_selectors_are_rejected() {
        for sel in ["app in web", "bad key=1", "a=b,,c"] {
            let e = ApiError::from(LabelSelector::parse(sel).unwrap_err());
            assert_eq!(e.code, 400, "{sel}");
        }
    }

    #[test]
    fn field_selectors_only_accept_declared_fields() {
        let info = crate::registry::builtin_resources()
            .into_iter()
            .find(|r| r.plural == "pods")
            .unwrap();
        let p = pod(json!({}));
        let fs = FieldSelector::parse("spec.nodeName=n1,status.phase!=Pending", &info).unwrap();
        assert!(fs.matches(&p));
        assert!(
            !FieldSelector::parse("metadata.name=q", &info)
                .unwrap()
                .matches(&p)
        );
        let e = FieldSelector::parse("spec.image=x", &info).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.image");
    }

    /// Unset bools and numbers select as Go renders their zero values, and
    /// a Job's `status.successful` and an Event's `source` read other
    /// fields (the kinds' `ToSelectableFields`).
    #[test]
    fn built_in_fields_select_as_their_strategies_render_them() {
        let info = |plural: &str| {
            crate::registry::builtin_resources()
                .into_iter()
                .find(|r| r.plural == plural && r.group.is_empty() == (plural != "jobs"))
                .unwrap()
        };
        let sel = |plural: &str, s: &str, obj: Value| {
            FieldSelector::parse(s, &info(plural))
                .unwrap()
                .matches(&obj)
        };
        assert!(sel(
            "nodes",
            "spec.unschedulable=false",
            json!({"spec": {}})
        ));
        assert!(sel(
            "nodes",
            "spec.unschedulable==true",
            json!({"spec": {"unschedulable": true}})
        ));
        assert!(!sel(
            "nodes",
            "spec.unschedulable=false",
            json!({"spec": {"unschedulable": true}})
        ));
        assert!(sel("jobs", "status.successful=0", json!({"status": {}})));
        assert!(sel(
            "jobs",
            "status.successful=2",
            json!({"status": {"succeeded": 2}})
        ));
        assert!(sel(
            "events",
            "source=kubelet",
            json!({"source": {"component": "kubelet"}})
        ));
        assert!(sel(
            "events",
            "source=op",
            json!({"reportingController": "op"})
        ));
        assert!(sel(
            "events",
            "reportingComponent=op",
            json!({"reportingController": "op"})
        ));
    }

    #[test]
    fn label_selector_objects_render_as_strings() {
        let sel = json!({"matchLabels": {"app": "db"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]});
        assert_eq!(label_selector_string(&sel), "app=db,tier in (a,b)");
    }
}
