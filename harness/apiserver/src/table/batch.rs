//! batch/v1 tables (`printJob`, `printCronJob`).

use jiff::Timestamp;
use serde_json::Value;

use super::{Printer, age, age_of, containers, format_selector, n, s};
use crate::clock::human_age;
use crate::store::meta;

pub(super) fn printer(plural: &str) -> Option<Printer> {
    Some(match plural {
        "jobs" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Status", "string", 0),
                ("Completions", "string", 0),
                ("Duration", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
            cells: job,
        },
        "cronjobs" => Printer {
            columns: &[
                ("Name", "string", 0),
                ("Schedule", "string", 0),
                ("Timezone", "string", 0),
                ("Suspend", "boolean", 0),
                ("Active", "integer", 0),
                ("Last Schedule", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ],
            cells: cron_job,
        },
        _ => return None,
    })
}

/// Whether the first condition of `ty` is true (`hasJobCondition`).
fn has_condition(o: &Value, ty: &str) -> bool {
    o.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
        .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
}

fn job(o: &Value, now: Timestamp) -> Vec<Value> {
    let status = if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if meta::deletion_timestamp(o).is_some() {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let succeeded = n(o, "/status/succeeded");
    let completions = match o.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match n(o, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let time = |ptr: &str| s(o, ptr).parse::<Timestamp>().ok();
    let duration = match (time("/status/startTime"), time("/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_age(now, start),
        (Some(start), Some(end)) => human_age(end, start),
    };
    let (names, images) = containers(o, "/spec/template/spec/containers");
    vec![
        meta::name(o).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age(o, now),
        names.into(),
        images.into(),
        format_selector(o.pointer("/spec/selector")).into(),
    ]
}

fn cron_job(o: &Value, now: Timestamp) -> Vec<Value> {
    let suspend = match o.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let active = o
        .pointer("/status/active")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let last = s(o, "/status/lastScheduleTime");
    let last = if last.is_empty() {
        "<none>".into()
    } else {
        age_of(&last, now)
    };
    let (names, images) = containers(o, "/spec/jobTemplate/spec/template/spec/containers");
    vec![
        meta::name(o).into(),
        s(o, "/spec/schedule").into(),
        super::or_none(s(o, "/spec/timeZone")),
        suspend.into(),
        active.into(),
        last,
        age(o, now),
        names.into(),
        images.into(),
        format_selector(o.pointer("/spec/jobTemplate/spec/selector")).into(),
    ]
}
