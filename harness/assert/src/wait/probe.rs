//! What a wait evaluates: anything that can be asked for a value, again and again.

use super::Failure;
use serde::Serialize;
use std::any::Any;
use std::fmt::Display;
use std::future::Future;

/// A source of values to match, asked once per attempt.
///
/// Implemented for `FnMut() -> impl Future<Output = Result<T, E>>` closures
/// (`E: Display`), and by other parts of the harness for their own handles
/// (reading an object back from a `TestEnv`).
pub trait Probe: Send {
    /// The value each attempt produces; serialized to JSON for matching.
    type Output: Serialize + Send;

    /// One attempt. `Err` is kept and reported; [`ProbeError::StopTrying`]
    /// ends the wait at once.
    fn probe(&mut self) -> impl Future<Output = Result<Self::Output, ProbeError>> + Send;

    /// What the probe reads (`nodedeployment/seid in ns x`), so a failure
    /// names its subject without `.describe(..)`; `.describe` still wins.
    fn subject(&self) -> Option<String> {
        None
    }

    /// Adds what the probe's owner knows to a failure before it is returned
    /// (a `TestEnv`'s timeline and operator logs), so every failed wait
    /// carries them without the test flattening anything into a string.
    fn annotate(&mut self, failure: Failure) -> impl Future<Output = Failure> + Send {
        std::future::ready(failure)
    }
}

/// Why one attempt produced no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    /// The attempt failed but a later one may succeed (a connection error,
    /// an object not created yet). The wait goes on; the error is reported
    /// if the wait fails.
    #[error("{0}")]
    Failed(String),
    /// The observed state is terminal (e.g. `Phase=Failed`): waiting longer
    /// cannot help, so the wait fails now with this reason (Gomega's `StopTrying`).
    #[error("stop trying: {0}")]
    StopTrying(String),
}

/// Returned (or `?`-converted into `anyhow::Error` / `Box<dyn Error>`) from a
/// probe closure to end the wait at once with `reason` in the failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct StopTrying {
    /// Why waiting longer cannot help, shown in the failure.
    pub reason: String,
}

impl StopTrying {
    /// A terminal state with its reason: `StopTrying::new("phase is Failed")`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl From<StopTrying> for ProbeError {
    fn from(s: StopTrying) -> Self {
        ProbeError::StopTrying(s.reason)
    }
}

impl ProbeError {
    /// Turns any displayable error into a `ProbeError`, recognising a
    /// [`StopTrying`] or `ProbeError` even when it travels inside an
    /// `anyhow::Error` or a `Box<dyn Error>`, so closures can use `?` freely.
    pub fn classify<E: Display + 'static>(e: E) -> Self {
        let any: &dyn Any = &e;
        if let Some(p) = any.downcast_ref::<ProbeError>() {
            return p.clone();
        }
        if let Some(s) = any.downcast_ref::<StopTrying>() {
            return ProbeError::StopTrying(s.reason.clone());
        }
        if let Some(a) = any.downcast_ref::<anyhow::Error>() {
            if let Some(s) = a.downcast_ref::<StopTrying>() {
                return ProbeError::StopTrying(s.reason.clone());
            }
            if let Some(p) = a.downcast_ref::<ProbeError>() {
                return p.clone();
            }
        }
        if let Some(b) = any.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>()
            && let Some(s) = b.downcast_ref::<StopTrying>()
        {
            return ProbeError::StopTrying(s.reason.clone());
        }
        // `{:#}` prints an anyhow chain ("outer: inner"); other types ignore it.
        ProbeError::Failed(format!("{e:#}"))
    }
}

impl<F, Fut, T, E> Probe for F
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Serialize + Send,
    E: Display + Send + 'static,
{
    type Output = T;

    fn probe(&mut self) -> impl Future<Output = Result<T, ProbeError>> + Send {
        let fut = self();
        async move { fut.await.map_err(ProbeError::classify) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_finds_stop_trying_through_wrappers() {
        let stop = ProbeError::StopTrying("phase is Failed".into());
        assert_eq!(
            ProbeError::classify(StopTrying::new("phase is Failed")),
            stop
        );
        assert_eq!(
            ProbeError::classify(anyhow::Error::from(StopTrying::new("phase is Failed"))),
            stop
        );
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            Box::new(StopTrying::new("phase is Failed"));
        assert_eq!(ProbeError::classify(boxed), stop);
        assert_eq!(ProbeError::classify(stop.clone()), stop);
        assert_eq!(
            ProbeError::classify(anyhow::anyhow!("refused").context("get seid")),
            ProbeError::Failed("get seid: refused".into())
        );
        assert_eq!(
            ProbeError::classify("not found"),
            ProbeError::Failed("not found".into())
        );
    }
}
