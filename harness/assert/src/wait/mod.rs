//! `eventually` / `consistently`: Gomega's waits for async Rust, in tokio time.
//!
//! ```
//! use kube_harness_assert::prelude::*;
//! use std::sync::atomic::{AtomicU32, Ordering};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Failure> {
//! // Any async read is a probe; here, a status that becomes Ready on the third read.
//! let reads = AtomicU32::new(0);
//! let status = || async {
//!     let n = reads.fetch_add(1, Ordering::SeqCst);
//!     let phase = if n < 2 { "Upgrading" } else { "Ready" };
//!     Ok::<_, String>(json!({"phase": phase, "startedAt": "10:00"}))
//! };
//! eventually(status)
//!     .describe("nodedeployment/seid")
//!     .should(field("phase", eq("Ready")))
//!     .await?;
//! consistently(status)
//!     .for_(10.s())
//!     .every(500.ms())
//!     .should(all_of![field("phase", eq("Ready")), field("startedAt", stable())])
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Time comes only from tokio (`tokio::time::Instant`, `sleep`), so under
//! `#[tokio::test(start_paused = true)]` a 10 s `consistently` costs
//! milliseconds of wall time and its attempts land on exact virtual instants.
//!
//! Defaults ([`config`]): eventually 30 s, consistently 5 s, poll every
//! 250 ms, one probe call at most 10 s. `HARNESS_TIMEOUT_SCALE` multiplies
//! timeouts and durations (not poll intervals) for slow CI.
//!
//! A probe error does not end an `eventually` (the object may not exist yet)
//! but is kept and reported; it does end a `consistently` (the state could
//! not be observed, so it was not shown to hold). A [`StopTrying`] error ends
//! either at once with its reason.

pub mod config;
mod duration;
mod failure;
mod probe;
mod run;

pub use config::{TIMEOUT_SCALE_VAR, TimeoutScaleError, parse_timeout_scale, timeout_scale};
pub use duration::{DurationExt, fmt_duration};
pub use failure::{Failure, Outcome, ProbeErrorSeen, Section, WaitKind};
pub use probe::{Probe, ProbeError, StopTrying};

use crate::matchers::{BoxMatcher, Matcher};
use futures::{Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Change notifications that re-run the probe at once.
type Triggers = Pin<Box<dyn Stream<Item = ()> + Send>>;

/// Settings both waits share.
struct Common {
    every: Duration,
    subject: Option<String>,
    triggers: Option<Triggers>,
    attempt_timeout: Duration,
    scale: Option<f64>,
}

impl Common {
    fn new() -> Self {
        Self {
            every: config::DEFAULT_POLL_INTERVAL,
            subject: None,
            triggers: None,
            attempt_timeout: config::DEFAULT_ATTEMPT_TIMEOUT,
            scale: None,
        }
    }

    fn subject<T>(&self) -> String {
        self.subject
            .clone()
            .unwrap_or_else(|| format!("a value of type {}", std::any::type_name::<T>()))
    }
}

/// Waits until the probe's value matches; see [`eventually`].
#[must_use = "a wait does nothing until `.should(..)` is awaited"]
pub struct Eventually<P> {
    probe: P,
    common: Common,
    within: Duration,
    must_pass: u32,
    stop_when: Option<BoxMatcher>,
}

/// Requires the probe's value to keep matching; see [`consistently`].
#[must_use = "a wait does nothing until `.should(..)` is awaited"]
pub struct Consistently<P> {
    probe: P,
    common: Common,
    duration: Duration,
}

/// Re-runs `probe` until its value matches, for at most
/// [`DEFAULT_TIMEOUT`](config::DEFAULT_TIMEOUT) (30 s) unless `.within(..)`.
/// Resolves to the matching value.
pub fn eventually<P: Probe>(probe: P) -> Eventually<P> {
    Eventually {
        probe,
        common: Common::new(),
        within: config::DEFAULT_TIMEOUT,
        must_pass: 1,
        stop_when: None,
    }
}

/// Re-runs `probe` for [`DEFAULT_DURATION`](config::DEFAULT_DURATION) (5 s)
/// unless `.for_(..)`, failing at the first attempt that does not match.
/// Resolves to the last value.
pub fn consistently<P: Probe>(probe: P) -> Consistently<P> {
    Consistently {
        probe,
        common: Common::new(),
        duration: config::DEFAULT_DURATION,
    }
}

macro_rules! common_setters {
    () => {
        /// Poll interval between attempts (default 250 ms). Not scaled by
        /// `HARNESS_TIMEOUT_SCALE`. Zero is raised to 1 ms.
        pub fn every(mut self, d: Duration) -> Self {
            self.common.every = d.max(Duration::from_millis(1));
            self
        }

        /// Names what is waited on in failures (`nodedeployment/seid in ns x`).
        pub fn describe(mut self, what: impl Into<String>) -> Self {
            self.common.subject = Some(what.into());
            self
        }

        /// Re-runs the probe as soon as `stream` yields (a kube watch, a
        /// channel of change notices), besides polling; bursts are coalesced
        /// into one attempt. When the stream ends, polling goes on alone.
        pub fn triggered_by<S>(mut self, stream: S) -> Self
        where
            S: Stream + Send + 'static,
        {
            self.common.triggers = Some(Box::pin(stream.map(|_| ())));
            self
        }

        /// Longest one probe call may take before it counts as a failed
        /// attempt (default 10 s, scaled).
        pub fn attempt_timeout(mut self, d: Duration) -> Self {
            self.common.attempt_timeout = d;
            self
        }

        /// Uses this scale instead of `HARNESS_TIMEOUT_SCALE` for this wait.
        pub fn timeout_scale(mut self, scale: f64) -> Self {
            self.common.scale = Some(scale);
            self
        }
    };
}

impl<P: Probe> Eventually<P> {
    common_setters!();

    /// Timeout (default 30 s), multiplied by `HARNESS_TIMEOUT_SCALE`.
    pub fn within(mut self, d: Duration) -> Self {
        self.within = d;
        self
    }

    /// Requires `n` passing attempts in a row (Gomega's `MustPassRepeatedly`),
    /// to ride out a state that flickers. `0` counts as `1`.
    pub fn must_pass_repeatedly(mut self, n: u32) -> Self {
        self.must_pass = n.max(1);
        self
    }

    /// Fails at once when a value that does not pass matches `terminal`,
    /// e.g. `field("status.phase", eq("Failed"))`: a state the object will
    /// not leave, so waiting out the timeout would only delay the report.
    pub fn stop_when(mut self, terminal: impl Matcher + 'static) -> Self {
        self.stop_when = Some(Box::new(terminal));
        self
    }

    /// Resolves to the first value (of the required run) that matches `m`.
    pub async fn should<M: Matcher>(self, m: M) -> Result<P::Output, Failure> {
        run::eventually(self, &m, false).await
    }

    /// Resolves to the first value that does *not* match `m`.
    pub async fn should_not<M: Matcher>(self, m: M) -> Result<P::Output, Failure> {
        run::eventually(self, &m, true).await
    }
}

impl<P: Probe> Consistently<P> {
    common_setters!();

    /// How long the matcher must keep passing (default 5 s), multiplied by
    /// `HARNESS_TIMEOUT_SCALE`.
    pub fn for_(mut self, d: Duration) -> Self {
        self.duration = d;
        self
    }

    /// Resolves to the last value if every attempt matched `m`.
    pub async fn should<M: Matcher>(self, m: M) -> Result<P::Output, Failure> {
        run::consistently(self, &m, false).await
    }

    /// Resolves to the last value if no attempt matched `m`.
    pub async fn should_not<M: Matcher>(self, m: M) -> Result<P::Output, Failure> {
        run::consistently(self, &m, true).await
    }
}

/// `.await_ok()` on a wait: resolves to the value or panics with the full
/// failure report, for tests that do not return `Result`.
///
/// ```
/// # use kube_harness_assert::prelude::*;
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let phase = eventually(|| async { Ok::<_, String>("Ready") })
///     .should(eq("Ready"))
///     .await_ok()
///     .await;
/// assert_eq!(phase, "Ready");
/// # }
/// ```
pub trait AwaitOk<T>: Future<Output = Result<T, Failure>> + Sized {
    /// Panics with the failure report instead of returning it.
    fn await_ok(self) -> OrPanic<Self> {
        OrPanic {
            inner: Box::pin(self),
        }
    }
}

impl<T, F: Future<Output = Result<T, Failure>>> AwaitOk<T> for F {}

/// Future returned by [`AwaitOk::await_ok`].
pub struct OrPanic<F> {
    inner: Pin<Box<F>>,
}

impl<T, F: Future<Output = Result<T, Failure>>> Future for OrPanic<F> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.inner.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(v),
            Poll::Ready(Err(f)) => panic!("{f}"),
        }
    }
}

#[cfg(test)]
mod tests;
