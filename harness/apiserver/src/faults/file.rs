//! Fault rules written as YAML, so the standalone server (and a test in any
//! language driving it) gets the same faults a Rust test adds with
//! [`Fault`]. Field names follow Kubernetes' style (`camelCase`, durations
//! in `…Seconds`); an unknown field, effect or verb, and a parameter the
//! effect does not take (`code` on a conflict), is an error naming the rule.

use std::time::Duration;

use serde::Deserialize;

use super::Fault;
use crate::error::Error;

/// The effects, as a file names them.
const EFFECTS: &str = "conflict, throttle, internalError, unavailable, timeout, status, \
                       latency, watchClose, watchGone, watchStall, expiredContinue";

/// A whole file: an optional seed and the rules, in order.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct FaultFile {
    pub(super) seed: Option<u64>,
    #[serde(default)]
    pub(super) rules: Vec<RuleSpec>,
}

/// One rule: the effect and its parameters, then what it matches and how
/// often.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RuleSpec {
    effect: String,
    message: Option<String>,
    code: Option<u16>,
    reason: Option<String>,
    retry_after_seconds: Option<u32>,
    delay_seconds: Option<f64>,
    after_seconds: Option<f64>,
    #[serde(default)]
    verbs: Vec<String>,
    group: Option<String>,
    resource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    field_manager: Option<String>,
    user_agent: Option<String>,
    times: Option<u32>,
    probability: Option<f64>,
    from_seconds: Option<f64>,
    until_seconds: Option<f64>,
}

/// The verbs a rule can name, as kube-apiserver's request info spells them.
const VERBS: [&str; 8] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn seconds(field: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{field}: {value} is not a duration in seconds"))
}

/// The parameters each effect takes; `None` for an unknown effect.
fn parameters(effect: &str) -> Option<&'static [&'static str]> {
    Some(match effect {
        "conflict" | "expiredContinue" => &[],
        "throttle" => &["retryAfterSeconds"],
        "internalError" | "unavailable" | "timeout" => &["message"],
        "status" => &["code", "reason", "message"],
        "latency" => &["delaySeconds"],
        "watchClose" | "watchGone" | "watchStall" => &["afterSeconds"],
        _ => return None,
    })
}

impl RuleSpec {
    /// A parameter given that the effect does not take: a mistake the
    /// writer should hear of, not a rule that silently does less.
    fn unused_parameter(&self) -> Option<String> {
        let takes = parameters(&self.effect)?;
        let given = [
            ("message", self.message.is_some()),
            ("code", self.code.is_some()),
            ("reason", self.reason.is_some()),
            ("retryAfterSeconds", self.retry_after_seconds.is_some()),
            ("delaySeconds", self.delay_seconds.is_some()),
            ("afterSeconds", self.after_seconds.is_some()),
        ];
        let (field, _) = given
            .iter()
            .find(|(field, set)| *set && !takes.contains(field))?;
        let takes = if takes.is_empty() {
            "none".to_string()
        } else {
            takes.join(", ")
        };
        Some(format!(
            "{field} does not apply to effect {} (its parameters: {takes})",
            self.effect
        ))
    }

    fn message_or(&self, default: &str) -> String {
        self.message.clone().unwrap_or_else(|| default.to_string())
    }

    /// The rule as a [`Fault`], or why it cannot be one.
    fn to_fault(&self) -> Result<Fault, String> {
        if let Some(problem) = self.unused_parameter() {
            return Err(problem);
        }
        let mut fault = match self.effect.as_str() {
            "conflict" => Fault::conflict(),
            "throttle" => Fault::throttle(self.retry_after_seconds.unwrap_or(1)),
            "internalError" => Fault::internal_error(self.message_or("injected fault")),
            "unavailable" => Fault::unavailable(self.message_or("the server is unavailable")),
            "timeout" => Fault::timeout(self.message_or("request did not complete in time")),
            "status" => {
                let code = self.code.ok_or("effect status needs a code")?;
                if !(400..=599).contains(&code) {
                    return Err(format!("code {code} is not an error status (400 to 599)"));
                }
                Fault::status(
                    code,
                    self.reason.clone().unwrap_or_default(),
                    self.message_or("injected fault"),
                )
            }
            "latency" => {
                let delay = self
                    .delay_seconds
                    .ok_or("effect latency needs delaySeconds")?;
                Fault::latency(seconds("delaySeconds", delay)?)
            }
            "watchClose" => Fault::watch_close(),
            "watchGone" => Fault::watch_gone(),
            "watchStall" => Fault::watch_stall(),
            "expiredContinue" => Fault::expired_continue(),
            other => return Err(format!("unknown effect {other:?} (one of: {EFFECTS})")),
        };
        if let Some(after) = self.after_seconds {
            fault = fault.after(seconds("afterSeconds", after)?);
        }
        for verb in &self.verbs {
            if !VERBS.contains(&verb.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "unknown verb {verb:?} (one of: {})",
                    VERBS.join(", ")
                ));
            }
            fault = fault.verb(verb);
        }
        type Narrow = fn(Fault, &str) -> Fault;
        let narrow: [(&Option<String>, Narrow); 6] = [
            (&self.group, Fault::group),
            (&self.resource, Fault::resource),
            (&self.namespace, Fault::namespace),
            (&self.name, Fault::name),
            (&self.field_manager, Fault::field_manager),
            (&self.user_agent, Fault::user_agent),
        ];
        for (value, set) in narrow {
            if let Some(v) = value {
                fault = set(fault, v);
            }
        }
        if let Some(n) = self.times {
            fault = fault.times(n);
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("probability {p} is not between 0 and 1"));
            }
            fault = fault.probability(p);
        }
        match (self.from_seconds, self.until_seconds) {
            (None, None) => {}
            (from, until) => {
                let from = seconds("fromSeconds", from.unwrap_or(0.0))?;
                let until = match until {
                    Some(u) => seconds("untilSeconds", u)?,
                    None => Duration::MAX,
                };
                if until <= from {
                    return Err("untilSeconds must be after fromSeconds".into());
                }
                fault = fault.during(from, until);
            }
        }
        Ok(fault)
    }
}

/// Parses a fault file: its seed and its rules, each checked.
pub(super) fn parse(source_name: &str, text: &str) -> Result<(Option<u64>, Vec<Fault>), Error> {
    let err = |message: String| Error::FaultFile {
        source_name: source_name.to_string(),
        message,
    };
    let file: FaultFile = serde_yaml::from_str(text).map_err(|e| err(e.to_string()))?;
    let rules = file
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            rule.to_fault()
                .map_err(|m| err(format!("rule {}: {m}", i + 1)))
        })
        .collect::<Result<_, _>>()?;
    Ok((file.seed, rules))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_as_the_builder_would_write_it() {
        let (seed, rules) = parse(
            "f.yaml",
            "seed: 7
rules:
- effect: conflict
  verbs: [patch]
  resource: nodedeployments/status
  fieldManager: op
  times: 3
- effect: latency
  delaySeconds: 1.5
  fromSeconds: 10
  untilSeconds: 20
- effect: watchGone
  afterSeconds: 4
  resource: pods
",
        )
        .unwrap();
        assert_eq!(seed, Some(7));
        assert_eq!(
            rules,
            [
                Fault::conflict()
                    .verb("patch")
                    .resource("nodedeployments/status")
                    .field_manager("op")
                    .times(3),
                Fault::latency(Duration::from_millis(1500))
                    .during(Duration::from_secs(10), Duration::from_secs(20)),
                Fault::watch_gone()
                    .after(Duration::from_secs(4))
                    .resource("pods"),
            ]
        );
    }

    #[test]
    fn mistakes_name_the_rule_and_the_problem() {
        let message = |text: &str| parse("f.yaml", text).unwrap_err().to_string();
        assert_eq!(
            message("rules:\n- effect: confict\n"),
            format!("fault rules f.yaml: rule 1: unknown effect \"confict\" (one of: {EFFECTS})")
        );
        assert_eq!(
            message("rules:\n- effect: conflict\n- effect: latency\n"),
            "fault rules f.yaml: rule 2: effect latency needs delaySeconds"
        );
        assert_eq!(
            message("rules:\n- effect: status\n  code: 200\n"),
            "fault rules f.yaml: rule 1: code 200 is not an error status (400 to 599)"
        );
        assert_eq!(
            message("rules:\n- effect: conflict\n  probability: 2\n"),
            "fault rules f.yaml: rule 1: probability 2 is not between 0 and 1"
        );
        assert_eq!(
            message("rules:\n- effect: conflict\n  verbs: [pach]\n"),
            "fault rules f.yaml: rule 1: unknown verb \"pach\" (one of: get, list, watch, \
             create, update, patch, delete, deletecollection)"
        );
        assert_eq!(
            message("rules:\n- effect: conflict\n  code: 500\n"),
            "fault rules f.yaml: rule 1: code does not apply to effect conflict (its parameters: none)"
        );
        assert_eq!(
            message("rules:\n- effect: throttle\n  afterSeconds: 2\n"),
            "fault rules f.yaml: rule 1: afterSeconds does not apply to effect throttle \
             (its parameters: retryAfterSeconds)"
        );
        assert!(
            message("rules:\n- effect: conflict\n  verb: patch\n").contains("unknown field `verb`"),
            "a misspelt field is refused, not ignored"
        );
    }
}
