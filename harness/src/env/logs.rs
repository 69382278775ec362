//! The tracing output of operators spawned through a `TestEnv`, captured per
//! test: parallel tests in one process would otherwise interleave their
//! operators' lines on one stderr, and a failure could not show "what the
//! operator said" without a human untangling it.
//!
//! How lines find their test: the operator's future runs inside a span
//! named [`OPERATOR_SPAN`] that carries its env's sink, and a routing layer
//! sends every event under that span to that sink. Spans follow a
//! controller's work where it goes: kube-runtime's `Controller` spawns each
//! reconcile as its own task `in_current_span()`, so reconcile logs land in
//! the right test too. The layer is installed as the process's global
//! subscriber the first time an operator is spawned; a test binary that
//! installs its own subscriber adds [`capture_layer`] to it instead. If
//! neither happened (another global subscriber won), lines are captured only
//! from the operator's own task, and the first capture says so on stderr.
//!
//! The level comes from `HARNESS_OPERATOR_LOG` (tracing-subscriber's
//! `EnvFilter` syntax, e.g. `debug` or `info,kube=warn`); default `info`.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The span an operator spawned through a `TestEnv` runs in.
pub const OPERATOR_SPAN: &str = "kube_harness_operator";

/// Environment variable choosing what operator log lines are captured.
pub const OPERATOR_LOG_VAR: &str = "HARNESS_OPERATOR_LOG";

/// How many lines a failure report shows (Ginkgo shows the tail of captured
/// output the same way).
pub(super) const FAILURE_TAIL: usize = 20;

/// One env's captured operator output. Cheap to clone; clones share lines.
#[derive(Clone, Default)]
pub struct OperatorLogs {
    lines: Arc<Mutex<Vec<String>>>,
}

impl fmt::Debug for OperatorLogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorLogs")
            .field("lines", &self.lines().len())
            .finish()
    }
}

impl OperatorLogs {
    /// Every line captured so far, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lock().clone()
    }

    /// The last `n` lines.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lock();
        lines[lines.len().saturating_sub(n)..].to_vec()
    }

    /// Lines containing `needle`.
    pub fn matching(&self, needle: &str) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|l| l.contains(needle))
            .cloned()
            .collect()
    }

    /// Starts a count expectation on lines containing `needle`:
    /// `env.operator_logs().expect("Starting workers").exactly(1)?`.
    pub fn expect(&self, needle: &str) -> LogExpect {
        LogExpect {
            logs: self.clone(),
            needle: needle.to_string(),
        }
    }

    /// A snapshot of the lines after the last one containing `marker` (all
    /// lines when none does): `logs.after("--- restarted")` asks what the
    /// operator said since its last restart.
    pub fn after(&self, marker: &str) -> OperatorLogs {
        let lines = self.lock();
        let from = lines
            .iter()
            .rposition(|l| l.contains(marker))
            .map_or(0, |i| i + 1);
        OperatorLogs {
            lines: Arc::new(Mutex::new(lines[from..].to_vec())),
        }
    }

    /// Appends a line of the test's own (e.g. `--- operator restarted ---`).
    pub fn push(&self, line: impl Into<String>) {
        self.lock().push(line.into());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A panic while holding the lock leaves whole lines behind; keep going.
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `fut` with its tracing events (and those of tasks it spawns
    /// inside its span) captured here, each line prefixed with `name`.
    pub(crate) fn capture<F>(
        &self,
        name: &str,
        fut: F,
    ) -> impl std::future::Future<Output = F::Output> + Send + use<F>
    where
        F: std::future::Future + Send,
    {
        use tracing::instrument::{Instrument, WithSubscriber};
        let routed = router_installed();
        let sink = register_sink(Sink {
            logs: self.clone(),
            prefix: name.to_string(),
        });
        let span = tracing::info_span!(OPERATOR_SPAN, sink = sink);
        // Without the router, at least the operator's own task is captured.
        let fallback = (!routed).then(|| scoped_dispatch(sink));
        async move {
            let _unregister = Unregister(sink);
            match fallback {
                None => fut.instrument(span).await,
                Some(dispatch) => fut.with_subscriber(dispatch).await,
            }
        }
    }

    /// The failure-report block: the last [`FAILURE_TAIL`] lines, or `None`
    /// when nothing was captured.
    pub(crate) fn failure_section(&self) -> Option<(String, String)> {
        let total = self.lock().len();
        if total == 0 {
            return None;
        }
        let tail = self.tail(FAILURE_TAIL);
        let title = if tail.len() < total {
            format!("operator logs (last {} of {total} lines)", tail.len())
        } else {
            format!("operator logs ({total} lines)")
        };
        Some((title, tail.join("\n")))
    }
}

/// A count expectation on captured lines; see [`OperatorLogs::expect`].
#[derive(Debug, Clone)]
pub struct LogExpect {
    logs: OperatorLogs,
    needle: String,
}

/// A log expectation that did not hold; shows the matching lines (or the
/// tail of the log when none matched).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}\n{shown}")]
#[non_exhaustive]
pub struct LogExpectError {
    /// What was expected and how often it was seen.
    pub message: String,
    /// The lines that matched, or the last lines when none did.
    pub shown: String,
}

impl LogExpect {
    fn check(&self, ok: impl Fn(usize) -> bool, wanted: String) -> Result<(), LogExpectError> {
        let hits = self.logs.matching(&self.needle);
        if ok(hits.len()) {
            return Ok(());
        }
        let total = self.logs.lines().len();
        let shown = if hits.is_empty() {
            let tail = self.logs.tail(FAILURE_TAIL);
            if tail.is_empty() {
                "operator logs: nothing captured (is the operator spawned with env.spawn_operator, and does it log through tracing?)".to_string()
            } else {
                format!(
                    "operator logs (last {} of {total} lines):\n  {}",
                    tail.len(),
                    tail.join("\n  ")
                )
            }
        } else {
            format!("matching lines:\n  {}", hits.join("\n  "))
        };
        Err(LogExpectError {
            message: format!(
                "expected operator log lines containing {:?} {wanted}, saw {} of {total} line{}",
                self.needle,
                hits.len(),
                if total == 1 { "" } else { "s" },
            ),
            shown,
        })
    }

    /// Exactly `n` matching lines.
    pub fn exactly(&self, n: usize) -> Result<(), LogExpectError> {
        let wanted = if n == 1 {
            "once".to_string()
        } else {
            format!("exactly {n} times")
        };
        self.check(|c| c == n, wanted)
    }

    /// No matching line.
    pub fn never(&self) -> Result<(), LogExpectError> {
        self.check(|c| c == 0, "never".to_string())
    }

    /// `n` or more matching lines.
    pub fn at_least(&self, n: usize) -> Result<(), LogExpectError> {
        self.check(|c| c >= n, format!("at least {n} times"))
    }
}

/// Where one operator's lines go.
struct Sink {
    logs: OperatorLogs,
    prefix: String,
}

/// Live sinks by id; a span field carries the id (span fields are plain
/// values, so the layer looks the sink up here).
fn sinks() -> &'static Mutex<HashMap<u64, Sink>> {
    static SINKS: OnceLock<Mutex<HashMap<u64, Sink>>> = OnceLock::new();
    SINKS.get_or_init(Default::default)
}

fn register_sink(sink: Sink) -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    sinks()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, sink);
    id
}

/// Drops a sink when the operator's future ends or is aborted.
struct Unregister(u64);

impl Drop for Unregister {
    fn drop(&mut self) {
        sinks()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.0);
    }
}

/// A dispatcher of its own (the fallback): only the operator's task.
fn scoped_dispatch(sink: u64) -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt;
    let layer = CaptureLayer { only: Some(sink) }.with_filter(operator_filter());
    tracing::Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// Set once a [`capture_layer`] exists in some subscriber.
static LAYER_IN_USE: AtomicBool = AtomicBool::new(false);

/// Installs the router as the global subscriber unless a subscriber with
/// [`capture_layer`] is already there; `false` if routing is unavailable.
fn router_installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    if LAYER_IN_USE.load(Ordering::SeqCst) {
        return true;
    }
    *INSTALLED.get_or_init(|| {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(capture_layer());
        let ok = tracing::subscriber::set_global_default(subscriber).is_ok();
        if !ok {
            eprintln!(
                "kube-harness: a global tracing subscriber is already set, so operator logs are \
                 captured from the operator's own task only (reconciles kube-runtime spawns are \
                 missed); add kube_harness::env::capture_layer() to your subscriber to capture them"
            );
        }
        ok
    })
}

/// The layer that routes operator events to their test's
/// [`OperatorLogs`]; add it to a test binary's own subscriber
/// (`tracing_subscriber::registry().with(capture_layer()).with(fmt::layer())`)
/// if the binary installs one. Filtered by `HARNESS_OPERATOR_LOG`.
pub fn capture_layer<S>() -> impl Layer<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    LAYER_IN_USE.store(true, Ordering::SeqCst);
    CaptureLayer { only: None }.with_filter(operator_filter())
}

/// `HARNESS_OPERATOR_LOG` (default `info`), always letting the operator
/// span itself through: routing needs it whatever the level.
fn operator_filter<S>() -> impl Filter<S> + Send + Sync
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use tracing_subscriber::filter::{FilterExt, filter_fn};
    let env = EnvFilter::try_from_env(OPERATOR_LOG_VAR).unwrap_or_else(|_| EnvFilter::new("info"));
    filter_fn(|m| m.is_span() && m.name() == OPERATOR_SPAN).or(env)
}

/// The sink id an operator span was created with, kept in its extensions.
struct SinkId(u64);

struct CaptureLayer {
    /// The fallback dispatcher's single sink (no span needed).
    only: Option<u64>,
}

impl<S> Layer<S> for CaptureLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        if attrs.metadata().name() != OPERATOR_SPAN {
            return;
        }
        let mut visitor = SinkVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(sink), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(SinkId(sink));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let sink = self.only.or_else(|| {
            ctx.event_scope(event)?
                .find_map(|span| span.extensions().get::<SinkId>().map(|s| s.0))
        });
        let Some(sink) = sink else { return };
        let sinks = sinks().lock().unwrap_or_else(|p| p.into_inner());
        let Some(sink) = sinks.get(&sink) else { return };
        let meta = event.metadata();
        let mut fields = FieldText::default();
        event.record(&mut fields);
        let mut line = format!(
            "[{}] {:>5} {}: {}",
            sink.prefix,
            meta.level(),
            meta.target(),
            fields.message
        );
        if !fields.rest.is_empty() {
            line.push_str(&fields.rest);
        }
        sink.logs.push(line);
    }
}

struct SinkVisitor(Option<u64>);

impl Visit for SinkVisitor {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "sink" {
            self.0 = Some(value);
        }
    }
    fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
}

/// An event's message and its other fields as ` key=value`.
#[derive(Default)]
struct FieldText {
    message: String,
    rest: String,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_one_future_and_what_it_spawns_in_its_span() {
        let logs = OperatorLogs::default();
        let other = OperatorLogs::default();
        let work = async {
            tracing::info!(workers = 1, "Starting workers");
            tracing::debug!("not at the default level");
            // As kube-runtime's Controller runs a reconcile: its own task.
            use tracing::Instrument;
            tokio::spawn(async { tracing::warn!("reconcile failed") }.in_current_span())
                .await
                .unwrap();
        };
        let quiet = async { tracing::info!("another test's operator") };
        tokio::join!(logs.capture("op", work), other.capture("other", quiet));
        tracing::info!("outside the operator: not captured");

        let lines = logs.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("[op]"), "{}", lines[0]);
        assert!(
            lines[0].contains("Starting workers workers=1"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("WARN") && lines[1].contains("reconcile failed"),
            "{lines:?}"
        );
        assert_eq!(other.lines().len(), 1, "{:?}", other.lines());
        logs.expect("Starting workers").exactly(1).unwrap();
        logs.expect("reconciling").never().unwrap();

        let err = logs.expect("reconciling").at_least(1).unwrap_err();
        assert!(
            err.message
                .contains("expected operator log lines containing \"reconciling\" at least 1 times, saw 0 of 2 lines"),
            "{err}"
        );
        assert!(err.shown.contains("Starting workers"), "{err}");
        logs.push("--- restarted ---");
        tracing::info!("not captured either");
        assert!(logs.after("--- restarted").lines().is_empty());
        assert_eq!(logs.after("no such marker").lines().len(), 3);
        logs.lines.lock().unwrap().pop();
        let (title, body) = logs.failure_section().unwrap();
        assert_eq!(title, "operator logs (2 lines)");
        assert_eq!(body.lines().count(), 2);
    }
}
