//! Leaf matchers: equality, ordering, containment, regex, presence, and `not`.

use super::path::join;
use super::render::render;
use super::{Matcher, Mismatch};
use serde::Serialize;
use serde_json::{Number, Value};
use std::cmp::Ordering;

/// Serializes an expected value at construction; a value serde cannot
/// serialize is a bug in the test, so it panics there with the reason.
fn expect_json<T: Serialize>(what: &str, v: T) -> Value {
    serde_json::to_value(v)
        .unwrap_or_else(|e| panic!("{what}: expected value does not serialize: {e}"))
}

fn not_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// Integers compare exactly (so `3` equals `3u8` and `3i64`); anything with a
/// fraction compares as `f64`.
fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Some(Ordering::Equal),
        _ => a == b,
    }
}

/// Object keys that would be ambiguous in a dotted path are written `["a.b/c"]`.
pub(crate) fn key_segment(k: &str) -> String {
    if k.is_empty() || k.contains(['.', '[', ']', '"', '=']) {
        format!("[\"{k}\"]")
    } else {
        k.to_string()
    }
}

/// Field-by-field difference of two JSON values: one mismatch per differing
/// leaf, so a struct snapshot names each field that changed. `null` and a
/// missing key are equal; lists of different lengths differ as a whole.
pub(crate) fn diff(
    expected: Option<&Value>,
    actual: Option<&Value>,
    at: &str,
    out: &mut Vec<Mismatch>,
) {
    match (not_null(expected), not_null(actual)) {
        (None, None) => {}
        (Some(Value::Object(e)), Some(Value::Object(a))) => {
            for (k, ev) in e {
                diff(Some(ev), a.get(k), &join(at, &key_segment(k)), out);
            }
            for (k, av) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                diff(None, Some(av), &join(at, &key_segment(k)), out);
            }
        }
        (Some(Value::Array(e)), Some(Value::Array(a))) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff(Some(ev), Some(av), &join(at, &format!("[{i}]")), out);
            }
        }
        (Some(e), Some(a)) if scalar_eq(e, a) => {}
        (e, a) => out.push(Mismatch::new(at, render(e), render(a))),
    }
}

/// Equal to `expected` after serialization; objects are compared field by
/// field and every differing field is reported.
#[derive(Debug, Clone)]
pub struct Eq {
    expected: Value,
}

/// Equal to `expected` once serialized. Numbers compare by value (`3`,
/// `3u8` and `3.0` are equal); `null` equals a missing field.
pub fn eq<T: Serialize>(expected: T) -> Eq {
    Eq {
        expected: expect_json("eq", expected),
    }
}

impl Matcher for Eq {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let mut out = Vec::new();
        diff(Some(&self.expected), actual, at, &mut out);
        out
    }
    fn describe(&self) -> String {
        format!("= {}", render(Some(&self.expected)))
    }
}

/// Passes when the inner matcher fails.
pub struct Not<M>(M);

/// Negates a matcher: `not(eq("Ready"))`.
pub fn not<M: Matcher>(inner: M) -> Not<M> {
    Not(inner)
}

impl<M: Matcher> Matcher for Not<M> {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        if self.0.mismatches(actual, at).is_empty() {
            vec![Mismatch::new(at, self.describe(), render(actual))]
        } else {
            Vec::new()
        }
    }
    fn describe(&self) -> String {
        let inner = self.0.describe();
        match inner.strip_prefix("= ") {
            Some(v) => format!("≠ {v}"),
            None => format!("not ({inner})"),
        }
    }
    fn reset(&self) {
        self.0.reset()
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

/// An ordering against a bound: numbers by value, strings lexically (which
/// orders RFC 3339 timestamps of one offset by time).
#[derive(Debug, Clone)]
pub struct Cmp {
    op: Op,
    bound: Value,
}

fn cmp_matcher<T: Serialize>(op: Op, bound: T) -> Cmp {
    Cmp {
        op,
        bound: expect_json("ordering matcher", bound),
    }
}

/// Greater than `bound`.
pub fn gt<T: Serialize>(bound: T) -> Cmp {
    cmp_matcher(Op::Gt, bound)
}
/// Greater than or equal to `bound`.
pub fn ge<T: Serialize>(bound: T) -> Cmp {
    cmp_matcher(Op::Ge, bound)
}
/// Less than `bound`.
pub fn lt<T: Serialize>(bound: T) -> Cmp {
    cmp_matcher(Op::Lt, bound)
}
/// Less than or equal to `bound`.
pub fn le<T: Serialize>(bound: T) -> Cmp {
    cmp_matcher(Op::Le, bound)
}

impl Matcher for Cmp {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let ord = match (not_null(actual), &self.bound) {
            (Some(Value::Number(a)), Value::Number(b)) => cmp_numbers(a, b),
            (Some(Value::String(a)), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
            _ => None,
        };
        let ok = match (ord, self.op) {
            (None, _) => false,
            (Some(o), Op::Gt) => o == Ordering::Greater,
            (Some(o), Op::Ge) => o != Ordering::Less,
            (Some(o), Op::Lt) => o == Ordering::Less,
            (Some(o), Op::Le) => o != Ordering::Greater,
        };
        if ok {
            return Vec::new();
        }
        let mut got = render(actual);
        if ord.is_none() && not_null(actual).is_some() {
            got.push_str(" (not comparable)");
        }
        vec![Mismatch::new(at, self.describe(), got)]
    }
    fn describe(&self) -> String {
        let op = match self.op {
            Op::Gt => ">",
            Op::Ge => "≥",
            Op::Lt => "<",
            Op::Le => "≤",
        };
        format!("{op} {}", render(Some(&self.bound)))
    }
}

/// Containment; see [`contains`].
#[derive(Debug, Clone)]
pub struct Contains {
    needle: Value,
}

/// A string containing a substring, a list containing an element, or an
/// object containing a key.
///
/// A list element matches when it equals `needle`, or, when `needle` is an
/// object, when it has at least the needle's fields with those values:
/// `contains(json!({"type": "Ready", "status": "True"}))` finds a condition
/// whatever its `lastTransitionTime`.
pub fn contains<T: Serialize>(needle: T) -> Contains {
    Contains {
        needle: expect_json("contains", needle),
    }
}

/// `needle` is a sub-document of `hay`: objects by subset of keys, the rest by equality.
fn subset(needle: &Value, hay: &Value) -> bool {
    match (needle, hay) {
        (Value::Object(n), Value::Object(h)) => n.iter().all(|(k, nv)| {
            h.get(k).is_some_and(|hv| subset(nv, hv))
                || (nv.is_null() && not_null(h.get(k)).is_none())
        }),
        _ => scalar_eq(needle, hay),
    }
}

impl Matcher for Contains {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let ok = match (not_null(actual), &self.needle) {
            (Some(Value::String(s)), Value::String(n)) => s.contains(n.as_str()),
            (Some(Value::Array(items)), n) => items.iter().any(|it| subset(n, it)),
            (Some(Value::Object(o)), Value::String(k)) => not_null(o.get(k)).is_some(),
            _ => false,
        };
        if ok {
            Vec::new()
        } else {
            vec![Mismatch::new(at, self.describe(), render(actual))]
        }
    }
    fn describe(&self) -> String {
        format!("contains {}", render(Some(&self.needle)))
    }
}

/// A string matching a regular expression; see [`matches_regex`].
#[derive(Debug, Clone)]
pub struct MatchesRegex {
    re: regex::Regex,
}

/// A string (or a number or bool, as text) matching `pattern` anywhere;
/// anchor with `^…$` for a whole match.
///
/// # Panics
/// When `pattern` is not a valid regex: a typo in a test should stop the
/// test at once, not make a wait spin until its timeout. Use
/// [`try_matches_regex`] to handle the error instead.
pub fn matches_regex(pattern: &str) -> MatchesRegex {
    try_matches_regex(pattern)
        .unwrap_or_else(|e| panic!("matches_regex: invalid pattern `{pattern}`: {e}"))
}

/// Like [`matches_regex`], returning the regex error instead of panicking.
pub fn try_matches_regex(pattern: &str) -> Result<MatchesRegex, regex::Error> {
    Ok(MatchesRegex {
        re: regex::Regex::new(pattern)?,
    })
}

impl Matcher for MatchesRegex {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let text = match not_null(actual) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
            _ => None,
        };
        if text.is_some_and(|t| self.re.is_match(&t)) {
            Vec::new()
        } else {
            vec![Mismatch::new(at, self.describe(), render(actual))]
        }
    }
    fn describe(&self) -> String {
        format!("matches /{}/", self.re.as_str())
    }
}

/// Presence; see [`present`] and [`absent`].
#[derive(Debug, Clone, Copy)]
pub struct Presence {
    want: bool,
}

/// The field exists and is not `null` (Go's `!= nil`).
pub fn present() -> Presence {
    Presence { want: true }
}

/// The field is missing or `null` (Go's `== nil`).
pub fn absent() -> Presence {
    Presence { want: false }
}

/// Go's zero value, which kube-apiserver leaves out of JSON for `omitempty`
/// fields: absent, `null`, `0`, `""`, `false`, `[]` or `{}`. A status
/// counter such as `readyReplicas` is absent, not `0`, when nothing is
/// ready (Gomega's `BeZero`).
pub fn zero() -> Zero {
    Zero
}

/// See [`zero`].
#[derive(Debug, Clone, Copy)]
pub struct Zero;

impl Matcher for Zero {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let is_zero = match actual {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => !b,
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Object(o)) => o.is_empty(),
        };
        if is_zero {
            Vec::new()
        } else {
            vec![Mismatch::new(at, self.describe(), render(actual))]
        }
    }
    fn describe(&self) -> String {
        "zero (absent, 0, \"\", false or empty)".to_string()
    }
}

impl Matcher for Presence {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        if not_null(actual).is_some() == self.want {
            Vec::new()
        } else {
            vec![Mismatch::new(at, self.describe(), render(actual))]
        }
    }
    fn describe(&self) -> String {
        if self.want { "present" } else { "absent" }.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fails(m: &dyn Matcher, v: Value) -> Vec<Mismatch> {
        m.mismatches(Some(&v), "x")
    }
    fn passes(m: &dyn Matcher, v: Value) -> bool {
        fails(m, v).is_empty()
    }

    #[test]
    fn eq_compares_serialized_values_and_numbers_by_value() {
        assert!(passes(&eq("Ready"), json!("Ready")));
        assert!(passes(&eq(3u8), json!(3i64)));
        assert!(passes(&eq(1.5), json!(1.5)));
        assert!(!passes(&eq(3), json!("3")));
        assert_eq!(
            fails(&eq("Ready"), json!("Upgrading")),
            vec![Mismatch::new("x", "\"Ready\"", "\"Upgrading\"")]
        );
        assert_eq!(
            eq(1).mismatches(None, "a.b"),
            vec![Mismatch::new("a.b", "1", "absent")]
        );
        assert_eq!(eq("Ready").describe(), "= \"Ready\"");
    }

    #[test]
    fn eq_on_objects_reports_every_differing_field() {
        let m = eq(
            json!({"phase": "Upgrading", "ready": 3, "labels": {"app.k8s.io/x": "a"}, "gone": null}),
        );
        let got = fails(
            &m,
            json!({"phase": "Ready", "ready": 3, "labels": {"app.k8s.io/x": "b"}, "extra": true}),
        );
        assert_eq!(
            got,
            vec![
                Mismatch::new("x.phase", "\"Upgrading\"", "\"Ready\""),
                Mismatch::new("x.labels[\"app.k8s.io/x\"]", "\"a\"", "\"b\""),
                Mismatch::new("x.extra", "absent", "true"),
            ]
        );
        assert_eq!(
            fails(&eq(json!([1, 2])), json!([1, 3])),
            vec![Mismatch::new("x[1]", "2", "3")]
        );
        assert_eq!(fails(&eq(json!([1, 2])), json!([1])).len(), 1);
    }

    #[test]
    fn zero_is_go_s_zero_value_or_absence() {
        for v in [
            json!(0),
            json!(""),
            json!(false),
            json!([]),
            json!({}),
            Value::Null,
        ] {
            assert!(passes(&zero(), v.clone()), "{v}");
        }
        assert!(zero().mismatches(None, "x").is_empty());
        assert_eq!(
            fails(&zero(), json!(2)),
            vec![Mismatch::new("x", zero().describe(), "2")]
        );
        assert!(!passes(&zero(), json!([0])));
    }

    #[test]
    fn not_inverts_and_describes() {
        assert!(passes(&not(eq("a")), json!("b")));
        assert_eq!(
            fails(&not(eq("a")), json!("a")),
            vec![Mismatch::new("x", "≠ \"a\"", "\"a\"")]
        );
        assert_eq!(not(present()).describe(), "not (present)");
    }

    #[test]
    fn ordering_on_numbers_and_strings() {
        assert!(passes(&gt(2), json!(3)));
        assert!(!passes(&gt(3), json!(3)));
        assert!(passes(&ge(3), json!(3)));
        assert!(passes(&lt(3.5), json!(3)));
        assert!(!passes(&lt(3), json!(3)));
        assert!(passes(&le(3), json!(3)));
        assert!(passes(
            &gt("2026-01-01T00:00:00Z"),
            json!("2026-11-23T10:00:00Z")
        ));
        assert!(passes(&gt(-1), json!(u64::MAX)));
        assert_eq!(
            fails(&gt(1), json!("abc")),
            vec![Mismatch::new("x", "> 1", "\"abc\" (not comparable)")]
        );
        assert_eq!(
            gt(1).mismatches(None, "x"),
            vec![Mismatch::new("x", "> 1", "absent")]
        );
        assert_eq!(le(2).describe(), "≤ 2");
    }

    #[test]
    fn contains_on_strings_lists_and_objects() {
        assert!(passes(&contains("v2"), json!("sei:v2")));
        assert!(!passes(&contains("v3"), json!("sei:v2")));
        assert!(passes(&contains(2), json!([1, 2, 3])));
        assert!(!passes(&contains(4), json!([1, 2, 3])));
        let conds = json!([{"type": "Ready", "status": "True", "lastTransitionTime": "t"}]);
        assert!(passes(
            &contains(json!({"type": "Ready", "status": "True"})),
            conds.clone()
        ));
        assert!(!passes(
            &contains(json!({"type": "Ready", "status": "False"})),
            conds
        ));
        assert!(passes(&contains("finalizer"), json!({"finalizer": 1})));
        assert!(!passes(&contains("finalizer"), json!({"other": 1})));
        assert_eq!(
            fails(&contains("a"), json!(5)),
            vec![Mismatch::new("x", "contains \"a\"", "5")]
        );
    }

    #[test]
    fn regex_matches_text_and_rejects_bad_patterns() {
        assert!(passes(&matches_regex("^sei:v[0-9]+$"), json!("sei:v2")));
        assert!(!passes(
            &matches_regex("^sei:v[0-9]+$"),
            json!("sei:latest")
        ));
        assert!(passes(&matches_regex("^3$"), json!(3)));
        assert!(!passes(&matches_regex("."), json!(null)));
        assert!(try_matches_regex("(").is_err());
        let panic = std::panic::catch_unwind(|| matches_regex("(")).unwrap_err();
        let msg = panic.downcast_ref::<String>().unwrap();
        assert!(
            msg.starts_with("matches_regex: invalid pattern `(`"),
            "{msg}"
        );
    }

    #[test]
    fn presence_treats_null_as_absent() {
        assert!(passes(&present(), json!({})));
        assert!(!passes(&present(), json!(null)));
        assert!(present().mismatches(None, "x").len() == 1);
        assert!(absent().mismatches(None, "x").is_empty());
        assert!(passes(&absent(), json!(null)));
        assert_eq!(
            fails(&absent(), json!(1)),
            vec![Mismatch::new("x", "absent", "1")]
        );
    }
}
