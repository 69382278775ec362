//! Events and transitions of a namespace, in order: the "key timestamps" a
//! human reads after a failed disruption test, and the facts "fired exactly
//! once", "never fired", "A before B" are checked against.
//!
//! Every [`TestEnv`](crate::env::TestEnv) records one from its start
//! (`env.timeline()`); a test adds the objects it wants followed:
//!
//! ```no_run
//! use k8s_openapi::api::apps::v1::StatefulSet;
//! use kube_harness::prelude::*;
//!
//! # async fn demo(env: &TestEnv) -> anyhow::Result<()> {
//! let rec = env.timeline();
//! rec.track::<StatefulSet>(
//!     Track::named("seid").field_as("spec.image", "spec.template.spec.containers[0].image"),
//! )
//! .await?;
//! // … drive the test …
//! rec.sync().await?;
//! rec.expect("RolloutStarted").exactly(1)?;
//! rec.expect("RolloutComplete").never()?;
//! rec.before("RolloutStarted", "spec.image=sei:v2")?;
//! println!("{}", rec.render());
//! # Ok(()) }
//! ```
//!
//! Timestamps are tokio time since the recorder started, so under paused
//! time they are virtual and reproducible. [`Timeline`] (the data, the
//! assertions, the rendering) is pure; [`Recorder`] only feeds it from watches.

mod diff;
mod entry;
mod expect;
mod log;
mod record;
mod render;
#[cfg(test)]
mod server_tests;

pub use diff::{Change, Track, diff};
pub use entry::{Entry, What};
pub use expect::{Expect, Selector};
pub use log::Timeline;
pub use record::Recorder;

pub(crate) use entry::EventFacts;
pub(crate) use record::list_events;
pub use render::offset;

use std::time::Duration;

/// Why a timeline assertion or recording failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimelineError {
    /// A count expectation (`exactly`, `never`, `at_least`, `at_most`) did
    /// not hold; carries the rendered timeline.
    #[error("{message}\n{timeline}")]
    Count {
        /// What was expected and what was seen, with the occurrences.
        message: String,
        /// [`Timeline::render`] at the time of the check.
        timeline: String,
    },
    /// An order expectation (`before`) did not hold; carries the rendered timeline.
    #[error("{message}\n{timeline}")]
    Order {
        /// Which came first, or which never happened.
        message: String,
        /// [`Timeline::render`] at the time of the check.
        timeline: String,
    },
    /// A selector was empty (`""`, `"=True"`).
    #[error(
        "invalid timeline selector {0:?}: expected `Reason` or `label=value` (e.g. `phase=Upgrading`)"
    )]
    Selector(String),
    /// A list or watch call the recorder needs was refused.
    #[error("timeline cannot watch {what} in namespace {namespace}: {source}")]
    Watch {
        /// Which resource.
        what: String,
        /// Which namespace.
        namespace: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// A watch did not deliver its initial list in time.
    #[error(
        "timeline watch of {what} in namespace {namespace} delivered no initial list within {waited:?}; is the API server serving it?"
    )]
    InitTimeout {
        /// Which resource.
        what: String,
        /// Which namespace.
        namespace: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A watch task ended before its initial list (the runtime is shutting down).
    #[error("timeline watch of {what} in namespace {namespace} ended before its initial list")]
    WatchEnded {
        /// Which resource.
        what: String,
        /// Which namespace.
        namespace: String,
    },
}
