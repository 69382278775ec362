//! Assertions over a timeline: "fired exactly once", "never fired", "A
//! before B". Every failure prints the whole timeline, because the question
//! after "how many times" is always "and what else happened".

use super::TimelineError;
use super::entry::{Entry, What};
use super::log::Timeline;
use super::render::offset;

/// What an expectation counts. Parsed from a string:
/// - `RolloutStarted`: Events with that reason (or any entry with that label:
///   `created`, `deleted`, `phase`, a condition type, a field label);
/// - `phase=Upgrading`, `RolloutInProgress=True`, `spec.image=sei:v2`: a
///   change of that label *to* that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    label: String,
    to: Option<String>,
}

impl Selector {
    /// Parses `label` or `label=value`.
    pub fn parse(s: &str) -> Result<Self, TimelineError> {
        let (label, to) = match s.split_once('=') {
            Some((l, v)) => (l.trim(), Some(v.trim().to_string())),
            None => (s.trim(), None),
        };
        if label.is_empty() {
            return Err(TimelineError::Selector(s.to_string()));
        }
        Ok(Self {
            label: label.to_string(),
            to,
        })
    }

    /// Whether `entry` is one of the things this selector counts.
    pub fn matches(&self, entry: &Entry) -> bool {
        if entry.label() != self.label {
            return false;
        }
        match (&self.to, &entry.what) {
            (None, _) => true,
            (Some(want), What::Changed { to, .. }) => to.as_deref() == Some(want.as_str()),
            (Some(_), _) => false,
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.to {
            Some(to) => write!(f, "`{}={to}`", self.label),
            None => write!(f, "`{}`", self.label),
        }
    }
}

/// A count expectation being built: `timeline.expect("X").on("Kind/name").exactly(1)`.
#[derive(Debug, Clone)]
#[must_use = "an expectation checks nothing until exactly/never/at_least/at_most is called"]
pub struct Expect {
    timeline: Timeline,
    /// The parsed selector, or the string that failed to parse.
    selector: Result<Selector, String>,
    object: Option<String>,
}

impl Expect {
    pub(crate) fn new(timeline: Timeline, selector: &str) -> Self {
        Self {
            timeline,
            selector: Selector::parse(selector).map_err(|_| selector.to_string()),
            object: None,
        }
    }

    /// Count only entries about `object` (`Kind/name`).
    pub fn on(mut self, object: &str) -> Self {
        self.object = Some(object.to_string());
        self
    }

    /// The entries this expectation counts.
    fn hits(&self) -> Result<(Selector, Vec<&Entry>), TimelineError> {
        let selector = self.selector.clone().map_err(TimelineError::Selector)?;
        let hits = self
            .timeline
            .entries()
            .iter()
            .filter(|e| selector.matches(e))
            .filter(|e| self.object.as_deref().is_none_or(|o| e.object == o))
            .collect();
        Ok((selector, hits))
    }

    fn check(&self, ok: impl Fn(usize) -> bool, wanted: String) -> Result<(), TimelineError> {
        let (selector, hits) = self.hits()?;
        if ok(hits.len()) {
            return Ok(());
        }
        let on = self
            .object
            .as_deref()
            .map(|o| format!(" on {o}"))
            .unwrap_or_default();
        let seen = if hits.is_empty() {
            String::new()
        } else {
            let at: Vec<String> = hits
                .iter()
                .map(|e| format!("{} {}", offset(e.at), e.object))
                .collect();
            format!(" ({})", at.join(", "))
        };
        Err(TimelineError::Count {
            message: format!(
                "expected {selector}{on} {wanted} in ns {}, saw it {} time{}{seen}",
                self.timeline.namespace(),
                hits.len(),
                if hits.len() == 1 { "" } else { "s" },
            ),
            timeline: self.timeline.render(),
        })
    }

    /// Exactly `n` occurrences.
    pub fn exactly(&self, n: usize) -> Result<(), TimelineError> {
        let times = if n == 1 {
            "once".to_string()
        } else {
            format!("exactly {n} times")
        };
        self.check(|c| c == n, times)
    }

    /// No occurrence at all.
    pub fn never(&self) -> Result<(), TimelineError> {
        self.check(|c| c == 0, "never".to_string())
    }

    /// `n` or more occurrences.
    pub fn at_least(&self, n: usize) -> Result<(), TimelineError> {
        self.check(
            |c| c >= n,
            format!("at least {n} time{}", if n == 1 { "" } else { "s" }),
        )
    }

    /// `n` or fewer occurrences.
    pub fn at_most(&self, n: usize) -> Result<(), TimelineError> {
        self.check(
            |c| c <= n,
            format!("at most {n} time{}", if n == 1 { "" } else { "s" }),
        )
    }
}

impl Timeline {
    /// Starts a count expectation on entries matching `selector` (see [`Selector`]).
    pub fn expect(&self, selector: &str) -> Expect {
        Expect::new(self.clone(), selector)
    }

    /// How many entries match `selector` (0 for an invalid selector).
    pub fn count(&self, selector: &str) -> usize {
        Selector::parse(selector)
            .map(|s| self.entries().iter().filter(|e| s.matches(e)).count())
            .unwrap_or(0)
    }

    /// The first entry matching `selector`.
    pub fn first(&self, selector: &str) -> Option<&Entry> {
        let s = Selector::parse(selector).ok()?;
        self.entries().iter().find(|e| s.matches(e))
    }

    /// Checks that the first `a` comes before the first `b`; both must have happened.
    pub fn before(&self, a: &str, b: &str) -> Result<(), TimelineError> {
        let (sa, sb) = (Selector::parse(a)?, Selector::parse(b)?);
        let pos = |s: &Selector| self.entries().iter().position(|e| s.matches(e));
        let fail = |message: String| TimelineError::Order {
            message,
            timeline: self.render(),
        };
        let ns = self.namespace();
        match (pos(&sa), pos(&sb)) {
            (Some(i), Some(j)) if i < j => Ok(()),
            (Some(i), Some(j)) => Err(fail(format!(
                "expected {sa} before {sb} in ns {ns}, but {sb} came first ({}) and {sa} at {}",
                offset(self.entries()[j].at),
                offset(self.entries()[i].at)
            ))),
            (None, Some(_)) => Err(fail(format!(
                "expected {sa} before {sb} in ns {ns}, but {sa} never happened"
            ))),
            (Some(_), None) => Err(fail(format!(
                "expected {sa} before {sb} in ns {ns}, but {sb} never happened"
            ))),
            (None, None) => Err(fail(format!(
                "expected {sa} before {sb} in ns {ns}, but neither happened"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn event(tl: &mut Timeline, secs: u64, object: &str, reason: &str) {
        tl.push(
            Duration::from_secs(secs),
            object,
            What::Event {
                reason: reason.into(),
                message: String::new(),
                type_: "Normal".into(),
                source: "rollout-operator".into(),
            },
        );
    }

    fn sample() -> Timeline {
        let mut tl = Timeline::new("ns1");
        event(&mut tl, 0, "NodeDeployment/seid", "RolloutStarted");
        tl.push(
            Duration::from_secs(1),
            "NodeDeployment/seid",
            What::Changed {
                label: "phase".into(),
                from: Some("Ready".into()),
                to: Some("Upgrading".into()),
                note: None,
            },
        );
        event(&mut tl, 5, "NodeDeployment/seid", "RolloutStarted");
        event(&mut tl, 9, "NodeDeployment/other", "RolloutComplete");
        tl
    }

    #[test]
    fn counts_hold() {
        let tl = sample();
        tl.expect("RolloutStarted").exactly(2).unwrap();
        tl.expect("RolloutStarted").at_least(1).unwrap();
        tl.expect("RolloutStarted").at_most(2).unwrap();
        tl.expect("Nope").never().unwrap();
        tl.expect("phase=Upgrading").exactly(1).unwrap();
        tl.expect("phase=Ready").never().unwrap();
        tl.expect("RolloutComplete")
            .on("NodeDeployment/seid")
            .never()
            .unwrap();
        assert_eq!(tl.count("RolloutStarted"), 2);
        assert_eq!(tl.first("phase").unwrap().at, Duration::from_secs(1));
    }

    #[test]
    fn count_failure_names_the_occurrences_and_prints_the_timeline() {
        let err = sample()
            .expect("RolloutStarted")
            .exactly(1)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "expected `RolloutStarted` once in ns ns1, saw it 2 times \
                 (+0.000s NodeDeployment/seid, +5.000s NodeDeployment/seid)\ntimeline (ns ns1):\n"
            ),
            "{err}"
        );
        assert!(
            err.contains("+9.000s  NodeDeployment/other  RolloutComplete"),
            "{err}"
        );

        let err = sample()
            .expect("RolloutComplete")
            .never()
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("expected `RolloutComplete` never in ns ns1, saw it 1 time (+9.000s NodeDeployment/other)"), "{err}");

        let err = sample()
            .expect("RolloutComplete")
            .on("NodeDeployment/seid")
            .at_least(1)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("expected `RolloutComplete` on NodeDeployment/seid at least 1 time in ns ns1, saw it 0 times\n"), "{err}");
    }

    #[test]
    fn order_checks() {
        let tl = sample();
        tl.before("RolloutStarted", "RolloutComplete").unwrap();
        tl.before("RolloutStarted", "phase=Upgrading").unwrap();
        let err = tl
            .before("RolloutComplete", "RolloutStarted")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("expected `RolloutComplete` before `RolloutStarted` in ns ns1, but `RolloutStarted` came first (+0.000s) and `RolloutComplete` at +9.000s\ntimeline"), "{err}");
        let err = tl
            .before("Missing", "RolloutStarted")
            .unwrap_err()
            .to_string();
        assert!(err.contains("but `Missing` never happened"), "{err}");
        let err = tl
            .before("RolloutStarted", "Missing")
            .unwrap_err()
            .to_string();
        assert!(err.contains("but `Missing` never happened"), "{err}");
        let err = tl.before("X", "Y").unwrap_err().to_string();
        assert!(err.contains("neither happened"), "{err}");
    }

    #[test]
    fn selectors_parse_and_reject_empty() {
        assert_eq!(
            Selector::parse(" RolloutInProgress = True ").unwrap(),
            Selector {
                label: "RolloutInProgress".into(),
                to: Some("True".into())
            }
        );
        assert!(matches!(
            Selector::parse(""),
            Err(TimelineError::Selector(_))
        ));
        assert!(matches!(
            Selector::parse("=True"),
            Err(TimelineError::Selector(_))
        ));
        let err = sample().expect("").exactly(1).unwrap_err();
        assert!(matches!(err, TimelineError::Selector(_)));
        assert!(sample().before("", "X").is_err());
    }

    #[test]
    fn value_selector_never_matches_events() {
        let tl = sample();
        tl.expect("RolloutStarted=x").never().unwrap();
    }
}
