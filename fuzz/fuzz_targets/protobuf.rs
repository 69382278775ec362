//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`, what
//! kubectl's typed clients send): a `k8s\0` envelope around a
//! `runtime.Unknown` naming a kind, with arbitrary bytes as the object, or
//! arbitrary bytes outright. Whatever the bytes, the answer is a created
//! object or a `Status` error (400 for an unknown kind or a broken
//! message), never a 500 or a panic.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

const TARGETS: &[(&str, &str)] = &[
    ("/api/v1/namespaces", "Namespace"),
    ("/api/v1/namespaces/default/configmaps", "ConfigMap"),
    ("/api/v1/namespaces/default/secrets", "Secret"),
    ("/api/v1/namespaces/default/pods", "Pod"),
    ("/apis/apps/v1/namespaces/default/deployments", "Deployment"),
];

#[derive(Debug, Arbitrary)]
struct Input {
    target: u8,
    /// Wrap `object` in the envelope (otherwise send it bare).
    envelope: bool,
    /// Name another kind in the envelope than the URL's.
    kind: Option<String>,
    object: Vec<u8>,
    method_put: bool,
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A length-delimited field.
fn field(num: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(num << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fuzz_target!(|input: Input| {
    let (path, kind) = TARGETS[input.target as usize % TARGETS.len()];
    let body = if input.envelope {
        let mut type_meta = Vec::new();
        let api_version = if path.starts_with("/apis/apps") { "apps/v1" } else { "v1" };
        field(1, api_version.as_bytes(), &mut type_meta);
        field(2, input.kind.as_deref().unwrap_or(kind).as_bytes(), &mut type_meta);
        let mut unknown = Vec::new();
        field(1, &type_meta, &mut unknown);
        field(2, &input.object, &mut unknown);
        let mut body = b"k8s\0".to_vec();
        body.extend_from_slice(&unknown);
        body
    } else {
        input.object
    };
    let method = if input.method_put { "PUT" } else { "POST" };
    let uri = if input.method_put { format!("{path}/x") } else { path.to_owned() };
    let Ok(req) = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/vnd.kubernetes.protobuf")
        .body(Body::from(body))
    else {
        return;
    };
    common::send(req, false);
});
