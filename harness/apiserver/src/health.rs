//! `/healthz`, `/livez` and `/readyz` as kube-apiserver writes them
//! (apiserver's `pkg/server/healthz/healthz.go` `handleRootHealth`): `ok`,
//! or with `?verbose` one `[+]check ok` line per check and a closing line;
//! `?exclude=` skips a check; `/readyz/<check>` asks one check. The check
//! names are those a kube-apiserver 1.33 reports, so tools that wait for a
//! named check find it; the in-memory store makes every one pass.

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};

/// kube-apiserver 1.33's checks, in its order; readyz adds `etcd-readiness`
/// and `informer-sync` after `etcd`, and `shutdown` last.
const CHECKS: &[&str] = &[
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/priority-and-fairness-config-consumer",
    "poststarthook/priority-and-fairness-filter",
    "poststarthook/storage-object-count-tracker-hook",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/start-system-namespaces-controller",
    "poststarthook/start-cluster-authentication-info-controller",
    "poststarthook/start-kube-apiserver-identity-lease-controller",
    "poststarthook/start-kube-apiserver-identity-lease-garbage-collector",
    "poststarthook/start-legacy-token-tracking-controller",
    "poststarthook/start-service-ip-repair-controllers",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/priority-and-fairness-config-producer",
    "poststarthook/bootstrap-controller",
    "poststarthook/start-kubernetes-service-cidr-controller",
    "poststarthook/start-kube-aggregator-informers",
    "poststarthook/apiservice-status-local-available-controller",
    "poststarthook/apiservice-status-remote-available-controller",
    "poststarthook/apiservice-registration-controller",
    "poststarthook/apiservice-discovery-controller",
    "poststarthook/kube-apiserver-autoregistration",
    "autoregister-completion",
    "poststarthook/apiservice-openapi-controller",
    "poststarthook/apiservice-openapiv3-controller",
];

fn checks(endpoint: &str) -> Vec<&'static str> {
    let mut out = Vec::with_capacity(CHECKS.len() + 3);
    for check in CHECKS {
        out.push(*check);
        if endpoint == "readyz" && *check == "etcd" {
            out.extend(["etcd-readiness", "informer-sync"]);
        }
    }
    if endpoint == "readyz" {
        out.push("shutdown");
    }
    out
}

/// Answers `/<endpoint>` or `/<endpoint>/<check…>`; `None` for a check
/// the endpoint does not have (a plain 404).
pub(crate) fn serve(endpoint: &str, check: &[&str], uri: &http::Uri) -> Option<Response> {
    let all = checks(endpoint);
    if !check.is_empty() {
        let name = check.join("/");
        return all.contains(&name.as_str()).then(|| text("ok".into()));
    }
    let pairs = crate::rest::Params::pairs(uri);
    if !pairs.iter().any(|(k, _)| k == "verbose") {
        return Some(text("ok".into()));
    }
    let excluded: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "exclude")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut body = String::new();
    for check in &all {
        if excluded.contains(check) {
            body.push_str(&format!("[+]{check} excluded: ok\n"));
        } else {
            body.push_str(&format!("[+]{check} ok\n"));
        }
    }
    let unknown: Vec<String> = excluded
        .iter()
        .filter(|e| !all.contains(e))
        .map(|e| format!("{e:?}"))
        .collect();
    if !unknown.is_empty() {
        body.push_str(&format!(
            "warn: some health checks cannot be excluded: no matches for {}\n",
            unknown.join(",")
        ));
    }
    body.push_str(&format!("{endpoint} check passed\n"));
    Some(text(body))
}

fn text(body: String) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Body::from(body))
        .expect("static headers are valid")
}
