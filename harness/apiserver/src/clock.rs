//! Where object timestamps come from. Tests run with tokio's paused time, so
//! the server must not read the wall clock behind their back: every
//! creationTimestamp, deletionTimestamp and managedFields time goes through
//! one [`Clock`] the embedding program chooses.

use jiff::Timestamp;

/// A source of "now" for timestamps written into objects.
pub trait Clock: Send + Sync + 'static {
    /// The time to write into an object now.
    fn now(&self) -> Timestamp;
}

/// The wall clock; the default for standalone use.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that starts at a fixed instant and advances with tokio time, so
/// `tokio::time::advance` (or auto-advance under `start_paused`) moves object
/// timestamps too.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: Timestamp,
    base: tokio::time::Instant,
}

impl TokioClock {
    /// Anchors `origin` at the current tokio instant.
    pub fn new(origin: Timestamp) -> Self {
        Self {
            origin,
            base: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = self.base.elapsed();
        let span = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX);
        self.origin.checked_add(span).unwrap_or(Timestamp::MAX)
    }
}

/// Kubernetes `metav1.Time`: RFC 3339 in UTC with whole seconds.
pub fn format_time(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Kubernetes' short human age (`5s`, `3m`, `2d`), as `kubectl get` prints.
pub fn human_age(now: Timestamp, then: Timestamp) -> String {
    let secs = (now.as_second() - then.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s if s < 8 * 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s if s < 8 * 86400 => format!("{}d{}h", s / 86400, (s % 86400) / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_whole_seconds_in_utc() {
        let ts: Timestamp = "2026-01-02T03:04:05.678Z".parse().unwrap();
        assert_eq!(format_time(ts), "2026-01-02T03:04:05Z");
    }

    #[test]
    fn ages_read_like_kubectl() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |s: i64| t0.checked_add(jiff::SignedDuration::from_secs(s)).unwrap();
        assert_eq!(human_age(at(5), t0), "5s");
        assert_eq!(human_age(at(150), t0), "2m30s");
        assert_eq!(human_age(at(3600), t0), "60m");
        assert_eq!(human_age(at(86400 * 3), t0), "3d0h");
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = TokioClock::new(t0);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(format_time(clock.now()), "2026-01-01T00:01:30Z");
    }
}
