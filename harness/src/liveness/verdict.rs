//! Deciding, from what the probe saw, whether a controller reconciled, and
//! if not, naming how it failed. Pure; the probe feeds it samples.

use crate::timeline::offset;
use serde_json::Value;
use std::fmt::Write as _;
use std::time::Duration;

/// One read of the probed object.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Tokio time since the probe started.
    pub at: Duration,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `status.observedGeneration`.
    pub observed_generation: Option<i64>,
    /// The whole `status` (`Null` when absent).
    pub status: Value,
}

/// An Event from the controller about the probed object.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenEvent {
    /// Its reason.
    pub reason: String,
    /// When the probe saw it (tokio time since the probe started).
    pub at: Duration,
}

/// What proved the controller reconciles.
#[derive(Debug, Clone, PartialEq)]
pub enum Proof {
    /// `status.observedGeneration` reached the generation the probe waited for.
    ObservedGeneration {
        /// The generation reached.
        generation: i64,
        /// When.
        at: Duration,
    },
    /// The controller published an Event about the object.
    Event {
        /// Its reason.
        reason: String,
        /// When.
        at: Duration,
    },
    /// The object's status changed (nobody else writes it).
    StatusWrite {
        /// When.
        at: Duration,
    },
}

impl std::fmt::Display for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proof::ObservedGeneration { generation, at } => {
                write!(
                    f,
                    "status.observedGeneration reached {generation} at {}",
                    offset(*at)
                )
            }
            Proof::Event { reason, at } => write!(f, "Event {reason} at {}", offset(*at)),
            Proof::StatusWrite { at } => write!(f, "status written at {}", offset(*at)),
        }
    }
}

/// How a controller failed to show it reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnosis {
    /// No status write, no Event, observedGeneration stuck: the controller
    /// (if it runs at all) processes nothing, as in "workers started, nothing
    /// reconciled".
    NeverReconciled,
    /// The status changes, but observedGeneration never reaches the
    /// generation: the controller reconciles without recording what it saw.
    GenerationNotObserved,
    /// The controller publishes Events but never writes status for the new
    /// generation: it is active, yet its status writes fail or are skipped.
    EventsWithoutStatus,
    /// The controller task is no longer running.
    ControllerExited,
    /// The object does not exist (or was deleted while probing).
    ObjectMissing,
}

impl Diagnosis {
    /// The headline of the failure message.
    pub fn headline(self) -> &'static str {
        match self {
            Diagnosis::NeverReconciled => "controller started but never reconciled",
            Diagnosis::GenerationNotObserved => {
                "controller writes status but never observes the new generation"
            }
            Diagnosis::EventsWithoutStatus => {
                "controller emits events but never writes status for the new generation"
            }
            Diagnosis::ControllerExited => "controller exited",
            Diagnosis::ObjectMissing => "object missing",
        }
    }
}

/// Everything the probe saw, folded as it goes.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The first read.
    pub baseline: Sample,
    /// The latest read (`None` once the object disappeared).
    pub last: Option<Sample>,
    /// The generation a reconcile must observe.
    pub target_generation: i64,
    /// When the status first differed from the baseline.
    pub status_changed_at: Option<Duration>,
    /// Events from the controller about the object since the probe started.
    pub events: Vec<SeenEvent>,
    /// The controller's last Event about the object before the probe started.
    pub last_event_before: Option<String>,
    /// `false` once the controller task was seen not running.
    pub controller_running: bool,
}

impl Evidence {
    /// Starts from the first read; `target_generation` is what a reconcile
    /// must observe (the generation after the probe's own spec change, or the
    /// object's current one).
    pub fn new(baseline: Sample, target_generation: i64) -> Self {
        Self {
            last: Some(baseline.clone()),
            baseline,
            target_generation,
            status_changed_at: None,
            events: Vec::new(),
            last_event_before: None,
            controller_running: true,
        }
    }

    /// Folds in a read (`None`: the object is gone).
    pub fn observe(&mut self, sample: Option<Sample>) {
        if let Some(s) = &sample
            && self.status_changed_at.is_none()
            && s.status != self.baseline.status
        {
            self.status_changed_at = Some(s.at);
        }
        self.last = sample;
    }

    /// Whether observedGeneration was already at the target when probing
    /// began (then it cannot prove a new reconcile on its own).
    fn already_observed(&self) -> bool {
        self.baseline
            .observed_generation
            .is_some_and(|o| o >= self.target_generation)
    }

    /// The proof of a reconcile, if there is one yet.
    pub fn proof(&self) -> Option<Proof> {
        let last = self.last.as_ref()?;
        if !self.already_observed() {
            if let Some(o) = last
                .observed_generation
                .filter(|o| *o >= self.target_generation)
            {
                return Some(Proof::ObservedGeneration {
                    generation: o,
                    at: last.at,
                });
            }
            // Behind on generation: an Event or a status write alone does
            // not show the new spec was seen.
            return None;
        }
        if let Some(ev) = self.events.first() {
            return Some(Proof::Event {
                reason: ev.reason.clone(),
                at: ev.at,
            });
        }
        self.status_changed_at.map(|at| Proof::StatusWrite { at })
    }

    /// Names the failure, for when the deadline passed without a proof.
    pub fn diagnosis(&self) -> Diagnosis {
        if !self.controller_running {
            Diagnosis::ControllerExited
        } else if self.last.is_none() {
            Diagnosis::ObjectMissing
        } else if self.status_changed_at.is_some() {
            Diagnosis::GenerationNotObserved
        } else if !self.events.is_empty() {
            Diagnosis::EventsWithoutStatus
        } else {
            Diagnosis::NeverReconciled
        }
    }

    /// The full failure message: headline, then every fact that backs it.
    pub fn explain(
        &self,
        object: &str,
        namespace: &str,
        component: &str,
        since: &str,
        waited: Duration,
    ) -> String {
        let diagnosis = self.diagnosis();
        let mut out = format!("{}: {object} in ns {namespace}", diagnosis.headline());
        let secs = offset(waited);
        let secs = secs.trim_start_matches('+');
        let show = |g: Option<i64>| g.map_or_else(|| "absent".to_string(), |g| g.to_string());
        match &self.last {
            Some(last) if self.already_observed() => {
                let _ = write!(
                    out,
                    "\n  - status.observedGeneration already matched generation {} when probing began, \
                     so only an Event or a status write could prove a reconcile; none came within {secs}",
                    show(last.generation),
                );
            }
            Some(last) => {
                let _ = write!(
                    out,
                    "\n  - status.observedGeneration stuck at {} while generation is {} for {secs}",
                    show(last.observed_generation),
                    show(last.generation),
                );
            }
            None => {
                let _ = write!(out, "\n  - the object was not found (waited {secs})");
            }
        }
        match self.status_changed_at {
            Some(at) => {
                let _ = write!(
                    out,
                    "\n  - status changed at {} without observing the generation",
                    offset(at)
                );
            }
            None => {
                let _ = write!(out, "\n  - no status write since {since}");
            }
        }
        if self.events.is_empty() {
            let _ = write!(out, "\n  - no events from {component} since {since}");
            if let Some(reason) = &self.last_event_before {
                let _ = write!(out, " (last one before: {reason})");
            }
        } else {
            let seen: Vec<String> = self
                .events
                .iter()
                .map(|e| format!("{} at {}", e.reason, offset(e.at)))
                .collect();
            let _ = write!(
                out,
                "\n  - events from {component} since {since}: {}",
                seen.join(", ")
            );
        }
        if !self.controller_running {
            let _ = write!(out, "\n  - the controller task is no longer running");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(secs: u64, generation: i64, observed: i64, status: Value) -> Sample {
        Sample {
            at: Duration::from_secs(secs),
            generation: Some(generation),
            observed_generation: Some(observed),
            status,
        }
    }

    fn behind() -> Evidence {
        Evidence::new(sample(0, 4, 3, json!({"observedGeneration": 3})), 4)
    }

    #[test]
    fn observed_generation_catching_up_is_proof() {
        let mut ev = behind();
        assert_eq!(ev.proof(), None);
        ev.observe(Some(sample(2, 4, 4, json!({"observedGeneration": 4}))));
        assert_eq!(
            ev.proof(),
            Some(Proof::ObservedGeneration {
                generation: 4,
                at: Duration::from_secs(2)
            })
        );
    }

    #[test]
    fn events_alone_do_not_prove_a_lagging_generation_was_seen() {
        let mut ev = behind();
        ev.events.push(SeenEvent {
            reason: "RolloutStarted".into(),
            at: Duration::from_secs(1),
        });
        assert_eq!(ev.proof(), None);
        assert_eq!(ev.diagnosis(), Diagnosis::EventsWithoutStatus);
    }

    #[test]
    fn in_sync_objects_need_an_event_or_a_status_write() {
        let mut ev = Evidence::new(sample(0, 4, 4, json!({"phase": "Ready"})), 4);
        assert_eq!(ev.proof(), None);
        ev.observe(Some(sample(3, 4, 4, json!({"phase": "Upgrading"}))));
        assert_eq!(
            ev.proof(),
            Some(Proof::StatusWrite {
                at: Duration::from_secs(3)
            })
        );
        ev.events.push(SeenEvent {
            reason: "Reconciled".into(),
            at: Duration::from_secs(1),
        });
        assert_eq!(
            ev.proof().unwrap().to_string(),
            "Event Reconciled at +1.000s",
            "the earliest proof is reported"
        );
    }

    #[test]
    fn silent_controller_is_named_as_such() {
        let mut ev = behind();
        ev.last_event_before = Some("RolloutComplete".into());
        ev.observe(Some(sample(30, 4, 3, json!({"observedGeneration": 3}))));
        assert_eq!(ev.diagnosis(), Diagnosis::NeverReconciled);
        assert_eq!(
            ev.explain(
                "NodeDeployment/seid",
                "restart-1",
                "rollout-operator",
                "restart",
                Duration::from_secs(30)
            ),
            "controller started but never reconciled: NodeDeployment/seid in ns restart-1\n  \
             - status.observedGeneration stuck at 3 while generation is 4 for 30.000s\n  \
             - no status write since restart\n  \
             - no events from rollout-operator since restart (last one before: RolloutComplete)"
        );
    }

    #[test]
    fn status_writes_without_generation_are_named() {
        let mut ev = behind();
        ev.observe(Some(sample(
            5,
            4,
            3,
            json!({"observedGeneration": 3, "phase": "Upgrading"}),
        )));
        assert_eq!(ev.diagnosis(), Diagnosis::GenerationNotObserved);
        let msg = ev.explain(
            "X/y",
            "ns",
            "c",
            "the probe started",
            Duration::from_secs(10),
        );
        assert!(
            msg.contains("status changed at +5.000s without observing the generation"),
            "{msg}"
        );
    }

    #[test]
    fn exited_controller_and_missing_object() {
        let mut ev = behind();
        ev.controller_running = false;
        assert_eq!(ev.diagnosis(), Diagnosis::ControllerExited);
        assert!(
            ev.explain("X/y", "ns", "c", "s", Duration::ZERO)
                .contains("no longer running")
        );

        let mut ev = behind();
        ev.observe(None);
        assert_eq!(ev.diagnosis(), Diagnosis::ObjectMissing);
        assert_eq!(ev.proof(), None);
        assert!(
            ev.explain("X/y", "ns", "c", "s", Duration::from_secs(1))
                .contains("the object was not found")
        );
    }

    #[test]
    fn in_sync_without_activity_says_there_was_nothing_to_prove_with() {
        let ev = Evidence::new(sample(0, 4, 4, json!({})), 4);
        let msg = ev.explain("X/y", "ns", "c", "s", Duration::from_secs(1));
        assert!(
            msg.contains("already matched generation 4 when probing began, so only an Event or a status write could prove a reconcile; none came within 1.000s"),
            "{msg}"
        );
    }
}
