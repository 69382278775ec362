//! Why a wait failed, rendered so a CI log alone explains the flake.

use super::config::TIMEOUT_SCALE_VAR;
use super::duration::fmt_duration;
use crate::matchers::{Mismatch, render_pretty};
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Which kind of wait failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitKind {
    /// Waited for the matcher to pass.
    Eventually,
    /// Required the matcher to keep passing.
    Consistently,
}

impl fmt::Display for WaitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitKind::Eventually => "eventually",
            WaitKind::Consistently => "consistently",
        })
    }
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// `eventually` ran out of time before the matcher passed (often enough).
    TimedOut,
    /// `consistently` saw an attempt fail (a mismatch or a probe error).
    Broke {
        /// Which attempt failed, counting from 1.
        attempt: u32,
        /// When that attempt started, from the start of the wait.
        at: Duration,
    },
    /// The probe reported a terminal state; waiting longer could not help.
    StoppedTrying {
        /// The probe's reason.
        reason: String,
    },
    /// The wait could not start (e.g. a bad `HARNESS_TIMEOUT_SCALE`).
    Misconfigured {
        /// What is wrong.
        problem: String,
    },
}

/// A probe error kept for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeErrorSeen {
    /// Attempt that produced it, counting from 1.
    pub attempt: u32,
    /// When that attempt started, from the start of the wait.
    pub at: Duration,
    /// The error text.
    pub message: String,
}

/// A failed `eventually` / `consistently`. `Display` (and `Debug`, so
/// `.unwrap()` reads well) prints the full report.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Failure {
    /// Eventually or consistently.
    pub kind: WaitKind,
    /// How it ended.
    pub outcome: Outcome,
    /// What was waited on (`nodedeployment/seid in ns x`).
    pub subject: String,
    /// The matcher's description (negated for `should_not`).
    pub expectation: String,
    /// Time from the start of the wait to the failure.
    pub waited: Duration,
    /// The timeout (eventually) or duration (consistently), after scaling.
    pub limit: Duration,
    /// The `HARNESS_TIMEOUT_SCALE` in effect.
    pub scale: f64,
    /// The poll interval.
    pub every: Duration,
    /// Attempts made.
    pub attempts: u32,
    /// Attempts a consistently planned from its polls (none with a trigger stream).
    pub planned_attempts: Option<u32>,
    /// Failing fields of the last attempt that produced a value.
    pub mismatches: Vec<Mismatch>,
    /// Which attempt `mismatches` and `last_value` come from.
    pub value_attempt: Option<u32>,
    /// The last value the probe produced, as matched.
    pub last_value: Option<Value>,
    /// The last probe error, if any attempt failed with one.
    pub last_error: Option<ProbeErrorSeen>,
    /// How many attempts failed with a probe error.
    pub error_count: u32,
    /// For `must_pass_repeatedly(n)` with n > 1: (longest run of passes, n).
    pub streak: Option<(u32, u32)>,
    /// Extra context the probe's owner attached (a `TestEnv`'s timeline,
    /// the operator's last log lines), in the order it was added.
    pub sections: Vec<Section>,
}

/// A titled block of context at the end of a failure report.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Section {
    /// The heading (`timeline (ns x)`, `operator logs (last 20 lines)`).
    pub title: String,
    /// The block, one entry per line, printed indented under the title.
    pub body: String,
}

impl Section {
    /// A titled block.
    pub fn new(title: impl Into<String>, body: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            body: body.into(),
        }
    }
}

impl Failure {
    /// Appends a titled block to the report, e.g. the namespace's event timeline.
    pub fn with_section(mut self, title: impl Into<String>, body: impl Into<String>) -> Self {
        self.sections.push(Section::new(title, body));
        self
    }

    /// The section with this title, if one was attached.
    pub fn section(&self, title_starts_with: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.title.starts_with(title_starts_with))
    }

    fn limit_text(&self) -> String {
        if (self.scale - 1.0).abs() < f64::EPSILON {
            fmt_duration(self.limit)
        } else {
            let base = Duration::from_secs_f64(self.limit.as_secs_f64() / self.scale);
            format!(
                "{} ({} × {TIMEOUT_SCALE_VAR}={})",
                fmt_duration(self.limit),
                fmt_duration(base),
                self.scale
            )
        }
    }

    fn header(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, subject) = (self.kind, &self.subject);
        let attempts = match self.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        };
        match &self.outcome {
            Outcome::TimedOut => write!(
                f,
                "{kind} timed out after {} ({attempts}, within {}) waiting on {subject}",
                fmt_duration(self.waited),
                self.limit_text()
            ),
            Outcome::Broke { attempt, at } => {
                let of = match self.planned_attempts {
                    Some(p) if p >= *attempt => format!(" of {p}"),
                    _ => String::new(),
                };
                write!(
                    f,
                    "{kind} failed after {} of {} (attempt {attempt}{of}) waiting on {subject}",
                    fmt_duration(*at),
                    self.limit_text()
                )
            }
            Outcome::StoppedTrying { .. } => write!(
                f,
                "{kind} stopped trying after {} ({attempts}) waiting on {subject}",
                fmt_duration(self.waited)
            ),
            Outcome::Misconfigured { .. } => {
                write!(f, "{kind} could not start waiting on {subject}")
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.header(f)?;
        writeln!(f, ":")?;
        match &self.outcome {
            Outcome::StoppedTrying { reason } => writeln!(f, "  stopped because: {reason}")?,
            Outcome::Misconfigured { problem } => writeln!(f, "  {problem}")?,
            _ => {}
        }
        // The deciding attempt: its failing fields, or the error it hit.
        let last_attempt_erred = self
            .last_error
            .as_ref()
            .is_some_and(|e| Some(e.attempt) > self.value_attempt);
        if last_attempt_erred {
            let e = self.last_error.as_ref().expect("checked above");
            writeln!(
                f,
                "  probe error at attempt {} (+{}): {}",
                e.attempt,
                fmt_duration(e.at),
                e.message
            )?;
        }
        match self.value_attempt {
            Some(a) if last_attempt_erred && !self.mismatches.is_empty() => {
                writeln!(f, "  failing fields at attempt {a}, the last with a value:")?;
                for m in &self.mismatches {
                    writeln!(f, "    {m}")?;
                }
            }
            _ => {
                for m in &self.mismatches {
                    writeln!(f, "  {m}")?;
                }
            }
        }
        if !matches!(self.outcome, Outcome::Misconfigured { .. }) {
            writeln!(f, "expected: {}", self.expectation)?;
        }
        if let Some((best, needed)) = self.streak {
            writeln!(
                f,
                "must pass {needed} times in a row: longest run was {best}"
            )?;
        }
        if self.error_count > 0 && !last_attempt_erred {
            if let Some(e) = &self.last_error {
                writeln!(
                    f,
                    "probe errors: {} (last at attempt {}, +{}): {}",
                    self.error_count,
                    e.attempt,
                    fmt_duration(e.at),
                    e.message
                )?;
            }
        } else if self.error_count > 1 {
            writeln!(f, "probe errors: {} in all", self.error_count)?;
        }
        if let Some(v) = &self.last_value {
            match self.value_attempt {
                Some(a) => writeln!(f, "last value (attempt {a}):")?,
                None => writeln!(f, "last value:")?,
            }
            for line in render_pretty(v).lines() {
                writeln!(f, "  {line}")?;
            }
        } else if !matches!(self.outcome, Outcome::Misconfigured { .. }) {
            writeln!(f, "no attempt produced a value")?;
        }
        for Section { title, body } in &self.sections {
            writeln!(f, "{title}:")?;
            for line in body.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Failure {
    /// Same as `Display`: `result.unwrap()` then prints the readable report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Failure {}
