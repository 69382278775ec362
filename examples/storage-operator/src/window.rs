//! Maintenance windows: a cron schedule (5 fields, or 6 with seconds first
//! as robfig/cron and croner take it: the seed's team had to move from
//! `0 4 31 2 *` to `0 0 4 31 2 *`) and a duration.
//!
//! The grammar the CRD admits is numbers, `*`, ranges, steps and lists, in
//! UTC; the same grammar is spelt here once as a CEL rule, so what the API
//! server admits is exactly what [`Window::parse`] reads.

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::{SignedDuration, Timestamp, tz::TimeZone};

/// A parsed window.
#[derive(Debug, Clone)]
pub struct Window {
    cron: Cron,
    duration: SignedDuration,
}

/// Where `now` is relative to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// Open until this instant.
    Open {
        /// When it closes.
        closes: Timestamp,
    },
    /// Closed; opens next at this instant (`None`: never, e.g. February 31st).
    Closed {
        /// When it opens next.
        opens: Option<Timestamp>,
    },
}

impl Window {
    /// Parses a schedule and a duration (`2h`, `90m`, `1h30m`).
    pub fn parse(schedule: &str, duration: &str) -> Result<Self, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(schedule)
            .map_err(|e| format!("schedule {schedule:?} does not parse: {e}"))?;
        let duration: SignedDuration = duration
            .parse()
            .map_err(|e| format!("duration {duration:?} does not parse: {e}"))?;
        Ok(Self { cron, duration })
    }

    /// Is the window open at `now`? It is when the schedule matched at some
    /// instant in `(now - duration, now]`.
    pub fn position(&self, now: Timestamp) -> Position {
        let zoned = |t: Timestamp| t.to_zoned(TimeZone::UTC);
        let from = now.saturating_sub(self.duration).unwrap_or(now);
        if let Ok(start) = self.cron.find_next_occurrence(&zoned(from), false)
            && start.timestamp() <= now
        {
            let closes = start
                .timestamp()
                .saturating_add(self.duration)
                .unwrap_or(now);
            return Position::Open { closes };
        }
        let opens = self
            .cron
            .find_next_occurrence(&zoned(now), false)
            .ok()
            .map(|z| z.timestamp());
        Position::Closed { opens }
    }
}

/// The CEL rules the CRD carries on `maintenanceWindow` (the
/// `schemars(transform)` of [`crate::crd::MaintenanceWindow`]).
pub fn schema_rules(schema: &mut schemars::Schema) {
    // One element of a field: a number, or `*` or a range with an optional
    // step (`5/10` is robfig's, not cron's: croner refuses it). `[*]`, not `\\*`: a CEL string literal has no `\\*` escape.
    let field = |n: &str| {
        let element = format!("([*]|{n}-{n})(/[1-9][0-9]*)?|{n}");
        format!("({element})(,({element}))*")
    };
    let sixty = field("[0-5]?[0-9]");
    let hour = field("(1?[0-9]|2[0-3])");
    let dom = field("([1-9]|[12][0-9]|3[01])");
    let month = field("([1-9]|1[0-2])");
    let dow = field("[0-7]");
    let cron = format!("^({sixty} )?{sixty} {hour} {dom} {month} {dow}$");
    schema.insert(
        "x-kubernetes-validations".into(),
        serde_json::json!([
            {
                "rule": format!("self.schedule.matches('{cron}')"),
                "message": "must be a cron schedule of 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), numbers only",
                "fieldPath": ".schedule",
            },
            {
                "rule": "self.duration.matches('^([1-9][0-9]*h)?([1-9][0-9]*m)?([1-9][0-9]*s)?$') && self.duration != ''",
                "message": "must be a duration such as 2h, 90m or 1h30m",
                "fieldPath": ".duration",
            },
        ]),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_daily_window_opens_and_closes() {
        let w = Window::parse("0 4 * * *", "2h").unwrap();
        assert_eq!(
            w.position(at("2026-11-30T03:00:00Z")),
            Position::Closed {
                opens: Some(at("2026-11-30T04:00:00Z"))
            }
        );
        assert_eq!(
            w.position(at("2026-11-30T04:00:00Z")),
            Position::Open {
                closes: at("2026-11-30T06:00:00Z")
            }
        );
        assert_eq!(
            w.position(at("2026-11-30T05:59:59Z")),
            Position::Open {
                closes: at("2026-11-30T06:00:00Z")
            }
        );
        assert!(matches!(
            w.position(at("2026-11-30T06:00:00Z")),
            Position::Closed { .. }
        ));
    }

    #[test]
    fn the_seeds_six_field_form_reads_seconds_first() {
        // The seed's fix: February 31st never comes, so the window never opens.
        let w = Window::parse("0 0 4 31 2 *", "1h").unwrap();
        assert_eq!(
            w.position(at("2026-11-30T04:30:00Z")),
            Position::Closed { opens: None }
        );
        let five = Window::parse("0 4 31 2 *", "1h").unwrap();
        assert_eq!(
            five.position(at("2026-11-30T04:30:00Z")),
            Position::Closed { opens: None }
        );
    }

    #[test]
    fn nonsense_is_named() {
        let e = Window::parse("every sunday", "1h").unwrap_err();
        assert!(
            e.starts_with("schedule \"every sunday\" does not parse"),
            "{e}"
        );
        let e = Window::parse("0 4 * * *", "soon").unwrap_err();
        assert!(e.starts_with("duration \"soon\" does not parse"), "{e}");
    }
}
