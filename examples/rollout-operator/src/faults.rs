//! Test-only mutation switches.
//!
//! A suite is only worth something if it fails when the operator is wrong.
//! Each switch breaks one promise of the status contract the way real
//! operators have broken it, so the suites can show that they fail, and fail
//! with a message that names the broken promise. Production code leaves them
//! all off (the `Default`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Deliberate breakages. All off by default; switch one on with its
/// method: `Faults::default().restamp_started_at()`.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Write a fresh `status.rollout.startedAt` on every reconcile, which
    /// hides a wedged rollout from any age-based alert.
    pub(crate) restamp_started_at: bool,
    /// Never publish the `RolloutStarted` event.
    pub(crate) skip_rollout_started_event: bool,
    /// While `spec.paused` is set, copy `spec.image` into the child anyway
    /// (the pause then only hides the rollout instead of holding it).
    pub(crate) propagate_image_while_paused: bool,
    /// "Workers started, nothing reconciled" after a restart (seed 002): the
    /// first `run` works; every later `run` sharing this config logs that its
    /// controller and workers started, builds its watch streams, then waits
    /// on a start gate that only the first run's one-time initialisation
    /// opens, so it never reconciles anything.
    pub(crate) silent_after_restart: bool,
    /// Shared across clones of the config, as process-global "init once"
    /// state is in the buggy operators this mimics.
    pub(crate) initialised: Arc<AtomicBool>,
}

impl Faults {
    /// Re-stamp `status.rollout.startedAt` on every reconcile.
    pub fn restamp_started_at(mut self) -> Self {
        self.restamp_started_at = true;
        self
    }

    /// Never publish `RolloutStarted`.
    pub fn skip_rollout_started_event(mut self) -> Self {
        self.skip_rollout_started_event = true;
        self
    }

    /// Propagate `spec.image` to the child while paused.
    pub fn propagate_image_while_paused(mut self) -> Self {
        self.propagate_image_while_paused = true;
        self
    }

    /// Go silent (workers started, nothing reconciled) on every restart.
    pub fn silent_after_restart(mut self) -> Self {
        self.silent_after_restart = true;
        self
    }

    /// Whether any switch is on (for logging a loud warning at start).
    pub fn any(&self) -> bool {
        self.restamp_started_at
            || self.skip_rollout_started_event
            || self.propagate_image_while_paused
            || self.silent_after_restart
    }

    /// Whether this start is a restart (some earlier `run` with a clone of
    /// this config already initialised), marking this one as initialised.
    pub(crate) fn is_restart(&self) -> bool {
        self.initialised.swap(true, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_turn_on_one_by_one() {
        assert!(!Faults::default().any());
        let f = Faults::default().restamp_started_at();
        assert!(f.restamp_started_at && !f.skip_rollout_started_event && f.any());
        assert!(
            Faults::default()
                .skip_rollout_started_event()
                .skip_rollout_started_event
        );
        assert!(
            Faults::default()
                .propagate_image_while_paused()
                .propagate_image_while_paused
        );
        assert!(
            Faults::default()
                .silent_after_restart()
                .silent_after_restart
        );
    }

    #[test]
    fn restart_is_detected_across_clones() {
        let faults = Faults::default();
        let clone = faults.clone();
        assert!(!faults.is_restart(), "first start is not a restart");
        assert!(clone.is_restart(), "a later start through a clone is");
        assert!(faults.is_restart());
        assert!(
            !Faults::default().is_restart(),
            "fresh configs are independent"
        );
    }
}
