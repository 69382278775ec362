//! Defaults sized for Kubernetes tests, and `HARNESS_TIMEOUT_SCALE`.
//!
//! Gomega's defaults (1 s timeout, 10 ms polling) suit in-process Go code;
//! against an API server, one change often needs several reconciles with
//! requeues, and a loaded CI runner stretches each of them. These defaults
//! leave room for that without making a failing test slow to report.

use std::time::Duration;

/// How long `eventually` waits by default: a reconcile chain of a few hops
/// with requeues on a busy CI runner. Raise it per wait for recoveries that
/// must drain a backlog first (`.within(60.s())`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `consistently` holds by default: several reconcile periods, so
/// a controller that re-stamps a field has the chance to do it.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(5);

/// How often both re-run the probe by default. A trigger stream (a watch)
/// re-runs it sooner; polling is the safety net.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long one probe call may take before it counts as a failed attempt,
/// so a hung API call cannot hang the wait.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Environment variable that multiplies every timeout and duration (not the
/// poll interval): `HARNESS_TIMEOUT_SCALE=3` on a slow CI runner.
pub const TIMEOUT_SCALE_VAR: &str = "HARNESS_TIMEOUT_SCALE";

/// Largest accepted scale; beyond it a typo (`30` for `3.0`) is likelier than intent.
pub const MAX_TIMEOUT_SCALE: f64 = 100.0;

/// Why `HARNESS_TIMEOUT_SCALE` was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeoutScaleError {
    /// The value is not a decimal number.
    #[error("{TIMEOUT_SCALE_VAR}={value:?} is not a number (expected e.g. 1.5)")]
    NotANumber {
        /// The raw value.
        value: String,
    },
    /// The number is zero, negative, not finite, or above [`MAX_TIMEOUT_SCALE`].
    #[error(
        "{TIMEOUT_SCALE_VAR}={value} is out of range (expected a number > 0 and ≤ {MAX_TIMEOUT_SCALE})"
    )]
    OutOfRange {
        /// The parsed value.
        value: f64,
    },
}

/// Parses a scale as found in the environment: unset or empty means `1.0`.
pub fn parse_timeout_scale(raw: Option<&str>) -> Result<f64, TimeoutScaleError> {
    let raw = match raw.map(str::trim) {
        None | Some("") => return Ok(1.0),
        Some(r) => r,
    };
    let value: f64 = raw.parse().map_err(|_| TimeoutScaleError::NotANumber {
        value: raw.to_string(),
    })?;
    if !value.is_finite() || value <= 0.0 || value > MAX_TIMEOUT_SCALE {
        return Err(TimeoutScaleError::OutOfRange { value });
    }
    Ok(value)
}

/// The scale from the environment, read at the start of every wait (cheap,
/// and a test may set it for one run).
pub fn timeout_scale() -> Result<f64, TimeoutScaleError> {
    match std::env::var_os(TIMEOUT_SCALE_VAR) {
        None => Ok(1.0),
        Some(v) => match v.to_str() {
            Some(s) => parse_timeout_scale(Some(s)),
            None => Err(TimeoutScaleError::NotANumber {
                value: v.to_string_lossy().into_owned(),
            }),
        },
    }
}

/// `d × scale`.
pub fn scaled(d: Duration, scale: f64) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * scale).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scale_values() {
        assert_eq!(parse_timeout_scale(None), Ok(1.0));
        assert_eq!(parse_timeout_scale(Some("")), Ok(1.0));
        assert_eq!(parse_timeout_scale(Some(" 2.5 ")), Ok(2.5));
        assert_eq!(parse_timeout_scale(Some("0.5")), Ok(0.5));
    }

    #[test]
    fn rejects_bad_scales_with_a_clear_message() {
        let e = parse_timeout_scale(Some("fast")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "HARNESS_TIMEOUT_SCALE=\"fast\" is not a number (expected e.g. 1.5)"
        );
        for bad in ["0", "-1", "inf", "NaN", "1000"] {
            assert!(
                matches!(
                    parse_timeout_scale(Some(bad)),
                    Err(TimeoutScaleError::OutOfRange { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            parse_timeout_scale(Some("0")).unwrap_err().to_string(),
            "HARNESS_TIMEOUT_SCALE=0 is out of range (expected a number > 0 and ≤ 100)"
        );
    }

    #[test]
    fn scales_durations() {
        assert_eq!(
            scaled(Duration::from_secs(10), 2.0),
            Duration::from_secs(20)
        );
        assert_eq!(
            scaled(Duration::from_millis(500), 0.5),
            Duration::from_millis(250)
        );
    }
}
