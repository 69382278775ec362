//! List and watch requests with arbitrary parameters: label and field
//! selectors built from every operator kube-apiserver parses plus arbitrary
//! strings (and thousands of terms), `limit`/`continue`, `resourceVersion`
//! and `resourceVersionMatch`, `watch`, `allowWatchBookmarks`,
//! `timeoutSeconds`, `sendInitialEvents`. No answer may be a 500 or a panic;
//! errors are `Status` objects; a watch that starts is dropped unread, which
//! must end it (memory stays bounded over a run).
#![no_main]

mod common;

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;

/// (path prefix, plural) of lists with objects in them.
const RESOURCES: &[&str] = &[
    "/api/v1/namespaces/default/pods",
    "/api/v1/pods",
    "/api/v1/namespaces",
    "/api/v1/namespaces/default/configmaps",
    "/apis/apps/v1/namespaces/default/deployments",
    "/api/v1/namespaces/default/events",
    "/apis/coordination.k8s.io/v1/leases",
];
const KEYS: &[&str] = &[
    "labelSelector",
    "fieldSelector",
    "limit",
    "continue",
    "resourceVersion",
    "resourceVersionMatch",
    "watch",
    "allowWatchBookmarks",
    "timeoutSeconds",
    "sendInitialEvents",
    "pretty",
];
const VALUES: &[&str] = &[
    "", "0", "1", "true", "false", "NotOlderThan", "Exact", "-1", "18446744073709551616",
    "9223372036854775807", "1e3", "abc",
];
const LABEL_KEYS: &[&str] = &["app", "tier", "example.com/role", "a/b/c", "-bad", ""];
const FIELD_KEYS: &[&str] = &[
    "metadata.name", "metadata.namespace", "status.phase", "spec.nodeName", "spec.restartPolicy",
    "involvedObject.name", "type", "metadata.labels",
];
const OPS: &[&str] = &["=", "==", "!=", " in ", " notin ", "", "!", ">", "<", " In "];

#[derive(Debug, Arbitrary)]
enum Text {
    Known(u8),
    Other(String),
}

impl Text {
    fn pick(&self, known: &[&str]) -> String {
        match self {
            Text::Known(i) => known[*i as usize % known.len()].to_owned(),
            Text::Other(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Term {
    key: Text,
    op: u8,
    values: Vec<Text>,
    /// Wrap set values in parentheses (or, when false, leave them bare).
    parens: bool,
}

#[derive(Debug, Arbitrary)]
struct Input {
    resource: u8,
    params: Vec<(Text, Text)>,
    labels: Vec<Term>,
    fields: Vec<Term>,
    /// Repeat the label terms this many times over (a selector with
    /// thousands of terms must be answered, not hang).
    repeat: u8,
    watch: bool,
}

fn selector(terms: &[Term], keys: &[&str], repeat: usize) -> String {
    let one: Vec<String> = terms
        .iter()
        .take(16)
        .map(|t| {
            let op = OPS[t.op as usize % OPS.len()];
            let key = t.key.pick(keys);
            let values: Vec<String> = t.values.iter().take(8).map(|v| v.pick(&["web", "db", "", "x y"])).collect();
            match op.trim() {
                "in" | "notin" | "In" if t.parens => format!("{key}{op}({})", values.join(",")),
                "" | "!" => format!("{op}{key}"),
                _ => format!("{key}{op}{}", values.join(",")),
            }
        })
        .collect();
    vec![one.join(","); repeat.max(1)].join(",")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A few labelled objects, so selectors have something to match.
fn seed() {
    static SEEDED: OnceLock<()> = OnceLock::new();
    SEEDED.get_or_init(|| {
        for (i, app) in ["web", "db", "web"].iter().enumerate() {
            let pod = format!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{i}","labels":{{"app":"{app}","tier":"t{i}"}}}},"spec":{{"containers":[{{"name":"c","image":"i"}}],"nodeName":"n{i}"}}}}"#
            );
            let req = Request::post("/api/v1/namespaces/default/pods")
                .header("content-type", "application/json")
                .body(Body::from(pod))
                .expect("request");
            assert!(common::send(req, false).is_success(), "seeding pod p{i}");
        }
    });
}

fuzz_target!(|input: Input| {
    seed();
    let mut query: Vec<String> = Vec::new();
    for (k, v) in input.params.iter().take(12) {
        let key = k.pick(KEYS);
        // `watch` comes from its own field, so a watch is always known as one.
        if key == "watch" {
            continue;
        }
        query.push(format!("{}={}", encode(&key), encode(&v.pick(VALUES))));
    }
    if !input.labels.is_empty() {
        // Up to 255 repeats of up to 16 terms: thousands of terms.
        let s = selector(&input.labels, LABEL_KEYS, input.repeat as usize);
        query.push(format!("labelSelector={}", encode(&s)));
    }
    if !input.fields.is_empty() {
        let s = selector(&input.fields, FIELD_KEYS, 1);
        query.push(format!("fieldSelector={}", encode(&s)));
    }
    if input.watch {
        query.push("watch=true".into());
    }
    let uri = format!(
        "{}?{}",
        RESOURCES[input.resource as usize % RESOURCES.len()],
        query.join("&")
    );
    let Ok(req) = Request::get(&uri).body(Body::empty()) else {
        return;
    };
    common::send(req, input.watch);
});
