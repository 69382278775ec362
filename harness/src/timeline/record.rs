//! The live part: kube watches that feed a [`Timeline`]. Kept thin on
//! purpose; what an entry is, and when it counts, lives in the pure modules.

use super::TimelineError;
use super::diff::Track;
use super::entry::{EventFacts, What};
use super::expect::Expect;
use super::log::Timeline;
use futures::{Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event as EventV1;
use kube::api::ListParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long a new watch may take to deliver its initial list. Generous: it
/// only matters when the server is broken, and then a bounded wait that
/// names the watch beats a hang.
const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Records a namespace's Events (core/v1 and events.k8s.io/v1) and the
/// phase/condition/field changes of tracked objects, stamped with tokio time
/// since [`Recorder::start`]. Its watches stop when it is dropped.
pub struct Recorder {
    client: Client,
    namespace: String,
    start: Instant,
    timeline: Arc<Mutex<Timeline>>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let tasks = self.tasks.get_mut().unwrap_or_else(|p| p.into_inner());
        for task in tasks.drain(..) {
            task.abort();
        }
    }
}

fn lock(tl: &Mutex<Timeline>) -> std::sync::MutexGuard<'_, Timeline> {
    // A panic while holding the lock cannot leave a Timeline half-updated in
    // a way that matters to a reader, so keep recording.
    tl.lock().unwrap_or_else(|p| p.into_inner())
}

impl Recorder {
    /// Starts recording `namespace`'s Events; returns once the Event watches
    /// delivered their initial list (Events already there are recorded at +0).
    pub async fn start(client: Client, namespace: &str) -> Result<Self, TimelineError> {
        let recorder = Self {
            client,
            namespace: namespace.to_string(),
            start: Instant::now(),
            timeline: Arc::new(Mutex::new(Timeline::new(namespace))),
            tasks: Mutex::new(Vec::new()),
        };
        let core: Api<CoreEvent> = Api::namespaced(recorder.client.clone(), namespace);
        recorder
            .spawn_watch("core/v1 Events", core, |tl, at, ev| match ev {
                Change::Apply(ev) => tl.ingest_event(at, EventFacts::from_core(&ev)),
                Change::Delete(_) => {}
            })
            .await?;
        let v1: Api<EventV1> = Api::namespaced(recorder.client.clone(), namespace);
        if served(&v1).await.map_err(|source| TimelineError::Watch {
            what: "events.k8s.io/v1 Events".into(),
            namespace: namespace.to_string(),
            source,
        })? {
            recorder
                .spawn_watch("events.k8s.io/v1 Events", v1, |tl, at, ev| match ev {
                    Change::Apply(ev) => tl.ingest_event(at, EventFacts::from_events_v1(&ev)),
                    Change::Delete(_) => {}
                })
                .await?;
        }
        Ok(recorder)
    }

    /// Also records changes of objects of kind `K` chosen by `track`;
    /// returns once their current state is recorded.
    pub async fn track<K>(&self, track: Track) -> Result<(), TimelineError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + Debug
            + DeserializeOwned
            + Serialize
            + Send
            + Sync
            + 'static,
    {
        let kind = K::kind(&()).to_string();
        let api: Api<K> = Api::namespaced(self.client.clone(), &self.namespace);
        let what = format!("{kind} objects");
        self.spawn_watch(&what, api, move |tl, at, change| match change {
            Change::Apply(obj) => match serde_json::to_value(&obj) {
                Ok(value) => tl.ingest_object(at, &kind, value, &track),
                Err(err) => tracing::warn!(%err, "timeline: cannot serialize {kind}"),
            },
            Change::Delete(obj) => {
                if track.wants(&obj.name_any()) {
                    tl.ingest_delete(at, &kind, &obj.name_any(), obj.uid().as_deref());
                }
            }
        })
        .await
    }

    /// Lists the namespace's Events now and records any the watches have not
    /// delivered yet, so an assertion right after an action sees its Events.
    pub async fn sync(&self) -> Result<(), TimelineError> {
        let facts = list_events(&self.client, &self.namespace).await?;
        let at = self.elapsed();
        let mut tl = lock(&self.timeline);
        for f in facts {
            tl.ingest_event(at, f);
        }
        Ok(())
    }

    /// Adds an entry of the test's own (e.g. "operator restarted"), so the
    /// timeline shows what the test did next to what the cluster did.
    pub fn note(&self, object: &str, label: &str, detail: &str) {
        let at = self.elapsed();
        lock(&self.timeline).push(
            at,
            object,
            What::Note {
                label: label.to_string(),
                detail: detail.to_string(),
            },
        );
    }

    /// Tokio time since the recorder started.
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(self.start)
    }

    /// A copy of everything recorded so far.
    pub fn timeline(&self) -> Timeline {
        lock(&self.timeline).clone()
    }

    /// [`Timeline::expect`] on what was recorded so far.
    pub fn expect(&self, selector: &str) -> Expect {
        self.timeline().expect(selector)
    }

    /// [`Timeline::before`] on what was recorded so far.
    pub fn before(&self, a: &str, b: &str) -> Result<(), TimelineError> {
        self.timeline().before(a, b)
    }

    /// [`Timeline::render`] of what was recorded so far.
    pub fn render(&self) -> String {
        self.timeline().render()
    }

    /// The namespace being recorded.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    async fn spawn_watch<K>(
        &self,
        what: &str,
        api: Api<K>,
        mut apply: impl FnMut(&mut Timeline, Duration, Change<K>) + Send + 'static,
    ) -> Result<(), TimelineError>
    where
        K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
        K::DynamicType: Default,
    {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let timeline = self.timeline.clone();
        let start = self.start;
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        let task = tokio::spawn(pump(stream, ready_tx, move |change| {
            let at = Instant::now().duration_since(start);
            apply(&mut lock(&timeline), at, change);
        }));
        lock_tasks(&self.tasks).push(task);
        match tokio::time::timeout(INIT_TIMEOUT, ready_rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(TimelineError::WatchEnded {
                what: what.to_string(),
                namespace: self.namespace.clone(),
            }),
            Err(_) => Err(TimelineError::InitTimeout {
                what: what.to_string(),
                namespace: self.namespace.clone(),
                waited: INIT_TIMEOUT,
            }),
        }
    }
}

fn lock_tasks(
    tasks: &Mutex<Vec<JoinHandle<()>>>,
) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
    tasks.lock().unwrap_or_else(|p| p.into_inner())
}

/// An object update or removal, as the recorder's callbacks see it.
enum Change<K> {
    Apply(K),
    Delete(K),
}

async fn pump<K>(
    stream: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    ready: tokio::sync::oneshot::Sender<()>,
    mut on: impl FnMut(Change<K>),
) {
    let mut ready = Some(ready);
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                on(Change::Apply(obj))
            }
            Ok(watcher::Event::Delete(obj)) => on(Change::Delete(obj)),
            Ok(watcher::Event::Init) => {}
            Ok(watcher::Event::InitDone) => {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            }
            // The backoff retries; a persistent failure shows up as a
            // timeline that stops growing, and in the logs.
            Err(err) => tracing::warn!(%err, "timeline watch error"),
        }
    }
}

/// The facts of every Event in `namespace`, from core/v1 and (when served)
/// events.k8s.io/v1; the same Event may appear under both, with one uid.
pub(crate) async fn list_events(
    client: &Client,
    namespace: &str,
) -> Result<Vec<EventFacts>, TimelineError> {
    let watch_err = |what: &str| {
        let namespace = namespace.to_string();
        let what = what.to_string();
        move |source| TimelineError::Watch {
            what,
            namespace,
            source,
        }
    };
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), namespace);
    let mut facts: Vec<EventFacts> = core
        .list(&ListParams::default())
        .await
        .map_err(watch_err("core/v1 Events"))?
        .items
        .iter()
        .map(EventFacts::from_core)
        .collect();
    let v1: Api<EventV1> = Api::namespaced(client.clone(), namespace);
    if served(&v1)
        .await
        .map_err(watch_err("events.k8s.io/v1 Events"))?
    {
        let items = v1
            .list(&ListParams::default())
            .await
            .map_err(watch_err("events.k8s.io/v1 Events"))?
            .items;
        facts.extend(items.iter().map(EventFacts::from_events_v1));
    }
    Ok(facts)
}

/// Whether the server serves `api`'s resource (events.k8s.io is optional on
/// minimal servers).
async fn served<K>(api: &Api<K>) -> Result<bool, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.is_not_found() => Ok(false),
        Err(err) => Err(err),
    }
}
