//! Fault rules and timings: how a test bends the faked world.
//!
//! Every rule mirrors something a real cluster does when a dependency fails,
//! so the operator under test sees the status and events it would see there.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube_harness_apiserver::selectors::LabelSelector;
use regex::Regex;

/// How long the faked components take. Defaults are short but non-zero so an
/// operator sees the intermediate states (Pending, Running-not-Ready).
#[derive(Clone, Debug)]
pub struct Timings {
    /// Pause between driver rounds.
    pub round: Duration,
    /// Image pull time (Pulling → Pulled).
    pub pull: Duration,
    /// Container start → Ready (readiness probe passing).
    pub ready: Duration,
    /// Time a container takes to exit after SIGTERM (capped by the grace period).
    pub shutdown: Duration,
    /// PVC Pending → Bound.
    pub bind: Duration,
    /// PVC request raised → capacity follows.
    pub expand: Duration,
    /// Back-off between image pull retries (ErrImagePull → ImagePullBackOff).
    pub pull_backoff: Duration,
    /// Time a crash-looping container runs before it exits again.
    pub crash_after: Duration,
    /// VolumeAttachment created → attached (ControllerPublish).
    pub attach: Duration,
    /// VolumeAttachment deleted → gone (ControllerUnpublish).
    pub detach: Duration,
    /// How long a Job's pod runs before it exits.
    pub job_run: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            round: Duration::from_millis(100),
            pull: Duration::from_millis(200),
            ready: Duration::from_millis(500),
            shutdown: Duration::from_millis(200),
            bind: Duration::from_millis(100),
            expand: Duration::from_secs(2),
            pull_backoff: Duration::from_secs(10),
            crash_after: Duration::from_secs(1),
            attach: Duration::from_millis(200),
            detach: Duration::from_millis(200),
            job_run: Duration::from_secs(1),
        }
    }
}

/// A shell-style pattern (`*` matches anything) over image references or names.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    re: Regex,
}

impl Pattern {
    /// Compile a glob; every character but `*` is literal.
    pub(crate) fn new(glob: &str) -> Self {
        let body = glob
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*");
        let re = Regex::new(&format!("^{body}$")).expect("escaped glob is a valid regex");
        Pattern { re }
    }

    /// Does `s` match?
    pub(crate) fn matches(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

/// Which pods a rule applies to: a label selector in the API server's
/// grammar (`app=db,tier in (a,b)`), parsed by the embedded server's parser.
pub(super) type Labels = LabelSelector;

/// Parses a selector a test gave the faker.
///
/// # Panics
/// When it does not parse: a test's setup is wrong, which no retry fixes;
/// the message names the selector and the problem.
pub(crate) fn parse_selector(s: &str) -> Labels {
    LabelSelector::parse(s).unwrap_or_else(|e| panic!("StatusFaker: invalid label selector: {e}"))
}

/// A volume's usage as a test scripted it: `bytes` at `since`, growing by
/// `per_second` of tokio time (a disk filling up). What a filesystem
/// reports never exceeds its size; readers clamp to the capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DiskUsage {
    pub bytes: u64,
    pub per_second: u64,
    pub since: tokio::time::Instant,
}

impl DiskUsage {
    /// Usage that stays as set.
    pub(crate) fn fixed(bytes: u64, now: tokio::time::Instant) -> Self {
        Self {
            bytes,
            per_second: 0,
            since: now,
        }
    }

    /// The usage at `now`.
    pub(crate) fn at(&self, now: tokio::time::Instant) -> u64 {
        let secs = now.saturating_duration_since(self.since).as_secs_f64();
        self.bytes
            .saturating_add((self.per_second as f64 * secs) as u64)
    }
}

/// A volume's usage over time, as a test scripted it: pieces that start at
/// their `since`; the last one started is in force (before the first: 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UsageScript(pub Vec<DiskUsage>);

impl UsageScript {
    /// The usage at `now`.
    pub(crate) fn at(&self, now: tokio::time::Instant) -> u64 {
        self.0
            .iter()
            .rev()
            .find(|u| u.since <= now)
            .map_or(0, |u| u.at(now))
    }
}

/// Fault rules in force.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    /// Bumped by every change a test makes, so pods and nodes found
    /// settled are looked at again under the new rules.
    pub generation: u64,
    /// Timings of the healthy path.
    pub timings: Timings,
    /// Images whose pull fails (ErrImagePull, then ImagePullBackOff).
    pub pull_failures: Vec<Pattern>,
    /// Images whose container exits shortly after start (CrashLoopBackOff).
    pub crash_loops: Vec<Pattern>,
    /// PVCs (by name pattern or storage class name) that never bind.
    pub unbound_pvcs: Vec<Pattern>,
    /// Extra time before pods with these labels become Ready.
    pub slow_readiness: Vec<(Labels, Duration)>,
    /// Pods with these labels ignore SIGTERM: they use the full grace period.
    pub ignore_sigterm: Vec<Labels>,
    /// Pods with these labels run a preStop hook for this long.
    pub prestop: Vec<(Labels, Duration)>,
    /// Nodes whose kubelet stopped posting status.
    pub not_ready_nodes: BTreeSet<String>,
    /// Disk usage per PVC name, as a test scripted it.
    pub disk_usage: BTreeMap<String, UsageScript>,
    /// Nodes the faker creates if the cluster has none.
    pub nodes: u32,
    /// Claims (by name or class pattern) whose expansion fails.
    pub resize_failures: Vec<Pattern>,
    /// Claims (by name or class pattern) whose expansion takes this long.
    pub slow_resizes: Vec<(Pattern, Duration)>,
    /// A volume may be expanded again only this long after its last expansion.
    pub resize_cooldown: Option<Duration>,
    /// Jobs (by name pattern) whose pods never exit.
    pub hung_jobs: Vec<Pattern>,
    /// Jobs (by name pattern) whose first N pods exit 1.
    pub failing_jobs: Vec<(Pattern, u32)>,
}

impl Rules {
    /// Does the image fail to pull?
    pub(crate) fn pull_fails(&self, image: &str) -> bool {
        self.pull_failures.iter().any(|p| p.matches(image))
    }

    /// Does the image crash-loop?
    pub(crate) fn crash_loops(&self, image: &str) -> bool {
        self.crash_loops.iter().any(|p| p.matches(image))
    }

    /// Does this claim never bind?
    pub(crate) fn never_binds(&self, pvc_name: &str, storage_class: Option<&str>) -> bool {
        self.unbound_pvcs
            .iter()
            .any(|p| p.matches(pvc_name) || storage_class.is_some_and(|c| p.matches(c)))
    }

    /// Does the expansion of this claim fail?
    pub(crate) fn resize_fails(&self, claim: &str, class: Option<&str>) -> bool {
        self.resize_failures
            .iter()
            .any(|p| p.matches(claim) || class.is_some_and(|c| p.matches(c)))
    }

    /// How long the expansion of this claim takes, when a rule says.
    pub(crate) fn resize_time(&self, claim: &str, class: Option<&str>) -> Option<Duration> {
        self.slow_resizes
            .iter()
            .filter(|(p, _)| p.matches(claim) || class.is_some_and(|c| p.matches(c)))
            .map(|(_, d)| *d)
            .max()
    }

    /// Does this Job's pod run forever?
    pub(crate) fn job_hangs(&self, job: &str) -> bool {
        self.hung_jobs.iter().any(|p| p.matches(job))
    }

    /// How many of this Job's pods fail.
    pub(crate) fn job_failures(&self, job: &str) -> u32 {
        self.failing_jobs
            .iter()
            .filter(|(p, _)| p.matches(job))
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0)
    }

    /// Extra readiness delay for a pod.
    pub(crate) fn extra_readiness(&self, labels: Option<&BTreeMap<String, String>>) -> Duration {
        self.slow_readiness
            .iter()
            .filter(|(sel, _)| super::model::labels_match(sel, labels))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }

    /// Does the pod ignore SIGTERM?
    pub(crate) fn ignores_sigterm(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.ignore_sigterm
            .iter()
            .any(|sel| super::model::labels_match(sel, labels))
    }

    /// How long the pod's preStop hook runs, if it has one that we fake.
    pub(crate) fn prestop_for(
        &self,
        labels: Option<&BTreeMap<String, String>>,
    ) -> Option<Duration> {
        self.prestop
            .iter()
            .filter(|(sel, _)| super::model::labels_match(sel, labels))
            .map(|(_, d)| *d)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_script_follows_its_pieces() {
        let t0 = tokio::time::Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let script = UsageScript(vec![
            DiskUsage::fixed(100, at(10)),
            DiskUsage {
                bytes: 200,
                per_second: 5,
                since: at(20),
            },
            DiskUsage::fixed(50, at(30)),
        ]);
        assert_eq!(script.at(at(0)), 0, "nothing before the first piece");
        assert_eq!(script.at(at(15)), 100);
        assert_eq!(script.at(at(24)), 220, "filling from 200 at 5 B/s");
        assert_eq!(script.at(at(99)), 50, "data deleted: usage goes down");
    }

    #[test]
    fn glob_is_literal_but_star() {
        let p = Pattern::new("registry.io/app:v2*");
        assert!(p.matches("registry.io/app:v2"));
        assert!(p.matches("registry.io/app:v2.1"));
        assert!(!p.matches("registryXio/app:v2"));
        assert!(!p.matches("registry.io/app:v1"));
    }

    #[test]
    fn selectors_use_the_servers_grammar() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let s = parse_selector("app=db, tier in (a,b)");
        assert!(s.matches_labels(&labels(&[("app", "db"), ("tier", "a")])));
        assert!(!s.matches_labels(&labels(&[("app", "db"), ("tier", "c")])));
        assert!(parse_selector("").is_empty());
    }

    #[test]
    #[should_panic(expected = "StatusFaker: invalid label selector: unable to parse requirement")]
    fn a_malformed_selector_is_refused_not_dropped() {
        // The faker's old parser dropped `tier` silently and paused every
        // `app=db` pod; now the test hears about it.
        parse_selector("app=db,tier in a");
    }
}
