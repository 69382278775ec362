//! Where the operator reads "now" from. Budgets count per UTC day and
//! windows open on a schedule, so a test must be able to move the
//! operator's clock by days without running days of tokio time: a
//! [`TokioClock`] follows tokio time and can also [`TokioClock::jump`].

use jiff::{SignedDuration, Timestamp};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock; what the operator uses in production.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// `base` plus the tokio time elapsed since the clock was made, plus every
/// [`TokioClock::jump`]. Clones share their jumps.
#[derive(Debug, Clone)]
pub struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
    jumped_ms: Arc<AtomicI64>,
}

impl TokioClock {
    /// A clock that reads `base` now and follows tokio time from here.
    /// Must be called inside a tokio runtime (it reads tokio's clock).
    pub fn starting_at(base: Timestamp) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
            jumped_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Moves the clock forward by `by` at once: a night passes for the
    /// operator's windows and budgets while no timer fires.
    pub fn jump(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.jumped_ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.start.elapsed()).unwrap_or(SignedDuration::MAX);
        let jumped = SignedDuration::from_millis(self.jumped_ms.load(Ordering::SeqCst));
        self.base
            .saturating_add(elapsed)
            .and_then(|t| t.saturating_add(jumped))
            .unwrap_or(Timestamp::MAX)
    }
}

/// `t` without its sub-second part: Kubernetes `Time` serializes to whole
/// seconds, so an unrounded value would differ from the one read back and
/// make the operator rewrite its status forever.
pub fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_tokio_time_and_jumps() {
        let base: Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
        let clock = TokioClock::starting_at(base);
        tokio::time::sleep(Duration::from_secs(5)).await;
        clock.clone().jump(Duration::from_secs(86_400));
        assert_eq!(
            clock.now(),
            "2026-12-01T10:00:05Z".parse::<Timestamp>().unwrap()
        );
    }
}
