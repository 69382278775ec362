//! OpenAPI v3 schemas of CRDs: the structural check on the definition, and
//! pruning, defaulting and validation of custom objects against it.

use serde_json::{Map, Value};

const TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];

fn preserves(s: &Value) -> bool {
    s.get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn int_or_string(s: &Value) -> bool {
    s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
}

/// Reasons a schema is not structural, as `(field path suffix, message)`.
pub(crate) fn structural_errors(schema: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !schema.is_object() {
        out.push((String::new(), "Invalid value: must be an object".into()));
        return out;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {}
        None if preserves(schema) => {}
        None => out.push((
            ".type".into(),
            "Required value: must not be empty at the root".into(),
        )),
        Some(t) => out.push((
            ".type".into(),
            format!("Invalid value: {t:?}: must be object at the root"),
        )),
    }
    walk_structure(schema, "", &mut out);
    out
}

fn walk_structure(s: &Value, path: &str, out: &mut Vec<(String, String)>) {
    match s.get("type") {
        None => {
            if !preserves(s) && !int_or_string(s) && !path.is_empty() {
                out.push((format!("{path}.type"), "Required value: must not be empty for specified object fields".into()));
            }
        }
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => {}
        Some(t) => out.push((
            format!("{path}.type"),
            format!("Unsupported value: {t}: supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", \"string\""),
        )),
    }
    if let Some(props) = s.get("properties") {
        match props.as_object() {
            Some(props) => {
                for (k, p) in props {
                    walk_structure(p, &format!("{path}.properties[{k}]"), out);
                }
            }
            None => out.push((
                format!("{path}.properties"),
                "Invalid value: must be an object".into(),
            )),
        }
    }
    if let Some(items) = s.get("items") {
        walk_structure(items, &format!("{path}.items"), out);
    } else if s.get("type").and_then(Value::as_str) == Some("array") {
        out.push((
            format!("{path}.items"),
            "Required value: must be specified".into(),
        ));
    }
    if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
        walk_structure(ap, &format!("{path}.additionalProperties"), out);
    }
}

/// Prunes unknown fields, applies defaults and validates `obj` in place;
/// returns the 422 causes and adds the pruned field paths to `pruned`.
pub(crate) fn apply(
    schema: &Value,
    obj: &mut Value,
    pruned: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    let Some(root) = obj.as_object_mut() else {
        return errs;
    };
    let props = schema.get("properties").and_then(Value::as_object);
    let keep_unknown = preserves(schema);
    let keys: Vec<String> = root.keys().cloned().collect();
    for k in keys {
        if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        match props.and_then(|p| p.get(&k)) {
            Some(ps) => {
                let v = root.get_mut(&k).expect("key");
                visit(ps, v, &k, &mut errs, pruned);
                if v.is_null() && !nullable(ps) {
                    root.remove(&k);
                }
            }
            None if keep_unknown => {}
            None => {
                root.remove(&k);
                pruned.push(k);
            }
        }
    }
    if let Some(p) = props {
        apply_defaults(p, root);
    }
    required(schema, root, "", &mut errs);
    errs
}

fn nullable(s: &Value) -> bool {
    s.get("nullable").and_then(Value::as_bool) == Some(true)
}

fn apply_defaults(props: &Map<String, Value>, obj: &mut Map<String, Value>) {
    for (k, ps) in props {
        if !obj.contains_key(k)
            && let Some(d) = ps.get("default")
        {
            obj.insert(k.clone(), d.clone());
        }
    }
}

fn required(s: &Value, obj: &Map<String, Value>, path: &str, errs: &mut Vec<(String, String)>) {
    for r in s
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = r.as_str()
            && !obj.contains_key(r)
        {
            let field = if path.is_empty() {
                r.to_string()
            } else {
                format!("{path}.{r}")
            };
            errs.push((field, "Required value".into()));
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn visit(
    s: &Value,
    v: &mut Value,
    path: &str,
    errs: &mut Vec<(String, String)>,
    pruned: &mut Vec<String>,
) {
    if v.is_null() {
        return;
    }
    let actual = type_name(v);
    if int_or_string(s) {
        if !matches!(actual, "integer" | "string") {
            errs.push((
                path.into(),
                format!(
                    "Invalid value: {v}: {path} in body must be of type int-or-string: {actual:?}"
                ),
            ));
        }
        return;
    }
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = t == actual || (t == "number" && actual == "integer");
        if !ok {
            errs.push((
                path.into(),
                format!(
                    "Invalid value: {actual:?}: {path} in body must be of type {t}: {actual:?}"
                ),
            ));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        errs.push((
            path.into(),
            format!(
                "Unsupported value: {v}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    if let Some(x) = v.as_f64() {
        if num("minimum").is_some_and(|m| x < m) {
            errs.push((
                path.into(),
                format!(
                    "Invalid value: {v}: {path} in body should be greater than or equal to {}",
                    s["minimum"]
                ),
            ));
        }
        if num("maximum").is_some_and(|m| x > m) {
            errs.push((
                path.into(),
                format!(
                    "Invalid value: {v}: {path} in body should be less than or equal to {}",
                    s["maximum"]
                ),
            ));
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as f64;
        if num("minLength").is_some_and(|m| n < m) {
            errs.push((
                path.into(),
                format!(
                    "Invalid value: {v}: {path} in body should be at least {} chars long",
                    s["minLength"]
                ),
            ));
        }
        if num("maxLength").is_some_and(|m| n > m) {
            errs.push((
                path.into(),
                format!("Too long: may not be more than {} bytes", s["maxLength"]),
            ));
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str)
            && let Ok(re) = regex::Regex::new(p)
            && !re.is_match(text)
        {
            errs.push((
                path.into(),
                format!("Invalid value: {v}: {path} in body should match '{p}'"),
            ));
        }
    }
    match v {
        Value::Object(map) => {
            let props = s.get("properties").and_then(Value::as_object);
            let extra = s.get("additionalProperties").filter(|a| a.is_object());
            let keep = preserves(s)
                || s.get("x-kubernetes-embedded-resource")
                    .and_then(Value::as_bool)
                    == Some(true);
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let child = props.and_then(|p| p.get(&k)).or(extra);
                match child {
                    Some(cs) => {
                        let cv = map.get_mut(&k).expect("key");
                        visit(cs, cv, &format!("{path}.{k}"), errs, pruned);
                        if cv.is_null() && !nullable(cs) {
                            map.remove(&k);
                        }
                    }
                    None if keep
                        || (props.is_none() && extra.is_none() && s.get("type").is_none()) => {}
                    None => {
                        map.remove(&k);
                        pruned.push(format!("{path}.{k}"));
                    }
                }
            }
            if let Some(p) = props {
                apply_defaults(p, map);
            }
            required(s, map, path, errs);
        }
        Value::Array(items) => {
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    visit(is, item, &format!("{path}[{i}]"), errs, pruned);
                }
            }
            let n = items.len() as f64;
            if num("maxItems").is_some_and(|m| n > m) {
                errs.push((
                    path.into(),
                    format!("Too many: {n}: must have at most {} items", s["maxItems"]),
                ));
            }
            if num("minItems").is_some_and(|m| n < m) {
                errs.push((
                    path.into(),
                    format!(
                        "Invalid value: {n}: {path} in body should have at least {} items",
                        s["minItems"]
                    ),
                ));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 1},
                "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }})
    }

    #[test]
    fn prunes_unknown_fields_and_defaults() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"},
            "spec": {"size": 2, "junk": 1, "free": {"any": {"thing": 1}}}, "extra": true});
        let mut pruned = Vec::new();
        assert!(apply(&schema(), &mut o, &mut pruned).is_empty());
        assert_eq!(pruned, ["spec.junk", "extra"]);
        assert_eq!(
            o["spec"],
            json!({"size": 2, "mode": "a", "free": {"any": {"thing": 1}}})
        );
        assert!(o.get("extra").is_none());
        assert_eq!(o["metadata"]["name"], "n");
    }

    #[test]
    fn reports_every_invalid_field() {
        let mut o = json!({"spec": {"size": 0, "mode": "c"}, "status": {"ready": "yes"}});
        let errs = apply(&schema(), &mut o, &mut Vec::new());
        let fields: Vec<&str> = errs.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["spec.size", "spec.mode", "status.ready"]);
        let mut missing = json!({"spec": {}});
        assert_eq!(
            apply(&schema(), &mut missing, &mut Vec::new())[0],
            ("spec.size".to_string(), "Required value".to_string())
        );
    }

    #[test]
    fn non_structural_schemas_are_named() {
        assert!(structural_errors(&schema()).is_empty());
        let bad = json!({"type": "string"});
        assert_eq!(structural_errors(&bad)[0].0, ".type");
        let untyped = json!({"type": "object", "properties": {"spec": {"properties": {}}}});
        assert_eq!(structural_errors(&untyped)[0].0, ".properties[spec].type");
    }
}
