//! `10.s()`, `500.ms()`, and durations printed the way people say them.

use std::time::Duration;

/// Short duration literals for tests: `10.s()`, `500.ms()`, `1.5.s()`, `2.mins()`.
pub trait DurationExt {
    /// Seconds.
    fn s(self) -> Duration;
    /// Milliseconds.
    fn ms(self) -> Duration;
    /// Minutes (`min` would clash with `Ord::min`).
    fn mins(self) -> Duration;
}

impl DurationExt for u64 {
    fn s(self) -> Duration {
        Duration::from_secs(self)
    }
    fn ms(self) -> Duration {
        Duration::from_millis(self)
    }
    fn mins(self) -> Duration {
        Duration::from_secs(self * 60)
    }
}

impl DurationExt for f64 {
    fn s(self) -> Duration {
        Duration::from_secs_f64(self)
    }
    fn ms(self) -> Duration {
        Duration::from_secs_f64(self / 1000.0)
    }
    fn mins(self) -> Duration {
        Duration::from_secs_f64(self * 60.0)
    }
}

/// `250ms`, `4.5s`, `1m30s`: compact, and exact to the millisecond.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d < Duration::from_millis(1) && !d.is_zero() {
        return format!("{}µs", d.as_micros());
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        let s = format!("{:.3}", d.as_secs_f64());
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s}s");
    }
    let mins = ms / 60_000;
    let rest = Duration::from_millis((ms % 60_000) as u64);
    if rest.is_zero() {
        format!("{mins}m")
    } else {
        format!("{mins}m{}", fmt_duration(rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(10.s(), Duration::from_secs(10));
        assert_eq!(500.ms(), Duration::from_millis(500));
        assert_eq!(1.5.s(), Duration::from_millis(1500));
        assert_eq!(2.mins(), Duration::from_secs(120));
        assert_eq!(0.5.ms(), Duration::from_micros(500));
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_duration(Duration::ZERO), "0ms");
        assert_eq!(fmt_duration(Duration::from_micros(250)), "250µs");
        assert_eq!(fmt_duration(250.ms()), "250ms");
        assert_eq!(fmt_duration(4500.ms()), "4.5s");
        assert_eq!(fmt_duration(10.s()), "10s");
        assert_eq!(fmt_duration(1234.ms()), "1.234s");
        assert_eq!(fmt_duration(90.s()), "1m30s");
        assert_eq!(fmt_duration(120.s()), "2m");
    }
}
