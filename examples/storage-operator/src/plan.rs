//! The growth policy, as one pure function: from the spec, the last status,
//! each instance's disk usage and the clock to the effective size, the
//! growth to make now (if any), the growth that waits and why, and the
//! Events that say so. Pure, so it is deterministic: the same inputs re-plan
//! to the same answer whatever happened before, which is what "a spec
//! change re-plans deterministically" means.

use crate::crd::{
    ActionKind, BudgetStatus, DatabaseStatus, InstanceDisk, PendingAction, StorageAction,
    StorageSpec, reason,
};
use crate::size::{self, round_up_gi};
use crate::window::Position;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// How many growths the status keeps.
pub const HISTORY: usize = 20;

/// What the policy reads.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The storage policy.
    pub storage: &'a StorageSpec,
    /// The last status written (effective size, pending action, history).
    pub status: &'a DatabaseStatus,
    /// Each instance's volume as its kubelet reports it; empty when usage
    /// could not be read (then nothing is decided).
    pub disks: &'a [InstanceDisk],
    /// Some claim is still expanding to the effective size: no new growth
    /// is planned on top of one in flight.
    pub resizing: bool,
    /// The maintenance window (`None`: no window, planned growth may run now).
    pub window: Option<Position>,
    /// The operator's clock.
    pub now: Timestamp,
    /// Test-only: measure usage against `storage.size` instead of the
    /// volume's real size (see [`crate::Faults`]).
    pub against_initial_size: bool,
}

/// An Event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Warning rather than Normal.
    pub warning: bool,
    /// The reason (see [`crate::crd::reason`]).
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// What the policy decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The size every claim should request.
    pub effective: u64,
    /// A growth to make now (already counted in `history` and `budget`).
    pub grow: Option<StorageAction>,
    /// A growth that waits.
    pub pending: Option<PendingAction>,
    /// The history, with `grow` appended.
    pub history: Vec<StorageAction>,
    /// Today's budget use, after `grow`.
    pub budget: BudgetStatus,
    /// Events for what changed.
    pub notes: Vec<Note>,
}

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

fn left(budget: Option<i32>, used: usize) -> Option<i32> {
    budget.map(|b| (b - used as i32).max(0))
}

/// The size every claim has or is growing to, before this decision: the
/// recorded effective size, never below `size` (a raised `size` raises it
/// without counting as a growth; nothing ever shrinks it).
pub fn effective(spec: &StorageSpec, status: &DatabaseStatus) -> u64 {
    let recorded = status
        .effective_size
        .as_deref()
        .and_then(size::bytes)
        .unwrap_or(0);
    recorded.max(size::bytes(&spec.size).unwrap_or(0))
}

/// Decides.
pub fn plan(i: &Inputs<'_>) -> Plan {
    let spec = i.storage;
    // Admission refuses what is not a quantity; one it admits that this
    // cannot read must not lift the limit: then nothing grows.
    let (initial, limit) = match (size::bytes(&spec.size), size::bytes(&spec.limit)) {
        (Some(s), Some(l)) => (s, l),
        (s, _) => (s.unwrap_or(0), 0),
    };
    let effective = effective(spec, i.status);
    let today = day(i.now);
    let mut history = i.status.history.clone();
    let todays = |kind: Option<ActionKind>, h: &[StorageAction]| {
        h.iter()
            .filter(|a| day(a.at.0) == today && kind.is_none_or(|k| a.kind == k))
            .count()
    };
    let budget = |h: &[StorageAction]| BudgetStatus {
        day: today.clone(),
        actions: todays(None, h) as i32,
        planned_left: left(
            spec.budgets.as_ref().and_then(|b| b.planned),
            todays(Some(ActionKind::Planned), h),
        ),
        emergency_left: left(
            spec.budgets.as_ref().and_then(|b| b.emergency),
            todays(Some(ActionKind::Emergency), h),
        ),
    };
    let mut plan = Plan {
        effective,
        grow: None,
        pending: None,
        history: history.clone(),
        budget: budget(&history),
        notes: Vec::new(),
    };
    if i.disks.is_empty() || i.resizing {
        // Nothing new to decide on: keep what waits as it was.
        plan.pending = i.status.pending_action.clone();
        return plan;
    }

    // The fullest instance decides: all claims share one size.
    let Some((fullest, percent)) = i
        .disks
        .iter()
        .filter_map(|d| {
            let size = if i.against_initial_size {
                initial
            } else {
                d.capacity_bytes
            };
            (size > 0).then(|| (d, d.used_bytes as f64 * 100.0 / size as f64))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return plan;
    };
    let kind = if percent >= f64::from(spec.critical_threshold) {
        ActionKind::Emergency
    } else if percent > f64::from(100 - spec.target_buffer) {
        ActionKind::Planned
    } else {
        return plan;
    };
    let why = match kind {
        ActionKind::Emergency => format!(
            "{} is {percent:.0}% full, at or above the critical threshold of {}%",
            fullest.claim, spec.critical_threshold
        ),
        ActionKind::Planned => format!(
            "{} is {percent:.0}% full, leaving less than the target buffer of {}% free",
            fullest.claim, spec.target_buffer
        ),
    };
    // Enough to leave `targetBuffer` free, and at least one step.
    let keep_free = 100 - u64::try_from(spec.target_buffer).unwrap_or(0);
    let needed = fullest
        .used_bytes
        .saturating_mul(100)
        .div_ceil(keep_free.max(1));
    let stepped = effective.saturating_add(size::step(effective, spec.step.as_deref()));
    let target = round_up_gi(needed.max(stepped)).min(limit);

    let since = |k: ActionKind| {
        i.status
            .pending_action
            .as_ref()
            .filter(|p| p.kind == k)
            .map_or(Time(i.now), |p| p.since.clone())
    };
    let wait = |plan: &mut Plan, why_waiting: String, event: Option<(bool, &'static str)>| {
        let pending = PendingAction {
            kind,
            size: size::quantity(target.max(effective)),
            reason: format!("{why_waiting}; {why}"),
            since: since(kind),
        };
        // Announced when what waits or why it waits changes, not when only
        // the usage figures in the reason move.
        let changed = i.status.pending_action.as_ref().is_none_or(|p| {
            p.kind != pending.kind
                || p.size != pending.size
                || p.reason.split_once("; ").map(|(w, _)| w) != Some(why_waiting.as_str())
        });
        if changed && let Some((warning, reason)) = event {
            plan.notes.push(Note {
                warning,
                reason,
                message: format!(
                    "{kind} growth to {} waits: {}",
                    pending.size, pending.reason
                ),
            });
        }
        plan.pending = Some(pending);
    };

    if target <= effective {
        wait(
            &mut plan,
            format!("at the limit of {}", spec.limit),
            Some((true, reason::LIMIT_REACHED)),
        );
        return plan;
    }
    if kind == ActionKind::Planned
        && let Some(Position::Closed { opens }) = &i.window
    {
        let when = opens.map_or("never opens".to_string(), |t| {
            format!("opens at {}", t.strftime("%Y-%m-%dT%H:%M:%SZ"))
        });
        wait(
            &mut plan,
            format!("outside the maintenance window (next {when})"),
            Some((false, reason::GROWTH_QUEUED)),
        );
        return plan;
    }
    let max = spec.max_actions_per_day;
    let spent = if max.is_some_and(|m| plan.budget.actions >= m) {
        Some(format!(
            "the daily budget of {} growths is spent ({} today)",
            max.unwrap_or(0),
            plan.budget.actions
        ))
    } else {
        let (kind_left, kind_budget) = match kind {
            ActionKind::Planned => (
                plan.budget.planned_left,
                spec.budgets.as_ref().and_then(|b| b.planned),
            ),
            ActionKind::Emergency => (
                plan.budget.emergency_left,
                spec.budgets.as_ref().and_then(|b| b.emergency),
            ),
        };
        (kind_left == Some(0)).then(|| {
            format!(
                "the daily {} budget of {} is spent",
                kind.to_string().to_lowercase(),
                kind_budget.unwrap_or(0)
            )
        })
    };
    if let Some(spent) = spent {
        wait(&mut plan, spent, Some((true, reason::BUDGET_EXHAUSTED)));
        return plan;
    }

    let action = StorageAction {
        at: Time(i.now),
        kind,
        from: size::quantity(effective),
        to: size::quantity(target),
        reason: why,
    };
    plan.notes.push(Note {
        warning: false,
        reason: reason::GROWTH_STARTED,
        message: format!(
            "{kind} growth from {} to {}: {}",
            action.from, action.to, action.reason
        ),
    });
    history.push(action.clone());
    if history.len() > HISTORY {
        history.drain(..history.len() - HISTORY);
    }
    plan.effective = target;
    plan.budget = budget(&history);
    plan.history = history;
    plan.grow = Some(action);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::Budgets;
    use crate::size::GI;

    fn storage() -> StorageSpec {
        StorageSpec::new("5Gi", "20Gi")
    }

    fn disk(used_gi: f64, capacity_gi: u64) -> InstanceDisk {
        InstanceDisk {
            instance: "db-0".into(),
            claim: "data-db-0".into(),
            used_bytes: (used_gi * GI as f64) as u64,
            capacity_bytes: capacity_gi * GI,
        }
    }

    fn now() -> Timestamp {
        "2026-11-30T10:00:00Z".parse().unwrap()
    }

    fn run(
        spec: &StorageSpec,
        status: &DatabaseStatus,
        disks: &[InstanceDisk],
        window: Option<Position>,
    ) -> Plan {
        plan(&Inputs {
            storage: spec,
            status,
            disks,
            resizing: false,
            window,
            now: now(),
            against_initial_size: false,
        })
    }

    #[test]
    fn usage_inside_the_buffer_plans_nothing() {
        let p = run(
            &storage(),
            &DatabaseStatus::default(),
            &[disk(3.0, 5)],
            None,
        );
        assert_eq!((p.effective, &p.grow, &p.pending), (5 * GI, &None, &None));
    }

    #[test]
    fn usage_past_the_buffer_grows_enough_to_restore_it() {
        // 4.5 of 5 Gi used: keeping 20% free needs 5.625 Gi, one step 6 Gi.
        let p = run(
            &storage(),
            &DatabaseStatus::default(),
            &[disk(4.5, 5)],
            None,
        );
        let grow = p.grow.unwrap();
        assert_eq!(
            (grow.kind, grow.from.as_str(), grow.to.as_str()),
            (ActionKind::Planned, "5Gi", "6Gi")
        );
        assert_eq!(p.effective, 6 * GI);
        assert_eq!(p.budget.actions, 1);
        assert_eq!(p.notes[0].reason, reason::GROWTH_STARTED);
        assert_eq!(
            p.notes[0].message,
            "Planned growth from 5Gi to 6Gi: data-db-0 is 90% full, leaving less than the target buffer of 20% free"
        );
    }

    #[test]
    fn a_closed_window_queues_planned_growth_but_not_an_emergency() {
        let closed = Some(Position::Closed {
            opens: Some("2026-12-01T04:00:00Z".parse().unwrap()),
        });
        let p = run(
            &storage(),
            &DatabaseStatus::default(),
            &[disk(4.5, 5)],
            closed.clone(),
        );
        assert_eq!(p.grow, None);
        let pending = p.pending.unwrap();
        assert_eq!(pending.size, "6Gi");
        assert!(
            pending
                .reason
                .starts_with("outside the maintenance window (next opens at 2026-12-01T04:00:00Z)"),
            "{}",
            pending.reason
        );
        let p = run(
            &storage(),
            &DatabaseStatus::default(),
            &[disk(4.9, 5)],
            closed,
        );
        assert_eq!(p.grow.unwrap().kind, ActionKind::Emergency);
    }

    #[test]
    fn the_limit_caps_and_then_holds() {
        let mut spec = storage();
        spec.limit = "7Gi".into();
        // 98% full: restoring the buffer needs 6.1 Gi, rounded up to 7 Gi, the limit.
        let p = run(&spec, &DatabaseStatus::default(), &[disk(4.9, 5)], None);
        assert_eq!(p.grow.unwrap().to, "7Gi");
        let at_limit = DatabaseStatus {
            effective_size: Some("7Gi".into()),
            ..DatabaseStatus::default()
        };
        let p = run(&spec, &at_limit, &[disk(6.9, 7)], None);
        assert_eq!(p.grow, None);
        assert_eq!(p.effective, 7 * GI);
        assert!(p.pending.unwrap().reason.starts_with("at the limit of 7Gi"));
        assert_eq!(p.notes[0].reason, reason::LIMIT_REACHED);
    }

    #[test]
    fn budgets_count_per_day_and_per_kind() {
        let mut spec = storage();
        spec.budgets = Some(Budgets {
            planned: Some(1),
            emergency: Some(0),
        });
        let mut status = DatabaseStatus {
            effective_size: Some("6Gi".into()),
            ..DatabaseStatus::default()
        };
        status.history.push(StorageAction {
            at: Time("2026-11-30T01:00:00Z".parse().unwrap()),
            kind: ActionKind::Planned,
            from: "5Gi".into(),
            to: "6Gi".into(),
            reason: String::new(),
        });
        let p = run(&spec, &status, &[disk(5.5, 6)], None);
        assert_eq!(p.grow, None);
        assert!(
            p.pending
                .unwrap()
                .reason
                .starts_with("the daily planned budget of 1 is spent")
        );
        let p = run(&spec, &status, &[disk(5.9, 6)], None);
        assert!(
            p.pending
                .unwrap()
                .reason
                .starts_with("the daily emergency budget of 0 is spent")
        );
        // Yesterday's growth does not count today.
        status.history[0].at = Time("2026-11-29T23:00:00Z".parse().unwrap());
        assert!(run(&spec, &status, &[disk(5.5, 6)], None).grow.is_some());
    }

    #[test]
    fn a_waiting_growth_keeps_its_since_and_is_announced_once() {
        let closed = Some(Position::Closed { opens: None });
        let first = run(
            &storage(),
            &DatabaseStatus::default(),
            &[disk(4.5, 5)],
            closed.clone(),
        );
        assert_eq!(first.notes.len(), 1);
        let status = DatabaseStatus {
            pending_action: first.pending.clone(),
            ..DatabaseStatus::default()
        };
        let spec = storage();
        let again = plan(&Inputs {
            storage: &spec,
            status: &status,
            disks: &[disk(4.5, 5)],
            resizing: false,
            window: closed,
            now: "2026-11-30T11:00:00Z".parse().unwrap(),
            against_initial_size: false,
        });
        assert_eq!(again.pending, first.pending);
        assert!(again.notes.is_empty());
    }
}
