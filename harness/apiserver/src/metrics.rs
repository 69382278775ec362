//! `/metrics` in Prometheus text, with the apiserver metrics tools read:
//! `apiserver_request_total`, `apiserver_request_duration_seconds` and
//! `apiserver_storage_objects`, named, described, labelled and bucketed as
//! apiserver's `pkg/endpoints/metrics/metrics.go` (and the storage metrics)
//! declare them in 1.33.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};

/// `apiserver_request_duration_seconds` buckets.
const BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// A request's labels, fields in the alphabetical order Prometheus writes
/// them (`component` is always `apiserver`).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Labels {
    dry_run: String,
    group: String,
    resource: String,
    scope: String,
    subresource: String,
    verb: String,
    version: String,
}

impl Labels {
    fn render(&self) -> String {
        format!(
            "component=\"apiserver\",dry_run={:?},group={:?},resource={:?},scope={:?},subresource={:?},verb={:?},version={:?}",
            self.dry_run,
            self.group,
            self.resource,
            self.scope,
            self.subresource,
            self.verb,
            self.version
        )
    }

    /// The labels of a request, as `MonitorRequest` and `CleanVerb` derive
    /// them from apiserver's request info; `None` for paths not counted.
    pub(crate) fn of(method: &Method, uri: &http::Uri, headers: &HeaderMap) -> Option<Labels> {
        let segs: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
        if let [health @ ("healthz" | "livez" | "readyz"), ..] = segs.as_slice() {
            return Some(Labels {
                verb: "GET".into(),
                subresource: format!("/{health}"),
                ..Labels::default()
            });
        }
        let (group, version, mut rest) = match segs.as_slice() {
            ["api", v, rest @ ..] => ("", *v, rest),
            ["apis", g, v, rest @ ..] => (*g, *v, rest),
            _ => return None,
        };
        let mut watch_path = false;
        if let ["watch", r @ ..] = rest {
            watch_path = true;
            rest = r;
        }
        let namespace = match rest {
            ["namespaces", ns, r @ ..]
                if !r.is_empty() && !matches!(r[0], "status" | "finalize") =>
            {
                rest = r;
                Some(*ns)
            }
            _ => None,
        };
        let (resource, name, sub) = match rest {
            [p] => (*p, None, ""),
            [p, n] => (*p, Some(*n), ""),
            [p, n, s, ..] => (*p, Some(*n), *s),
            _ => return None,
        };
        let query = crate::rest::Params::pairs(uri);
        let value = |k: &str| {
            query
                .iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        let watch = watch_path || value("watch").iter().any(|v| *v == "true" || *v == "1");
        let verb = if matches!(sub, "log" | "exec" | "attach" | "portforward" | "proxy") {
            "CONNECT"
        } else {
            match *method {
                Method::GET | Method::HEAD if watch => "WATCH",
                Method::GET | Method::HEAD if name.is_none() => "LIST",
                Method::GET | Method::HEAD => "GET",
                Method::POST => "POST",
                Method::PUT => "PUT",
                Method::DELETE => "DELETE",
                Method::PATCH => {
                    let apply = headers
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.starts_with("application/apply-patch"));
                    if apply { "APPLY" } else { "PATCH" }
                }
                _ => "other",
            }
        };
        let mut dry_run: Vec<&str> = value("dryRun");
        dry_run.sort_unstable();
        dry_run.dedup();
        let dry_run = if dry_run.iter().all(|d| *d == "All") {
            dry_run.join(",")
        } else {
            "invalid".to_string()
        };
        let scope = if name.is_some() || *method == Method::POST {
            "resource"
        } else if namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        Some(Labels {
            dry_run,
            group: group.into(),
            resource: resource.into(),
            scope: scope.into(),
            subresource: sub.into(),
            verb: verb.into(),
            version: version.into(),
        })
    }
}

#[derive(Debug, Default)]
struct Series {
    codes: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The server's request counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    series: Mutex<BTreeMap<Labels, Series>>,
}

impl Metrics {
    pub(crate) fn observe(&self, labels: Labels, code: u16, took: Duration) {
        let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = all.entry(labels).or_default();
        *s.codes.entry(code).or_default() += 1;
        let secs = took.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                s.buckets[i] += 1;
            }
        }
        s.sum += secs;
        s.count += 1;
    }

    /// The exposition, with `apiserver_storage_objects` from `stored`
    /// (qualified resource, count).
    pub(crate) fn render(&self, mut stored: Vec<(String, usize)>) -> Response {
        let all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_duration_seconds [STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.\n");
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (labels, s) in all.iter() {
            let l = labels.render();
            for (le, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "apiserver_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_sum{{{l}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "apiserver_request_duration_seconds_count{{{l}}} {}",
                s.count
            );
        }
        out.push_str("# HELP apiserver_request_total [STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.\n");
        out.push_str("# TYPE apiserver_request_total counter\n");
        let mut totals: Vec<(String, u64)> = all
            .iter()
            .flat_map(|(labels, s)| {
                s.codes
                    .iter()
                    .map(move |(code, n)| (format!("code=\"{code}\",{}", labels.render()), *n))
            })
            .collect();
        totals.sort();
        for (l, n) in totals {
            let _ = writeln!(out, "apiserver_request_total{{{l}}} {n}");
        }
        out.push_str("# HELP apiserver_storage_objects [STABLE] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1.\n");
        out.push_str("# TYPE apiserver_storage_objects gauge\n");
        stored.sort();
        for (resource, n) in stored {
            let _ = writeln!(
                out,
                "apiserver_storage_objects{{resource={resource:?}}} {n}"
            );
        }
        Response::builder()
            .status(StatusCode::OK)
            .header(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
            )
            .body(Body::from(out))
            .expect("static headers are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(method: Method, uri: &str, content_type: &str) -> Labels {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, content_type.parse().unwrap());
        Labels::of(&method, &uri.parse().unwrap(), &headers).unwrap()
    }

    #[test]
    fn verbs_and_scopes_follow_clean_verb_and_clean_scope() {
        let l = labels(Method::GET, "/api/v1/namespaces/a/pods", "");
        assert_eq!((l.verb.as_str(), l.scope.as_str()), ("LIST", "namespace"));
        let l = labels(Method::GET, "/apis/apps/v1/deployments?watch=true", "");
        assert_eq!(
            (l.verb.as_str(), l.scope.as_str(), l.group.as_str()),
            ("WATCH", "cluster", "apps")
        );
        let l = labels(Method::POST, "/api/v1/namespaces/a/pods?dryRun=All", "");
        assert_eq!(
            (l.verb.as_str(), l.scope.as_str(), l.dry_run.as_str()),
            ("POST", "resource", "All")
        );
        let l = labels(
            Method::PATCH,
            "/api/v1/namespaces/a/pods/p",
            "application/apply-patch+yaml",
        );
        assert_eq!(l.verb, "APPLY");
        let l = labels(Method::GET, "/api/v1/namespaces/a/pods/p/log", "");
        assert_eq!(
            (l.verb.as_str(), l.subresource.as_str()),
            ("CONNECT", "log")
        );
        let l = labels(Method::GET, "/readyz", "");
        assert_eq!(
            (l.verb.as_str(), l.subresource.as_str(), l.scope.as_str()),
            ("GET", "/readyz", "")
        );
        assert!(
            Labels::of(
                &Method::GET,
                &"/version".parse().unwrap(),
                &HeaderMap::new()
            )
            .is_none()
        );
    }
}
