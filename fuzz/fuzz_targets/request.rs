//! Arbitrary HTTP requests through the server's router, in process: no
//! request may panic the server or answer 500, and every error must be a
//! `Status` object whose `code` matches the HTTP status.
#![no_main]

mod common;

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

/// Segments that reach deep into the API; arbitrary strings cover the rest.
const SEGMENTS: &[&str] = &[
    "api", "apis", "v1", "apps", "batch", "coordination.k8s.io", "apiextensions.k8s.io",
    "customresourcedefinitions", "namespaces", "default", "kube-system", "pods", "deployments",
    "statefulsets", "configmaps", "leases", "events", "status", "scale", "web", "version",
    "openapi", "v2", "example.com", "widgets", "",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
    "text/plain",
];

#[derive(Debug, Arbitrary)]
enum Segment {
    Known(u8),
    Other(String),
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: u8,
    path: Vec<Segment>,
    query: String,
    content_type: u8,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let mut path = String::new();
    for seg in input.path.iter().take(8) {
        let s = match seg {
            Segment::Known(i) => SEGMENTS[*i as usize % SEGMENTS.len()].to_owned(),
            Segment::Other(s) => s.chars().filter(|c| c.is_ascii_graphic() && *c != '?' && *c != '#' && *c != '%').collect(),
        };
        // Watches have their own target (query).
        if s == "watch" {
            return;
        }
        path.push('/');
        path.push_str(&s);
    }
    if path.is_empty() {
        path.push('/');
    }
    let query: String = input.query.chars().filter(|c| c.is_ascii_graphic() && *c != '#').collect();
    if !query.is_empty() && !query.contains("watch") {
        path.push('?');
        path.push_str(&query);
    }
    let Ok(req) = Request::builder()
        .method(METHODS[input.method as usize % METHODS.len()])
        .uri(&path)
        .header("content-type", CONTENT_TYPES[input.content_type as usize % CONTENT_TYPES.len()])
        .body(Body::from(input.body))
    else {
        return; // not a request hyper would accept either
    };
    common::send(req, false);
});
