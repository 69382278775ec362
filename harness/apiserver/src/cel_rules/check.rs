//! The part of cel-go's type checker CRD authors meet most: a rule that
//! names a field its schema does not declare (`self.replicsa`,
//! `self.metadata.labels` at the root) is refused when the CRD is written,
//! `undefined field 'replicsa'`, pointing at the `.` as cel-go does. Other
//! type errors still only show when a rule runs.

use kube_cel::cel::common::ast::{Expr, IdedExpr};
use serde_json::{Value as Json, json};

use super::value::escape;

/// What a rule's `self` is at a node: the root gains `apiVersion`, `kind`
/// and the visible `metadata` (apiextensions' `WithTypeAndObjectMeta`).
pub(crate) fn self_schema(schema: &Json, root: bool) -> Json {
    let mut s = schema.clone();
    if root && let Some(props) = s.as_object_mut() {
        let entry = props.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = entry.as_object_mut() {
            p.insert("apiVersion".into(), json!({"type": "string"}));
            p.insert("kind".into(), json!({"type": "string"}));
            p.insert(
                "metadata".into(),
                json!({"type": "object", "properties": {
                    "name": {"type": "string"}, "generateName": {"type": "string"}
                }}),
            );
        }
    }
    s
}

/// The `undefined field` issues of `expr` (parsed from `source`) with
/// `self` and `oldSelf` typed by `this`, as cel-go prints them.
pub(crate) fn undefined_fields(source: &str, expr: &IdedExpr, this: &Json) -> Vec<String> {
    let scope = vec![
        ("self".into(), Some(this.clone())),
        ("oldSelf".into(), Some(this.clone())),
    ];
    undefined_fields_in(source, expr, scope)
}

/// The same, with the variables `scope` types (untyped ones as `None`).
pub(crate) fn undefined_fields_in(
    source: &str,
    expr: &IdedExpr,
    mut scope: Vec<(String, Option<Json>)>,
) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    resolve(expr, &mut scope, &mut found);
    // The n-th undefined `.field` is taken to be its n-th spelling, so
    // `self.x > oldSelf.x` gets one issue per selection, as in cel-go.
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut issues: Vec<(usize, String)> = found
        .into_iter()
        .map(|(_, field)| {
            let n = seen.entry(field.clone()).or_default();
            let at = dot_offset(source, &field, *n);
            *n += 1;
            (at, field)
        })
        .collect();
    issues.sort();
    issues.dedup();
    issues
        .into_iter()
        .map(|(offset, field)| issue(source, offset, &format!("undefined field '{field}'")))
        .collect()
}

/// Where `.field` is written the `nth` time (from 0; the last one when
/// there are fewer), which is where cel-go places a selection.
fn dot_offset(source: &str, field: &str, nth: usize) -> usize {
    let needle = format!(".{field}");
    let mut from = 0;
    let mut found = Vec::new();
    while let Some(i) = source[from..].find(&needle) {
        let at = from + i;
        let end = at + needle.len();
        let next = source[end..].chars().next();
        if !next.is_some_and(|c| c == '_' || c.is_ascii_alphanumeric()) {
            found.push(at);
        }
        from = end;
    }
    found.get(nth).or(found.last()).copied().unwrap_or(0)
}

/// cel-go's issue text: `ERROR: <input>:L:C: msg`, the line, a caret.
fn issue(source: &str, offset: usize, msg: &str) -> String {
    let before = &source[..offset];
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count();
    let line = source[line_start..].lines().next().unwrap_or("");
    format!(
        "ERROR: <input>:{line_no}:{}: {msg}\n | {line}\n | {}^",
        col + 1,
        ".".repeat(col)
    )
}

fn is_type(s: &Json, t: &str) -> bool {
    s.get("type").and_then(Json::as_str) == Some(t)
}

/// The schema of a field selected from an object, or the issue.
fn select(s: &Json, field: &str) -> Result<Option<Json>, ()> {
    if let Some(props) = s.get("properties").and_then(Json::as_object) {
        return props
            .iter()
            .find(|(k, _)| escape(k).as_deref() == Some(field) || k.as_str() == field)
            .map(|(_, v)| Some(v.clone()))
            .ok_or(());
    }
    if let Some(item) = s.get("additionalProperties").filter(|a| a.is_object()) {
        return Ok(Some(item.clone()));
    }
    // An object without properties is one with no fields; anything else
    // (int-or-string, untyped) is dynamic.
    if is_type(s, "object")
        && s.get("x-kubernetes-preserve-unknown-fields")
            .and_then(Json::as_bool)
            != Some(true)
    {
        return Err(());
    }
    Ok(None)
}

fn resolve(
    e: &IdedExpr,
    scope: &mut Vec<(String, Option<Json>)>,
    found: &mut Vec<(usize, String)>,
) -> Option<Json> {
    match &e.expr {
        Expr::Ident(name) => scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, s)| s.clone()),
        Expr::Select(sel) => {
            let operand = resolve(&sel.operand, scope, found)?;
            match select(&operand, &sel.field) {
                Ok(s) => s,
                Err(()) => {
                    found.push((0, sel.field.clone()));
                    None
                }
            }
        }
        Expr::Call(call) => {
            let target = call.target.as_ref().map(|t| resolve(t, scope, found));
            let args: Vec<Option<Json>> =
                call.args.iter().map(|a| resolve(a, scope, found)).collect();
            if call.func_name == "_[_]" {
                let container = args.first().cloned().flatten()?;
                if is_type(&container, "array") {
                    return container.get("items").cloned();
                }
                return container
                    .get("additionalProperties")
                    .filter(|a| a.is_object())
                    .cloned();
            }
            let _ = target;
            None
        }
        Expr::Comprehension(c) => {
            let range = resolve(&c.iter_range, scope, found);
            let item = range.and_then(|r| {
                if is_type(&r, "array") {
                    r.get("items").cloned()
                } else {
                    None
                }
            });
            resolve(&c.accu_init, scope, found);
            scope.push((c.iter_var.clone(), item));
            if let Some(v2) = &c.iter_var2 {
                scope.push((v2.clone(), None));
            }
            scope.push((c.accu_var.clone(), None));
            for part in [&c.loop_cond, &c.loop_step, &c.result] {
                resolve(part, scope, found);
            }
            scope.pop();
            if c.iter_var2.is_some() {
                scope.pop();
            }
            scope.pop();
            None
        }
        Expr::List(l) => {
            for el in &l.elements {
                resolve(el, scope, found);
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(rule: &str, schema: Json, root: bool) -> Vec<String> {
        let compiled = super::super::compile(rule).unwrap();
        undefined_fields(rule, &compiled.expression, &self_schema(&schema, root))
    }

    #[test]
    fn unknown_fields_are_named_where_the_dot_is() {
        let schema = json!({"type": "object", "properties": {
            "replicas": {"type": "integer"},
            "max-surge": {"type": "integer"},
            "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}
        }});
        assert!(
            check(
                "self.replicas > 0 && self.max__dash__surge < 3",
                schema.clone(),
                false
            )
            .is_empty()
        );
        assert!(check("self.items.all(i, i.name != '')", schema.clone(), false).is_empty());
        assert!(
            check(
                "self.labels.app == 'x' && self.items[0].name != ''",
                schema.clone(),
                false
            )
            .is_empty()
        );
        assert_eq!(
            check("self.replicsa > 0", schema.clone(), false),
            ["ERROR: <input>:1:5: undefined field 'replicsa'\n | self.replicsa > 0\n | ....^"]
        );
        // A transition rule's two spellings are two issues.
        assert_eq!(
            check("self.replicsa >= oldSelf.replicsa", schema.clone(), false),
            [
                "ERROR: <input>:1:5: undefined field 'replicsa'\n | self.replicsa >= oldSelf.replicsa\n | ....^",
                "ERROR: <input>:1:25: undefined field 'replicsa'\n | self.replicsa >= oldSelf.replicsa\n | ........................^"
            ]
        );
        assert_eq!(
            check("self.items.all(i, i.nmae != '')", schema, false),
            [
                "ERROR: <input>:1:20: undefined field 'nmae'\n | self.items.all(i, i.nmae != '')\n | ...................^"
            ]
        );
    }

    #[test]
    fn the_root_sees_name_and_generate_name_only() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object"}}});
        assert!(check("self.metadata.name.startsWith('a')", schema.clone(), true).is_empty());
        assert_eq!(
            check("self.metadata.labels.size() > 0", schema, true).len(),
            1
        );
    }
}
