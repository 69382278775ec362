//! The two wait loops. Both: attempt, judge, then sleep until the next poll
//! tick or a trigger, whichever comes first; every sleep is bounded by the
//! wait's own deadline, so nothing here can hang.

use super::config::{self, scaled};
use super::duration::fmt_duration;
use super::failure::{Failure, Outcome, ProbeErrorSeen, WaitKind};
use super::probe::{Probe, ProbeError};
use super::{Common, Consistently, Eventually, Triggers};
use crate::matchers::{BoxMatcher, Matcher, Mismatch, render, to_json};
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// The result of one attempt.
enum Step<T> {
    Pass(T, Value),
    Fail(Value, Vec<Mismatch>),
    Error(String),
    Stop(String),
}

fn expectation(m: &dyn Matcher, negate: bool) -> String {
    if negate {
        format!("not ({})", m.describe())
    } else {
        m.describe()
    }
}

async fn attempt<P: Probe>(
    probe: &mut P,
    m: &dyn Matcher,
    negate: bool,
    timeout: Duration,
) -> Step<P::Output> {
    let value = match tokio::time::timeout(timeout, probe.probe()).await {
        Err(_) => {
            return Step::Error(format!(
                "probe did not answer within {}",
                fmt_duration(timeout)
            ));
        }
        Ok(Err(ProbeError::StopTrying(reason))) => return Step::Stop(reason),
        Ok(Err(ProbeError::Failed(e))) => return Step::Error(e),
        Ok(Ok(v)) => v,
    };
    let json = match to_json(&value) {
        Ok(j) => j,
        Err(m) => return Step::Error(format!("the value does not serialize: {}", m.actual)),
    };
    let mut mismatches = m.mismatches(Some(&json), "");
    if negate {
        mismatches = if mismatches.is_empty() {
            vec![Mismatch::new("", expectation(m, true), render(Some(&json)))]
        } else {
            Vec::new()
        };
    }
    if mismatches.is_empty() {
        Step::Pass(value, json)
    } else {
        Step::Fail(json, mismatches)
    }
}

/// Sleeps until `until`, or less if a trigger arrives. Triggers that piled
/// up meanwhile are drained, so a burst of changes costs one attempt.
async fn pause(until: Instant, triggers: &mut Option<Triggers>) {
    let ended = match triggers.as_mut() {
        None => true,
        Some(t) => {
            tokio::select! {
                item = t.next() => match item {
                    None => true,
                    Some(()) => loop {
                        match t.next().now_or_never() {
                            Some(Some(())) => continue,
                            Some(None) => break true,
                            None => return,
                        }
                    },
                },
                _ = sleep_until(until) => return,
            }
        }
    };
    // No (more) triggers: polling alone.
    if ended {
        *triggers = None;
        sleep_until(until).await;
    }
}

/// Everything a failure report needs that the loop learns as it goes.
struct Log {
    kind: WaitKind,
    start: Instant,
    limit: Duration,
    scale: f64,
    attempts: u32,
    last_value: Option<Value>,
    value_attempt: Option<u32>,
    mismatches: Vec<Mismatch>,
    last_error: Option<ProbeErrorSeen>,
    error_count: u32,
}

impl Log {
    fn new(kind: WaitKind, start: Instant, limit: Duration, scale: f64) -> Self {
        Self {
            kind,
            start,
            limit,
            scale,
            attempts: 0,
            last_value: None,
            value_attempt: None,
            mismatches: Vec::new(),
            last_error: None,
            error_count: 0,
        }
    }

    fn value(&mut self, v: Value, mismatches: Vec<Mismatch>) {
        self.last_value = Some(v);
        self.value_attempt = Some(self.attempts);
        self.mismatches = mismatches;
    }

    fn error(&mut self, at: Instant, message: String) {
        self.error_count += 1;
        self.last_error = Some(ProbeErrorSeen {
            attempt: self.attempts,
            at: at - self.start,
            message,
        });
    }

    fn failure(
        self,
        common: &Common,
        subject: String,
        expectation: String,
        outcome: Outcome,
    ) -> Failure {
        Failure {
            kind: self.kind,
            outcome,
            subject,
            expectation,
            waited: Instant::now() - self.start,
            limit: self.limit,
            scale: self.scale,
            every: common.every,
            attempts: self.attempts,
            planned_attempts: None,
            mismatches: self.mismatches,
            value_attempt: self.value_attempt,
            last_value: self.last_value,
            last_error: self.last_error,
            error_count: self.error_count,
            streak: None,
            sections: Vec::new(),
        }
    }
}

/// The scale for this wait, or the failure explaining why there is none.
fn scale_or_failure<T>(
    kind: WaitKind,
    common: &Common,
    m: &dyn Matcher,
    negate: bool,
) -> Result<f64, Box<Failure>> {
    let scale = match common.scale {
        Some(s) => config::parse_timeout_scale(Some(&s.to_string())),
        None => config::timeout_scale(),
    };
    scale.map_err(|e| {
        Box::new(Log::new(kind, Instant::now(), Duration::ZERO, 1.0).failure(
            common,
            common.subject::<T>(),
            expectation(m, negate),
            Outcome::Misconfigured {
                problem: e.to_string(),
            },
        ))
    })
}

pub(super) async fn eventually<P: Probe>(
    w: Eventually<P>,
    m: &dyn Matcher,
    negate: bool,
) -> Result<P::Output, Failure> {
    let Eventually {
        mut probe,
        mut common,
        within,
        must_pass,
        stop_when,
    } = w;
    if common.subject.is_none() {
        common.subject = probe.subject();
    }
    let outcome =
        eventually_loop(&mut probe, common, within, must_pass, stop_when, m, negate).await;
    match outcome {
        Ok(v) => Ok(v),
        Err(f) => Err(probe.annotate(f).await),
    }
}

async fn eventually_loop<P: Probe>(
    probe: &mut P,
    mut common: Common,
    within: Duration,
    must_pass: u32,
    stop_when: Option<BoxMatcher>,
    m: &dyn Matcher,
    negate: bool,
) -> Result<P::Output, Failure> {
    let kind = WaitKind::Eventually;
    let scale = scale_or_failure::<P::Output>(kind, &common, m, negate).map_err(|f| *f)?;
    let limit = scaled(within, scale);
    let attempt_timeout = scaled(common.attempt_timeout, scale);
    m.reset();
    let start = Instant::now();
    let deadline = start
        .checked_add(limit)
        .unwrap_or(start + Duration::from_secs(86_400 * 365));
    let mut log = Log::new(kind, start, limit, scale);
    let (mut streak, mut best) = (0u32, 0u32);
    loop {
        let t0 = Instant::now();
        log.attempts += 1;
        match attempt(probe, m, negate, attempt_timeout).await {
            Step::Pass(v, json) => {
                streak += 1;
                best = best.max(streak);
                if streak >= must_pass {
                    return Ok(v);
                }
                log.value(json, Vec::new());
            }
            Step::Fail(json, ms) => {
                streak = 0;
                let terminal = stop_when
                    .as_ref()
                    .filter(|t| t.mismatches(Some(&json), "").is_empty())
                    .map(|t| t.describe());
                log.value(json, ms);
                if let Some(t) = terminal {
                    let reason = format!("reached terminal state {t}");
                    return Err(log.failure(
                        &common,
                        common.subject::<P::Output>(),
                        expectation(m, negate),
                        Outcome::StoppedTrying { reason },
                    ));
                }
            }
            Step::Error(e) => {
                streak = 0;
                log.error(t0, e);
            }
            Step::Stop(reason) => {
                let mut f = log.failure(
                    &common,
                    common.subject::<P::Output>(),
                    expectation(m, negate),
                    Outcome::StoppedTrying { reason },
                );
                f.streak = (must_pass > 1).then_some((best, must_pass));
                return Err(f);
            }
        }
        if Instant::now() >= deadline {
            let mut f = log.failure(
                &common,
                common.subject::<P::Output>(),
                expectation(m, negate),
                Outcome::TimedOut,
            );
            f.streak = (must_pass > 1).then_some((best, must_pass));
            return Err(f);
        }
        let next = (t0 + common.every).min(deadline);
        pause(next, &mut common.triggers).await;
    }
}

pub(super) async fn consistently<P: Probe>(
    w: Consistently<P>,
    m: &dyn Matcher,
    negate: bool,
) -> Result<P::Output, Failure> {
    let Consistently {
        mut probe,
        mut common,
        duration,
    } = w;
    if common.subject.is_none() {
        common.subject = probe.subject();
    }
    match consistently_loop(&mut probe, common, duration, m, negate).await {
        Ok(v) => Ok(v),
        Err(f) => Err(probe.annotate(f).await),
    }
}

async fn consistently_loop<P: Probe>(
    probe: &mut P,
    mut common: Common,
    duration: Duration,
    m: &dyn Matcher,
    negate: bool,
) -> Result<P::Output, Failure> {
    let kind = WaitKind::Consistently;
    let scale = scale_or_failure::<P::Output>(kind, &common, m, negate).map_err(|f| *f)?;
    let limit = scaled(duration, scale);
    let attempt_timeout = scaled(common.attempt_timeout, scale);
    let planned = (common.triggers.is_none()).then(|| {
        let n = limit.as_nanos() / common.every.as_nanos().max(1);
        u32::try_from(n + 1).unwrap_or(u32::MAX)
    });
    m.reset();
    let start = Instant::now();
    let end = start
        .checked_add(limit)
        .unwrap_or(start + Duration::from_secs(86_400 * 365));
    let mut log = Log::new(kind, start, limit, scale);
    loop {
        let t0 = Instant::now();
        log.attempts += 1;
        let broke = |log: Log, common: &Common| {
            let attempt = log.attempts;
            let mut f = log.failure(
                common,
                common.subject::<P::Output>(),
                expectation(m, negate),
                Outcome::Broke {
                    attempt,
                    at: t0 - start,
                },
            );
            f.planned_attempts = planned;
            f
        };
        let value = match attempt(probe, m, negate, attempt_timeout).await {
            Step::Pass(v, json) => {
                log.value(json, Vec::new());
                v
            }
            Step::Fail(json, ms) => {
                log.value(json, ms);
                return Err(broke(log, &common));
            }
            Step::Error(e) => {
                log.error(t0, e);
                return Err(broke(log, &common));
            }
            Step::Stop(reason) => {
                let mut f = log.failure(
                    &common,
                    common.subject::<P::Output>(),
                    expectation(m, negate),
                    Outcome::StoppedTrying { reason },
                );
                f.planned_attempts = planned;
                return Err(f);
            }
        };
        if Instant::now() >= end {
            return Ok(value);
        }
        let next = (t0 + common.every).min(end);
        pause(next, &mut common.triggers).await;
    }
}
