//! Faults on demand: an API server that answers some requests the way an
//! overloaded or contended kube-apiserver does (409 on an update, 429 with
//! Retry-After, 500, 503, 504, a slow answer), so an operator's retry paths
//! run in a test instead of first in production.
//!
//! A [`Fault`] says which requests it hits (verb, resource, namespace, name,
//! field manager, user agent), how often (a number of times, a probability
//! drawn from a seeded generator, a window of tokio time), and what happens.
//! [`Faults`] holds the rules of one server and remembers every injection
//! ([`Injected`]), so a failing test can say what was done to the operator.
//! The answers are the ones kube-apiserver gives; each constructor cites the
//! upstream code it mirrors.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, StatusCode, header};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::time::Instant;

use crate::error::{ApiError, Target};

/// Environment variable that fixes the seed of probabilistic faults, so a
/// failing run can be replayed (the seed is in every report).
pub const FAULT_SEED_VAR: &str = "HARNESS_FAULT_SEED";

/// What a matched request gets.
#[derive(Debug, Clone, PartialEq)]
enum Effect {
    /// A `Status` error built by the server for the request's object.
    Status(StatusKind),
    /// kube-apiserver's max-in-flight / priority-and-fairness rejection.
    Throttle { retry_after_seconds: u32 },
    /// The request is served, `delay` of tokio time later.
    Latency(Duration),
    /// A watch misbehaves `after` this much of its life.
    Watch { kind: WatchFault, after: Duration },
    /// A list continued with a token the server no longer honours.
    ExpiredContinue,
}

/// How an injected watch fault ends or starves a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchFault {
    /// The stream ends; the client resumes from its last resourceVersion.
    Close,
    /// The stream ends and the resume is answered with 410 Gone, as when
    /// kube-apiserver's watch cache has moved past the client's version.
    Gone,
    /// The stream stays open and delivers nothing (no events, no bookmarks)
    /// until the watch's own timeout.
    Stall,
}

#[derive(Debug, Clone, PartialEq)]
enum StatusKind {
    Conflict,
    Internal(String),
    Unavailable(String),
    Timeout(String),
    Custom {
        code: u16,
        reason: &'static str,
        message: String,
    },
}

/// One fault rule: which requests, how often, what happens. Build it with
/// a constructor naming the effect, then narrow it:
/// `Fault::conflict().verb("patch").resource("nodedeployments/status").times(3)`.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a fault does nothing until it is added with Faults::add"]
pub struct Fault {
    effect: Effect,
    verbs: Vec<String>,
    group: Option<String>,
    resource: Option<String>,
    subresource: Option<Option<String>>,
    namespace: Option<String>,
    name: Option<String>,
    field_manager: Option<String>,
    user_agent: Option<String>,
    times: Option<u32>,
    probability: Option<f64>,
    window: Option<(Duration, Duration)>,
}

impl Fault {
    fn new(effect: Effect) -> Self {
        Self {
            effect,
            verbs: Vec::new(),
            group: None,
            resource: None,
            subresource: None,
            namespace: None,
            name: None,
            field_manager: None,
            user_agent: None,
            times: None,
            probability: None,
            window: None,
        }
    }

    /// 409 Conflict, as an update with a stale resourceVersion gets it
    /// (apimachinery `errors.NewConflict` with the optimistic-lock message
    /// of `storage.NewConflictError`): the error every controller must
    /// retry on.
    pub fn conflict() -> Self {
        Self::new(Effect::Status(StatusKind::Conflict))
    }

    /// 429, as kube-apiserver's max-in-flight and priority-and-fairness
    /// filters reject a request (`filters/maxinflight.go` `tooManyRequests`):
    /// a plain-text body "Too many requests, please try again later." and a
    /// `Retry-After` header, not a `Status` object.
    pub fn throttle(retry_after_seconds: u32) -> Self {
        Self::new(Effect::Throttle {
            retry_after_seconds,
        })
    }

    /// 500 InternalError (apimachinery `errors.NewInternalError`):
    /// "Internal error occurred: {cause}".
    pub fn internal_error(cause: impl Into<String>) -> Self {
        Self::new(Effect::Status(StatusKind::Internal(cause.into())))
    }

    /// 503 ServiceUnavailable (apimachinery `errors.NewServiceUnavailable`).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Effect::Status(StatusKind::Unavailable(message.into())))
    }

    /// 504 Timeout (apimachinery `errors.NewTimeoutError`): "Timeout: {message}".
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(Effect::Status(StatusKind::Timeout(message.into())))
    }

    /// Any `Status` error (`reason` as kube-apiserver's `StatusReason`s
    /// spell them: `Forbidden`, `NotFound`, …).
    pub fn status(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(Effect::Status(StatusKind::Custom {
            code,
            reason,
            message: message.into(),
        }))
    }

    /// The request is served, but `delay` of tokio time later (paused-time
    /// tests stay instant).
    pub fn latency(delay: Duration) -> Self {
        Self::new(Effect::Latency(delay))
    }

    /// The watch ends (the client sees its stream close and resumes from
    /// its last resourceVersion), as when kube-apiserver restarts or a load
    /// balancer drops an idle connection. Only watch requests match.
    pub fn watch_close() -> Self {
        Self::new(Effect::Watch {
            kind: WatchFault::Close,
            after: Duration::ZERO,
        })
    }

    /// The watch ends and the client's resume (the next watch of the same
    /// resource and namespace from a resourceVersion) is answered with a
    /// 410 Gone `ERROR` event, as from a watch cache that has moved past
    /// that version; the client must list again. Only watch requests match.
    pub fn watch_gone() -> Self {
        Self::new(Effect::Watch {
            kind: WatchFault::Gone,
            after: Duration::ZERO,
        })
    }

    /// The watch stays open and delivers nothing, not even bookmarks, until
    /// its timeout: the silent stall that leaves a controller waiting
    /// forever. Only watch requests match.
    pub fn watch_stall() -> Self {
        Self::new(Effect::Watch {
            kind: WatchFault::Stall,
            after: Duration::ZERO,
        })
    }

    /// 410 Expired for a list continued with a `continue` token, as when
    /// etcd has compacted the revision the token names
    /// (apiserver `storage/etcd3` `interpretListError`). Only list requests
    /// that carry a `continue` token match.
    pub fn expired_continue() -> Self {
        Self::new(Effect::ExpiredContinue)
    }

    /// For watch faults: let the watch deliver normally for this long (tokio
    /// time) before it closes or stalls. Ignored by other effects.
    pub fn after(mut self, delay: Duration) -> Self {
        if let Effect::Watch { after, .. } = &mut self.effect {
            *after = delay;
        }
        self
    }

    /// Only these verbs (`get`, `list`, `watch`, `create`, `update`,
    /// `patch`, `delete`, `deletecollection`); call again to add one.
    pub fn verb(mut self, verb: &str) -> Self {
        self.verbs.push(verb.to_ascii_lowercase());
        self
    }

    /// Only this resource (plural, `nodedeployments`), or one of its
    /// subresources (`nodedeployments/status`); without a subresource the
    /// main resource only.
    pub fn resource(mut self, resource: &str) -> Self {
        match resource.split_once('/') {
            Some((plural, sub)) => {
                self.resource = Some(plural.to_string());
                self.subresource = Some(Some(sub.to_string()));
            }
            None => {
                self.resource = Some(resource.to_string());
                self.subresource = Some(None);
            }
        }
        self
    }

    /// Only this API group (`apps`, `""` for core).
    pub fn group(mut self, group: &str) -> Self {
        self.group = Some(group.to_string());
        self
    }

    /// Only requests in this namespace.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// Only requests for the object of this name.
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Only writes made as this field manager (`?fieldManager=`), so a test
    /// hits the operator's requests and not its own.
    pub fn field_manager(mut self, manager: &str) -> Self {
        self.field_manager = Some(manager.to_string());
        self
    }

    /// Only requests whose `User-Agent` starts with this.
    pub fn user_agent(mut self, prefix: &str) -> Self {
        self.user_agent = Some(prefix.to_string());
        self
    }

    /// Hit at most `n` matching requests, then stop.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Hit each matching request with this probability (0 to 1), drawn from
    /// the server's seeded generator ([`Faults::seed`]).
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p.clamp(0.0, 1.0));
        self
    }

    /// Only between these offsets of tokio time since the server started.
    pub fn during(mut self, from: Duration, until: Duration) -> Self {
        self.window = Some((from, until));
        self
    }

    fn matches(&self, r: &RequestFacts<'_>) -> bool {
        let applies = match self.effect {
            Effect::Watch { .. } => r.verb == "watch",
            Effect::ExpiredContinue => r.verb == "list" && r.continues.is_some(),
            _ => true,
        };
        applies
            && (self.verbs.is_empty() || self.verbs.iter().any(|v| v == r.verb))
            && self.group.as_deref().is_none_or(|g| g == r.group)
            && self.resource.as_deref().is_none_or(|p| p == r.resource)
            && self
                .subresource
                .as_ref()
                .is_none_or(|s| s.as_deref() == r.subresource)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| Some(n) == r.namespace)
            && self.name.as_deref().is_none_or(|n| Some(n) == r.name)
            && self
                .field_manager
                .as_deref()
                .is_none_or(|m| Some(m) == r.field_manager)
            && self
                .user_agent
                .as_deref()
                .is_none_or(|p| r.user_agent.is_some_and(|ua| ua.starts_with(p)))
    }

    fn describe_effect(&self) -> String {
        match &self.effect {
            Effect::Status(StatusKind::Conflict) => "409 Conflict".into(),
            Effect::Status(StatusKind::Internal(_)) => "500 InternalError".into(),
            Effect::Status(StatusKind::Unavailable(_)) => "503 ServiceUnavailable".into(),
            Effect::Status(StatusKind::Timeout(_)) => "504 Timeout".into(),
            Effect::Status(StatusKind::Custom { code, reason, .. }) => format!("{code} {reason}"),
            Effect::Throttle {
                retry_after_seconds,
            } => format!("429 TooManyRequests (Retry-After: {retry_after_seconds})"),
            Effect::Latency(d) => format!("{d:?} added latency"),
            Effect::Watch { kind, after } => {
                let what = match kind {
                    WatchFault::Close => "watch closed",
                    WatchFault::Gone => "watch closed, resume answered 410 Gone",
                    WatchFault::Stall => "watch stalled",
                };
                if after.is_zero() {
                    what.to_string()
                } else {
                    format!("{what} after {after:?}")
                }
            }
            Effect::ExpiredContinue => "410 Expired (continue token)".into(),
        }
    }
}

/// What the server knows of a request when it decides on a fault.
pub(crate) struct RequestFacts<'a> {
    pub(crate) verb: &'a str,
    pub(crate) group: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) subresource: Option<&'a str>,
    pub(crate) namespace: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
    pub(crate) field_manager: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    /// A list's `continue` token.
    pub(crate) continues: Option<&'a str>,
    /// A watch from a resourceVersion (not a fresh start).
    pub(crate) resumes: bool,
}

impl RequestFacts<'_> {
    /// The verb the way kube-apiserver's request info names it.
    pub(crate) fn verb_of(method: &Method, named: bool, watch: bool) -> &'static str {
        match (method, named) {
            (&Method::GET, true) => "get",
            (&Method::GET, false) if watch => "watch",
            (&Method::GET, false) => "list",
            (&Method::POST, _) => "create",
            (&Method::PUT, _) => "update",
            (&Method::PATCH, _) => "patch",
            (&Method::DELETE, true) => "delete",
            (&Method::DELETE, false) => "deletecollection",
            _ => "other",
        }
    }

    pub(crate) fn user_agent_of(headers: &HeaderMap) -> Option<&str> {
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }
}

/// One injection, as a report shows it:
/// `+3.200s PATCH nodedeployments/seid/status in ns x → 409 Conflict`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Injected {
    /// Tokio time since the server started.
    pub at: Duration,
    /// The request: `PATCH nodedeployments/seid/status`.
    pub request: String,
    /// The request's namespace, if any.
    pub namespace: Option<String>,
    /// What it got: `409 Conflict`, `2s added latency`.
    pub effect: String,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!("+{}.{:03}s", self.at.as_secs(), self.at.subsec_millis());
        match &self.namespace {
            Some(ns) => write!(
                f,
                "{at} {} in ns {ns} → {} injected",
                self.request, self.effect
            ),
            None => write!(f, "{at} {} → {} injected", self.request, self.effect),
        }
    }
}

type Observer = Arc<dyn Fn(&Injected) + Send + Sync>;

struct Armed {
    fault: Fault,
    hits: u32,
}

struct State {
    rules: Vec<Armed>,
    log: Vec<Injected>,
    rng: StdRng,
    seed: u64,
    observers: Vec<Observer>,
    /// Watches closed by a `watch_gone` fault whose resume still owes a 410.
    gone: Vec<Resume>,
}

/// The watch a `watch_gone` fault closed, to recognise its resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    group: String,
    resource: String,
    namespace: Option<String>,
    user_agent: Option<String>,
    request: String,
}

impl Resume {
    fn of(r: &RequestFacts<'_>, request: String) -> Self {
        Self {
            group: r.group.to_string(),
            resource: r.resource.to_string(),
            namespace: r.namespace.map(str::to_string),
            user_agent: r.user_agent.map(str::to_string),
            request,
        }
    }

    fn is(&self, r: &RequestFacts<'_>) -> bool {
        r.verb == "watch"
            && r.resumes
            && self.group == r.group
            && self.resource == r.resource
            && self.namespace.as_deref() == r.namespace
            && self.user_agent.as_deref() == r.user_agent
    }
}

/// The fault rules of one server. Cheap to clone; clones share the rules.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
    started: Instant,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Faults")
            .field("rules", &st.rules.len())
            .field("injected", &st.log.len())
            .field("seed", &st.seed)
            .finish()
    }
}

impl Faults {
    /// No rules; the seed from [`FAULT_SEED_VAR`] or a random one.
    pub(crate) fn new() -> Self {
        let seed = std::env::var(FAULT_SEED_VAR)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(rand::random);
        Self {
            state: Arc::new(Mutex::new(State {
                rules: Vec::new(),
                log: Vec::new(),
                rng: StdRng::seed_from_u64(seed),
                seed,
                observers: Vec::new(),
                gone: Vec::new(),
            })),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule; rules are tried in the order added, the first that hits
    /// decides.
    pub fn add(&self, fault: Fault) -> &Self {
        self.lock().rules.push(Armed { fault, hits: 0 });
        self
    }

    /// Removes every rule (what was injected stays on record).
    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// Restarts the probability draws from `seed` (a failing run's report
    /// names its seed; `HARNESS_FAULT_SEED` does the same for a whole run).
    pub fn seed(&self, seed: u64) -> &Self {
        let mut st = self.lock();
        st.seed = seed;
        st.rng = StdRng::seed_from_u64(seed);
        self
    }

    /// The seed probabilistic faults draw from.
    pub fn current_seed(&self) -> u64 {
        self.lock().seed
    }

    /// Every fault injected so far, oldest first.
    pub fn injected(&self) -> Vec<Injected> {
        self.lock().log.clone()
    }

    /// Calls `observer` with every injection from now on (a timeline
    /// records them this way).
    pub fn on_inject(&self, observer: impl Fn(&Injected) + Send + Sync + 'static) {
        self.lock().observers.push(Arc::new(observer));
    }

    /// Called when a watch closed by a `watch_gone` fault ends: its resume
    /// is owed a 410.
    pub(crate) fn owe_gone(&self, resume: Resume) {
        self.lock().gone.push(resume);
    }

    fn record(&self, injected: Injected) {
        let observers = {
            let mut st = self.lock();
            st.log.push(injected.clone());
            st.observers.clone()
        };
        for observer in observers {
            observer(&injected);
        }
    }

    /// The first rule that hits this request, counted and recorded.
    pub(crate) fn decide(&self, r: &RequestFacts<'_>, method: &Method) -> Option<Decision> {
        let at = Instant::now().duration_since(self.started);
        let owed = {
            let mut st = self.lock();
            let i = st.gone.iter().position(|g| g.is(r));
            i.map(|i| st.gone.remove(i))
        };
        if owed.is_some() {
            self.record(Injected {
                at,
                request: format!("WATCH {}", Self::path(r)),
                namespace: r.namespace.map(str::to_string),
                effect: "410 Gone on resume".into(),
            });
            return Some(Decision::ResumeGone);
        }
        let (injected, effect, observers) = {
            let mut st = self.lock();
            let State { rules, rng, .. } = &mut *st;
            let armed = rules.iter_mut().find(|a| {
                let f = &a.fault;
                f.matches(r)
                    && f.times.is_none_or(|n| a.hits < n)
                    && f.window
                        .is_none_or(|(from, until)| at >= from && at < until)
                    && f.probability.is_none_or(|p| rng.random_bool(p))
            })?;
            armed.hits += 1;
            let verb = match armed.fault.effect {
                Effect::Watch { .. } => "WATCH".to_string(),
                _ => method.to_string(),
            };
            let injected = Injected {
                at,
                request: format!("{verb} {}", Self::path(r)),
                namespace: r.namespace.map(str::to_string),
                effect: armed.fault.describe_effect(),
            };
            let effect = armed.fault.effect.clone();
            st.log.push(injected.clone());
            (injected, effect, st.observers.clone())
        };
        for observer in observers {
            observer(&injected);
        }
        Some(match effect {
            Effect::Latency(d) => Decision::Delay(d),
            Effect::Watch { kind, after } => Decision::Watch(ArmedWatch {
                kind,
                after,
                resume: Resume::of(r, injected.request),
            }),
            other => Decision::Answer(Answer(other, r.continues.map(str::to_string))),
        })
    }

    fn path(r: &RequestFacts<'_>) -> String {
        let mut path = r.resource.to_string();
        if let Some(name) = r.name {
            path = format!("{path}/{name}");
        }
        if let Some(sub) = r.subresource {
            path = format!("{path}/{sub}");
        }
        path
    }
}

/// A watch fault as the watch carries it out.
#[derive(Debug, Clone)]
pub(crate) struct ArmedWatch {
    pub(crate) kind: WatchFault,
    /// How long the watch runs normally first.
    pub(crate) after: Duration,
    /// For `Gone`: what the watch owes its resume once closed.
    pub(crate) resume: Resume,
}

/// apiserver `storage/etcd3/errors.go` `handleCompactedErrorForPaging`: the
/// Status a list gets when its continue token names a compacted revision.
const EXPIRED_CONTINUE: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

/// What the router does with a request a rule hit.
pub(crate) enum Decision {
    /// Serve it after this much tokio time.
    Delay(Duration),
    /// Answer with this instead of serving it.
    Answer(Answer),
    /// Serve the watch, then close or stall it.
    Watch(ArmedWatch),
    /// This watch resumes one a `watch_gone` fault closed: answer 410.
    ResumeGone,
}

/// An injected answer, built once the request's object is known (with the
/// list's continue token, which an expired-continue answer hands back).
pub(crate) struct Answer(Effect, Option<String>);

impl Answer {
    /// The response kube-apiserver would give.
    pub(crate) fn respond(self, target: Target<'_>) -> Response {
        match self.0 {
            Effect::Status(StatusKind::Conflict) => ApiError::stale(target).into_response(),
            Effect::Status(StatusKind::Internal(cause)) => {
                let mut e = ApiError::internal(format!("Internal error occurred: {cause}"));
                e.details = json!({"causes": [{"message": cause}]});
                e.into_response()
            }
            Effect::Status(StatusKind::Unavailable(message)) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                message,
            )
            .into_response(),
            Effect::Status(StatusKind::Timeout(message)) => {
                let mut e = ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "Timeout",
                    format!("Timeout: {message}"),
                );
                e.details = json!({"retryAfterSeconds": 1});
                e.into_response()
            }
            Effect::Status(StatusKind::Custom {
                code,
                reason,
                message,
            }) => {
                let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ApiError::new(code, reason, message).into_response()
            }
            Effect::Throttle {
                retry_after_seconds,
            } => Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                // What Go's http.Error writes.
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .header("X-Content-Type-Options", "nosniff")
                .header(header::RETRY_AFTER, retry_after_seconds.to_string())
                .body(Body::from("Too many requests, please try again later.\n"))
                .unwrap_or_else(|_| StatusCode::TOO_MANY_REQUESTS.into_response()),
            Effect::ExpiredContinue => {
                // Upstream hands back a token that continues at the latest
                // version (`metadata.continue`); nothing is compacted here,
                // so the request's own token does that.
                let mut status = ApiError::gone(EXPIRED_CONTINUE).status();
                status["metadata"]["continue"] = json!(self.1.unwrap_or_default());
                crate::rest::json_response(StatusCode::GONE, &status)
            }
            Effect::Latency(_) | Effect::Watch { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(verb: &'a str, resource: &'a str, name: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            verb,
            group: "",
            resource,
            subresource: None,
            namespace: Some("ns"),
            name,
            field_manager: Some("op"),
            user_agent: Some("rollout-operator/0.1"),
            continues: None,
            resumes: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rules_match_by_request_and_count_their_hits() {
        let faults = Faults::new();
        faults.add(
            Fault::conflict()
                .verb("patch")
                .resource("configmaps")
                .field_manager("op")
                .user_agent("rollout-operator")
                .times(2),
        );
        let patch = facts("patch", "configmaps", Some("c"));
        assert!(
            faults
                .decide(&facts("get", "configmaps", Some("c")), &Method::GET)
                .is_none()
        );
        assert!(
            faults
                .decide(&facts("patch", "secrets", Some("c")), &Method::PATCH)
                .is_none()
        );
        assert!(faults.decide(&patch, &Method::PATCH).is_some());
        assert!(faults.decide(&patch, &Method::PATCH).is_some());
        assert!(
            faults.decide(&patch, &Method::PATCH).is_none(),
            "times(2) is spent"
        );
        let log = faults.injected();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log[0].to_string(),
            "+0.000s PATCH configmaps/c in ns ns → 409 Conflict injected"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn windows_follow_tokio_time_and_probabilities_replay_from_the_seed() {
        let faults = Faults::new();
        faults.add(
            Fault::latency(Duration::from_secs(1))
                .during(Duration::from_secs(5), Duration::from_secs(10)),
        );
        let get = facts("get", "pods", Some("p"));
        assert!(faults.decide(&get, &Method::GET).is_none());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(matches!(
            faults.decide(&get, &Method::GET),
            Some(Decision::Delay(d)) if d == Duration::from_secs(1)
        ));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(faults.decide(&get, &Method::GET).is_none());

        let draws = |seed| {
            let f = Faults::new();
            f.seed(seed)
                .add(Fault::unavailable("etcd is slow").probability(0.5));
            (0..64)
                .map(|_| f.decide(&get, &Method::GET).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7), "the same seed, the same faults");
        assert_ne!(draws(7), draws(8));
        let hits = draws(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "about half of 64: {hits}");
    }
}
