//! Watches: each one is a cursor into its resource's ordered event log.
//! It starts from a snapshot (no resourceVersion, or "0") or from a given
//! version (replaying history, or 410 Gone when that history was dropped),
//! filters by namespace and selectors (objects leaving the selection are
//! sent as DELETED), sends bookmarks when asked and ends at timeoutSeconds.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::registry::{GroupResource, ResourceInfo};
use crate::rest::read::Filter;
use crate::rest::{Render, Req, as_version};
use crate::server::Shared;
use crate::store::{Event, EventType, State};

/// kube-apiserver's --min-request-timeout: watches without timeoutSeconds
/// end after this long and clients re-establish them.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

struct Watcher {
    shared: Arc<Shared>,
    gr: GroupResource,
    info: Arc<ResourceInfo>,
    version: String,
    filter: Filter,
    render: Render,
    params: crate::rest::Params,
    rx: watch::Receiver<u64>,
    cursor: u64,
    pending: VecDeque<Bytes>,
    deadline: Instant,
    bookmarks: bool,
    next_bookmark: Instant,
    done: bool,
    /// An injected fault: what happens, and when.
    fault: Option<(crate::faults::ArmedWatch, Instant)>,
    /// Rules added while the watch is open (none once a fault is armed).
    rules: Option<crate::faults::WatchRules>,
    /// The version the watch started from (a `watch_gone` resume range).
    started_at: u64,
}

fn line(ty: &str, obj: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": ty, "object": obj})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn expired(cursor: u64, floor: u64) -> Bytes {
    let status = ApiError::gone(format!("too old resource version: {cursor} ({floor})")).status();
    line("ERROR", &status)
}

/// What a filtered watcher sees of one event, if anything.
fn project<'a>(e: &'a Event, filter: &Filter) -> Option<(EventType, &'a Value)> {
    let now = filter.matches(&e.object);
    let was = e.old.as_deref().is_some_and(|o| filter.matches(o));
    match (e.ty, was, now) {
        (EventType::Added, _, true) => Some((EventType::Added, &e.object)),
        (EventType::Modified, true, true) => Some((EventType::Modified, &e.object)),
        (EventType::Modified, false, true) => Some((EventType::Added, &e.object)),
        (EventType::Modified, true, false) => Some((EventType::Deleted, &e.object)),
        (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => {
            Some((EventType::Deleted, &e.object))
        }
        _ => None,
    }
}

enum Pulled {
    Ok,
    Gone,
    Closed,
}

impl Watcher {
    fn render(&self, obj: &Value, now: jiff::Timestamp) -> Value {
        let obj = as_version(&self.info, &self.version, obj);
        match self.render {
            Render::Full => obj,
            Render::Metadata => crate::table::partial_metadata(&obj),
            Render::Table => {
                crate::table::table(&self.info, &self.version, &[obj], now, &self.params, None)
            }
        }
    }

    /// Queues every event after the cursor (the caller holds the lock).
    fn pull(&mut self, st: &State) -> Pulled {
        let Some(rs) = st.resources.get(&self.gr) else {
            return Pulled::Closed;
        };
        if self.cursor < rs.floor {
            self.pending.push_back(expired(self.cursor, rs.floor));
            return Pulled::Gone;
        }
        let now = st.clock.now();
        let start = rs.log.partition_point(|e| e.rv <= self.cursor);
        for e in rs.log.range(start..) {
            if let Some((ty, obj)) = project(e, &self.filter) {
                let rendered = self.render(obj, now);
                self.pending.push_back(line(ty.as_str(), &rendered));
            }
            self.cursor = e.rv;
        }
        Pulled::Ok
    }

    fn bookmark(&self, initial_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": self.cursor.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(
            "BOOKMARK",
            &json!({
                "kind": self.info.kind,
                "apiVersion": self.info.api_version(&self.version),
                "metadata": metadata,
            }),
        )
    }

    /// Carries out an injected fault whose time has come: `None` ends the
    /// stream.
    async fn misbehave(&mut self) -> Option<()> {
        use crate::faults::WatchFault;
        let Some((fault, at)) = self.fault.as_ref() else {
            return Some(());
        };
        if !self.shared.faults.still_armed(fault) {
            // Cleared before its time came.
            self.fault = None;
            return Some(());
        }
        if Instant::now() < *at {
            return Some(());
        }
        self.shared.faults.carried_out(fault.injected.clone());
        match fault.kind {
            WatchFault::Close => {}
            WatchFault::Gone => {
                let mut resume = fault.resume.clone();
                resume.upto = self.cursor;
                self.shared.faults.owe_gone(resume);
            }
            // Open, silent, until the watch's own timeout.
            WatchFault::Stall => tokio::time::sleep_until(self.deadline).await,
        }
        self.pending.clear();
        None
    }

    /// Tries the rules added since the last look; the first watch rule that
    /// hits arms the fault, its `after` counted from now.
    /// A watch with a fault armed lets new rules pass it by.
    fn arm_new_rules(&mut self) {
        let Some(rules) = &mut self.rules else { return };
        if self.fault.is_some() {
            rules.pass();
            return;
        }
        if let Some(mut f) = self.shared.faults.arm_open_watch(rules) {
            f.resume.from = self.started_at;
            let at = later(Instant::now(), f.after);
            self.fault = Some((f, at));
        }
    }

    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        loop {
            // A rule added since the last event applies before the next one.
            if self
                .rules
                .as_ref()
                .is_some_and(|r| r.rules.has_changed().unwrap_or(false))
            {
                self.arm_new_rules();
            }
            self.misbehave().await?;
            if let Some(b) = self.pending.pop_front() {
                return Some((Ok(b), self));
            }
            if self.done {
                return None;
            }
            let shared = self.shared.clone();
            let pulled = {
                let st = shared.lock();
                self.pull(&st)
            };
            match pulled {
                Pulled::Closed => return None,
                Pulled::Gone => {
                    self.done = true;
                    continue;
                }
                Pulled::Ok if !self.pending.is_empty() => continue,
                Pulled::Ok => {}
            }
            tokio::select! {
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        // The resource is no longer served (its CRD went).
                        self.done = true;
                    }
                }
                _ = tokio::time::sleep_until(self.deadline) => return None,
                _ = tokio::time::sleep_until(self.fault.as_ref().map_or(self.deadline, |f| f.1)),
                    if self.fault.is_some() => {}
                added = rule_added(&mut self.rules), if self.rules.is_some() => {
                    if added {
                        self.arm_new_rules();
                    } else {
                        // The server's rules went with it; nothing more can come.
                        self.rules = None;
                    }
                }
                _ = tokio::time::sleep_until(self.next_bookmark), if self.bookmarks => {
                    self.next_bookmark += BOOKMARK_EVERY;
                    let st = shared.lock();
                    if let Pulled::Ok = self.pull(&st) {
                        // Nothing for this resource up to the global version.
                        self.cursor = self.cursor.max(st.rv);
                        let b = self.bookmark(false);
                        self.pending.push_back(b);
                    }
                }
            }
        }
    }
}

/// A rule was added (`false`: none ever can be).
async fn rule_added(rules: &mut Option<crate::faults::WatchRules>) -> bool {
    match rules {
        Some(r) => r.rules.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// `now + d`, or a time far enough off to mean "never" when that overflows
/// (`timeoutSeconds` and fault delays come from clients).
fn later(now: Instant, d: Duration) -> Instant {
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The answer to a watch resuming one a `watch_gone` fault closed: the
/// `ERROR` event kube-apiserver's watch cache sends for a version it no
/// longer holds, then the end of the stream.
pub(crate) fn resume_gone(shared: &Shared, from: u64) -> Response {
    let now = shared.lock().rv;
    stream_response(Body::from(expired(from, now)))
}

fn stream_response(body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_else(|e| ApiError::internal(e.to_string()).into_response())
}

pub(crate) fn serve(req: Req) -> Result<Response, ApiError> {
    let filter = Filter::from_req(&req)?;
    let p = &req.params;
    let timeout = p
        .int("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64))
        .unwrap_or(DEFAULT_TIMEOUT);
    let bookmarks = p.flag("allowWatchBookmarks");
    let send_initial = p.get("sendInitialEvents") == Some("true");
    let from = match p.get("resourceVersion") {
        None | Some("0") => None,
        Some(_) if send_initial => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?,
        ),
    };
    let Req {
        shared,
        info,
        version,
        render,
        params,
        watch_fault,
        watch_rules,
        ..
    } = req;
    let gr = info.gr();
    let now = Instant::now();
    let w = {
        let st = shared.lock();
        let rs = st.resources.get(&gr).ok_or_else(ApiError::no_route)?;
        let rx = rs.notify.subscribe();
        let started_at = from.unwrap_or(st.rv);
        let mut w = Watcher {
            shared: shared.clone(),
            gr: gr.clone(),
            info: info.clone(),
            version,
            filter,
            render,
            params,
            rx,
            cursor: from.unwrap_or(st.rv),
            pending: VecDeque::new(),
            deadline: later(now, timeout),
            bookmarks,
            next_bookmark: now + BOOKMARK_EVERY,
            done: false,
            fault: watch_fault.map(|mut f| {
                f.resume.from = started_at;
                let at = later(now, f.after);
                (f, at)
            }),
            rules: watch_rules,
            started_at,
        };
        if from.is_none() {
            let clock_now = st.clock.now();
            let snapshot: Vec<Bytes> = rs
                .objects
                .values()
                .filter(|o| w.filter.matches(o))
                .map(|o| line("ADDED", &w.render(o, clock_now)))
                .collect();
            w.pending.extend(snapshot);
            if send_initial && bookmarks {
                let b = w.bookmark(true);
                w.pending.push_back(b);
            }
        }
        w
    };
    let stream = futures::stream::unfold(w, Watcher::next);
    Ok(stream_response(Body::from_stream(stream)))
}
