//! The kubelet, reduced to what an operator observes: the pod lifecycle
//! Pending → Running → Ready with conditions and containerStatuses, image pull
//! failures, crash loops, and graceful termination in tokio time. (The
//! scheduler that binds pods to nodes is [`super::scheduler`].)
//!
//! Upstream references: kubelet `pkg/kubelet/images/image_manager.go`
//! (Pulling, Pulled, Failed, ErrImagePull then ImagePullBackOff with
//! `BackOff` events), `pkg/kubelet/kuberuntime/kuberuntime_container.go`
//! (Created, Started, Killing "Stopping container", FailedPreStopHook, grace
//! period taken from `deletionGracePeriodSeconds`), `pkg/kubelet/status`
//! (Ready and ContainersReady conditions) and the CrashLoopBackOff back-off
//! (10 s doubling to 5 min).

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::model::{
    EventSpec, Kind, Memory, ObjRef, PodMemory, Round, Target, Write, is_terminating, name,
    say_once, status_write, to_value,
};

/// Whether the node's kubelet is up: it posts `Ready=True` and no test
/// marked it not ready. The scheduler places no pod on a node that is not,
/// and such a node's kubelet does nothing.
pub(super) fn node_ready(r: &Round, node: &Node) -> bool {
    if r.rules.not_ready_nodes.contains(name(&node.metadata)) {
        return false;
    }
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// Set a condition in a status JSON, keeping `lastTransitionTime` when the
/// status did not change (as the real writers do).
pub(super) fn set_condition(
    status: &mut Value,
    old: Option<&Value>,
    type_: &str,
    value: &str,
    reason_message: Option<(&str, &str)>,
    now: &str,
) {
    let previous = old
        .and_then(|o| o.get("conditions"))
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_));
    let since = previous
        .filter(|c| c["status"] == value)
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now));
    let mut cond = json!({"type": type_, "status": value, "lastTransitionTime": since});
    if let Some(p) = previous.filter(|c| c["status"] == value)
        && let Some(probe) = p.get("lastProbeTime")
    {
        cond["lastProbeTime"] = probe.clone();
    }
    if let Some((reason, message)) = reason_message {
        cond["reason"] = json!(reason);
        cond["message"] = json!(message);
    }
    let list = status
        .as_object_mut()
        .expect("status is an object")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    let arr = list.as_array_mut().expect("conditions is a list");
    match arr.iter_mut().find(|c| c["type"] == type_) {
        Some(c) => *c = cond,
        None => arr.push(cond),
    }
}

/// What one container is doing at a moment, derived from elapsed tokio time.
#[derive(Debug, Clone, PartialEq)]
enum ContainerState {
    Creating,
    PullFailed { backoff: bool },
    Running { ready: bool },
    CrashLoop { restarts: i32, running: bool },
}

/// Back-off before restart `n` (0-based): 10 s doubling, capped at 5 min
/// (kubelet `MaxContainerBackOff`).
fn crash_backoff(n: u32) -> Duration {
    Duration::from_secs((10u64 << n.min(5)).min(300))
}

/// Where a crash-looping container is after `since_start`, replaying its
/// run-exit-back-off cycles: the state is derived from time alone, so a
/// round (or a restarted faker) never needs to remember the restarts.
fn crash_state(since_start: Duration, run_for: Duration) -> ContainerState {
    let mut t = Duration::ZERO;
    let mut restarts = 0;
    loop {
        if since_start < t + run_for {
            return ContainerState::CrashLoop {
                restarts,
                running: true,
            };
        }
        t += run_for;
        let backoff = crash_backoff(restarts as u32);
        if since_start < t + backoff {
            return ContainerState::CrashLoop {
                restarts: restarts + 1,
                running: false,
            };
        }
        t += backoff;
        restarts += 1;
    }
}

/// One round of the kubelet on every ready node. With `attach` (the
/// attach/detach controller is played too), a new pod's containers wait until
/// its CSI volumes are attached to the node, as the kubelet's `WaitForAttach`
/// makes them.
pub(super) fn reconcile(r: &Round, mem: &mut Memory, attach: bool) -> Vec<Write> {
    let mut out = Vec::new();
    let ready_nodes: HashSet<&str> = r
        .world
        .nodes
        .iter()
        .filter(|n| node_ready(r, n))
        .map(|n| name(&n.metadata))
        .collect();
    for pod in &r.world.pods {
        let Some(node_name) = acting_node(r, &ready_nodes, pod) else {
            continue;
        };
        // A pod that ran to completion stays as it ended (until deleted).
        if super::model::is_finished(pod) && !is_terminating(&pod.metadata) {
            continue;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let settled = r.settled(&pod.metadata);
        let mut m = match mem.pods.get(&uid) {
            Some(m) if m.settled.as_ref() == Some(&settled) => continue,
            Some(m) => m.clone(),
            None => PodMemory::default(),
        };
        m.settled = None;
        if is_terminating(&pod.metadata) {
            terminate(r, mem, &mut m, pod, node_name, &mut out);
        } else if attach && waiting_for_attach(r, &m, pod, node_name) {
            // ContainerCreating until the volumes are attached; nothing to say yet.
        } else {
            let writes = out.len();
            if run(r, mem, &mut m, pod, node_name, &mut out) && out.len() == writes {
                m.settled = Some(settled);
            }
        }
        mem.pods.insert(uid, m);
    }
    forget_gone_pods(r, mem);
    out
}

/// The node whose kubelet acts on this pod this round, if one does. Only a
/// bound pod has a kubelet, a paused one is held still by the test, and a
/// kubelet on a NotReady (or missing) node does nothing: its pods stay as
/// they are, Terminating ones included, as on a real cluster.
fn acting_node<'p>(r: &Round, ready_nodes: &HashSet<&str>, pod: &'p Pod) -> Option<&'p str> {
    let node_name = pod.spec.as_ref()?.node_name.as_deref()?;
    if r.paused(Kind::Pod, &pod.metadata) {
        return None;
    }
    ready_nodes.contains(node_name).then_some(node_name)
}

/// A new pod's containers cannot start before its CSI volumes are attached
/// to the node (the kubelet's `WaitForAttach`), so it stays
/// ContainerCreating. A pod already started, or already found running, is
/// not held back again.
fn waiting_for_attach(r: &Round, m: &PodMemory, pod: &Pod, node: &str) -> bool {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    m.bound_at.is_none() && !running && !super::attach::volumes_attached(r, pod, node)
}

/// Memory is per pod UID: a pod deleted and recreated under the same name
/// (a StatefulSet's) must start its life over, and memory must not grow
/// with every pod a long suite ever ran.
fn forget_gone_pods(r: &Round, mem: &mut Memory) {
    let live: HashSet<&str> = r
        .world
        .pods
        .iter()
        .filter_map(|p| p.metadata.uid.as_deref())
        .collect();
    mem.pods.retain(|uid, _| live.contains(uid.as_str()));
}

/// An Event as this kubelet records it: from `kubelet`, naming its node.
fn kubelet_event(
    pod: &Pod,
    node: &str,
    type_: &'static str,
    reason: &str,
    message: String,
) -> EventSpec {
    EventSpec::new(type_, "kubelet", ObjRef::to(pod), reason, message).on_host(node)
}

// Running a pod.

/// A pod its kubelet runs, and where it is in its life.
struct PodRun<'a> {
    r: &'a Round<'a>,
    pod: &'a Pod,
    node: &'a str,
    uid: String,
    /// When the kubelet took the pod on: every delay of its lifecycle counts
    /// from here.
    bound_at: Instant,
    /// The readiness delay a test added for this pod.
    extra: Duration,
}

/// One container, and what it is doing this round.
struct ContainerRun<'a> {
    container: &'a Container,
    image: String,
    state: ContainerState,
}

impl ContainerRun<'_> {
    /// Running and past its readiness delay.
    fn ready(&self) -> bool {
        matches!(self.state, ContainerState::Running { ready: true })
    }
}

/// The pod's life is a function of tokio time since it was bound: each
/// container is pulled, started and becomes ready (or fails) on the rules'
/// timings, with the kubelet's Events on the way, and the pod status says
/// what they add up to. `true` when every container is running and ready,
/// a state time alone does not change.
fn run(
    r: &Round,
    mem: &mut Memory,
    m: &mut PodMemory,
    pod: &Pod,
    node: &str,
    out: &mut Vec<Write>,
) -> bool {
    let spec = pod.spec.as_ref().expect("checked by caller");
    let extra = r.rules.extra_readiness(pod.metadata.labels.as_ref());
    let p = PodRun {
        r,
        pod,
        node,
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        bound_at: admit(r, m, pod, extra),
        extra,
    };
    let mut containers = Vec::new();
    for c in &spec.containers {
        let image = c.image.clone().unwrap_or_default();
        let state = p.container_state(mem, m, c, &image, out);
        containers.push(ContainerRun {
            container: c,
            image,
            state,
        });
    }
    p.write_status(&containers, out);
    containers.iter().all(ContainerRun::ready)
}

/// When this kubelet took the pod on, remembered from its first round. A pod
/// already running when the faker starts is back-dated past its pull and
/// readiness delays, so it keeps its state instead of going back to Pending.
fn admit(r: &Round, m: &mut PodMemory, pod: &Pod, extra: Duration) -> Instant {
    let t = &r.rules.timings;
    *m.bound_at.get_or_insert_with(|| {
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if running {
            r.now
                .checked_sub(t.pull + t.ready + extra + Duration::from_secs(1))
                .unwrap_or(r.now)
        } else {
            r.now
        }
    })
}

impl PodRun<'_> {
    /// How long since the pod was bound.
    fn since(&self) -> Duration {
        self.r.now.duration_since(self.bound_at)
    }

    /// The key of a once-only event about one of this pod's containers.
    fn key(&self, what: &str, c: &Container) -> String {
        format!("{what}/{}/{}", self.uid, c.name)
    }

    /// Every container first pulls its image (`Pulling` is said at once, as
    /// the kubelet does on admission); after the pull delay, the image either
    /// fails to pull or the container starts.
    fn container_state(
        &self,
        mem: &mut Memory,
        m: &mut PodMemory,
        c: &Container,
        image: &str,
        out: &mut Vec<Write>,
    ) -> ContainerState {
        say_once(
            mem,
            self.key("pulling", c),
            kubelet_event(
                self.pod,
                self.node,
                "Normal",
                "Pulling",
                format!("Pulling image \"{image}\""),
            ),
            out,
        );
        if self.since() < self.r.rules.timings.pull {
            ContainerState::Creating
        } else if self.r.rules.pull_fails(image) {
            self.pull_failed(mem, c, image, out)
        } else {
            self.start(mem, m, c, image, out)
        }
    }

    /// A failed pull is ErrImagePull first, then ImagePullBackOff after the
    /// back-off delay, each with the kubelet's Events: the sequence an
    /// operator waiting for its pods (and the on-call) actually sees.
    fn pull_failed(
        &self,
        mem: &mut Memory,
        c: &Container,
        image: &str,
        out: &mut Vec<Write>,
    ) -> ContainerState {
        let (pod, node) = (self.pod, self.node);
        let t = &self.r.rules.timings;
        let backoff = self.since() >= t.pull + t.pull_backoff;
        say_once(
            mem,
            self.key("pullfail", c),
            kubelet_event(
                pod,
                node,
                "Warning",
                "Failed",
                format!(
                    "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"
                ),
            ),
            out,
        );
        say_once(
            mem,
            self.key("errimagepull", c),
            kubelet_event(pod, node, "Warning", "Failed", "Error: ErrImagePull".into()),
            out,
        );
        if backoff {
            say_once(
                mem,
                self.key("backoff", c),
                kubelet_event(
                    pod,
                    node,
                    "Normal",
                    "BackOff",
                    format!("Back-off pulling image \"{image}\""),
                ),
                out,
            );
            say_once(
                mem,
                self.key("imagepullbackoff", c),
                kubelet_event(
                    pod,
                    node,
                    "Warning",
                    "Failed",
                    "Error: ImagePullBackOff".into(),
                ),
                out,
            );
        }
        ContainerState::PullFailed { backoff }
    }

    /// A pulled image is created and started at once (`Pulled`, `Created`,
    /// `Started`), then either crash-loops (a test's fault) or becomes ready
    /// after the readiness delay, which is what rollouts wait on.
    fn start(
        &self,
        mem: &mut Memory,
        m: &mut PodMemory,
        c: &Container,
        image: &str,
        out: &mut Vec<Write>,
    ) -> ContainerState {
        let (pod, node) = (self.pod, self.node);
        let t = &self.r.rules.timings;
        let started = self.bound_at + t.pull;
        if m.started_at.is_none() {
            m.started_at = Some(started);
        }
        let ms = t.pull.as_millis();
        say_once(
            mem,
            self.key("pulled", c),
            kubelet_event(
                pod,
                node,
                "Normal",
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in {ms}ms ({ms}ms including waiting). Image size: 0 bytes."
                ),
            ),
            out,
        );
        say_once(
            mem,
            self.key("created", c),
            kubelet_event(
                pod,
                node,
                "Normal",
                "Created",
                format!("Created container: {}", c.name),
            ),
            out,
        );
        say_once(
            mem,
            self.key("started", c),
            kubelet_event(
                pod,
                node,
                "Normal",
                "Started",
                format!("Started container {}", c.name),
            ),
            out,
        );
        let run_for = self.r.now.duration_since(started);
        if self.r.rules.crash_loops(image) {
            self.crash_loop(mem, c, run_for, out)
        } else {
            ContainerState::Running {
                ready: run_for >= t.ready + self.extra,
            }
        }
    }

    /// A crash-looping container exits after `crash_after` and is restarted
    /// with the kubelet's growing back-off; each wait says `BackOff` once,
    /// so the Events count the restarts as on a real cluster.
    fn crash_loop(
        &self,
        mem: &mut Memory,
        c: &Container,
        run_for: Duration,
        out: &mut Vec<Write>,
    ) -> ContainerState {
        let st = crash_state(run_for, self.r.rules.timings.crash_after);
        if let ContainerState::CrashLoop {
            restarts,
            running: false,
        } = st
        {
            let uid = &self.uid;
            say_once(
                mem,
                format!("crash/{uid}/{}/{restarts}", c.name),
                kubelet_event(
                    self.pod,
                    self.node,
                    "Warning",
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {} in pod {}_{}({uid})",
                        c.name,
                        name(&self.pod.metadata),
                        self.pod.metadata.namespace.as_deref().unwrap_or("")
                    ),
                ),
                out,
            );
        }
        st
    }

    /// The pod status is the only thing operators read about their pods, so
    /// it is written in full from the containers' states each round (and
    /// only when it changed): phase and addresses, conditions, and
    /// containerStatuses.
    fn write_status(&self, containers: &[ContainerRun<'_>], out: &mut Vec<Write>) {
        let old = self.pod.status.as_ref().map(to_value);
        let mut status = old.clone().unwrap_or_else(|| json!({}));
        let ts = self.r.ts();
        self.set_phase_and_addresses(&mut status, containers, &ts);
        set_pod_conditions(&mut status, old.as_ref(), containers, &ts);
        let old_statuses = old.as_ref().and_then(|o| o.get("containerStatuses"));
        let container_statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let previous = old_statuses
                    .and_then(Value::as_array)
                    .and_then(|a| a.iter().find(|x| x["name"] == c.container.name.as_str()));
                self.container_status(c, previous, &ts)
            })
            .collect();
        status["containerStatuses"] = json!(container_statuses);
        out.extend(status_write(
            Target::of(Kind::Pod, &self.pod.metadata),
            old,
            status,
        ));
    }

    /// `Running` once every container has started (crash-looping ones
    /// included: the kubelet keeps such a pod Running), addresses that look
    /// real and stay stable for the pod, and a start time set once.
    fn set_phase_and_addresses(
        &self,
        status: &mut Value,
        containers: &[ContainerRun<'_>],
        ts: &str,
    ) {
        let all_running = containers.iter().all(|c| {
            matches!(
                c.state,
                ContainerState::Running { .. } | ContainerState::CrashLoop { .. }
            )
        });
        status["phase"] = json!(if all_running { "Running" } else { "Pending" });
        status["hostIP"] = json!(node_ip(self.node));
        status["hostIPs"] = json!([{"ip": node_ip(self.node)}]);
        status["podIP"] = json!(pod_ip(&self.uid));
        status["podIPs"] = json!([{"ip": pod_ip(&self.uid)}]);
        status["qosClass"] = status
            .get("qosClass")
            .cloned()
            .unwrap_or(json!("BestEffort"));
        if status.get("startTime").is_none() {
            status["startTime"] = json!(ts);
        }
    }

    /// One entry of containerStatuses, as the kubelet reports it: timestamps
    /// already reported are kept (`previous`), so an unchanged container
    /// writes nothing; IDs are stable hashes; a crash-looping container shows
    /// its last exit and the back-off it waits out.
    fn container_status(&self, c: &ContainerRun<'_>, previous: Option<&Value>, ts: &str) -> Value {
        let (cname, image, s) = (&c.container.name, &c.image, &c.state);
        let uid = &self.uid;
        let keep = |path: &str| {
            previous
                .and_then(|p| p.pointer(path))
                .cloned()
                .unwrap_or(json!(ts))
        };
        let image_id = format!(
            "docker.io/library/{image}@sha256:{}",
            super::model::short_hash(&json!(image))
        );
        let container_id = format!(
            "containerd://{}",
            super::model::short_hash(&json!([uid, cname]))
        );
        let (state, ready, restarts, last): (Value, bool, i32, Value) = match s {
            ContainerState::Creating => (
                json!({"waiting": {"reason": "ContainerCreating"}}),
                false,
                0,
                json!({}),
            ),
            ContainerState::PullFailed { backoff } => {
                let (reason, message) = if *backoff {
                    (
                        "ImagePullBackOff",
                        format!("Back-off pulling image \"{image}\""),
                    )
                } else {
                    (
                        "ErrImagePull",
                        format!("failed to pull and unpack image \"{image}\": not found"),
                    )
                };
                (
                    json!({"waiting": {"reason": reason, "message": message}}),
                    false,
                    0,
                    json!({}),
                )
            }
            ContainerState::Running { ready } => (
                json!({"running": {"startedAt": keep("/state/running/startedAt")}}),
                *ready,
                0,
                json!({}),
            ),
            ContainerState::CrashLoop { restarts, running } => {
                let last = if *restarts > 0 {
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": keep("/lastState/terminated/startedAt"), "finishedAt": keep("/lastState/terminated/finishedAt")}})
                } else {
                    json!({})
                };
                let state = if *running {
                    json!({"running": {"startedAt": keep("/state/running/startedAt")}})
                } else {
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container={} pod={}_{}({uid})", crash_backoff((*restarts - 1).max(0) as u32).as_secs(), cname, name(&self.pod.metadata), self.pod.metadata.namespace.as_deref().unwrap_or(""))}})
                };
                (state, false, *restarts, last)
            }
        };
        let started = state.get("running").is_some();
        let mut cs = json!({
            "name": cname,
            "image": image,
            "imageID": if matches!(s, ContainerState::Running{..} | ContainerState::CrashLoop{..}) { json!(image_id) } else { json!("") },
            "ready": ready,
            "started": started,
            "restartCount": restarts,
            "state": state,
            "lastState": last,
        });
        if started || restarts > 0 {
            cs["containerID"] = json!(container_id);
        }
        // A 1.33 kubelet (InPlacePodVerticalScaling) reports what a running
        // container runs with; the apiserver refuses `pods/resize` on a
        // node whose running containers report none. The faker actuates a
        // resize at once, so that is the spec's requests and limits.
        if started {
            let r = c.container.resources.as_ref();
            let mut resources = json!({});
            if let Some(limits) = r.and_then(|r| r.limits.as_ref()) {
                resources["limits"] = json!(limits);
            }
            if let Some(requests) = r.and_then(|r| r.requests.as_ref()) {
                resources["requests"] = json!(requests);
            }
            cs["resources"] = resources;
        }
        cs
    }
}

/// Readiness is what rollouts and PodDisruptionBudgets count: the pod is
/// `Ready` (and `ContainersReady`) only when every container is running and
/// ready, and otherwise names the containers that are not, in the kubelet's
/// wording.
fn set_pod_conditions(
    status: &mut Value,
    old: Option<&Value>,
    containers: &[ContainerRun<'_>],
    ts: &str,
) {
    let all_ready = containers.iter().all(ContainerRun::ready);
    set_condition(status, old, "PodReadyToStartContainers", "True", None, ts);
    set_condition(status, old, "Initialized", "True", None, ts);
    let not_ready: Vec<&str> = containers
        .iter()
        .filter(|c| !c.ready())
        .map(|c| c.container.name.as_str())
        .collect();
    let unready_msg = format!("containers with unready status: [{}]", not_ready.join(" "));
    if all_ready {
        set_condition(status, old, "Ready", "True", None, ts);
        set_condition(status, old, "ContainersReady", "True", None, ts);
    } else {
        set_condition(
            status,
            old,
            "Ready",
            "False",
            Some(("ContainersNotReady", &unready_msg)),
            ts,
        );
        set_condition(
            status,
            old,
            "ContainersReady",
            "False",
            Some(("ContainersNotReady", &unready_msg)),
            ts,
        );
    }
    set_condition(status, old, "PodScheduled", "True", None, ts);
}

// Terminating a pod.

/// A deleted pod's containers are stopped (`Killing`), its preStop hooks
/// run, and it exits when its processes do or when the grace period runs
/// out, whichever comes first; only then does the kubelet confirm the
/// deletion (delete with grace 0), so operators see Terminating pods linger
/// as they do on a real cluster.
fn terminate(
    r: &Round,
    mem: &mut Memory,
    m: &mut PodMemory,
    pod: &Pod,
    node: &str,
    out: &mut Vec<Write>,
) {
    let spec = pod.spec.as_ref().expect("checked by caller");
    let deleting_at: Instant = *m.deleting_at.get_or_insert(r.now);
    let grace = grace_period(pod, spec);
    announce_killing(mem, pod, spec, node, out);
    let prestop = prestop_runs_for(r, pod, spec);
    let exit_after = exits_after(r, pod, prestop, grace);
    if let Some(ran) = prestop_killed(r, deleting_at, prestop, grace) {
        report_failed_prestop(mem, pod, spec, node, ran, grace, out);
    }
    if r.elapsed(deleting_at, exit_after) {
        out.push(Write::Delete {
            target: Target::of(Kind::Pod, &pod.metadata),
            grace_seconds: Some(0),
        });
    }
}

/// The grace period the deletion asked for (`deletionGracePeriodSeconds`),
/// else the pod's own, else the default 30 s: a `kubectl delete
/// --grace-period` overrides the spec, as on a real kubelet.
fn grace_period(pod: &Pod, spec: &PodSpec) -> Duration {
    Duration::from_secs(
        pod.metadata
            .deletion_grace_period_seconds
            .or(spec.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64,
    )
}

/// `Killing` ("Stopping container") once per container: the first sign in
/// the Events that a pod is going away.
fn announce_killing(mem: &mut Memory, pod: &Pod, spec: &PodSpec, node: &str, out: &mut Vec<Write>) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    for c in &spec.containers {
        say_once(
            mem,
            format!("killing/{uid}/{}", c.name),
            kubelet_event(
                pod,
                node,
                "Normal",
                "Killing",
                format!("Stopping container {}", c.name),
            ),
            out,
        );
    }
}

/// Whether the container declares a preStop hook.
fn has_prestop(c: &Container) -> bool {
    c.lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .is_some()
}

/// How long the pod's preStop hook runs, when a test gave it a duration and
/// a container declares a hook: a hook that outlives the grace period is a
/// classic cause of slow or failed rollouts.
fn prestop_runs_for(r: &Round, pod: &Pod, spec: &PodSpec) -> Option<Duration> {
    r.rules
        .prestop_for(pod.metadata.labels.as_ref())
        .filter(|_| spec.containers.iter().any(has_prestop))
}

/// How long after the deletion the pod's processes are gone: a well-behaved
/// pod exits after its preStop hook and a short shutdown, one that ignores
/// SIGTERM uses its full grace period, and nothing outlives the grace
/// period, when the runtime kills whatever is left.
fn exits_after(r: &Round, pod: &Pod, prestop: Option<Duration>, grace: Duration) -> Duration {
    let natural = if r.rules.ignores_sigterm(pod.metadata.labels.as_ref()) {
        grace
    } else {
        prestop.unwrap_or_default() + r.rules.timings.shutdown
    };
    natural.min(grace)
}

/// If the preStop hook is being SIGKILLed by the end of the grace period,
/// how long it was meant to run. The hook is SIGKILLed when the grace period
/// ends. This kubelet saw the deletion up to one round after it was
/// requested, and a server that ends grace periods itself (the embedded one
/// does, standing in for the kubelet's confirmation) may remove the pod at
/// the very instant of our last round: so the failure is reported two rounds
/// before the deadline.
fn prestop_killed(
    r: &Round,
    deleting_at: Instant,
    prestop: Option<Duration>,
    grace: Duration,
) -> Option<Duration> {
    let hook_killed = r.elapsed(deleting_at, grace.saturating_sub(r.rules.timings.round * 2));
    prestop.filter(|p| *p > grace && hook_killed)
}

/// The hook was still running when the grace period ran out: the runtime
/// SIGKILLs it and the kubelet reports exit 137 (seed 004) as
/// `FailedPreStopHook`, the only trace of why the shutdown was not clean.
fn report_failed_prestop(
    mem: &mut Memory,
    pod: &Pod,
    spec: &PodSpec,
    node: &str,
    ran: Duration,
    grace: Duration,
    out: &mut Vec<Write>,
) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    for c in spec.containers.iter().filter(|c| has_prestop(c)) {
        say_once(
            mem,
            format!("prestop/{uid}/{}", c.name),
            kubelet_event(
                pod,
                node,
                "Warning",
                "FailedPreStopHook",
                format!(
                    "PreStop hook for Container \"{}\" in Pod \"{}_{}({uid})\" failed - error: command exited with 137 (ran {}s of {}s grace period)",
                    c.name,
                    name(&pod.metadata),
                    pod.metadata.namespace.as_deref().unwrap_or(""),
                    ran.as_secs(),
                    grace.as_secs()
                ),
            ),
            out,
        );
    }
}

/// A stable, plausible node address, derived from the node's number.
fn node_ip(node: &str) -> String {
    let n: u32 = node
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    format!("10.0.0.{}", 10 + n % 200)
}

/// A stable, plausible pod address, derived from the pod's UID, so status
/// writes stay idempotent.
fn pod_ip(uid: &str) -> String {
    let h = uid
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.244.{}.{}", (h >> 8) % 250, 2 + h % 250)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_loop_backs_off_like_the_kubelet() {
        let run = Duration::from_secs(1);
        assert_eq!(
            crash_state(Duration::from_millis(500), run),
            ContainerState::CrashLoop {
                restarts: 0,
                running: true
            }
        );
        // exited after 1 s, waits 10 s
        assert_eq!(
            crash_state(Duration::from_secs(5), run),
            ContainerState::CrashLoop {
                restarts: 1,
                running: false
            }
        );
        // restarted at 11 s, exits at 12 s, then waits 20 s
        assert_eq!(
            crash_state(Duration::from_millis(11_500), run),
            ContainerState::CrashLoop {
                restarts: 1,
                running: true
            }
        );
        assert_eq!(
            crash_state(Duration::from_secs(20), run),
            ContainerState::CrashLoop {
                restarts: 2,
                running: false
            }
        );
        assert_eq!(crash_backoff(10), Duration::from_secs(300));
    }
}
