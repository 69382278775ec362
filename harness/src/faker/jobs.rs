//! The Job controller, and the kubelet's part for pods that run to
//! completion: a Job's pod runs for `timings.job_run` once its containers
//! started, then exits 0 (`Succeeded`) or, by a fault rule, 1 (`Failed`);
//! the controller replaces failed pods until `backoffLimit` is passed, and
//! marks the Job `Complete` or `Failed`.
//!
//! Upstream references: `pkg/controller/job/job_controller.go` (pods named
//! `<job>-<suffix>` with the `batch.kubernetes.io/job-name` and
//! `controller-uid` labels, `SuccessfulCreate` "Created pod: …", status
//! counts, `SuccessCriteriaMet` then `Complete` with `CompletionsReached`,
//! `FailureTarget` then `Failed` with `BackoffLimitExceeded`, the
//! `Completed` and `BackoffLimitExceeded` Events, replacement back-off 10 s
//! doubling to 10 min) and the kubelet's terminated container state
//! (`Completed` / `Error`; `PodCompleted` / `PodFailed` conditions).
//!
//! Simplified: both terminal conditions are written in one status write
//! (upstream writes the `…Target` one first, then the final one after the
//! pods' `batch.kubernetes.io/job-tracking` finalizers, not added here, are
//! removed).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::kubelet::set_condition;
use super::model::{
    EventSpec, Kind, Memory, ObjRef, Round, Target, Write, controlled_by, controller_ref,
    is_finished, is_terminating, name, say_once, short_hash, status_write, to_value,
};

const CONTROLLER: &str = "job-controller";

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref().and_then(|s| s.phase.as_deref())
}

fn job_condition(job: &Job, type_: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// Back-off before replacing the `n`th failed pod: 10 s doubling, capped
/// at 10 minutes (`DefaultJobPodFailureBackOff`, `MaxJobPodFailureBackOff`).
fn failure_backoff(n: u32) -> Duration {
    Duration::from_secs((10u64 << n.saturating_sub(1).min(6)).min(600))
}

/// One round: finish the Job pods whose run is over, then reconcile Jobs.
pub(super) fn reconcile(r: &Round, mem: &mut Memory) -> Vec<Write> {
    let mut out = Vec::new();
    for job in &r.world.jobs {
        if r.paused(Kind::Job, &job.metadata) || is_terminating(&job.metadata) {
            continue;
        }
        let pods: Vec<&Pod> = r
            .world
            .pods
            .iter()
            .filter(|p| controlled_by(&p.metadata, job.metadata.uid.as_deref()))
            .collect();
        finish_pods(r, mem, job, &pods, &mut out);
        if job_condition(job, "Complete") || job_condition(job, "Failed") {
            continue;
        }
        sync(r, mem, job, &pods, &mut out);
    }
    out
}

/// The kubelet's part: a started Job pod exits once it has run its time,
/// unless a rule says the job hangs.
fn finish_pods(r: &Round, mem: &mut Memory, job: &Job, pods: &[&Pod], out: &mut Vec<Write>) {
    let job_name = name(&job.metadata);
    if r.rules.job_hangs(job_name) {
        return;
    }
    let failed_so_far = pods.iter().filter(|p| phase(p) == Some("Failed")).count() as u32;
    let mut failing = failed_so_far;
    for pod in pods {
        if is_finished(pod) || is_terminating(&pod.metadata) || phase(pod) != Some("Running") {
            continue;
        }
        if r.paused(Kind::Pod, &pod.metadata) {
            continue;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let Some(started) = mem.pods.get(&uid).and_then(|m| m.started_at) else {
            continue;
        };
        if !r.elapsed(started, r.rules.timings.job_run) {
            continue;
        }
        let fail = failing < r.rules.job_failures(job_name);
        if fail {
            failing += 1;
        }
        out.extend(exited(r, pod, if fail { 1 } else { 0 }));
    }
}

/// The pod status the kubelet writes when every container exited with `code`.
fn exited(r: &Round, pod: &Pod, code: i32) -> Option<Write> {
    let old = pod.status.as_ref().map(to_value);
    let mut status = old.clone().unwrap_or_else(|| json!({}));
    let ts = r.ts();
    // The terminated reason is the runtime's (containerd's CRI plugin);
    // the conditions' is the kubelet's (`pkg/kubelet/status/generate.go`).
    let (pod_phase, reason, condition_reason) = if code == 0 {
        ("Succeeded", "Completed", "PodCompleted")
    } else {
        ("Failed", "Error", "PodFailed")
    };
    status["phase"] = json!(pod_phase);
    let statuses: Vec<Value> = status
        .get("containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut c| {
            let started = c
                .pointer("/state/running/startedAt")
                .cloned()
                .unwrap_or_else(|| json!(ts));
            c["state"] = json!({"terminated": {
                "exitCode": code, "reason": reason, "startedAt": started, "finishedAt": ts,
                "containerID": c.get("containerID"),
            }});
            c["ready"] = json!(false);
            c["started"] = json!(false);
            c
        })
        .collect();
    status["containerStatuses"] = json!(statuses);
    for type_ in ["Ready", "ContainersReady"] {
        set_condition(
            &mut status,
            old.as_ref(),
            type_,
            "False",
            Some((condition_reason, "")),
            &ts,
        );
    }
    status_write(Target::of(Kind::Pod, &pod.metadata), old, status)
}

/// How a Job ends: its two terminal conditions (the `…Target` one and the
/// final one) with one reason and message, and the Event saying so.
struct Ending {
    conditions: [&'static str; 2],
    reason: &'static str,
    message: &'static str,
    /// Type, reason and message of the Event.
    event: (&'static str, &'static str, &'static str),
}

impl Ending {
    /// Writes the ending into `status` (read as `old`) at `now`.
    fn write(
        &self,
        mem: &mut Memory,
        job: &Job,
        old: Option<Value>,
        mut status: Value,
        now: &str,
        out: &mut Vec<Write>,
    ) {
        status["active"] = json!(0);
        status["ready"] = json!(0);
        for type_ in self.conditions {
            set_condition(
                &mut status,
                old.as_ref(),
                type_,
                "True",
                Some((self.reason, self.message)),
                now,
            );
        }
        out.extend(status_write(
            Target::of(Kind::Job, &job.metadata),
            old,
            status,
        ));
        let (type_, reason, message) = self.event;
        let uid = job.metadata.uid.as_deref().unwrap_or_default();
        say_once(
            mem,
            format!("job-{reason}/{uid}"),
            EventSpec::new(type_, CONTROLLER, ObjRef::to(job), reason, message),
            out,
        );
    }
}

fn sync(r: &Round, mem: &mut Memory, job: &Job, pods: &[&Pod], out: &mut Vec<Write>) {
    let spec = job.spec.clone().unwrap_or_default();
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let job_name = name(&job.metadata).to_owned();
    let completions = spec.completions.unwrap_or(1);
    let parallelism = spec.parallelism.unwrap_or(1);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let active: Vec<&&Pod> = pods
        .iter()
        .filter(|p| !is_finished(p) && !is_terminating(&p.metadata))
        .collect();
    let succeeded = pods
        .iter()
        .filter(|p| phase(p) == Some("Succeeded"))
        .count() as i32;
    let failed = pods.iter().filter(|p| phase(p) == Some("Failed")).count() as i32;
    let ready = active
        .iter()
        .filter(|p| super::model::pod_condition(p, "Ready") == Some("True"))
        .count() as i32;
    let ts = r.ts();
    let old = job.status.as_ref().map(to_value);
    let mut status = old.clone().unwrap_or_else(|| json!({}));
    if status.get("startTime").is_none() {
        status["startTime"] = json!(ts);
    }
    status["succeeded"] = json!(succeeded);
    status["failed"] = json!(failed);
    status["terminating"] = json!(0);
    status["uncountedTerminatedPods"] = json!({});

    if succeeded >= completions {
        status["completionTime"] = json!(ts);
        let done = Ending {
            conditions: ["SuccessCriteriaMet", "Complete"],
            reason: "CompletionsReached",
            message: "Reached expected number of succeeded pods",
            event: ("Normal", "Completed", "Job completed"),
        };
        done.write(mem, job, old, status, &ts, out);
        return;
    }
    if failed > backoff_limit {
        for p in &active {
            out.push(Write::Delete {
                target: Target::of(Kind::Pod, &p.metadata),
                grace_seconds: None,
            });
        }
        let message = "Job has reached the specified backoff limit";
        let done = Ending {
            conditions: ["FailureTarget", "Failed"],
            reason: "BackoffLimitExceeded",
            message,
            event: ("Warning", "BackoffLimitExceeded", message),
        };
        done.write(mem, job, old, status, &ts, out);
        return;
    }

    let wanted = parallelism.min(completions - succeeded);
    let backing_off = failed > 0 && {
        let last = mem.jobs.entry(format!("{uid}/{failed}")).or_insert(r.now);
        !r.elapsed(*last, failure_backoff(failed as u32))
    };
    let have = active.len() as i32;
    let mut active_count = have;
    if have < wanted && !backing_off && !spec.suspend.unwrap_or(false) {
        let template = to_value(&spec.template);
        for attempt in have..wanted {
            let suffix: String = short_hash(&json!([uid, pods.len() as i32 + attempt]))
                .chars()
                .take(5)
                .collect();
            let pod_name = format!("{job_name}-{suffix}");
            let mut labels = template
                .pointer("/metadata/labels")
                .cloned()
                .unwrap_or_else(|| json!({}));
            labels["batch.kubernetes.io/controller-uid"] = json!(uid);
            labels["batch.kubernetes.io/job-name"] = json!(job_name);
            labels["controller-uid"] = json!(uid);
            labels["job-name"] = json!(job_name);
            out.push(Write::Create {
                kind: Kind::Pod,
                object: json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": pod_name,
                        "namespace": job.metadata.namespace,
                        "labels": labels,
                        "annotations": template.pointer("/metadata/annotations"),
                        "ownerReferences": [controller_ref(job)],
                    },
                    "spec": template.get("spec"),
                }),
            });
            out.push(Write::Event(EventSpec::new(
                "Normal",
                CONTROLLER,
                ObjRef::to(job),
                "SuccessfulCreate",
                format!("Created pod: {pod_name}"),
            )));
            active_count += 1;
        }
    }
    status["active"] = json!(active_count);
    status["ready"] = json!(ready);
    out.extend(status_write(
        Target::of(Kind::Job, &job.metadata),
        old,
        status,
    ));
}
