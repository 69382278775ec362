//! Faults on demand, as real clients see them: kube-rs's typed `Api` gets
//! the Status errors kube-apiserver gives under contention and overload
//! (apimachinery `pkg/api/errors/errors.go`), the throttled answer of its
//! max-in-flight filter (apiserver `pkg/server/filters/maxinflight.go`,
//! `tooManyRequests`), latency in tokio time, and a kube-runtime Controller
//! that retries through injected conflicts still converges. Watch faults as
//! kube-runtime's watcher lives them: a closed stream resumed without loss,
//! a resume answered 410 as by kube-apiserver's watch cache (apiserver
//! `storage/cacher/watch_cache.go` `getAllEventsSinceLocked`, delivered as
//! an ERROR event by `cacher.go` `newErrWatcher`), a silent stall that lasts
//! until the watch's timeout, and an expired continue token (apiserver
//! `storage/etcd3/errors.go` `handleCompactedErrorForPaging`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use kube_harness_apiserver::Fault;
use serde_json::json;

use crate::common::{Database, database, get, install_database_crd, server, status};

async fn config_map(client: &Client) -> Api<ConfigMap> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"n": "0"}})).unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    api
}

#[tokio::test(start_paused = true)]
async fn injected_conflicts_read_like_a_stale_update_then_stop() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    server.faults().add(
        Fault::conflict()
            .verb("patch")
            .resource("configmaps")
            .times(2),
    );
    let patch = Patch::Merge(json!({"data": {"n": "1"}}));
    for _ in 0..2 {
        let e = status(
            api.patch("c", &PatchParams::default(), &patch)
                .await
                .unwrap_err(),
        );
        assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            e.message,
            "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; \
             please apply your changes to the latest version and try again"
        );
    }
    let cm = api
        .patch("c", &PatchParams::default(), &patch)
        .await
        .unwrap();
    assert_eq!(
        cm.data.unwrap()["n"],
        "1",
        "times(2) is spent: the third patch lands"
    );
    // Reads were never hit, and the record says what was done.
    api.get("c").await.unwrap();
    assert_eq!(
        injected_lines(&server),
        [
            "+0.000s PATCH configmaps/c in ns default → 409 Conflict injected",
            "+0.000s PATCH configmaps/c in ns default → 409 Conflict injected",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn overload_errors_carry_kube_apiserver_reasons() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    let faults = server.faults();
    faults
        .add(
            Fault::internal_error("etcdserver: leader changed")
                .verb("get")
                .times(1),
        )
        .add(
            Fault::unavailable("the server is shutting down")
                .verb("get")
                .times(1),
        )
        .add(
            Fault::timeout("request did not complete within 60s")
                .verb("get")
                .times(1),
        );
    let e = status(api.get("c").await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (500, "InternalError"));
    assert_eq!(
        e.message,
        "Internal error occurred: etcdserver: leader changed"
    );
    let e = status(api.get("c").await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (503, "ServiceUnavailable"));
    assert_eq!(e.message, "the server is shutting down");
    let e = status(api.get("c").await.unwrap_err());
    assert_eq!((e.code, e.reason.as_str()), (504, "Timeout"));
    assert_eq!(e.message, "Timeout: request did not complete within 60s");
    api.get("c").await.expect("every rule is spent");
}

#[tokio::test(start_paused = true)]
async fn throttling_answers_plain_text_with_retry_after_like_max_in_flight() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    server
        .faults()
        .add(Fault::throttle(1).verb("list").times(2));
    // What a kube-rs client makes of it: a 429 whose body is not a Status.
    let e = status(api.list(&Default::default()).await.unwrap_err());
    assert_eq!(e.code, 429);
    assert!(
        e.message
            .contains("Too many requests, please try again later."),
        "{e:?}"
    );
    // On the wire: Go's http.Error, plus the Retry-After header.
    let req = http::Request::get("/api/v1/namespaces/default/configmaps")
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status(), 429);
    let header = |name: &str| resp.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header("retry-after"), "1");
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"Too many requests, please try again later.\n");
}

#[tokio::test(start_paused = true)]
async fn latency_is_tokio_time_and_the_request_still_succeeds() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    server.faults().add(
        Fault::latency(Duration::from_secs(3))
            .verb("get")
            .namespace("default"),
    );
    let t0 = tokio::time::Instant::now();
    assert_eq!(api.get("c").await.unwrap().name_any(), "c");
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    let t1 = tokio::time::Instant::now();
    api.list(&Default::default()).await.unwrap();
    assert_eq!(t1.elapsed(), Duration::ZERO, "lists are not slowed");
}

/// A kube-runtime Controller whose status writes conflict three times in a
/// row (only its own: matched by field manager) retries through its error
/// policy and converges; the test's own writes are untouched.
#[tokio::test(start_paused = true)]
async fn a_controller_converges_through_injected_status_conflicts() {
    const MANAGER: &str = "db-controller";
    let (server, client) = server().await;
    install_database_crd(&client).await;
    let dbs: Api<Database> = Api::namespaced(client.clone(), "default");
    server.faults().add(
        Fault::conflict()
            .verb("patch")
            .resource("databases/status")
            .field_manager(MANAGER)
            .times(3),
    );
    let reconcile = {
        let dbs = dbs.clone();
        move |db: Arc<Database>, _: Arc<()>| {
            let dbs = dbs.clone();
            async move {
                let status = json!({"status": {"replicas": db.spec.replicas, "ready": true}});
                let pp = PatchParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                };
                dbs.patch_status(&db.name_any(), &pp, &Patch::Merge(status))
                    .await?;
                Ok::<_, kube::Error>(Action::await_change())
            }
        }
    };
    let retry =
        |_: Arc<Database>, _: &kube::Error, _: Arc<()>| Action::requeue(Duration::from_millis(500));
    let task = tokio::spawn(
        Controller::new(dbs.clone(), watcher::Config::default())
            .run(reconcile, retry, Arc::new(()))
            .for_each(|_| async {}),
    );
    dbs.create(&PostParams::default(), &database("orders", 2))
        .await
        .unwrap();
    let t0 = tokio::time::Instant::now();
    loop {
        let ready = dbs
            .get("orders")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.ready);
        if ready {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "never converged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.faults().injected().len(), 3);
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "three retries, 500 ms apart"
    );
    task.abort();
}

fn names(objs: &[ConfigMap]) -> Vec<String> {
    objs.iter().map(|o| o.name_any()).collect()
}

/// Collects a watcher's events until `until` holds for one of them, with a
/// bound of virtual time; returns each event as a short word.
async fn events_until(
    stream: &mut (
             impl futures::Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin
         ),
    until: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(3600), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no event within an hour; saw {seen:?}"))
            .expect("the watcher never ends");
        let word = match next {
            Ok(watcher::Event::Init) => "init".to_string(),
            Ok(watcher::Event::InitApply(o)) => format!("init-apply {}", o.name_any()),
            Ok(watcher::Event::InitDone) => "init-done".to_string(),
            Ok(watcher::Event::Apply(o)) => format!("apply {}", o.name_any()),
            Ok(watcher::Event::Delete(o)) => format!("delete {}", o.name_any()),
            Err(watcher::Error::WatchError(s)) => format!("error {} {}", s.code, s.reason),
            Err(e) => format!("error {e}"),
        };
        let done = until(&word);
        seen.push(word);
        if done {
            return seen;
        }
    }
}

async fn create_cm(api: &Api<ConfigMap>, name: &str) {
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
}

type Events =
    futures::stream::BoxStream<'static, Result<watcher::Event<ConfigMap>, watcher::Error>>;

/// A kube-runtime watcher of config maps under `fault` (a watch fault
/// `after` 5 s): it has listed and seen "before" written, then 10 s of tokio
/// time pass, with the watch unread, beyond the fault's `after`.
async fn watching_past_a_fault(
    fault: Fault,
) -> (
    kube_harness_apiserver::ApiServer,
    Client,
    Api<ConfigMap>,
    Events,
) {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    server.faults().add(fault);
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    events_until(&mut events, |e| e == "init-done").await;
    create_cm(&api, "before").await;
    events_until(&mut events, |e| e == "apply before").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    (server, client, api, events)
}

/// What a server's fault record says, a line per injection.
fn injected_lines(server: &kube_harness_apiserver::ApiServer) -> Vec<String> {
    server
        .faults()
        .injected()
        .iter()
        .map(|i| i.to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_closed_watch_is_resumed_from_its_version_and_nothing_is_missed() {
    let (server, _client, api, mut events) =
        watching_past_a_fault(Fault::watch_close().after(Duration::from_secs(5)).times(1)).await;
    // The stream closed at +5s; the write after it reaches the resumed watch.
    create_cm(&api, "after").await;
    let seen = events_until(&mut events, |e| e == "apply after").await;
    assert_eq!(seen, ["apply after"], "resumed, not listed again");
    assert_eq!(
        injected_lines(&server),
        // Reported when the client met it: the stream is read again at +10s.
        ["+10.000s WATCH configmaps in ns default → watch closed after 5s injected"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_resume_answered_gone_makes_the_watcher_list_again_and_it_misses_nothing() {
    let (server, client, api, mut events) =
        watching_past_a_fault(Fault::watch_gone().after(Duration::from_secs(5)).times(1)).await;
    // The stream closed at +5s, with a write after it still to be sent.
    create_cm(&api, "during").await;
    let seen = events_until(&mut events, |e| e == "init-done").await;
    assert_eq!(
        seen,
        [
            "error 410 Expired",
            "init",
            "init-apply before",
            "init-apply c",
            "init-apply during",
            "init-done"
        ],
        "kube-runtime's watcher reads the 410 ERROR event and lists again"
    );
    let injected: Vec<String> = server
        .faults()
        .injected()
        .iter()
        .map(|i| i.effect.clone())
        .collect();
    assert_eq!(
        injected,
        [
            "watch closed, resume answered 410 Gone after 5s",
            "410 Gone on resume"
        ]
    );

    // On the wire: a 200 stream with one ERROR event, as the watch cache
    // answers a version it no longer holds.
    server.faults().add(Fault::watch_gone().times(1));
    let rv = api.list(&Default::default()).await.unwrap().metadata;
    let rv = rv.resource_version.unwrap();
    let watch = format!(
        "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=5"
    );
    // An empty body reads as the empty string.
    let (code, body) = get(&client, &watch).await;
    assert_eq!(code, 200);
    assert_eq!(body, json!(""), "the faulted watch closes at once");
    // Another watch of the same client (a selector of its own) is not the
    // resume: it is served.
    let (code, body) = get(
        &client,
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1&labelSelector=app%3Dx"
        ),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(body, json!(""), "served, nothing to send");
    let (code, event) = get(&client, &watch).await;
    assert_eq!(code, 200);
    let now = api.list(&Default::default()).await.unwrap().metadata;
    assert_eq!(
        event,
        json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {rv} ({})", now.resource_version.unwrap()),
            "reason": "Expired", "code": 410}})
    );
}

#[tokio::test(start_paused = true)]
async fn a_stalled_watch_delivers_nothing_until_its_timeout_then_resumes() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    server.faults().add(Fault::watch_stall().times(1));
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    events_until(&mut events, |e| e == "init-done").await;
    let t0 = tokio::time::Instant::now();
    create_cm(&api, "unseen").await;
    assert!(
        tokio::time::timeout(Duration::from_secs(120), events.next())
            .await
            .is_err(),
        "a stalled watch delivers nothing"
    );
    // kube-runtime's watcher asks for timeoutSeconds=290; the stall ends
    // there, the resume delivers what was written meanwhile.
    let seen = events_until(&mut events, |e| e == "apply unseen").await;
    assert_eq!(seen, ["apply unseen"]);
    assert!(
        t0.elapsed() >= Duration::from_secs(290),
        "seen only after the watch timed out: {:?}",
        t0.elapsed()
    );
}

/// A rule added while a watch is open reaches it, as a fault in a live
/// server reaches the connections it holds: an operator meets it without
/// being restarted. A rule for another client leaves the watch alone, and
/// `clear()` disarms a fault the watch has not carried out yet.
#[tokio::test(start_paused = true)]
async fn a_rule_added_while_a_watch_is_open_reaches_it() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();
    events_until(&mut events, |e| e == "init-done").await;

    server
        .faults()
        .add(Fault::watch_stall().user_agent("someone-else"));
    create_cm(&api, "first").await;
    let seen = events_until(&mut events, |e| e == "apply first").await;
    assert_eq!(seen, ["apply first"], "another client's rule");
    assert!(server.faults().injected().is_empty());

    // Armed on the open watch (its next event), then cleared before its
    // time: nothing is done to the watch.
    server
        .faults()
        .add(Fault::watch_close().after(Duration::from_secs(60)));
    create_cm(&api, "armed").await;
    let seen = events_until(&mut events, |e| e == "apply armed").await;
    assert_eq!(seen, ["apply armed"]);
    server.faults().clear();
    tokio::time::sleep(Duration::from_secs(120)).await;
    create_cm(&api, "after-clear").await;
    let seen = events_until(&mut events, |e| e == "apply after-clear").await;
    assert_eq!(seen, ["apply after-clear"]);
    assert!(
        server.faults().injected().is_empty(),
        "a cleared fault is not carried out: {:?}",
        injected_lines(&server)
    );

    server.faults().add(Fault::watch_stall().times(1));
    create_cm(&api, "unseen").await;
    assert!(
        tokio::time::timeout(Duration::from_secs(120), events.next())
            .await
            .is_err(),
        "the open watch stalled"
    );
    let seen = events_until(&mut events, |e| e == "apply unseen").await;
    assert_eq!(seen, ["apply unseen"], "resumed after the watch's timeout");
    let lines = injected_lines(&server);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].ends_with(" WATCH configmaps in ns default → watch stalled injected"),
        "{lines:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_continue_token_answers_410_with_a_token_to_go_on() {
    let (server, client) = server().await;
    let api = config_map(&client).await;
    for name in ["d", "e"] {
        create_cm(&api, name).await;
    }
    server.faults().add(Fault::expired_continue().times(1));
    let first = api
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .expect("a first page has no continue token, so it is not hit");
    assert_eq!(names(&first.items), ["c"]);
    let token = first.metadata.continue_.unwrap();
    let (code, status) = get(
        &client,
        &format!("/api/v1/namespaces/default/configmaps?limit=1&continue={token}"),
    )
    .await;
    assert_eq!(code, 410);
    assert_eq!(status["reason"], "Expired");
    assert!(
        status["message"].as_str().unwrap().starts_with(
            "The provided continue parameter is too old to display a consistent list result."
        ),
        "{status}"
    );
    // The token in the answer continues the list.
    let again = status["metadata"]["continue"].as_str().unwrap();
    let rest = api
        .list(&kube::api::ListParams::default().continue_token(again))
        .await
        .unwrap();
    assert_eq!(names(&rest.items), ["d", "e"]);
}
