//! batch/v1 defaults (`pkg/apis/batch/v1/defaults.go`).

use serde_json::Value;

use super::core::pod_template;
use super::{at, fill, fill_zero, items, labels_from_template, object, unset};

/// `SetDefaults_Job`. Completions and parallelism default together only
/// when both are unset; a job with a per-index backoff limit has no global
/// one to speak of.
pub(super) fn job(obj: &mut Value) {
    if let Some(spec) = object(obj, "spec") {
        if unset(spec.get("completions")) && unset(spec.get("parallelism")) {
            spec["completions"] = 1.into();
        }
        fill(spec, "parallelism", 1);
        let per_index = !unset(spec.get("backoffLimitPerIndex"));
        fill(spec, "backoffLimit", if per_index { i32::MAX } else { 6 });
        fill(spec, "completionMode", "NonIndexed");
        fill(spec, "suspend", false);
        let failure_policy = !unset(spec.get("podFailurePolicy"));
        let replacement = if failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        };
        fill(spec, "podReplacementPolicy", replacement);
        fill(spec, "manualSelector", false);
        if let Some(policy) = at(spec, "/podFailurePolicy") {
            for rule in items(policy, "rules") {
                for pattern in items(rule, "onPodConditions") {
                    fill_zero(pattern, "status", "True");
                }
            }
        }
    }
    let labels = obj.pointer("/spec/template/metadata/labels").cloned();
    labels_from_template(obj, labels);
    pod_template(obj, "spec/template");
}

/// `SetDefaults_CronJob`. The job template gets no job defaults (those are
/// registered for Job alone), only its pod template's.
pub(super) fn cron_job(obj: &mut Value) {
    if let Some(spec) = object(obj, "spec") {
        fill_zero(spec, "concurrencyPolicy", "Allow");
        fill(spec, "suspend", false);
        fill(spec, "successfulJobsHistoryLimit", 3);
        fill(spec, "failedJobsHistoryLimit", 1);
    }
    pod_template(obj, "spec/jobTemplate/spec/template");
}
