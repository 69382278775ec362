//! Where the operator reads "now" from.
//!
//! Timestamps the operator writes (`status.rollout.startedAt`, condition
//! transition times) come from a [`Clock`] the caller supplies, so a test
//! running with paused tokio time gets deterministic values, and a test that
//! checks "startedAt is never re-stamped" sees a re-stamp as a different
//! value rather than the same wall-clock second by luck.

use jiff::Timestamp;
use std::fmt::Debug;

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

/// A clock driven by tokio time: `base` plus the tokio time elapsed since the
/// clock was made. Under `#[tokio::test(start_paused = true)]` it advances
/// exactly as far as virtual time does.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `base` now and follows tokio time from here.
    /// Must be called inside a tokio runtime (it reads tokio's clock).
    pub fn starting_at(base: Timestamp) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = tokio::time::Instant::now().duration_since(self.start);
        // A Timestamp overflows only past year 9999; saturate rather than panic.
        self.base
            .checked_add(
                jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX),
            )
            .unwrap_or(Timestamp::MAX)
    }
}

/// `t` without its sub-second part: Kubernetes `Time` serializes to whole
/// seconds, so comparing an unrounded value with one read back would report a
/// change that never happened (and make the operator rewrite its status).
pub fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_virtual_time() {
        let base: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        let clock = TokioClock::starting_at(base);
        assert_eq!(clock.now(), base);
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        assert_eq!(
            clock.now(),
            "2026-11-23T10:00:04.5Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn whole_seconds_truncates() {
        let t: Timestamp = "2026-11-23T10:00:04.999Z".parse().unwrap();
        assert_eq!(
            whole_seconds(t),
            "2026-11-23T10:00:04Z".parse::<Timestamp>().unwrap()
        );
    }
}
