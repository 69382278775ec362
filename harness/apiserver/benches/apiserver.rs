//! `cargo xtask bench apiserver`: what the embedded server costs a test
//! suite, side by side with kube-fake-client on the same work, printed as
//! a Markdown table (the README's "Benchmarks" section is a copy of it).
//!
//! The kube-fake-client column needs the `bench-kube-fake-client` feature
//! (it builds a second kube stack, kube 4 / k8s-openapi 0.28); without it
//! that column reads "not built".

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube_harness_apiserver::ApiServer;
use serde_json::json;

/// Live heap bytes, so "memory per 10,000 pods" is what the store keeps,
/// not what the OS happens to have handed out.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const STARTS: usize = 50;
const CREATES: usize = 2_000;
const HTTP_CREATES: usize = 1_000;
const WATCH_EVENTS: usize = 500;
const STORED_PODS: usize = 10_000;
const WATCH_TIMEOUT: Duration = Duration::from_secs(10);
const WRITERS: usize = 16;
const INCREMENTS: usize = 50;
const WATCHERS: usize = 100;
const FAN_OUT_EVENTS: usize = 10_000;
const LISTS: usize = 20;

fn pod(i: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i}"), "labels": {"app": "bench", "shard": (i % 8).to_string()}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0",
            "ports": [{"containerPort": 8080}], "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
    }))
    .expect("pod literal")
}

/// The numbers for one backend; `None` where it cannot do the work.
#[derive(Default)]
struct Column {
    start: Option<(Duration, Duration)>,
    creates_per_s: Option<f64>,
    watch: Option<(Duration, Duration)>,
    bytes_per_10k: Option<f64>,
    /// Read-modify-write increments landed per second, and conflicts met.
    contended: Option<(f64, usize)>,
    fan_out: Option<FanOut>,
    writes: Option<Writes>,
    /// p50 of one label-selected list over `STORED_PODS` pods, and how many
    /// it returned.
    list: Option<(Duration, usize)>,
    note: Option<String>,
}

/// Watch fan-out: `WATCHERS` watches on one resource while
/// `FAN_OUT_EVENTS` creates go by.
struct FanOut {
    /// Events delivered per second, over all watchers.
    per_s: f64,
    /// From the create being sent to a watcher holding its event.
    p50: Duration,
    p99: Duration,
    /// Process CPU (user + system) per created event, its deliveries to
    /// every watcher and their decoding included.
    cpu_per_event: Duration,
    /// The most heap held above the start while the watchers drained.
    peak_heap: f64,
}

/// Sequential writes per second to one pod, each changing a label.
struct Writes {
    updates: f64,
    merge: f64,
    strategic: f64,
    apply: f64,
}

/// Process CPU time so far (user + system).
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage(RUSAGE_SELF)");
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec() as u64) + Duration::from_micros(t.tv_usec() as u64)
    };
    tv(usage.user_time()) + tv(usage.system_time())
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i]
}

async fn first_request(client: kube::Client) -> Result<()> {
    Api::<Namespace>::all(client).get("default").await?;
    Ok(())
}

async fn start_in_process() -> Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let t = Instant::now();
        let server = ApiServer::start().await?;
        first_request(server.client()).await?;
        samples.push(t.elapsed());
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

async fn http_client(
    server: &ApiServer,
) -> Result<(kube::Client, kube_harness_apiserver::HttpEndpoint)> {
    let http = server.serve_http().await?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&http.kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok((kube::Client::try_from(config)?, http))
}

async fn start_http() -> Result<(Duration, Duration)> {
    let mut samples = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let t = Instant::now();
        let server = ApiServer::start().await?;
        let (client, _http) = http_client(&server).await?;
        first_request(client).await?;
        samples.push(t.elapsed());
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

/// The write and list work, over whichever kube stack `$kube` names (the
/// kube-fake-client column uses kube 4 and k8s-openapi 0.28 types).
macro_rules! workload {
    ($kube:ident, $Pod:ty, $pod:path) => {
        use $kube::api::{Api, ListParams, Patch, PatchParams, PostParams};

        pub(crate) async fn creates(client: $kube::Client, n: usize) -> anyhow::Result<f64> {
            let pods: Api<$Pod> = Api::namespaced(client, "default");
            let t = std::time::Instant::now();
            for i in 0..n {
                pods.create(&PostParams::default(), &$pod(i)).await?;
            }
            Ok(n as f64 / t.elapsed().as_secs_f64())
        }

        /// `n` writes of each kind to one pod, each setting label `n`.
        pub(crate) async fn writes(client: $kube::Client, n: usize) -> anyhow::Result<super::Writes> {
            let pods: Api<$Pod> = Api::namespaced(client, "default");
            let mut pod = pods.create(&PostParams::default(), &$pod(0)).await?;
            let name = "pod-0";
            let per_s = |t: std::time::Instant| n as f64 / t.elapsed().as_secs_f64();
            let label = |i: usize| serde_json::json!({"metadata": {"labels": {"n": i.to_string()}}});
            let t = std::time::Instant::now();
            for i in 0..n {
                pod.metadata
                    .labels
                    .get_or_insert_with(Default::default)
                    .insert("n".into(), i.to_string());
                pod = pods.replace(name, &PostParams::default(), &pod).await?;
            }
            let updates = per_s(t);
            let params = PatchParams::default();
            let t = std::time::Instant::now();
            for i in 0..n {
                pods.patch(name, &params, &Patch::Merge(label(i))).await?;
            }
            let merge = per_s(t);
            let t = std::time::Instant::now();
            for i in 0..n {
                pods.patch(name, &params, &Patch::Strategic(label(i))).await?;
            }
            let strategic = per_s(t);
            let params = PatchParams::apply("bench").force();
            let mut intent = serde_json::to_value($pod(0))?;
            intent["apiVersion"] = "v1".into();
            intent["kind"] = "Pod".into();
            let t = std::time::Instant::now();
            for i in 0..n {
                intent["metadata"]["labels"]["n"] = i.to_string().into();
                pods.patch(name, &params, &Patch::Apply(&intent)).await?;
            }
            let apply = per_s(t);
            Ok(super::Writes {
                updates,
                merge,
                strategic,
                apply,
            })
        }

        /// `STORED_PODS` pods, then `LISTS` lists of the 1 in 8 labelled
        /// `shard=1`: the p50 of one list and what it returned.
        pub(crate) async fn lists(client: $kube::Client) -> anyhow::Result<(std::time::Duration, usize)> {
            let pods: Api<$Pod> = Api::namespaced(client, "default");
            for i in 0..super::STORED_PODS {
                pods.create(&PostParams::default(), &$pod(i)).await?;
            }
            let params = ListParams::default().labels("shard=1");
            let mut samples = Vec::with_capacity(super::LISTS);
            let mut returned = 0;
            for _ in 0..super::LISTS {
                let t = std::time::Instant::now();
                returned = pods.list(&params).await?.items.len();
                samples.push(t.elapsed());
            }
            Ok((super::percentile(&mut samples, 0.5), returned))
        }
    };
}

mod work {
    use super::pod;
    workload!(kube, k8s_openapi::api::core::v1::Pod, pod);
}

/// The version a watch starts from to see every write after now.
async fn current_rv(cms: &Api<ConfigMap>) -> Result<String> {
    Ok(cms
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default())
}

/// Write acknowledged (the create returned) to the watcher holding the event.
async fn watch_latency(client: kube::Client) -> Result<(Duration, Duration)> {
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = current_rv(&cms).await?;
    let mut stream = cms
        .watch(&WatchParams::default().timeout(290), &rv)
        .await?
        .boxed();
    let mut samples = Vec::with_capacity(WATCH_EVENTS);
    for i in 0..WATCH_EVENTS {
        let name = format!("cm-{i}");
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": name}, "data": {"i": i.to_string()}}),
        )?;
        cms.create(&PostParams::default(), &cm).await?;
        let acked = Instant::now();
        loop {
            let event = tokio::time::timeout(WATCH_TIMEOUT, stream.next())
                .await
                .with_context(|| format!("no watch event for {name} within {WATCH_TIMEOUT:?}"))?
                .context("watch ended")??;
            if let WatchEvent::Added(cm) = event
                && cm.metadata.name.as_deref() == Some(&name)
            {
                samples.push(acked.elapsed());
                break;
            }
        }
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

/// 16 writers each landing `INCREMENTS` read-modify-write increments on one
/// ConfigMap, retrying on 409 (the invariant is tested in
/// tests/api/concurrency.rs; this is its throughput).
async fn contended(client: kube::Client) -> Result<(f64, usize)> {
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "counter"}, "data": {"n": "0"}}))?;
    cms.create(&PostParams::default(), &cm).await?;
    let t = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let cms = cms.clone();
            tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        let mut cm = cms.get("counter").await?;
                        let data = cm.data.get_or_insert_with(Default::default);
                        let n: u64 = data.get("n").map_or(Ok(0), |n| n.parse())?;
                        data.insert("n".into(), (n + 1).to_string());
                        match cms.replace("counter", &PostParams::default(), &cm).await {
                            Ok(_) => break,
                            Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
                            Err(e) => return Err(anyhow::Error::from(e)),
                        }
                    }
                }
                Ok(conflicts)
            })
        })
        .collect();
    let mut conflicts = 0;
    for w in writers {
        conflicts += w.await??;
    }
    let elapsed = t.elapsed();
    let n: usize = cms.get("counter").await?.data.unwrap_or_default()["n"].parse()?;
    anyhow::ensure!(n == WRITERS * INCREMENTS, "lost increments: {n}");
    Ok((
        (WRITERS * INCREMENTS) as f64 / elapsed.as_secs_f64(),
        conflicts,
    ))
}

/// `WATCHERS` watches on one resource while `FAN_OUT_EVENTS` creates go
/// by: deliveries per second until every watcher holds every event, each
/// delivery's latency from its create being sent, the process CPU spent,
/// and the most heap held above the start (sampled as the watchers drain).
async fn fan_out(client: kube::Client) -> Result<FanOut> {
    use std::sync::{Arc, OnceLock};
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = current_rv(&cms).await?;
    let peak = Arc::new(AtomicIsize::new(0));
    let sent: Arc<Vec<OnceLock<Instant>>> =
        Arc::new((0..FAN_OUT_EVENTS).map(|_| OnceLock::new()).collect());
    // The bench's own buffers exist before the heap baseline, so the peak
    // is what the server and the watches hold. Microseconds, so a million
    // samples stay small.
    let mut buffers: Vec<Vec<u32>> = (0..WATCHERS)
        .map(|_| Vec::with_capacity(FAN_OUT_EVENTS))
        .collect();
    let base = settled_heap().await;
    let cpu = cpu_time();
    let t = Instant::now();
    let mut watchers = Vec::with_capacity(WATCHERS);
    for _ in 0..WATCHERS {
        let mut stream = cms
            .watch(
                &WatchParams::default().timeout(290).disable_bookmarks(),
                &rv,
            )
            .await?
            .boxed();
        let (peak, sent) = (peak.clone(), sent.clone());
        let mut latencies = buffers.pop().expect("one buffer per watcher");
        watchers.push(tokio::spawn(async move {
            while latencies.len() < FAN_OUT_EVENTS {
                let cm = match tokio::time::timeout(WATCH_TIMEOUT, stream.next()).await {
                    Ok(Some(Ok(WatchEvent::Added(cm)))) => cm,
                    Ok(Some(Ok(WatchEvent::Bookmark(_)))) => continue,
                    other => {
                        anyhow::bail!("watch ended after {} events: {other:?}", latencies.len())
                    }
                };
                let i: usize = cm.metadata.name.as_deref().unwrap_or_default()[2..].parse()?;
                let sent = sent[i]
                    .get()
                    .context("an event before its create was sent")?;
                latencies.push(sent.elapsed().as_micros().try_into().unwrap_or(u32::MAX));
                if latencies.len().is_multiple_of(100) {
                    peak.fetch_max(LIVE.load(Ordering::Relaxed) - base, Ordering::Relaxed);
                }
            }
            Ok(latencies)
        }));
    }
    for (i, at) in sent.iter().enumerate() {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("f-{i}")}}))?;
        at.set(Instant::now()).expect("each create is sent once");
        cms.create(&PostParams::default(), &cm).await?;
    }
    let mut latencies = Vec::with_capacity(WATCHERS * FAN_OUT_EVENTS);
    for w in watchers {
        latencies.extend(w.await??);
    }
    let elapsed = t.elapsed();
    let cpu = cpu_time() - cpu;
    let mut latencies: Vec<Duration> = latencies
        .into_iter()
        .map(|us| Duration::from_micros(us.into()))
        .collect();
    Ok(FanOut {
        per_s: (WATCHERS * FAN_OUT_EVENTS) as f64 / elapsed.as_secs_f64(),
        p50: percentile(&mut latencies, 0.5),
        p99: percentile(&mut latencies, 0.99),
        cpu_per_event: cpu / FAN_OUT_EVENTS as u32,
        peak_heap: peak.load(Ordering::Relaxed) as f64,
    })
}

/// Live heap after a settling pause, as a measurement's baseline. Earlier
/// measurements' stores are dropped by background tasks (the clients'
/// services), and their frees would cancel this one's allocations.
async fn settled_heap() -> isize {
    tokio::time::sleep(Duration::from_millis(500)).await;
    LIVE.load(Ordering::Relaxed)
}

/// Heap still held once `work` has stored `STORED_PODS` pods, per 10,000.
async fn heap_per_10k<F: std::future::Future<Output = Result<()>>>(work: F) -> Result<f64> {
    let before = settled_heap().await;
    work.await?;
    let after = LIVE.load(Ordering::Relaxed);
    Ok((after - before) as f64 * 10_000.0 / STORED_PODS as f64)
}

async fn memory_per_10k() -> Result<f64> {
    let server = ApiServer::start().await?;
    let client = server.client();
    first_request(client.clone()).await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    heap_per_10k(async {
        for i in 0..STORED_PODS {
            pods.create(&PostParams::default(), &pod(i)).await?;
        }
        Ok(())
    })
    .await
}

/// Runs `work` on a server of its own (over HTTP or in-process), which is
/// gone before the next measurement starts.
async fn fresh<T, F, Fut>(over_http: bool, work: F) -> Result<T>
where
    F: FnOnce(kube::Client) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let server = ApiServer::start().await?;
    if over_http {
        let (client, _endpoint) = http_client(&server).await?;
        work(client).await
    } else {
        work(server.client()).await
    }
}

async fn embedded() -> Result<(Column, Column)> {
    let mut local = Column {
        start: Some(start_in_process().await?),
        ..Default::default()
    };
    let mut http = Column {
        start: Some(start_http().await?),
        ..Default::default()
    };

    local.creates_per_s = Some(fresh(false, |c| work::creates(c, CREATES)).await?);
    http.creates_per_s = Some(fresh(true, |c| work::creates(c, HTTP_CREATES)).await?);
    local.writes = Some(fresh(false, |c| work::writes(c, CREATES)).await?);
    http.writes = Some(fresh(true, |c| work::writes(c, HTTP_CREATES)).await?);
    local.list = Some(fresh(false, work::lists).await?);
    http.list = Some(fresh(true, work::lists).await?);
    local.watch = Some(fresh(false, watch_latency).await?);
    http.watch = Some(fresh(true, watch_latency).await?);
    local.contended = Some(fresh(false, contended).await?);
    http.contended = Some(fresh(true, contended).await?);
    local.fan_out = Some(fresh(false, fan_out).await?);
    http.fan_out = Some(fresh(true, fan_out).await?);
    local.bytes_per_10k = Some(memory_per_10k().await?);
    http.note = Some("same store as in-process".into());
    Ok((local, http))
}

#[cfg(feature = "bench-kube-fake-client")]
mod fake {
    //! The same work on kube-fake-client (kube 4 / k8s-openapi 0.28 types).
    use super::*;
    use k8s_openapi_028::api::core::v1::{ConfigMap as ConfigMap4, Pod as Pod4};
    use kube_fake_client::ClientBuilder;
    use kube4::api::{Api as Api4, PostParams as PostParams4, WatchParams as WatchParams4};

    fn pod4(i: usize) -> Pod4 {
        serde_json::from_value(serde_json::to_value(pod(i)).expect("pod json")).expect("pod 0.28")
    }

    mod work4 {
        use super::{Pod4, pod4};
        workload!(kube4, Pod4, pod4);
    }

    async fn client() -> Result<kube4::Client> {
        Ok(ClientBuilder::new().build().await?)
    }

    /// The same watch work as the other columns: open a watch, create one
    /// ConfigMap, wait for its Added event. kube-fake-client answers a watch
    /// request with a plain List, so this records what the client got
    /// instead of a latency.
    async fn watch_note(c: kube4::Client) -> String {
        use kube4::api::WatchEvent as WatchEvent4;
        let cms = Api4::<ConfigMap4>::namespaced(c, "default");
        let mut stream =
            match tokio::time::timeout(WATCH_TIMEOUT, cms.watch(&WatchParams4::default(), "0"))
                .await
            {
                Ok(Ok(s)) => s.boxed(),
                Ok(Err(e)) => return format!("watch refused ({e})"),
                Err(_) => return "watch unsupported (no answer to the request)".into(),
            };
        let cm: ConfigMap4 =
            serde_json::from_value(json!({"metadata": {"name": "cm-0"}})).expect("cm literal");
        if let Err(e) = cms.create(&PostParams4::default(), &cm).await {
            return format!("create during watch failed ({e})");
        }
        match tokio::time::timeout(Duration::from_secs(1), stream.next()).await {
            Ok(Some(Ok(WatchEvent4::Added(_)))) => {
                "watch delivered an event; latency not measured".into()
            }
            Ok(Some(Ok(other))) => format!("watch gave an unexpected first event: {other:?}"),
            // Its mock service routes every GET to get/list, `?watch=1` included.
            Ok(Some(Err(_))) => {
                "no watch: a watch request is answered with a List, which the client \
                 cannot read as watch events"
                    .into()
            }
            Ok(None) => "no watch events: the stream ended without any".into(),
            Err(_) => "no watch events: none within 1 s of a create".into(),
        }
    }

    pub(crate) async fn column() -> Result<Column> {
        let mut col = Column::default();
        let mut samples = Vec::with_capacity(STARTS);
        for _ in 0..STARTS {
            let t = Instant::now();
            let c = client().await?;
            Api4::<Pod4>::namespaced(c, "default")
                .list(&Default::default())
                .await?;
            samples.push(t.elapsed());
        }
        col.start = Some((
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99),
        ));

        let pods = Api4::<Pod4>::namespaced(client().await?, "default");
        col.bytes_per_10k = Some(
            heap_per_10k(async {
                for i in 0..STORED_PODS {
                    pods.create(&PostParams4::default(), &pod4(i)).await?;
                }
                Ok(())
            })
            .await?,
        );
        drop(pods);
        col.creates_per_s = Some(work4::creates(client().await?, CREATES).await?);
        // What it cannot do is a note, not a failed column.
        let mut notes = vec![watch_note(client().await?).await];
        match work4::writes(client().await?, CREATES).await {
            Ok(w) => col.writes = Some(w),
            Err(e) => notes.push(format!("writes failed ({e:#})")),
        }
        match work4::lists(client().await?).await {
            Ok(l) => col.list = Some(l),
            Err(e) => notes.push(format!("lists failed ({e:#})")),
        }
        col.note = Some(notes.join("; "));

        Ok(col)
    }
}

async fn fake_client() -> Column {
    #[cfg(feature = "bench-kube-fake-client")]
    {
        match fake::column().await {
            Ok(c) => c,
            Err(e) => Column {
                note: Some(format!("failed: {e:#}")),
                ..Default::default()
            },
        }
    }
    #[cfg(not(feature = "bench-kube-fake-client"))]
    Column {
        note: Some("not built (enable feature bench-kube-fake-client)".into()),
        ..Default::default()
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else {
        format!("{ms:.2} ms")
    }
}

fn cell<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "n/a".into())
}

/// A table row: its label and how a column renders it.
type Row<'a> = (&'a str, &'a dyn Fn(&Column) -> String);

fn table(cols: &[(&str, &Column)]) -> String {
    let mut out = String::new();
    out.push_str("| measurement |");
    for (name, _) in cols {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(cols.len()));
    out.push('\n');
    let rows: [Row; 13] = [
        ("start → first successful request (p50 / p99)", &|c| {
            cell(c.start, |(a, b)| format!("{} / {}", ms(a), ms(b)))
        }),
        ("sequential creates per second", &|c| {
            cell(c.creates_per_s, |v| format!("{v:.0}"))
        }),
        ("watch delivery latency (p50 / p99)", &|c| {
            cell(c.watch, |(a, b)| format!("{} / {}", ms(a), ms(b)))
        }),
        ("sequential updates (PUT) per second", &|c| {
            cell(c.writes.as_ref(), |w| format!("{:.0}", w.updates))
        }),
        ("sequential JSON merge patches per second", &|c| {
            cell(c.writes.as_ref(), |w| format!("{:.0}", w.merge))
        }),
        ("sequential strategic merge patches per second", &|c| {
            cell(c.writes.as_ref(), |w| format!("{:.0}", w.strategic))
        }),
        ("sequential server-side applies per second", &|c| {
            cell(c.writes.as_ref(), |w| format!("{:.0}", w.apply))
        }),
        (
            "list of 10,000 pods with a label selector, p50 (items returned)",
            &|c| cell(c.list, |(d, n)| format!("{} ({n})", ms(d))),
        ),
        (
            "16 writers' read-modify-write increments per second (409s met)",
            &|c| cell(c.contended, |(v, n)| format!("{v:.0} ({n})")),
        ),
        (
            "100 watchers × 10,000 events: deliveries per second (peak heap held)",
            &|c| {
                cell(c.fan_out.as_ref(), |f| {
                    format!(
                        "{:.0} ({:.1} MiB)",
                        f.per_s,
                        f.peak_heap / (1024.0 * 1024.0)
                    )
                })
            },
        ),
        (
            "the same: delivery latency from the create sent (p50 / p99)",
            &|c| {
                cell(c.fan_out.as_ref(), |f| {
                    format!("{} / {}", ms(f.p50), ms(f.p99))
                })
            },
        ),
        (
            "the same: process CPU per event (100 deliveries, decoding included)",
            &|c| cell(c.fan_out.as_ref(), |f| ms(f.cpu_per_event)),
        ),
        ("heap per 10,000 stored pods", &|c| {
            cell(c.bytes_per_10k, |b| {
                format!("{:.1} MiB", b / (1024.0 * 1024.0))
            })
        }),
    ];
    for (label, f) in rows {
        out.push_str(&format!("| {label} |"));
        for (_, c) in cols {
            out.push_str(&format!(" {} |", f(c)));
        }
        out.push('\n');
    }
    let notes: Vec<String> = cols
        .iter()
        .filter_map(|(name, c)| c.note.as_ref().map(|n| format!("{name}: {n}")))
        .collect();
    if !notes.is_empty() {
        out.push_str(&format!("\nNotes: {}.\n", notes.join("; ")));
    }
    out
}

/// `--profile creates|writes`: only that in-process work, at length and
/// with no table, for `perf record` to see one path alone.
fn profile_arg() -> Result<Option<String>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(at) = args.iter().position(|a| a == "--profile") else {
        return Ok(None);
    };
    match args.get(at + 1).map(String::as_str) {
        Some(w @ ("creates" | "writes")) => Ok(Some(w.to_owned())),
        other => anyhow::bail!("--profile takes `creates` or `writes`, not {other:?}"),
    }
}

async fn profile(work: &str) -> Result<()> {
    let server = ApiServer::start().await?;
    let client = server.client();
    if work == "creates" {
        let per_s = work::creates(client, 5 * CREATES).await?;
        eprintln!("{per_s:.0} creates/s");
    } else {
        let w = work::writes(client.clone(), CREATES / 4).await?;
        let pod = Api::<Pod>::namespaced(client, "default")
            .get("pod-0")
            .await?;
        eprintln!(
            "the pod written: {} bytes of JSON, {} managedFields entries",
            serde_json::to_string(&pod)?.len(),
            pod.metadata.managed_fields.as_ref().map_or(0, |m| m.len())
        );
        eprintln!(
            "updates {:.0}/s, merge {:.0}/s, strategic {:.0}/s, apply {:.0}/s",
            w.updates, w.merge, w.strategic, w.apply
        );
    }
    Ok(())
}

fn main() -> Result<()> {
    // With both kube stacks linked, rustls has two crypto providers and
    // will not guess; the choice does not matter for plain-HTTP loopback.
    #[cfg(feature = "bench-kube-fake-client")]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        if let Some(work) = profile_arg()? {
            return profile(&work).await;
        }
        let (local, http) = embedded().await?;
        let fake = fake_client().await;
        println!(
            "{}",
            table(&[
                ("apiserver in-process", &local),
                ("apiserver over HTTP", &http),
                ("kube-fake-client 0.3 (in-process)", &fake),
            ])
        );
        println!(
            "{CREATES} in-process / {HTTP_CREATES} HTTP sequential pod creates; {WATCH_EVENTS} watch events; \
             {STARTS} starts; {WRITERS} writers × {INCREMENTS} increments on one object; \
             {CREATES} in-process / {HTTP_CREATES} HTTP writes of each kind to one pod; \
             {LISTS} lists over {STORED_PODS} pods; \
             {WATCHERS} watchers × {FAN_OUT_EVENTS} creates; heap counted by a global allocator. \
             Target for start: under 5 ms."
        );
        Ok(())
    })
}
