//! Proof that a controller reconciles, not just that it started.
//!
//! A restarted controller can log "Starting workers" and then process
//! nothing (seed 002); a test that waits for some end state then fails with
//! a bare timeout that says nothing about why. The probe instead changes the
//! spec (or watches the object as it is) and requires evidence of a
//! reconcile within a deadline: `status.observedGeneration` catching up to
//! `metadata.generation`, or, when it already has, an Event from the
//! controller or a status write. When none comes, the error names the
//! failure and lists the facts behind it:
//!
//! ```text
//! controller started but never reconciled: NodeDeployment/seid in ns restart-1
//!   - status.observedGeneration stuck at 3 while generation is 4 for 30.000s
//!   - no status write since restart
//!   - no events from rollout-operator since restart (last one before: RolloutComplete)
//! ```
//!
//! ```no_run
//! # use kube_harness::prelude::*;
//! # use kube_harness::liveness::LivenessProbe;
//! # use k8s_openapi::api::apps::v1::Deployment as NodeDeployment;
//! # async fn demo(env: &TestEnv) -> anyhow::Result<()> {
//! let proof = LivenessProbe::<NodeDeployment>::in_env(env, "seid")
//!     .component("rollout-operator")
//!     .since("restart")
//!     .within(30.s())
//!     .after_patch(&json!({"spec": {"image": "sei:v3"}}))
//!     .await?;
//! println!("{proof}");
//! # Ok(()) }
//! ```
//!
//! The deciding ([`Evidence`]) is pure and unit-tested; [`LivenessProbe`] only reads.

mod probe;
#[cfg(test)]
mod server_tests;
mod verdict;

pub use probe::LivenessProbe;
pub use verdict::{Diagnosis, Evidence, Proof, Sample, SeenEvent};

fn not_reconciled(message: &str, sections: &[crate::wait::Section]) -> String {
    let mut out = message.trim_end().to_string();
    for s in sections {
        out.push_str(&format!("\n{}:", s.title));
        for line in s.body.lines() {
            out.push_str(&format!("\n  {line}"));
        }
    }
    out
}

/// Why a liveness probe failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LivenessError {
    /// No proof of a reconcile within the deadline; `message` names the
    /// failure ([`Diagnosis::headline`]) and the facts behind it.
    #[error("{}", not_reconciled(message, sections))]
    #[non_exhaustive]
    NotReconciled {
        /// The named failure.
        diagnosis: Diagnosis,
        /// Headline plus facts, ready to print.
        message: String,
        /// The env's context when built with `LivenessProbe::in_env`:
        /// timeline, operator logs, injected faults.
        sections: Vec<crate::wait::Section>,
    },
    /// The probed object did not exist when probing began.
    #[error("cannot probe {object} in ns {namespace}: it does not exist")]
    NotFound {
        /// `Kind/name`.
        object: String,
        /// Namespace.
        namespace: String,
    },
    /// Reading or patching the object failed.
    #[error("liveness probe could not {action}: {source}")]
    Api {
        /// What the probe was doing, with the object.
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// Listing Events failed.
    #[error("liveness probe could not list events: {0}")]
    Events(#[source] Box<crate::timeline::TimelineError>),
    /// The object could not be turned into JSON.
    #[error("liveness probe cannot read {object} as JSON: {message}")]
    Decode {
        /// `Kind/name`.
        object: String,
        /// The serializer's complaint.
        message: String,
    },
}
