//! Setting status conditions the way Kubernetes API conventions ask:
//! `lastTransitionTime` moves only when `status` flips, so "how long has this
//! been True" stays answerable, and rewriting the same condition is a no-op.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Upserts condition `type_` in `conditions`.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    now: Timestamp,
) {
    let status = if status { "True" } else { "False" }.to_string();
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.status = status;
                c.last_transition_time = Time(now);
            }
            c.reason = reason.to_string();
            c.message = message;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status,
            reason: reason.to_string(),
            message,
            last_transition_time: Time(now),
            observed_generation: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut cs = Vec::new();
        set(
            &mut cs,
            "NodesReady",
            false,
            "NodesNotReady",
            "0/3",
            t("2026-01-01T00:00:00Z"),
        );
        set(
            &mut cs,
            "NodesReady",
            false,
            "NodesNotReady",
            "2/3",
            t("2026-01-01T00:00:05Z"),
        );
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].message, "2/3");
        assert_eq!(cs[0].last_transition_time, Time(t("2026-01-01T00:00:00Z")));

        set(
            &mut cs,
            "NodesReady",
            true,
            "AllNodesReady",
            "3/3",
            t("2026-01-01T00:00:09Z"),
        );
        assert_eq!(cs[0].status, "True");
        assert_eq!(cs[0].reason, "AllNodesReady");
        assert_eq!(cs[0].last_transition_time, Time(t("2026-01-01T00:00:09Z")));
    }

    #[test]
    fn conditions_keep_their_order() {
        let mut cs = Vec::new();
        let now = t("2026-01-01T00:00:00Z");
        set(&mut cs, "A", true, "R", "", now);
        set(&mut cs, "B", true, "R", "", now);
        set(&mut cs, "A", false, "R", "", now);
        let types: Vec<&str> = cs.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["A", "B"]);
    }
}
