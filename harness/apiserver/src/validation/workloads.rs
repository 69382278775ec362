//! The spec checks of workloads (`pkg/apis/apps/validation`,
//! `pkg/apis/batch/validation`) and the selector immutability their
//! registry strategies add on update, in upstream's order and words.

use serde_json::Value;

use super::go_values;
use super::pods;
use crate::selectors::LabelSelector;

type Causes = Vec<(String, String)>;

/// `ValidateNonnegativeField` for each named integer of `spec`.
fn nonnegative(spec: &Value, fields: &[&str], causes: &mut Causes) {
    for f in fields {
        if let Some(n) = spec.get(*f).and_then(Value::as_i64)
            && n < 0
        {
            causes.push((
                format!("spec.{f}"),
                format!("Invalid value: {n}: must be greater than or equal to 0"),
            ));
        }
    }
}

/// The selector checks: Required when absent (`required`), an empty one
/// refused for `kind` (Jobs have no such check: `None`), and the template's
/// labels must match it.
fn selector(spec: &Value, kind: Option<&str>, required: bool, causes: &mut Causes) {
    let sel = spec.get("selector").filter(|s| s.is_object());
    let empty = sel.is_some_and(|s| {
        ["matchLabels", "matchExpressions"].iter().all(|k| {
            s.get(*k).is_none_or(|v| {
                v.as_object().is_some_and(|m| m.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
                    || v.is_null()
            })
        })
    });
    if sel.is_none() && required {
        causes.push(("spec.selector".into(), "Required value".into()));
    }
    let labels = spec.pointer("/template/metadata/labels");
    let matched = match sel {
        None => false,
        // The template is an object with metadata.labels, as the matcher reads.
        Some(s) => LabelSelector::from_object(s)
            .is_some_and(|ls| ls.matches(spec.get("template").unwrap_or(&Value::Null))),
    };
    let mismatch = (
        "spec.template.metadata.labels".to_string(),
        format!(
            "Invalid value: {}: `selector` does not match template `labels`",
            go_values::string_map(labels)
        ),
    );
    let refused = sel.filter(|_| empty).zip(kind).map(|(s, kind)| {
        (
            "spec.selector".to_string(),
            format!(
                "Invalid value: {}: empty selector is invalid for {kind}",
                go_values::label_selector(s)
            ),
        )
    });
    // DaemonSet checks the labels first; the others the selector.
    if kind == Some("daemonset") {
        if !matched {
            causes.push(mismatch);
        }
        causes.extend(refused);
    } else {
        causes.extend(refused);
        if !matched {
            causes.push(mismatch);
        }
    }
}

fn restart_policy(spec: &Value) -> &str {
    spec.pointer("/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always")
}

/// The template of a controller whose pods always restart.
fn always_restarting_template(spec: &Value, kind: &str, causes: &mut Causes) {
    let policy = restart_policy(spec);
    if policy != "Always" {
        causes.push((
            "spec.template.spec.restartPolicy".into(),
            format!("Unsupported value: {policy:?}: supported values: \"Always\""),
        ));
    }
    if spec
        .pointer("/template/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        causes.push((
            "spec.template.spec.activeDeadlineSeconds".into(),
            format!("Forbidden: activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

/// `field is immutable` for a changed selector (the registry strategies'
/// `ValidateUpdate`), appended last.
fn selector_unchanged(spec: &Value, old: Option<&Value>, causes: &mut Causes) {
    let Some(old) = old else {
        return;
    };
    let new_sel = spec.get("selector");
    if new_sel != old.pointer("/spec/selector") {
        causes.push((
            "spec.selector".into(),
            format!(
                "Invalid value: {}: field is immutable",
                new_sel.map_or("null".into(), go_values::label_selector)
            ),
        ));
    }
}

fn spec_of(obj: &Value) -> &Value {
    obj.get("spec").unwrap_or(&Value::Null)
}

/// `ValidateDeploymentSpec`, then the strategy's selector immutability.
pub(crate) fn deployment(obj: &Value, old: Option<&Value>) -> Causes {
    let spec = spec_of(obj);
    let mut causes = Vec::new();
    nonnegative(spec, &["replicas"], &mut causes);
    selector(spec, Some("deployment"), true, &mut causes);
    pods::spec(
        "spec.template.spec",
        spec.pointer("/template/spec"),
        &mut causes,
    );
    always_restarting_template(spec, "ReplicaSet", &mut causes);
    if let Some(ru) = spec
        .pointer("/strategy/rollingUpdate")
        .filter(|r| r.is_object())
    {
        if spec.pointer("/strategy/type").and_then(Value::as_str) == Some("Recreate") {
            causes.push((
                "spec.strategy.rollingUpdate".into(),
                "Forbidden: may not be specified when strategy `type` is 'Recreate'".into(),
            ));
        } else {
            let zero = |v: Option<&Value>| {
                v.is_some_and(|v| v.as_i64() == Some(0) || v.as_str() == Some("0%"))
            };
            if zero(ru.get("maxUnavailable")) && zero(ru.get("maxSurge")) {
                causes.push((
                    "spec.strategy.rollingUpdate.maxUnavailable".into(),
                    format!(
                        "Invalid value: {}: may not be 0 when `maxSurge` is 0",
                        go_values::int_or_string(&ru["maxUnavailable"])
                    ),
                ));
            }
        }
    }
    nonnegative(
        spec,
        &["minReadySeconds", "revisionHistoryLimit"],
        &mut causes,
    );
    let min_ready = spec
        .get("minReadySeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(deadline) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64)
        && deadline <= min_ready
    {
        causes.push((
            "spec.progressDeadlineSeconds".into(),
            format!("Invalid value: {deadline}: must be greater than minReadySeconds"),
        ));
    }
    selector_unchanged(spec, old, &mut causes);
    causes
}

/// `ValidateReplicaSetSpec` (whose empty-selector text names deployments).
/// An update validates the spec twice (`ValidateReplicaSet` and
/// `ValidateReplicaSetUpdate`), so its causes come twice.
pub(crate) fn replica_set(obj: &Value, old: Option<&Value>) -> Causes {
    let spec = spec_of(obj);
    let mut causes = Vec::new();
    nonnegative(spec, &["replicas", "minReadySeconds"], &mut causes);
    selector(spec, Some("deployment"), true, &mut causes);
    pods::spec(
        "spec.template.spec",
        spec.pointer("/template/spec"),
        &mut causes,
    );
    always_restarting_template(spec, "ReplicaSet", &mut causes);
    if old.is_some() {
        causes.extend(causes.clone());
    }
    selector_unchanged(spec, old, &mut causes);
    causes
}

/// `ValidateStatefulSetSpec` (the pod spec itself is not validated there;
/// what an update may change is the strategy's check).
pub(crate) fn stateful_set(obj: &Value) -> Causes {
    let spec = spec_of(obj);
    let mut causes = Vec::new();
    if let Some(p) = spec.get("podManagementPolicy").and_then(Value::as_str)
        && !["OrderedReady", "Parallel"].contains(&p)
    {
        causes.push((
            "spec.podManagementPolicy".into(),
            format!("Invalid value: {p:?}: must be 'OrderedReady' or 'Parallel'"),
        ));
    }
    nonnegative(spec, &["replicas", "minReadySeconds"], &mut causes);
    selector(spec, Some("statefulset"), true, &mut causes);
    always_restarting_template(spec, "StatefulSet", &mut causes);
    causes
}

/// `ValidateDaemonSetSpec`, then the strategy's selector immutability.
pub(crate) fn daemon_set(obj: &Value, old: Option<&Value>) -> Causes {
    let spec = spec_of(obj);
    let mut causes = Vec::new();
    selector(spec, Some("daemonset"), false, &mut causes);
    pods::spec(
        "spec.template.spec",
        spec.pointer("/template/spec"),
        &mut causes,
    );
    always_restarting_template(spec, "DaemonSet", &mut causes);
    nonnegative(
        spec,
        &["minReadySeconds", "revisionHistoryLimit"],
        &mut causes,
    );
    selector_unchanged(spec, old, &mut causes);
    causes
}

/// `ValidateJob` / `ValidateJobUpdate`: counts, a restart policy of
/// OnFailure or Never, and (on update) the fields that may not change.
pub(crate) fn job(obj: &Value, old: Option<&Value>) -> Causes {
    let spec = spec_of(obj);
    let mut causes = Vec::new();
    nonnegative(
        spec,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
            "ttlSecondsAfterFinished",
        ],
        &mut causes,
    );
    pods::spec(
        "spec.template.spec",
        spec.pointer("/template/spec"),
        &mut causes,
    );
    job_restart_policy(
        "spec.template.spec.restartPolicy",
        restart_policy(spec),
        &mut causes,
    );
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        selector(spec, None, true, &mut causes);
    }
    let Some(old) = old else {
        return causes;
    };
    // The update validates the spec a second time.
    causes.extend(causes.clone());
    let old_spec = spec_of(old);
    selector_unchanged(spec, Some(old), &mut causes);
    let indexed = spec.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if !indexed && spec.get("completions") != old_spec.get("completions") {
        causes.push((
            "spec.completions".into(),
            format!(
                "Invalid value: {}: field is immutable",
                spec.get("completions")
                    .map_or("null".into(), Value::to_string)
            ),
        ));
    }
    if spec.get("template") != old_spec.get("template") && !suspended_unstarted(spec, old) {
        causes.push((
            "spec.template".into(),
            "Invalid value: core.PodTemplateSpec{...}: field is immutable".into(),
        ));
    }
    causes
}

/// A suspended Job that never started may change its pod template's
/// scheduling (upstream limits which fields; any change is let through here).
fn suspended_unstarted(spec: &Value, old: &Value) -> bool {
    spec.get("suspend").and_then(Value::as_bool) == Some(true)
        && old.pointer("/status/startTime").is_none_or(Value::is_null)
}

fn job_restart_policy(field: &str, policy: &str, causes: &mut Causes) {
    match policy {
        "OnFailure" | "Never" => {}
        "Always" => causes.push((
            field.into(),
            "Required value: valid values: \"OnFailure\", \"Never\"".into(),
        )),
        other => causes.push((
            field.into(),
            format!("Unsupported value: {other:?}: supported values: \"OnFailure\", \"Never\""),
        )),
    }
}

/// `validateCronJobSpec`: a five-field schedule (or a descriptor), no TZ
/// prefix, a known concurrency policy, and a Job template whose pods do not
/// always restart.
pub(crate) fn cron_job(obj: &Value) -> Causes {
    let spec = spec_of(obj);
    let mut causes = Vec::new();
    let schedule = spec.get("schedule").and_then(Value::as_str).unwrap_or("");
    if schedule.is_empty() {
        causes.push(("spec.schedule".into(), "Required value".into()));
    } else if schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=") {
        causes.push((
            "spec.schedule".into(),
            format!("Invalid value: {schedule:?}: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        ));
    } else if let Err(why) = cron_schedule(schedule) {
        causes.push((
            "spec.schedule".into(),
            format!("Invalid value: {schedule:?}: {why}"),
        ));
    }
    if let Some(p) = spec.get("concurrencyPolicy").and_then(Value::as_str)
        && !["Allow", "Forbid", "Replace"].contains(&p)
    {
        causes.push((
            "spec.concurrencyPolicy".into(),
            format!(
                "Unsupported value: {p:?}: supported values: \"Allow\", \"Forbid\", \"Replace\""
            ),
        ));
    }
    nonnegative(
        spec,
        &[
            "startingDeadlineSeconds",
            "successfulJobsHistoryLimit",
            "failedJobsHistoryLimit",
        ],
        &mut causes,
    );
    let policy = spec
        .pointer("/jobTemplate/spec/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always");
    job_restart_policy(
        "spec.jobTemplate.spec.template.spec.restartPolicy",
        policy,
        &mut causes,
    );
    causes
}

/// robfig/cron v3's `ParseStandard`, as far as its errors go: descriptors,
/// five fields, numbers within each field's range.
fn cron_schedule(schedule: &str) -> Result<(), String> {
    if let Some(d) = schedule.strip_prefix('@') {
        return match d {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ if d.starts_with("every ") => Ok(()),
            _ => Err(format!("unrecognized descriptor: {schedule}")),
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected exactly 5 fields, found {}: [{}]",
            fields.len(),
            fields.join(" ")
        ));
    }
    let bounds = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
    let names: [&[&str]; 5] = [
        &[],
        &[],
        &[],
        &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    ];
    for ((field, (min, max)), names) in fields.iter().zip(bounds).zip(names) {
        for part in field.split(',') {
            let (range, step) = part.split_once('/').unwrap_or((part, ""));
            if !step.is_empty() {
                step.parse::<u32>().map_err(|_| {
                    format!("failed to parse int from {step}: strconv.Atoi: parsing {step:?}: invalid syntax")
                })?;
            }
            if range == "*" || range == "?" {
                continue;
            }
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            let value = |s: &str| -> Result<u32, String> {
                if let Some(i) = names.iter().position(|n| s.eq_ignore_ascii_case(n)) {
                    return Ok(i as u32 + if min == 1 { 1 } else { 0 });
                }
                s.parse::<u32>().map_err(|_| {
                    format!(
                        "failed to parse int from {s}: strconv.Atoi: parsing {s:?}: invalid syntax"
                    )
                })
            };
            let (a, b) = (value(lo)?, value(hi)?);
            if a < min {
                return Err(format!(
                    "beginning of range ({a}) below minimum ({min}): {part}"
                ));
            }
            if b > max {
                return Err(format!("end of range ({b}) above maximum ({max}): {part}"));
            }
            if a > b {
                return Err(format!(
                    "beginning of range ({a}) beyond end of range ({b}): {part}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cron_schedule;

    #[test]
    fn schedules_parse_as_robfig_cron_does() {
        assert!(cron_schedule("*/5 * * * *").is_ok());
        assert!(cron_schedule("0 3 * * mon-fri").is_ok());
        assert!(cron_schedule("@hourly").is_ok());
        assert_eq!(
            cron_schedule("bad").unwrap_err(),
            "expected exactly 5 fields, found 1: [bad]"
        );
        assert_eq!(
            cron_schedule("0 * * * * *").unwrap_err(),
            "expected exactly 5 fields, found 6: [0 * * * * *]"
        );
        assert_eq!(
            cron_schedule("61 * * * *").unwrap_err(),
            "end of range (61) above maximum (59): 61"
        );
        assert_eq!(
            cron_schedule("x * * * *").unwrap_err(),
            "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            cron_schedule("@foo").unwrap_err(),
            "unrecognized descriptor: @foo"
        );
    }
}
