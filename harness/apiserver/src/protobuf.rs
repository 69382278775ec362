//! Just enough of Kubernetes' protobuf encoding to accept the request
//! bodies `kubectl create namespace|configmap|secret` send (kubectl's typed
//! clients write protobuf). Other kinds answer 415 naming the kind, so the
//! user knows to use `kubectl apply` instead.

use base64_free::encode as b64;
use serde_json::{Map, Value, json};

/// `k8s\0`, then a `runtime.Unknown` envelope.
const MAGIC: &[u8] = b"k8s\0";

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// Iterates over the (field number, value) pairs of one message.
fn fields(mut buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (key, rest) = varint(buf)?;
        buf = rest;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let (v, rest) = varint(buf)?;
                buf = rest;
                out.push((num, Field::Varint(v)));
            }
            2 => {
                let (len, rest) = varint(buf)?;
                let len = usize::try_from(len).map_err(|_| "length overflow")?;
                if rest.len() < len {
                    return Err("truncated message".into());
                }
                out.push((num, Field::Bytes(&rest[..len])));
                buf = &rest[len..];
            }
            1 => buf = buf.get(8..).ok_or("truncated fixed64")?,
            5 => buf = buf.get(4..).ok_or("truncated fixed32")?,
            other => return Err(format!("unsupported wire type {other}")),
        }
    }
    Ok(out)
}

fn varint(buf: &[u8]) -> Result<(u64, &[u8]), String> {
    let mut v = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, &buf[i + 1..]));
        }
    }
    Err("bad varint".into())
}

fn text(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "invalid UTF-8 in a string field".to_string())
}

/// A `map<string, string|bytes>` entry.
fn entry(b: &[u8], bytes_value: bool) -> Result<(String, Value), String> {
    let (mut k, mut v) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(b)? {
        if let Field::Bytes(x) = f {
            match n {
                1 => k = text(x)?,
                2 if bytes_value => v = b64(x).into(),
                2 => v = text(x)?.into(),
                _ => {}
            }
        }
    }
    Ok((k, v))
}

fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut m = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Map::new(), Map::new(), Vec::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => {
                m.insert("name".into(), text(x)?.into());
            }
            (2, Field::Bytes(x)) => {
                m.insert("generateName".into(), text(x)?.into());
            }
            (3, Field::Bytes(x)) => {
                m.insert("namespace".into(), text(x)?.into());
            }
            (6, Field::Bytes(x)) => {
                m.insert("resourceVersion".into(), text(x)?.into());
            }
            (11, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                labels.insert(k, v);
            }
            (12, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                annotations.insert(k, v);
            }
            (14, Field::Bytes(x)) => finalizers.push(Value::String(text(x)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), labels.into());
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), annotations.into());
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), finalizers.into());
    }
    Ok(Value::Object(m))
}

fn config_map(raw: &[u8], secret: bool) -> Result<Value, String> {
    let mut obj = Map::new();
    let (mut data, mut binary, mut string_data) = (Map::new(), Map::new(), Map::new());
    for (n, f) in fields(raw)? {
        match (secret, n, f) {
            (_, 1, Field::Bytes(x)) => {
                obj.insert("metadata".into(), object_meta(x)?);
            }
            (false, 2, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                data.insert(k, v);
            }
            (false, 3, Field::Bytes(x)) | (true, 2, Field::Bytes(x)) => {
                let (k, v) = entry(x, true)?;
                if secret { &mut data } else { &mut binary }.insert(k, v);
            }
            (true, 3, Field::Bytes(x)) => {
                obj.insert("type".into(), text(x)?.into());
            }
            (true, 4, Field::Bytes(x)) => {
                let (k, v) = entry(x, false)?;
                string_data.insert(k, v);
            }
            (false, 4, Field::Varint(v)) | (true, 5, Field::Varint(v)) => {
                obj.insert("immutable".into(), (v != 0).into());
            }
            _ => {}
        }
    }
    for (k, m) in [
        ("data", data),
        ("binaryData", binary),
        ("stringData", string_data),
    ] {
        if !m.is_empty() {
            obj.insert(k.into(), m.into());
        }
    }
    Ok(Value::Object(obj))
}

fn namespace(raw: &[u8]) -> Result<Value, String> {
    let mut obj = Map::new();
    for (n, f) in fields(raw)? {
        if let (1, Field::Bytes(x)) = (n, f) {
            obj.insert("metadata".into(), object_meta(x)?);
        }
    }
    Ok(Value::Object(obj))
}

/// Decodes a protobuf request body into the JSON object it stands for.
/// `Err` carries a message for a 415 (kind not understood) answer.
pub(crate) fn decode(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or("protobuf body without the k8s magic prefix")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(envelope)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (m, g) in fields(tm)? {
                    match (m, g) {
                        (1, Field::Bytes(x)) => api_version = text(x)?,
                        (2, Field::Bytes(x)) => kind = text(x)?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    let mut obj = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => namespace(raw)?,
        ("v1", "ConfigMap") => config_map(raw, false)?,
        ("v1", "Secret") => config_map(raw, true)?,
        _ => {
            return Err(format!(
                "the embedded API server reads protobuf bodies only for Namespace, ConfigMap and Secret, not {kind} ({api_version}); send JSON or YAML (e.g. kubectl apply -f) instead"
            ));
        }
    };
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

/// Standard base64 without a dependency: Secret data travels as base64 in JSON.
mod base64_free {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub(super) fn encode(data: &[u8]) -> String {
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![((num << 3) | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    fn map_entry(num: u64, k: &str, v: &[u8]) -> Vec<u8> {
        field(num, &[field(1, k.as_bytes()), field(2, v)].concat())
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let tm = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), field(1, &tm), field(2, raw)].concat()
    }

    #[test]
    fn decodes_a_configmap_like_kubectl_create_sends() {
        let meta = [field(1, b"settings"), map_entry(11, "app", b"web")].concat();
        let raw = [
            field(1, &meta),
            map_entry(2, "k", b"v"),
            map_entry(3, "bin", b"\x00\x01"),
        ]
        .concat();
        let obj = decode(&envelope("v1", "ConfigMap", &raw)).unwrap();
        assert_eq!(
            obj,
            json!({"metadata": {"name": "settings", "labels": {"app": "web"}},
                   "data": {"k": "v"}, "binaryData": {"bin": "AAE="},
                   "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    #[test]
    fn other_kinds_are_named_in_the_refusal() {
        let err = decode(&envelope("apps/v1", "Deployment", &[])).unwrap_err();
        assert!(err.contains("Deployment"), "{err}");
        assert!(decode(b"{}").is_err());
        assert!(decode(&[b"k8s\0".as_slice(), &[0x0a, 0x7f]].concat()).is_err());
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_free::encode(b"hello"), "aGVsbG8=");
        assert_eq!(base64_free::encode(b"hi!"), "aGkh");
        assert_eq!(base64_free::encode(b""), "");
    }
}
