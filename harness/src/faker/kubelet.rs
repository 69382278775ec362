//! The scheduler and the kubelet, reduced to what an operator observes:
//! binding (`Scheduled` / `FailedScheduling`), the pod lifecycle
//! Pending → Running → Ready with conditions and containerStatuses, image pull
//! failures, crash loops, and graceful termination in tokio time.
//!
//! Upstream references: scheduler `pkg/scheduler/schedule_one.go` (events
//! `Scheduled`, `FailedScheduling` with the "0/N nodes are available" text),
//! kubelet `pkg/kubelet/images/image_manager.go` (Pulling, Pulled, Failed,
//! ErrImagePull then ImagePullBackOff with `BackOff` events),
//! `pkg/kubelet/kuberuntime/kuberuntime_container.go` (Created, Started,
//! Killing "Stopping container", FailedPreStopHook, grace period taken from
//! `deletionGracePeriodSeconds`), `pkg/kubelet/status` (Ready and
//! ContainersReady conditions) and the CrashLoopBackOff back-off (10 s doubling
//! to 5 min).

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::model::{
    EventSpec, Kind, Memory, ObjRef, PodMemory, Round, Target, Write, is_terminating, name,
    say_once, status_write, to_value,
};

/// One round of the scheduler over unbound pods.
pub(super) fn schedule(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    // Non-terminated pods per node, to spread pods like the default scoring does.
    let mut load: Vec<(String, usize)> = r
        .world
        .nodes
        .iter()
        .map(|n| {
            let node = name(&n.metadata).to_owned();
            let count = r
                .world
                .pods
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&node))
                .count();
            (node, count)
        })
        .collect();
    for pod in &r.world.pods {
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        if spec.node_name.is_some()
            || is_terminating(&pod.metadata)
            || r.paused(Kind::Pod, &pod.metadata)
        {
            continue;
        }
        let pod_ref = ObjRef::to(pod);
        let key = format!(
            "{}/{}",
            pod_ref.namespace.clone().unwrap_or_default(),
            pod_ref.name
        );
        let total = r.world.nodes.len();
        let unbound_claim = spec.volumes.iter().flatten().find_map(|v| {
            let claim = &v.persistent_volume_claim.as_ref()?.claim_name;
            let pvc = r.world.pvcs.iter().find(|c| name(&c.metadata) == claim);
            let bound = pvc
                .and_then(|c| c.status.as_ref())
                .and_then(|s| s.phase.as_deref())
                == Some("Bound");
            // A claim still being provisioned is waited for quietly; only one
            // that is missing or will never bind makes the pod unschedulable.
            let hopeless = pvc.is_none_or(|c| {
                let class = c
                    .spec
                    .as_ref()
                    .and_then(|s| s.storage_class_name.as_deref());
                r.rules.never_binds(claim, class)
            });
            (!bound).then(|| (claim.clone(), pvc.is_some(), hopeless))
        });
        let failure = if let Some((claim, exists, hopeless)) = unbound_claim {
            if !hopeless {
                continue;
            }
            Some(if exists {
                format!(
                    "0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                )
            } else {
                format!(
                    "0/{total} nodes are available: persistentvolumeclaim \"{claim}\" not found. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
                )
            })
        } else {
            let fit: Vec<usize> = load
                .iter()
                .enumerate()
                .filter(|(_, (n, _))| node_schedulable(r, n))
                .map(|(i, _)| i)
                .collect();
            match fit
                .iter()
                .min_by_key(|i| (load[**i].1, load[**i].0.clone()))
            {
                Some(&i) => {
                    load[i].1 += 1;
                    let node = load[i].0.clone();
                    out.push(Write::Bind {
                        namespace: pod_ref.namespace.clone().unwrap_or_default(),
                        pod: pod_ref.name.clone(),
                        node: node.clone(),
                    });
                    out.push(Write::Event(EventSpec::new(
                        "Normal",
                        "default-scheduler",
                        pod_ref.clone(),
                        "Scheduled",
                        format!("Successfully assigned {key} to {node}"),
                    )));
                    None
                }
                None => Some(unschedulable_message(r)),
            }
        };
        if let Some(message) = failure {
            let old = pod.status.as_ref().map(to_value);
            let mut status = old.clone().unwrap_or_else(|| json!({}));
            status["phase"] = json!("Pending");
            set_condition(
                &mut status,
                old.as_ref(),
                "PodScheduled",
                "False",
                Some(("Unschedulable", message.as_str())),
                &r.ts(),
            );
            out.extend(status_write(
                Target::of(Kind::Pod, &pod.metadata),
                old,
                status,
            ));
            say_once(
                mem,
                format!(
                    "failedscheduling/{}/{message}",
                    pod_ref.uid.clone().unwrap_or_default()
                ),
                EventSpec::new(
                    "Warning",
                    "default-scheduler",
                    pod_ref,
                    "FailedScheduling",
                    message,
                ),
                &mut out,
            );
        }
    }
    out
}

fn node_ready(r: &Round, node: &Node) -> bool {
    if r.rules.not_ready_nodes.contains(name(&node.metadata)) {
        return false;
    }
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn node_schedulable(r: &Round, node_name: &str) -> bool {
    let Some(node) = r
        .world
        .nodes
        .iter()
        .find(|n| name(&n.metadata) == node_name)
    else {
        return false;
    };
    let cordoned = node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.effect == "NoSchedule"));
    node_ready(r, node) && !cordoned && !tainted
}

fn unschedulable_message(r: &Round) -> String {
    let total = r.world.nodes.len();
    if total == 0 {
        return "no nodes available to schedule pods".into();
    }
    let cordoned = r
        .world
        .nodes
        .iter()
        .filter(|n| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true))
        .count();
    let other = total - cordoned;
    let mut parts = Vec::new();
    if cordoned > 0 {
        parts.push(format!("{cordoned} node(s) were unschedulable"));
    }
    if other > 0 {
        parts.push(format!(
            "{other} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}"
        ));
    }
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling.",
        parts.join(", ")
    )
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
    for pod in &r.world.pods {
        let Some(spec) = pod.spec.as_ref() else {
            continue;
        };
        let Some(node_name) = spec.node_name.as_deref() else {
            continue;
        };
        if r.paused(Kind::Pod, &pod.metadata) {
            continue;
        }
        // A kubelet on a NotReady (or missing) node does nothing: its pods stay
        // as they are, Terminating ones included, as on a real cluster.
        match r
            .world
            .nodes
            .iter()
            .find(|n| name(&n.metadata) == node_name)
        {
            Some(node) if node_ready(r, node) => {}
            _ => continue,
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut m = mem.pods.get(&uid).cloned().unwrap_or_default();
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if is_terminating(&pod.metadata) {
            terminate(r, mem, &mut m, pod, node_name, &mut out);
        } else if attach
            && m.bound_at.is_none()
            && !running
            && !super::attach::volumes_attached(r, pod, node_name)
        {
            // ContainerCreating until the volumes are attached; nothing to say yet.
        } else {
            run(r, mem, &mut m, pod, node_name, &mut out);
        }
        mem.pods.insert(uid, m);
    }
    // Forget pods that are gone.
    let live: std::collections::HashSet<&str> = r
        .world
        .pods
        .iter()
        .filter_map(|p| p.metadata.uid.as_deref())
        .collect();
    mem.pods.retain(|uid, _| live.contains(uid.as_str()));
    out
}

fn kubelet_event(
    pod: &Pod,
    node: &str,
    type_: &'static str,
    reason: &str,
    message: String,
) -> EventSpec {
    EventSpec::new(type_, "kubelet", ObjRef::to(pod), reason, message).on_host(node)
}

fn run(
    r: &Round,
    mem: &mut Memory,
    m: &mut PodMemory,
    pod: &Pod,
    node: &str,
    out: &mut Vec<Write>,
) {
    let spec = pod.spec.as_ref().expect("checked by caller");
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let labels = pod.metadata.labels.as_ref();
    let extra = r.rules.extra_readiness(labels);
    let t = &r.rules.timings;
    let bound_at = *m.bound_at.get_or_insert_with(|| {
        // A pod already running when the faker starts keeps its state instead
        // of going back to Pending.
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if running {
            r.now
                .checked_sub(t.pull + t.ready + extra + Duration::from_secs(1))
                .unwrap_or(r.now)
        } else {
            r.now
        }
    });
    let since = r.now.duration_since(bound_at);
    let pulled = since >= t.pull;
    let old = pod.status.as_ref().map(to_value);
    let mut status = old.clone().unwrap_or_else(|| json!({}));
    let ts = r.ts();
    let pod_name = name(&pod.metadata).to_owned();

    let mut states = Vec::new();
    for c in &spec.containers {
        let image = c.image.clone().unwrap_or_default();
        let key = |what: &str| format!("{what}/{uid}/{}", c.name);
        say_once(
            mem,
            key("pulling"),
            kubelet_event(
                pod,
                node,
                "Normal",
                "Pulling",
                format!("Pulling image \"{image}\""),
            ),
            out,
        );
        let state = if !pulled {
            ContainerState::Creating
        } else if r.rules.pull_fails(&image) {
            let backoff = since >= t.pull + t.pull_backoff;
            say_once(
                mem,
                key("pullfail"),
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
                key("errimagepull"),
                kubelet_event(pod, node, "Warning", "Failed", "Error: ErrImagePull".into()),
                out,
            );
            if backoff {
                say_once(
                    mem,
                    key("backoff"),
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
                    key("imagepullbackoff"),
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
        } else {
            let started = bound_at + t.pull;
            if m.started_at.is_none() {
                m.started_at = Some(started);
            }
            let ms = t.pull.as_millis();
            say_once(
                mem,
                key("pulled"),
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
                key("created"),
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
                key("started"),
                kubelet_event(
                    pod,
                    node,
                    "Normal",
                    "Started",
                    format!("Started container {}", c.name),
                ),
                out,
            );
            let run_for = r.now.duration_since(started);
            if r.rules.crash_loops(&image) {
                let st = crash_state(run_for, t.crash_after);
                if let ContainerState::CrashLoop {
                    restarts,
                    running: false,
                } = st
                {
                    say_once(
                        mem,
                        format!("crash/{uid}/{}/{restarts}", c.name),
                        kubelet_event(
                            pod,
                            node,
                            "Warning",
                            "BackOff",
                            format!(
                                "Back-off restarting failed container {} in pod {pod_name}_{}({uid})",
                                c.name,
                                pod.metadata.namespace.as_deref().unwrap_or("")
                            ),
                        ),
                        out,
                    );
                }
                st
            } else {
                ContainerState::Running {
                    ready: run_for >= t.ready + extra,
                }
            }
        };
        states.push((c, image, state));
    }

    let all_running = states.iter().all(|(_, _, s)| {
        matches!(
            s,
            ContainerState::Running { .. } | ContainerState::CrashLoop { .. }
        )
    });
    let all_ready = states
        .iter()
        .all(|(_, _, s)| matches!(s, ContainerState::Running { ready: true }));
    status["phase"] = json!(if all_running { "Running" } else { "Pending" });
    status["hostIP"] = json!(node_ip(node));
    status["hostIPs"] = json!([{"ip": node_ip(node)}]);
    status["podIP"] = json!(pod_ip(&uid));
    status["podIPs"] = json!([{"ip": pod_ip(&uid)}]);
    status["qosClass"] = status
        .get("qosClass")
        .cloned()
        .unwrap_or(json!("BestEffort"));
    if status.get("startTime").is_none() {
        status["startTime"] = json!(ts);
    }
    let old_ref = old.as_ref();
    set_condition(
        &mut status,
        old_ref,
        "PodReadyToStartContainers",
        "True",
        None,
        &ts,
    );
    set_condition(&mut status, old_ref, "Initialized", "True", None, &ts);
    let not_ready: Vec<&str> = states
        .iter()
        .filter(|(_, _, s)| !matches!(s, ContainerState::Running { ready: true }))
        .map(|(c, _, _)| c.name.as_str())
        .collect();
    let unready_msg = format!("containers with unready status: [{}]", not_ready.join(" "));
    if all_ready {
        set_condition(&mut status, old_ref, "Ready", "True", None, &ts);
        set_condition(&mut status, old_ref, "ContainersReady", "True", None, &ts);
    } else {
        set_condition(
            &mut status,
            old_ref,
            "Ready",
            "False",
            Some(("ContainersNotReady", &unready_msg)),
            &ts,
        );
        set_condition(
            &mut status,
            old_ref,
            "ContainersReady",
            "False",
            Some(("ContainersNotReady", &unready_msg)),
            &ts,
        );
    }
    set_condition(&mut status, old_ref, "PodScheduled", "True", None, &ts);

    let old_statuses = old_ref.and_then(|o| o.get("containerStatuses")).cloned();
    let container_statuses: Vec<Value> = states
        .iter()
        .map(|(c, image, s)| {
            let previous = old_statuses
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| x["name"] == c.name.as_str()));
            let keep = |path: &str| previous.and_then(|p| p.pointer(path)).cloned().unwrap_or(json!(ts));
            let image_id = format!("docker.io/library/{image}@sha256:{}", super::model::short_hash(&json!(image)));
            let container_id = format!("containerd://{}", super::model::short_hash(&json!([uid, c.name])));
            let (state, ready, restarts, last): (Value, bool, i32, Value) = match s {
                ContainerState::Creating => (json!({"waiting": {"reason": "ContainerCreating"}}), false, 0, json!({})),
                ContainerState::PullFailed { backoff } => {
                    let (reason, message) = if *backoff {
                        ("ImagePullBackOff", format!("Back-off pulling image \"{image}\""))
                    } else {
                        ("ErrImagePull", format!("failed to pull and unpack image \"{image}\": not found"))
                    };
                    (json!({"waiting": {"reason": reason, "message": message}}), false, 0, json!({}))
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
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container={} pod={pod_name}_{}({uid})", crash_backoff((*restarts - 1).max(0) as u32).as_secs(), c.name, pod.metadata.namespace.as_deref().unwrap_or(""))}})
                    };
                    (state, false, *restarts, last)
                }
            };
            let started = state.get("running").is_some();
            let mut cs = json!({
                "name": c.name,
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
            cs
        })
        .collect();
    status["containerStatuses"] = json!(container_statuses);
    out.extend(status_write(
        Target::of(Kind::Pod, &pod.metadata),
        old,
        status,
    ));
}

fn terminate(
    r: &Round,
    mem: &mut Memory,
    m: &mut PodMemory,
    pod: &Pod,
    node: &str,
    out: &mut Vec<Write>,
) {
    let spec = pod.spec.as_ref().expect("checked by caller");
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let labels = pod.metadata.labels.as_ref();
    let deleting_at: Instant = *m.deleting_at.get_or_insert(r.now);
    let grace = Duration::from_secs(
        pod.metadata
            .deletion_grace_period_seconds
            .or(spec.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64,
    );
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
    let prestop = r.rules.prestop_for(labels).filter(|_| {
        spec.containers.iter().any(|c| {
            c.lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref())
                .is_some()
        })
    });
    let natural = if r.rules.ignores_sigterm(labels) {
        grace
    } else {
        prestop.unwrap_or_default() + r.rules.timings.shutdown
    };
    let exit_after = natural.min(grace);
    // The hook is SIGKILLed when the grace period ends. This kubelet saw the
    // deletion up to one round after it was requested, and a server that
    // ends grace periods itself (the embedded one does, standing in for the
    // kubelet's confirmation) may remove the pod at the very instant of our
    // last round: so report the failure two rounds before the deadline.
    let hook_killed = r.elapsed(deleting_at, grace.saturating_sub(r.rules.timings.round * 2));
    let failed_hook = prestop.filter(|p| *p > grace && hook_killed);
    if !r.elapsed(deleting_at, exit_after) && failed_hook.is_none() {
        return;
    }
    if let Some(p) = failed_hook {
        // The hook was still running when the grace period ran out: the runtime
        // SIGKILLs it and the kubelet reports exit 137 (seed 004).
        for c in spec.containers.iter().filter(|c| {
            c.lifecycle
                .as_ref()
                .and_then(|l| l.pre_stop.as_ref())
                .is_some()
        }) {
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
                        p.as_secs(),
                        grace.as_secs()
                    ),
                ),
                out,
            );
        }
    }
    if !r.elapsed(deleting_at, exit_after) {
        return;
    }
    out.push(Write::Delete {
        target: Target::of(Kind::Pod, &pod.metadata),
        grace_seconds: Some(0),
    });
}

fn node_ip(node: &str) -> String {
    let n: u32 = node
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    format!("10.0.0.{}", 10 + n % 200)
}

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
