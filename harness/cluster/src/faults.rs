//! `POST /faults/<rule>?…`: the StatusFaker's fault rules for a suite in
//! another language, one per request. Each rule stays until the cluster
//! stops (except `node-ready` and `resize-succeeds`, which lift one).

use std::time::Duration;

use kube_harness::faker::StatusFaker;

/// The rules and the query parameters each needs, for the 404's list.
pub(crate) const RULES: &[(&str, &[&str])] = &[
    ("image-pull-failure", &["image"]),
    ("crash-loop", &["image"]),
    ("never-bind", &["claim"]),
    ("slow-readiness", &["selector", "seconds"]),
    ("ignore-sigterm", &["selector"]),
    ("node-not-ready", &["node"]),
    ("node-ready", &["node"]),
    ("disk-usage", &["claim", "bytes"]),
    ("resize-fails", &["claim"]),
    ("resize-succeeds", &[]),
    ("job-hangs", &["job"]),
    ("job-fails", &["job", "times"]),
];

/// Applies `rule` with the query's parameters; `Err` is what the 400 (or,
/// for an unknown rule, the 404) says.
pub(crate) fn apply<'q>(
    faker: &StatusFaker,
    rule: &str,
    param: impl Fn(&str) -> Option<&'q str>,
) -> Result<(), (bool, String)> {
    let Some((_, needs)) = RULES.iter().find(|(name, _)| *name == rule) else {
        let known: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
        return Err((
            false,
            format!("no fault rule {rule:?}; the rules are {}", known.join(", ")),
        ));
    };
    let mut values = Vec::new();
    for p in *needs {
        match param(p).filter(|v| !v.is_empty()) {
            Some(v) => values.push(v),
            None => {
                let query: Vec<String> = needs.iter().map(|n| format!("{n}=…")).collect();
                return Err((
                    true,
                    format!("POST /faults/{rule} needs ?{}", query.join("&")),
                ));
            }
        }
    }
    let number = |name: &str, text: &str| {
        text.parse::<u64>()
            .map_err(|_| (true, format!("?{name}={text} is not a whole number")))
    };
    match (rule, values.as_slice()) {
        ("image-pull-failure", [image]) => faker.fail_image_pulls(image),
        ("crash-loop", [image]) => faker.crash_loop(image),
        ("never-bind", [claim]) => faker.never_bind(claim),
        ("slow-readiness", [selector, seconds]) => {
            let extra = Duration::from_secs(number("seconds", seconds)?);
            faker.slow_readiness(selector, extra)
        }
        ("ignore-sigterm", [selector]) => faker.ignore_sigterm(selector),
        ("node-not-ready", [node]) => faker.node_not_ready(node),
        ("node-ready", [node]) => faker.node_ready(node),
        ("disk-usage", [claim, bytes]) => faker.set_disk_usage(claim, number("bytes", bytes)?),
        ("resize-fails", [claim]) => faker.resize_fails(claim),
        ("resize-succeeds", []) => faker.resize_succeeds(),
        ("job-hangs", [job]) => faker.job_hangs(job),
        ("job-fails", [job, times]) => {
            let times = u32::try_from(number("times", times)?)
                .map_err(|_| (true, format!("?times={times} is too large")))?;
            faker.job_fails(job, times)
        }
        _ => unreachable!("every rule in RULES has an arm"),
    };
    Ok(())
}
