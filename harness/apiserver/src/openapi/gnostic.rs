//! The protobuf form of the OpenAPI v2 document: gnostic's
//! `openapi_v2.Document` (gnostic-models `openapiv2/OpenAPIv2.proto`), which
//! is all kubectl accepts from `/openapi/v2`; client-go decodes the body
//! with `proto.Unmarshal` whatever the response says it is.
//!
//! Only what a document of schema definitions uses is written: `swagger`,
//! `info`, `definitions`, and per schema the JSON Schema keywords v2 knows.
//! Values that are free-form JSON (`default`, `enum`, `example`, vendor
//! extensions) go in an `Any` as YAML text, as gnostic's `ParseDocument`
//! writes them; JSON is YAML, so the value's JSON serves.

use serde_json::Value;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(out, field, 2);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        bytes(out, field, s.as_bytes());
    }
}

fn boolean(out: &mut Vec<u8>, field: u32, b: bool) {
    if b {
        key(out, field, 0);
        varint(out, 1);
    }
}

fn int(out: &mut Vec<u8>, field: u32, v: i64) {
    if v != 0 {
        key(out, field, 0);
        varint(out, v as u64);
    }
}

fn double(out: &mut Vec<u8>, field: u32, v: f64) {
    if v != 0.0 {
        key(out, field, 1);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// `Any { string yaml = 2; }`
fn any(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 2, &v.to_string());
    out
}

/// `NamedAny { string name = 1; Any value = 2; }`
fn named_any(name: &str, v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, name);
    bytes(&mut out, 2, &any(v));
    out
}

/// `NamedSchema { string name = 1; Schema value = 2; }`
fn named_schema(name: &str, s: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, name);
    bytes(&mut out, 2, &schema(s));
    out
}

/// A map of schemas (`Definitions`, `Properties`): repeated `NamedSchema`
/// as field 1.
fn named_schemas(map: &serde_json::Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, s) in map {
        bytes(&mut out, 1, &named_schema(name, s));
    }
    out
}

fn schema(s: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(obj) = s.as_object() else {
        return out;
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
    let number = |k: &str| obj.get(k).and_then(Value::as_f64).unwrap_or_default();
    let whole = |k: &str| obj.get(k).and_then(Value::as_i64).unwrap_or_default();
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or_default();
    string(&mut out, 1, text("$ref"));
    string(&mut out, 2, text("format"));
    string(&mut out, 3, text("title"));
    string(&mut out, 4, text("description"));
    if let Some(d) = obj.get("default") {
        bytes(&mut out, 5, &any(d));
    }
    double(&mut out, 6, number("multipleOf"));
    double(&mut out, 7, number("maximum"));
    boolean(&mut out, 8, flag("exclusiveMaximum"));
    double(&mut out, 9, number("minimum"));
    boolean(&mut out, 10, flag("exclusiveMinimum"));
    int(&mut out, 11, whole("maxLength"));
    int(&mut out, 12, whole("minLength"));
    string(&mut out, 13, text("pattern"));
    int(&mut out, 14, whole("maxItems"));
    int(&mut out, 15, whole("minItems"));
    boolean(&mut out, 16, flag("uniqueItems"));
    int(&mut out, 17, whole("maxProperties"));
    int(&mut out, 18, whole("minProperties"));
    for r in obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        string(&mut out, 19, r.as_str().unwrap_or_default());
    }
    for e in obj
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bytes(&mut out, 20, &any(e));
    }
    // AdditionalPropertiesItem { oneof { Schema schema = 1; bool boolean = 2; } }
    match obj.get("additionalProperties") {
        Some(Value::Bool(b)) => {
            let mut item = Vec::new();
            key(&mut item, 2, 0);
            varint(&mut item, u64::from(*b));
            bytes(&mut out, 21, &item);
        }
        Some(s @ Value::Object(_)) => {
            let mut item = Vec::new();
            bytes(&mut item, 1, &schema(s));
            bytes(&mut out, 21, &item);
        }
        _ => {}
    }
    // TypeItem { repeated string value = 1; }
    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let mut item = Vec::new();
        for t in types {
            string(&mut item, 1, t);
        }
        bytes(&mut out, 22, &item);
    }
    // ItemsItem { repeated Schema schema = 1; }
    if let Some(items) = obj.get("items") {
        let mut item = Vec::new();
        match items {
            Value::Array(list) => list.iter().for_each(|s| bytes(&mut item, 1, &schema(s))),
            s => bytes(&mut item, 1, &schema(s)),
        }
        bytes(&mut out, 23, &item);
    }
    for s in obj
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        bytes(&mut out, 24, &schema(s));
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        bytes(&mut out, 25, &named_schemas(props));
    }
    string(&mut out, 26, text("discriminator"));
    boolean(&mut out, 27, flag("readOnly"));
    if let Some(e) = obj.get("example") {
        bytes(&mut out, 30, &any(e));
    }
    for (k, v) in obj.iter().filter(|(k, _)| k.starts_with("x-")) {
        bytes(&mut out, 31, &named_any(k, v));
    }
    out
}

/// The whole document: `swagger = 1`, `info = 2` (`title = 1`,
/// `version = 2`), `definitions = 9`.
pub(crate) fn document(doc: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, 1, doc["swagger"].as_str().unwrap_or_default());
    let mut info = Vec::new();
    string(
        &mut info,
        1,
        doc["info"]["title"].as_str().unwrap_or_default(),
    );
    string(
        &mut info,
        2,
        doc["info"]["version"].as_str().unwrap_or_default(),
    );
    bytes(&mut out, 2, &info);
    if let Some(defs) = doc["definitions"].as_object() {
        bytes(&mut out, 9, &named_schemas(defs));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_strings_are_protobuf_wire_format() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        let doc = json!({"swagger": "2.0", "info": {"title": "K", "version": "v"}});
        // field 1 "2.0", field 2 { field 1 "K", field 2 "v" }
        assert_eq!(
            document(&doc),
            [
                0x0a, 3, b'2', b'.', b'0', 0x12, 6, 0x0a, 1, b'K', 0x12, 1, b'v'
            ]
        );
    }

    #[test]
    fn a_schema_writes_type_properties_and_extensions() {
        let s = json!({
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}],
        });
        let bytes = schema(&s);
        // required (19, wire 2) = 0x9a 0x01; type (22) = 0xb2 0x01;
        // properties (25) = 0xca 0x01; vendor_extension (31) = 0xfa 0x01.
        for tag in [[0x9a, 0x01], [0xb2, 0x01], [0xca, 0x01], [0xfa, 0x01]] {
            assert!(
                bytes.windows(2).any(|w| w == tag),
                "no field {tag:x?} in {bytes:x?}"
            );
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains(r#"[{"group":"","kind":"Pod","version":"v1"}]"#),
            "{text}"
        );
    }
}
