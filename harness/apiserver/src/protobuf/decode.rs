//! One protobuf message to the JSON kube-apiserver would have read: field
//! names, inlined structs and dropped zero values as Go's JSON encoding of
//! the decoded struct writes them, and apimachinery's hand-written wire
//! types (times, quantities, int-or-string, raw JSON) as their JSON forms.

use super::wire::{Wire, fields};
use crate::go_types::{
    DURATION, FIELDS_V1, Field, INT_OR_STRING, MICRO_TIME, QUANTITY, RAW_EXTENSION, Scalar, Schema,
    TIME, Type, is_zero,
};
use serde_json::{Map, Value};

/// How deep messages may nest: serde_json's own limit for JSON bodies, so
/// a hostile body fails the same way in either encoding, never by
/// overflowing the stack.
const MAX_DEPTH: usize = 128;

pub(super) fn message(
    schema: &Schema,
    name: &str,
    buf: &[u8],
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("messages nested deeper than {MAX_DEPTH}"));
    }
    match name {
        TIME | MICRO_TIME => return time(buf, name == MICRO_TIME),
        DURATION => return Ok(go_duration(int_field(buf, 1)?).into()),
        QUANTITY => return Ok(string_field(buf, 1)?.unwrap_or_else(|| "0".into()).into()),
        INT_OR_STRING => return int_or_string(buf),
        RAW_EXTENSION | FIELDS_V1 => return raw_json(buf, depth),
        _ => {}
    }
    let message = schema
        .message(name)
        .ok_or_else(|| format!("no message {name} in the protobuf schema"))?;
    let mut obj = Map::new();
    for (number, wire) in fields(buf)? {
        // Go's generated decoders skip fields they do not know.
        let Some(field) = message.fields.get(&number) else {
            continue;
        };
        let at = |e: String| format!("{name} field {number}: {e}");
        let Some(json) = field.json else {
            // An inlined struct: its fields are this object's.
            let Wire::Bytes(b) = wire else {
                return Err(at("an inlined field must be a message".into()));
            };
            if let Value::Object(inner) =
                value(schema, field.ty, Wire::Bytes(b), depth).map_err(at)?
            {
                obj.extend(inner);
            }
            continue;
        };
        if let Some(key_type) = field.map_key {
            let Wire::Bytes(b) = wire else {
                return Err(at("a map entry must be a message".into()));
            };
            let (k, v) = map_entry(schema, field, key_type, b, depth).map_err(at)?;
            let map = obj.entry(json).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = map {
                map.insert(k, v);
            }
        } else if field.repeated {
            let list = obj.entry(json).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(list) = list else {
                unreachable!("a repeated field is always an array")
            };
            match (field.ty, wire) {
                // Packed numbers: one length-delimited run of varints.
                (Type::Scalar(s), Wire::Bytes(mut b)) if is_varint(s) => {
                    while !b.is_empty() {
                        let (v, rest) = super::wire::varint(b).map_err(at)?;
                        list.push(scalar(s, Wire::Varint(v)).map_err(at)?);
                        b = rest;
                    }
                }
                (ty, wire) => list.push(value(schema, ty, wire, depth).map_err(at)?),
            }
        } else {
            let v = value(schema, field.ty, wire, depth).map_err(at)?;
            if field.keeps_zero() || !is_zero(&v) || matches!(field.ty, Type::Message(_)) {
                obj.insert(json.to_string(), v);
            }
        }
    }
    if message.list {
        return Ok(obj.remove("items").unwrap_or(Value::Array(Vec::new())));
    }
    Ok(Value::Object(obj))
}

fn value(schema: &Schema, ty: Type, wire: Wire<'_>, depth: usize) -> Result<Value, String> {
    match (ty, wire) {
        (Type::Message(name), Wire::Bytes(b)) => message(schema, name, b, depth + 1),
        (Type::Message(name), _) => Err(format!("{name} must be length-delimited")),
        (Type::Scalar(s), wire) => scalar(s, wire),
    }
}

/// Scalars read as varints, which a packed repeated field runs together.
fn is_varint(s: Scalar) -> bool {
    matches!(
        s,
        Scalar::Bool | Scalar::Int32 | Scalar::Int64 | Scalar::UInt32 | Scalar::UInt64
    )
}

fn scalar(s: Scalar, wire: Wire<'_>) -> Result<Value, String> {
    Ok(match (s, wire) {
        (Scalar::String, Wire::Bytes(b)) => Value::String(
            std::str::from_utf8(b)
                .map_err(|_| "invalid UTF-8 in a string field")?
                .to_string(),
        ),
        (Scalar::Bytes, Wire::Bytes(b)) => {
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b).into()
        }
        (Scalar::Bool, Wire::Varint(v)) => (v != 0).into(),
        // Negative int32 values travel sign-extended to 64 bits.
        (Scalar::Int32, Wire::Varint(v)) => (v as i64 as i32).into(),
        (Scalar::Int64, Wire::Varint(v)) => (v as i64).into(),
        (Scalar::UInt32, Wire::Varint(v)) => (v as u32).into(),
        (Scalar::UInt64, Wire::Varint(v)) => v.into(),
        (Scalar::Double, Wire::Fixed64(v)) => f64::from_bits(v).into(),
        (Scalar::Float, Wire::Fixed32(v)) => f64::from(f32::from_bits(v)).into(),
        (s, _) => return Err(format!("a {s:?} value has the wrong wire type")),
    })
}

/// A `map<K, V>` entry is a message with the key in field 1, the value in 2.
fn map_entry(
    schema: &Schema,
    field: &Field,
    key_type: Scalar,
    buf: &[u8],
    depth: usize,
) -> Result<(String, Value), String> {
    let (mut key, mut value_) = (None, None);
    for (number, wire) in fields(buf)? {
        match number {
            1 => key = Some(scalar(key_type, wire)?),
            2 => value_ = Some(value(schema, field.ty, wire, depth)?),
            _ => {}
        }
    }
    let key = match key {
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let value_ = match value_ {
        Some(v) => v,
        None => value(schema, field.ty, Wire::Bytes(&[]), depth).or_else(|_| zero(field.ty))?,
    };
    Ok((key, value_))
}

fn zero(ty: Type) -> Result<Value, String> {
    Ok(match ty {
        Type::Scalar(Scalar::String | Scalar::Bytes) => Value::String(String::new()),
        Type::Scalar(Scalar::Bool) => false.into(),
        _ => 0.into(),
    })
}

fn int_field(buf: &[u8], want: u32) -> Result<i64, String> {
    let mut out = 0;
    for (number, wire) in fields(buf)? {
        if let (n, Wire::Varint(v)) = (number, wire)
            && n == want
        {
            out = v as i64;
        }
    }
    Ok(out)
}

fn string_field(buf: &[u8], want: u32) -> Result<Option<String>, String> {
    let mut out = None;
    for (number, wire) in fields(buf)? {
        if number == want {
            let Value::String(s) = scalar(Scalar::String, wire)? else {
                unreachable!("a string scalar is a JSON string")
            };
            out = Some(s);
        }
    }
    Ok(out)
}

/// `metav1.Time` is seconds and nanoseconds since the epoch; an empty
/// message is Go's zero time, which JSON writes as `null`. Time has second
/// precision in JSON, MicroTime microseconds.
fn time(buf: &[u8], micro: bool) -> Result<Value, String> {
    if buf.is_empty() {
        return Ok(Value::Null);
    }
    let seconds = int_field(buf, 1)?;
    let nanos = int_field(buf, 2)? as i32;
    let ts = jiff::Timestamp::new(seconds, nanos.clamp(0, 999_999_999))
        .map_err(|e| format!("time out of range: {e}"))?;
    let whole = ts.strftime("%Y-%m-%dT%H:%M:%S");
    Ok(if micro {
        format!("{whole}.{:06}Z", ts.subsec_nanosecond() / 1000)
    } else {
        format!("{whole}Z")
    }
    .into())
}

/// `intstr.IntOrString`: type 0 is the int in field 2, type 1 the string in 3.
fn int_or_string(buf: &[u8]) -> Result<Value, String> {
    if int_field(buf, 1)? == 1 {
        Ok(string_field(buf, 3)?.unwrap_or_default().into())
    } else {
        Ok((int_field(buf, 2)? as i32).into())
    }
}

/// RawExtension and FieldsV1 carry JSON bytes in field 1 (a nested object
/// may itself be protobuf, in its own envelope).
fn raw_json(buf: &[u8], depth: usize) -> Result<Value, String> {
    let mut raw: &[u8] = &[];
    for (number, wire) in fields(buf)? {
        if let (1, Wire::Bytes(b)) = (number, wire) {
            raw = b;
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if raw.starts_with(super::MAGIC) {
        return super::decode_at(raw, depth + 1).map_err(|e| e.to_string());
    }
    serde_json::from_slice(raw).map_err(|e| format!("embedded raw object is not JSON: {e}"))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |v: u64, unit: u64| {
        let (whole, rest) = (v / unit, v % unit);
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = unit.ilog10() as usize;
            let f = format!("{rest:0digits$}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000));
    }
    let secs = u / 1_000_000_000;
    let sub = u % 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let s = frac(s * 1_000_000_000 + sub, 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sign}{s}s"),
        (0, m) => format!("{sign}{m}m{s}s"),
        (h, m) => format!("{sign}{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_prints_them() {
        // time.Duration.String in Go's src/time/time.go.
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1_500_000), "1.5ms");
        assert_eq!(go_duration(90 * 1_000_000_000), "1m30s");
        assert_eq!(go_duration(3_600 * 1_000_000_000), "1h0m0s");
        assert_eq!(go_duration(2_500_000_000), "2.5s");
        assert_eq!(go_duration(-5), "-5ns");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        // JSONSchemaProps nests through `properties` (map field 29 in
        // apiextensions v1 generated.proto): 10,000 levels in ~60 KB.
        const PROPS: &str =
            "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            let entry = [vec![0x0a, 0x01, b'x', 0x12], len(&buf), buf].concat();
            buf = [vec![0xea, 0x01], len(&entry), entry].concat();
        }
        let err = message(Schema::get(), PROPS, &buf, 0).unwrap_err();
        assert!(err.contains("nested deeper than 128"), "{err}");
    }

    fn len(b: &[u8]) -> Vec<u8> {
        let mut n = b.len();
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out
    }
}
