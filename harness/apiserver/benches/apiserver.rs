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
const FAN_OUT_EVENTS: usize = 2_000;

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
    /// Watch fan-out: events delivered per second over all watchers, and
    /// the most heap held above the start while they drained.
    fan_out: Option<(f64, f64)>,
    note: Option<String>,
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

async fn creates(client: kube::Client, n: usize) -> Result<f64> {
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let t = Instant::now();
    for i in 0..n {
        pods.create(&PostParams::default(), &pod(i)).await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
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
/// by; the time until every watcher holds every event, and the most heap
/// held above the start meanwhile (sampled as the watchers drain).
async fn fan_out(client: kube::Client) -> Result<(f64, f64)> {
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = current_rv(&cms).await?;
    let base = LIVE.load(Ordering::Relaxed);
    let peak = std::sync::Arc::new(AtomicIsize::new(0));
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
        let peak = peak.clone();
        watchers.push(tokio::spawn(async move {
            let mut seen = 0;
            while seen < FAN_OUT_EVENTS {
                match tokio::time::timeout(WATCH_TIMEOUT, stream.next()).await {
                    Ok(Some(Ok(WatchEvent::Added(_)))) => seen += 1,
                    Ok(Some(Ok(_))) => {}
                    other => anyhow::bail!("watch ended after {seen} events: {other:?}"),
                }
                if seen % 100 == 0 {
                    peak.fetch_max(LIVE.load(Ordering::Relaxed) - base, Ordering::Relaxed);
                }
            }
            Ok(())
        }));
    }
    for i in 0..FAN_OUT_EVENTS {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("f-{i}")}}))?;
        cms.create(&PostParams::default(), &cm).await?;
    }
    for w in watchers {
        w.await??;
    }
    let per_s = (WATCHERS * FAN_OUT_EVENTS) as f64 / t.elapsed().as_secs_f64();
    Ok((per_s, peak.load(Ordering::Relaxed) as f64))
}

async fn memory_per_10k() -> Result<f64> {
    let server = ApiServer::start().await?;
    let client = server.client();
    first_request(client.clone()).await?;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let before = LIVE.load(Ordering::Relaxed);
    for i in 0..STORED_PODS {
        pods.create(&PostParams::default(), &pod(i)).await?;
    }
    let after = LIVE.load(Ordering::Relaxed);
    Ok((after - before) as f64 * 10_000.0 / STORED_PODS as f64)
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

    local.creates_per_s = Some(fresh(false, |c| creates(c, CREATES)).await?);
    http.creates_per_s = Some(fresh(true, |c| creates(c, HTTP_CREATES)).await?);
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

    pub async fn column() -> Result<Column> {
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
        let t = Instant::now();
        for i in 0..CREATES {
            pods.create(&PostParams4::default(), &pod4(i)).await?;
        }
        col.creates_per_s = Some(CREATES as f64 / t.elapsed().as_secs_f64());

        col.note = Some(watch_note(client().await?).await);

        let c = client().await?;
        let pods = Api4::<Pod4>::namespaced(c, "default");
        let before = LIVE.load(Ordering::Relaxed);
        for i in 0..STORED_PODS {
            pods.create(&PostParams4::default(), &pod4(i)).await?;
        }
        let after = LIVE.load(Ordering::Relaxed);
        col.bytes_per_10k = Some((after - before) as f64 * 10_000.0 / STORED_PODS as f64);
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
    let rows: [Row; 6] = [
        ("start → first successful request (p50 / p99)", &|c| {
            cell(c.start, |(a, b)| format!("{} / {}", ms(a), ms(b)))
        }),
        ("sequential creates per second", &|c| {
            cell(c.creates_per_s, |v| format!("{v:.0}"))
        }),
        ("watch delivery latency (p50 / p99)", &|c| {
            cell(c.watch, |(a, b)| format!("{} / {}", ms(a), ms(b)))
        }),
        (
            "16 writers' read-modify-write increments per second (409s met)",
            &|c| cell(c.contended, |(v, n)| format!("{v:.0} ({n})")),
        ),
        (
            "100 watchers × 2,000 events: deliveries per second (peak heap held)",
            &|c| {
                cell(c.fan_out, |(v, b)| {
                    format!("{v:.0} ({:.1} MiB)", b / (1024.0 * 1024.0))
                })
            },
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
             {WATCHERS} watchers × {FAN_OUT_EVENTS} creates; heap counted by a global allocator. \
             Target for start: under 5 ms."
        );
        Ok(())
    })
}
