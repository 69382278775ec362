//! Test-only mutation switches.
//!
//! A suite is only worth something if it fails when the operator is wrong.
//! Each switch breaks one promise of the status contract the way real
//! operators have broken it, so the suites can show that they fail, and fail
//! with a message that names the broken promise. Production code leaves them
//! all off (the `Default`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Deliberate breakages. All off by default.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Write a fresh `status.rollout.startedAt` on every reconcile, which
    /// hides a wedged rollout from any age-based alert.
    pub restamp_started_at: bool,
    /// Never publish the `RolloutStarted` event.
    pub skip_rollout_started_event: bool,
    /// While `spec.paused` is set, copy `spec.image` into the child anyway
    /// (the pause then only hides the rollout instead of holding it).
    pub propagate_image_while_paused: bool,
    /// "Workers started, nothing reconciled" after a restart (seed 002): the
    /// first `run` works; every later `run` sharing this config logs that its
    /// controller and workers started, builds its watch streams, then waits
    /// on a start gate that only the first run's one-time initialisation
    /// opens, so it never reconciles anything.
    pub silent_after_restart: bool,
    /// Shared across clones of the config, as process-global "init once"
    /// state is in the buggy operators this mimics.
    pub(crate) initialised: Arc<AtomicBool>,
}

impl Faults {
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
