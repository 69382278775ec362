//! The writer's log (`start` / `tick` / `marker` lines) and the gaps in it.

use super::record::parse_uptime_ms;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One timestamp line: `tick <seq> <uptime> <epoch> <pid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    /// 1-based line number in the log.
    pub line: usize,
    /// The writer's counter (restarts at 1 when a writer starts).
    pub seq: u64,
    /// `/proc/uptime` when written, in milliseconds.
    pub uptime_ms: u64,
    /// Wall clock when written, seconds since the Unix epoch.
    pub epoch: i64,
    /// The writer that wrote it.
    pub pid: u32,
}

/// A marker line: `marker <token> <seq> <uptime> <epoch> <pid>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerLine {
    /// 1-based line number in the log.
    pub line: usize,
    /// The requested token.
    pub token: String,
    /// The writer that wrote it.
    pub pid: u32,
}

/// The parsed log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteLog {
    /// Every tick, in file order.
    pub ticks: Vec<Tick>,
    /// Every marker, in file order.
    pub markers: Vec<MarkerLine>,
    /// PIDs from `start` lines, in order: more than one means the writer was
    /// started more than once on this file.
    pub starts: Vec<u32>,
    /// Lines that are neither (line number, text). A torn last line (read
    /// while being appended) is not counted.
    pub unreadable: Vec<(usize, String)>,
}

/// The time between two consecutive writes, or between the last write and
/// the moment of the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// How long no timestamp was written.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// The tick before the gap.
    pub after: Tick,
    /// The tick after the gap; `None` when the gap runs up to the probe
    /// (the writer stopped writing, or writes no longer reach the path).
    pub before: Option<Tick>,
}

impl WriteLog {
    /// Parses the log text. Never fails: what cannot be read is listed in
    /// [`WriteLog::unreadable`] so the analysis can say so.
    pub fn parse(text: &str) -> Self {
        let mut log = WriteLog::default();
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let line_no = i + 1;
            let torn = !complete && i + 1 == lines.len();
            let f: Vec<&str> = line.split_whitespace().collect();
            let ok = match f.as_slice() {
                ["tick", seq, up, epoch, pid] => (|| {
                    log.ticks.push(Tick {
                        line: line_no,
                        seq: seq.parse().ok()?,
                        uptime_ms: parse_uptime_ms(up)?,
                        epoch: epoch.parse().ok()?,
                        pid: pid.parse().ok()?,
                    });
                    Some(())
                })(),
                ["marker", token, _seq, _up, _epoch, pid] => pid.parse().ok().map(|pid| {
                    log.markers.push(MarkerLine {
                        line: line_no,
                        token: token.to_string(),
                        pid,
                    })
                }),
                ["start", pid, _up, _epoch] => pid.parse().ok().map(|pid| log.starts.push(pid)),
                [] => Some(()),
                _ => None,
            };
            if ok.is_none() && !torn {
                log.unreadable.push((line_no, line.to_string()));
            }
        }
        log
    }

    /// The longest time without a tick, from the first tick up to `until_ms`
    /// (the probe's uptime, if known): a writer that stopped for good leaves
    /// its gap at the end, between the last tick and the probe.
    pub fn max_gap(&self, until_ms: Option<u64>) -> Option<Gap> {
        let mut best: Option<Gap> = None;
        let mut consider = |g: Gap| {
            if best.is_none_or(|b| g.duration > b.duration) {
                best = Some(g);
            }
        };
        for w in self.ticks.windows(2) {
            consider(Gap {
                duration: Duration::from_millis(w[1].uptime_ms.saturating_sub(w[0].uptime_ms)),
                after: w[0],
                before: Some(w[1]),
            });
        }
        if let (Some(last), Some(until)) = (self.ticks.last(), until_ms) {
            consider(Gap {
                duration: Duration::from_millis(until.saturating_sub(last.uptime_ms)),
                after: *last,
                before: None,
            });
        }
        best
    }

    /// The first place where the clock goes backwards between two ticks:
    /// the node rebooted (uptime restarted) or lines from another host mixed in.
    pub fn clock_went_back(&self) -> Option<(Tick, Tick)> {
        self.ticks
            .windows(2)
            .find(|w| w[1].uptime_ms < w[0].uptime_ms)
            .map(|w| (w[0], w[1]))
    }
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "start 10746 877.96 1795434496
tick 1 877.97 1795434496 10746
tick 2 878.07 1795434496 10746
tick 3 878.18 1795434496 10746
marker tok2 3 878.18 1795434497 10746
tick 4 880.30 1795434498 10746
tick 5 880.41 1795434498 10746
";

    #[test]
    fn parses_ticks_markers_and_starts() {
        let log = WriteLog::parse(LOG);
        assert_eq!(log.ticks.len(), 5);
        assert_eq!(log.starts, vec![10746]);
        assert_eq!(
            log.markers,
            vec![MarkerLine {
                line: 5,
                token: "tok2".into(),
                pid: 10746
            }]
        );
        assert_eq!(
            log.ticks[3],
            Tick {
                line: 6,
                seq: 4,
                uptime_ms: 880_300,
                epoch: 1_795_434_498,
                pid: 10746
            }
        );
        assert!(log.unreadable.is_empty());
    }

    #[test]
    fn finds_the_longest_gap_and_where() {
        let log = WriteLog::parse(LOG);
        let gap = log.max_gap(Some(880_500)).unwrap();
        assert_eq!(gap.duration, Duration::from_millis(2_120));
        assert_eq!(gap.after.seq, 3);
        assert_eq!(gap.before.unwrap().seq, 4);
    }

    #[test]
    fn a_writer_that_stopped_leaves_its_gap_at_the_end() {
        let log = WriteLog::parse(LOG);
        let gap = log.max_gap(Some(890_410)).unwrap();
        assert_eq!(gap.duration, Duration::from_secs(10));
        assert_eq!(gap.after.seq, 5);
        assert_eq!(gap.before, None);
        // Without the probe's clock only the gaps between ticks count.
        assert_eq!(
            log.max_gap(None).unwrap().duration,
            Duration::from_millis(2_120)
        );
    }

    #[test]
    fn torn_last_line_is_not_unreadable_but_garbage_is() {
        let log = WriteLog::parse("tick 1 1.00 5 9\ntick 2 1.1");
        assert_eq!(log.ticks.len(), 1);
        assert!(log.unreadable.is_empty());
        let log = WriteLog::parse("tick 1 1.00 5 9\ngarbage here\ntick 2 1.10 5 9\n");
        assert_eq!(log.unreadable, vec![(2, "garbage here".to_string())]);
        assert_eq!(log.ticks.len(), 2);
    }

    #[test]
    fn empty_log_has_no_gap_and_backwards_clock_is_found() {
        assert_eq!(WriteLog::parse("").max_gap(Some(5)), None);
        let log = WriteLog::parse("tick 1 100.00 5 9\ntick 2 3.00 6 9\n");
        let (a, b) = log.clock_went_back().unwrap();
        assert_eq!((a.line, b.line), (1, 2));
        assert!(WriteLog::parse(LOG).clock_went_back().is_none());
    }
}
