//! One fault rule: which requests it hits and what they get.

use std::time::Duration;

use http::{HeaderMap, Method, header};

/// What a matched request gets.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Effect {
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
pub(super) enum StatusKind {
    Conflict,
    Internal(String),
    Unavailable(String),
    Timeout(String),
    Custom {
        code: u16,
        reason: String,
        message: String,
    },
}

/// One fault rule: which requests, how often, what happens. Build it with
/// a constructor naming the effect, then narrow it:
/// `Fault::conflict().verb("patch").resource("nodedeployments/status").times(3)`.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a fault does nothing until it is added with Faults::add"]
pub struct Fault {
    pub(super) effect: Effect,
    verbs: Vec<String>,
    group: Option<String>,
    resource: Option<String>,
    subresource: Option<Option<String>>,
    namespace: Option<String>,
    name: Option<String>,
    field_manager: Option<String>,
    user_agent: Option<String>,
    pub(super) times: Option<u32>,
    pub(super) probability: Option<f64>,
    pub(super) window: Option<(Duration, Duration)>,
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
    /// spell them: `Forbidden`, `NotFound`, …). `code` is an error status,
    /// 400 to 599; anything else answers 500.
    pub fn status(code: u16, reason: impl Into<String>, message: impl Into<String>) -> Self {
        let code = if (400..=599).contains(&code) {
            code
        } else {
            500
        };
        Self::new(Effect::Status(StatusKind::Custom {
            code,
            reason: reason.into(),
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
    /// Without `times` or `after`, every watch closes at once and a client
    /// reconnects in a loop: give it one of them.
    pub fn watch_close() -> Self {
        Self::new(Effect::Watch {
            kind: WatchFault::Close,
            after: Duration::ZERO,
        })
    }

    /// The watch ends and the client's resume (its next watch of the same
    /// resource, namespace and selectors, with the same User-Agent, from a
    /// version the closed watch had reached) is answered with a 410 Gone
    /// `ERROR` event, as from a watch cache that has moved past that
    /// version; the client must list again. Only watch requests match.
    /// Without `times` or `after`, every watch closes at once and a client
    /// reconnects in a loop: give it one of them.
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
    /// the server's seeded generator ([`Faults::seed`](super::Faults::seed)).
    pub fn probability(mut self, p: f64) -> Self {
        // NaN reads as "never".
        self.probability = Some(if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) });
        self
    }

    /// Only between these offsets of tokio time since the server started.
    pub fn during(mut self, from: Duration, until: Duration) -> Self {
        self.window = Some((from, until));
        self
    }

    pub(super) fn matches(&self, r: &RequestFacts<'_>) -> bool {
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

    pub(super) fn describe_effect(&self) -> String {
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
    /// A watch from this resourceVersion (not a fresh start).
    pub(crate) resume_from: Option<u64>,
    /// The request's selectors, as sent.
    pub(crate) label_selector: Option<&'a str>,
    pub(crate) field_selector: Option<&'a str>,
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

/// A watch's [`RequestFacts`], kept while it is open so rules added later
/// can still be matched against it.
#[derive(Debug, Clone)]
pub(crate) struct OwnedFacts {
    group: String,
    resource: String,
    namespace: Option<String>,
    field_manager: Option<String>,
    user_agent: Option<String>,
    resume_from: Option<u64>,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

impl OwnedFacts {
    /// The facts of a watch request.
    pub(crate) fn of_watch(r: &RequestFacts<'_>) -> Self {
        let own = |s: Option<&str>| s.map(str::to_string);
        Self {
            group: r.group.to_string(),
            resource: r.resource.to_string(),
            namespace: own(r.namespace),
            field_manager: own(r.field_manager),
            user_agent: own(r.user_agent),
            resume_from: r.resume_from,
            label_selector: own(r.label_selector),
            field_selector: own(r.field_selector),
        }
    }

    pub(crate) fn facts(&self) -> RequestFacts<'_> {
        RequestFacts {
            verb: "watch",
            group: &self.group,
            resource: &self.resource,
            subresource: None,
            namespace: self.namespace.as_deref(),
            name: None,
            field_manager: self.field_manager.as_deref(),
            user_agent: self.user_agent.as_deref(),
            continues: None,
            resume_from: self.resume_from,
            label_selector: self.label_selector.as_deref(),
            field_selector: self.field_selector.as_deref(),
        }
    }
}
