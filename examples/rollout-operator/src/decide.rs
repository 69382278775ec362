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
    NodeDeployment, NodeDeploymentStatus, Phase, PlanPhase, PlanStatus, PlanTask, RolloutStatus,
    TaskName, TaskState, condition, reason,
};
use crate::faults::Faults;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

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

/// Decides the next status, child action and events. Pure and deterministic:
/// the same observation gives the same decision, so an unchanged world
/// writes nothing.
pub fn decide(obs: &Observed<'_>, faults: &Faults) -> Decision {
    let nd = obs.nd;
    let spec = &nd.spec;
    let now = whole_seconds(obs.now);
    let prev = nd.status.clone().unwrap_or_default();
    let mut st = prev.clone();

    if spec.image.trim().is_empty() {
        return failed(obs, st, reason::INVALID_SPEC, "spec.image is empty".into());
    }
    if spec.replicas < 0 {
        let note = format!("spec.replicas is {}, must be >= 0", spec.replicas);
        return failed(obs, st, reason::INVALID_SPEC, note);
    }
    if let Some(c) = obs.child.filter(|c| !child::owned_by(c, nd)) {
        let note = format!(
            "StatefulSet {} exists and is not controlled by this NodeDeployment; not touching it",
            kube::ResourceExt::name_any(c)
        );
        return failed(obs, st, reason::CHILD_CONFLICT, note);
    }

    st.observed_generation = nd.metadata.generation;
    st.ready_replicas = obs.child.map(child::ready_replicas).unwrap_or(0);
    let mut events = Vec::new();

    // 1. Start, retarget or keep the rollout.
    if let Some(rollout) = st.rollout.as_mut() {
        if rollout.target_image != spec.image {
            events.push(Emit {
                severity: Severity::Normal,
                reason: reason::ROLLOUT_RETARGETED,
                note: format!("target image {} → {}", rollout.target_image, spec.image),
            });
            rollout.target_image = spec.image.clone();
            st.plan = Some(fresh_plan());
        }
    } else if let Some(current) = st.current_image.clone()
        && current != spec.image
        && !spec.paused
    {
        st.rollout = Some(RolloutStatus {
            started_at: Time(now),
            target_image: spec.image.clone(),
        });
        st.plan = Some(fresh_plan());
        if !faults.skip_rollout_started_event {
            events.push(Emit {
                severity: Severity::Normal,
                reason: reason::ROLLOUT_STARTED,
                note: format!("image {current} → {}", spec.image),
            });
        }
    }
    if faults.restamp_started_at
        && let Some(rollout) = st.rollout.as_mut()
    {
        rollout.started_at = Time(now);
    }

    // 2. Run the plan as far as the cluster allows, and pick the child image.
    let mut plan_note = String::new();
    let mut completed = None;
    let child_image = match (st.rollout.clone(), st.plan.as_mut()) {
        (Some(rollout), Some(plan)) => {
            let target = rollout.target_image;
            if spec.paused {
                plan.phase = PlanPhase::Held;
            } else {
                plan.phase = PlanPhase::Active;
                for task in plan.tasks.iter_mut().filter(|t| t.state != TaskState::Done) {
                    let gap = match task.name {
                        TaskName::UpdateChildSpec => None,
                        TaskName::AwaitChildConvergence => match obs.child {
                            Some(c) => child::convergence_gap(c, &target, spec.replicas),
                            None => Some("child StatefulSet missing".to_string()),
                        },
                        TaskName::ObserveImage => {
                            child::image_gap(obs.pods, &target, spec.replicas)
                        }
                        TaskName::Complete => {
                            completed = Some((target.clone(), rollout.started_at.0));
                            None
                        }
                    };
                    match gap {
                        None => task.state = TaskState::Done,
                        Some(gap) => {
                            task.state = TaskState::Running;
                            plan_note = format!("{:?}: {gap}", task.name);
                            break;
                        }
                    }
                }
            }
            let spec_written = plan
                .tasks
                .iter()
                .any(|t| t.name == TaskName::UpdateChildSpec && t.state == TaskState::Done);
            if spec_written {
                target
            } else {
                // Held before the child was touched: leave the child alone.
                obs.child
                    .and_then(child::spec_image)
                    .map(str::to_string)
                    .or_else(|| st.current_image.clone())
                    .unwrap_or_else(|| spec.image.clone())
            }
        }
        _ => match st.current_image.clone() {
            // First deployment: nothing to roll from, the child follows the spec.
            None => spec.image.clone(),
            Some(_) if spec.paused && faults.propagate_image_while_paused => spec.image.clone(),
            Some(current) => current,
        },
    };

    // First deployment: the image becomes current once every node runs it.
    if st.current_image.is_none() && st.rollout.is_none() {
        let converged = obs.child.is_some_and(|c| {
            child::convergence_gap(c, &spec.image, spec.replicas).is_none()
                && child::image_gap(obs.pods, &spec.image, spec.replicas).is_none()
        });
        if converged {
            st.current_image = Some(spec.image.clone());
        }
    }

    // 3. Conditions and phase.
    let replicas = spec.replicas;
    let ready = st.ready_replicas;
    let nodes_note = format!("{ready}/{replicas} nodes ready");
    if ready >= replicas {
        conditions::set(
            &mut st.conditions,
            condition::NODES_READY,
            true,
            "AllNodesReady",
            nodes_note,
            now,
        );
    } else {
        conditions::set(
            &mut st.conditions,
            condition::NODES_READY,
            false,
            "NodesNotReady",
            nodes_note,
            now,
        );
    }

    if let Some((target, started)) = completed {
        let took = now.duration_since(started);
        events.push(Emit {
            severity: Severity::Normal,
            reason: reason::ROLLOUT_COMPLETE,
            note: format!(
                "image {target} on {replicas}/{replicas} nodes after {}s",
                took.as_secs()
            ),
        });
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
    } else if let (Some(rollout), Some(plan)) = (&st.rollout, &st.plan) {
        let note = format!("rolling out {}", rollout.target_image);
        match plan.phase {
            PlanPhase::Active => {
                conditions::set(
                    &mut st.conditions,
                    condition::ROLLOUT_IN_PROGRESS,
                    true,
                    "RolloutStarted",
                    note,
                    now,
                );
                conditions::set(
                    &mut st.conditions,
                    condition::PLAN_IN_PROGRESS,
                    true,
                    "PlanActive",
                    plan_note,
                    now,
                );
            }
            PlanPhase::Held => {
                conditions::set(
                    &mut st.conditions,
                    condition::ROLLOUT_IN_PROGRESS,
                    true,
                    "RolloutPaused",
                    note,
                    now,
                );
                conditions::set(
                    &mut st.conditions,
                    condition::PLAN_IN_PROGRESS,
                    false,
                    "PlanHeld",
                    "spec.paused holds the plan",
                    now,
                );
            }
        }
    } else {
        // Idle: keep the last outcome (e.g. RolloutComplete) if there is one.
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

    st.phase = if spec.paused {
        Phase::Paused
    } else if st.rollout.is_some() {
        Phase::Upgrading
    } else if st.current_image.is_none() {
        Phase::Pending
    } else {
        Phase::Ready
    };

    // 4. The child.
    let child = match obs.child {
        None => ChildAction::Create(Box::new(child::desired(nd, &child_image))),
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
    };

    let busy = st.rollout.is_some() || st.current_image.is_none();
    Decision {
        child,
        status: st,
        events,
        busy,
    }
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
