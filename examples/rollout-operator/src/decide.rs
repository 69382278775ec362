//! The operator's brain, without a server: given what it observed (the
//! NodeDeployment, its StatefulSet, the StatefulSet's pods and the time), what
//! the status should become, what to do to the child, and which Events to
//! emit. The controller only fetches inputs and carries out the decision, so
//! almost every behaviour is unit-tested here.
//!
//! The rollout is a plan of tasks run in order, as far as the cluster allows
//! on each reconcile:
//! `UpdateChildSpec → AwaitChildConvergence → ObserveImage → Complete`.

use crate::child;
use crate::clock::whole_seconds;
use crate::conditions;
use crate::crd::{
    NodeDeployment, NodeDeploymentSpec, NodeDeploymentStatus, Phase, PlanPhase, PlanStatus,
    PlanTask, RolloutStatus, TaskName, TaskState, condition, reason,
};
use crate::faults::Faults;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// What a reconcile observed.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    /// The NodeDeployment, as freshly read from the API.
    pub nd: &'a NodeDeployment,
    /// Its child StatefulSet, if one exists with its name.
    pub child: Option<&'a StatefulSet>,
    /// The child's pods.
    pub pods: &'a [Pod],
    /// The operator clock's current time.
    pub now: Timestamp,
}

/// What to do to the child StatefulSet.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildAction {
    /// Leave it as it is.
    Keep,
    /// Create it.
    Create(Box<StatefulSet>),
    /// Set its pod template image and replica count.
    Update {
        /// Image for the `node` container.
        image: String,
        /// `spec.replicas`.
        replicas: i32,
    },
}

/// Severity of an Event to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Routine.
    Normal,
    /// Needs a human.
    Warning,
}

/// An Event to publish about the NodeDeployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// Normal or Warning.
    pub severity: Severity,
    /// One of [`crate::crd::reason`].
    pub reason: &'static str,
    /// Human-readable detail.
    pub note: String,
}

/// The outcome of one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Applied first; the status is only written once this succeeded.
    pub child: ChildAction,
    /// The status to write (written only if it differs from the current one).
    pub status: NodeDeploymentStatus,
    /// Published after the status write.
    pub events: Vec<Emit>,
    /// Something is in flight (a rollout or the first deployment): look
    /// again soon even without a watch event, so time-based state stays fresh.
    pub busy: bool,
}

/// Decides the next status, child action and events. Pure and deterministic:
/// the same observation gives the same decision, so an unchanged world
/// writes nothing.
pub fn decide(obs: &Observed<'_>, faults: &Faults) -> Decision {
    let spec = &obs.nd.spec;
    let now = whole_seconds(obs.now);
    let mut st = obs.nd.status.clone().unwrap_or_default();

    // 1. Refuse what must not be acted on.
    if let Some((reason, note)) = refusal(obs) {
        return failed(obs, st, reason, note);
    }
    st.observed_generation = obs.nd.metadata.generation;
    st.ready_replicas = obs.child.map(child::ready_replicas).unwrap_or(0);
    let mut events = Vec::new();

    // 2. Start, retarget or keep the rollout.
    events.extend(start_or_retarget_rollout(&mut st, spec, now, faults));
    restamp_started_at(&mut st, now, faults);

    // 3. Run the plan as far as the cluster allows, and pick the child image.
    let plan = run_plan(&mut st, obs, faults);
    adopt_first_image(&mut st, obs);

    // 4. Conditions and phase.
    set_nodes_ready(&mut st, spec.replicas, now);
    if let Some(done) = plan.completed {
        events.push(complete_rollout(&mut st, done, spec.replicas, now));
    } else if let (Some(rollout), Some(plan_status)) = (&st.rollout, &st.plan) {
        let note = format!("rolling out {}", rollout.target_image);
        set_in_flight_conditions(&mut st.conditions, plan_status.phase, note, plan.note, now);
    } else {
        set_idle_conditions(&mut st, now);
    }
    set_paused_condition(&mut st, spec, now);
    st.phase = phase(&st, spec);

    // 5. The child, and whether to look again soon.
    let child = child_action(obs, plan.child_image);
    let busy = busy(&st);
    Decision {
        child,
        status: st,
        events,
        busy,
    }
}

// 1. Refusing to act.

/// Why the operator must not act on this observation, if it must not: an
/// empty image or negative replica count cannot be turned into a StatefulSet
/// without guessing, and a StatefulSet of the same name that some other owner
/// controls is not ours to overwrite. Returns the Event reason and note.
fn refusal(obs: &Observed<'_>) -> Option<(&'static str, String)> {
    let spec = &obs.nd.spec;
    if spec.image.trim().is_empty() {
        return Some((reason::INVALID_SPEC, "spec.image is empty".into()));
    }
    if spec.replicas < 0 {
        let note = format!("spec.replicas is {}, must be >= 0", spec.replicas);
        return Some((reason::INVALID_SPEC, note));
    }
    if let Some(c) = obs.child.filter(|c| !child::owned_by(c, obs.nd)) {
        let note = format!(
            "StatefulSet {} exists and is not controlled by this NodeDeployment; not touching it",
            kube::ResourceExt::name_any(c)
        );
        return Some((reason::CHILD_CONFLICT, note));
    }
    None
}

/// The decision for a refused observation: phase `Failed` and the child left
/// alone. The Warning is emitted only on the way into `Failed`, so a spec
/// that stays broken does not flood the Events with one per reconcile; the
/// rest of the status is kept, so fixing the spec resumes where it was.
fn failed(
    obs: &Observed<'_>,
    mut status: NodeDeploymentStatus,
    reason: &'static str,
    note: String,
) -> Decision {
    let events = if status.phase == Phase::Failed {
        Vec::new()
    } else {
        vec![Emit {
            severity: Severity::Warning,
            reason,
            note,
        }]
    };
    status.phase = Phase::Failed;
    status.observed_generation = obs.nd.metadata.generation;
    Decision {
        child: ChildAction::Keep,
        status,
        events,
        busy: false,
    }
}

// 2. Starting, retargeting or keeping the rollout.

/// A rollout exists to move the nodes from `currentImage` to a new
/// `spec.image`: it starts when the two differ (unless paused), and a new
/// image mid-rollout retargets it instead of starting a second one. Returns
/// the Event announcing either.
fn start_or_retarget_rollout(
    st: &mut NodeDeploymentStatus,
    spec: &NodeDeploymentSpec,
    now: Timestamp,
    faults: &Faults,
) -> Option<Emit> {
    if st.rollout.is_some() {
        retarget_rollout(st, spec)
    } else {
        start_rollout(st, spec, now, faults)
    }
}

/// A new image during a rollout changes its target but keeps `startedAt`:
/// the on-call wants to know how long the nodes have been in flux, not how
/// long since the last edit. The plan restarts, because its finished tasks
/// were about the old target.
fn retarget_rollout(st: &mut NodeDeploymentStatus, spec: &NodeDeploymentSpec) -> Option<Emit> {
    let rollout = st.rollout.as_mut()?;
    if rollout.target_image == spec.image {
        return None;
    }
    let emit = Emit {
        severity: Severity::Normal,
        reason: reason::ROLLOUT_RETARGETED,
        note: format!("target image {} → {}", rollout.target_image, spec.image),
    };
    rollout.target_image = spec.image.clone();
    st.plan = Some(fresh_plan());
    Some(emit)
}

/// An image change on a deployment that already runs an image starts a
/// rollout, stamped with the time it started. A first deployment (no
/// current image) has nothing to roll from and is not a rollout; a paused
/// one holds the change back until it is unpaused.
fn start_rollout(
    st: &mut NodeDeploymentStatus,
    spec: &NodeDeploymentSpec,
    now: Timestamp,
    faults: &Faults,
) -> Option<Emit> {
    let current = st.current_image.clone()?;
    if current == spec.image || spec.paused {
        return None;
    }
    st.rollout = Some(RolloutStatus {
        started_at: Time(now),
        target_image: spec.image.clone(),
    });
    st.plan = Some(fresh_plan());
    (!faults.skip_rollout_started_event).then(|| Emit {
        severity: Severity::Normal,
        reason: reason::ROLLOUT_STARTED,
        note: format!("image {current} → {}", spec.image),
    })
}

/// Every rollout runs the same plan, from its first task.
fn fresh_plan() -> PlanStatus {
    PlanStatus {
        phase: PlanPhase::Active,
        tasks: [
            TaskName::UpdateChildSpec,
            TaskName::AwaitChildConvergence,
            TaskName::ObserveImage,
            TaskName::Complete,
        ]
        .into_iter()
        .map(|name| PlanTask {
            name,
            state: TaskState::Pending,
        })
        .collect(),
    }
}

/// Fault `Faults::restamp_started_at`: the bug of re-stamping `startedAt`
/// on every reconcile, which hides a wedged rollout from age-based alerts;
/// the suites must catch it.
fn restamp_started_at(st: &mut NodeDeploymentStatus, now: Timestamp, faults: &Faults) {
    if faults.restamp_started_at
        && let Some(rollout) = st.rollout.as_mut()
    {
        rollout.started_at = Time(now);
    }
}

// 3. Running the plan and picking the child image.

/// What running the plan decided.
struct PlanRun {
    /// The image the child StatefulSet should run.
    child_image: String,
    /// The task the plan waits on and why (empty when it waits on nothing).
    note: String,
    /// Set when the plan reached its last task in this reconcile.
    completed: Option<Completed>,
}

/// A rollout that just finished.
struct Completed {
    /// The image it rolled out.
    target: String,
    /// When it started.
    started: Timestamp,
}

/// The plan moves only while the rollout is not paused, and the child image
/// follows from where the plan got to: the child is the one thing the
/// operator changes, so whether it may change is decided here, in one place.
fn run_plan(st: &mut NodeDeploymentStatus, obs: &Observed<'_>, faults: &Faults) -> PlanRun {
    let spec = &obs.nd.spec;
    match (st.rollout.clone(), st.plan.as_mut()) {
        (Some(rollout), Some(plan)) => {
            let (note, completed) = if spec.paused {
                plan.phase = PlanPhase::Held;
                (String::new(), None)
            } else {
                plan.phase = PlanPhase::Active;
                advance_plan(plan, &rollout, obs)
            };
            let child_image = if child_spec_written(plan) {
                rollout.target_image
            } else {
                untouched_child_image(obs, st.current_image.as_deref())
            };
            PlanRun {
                child_image,
                note,
                completed,
            }
        }
        _ => PlanRun {
            child_image: child_image_at_rest(st.current_image.as_deref(), spec, faults),
            note: String::new(),
            completed: None,
        },
    }
}

/// Tasks run strictly in order, each waiting on the cluster (not on time),
/// and a reconcile goes as far as the cluster allows: a world that already
/// caught up finishes several tasks at once, and the first task still
/// waiting is `Running` with a note saying what it waits for, which the
/// `PlanInProgress` condition shows to the on-call.
fn advance_plan(
    plan: &mut PlanStatus,
    rollout: &RolloutStatus,
    obs: &Observed<'_>,
) -> (String, Option<Completed>) {
    let target = &rollout.target_image;
    let mut completed = None;
    for task in plan.tasks.iter_mut().filter(|t| t.state != TaskState::Done) {
        if task.name == TaskName::Complete {
            completed = Some(Completed {
                target: target.clone(),
                started: rollout.started_at.0,
            });
        }
        match task_gap(task.name, target, obs) {
            None => task.state = TaskState::Done,
            Some(gap) => {
                task.state = TaskState::Running;
                return (format!("{:?}: {gap}", task.name), completed);
            }
        }
    }
    (String::new(), completed)
}

/// What still keeps a task from being done (`None`: nothing). A rollout is
/// only over when the nodes report the new image, not when the StatefulSet
/// says so: its status can converge while a pod still runs the old binary.
/// `UpdateChildSpec` has nothing to wait for, because the decision's child
/// action writes the spec before the status is written.
fn task_gap(task: TaskName, target: &str, obs: &Observed<'_>) -> Option<String> {
    let replicas = obs.nd.spec.replicas;
    match task {
        TaskName::UpdateChildSpec | TaskName::Complete => None,
        TaskName::AwaitChildConvergence => match obs.child {
            Some(c) => child::convergence_gap(c, target, replicas),
            None => Some("child StatefulSet missing".to_string()),
        },
        TaskName::ObserveImage => child::image_gap(obs.pods, target, replicas),
    }
}

/// Whether the plan has already written the target image into the child.
/// Until it has, pausing must leave the child alone: a pause promises that
/// no node changes.
fn child_spec_written(plan: &PlanStatus) -> bool {
    plan.tasks
        .iter()
        .any(|t| t.name == TaskName::UpdateChildSpec && t.state == TaskState::Done)
}

/// The child image for a rollout held before the child was touched: what the
/// child already runs, so the decision keeps it rather than rewriting it.
fn untouched_child_image(obs: &Observed<'_>, current: Option<&str>) -> String {
    obs.child
        .and_then(child::spec_image)
        .or(current)
        .unwrap_or(obs.nd.spec.image.as_str())
        .to_string()
}

/// The child image with no rollout in flight: the current image, because an
/// image change reaches the child only through a rollout's plan (or not at
/// all while paused). A first deployment has nothing to roll from, so its
/// child follows the spec. Fault `Faults::propagate_image_while_paused`
/// is the bug of writing a held image to the child anyway.
fn child_image_at_rest(
    current: Option<&str>,
    spec: &NodeDeploymentSpec,
    faults: &Faults,
) -> String {
    match current {
        None => spec.image.clone(),
        Some(_) if spec.paused && faults.propagate_image_while_paused => spec.image.clone(),
        Some(current) => current.to_string(),
    }
}

/// A first deployment is not a rollout, yet `currentImage` must mean "every
/// node runs it" (the next image change rolls from it): so the spec's image
/// becomes current only once the child converged and every pod reports it.
fn adopt_first_image(st: &mut NodeDeploymentStatus, obs: &Observed<'_>) {
    if st.current_image.is_some() || st.rollout.is_some() {
        return;
    }
    let spec = &obs.nd.spec;
    let converged = obs.child.is_some_and(|c| {
        child::convergence_gap(c, &spec.image, spec.replicas).is_none()
            && child::image_gap(obs.pods, &spec.image, spec.replicas).is_none()
    });
    if converged {
        st.current_image = Some(spec.image.clone());
    }
}

// 4. Conditions and phase.

/// `NodesReady` answers "is the deployment serving" independently of any
/// rollout: scaling up is not a rollout, but it does leave nodes not ready.
fn set_nodes_ready(st: &mut NodeDeploymentStatus, replicas: i32, now: Timestamp) {
    let ready = st.ready_replicas;
    let nodes_note = format!("{ready}/{replicas} nodes ready");
    let (status, why) = if ready >= replicas {
        (true, "AllNodesReady")
    } else {
        (false, "NodesNotReady")
    };
    conditions::set(
        &mut st.conditions,
        condition::NODES_READY,
        status,
        why,
        nodes_note,
        now,
    );
}

/// A finished rollout makes its target the current image and clears the
/// rollout and plan, so the next image change starts afresh. The conditions
/// keep saying how it ended until the next one starts, and the
/// `RolloutComplete` Event (returned) says how long it took: it fires once,
/// because the plan is gone on the next reconcile.
fn complete_rollout(
    st: &mut NodeDeploymentStatus,
    done: Completed,
    replicas: i32,
    now: Timestamp,
) -> Emit {
    let Completed { target, started } = done;
    let took = now.duration_since(started);
    let emit = Emit {
        severity: Severity::Normal,
        reason: reason::ROLLOUT_COMPLETE,
        note: format!(
            "image {target} on {replicas}/{replicas} nodes after {}s",
            took.as_secs()
        ),
    };
    st.current_image = Some(target.clone());
    st.rollout = None;
    st.plan = None;
    let note = format!("rolled out {target}");
    conditions::set(
        &mut st.conditions,
        condition::ROLLOUT_IN_PROGRESS,
        false,
        "RolloutComplete",
        note.clone(),
        now,
    );
    conditions::set(
        &mut st.conditions,
        condition::PLAN_IN_PROGRESS,
        false,
        "PlanComplete",
        note,
        now,
    );
    emit
}

/// While a rollout is in flight, `RolloutInProgress` stays True even when it
/// is paused (the nodes are still mixed), and `PlanInProgress` tells whether
/// the plan moves: when active, its message names the task it waits on.
fn set_in_flight_conditions(
    conds: &mut Vec<Condition>,
    plan_phase: PlanPhase,
    rollout_note: String,
    plan_note: String,
    now: Timestamp,
) {
    match plan_phase {
        PlanPhase::Active => {
            conditions::set(
                conds,
                condition::ROLLOUT_IN_PROGRESS,
                true,
                "RolloutStarted",
                rollout_note,
                now,
            );
            conditions::set(
                conds,
                condition::PLAN_IN_PROGRESS,
                true,
                "PlanActive",
                plan_note,
                now,
            );
        }
        PlanPhase::Held => {
            conditions::set(
                conds,
                condition::ROLLOUT_IN_PROGRESS,
                true,
                "RolloutPaused",
                rollout_note,
                now,
            );
            conditions::set(
                conds,
                condition::PLAN_IN_PROGRESS,
                false,
                "PlanHeld",
                "spec.paused holds the plan",
                now,
            );
        }
    }
}

/// With nothing in flight, the last outcome (e.g. `RolloutComplete`) is
/// kept, since it is what an on-call wants to read; only a deployment that
/// never rolled out gets the "nothing has run" conditions, so every
/// condition is always present.
fn set_idle_conditions(st: &mut NodeDeploymentStatus, now: Timestamp) {
    if st.condition(condition::ROLLOUT_IN_PROGRESS).is_none() {
        conditions::set(
            &mut st.conditions,
            condition::ROLLOUT_IN_PROGRESS,
            false,
            "NoRollout",
            "no rollout has run",
            now,
        );
    }
    if st.condition(condition::PLAN_IN_PROGRESS).is_none() {
        conditions::set(
            &mut st.conditions,
            condition::PLAN_IN_PROGRESS,
            false,
            "NoPlan",
            "no plan has run",
            now,
        );
    }
}

/// `Paused` says what the pause is holding back: an image change waiting
/// is worth naming, since the spec and the nodes then disagree on purpose.
fn set_paused_condition(st: &mut NodeDeploymentStatus, spec: &NodeDeploymentSpec, now: Timestamp) {
    if spec.paused {
        let note = match st.current_image.as_deref() {
            Some(current) if current != spec.image => {
                format!(
                    "holding spec.image {} back; nodes stay on {current}",
                    spec.image
                )
            }
            _ => "image changes are held back".to_string(),
        };
        conditions::set(
            &mut st.conditions,
            condition::PAUSED,
            true,
            "PausedBySpec",
            note,
            now,
        );
    } else {
        conditions::set(
            &mut st.conditions,
            condition::PAUSED,
            false,
            "NotPaused",
            "spec.paused is false",
            now,
        );
    }
}

/// The one-word summary an on-call reads first. A pause outranks a
/// rollout, because it explains why the rollout does not move.
fn phase(st: &NodeDeploymentStatus, spec: &NodeDeploymentSpec) -> Phase {
    if spec.paused {
        Phase::Paused
    } else if st.rollout.is_some() {
        Phase::Upgrading
    } else if st.current_image.is_none() {
        Phase::Pending
    } else {
        Phase::Ready
    }
}

// 5. The child, and whether to look again.

/// The child is written only when it differs from what it should be, so an
/// unchanged world makes no writes (and no new StatefulSet generation).
fn child_action(obs: &Observed<'_>, child_image: String) -> ChildAction {
    let replicas = obs.nd.spec.replicas;
    match obs.child {
        None => ChildAction::Create(Box::new(child::desired(obs.nd, &child_image))),
        Some(c)
            if child::spec_image(c) != Some(&child_image)
                || child::spec_replicas(c) != replicas =>
        {
            ChildAction::Update {
                image: child_image,
                replicas,
            }
        }
        Some(_) => ChildAction::Keep,
    }
}

/// A rollout or a first deployment waits on the cluster, and the cluster
/// does not always send a watch event when it moves on (nor does the clock
/// that ages the status): while one is in flight, the controller re-checks.
fn busy(st: &NodeDeploymentStatus) -> bool {
    st.rollout.is_some() || st.current_image.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child::tests::{converged_sts, nd, pod, pods};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const T0: &str = "2026-11-23T10:00:00Z";

    /// Runs `decide` and feeds the status back, as the controller would.
    struct World {
        nd: NodeDeployment,
        child: Option<StatefulSet>,
        pods: Vec<Pod>,
        now: Timestamp,
        faults: Faults,
    }

    impl World {
        fn new(image: &str) -> Self {
            Self {
                nd: nd(image),
                child: None,
                pods: Vec::new(),
                now: t(T0),
                faults: Faults::default(),
            }
        }

        /// A deployment that already runs `image` everywhere.
        fn ready(image: &str) -> Self {
            let mut w = Self::new(image);
            w.child = Some(converged_sts(&w.nd, image));
            w.pods = pods(image);
            let d = w.step();
            assert_eq!(d.status.phase, Phase::Ready);
            w
        }

        fn step(&mut self) -> Decision {
            let d = decide(
                &Observed {
                    nd: &self.nd,
                    child: self.child.as_ref(),
                    pods: &self.pods,
                    now: self.now,
                },
                &self.faults,
            );
            self.nd.status = Some(d.status.clone());
            if let ChildAction::Update { image, .. } = &d.child {
                let c = self.child.as_mut().expect("update needs a child");
                c.spec
                    .as_mut()
                    .unwrap()
                    .template
                    .spec
                    .as_mut()
                    .unwrap()
                    .containers[0]
                    .image = Some(image.clone());
                c.metadata.generation = Some(c.metadata.generation.unwrap_or(0) + 1);
            }
            d
        }

        fn set_image(&mut self, image: &str) {
            self.nd.spec.image = image.into();
            self.nd.metadata.generation = Some(self.nd.metadata.generation.unwrap() + 1);
        }

        fn advance(&mut self, secs: i64) {
            self.now = self
                .now
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .unwrap();
        }

        /// The StatefulSet controller and kubelet finish rolling to `image`.
        fn converge(&mut self, image: &str) {
            let generation = self.child.as_ref().unwrap().metadata.generation;
            let mut sts = converged_sts(&self.nd, image);
            sts.metadata.generation = generation;
            sts.status.as_mut().unwrap().observed_generation = generation;
            self.child = Some(sts);
            self.pods = pods(image);
        }
    }

    fn cond<'a>(d: &'a Decision, type_: &str) -> (&'a str, &'a str) {
        let c = d
            .status
            .condition(type_)
            .unwrap_or_else(|| panic!("condition {type_} missing"));
        (c.status.as_str(), c.reason.as_str())
    }

    fn reasons(d: &Decision) -> Vec<&'static str> {
        d.events.iter().map(|e| e.reason).collect()
    }

    #[test]
    fn first_deployment_creates_the_child_and_becomes_ready() {
        let mut w = World::new("sei:v1");
        let d = w.step();
        let ChildAction::Create(sts) = &d.child else {
            panic!("expected Create, got {:?}", d.child)
        };
        assert_eq!(child::spec_image(sts), Some("sei:v1"));
        assert_eq!(d.status.phase, Phase::Pending);
        assert_eq!(d.status.observed_generation, Some(1));
        assert_eq!(cond(&d, condition::NODES_READY), ("False", "NodesNotReady"));
        assert!(d.busy);
        assert!(d.events.is_empty(), "a first deployment is not a rollout");

        w.child = Some(converged_sts(&w.nd, "sei:v1"));
        w.pods = pods("sei:v1");
        let d = w.step();
        assert_eq!(d.child, ChildAction::Keep);
        assert_eq!(d.status.phase, Phase::Ready);
        assert_eq!(d.status.current_image.as_deref(), Some("sei:v1"));
        assert_eq!(d.status.ready_replicas, 3);
        assert_eq!(cond(&d, condition::NODES_READY), ("True", "AllNodesReady"));
        assert_eq!(
            cond(&d, condition::ROLLOUT_IN_PROGRESS),
            ("False", "NoRollout")
        );
        assert_eq!(cond(&d, condition::PLAN_IN_PROGRESS), ("False", "NoPlan"));
        assert_eq!(cond(&d, condition::PAUSED), ("False", "NotPaused"));
        assert!(!d.busy);
    }

    #[test]
    fn unchanged_world_decides_the_same_status() {
        let mut w = World::ready("sei:v1");
        let before = w.nd.status.clone();
        w.advance(30);
        let d = w.step();
        assert_eq!(
            Some(d.status),
            before,
            "nothing changed, so nothing to write"
        );
        assert_eq!(d.child, ChildAction::Keep);
    }

    #[test]
    fn image_change_runs_the_plan_to_completion() {
        let mut w = World::ready("sei:v1");
        w.set_image("sei:v2");
        w.advance(10);
        let d = w.step();
        assert_eq!(reasons(&d), [reason::ROLLOUT_STARTED]);
        assert_eq!(d.events[0].note, "image sei:v1 → sei:v2");
        assert_eq!(
            d.child,
            ChildAction::Update {
                image: "sei:v2".into(),
                replicas: 3
            }
        );
        assert_eq!(d.status.phase, Phase::Upgrading);
        let rollout = d.status.rollout.clone().unwrap();
        assert_eq!(rollout.started_at, Time(t("2026-11-23T10:00:10Z")));
        assert_eq!(rollout.target_image, "sei:v2");
        let plan = d.status.plan.clone().unwrap();
        assert_eq!(plan.phase, PlanPhase::Active);
        let states: Vec<TaskState> = plan.tasks.iter().map(|t| t.state).collect();
        assert_eq!(
            states,
            [
                TaskState::Done,
                TaskState::Running,
                TaskState::Pending,
                TaskState::Pending
            ]
        );
        assert_eq!(
            cond(&d, condition::ROLLOUT_IN_PROGRESS),
            ("True", "RolloutStarted")
        );
        assert_eq!(
            cond(&d, condition::PLAN_IN_PROGRESS),
            ("True", "PlanActive")
        );
        assert_eq!(
            d.status
                .condition(condition::PLAN_IN_PROGRESS)
                .unwrap()
                .message,
            "AwaitChildConvergence: template image is sei:v1, not sei:v2"
        );
        assert_eq!(d.status.current_image.as_deref(), Some("sei:v1"));
        assert!(d.busy);

        // Stuck: the StatefulSet controller never catches up.
        w.advance(5);
        let d = w.step();
        assert!(d.events.is_empty(), "no second RolloutStarted");
        assert_eq!(d.child, ChildAction::Keep);
        assert_eq!(
            d.status.rollout.as_ref().unwrap().started_at,
            rollout.started_at
        );
        assert_eq!(
            d.status
                .condition(condition::PLAN_IN_PROGRESS)
                .unwrap()
                .message,
            "AwaitChildConvergence: status.observedGeneration 2 behind generation 3"
        );

        // Child converged but one pod still reports the old image.
        w.converge("sei:v2");
        w.pods[1] = pod("seid-1", "sei:v1");
        w.advance(5);
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Upgrading);
        assert_eq!(
            d.status
                .condition(condition::PLAN_IN_PROGRESS)
                .unwrap()
                .message,
            "ObserveImage: 2/3 pods report sei:v2 (3 live; seid-1=sei:v1)"
        );

        w.pods = pods("sei:v2");
        w.advance(5);
        let d = w.step();
        assert_eq!(reasons(&d), [reason::ROLLOUT_COMPLETE]);
        assert_eq!(d.events[0].note, "image sei:v2 on 3/3 nodes after 15s");
        assert_eq!(d.status.phase, Phase::Ready);
        assert_eq!(d.status.current_image.as_deref(), Some("sei:v2"));
        assert_eq!(d.status.rollout, None);
        assert_eq!(d.status.plan, None);
        assert_eq!(
            cond(&d, condition::ROLLOUT_IN_PROGRESS),
            ("False", "RolloutComplete")
        );
        assert_eq!(
            cond(&d, condition::PLAN_IN_PROGRESS),
            ("False", "PlanComplete")
        );
        assert!(!d.busy);

        let d = w.step();
        assert!(d.events.is_empty(), "RolloutComplete fires once");
        assert_eq!(
            cond(&d, condition::ROLLOUT_IN_PROGRESS),
            ("False", "RolloutComplete")
        );
    }

    #[test]
    fn paused_holds_an_image_change_without_starting_a_rollout() {
        let mut w = World::ready("sei:v1");
        w.nd.spec.paused = true;
        w.set_image("sei:v2");
        w.advance(3);
        for _ in 0..3 {
            let d = w.step();
            assert!(d.events.is_empty(), "no rollout may start: {:?}", d.events);
            assert_eq!(d.child, ChildAction::Keep, "child keeps sei:v1");
            assert_eq!(d.status.phase, Phase::Paused);
            assert_eq!(d.status.rollout, None);
            assert_eq!(d.status.plan, None);
            assert_eq!(d.status.current_image.as_deref(), Some("sei:v1"));
            assert_eq!(cond(&d, condition::PAUSED), ("True", "PausedBySpec"));
            assert_eq!(
                cond(&d, condition::ROLLOUT_IN_PROGRESS),
                ("False", "NoRollout")
            );
            assert_eq!(cond(&d, condition::PLAN_IN_PROGRESS).0, "False");
            assert_eq!(cond(&d, condition::NODES_READY), ("True", "AllNodesReady"));
            assert_eq!(
                d.status.condition(condition::PAUSED).unwrap().message,
                "holding spec.image sei:v2 back; nodes stay on sei:v1"
            );
        }

        // Unpausing starts the held rollout.
        w.nd.spec.paused = false;
        let d = w.step();
        assert_eq!(reasons(&d), [reason::ROLLOUT_STARTED]);
        assert_eq!(d.status.phase, Phase::Upgrading);
        assert_eq!(cond(&d, condition::PAUSED), ("False", "NotPaused"));
    }

    #[test]
    fn pausing_mid_rollout_holds_the_plan() {
        let mut w = World::ready("sei:v1");
        w.set_image("sei:v2");
        w.step();
        w.nd.spec.paused = true;
        w.converge("sei:v2");
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Paused);
        let plan = d.status.plan.clone().unwrap();
        assert_eq!(plan.phase, PlanPhase::Held);
        assert_eq!(
            plan.tasks[1].state,
            TaskState::Running,
            "held tasks do not advance"
        );
        assert_eq!(
            cond(&d, condition::ROLLOUT_IN_PROGRESS),
            ("True", "RolloutPaused")
        );
        assert_eq!(cond(&d, condition::PLAN_IN_PROGRESS), ("False", "PlanHeld"));
        assert_eq!(d.child, ChildAction::Keep);

        w.nd.spec.paused = false;
        let d = w.step();
        assert_eq!(reasons(&d), [reason::ROLLOUT_COMPLETE]);
        assert_eq!(d.status.phase, Phase::Ready);
    }

    #[test]
    fn paused_before_the_child_was_touched_leaves_it_alone() {
        let mut w = World::ready("sei:v1");
        w.set_image("sei:v2");
        // The rollout started but the child write has not happened yet in this
        // world: simulate by pausing on the very first reconcile after it.
        let mut d = w.step();
        d.status.plan.as_mut().unwrap().tasks[0].state = TaskState::Pending;
        w.nd.status = Some(d.status);
        w.child = Some(converged_sts(&w.nd, "sei:v1"));
        w.nd.spec.paused = true;
        let d = w.step();
        assert_eq!(d.child, ChildAction::Keep);
        assert_eq!(d.status.plan.unwrap().phase, PlanPhase::Held);
    }

    #[test]
    fn retargeting_keeps_started_at_and_restarts_the_plan() {
        let mut w = World::ready("sei:v1");
        w.set_image("sei:v2");
        let first = w.step().status.rollout.unwrap();
        w.set_image("sei:v3");
        w.advance(7);
        let d = w.step();
        assert_eq!(reasons(&d), [reason::ROLLOUT_RETARGETED]);
        assert_eq!(d.events[0].note, "target image sei:v2 → sei:v3");
        let rollout = d.status.rollout.unwrap();
        assert_eq!(rollout.started_at, first.started_at);
        assert_eq!(rollout.target_image, "sei:v3");
        assert_eq!(
            d.child,
            ChildAction::Update {
                image: "sei:v3".into(),
                replicas: 3
            }
        );
    }

    #[test]
    fn scaling_is_not_a_rollout() {
        let mut w = World::ready("sei:v1");
        w.nd.spec.replicas = 5;
        let d = w.step();
        assert_eq!(
            d.child,
            ChildAction::Update {
                image: "sei:v1".into(),
                replicas: 5
            }
        );
        assert!(d.events.is_empty());
        assert_eq!(d.status.phase, Phase::Ready);
        assert_eq!(cond(&d, condition::NODES_READY), ("False", "NodesNotReady"));
    }

    #[test]
    fn invalid_spec_fails_once_with_a_warning() {
        let mut w = World::ready("sei:v1");
        w.set_image(" ");
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Failed);
        assert_eq!(d.events.len(), 1);
        assert_eq!(d.events[0].severity, Severity::Warning);
        assert_eq!(d.events[0].note, "spec.image is empty");
        assert_eq!(d.child, ChildAction::Keep);
        assert!(w.step().events.is_empty(), "the warning is not repeated");

        w.set_image("sei:v1");
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Ready, "fixing the spec recovers");

        w.nd.spec.replicas = -1;
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Failed);
        assert_eq!(d.events[0].note, "spec.replicas is -1, must be >= 0");
    }

    #[test]
    fn foreign_child_is_not_touched() {
        let mut w = World::new("sei:v1");
        let mut foreign = converged_sts(&w.nd, "other:v9");
        foreign.metadata.owner_references = None;
        w.child = Some(foreign);
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Failed);
        assert_eq!(reasons(&d), [reason::CHILD_CONFLICT]);
        assert_eq!(d.child, ChildAction::Keep);
    }

    #[test]
    fn fault_restamp_moves_started_at_on_every_reconcile() {
        let mut w = World::ready("sei:v1");
        w.faults.restamp_started_at = true;
        w.set_image("sei:v2");
        let first = w.step().status.rollout.unwrap().started_at;
        w.advance(5);
        let second = w.step().status.rollout.unwrap().started_at;
        assert_ne!(first, second);
    }

    #[test]
    fn fault_skip_event_starts_a_silent_rollout() {
        let mut w = World::ready("sei:v1");
        w.faults.skip_rollout_started_event = true;
        w.set_image("sei:v2");
        let d = w.step();
        assert!(d.events.is_empty());
        assert_eq!(d.status.phase, Phase::Upgrading);
    }

    #[test]
    fn fault_propagate_while_paused_updates_the_child() {
        let mut w = World::ready("sei:v1");
        w.faults.propagate_image_while_paused = true;
        w.nd.spec.paused = true;
        w.set_image("sei:v2");
        let d = w.step();
        assert_eq!(d.status.phase, Phase::Paused);
        assert_eq!(
            d.child,
            ChildAction::Update {
                image: "sei:v2".into(),
                replicas: 3
            }
        );
    }

    #[test]
    fn sub_second_clock_does_not_churn_the_status() {
        let mut w = World::ready("sei:v1");
        w.now = t("2026-11-23T10:00:01.250Z");
        w.set_image("sei:v2");
        let d = w.step();
        assert_eq!(
            d.status.rollout.unwrap().started_at,
            Time(t("2026-11-23T10:00:01Z"))
        );
    }
}
