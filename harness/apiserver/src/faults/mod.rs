//! Faults on demand: an API server that answers some requests the way an
//! overloaded or contended kube-apiserver does (409 on an update, 429 with
//! Retry-After, 500, 503, 504, a slow answer), so an operator's retry paths
//! run in a test instead of first in production.
//!
//! A [`Fault`] says which requests it hits (verb, resource, namespace, name,
//! field manager, user agent), how often (a number of times, a probability
//! drawn from a seeded generator, a window of tokio time), and what happens.
//! [`Faults`] holds the rules of one server and remembers every injection
//! ([`Injected`]), so a failing test can say what was done to the operator.
//! The answers are the ones kube-apiserver gives; each constructor cites the
//! upstream code it mirrors.

mod answer;
mod file;
mod rule;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

pub(crate) use answer::Answer;
use rule::Effect;
pub use rule::Fault;
use rule::OwnedFacts;
pub(crate) use rule::{RequestFacts, WatchFault};

/// Environment variable that fixes the seed of probabilistic faults, so a
/// failing run can be replayed (the seed is in every report; the replay is
/// exact when the matching requests come in the same order, as in a
/// paused-time test on one runtime thread).
pub const FAULT_SEED_VAR: &str = "HARNESS_FAULT_SEED";

/// One injection, as a report shows it:
/// `+3.200s PATCH nodedeployments/seid/status in ns x → 409 Conflict injected`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Injected {
    /// Tokio time since the server started.
    pub at: Duration,
    /// The request: `PATCH nodedeployments/seid/status`.
    pub request: String,
    /// The request's namespace, if any.
    pub namespace: Option<String>,
    /// What it got: `409 Conflict`, `2s added latency`.
    pub effect: String,
}

impl fmt::Display for Injected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = format!("+{}.{:03}s", self.at.as_secs(), self.at.subsec_millis());
        match &self.namespace {
            Some(ns) => write!(
                f,
                "{at} {} in ns {ns} → {} injected",
                self.request, self.effect
            ),
            None => write!(f, "{at} {} → {} injected", self.request, self.effect),
        }
    }
}

type Observer = Arc<dyn Fn(&Injected) + Send + Sync>;

/// Injections kept on record.
const LOG_CAP: usize = 10_000;

struct Armed {
    /// Ids grow with every rule added, so an open watch knows which rules
    /// are newer than what it has already been matched against.
    id: u64,
    fault: Fault,
    hits: u32,
}

struct State {
    rules: Vec<Armed>,
    /// The newest `LOG_CAP` injections.
    log: std::collections::VecDeque<Injected>,
    rng: StdRng,
    seed: u64,
    observers: Vec<Observer>,
    /// Watches closed by a `watch_gone` fault whose resume still owes a 410.
    gone: Vec<Resume>,
    /// The id the next rule gets; published to open watches on every add.
    next_id: tokio::sync::watch::Sender<u64>,
    /// Bumped by `clear()`: a watch fault armed before it is dropped.
    generation: u64,
}

/// The watch a `watch_gone` fault closed, to recognise its resume: the same
/// client (User-Agent) watching the same resource, namespace and selectors
/// from a version the closed watch had reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    group: String,
    resource: String,
    namespace: Option<String>,
    user_agent: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
    /// The versions the closed watch covered: where it started, and how far
    /// it had read when it closed (the watch fills these in).
    pub(crate) from: u64,
    pub(crate) upto: u64,
}

impl Resume {
    fn of(r: &RequestFacts<'_>) -> Self {
        Self {
            group: r.group.to_string(),
            resource: r.resource.to_string(),
            namespace: r.namespace.map(str::to_string),
            user_agent: r.user_agent.map(str::to_string),
            label_selector: r.label_selector.map(str::to_string),
            field_selector: r.field_selector.map(str::to_string),
            from: 0,
            upto: 0,
        }
    }

    fn is(&self, r: &RequestFacts<'_>) -> bool {
        r.verb == "watch"
            && r.resume_from
                .is_some_and(|rv| (self.from..=self.upto).contains(&rv))
            && self.group == r.group
            && self.resource == r.resource
            && self.namespace.as_deref() == r.namespace
            && self.user_agent.as_deref() == r.user_agent
            && self.label_selector.as_deref() == r.label_selector
            && self.field_selector.as_deref() == r.field_selector
    }
}

/// The fault rules of one server. Cheap to clone; clones share the rules.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
    started: Instant,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Faults")
            .field("rules", &st.rules.len())
            .field("injected", &st.log.len())
            .field("seed", &st.seed)
            .finish()
    }
}

impl Faults {
    /// No rules; the seed from [`FAULT_SEED_VAR`] or a random one.
    pub(crate) fn new() -> Self {
        let seed = std::env::var(FAULT_SEED_VAR)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(rand::random);
        Self {
            state: Arc::new(Mutex::new(State {
                rules: Vec::new(),
                log: std::collections::VecDeque::new(),
                rng: StdRng::seed_from_u64(seed),
                seed,
                observers: Vec::new(),
                gone: Vec::new(),
                next_id: tokio::sync::watch::Sender::new(0),
                generation: 0,
            })),
            started: Instant::now(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule; rules are tried in the order added, the first that hits
    /// decides. A watch rule also reaches the watches already open that it
    /// matches (its `after` counts from now), as a fault in a live server
    /// reaches the connections it has.
    pub fn add(&self, fault: Fault) -> &Self {
        let st = &mut *self.lock();
        let id = *st.next_id.borrow();
        st.rules.push(Armed { id, fault, hits: 0 });
        st.next_id.send_replace(id + 1);
        self
    }

    /// What a watch request needs to meet the rules added while it is open.
    /// Taken before the request itself is matched, so no rule added between
    /// the two is missed.
    pub(crate) fn watch_rules(&self, facts: &RequestFacts<'_>) -> WatchRules {
        let st = self.lock();
        let rules = st.next_id.subscribe();
        let seen = *rules.borrow();
        WatchRules {
            facts: OwnedFacts::of_watch(facts),
            rules,
            seen,
        }
    }

    /// Removes every rule, disarms the watch faults open watches have not
    /// carried out yet, and forgets the 410s owed to the resumes of watches
    /// a `watch_gone` rule closed (what was injected stays on record).
    pub fn clear(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.gone.clear();
        st.generation += 1;
    }

    /// Whether a watch fault armed earlier still stands (no `clear()` since).
    pub(crate) fn still_armed(&self, fault: &ArmedWatch) -> bool {
        self.lock().generation == fault.generation
    }

    /// Restarts the probability draws from `seed` (a failing run's report
    /// names its seed; `HARNESS_FAULT_SEED` does the same for a whole run).
    pub fn seed(&self, seed: u64) -> &Self {
        let mut st = self.lock();
        st.seed = seed;
        st.rng = StdRng::seed_from_u64(seed);
        self
    }

    /// Adds the rules of a fault file (YAML; see the crate README), and
    /// its seed if it names one. `source_name` names the file in errors.
    /// Nothing is added when any rule is wrong. Returns how many were added.
    pub fn load_yaml(&self, source_name: &str, text: &str) -> Result<usize, crate::Error> {
        let (seed, rules) = file::parse(source_name, text)?;
        if let Some(seed) = seed {
            self.seed(seed);
        }
        let n = rules.len();
        for rule in rules {
            self.add(rule);
        }
        Ok(n)
    }

    /// The seed probabilistic faults draw from.
    pub fn current_seed(&self) -> u64 {
        self.lock().seed
    }

    /// The faults injected so far, oldest first (the newest 10,000: a
    /// server under a probabilistic rule for hours keeps a bounded record).
    pub fn injected(&self) -> Vec<Injected> {
        self.lock().log.iter().cloned().collect()
    }

    /// Calls `observer` with every injection from now on (a timeline
    /// records them this way).
    pub fn on_inject(&self, observer: impl Fn(&Injected) + Send + Sync + 'static) {
        self.lock().observers.push(Arc::new(observer));
    }

    /// Called when a watch closed by a `watch_gone` fault ends: its resume
    /// is owed a 410.
    pub(crate) fn owe_gone(&self, resume: Resume) {
        self.lock().gone.push(resume);
    }

    /// Records a watch fault when the watch carries it out (a watch that
    /// ends before its `after` never misbehaved, and is not reported).
    pub(crate) fn carried_out(&self, mut injected: Injected) {
        injected.at = Instant::now().duration_since(self.started);
        self.record(injected);
    }

    fn record(&self, injected: Injected) {
        let observers = {
            let mut st = self.lock();
            if st.log.len() == LOG_CAP {
                st.log.pop_front();
            }
            st.log.push_back(injected.clone());
            st.observers.clone()
        };
        for observer in observers {
            observer(&injected);
        }
    }

    /// The first rule that hits this request, counted and recorded.
    pub(crate) fn decide(&self, r: &RequestFacts<'_>, method: &Method) -> Option<Decision> {
        let at = Instant::now().duration_since(self.started);
        let owed = {
            let mut st = self.lock();
            let i = st.gone.iter().position(|g| g.is(r));
            i.map(|i| st.gone.remove(i))
        };
        if owed.is_some() {
            self.record(Injected {
                at,
                request: format!("WATCH {}", Self::path(r)),
                namespace: r.namespace.map(str::to_string),
                effect: "410 Gone on resume".into(),
            });
            return Some(Decision::ResumeGone);
        }
        let (injected, effect, generation) = self.first_hit(r, method, at, |_| true)?;
        if let Effect::Watch { kind, after } = effect {
            return Some(Decision::Watch(ArmedWatch {
                kind,
                after,
                resume: Resume::of(r),
                injected,
                generation,
            }));
        }
        self.record(injected);
        Some(match effect {
            Effect::Latency(d) => Decision::Delay(d),
            other => Decision::Answer(Answer(other, r.continues.map(str::to_string))),
        })
    }

    /// The first watch rule added since the watch last looked that hits it,
    /// counted; recorded when the watch carries it out. A rule with a window
    /// is tried when it is added: one whose window has not begun by then
    /// reaches new watches only.
    pub(crate) fn arm_open_watch(&self, w: &mut WatchRules) -> Option<ArmedWatch> {
        let r = w.facts.facts();
        let at = Instant::now().duration_since(self.started);
        let since = w.seen;
        // Every rule up to the id read now is tried once, here.
        w.seen = *w.rules.borrow_and_update();
        let until = w.seen;
        let (injected, effect, generation) = self.first_hit(&r, &Method::GET, at, |a| {
            (since..until).contains(&a.id) && matches!(a.fault.effect, Effect::Watch { .. })
        })?;
        let Effect::Watch { kind, after } = effect else {
            return None;
        };
        Some(ArmedWatch {
            kind,
            after,
            resume: Resume::of(&r),
            injected,
            generation,
        })
    }

    /// The first rule `eligible` lets through that hits the request at
    /// `at`: its hit counted, its report and its effect.
    fn first_hit(
        &self,
        r: &RequestFacts<'_>,
        method: &Method,
        at: Duration,
        eligible: impl Fn(&Armed) -> bool,
    ) -> Option<(Injected, Effect, u64)> {
        let mut st = self.lock();
        let generation = st.generation;
        let State { rules, rng, .. } = &mut *st;
        let armed = rules.iter_mut().find(|a| {
            let f = &a.fault;
            eligible(a)
                && f.matches(r)
                && f.times.is_none_or(|n| a.hits < n)
                && f.window
                    .is_none_or(|(from, until)| at >= from && at < until)
                && f.probability.is_none_or(|p| rng.random_bool(p))
        })?;
        armed.hits += 1;
        let verb = match armed.fault.effect {
            Effect::Watch { .. } => "WATCH".to_string(),
            _ => method.to_string(),
        };
        let injected = Injected {
            at,
            request: format!("{verb} {}", Self::path(r)),
            namespace: r.namespace.map(str::to_string),
            effect: armed.fault.describe_effect(),
        };
        Some((injected, armed.fault.effect.clone(), generation))
    }

    fn path(r: &RequestFacts<'_>) -> String {
        let mut path = r.resource.to_string();
        if let Some(name) = r.name {
            path = format!("{path}/{name}");
        }
        if let Some(sub) = r.subresource {
            path = format!("{path}/{sub}");
        }
        path
    }
}

/// A watch fault as the watch carries it out.
#[derive(Debug, Clone)]
pub(crate) struct ArmedWatch {
    pub(crate) kind: WatchFault,
    /// How long the watch runs normally first.
    pub(crate) after: Duration,
    /// For `Gone`: what the watch owes its resume once closed.
    pub(crate) resume: Resume,
    /// The report of it, recorded when the watch misbehaves.
    pub(crate) injected: Injected,
    /// The rules' generation it was armed in ([`Faults::clear`] disarms it).
    generation: u64,
}

/// An open watch's view of the rules: its request as they match it, a
/// receiver that changes when one is added, and the first id not tried yet.
pub(crate) struct WatchRules {
    facts: OwnedFacts,
    pub(crate) rules: tokio::sync::watch::Receiver<u64>,
    seen: u64,
}

impl WatchRules {
    /// Lets the rules added so far pass without trying them.
    pub(crate) fn pass(&mut self) {
        self.seen = *self.rules.borrow_and_update();
    }
}

/// What the router does with a request a rule hit.
pub(crate) enum Decision {
    /// Serve it after this much tokio time.
    Delay(Duration),
    /// Answer with this instead of serving it.
    Answer(Answer),
    /// Serve the watch, then close or stall it.
    Watch(ArmedWatch),
    /// This watch resumes one a `watch_gone` fault closed: answer 410.
    ResumeGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(verb: &'a str, resource: &'a str, name: Option<&'a str>) -> RequestFacts<'a> {
        RequestFacts {
            verb,
            group: "",
            resource,
            subresource: None,
            namespace: Some("ns"),
            name,
            field_manager: Some("op"),
            user_agent: Some("rollout-operator/0.1"),
            continues: None,
            resume_from: None,
            label_selector: None,
            field_selector: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rules_match_by_request_and_count_their_hits() {
        let faults = Faults::new();
        faults.add(
            Fault::conflict()
                .verb("patch")
                .resource("configmaps")
                .field_manager("op")
                .user_agent("rollout-operator")
                .times(2),
        );
        let patch = facts("patch", "configmaps", Some("c"));
        assert!(
            faults
                .decide(&facts("get", "configmaps", Some("c")), &Method::GET)
                .is_none()
        );
        assert!(
            faults
                .decide(&facts("patch", "secrets", Some("c")), &Method::PATCH)
                .is_none()
        );
        assert!(faults.decide(&patch, &Method::PATCH).is_some());
        assert!(faults.decide(&patch, &Method::PATCH).is_some());
        assert!(
            faults.decide(&patch, &Method::PATCH).is_none(),
            "times(2) is spent"
        );
        let log = faults.injected();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log[0].to_string(),
            "+0.000s PATCH configmaps/c in ns ns → 409 Conflict injected"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn windows_follow_tokio_time_and_probabilities_replay_from_the_seed() {
        let faults = Faults::new();
        faults.add(
            Fault::latency(Duration::from_secs(1))
                .during(Duration::from_secs(5), Duration::from_secs(10)),
        );
        let get = facts("get", "pods", Some("p"));
        assert!(faults.decide(&get, &Method::GET).is_none());
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(matches!(
            faults.decide(&get, &Method::GET),
            Some(Decision::Delay(d)) if d == Duration::from_secs(1)
        ));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(faults.decide(&get, &Method::GET).is_none());

        let draws = |seed| {
            let f = Faults::new();
            f.seed(seed)
                .add(Fault::unavailable("etcd is slow").probability(0.5));
            (0..64)
                .map(|_| f.decide(&get, &Method::GET).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7), "the same seed, the same faults");
        assert_ne!(draws(7), draws(8));
        let hits = draws(7).iter().filter(|h| **h).count();
        assert!((16..=48).contains(&hits), "about half of 64: {hits}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_record_keeps_the_newest_injections() {
        let faults = Faults::new();
        faults.add(Fault::conflict());
        for i in 0..LOG_CAP + 5 {
            let name = i.to_string();
            faults.decide(&facts("patch", "pods", Some(&name)), &Method::PATCH);
        }
        let log = faults.injected();
        assert_eq!(log.len(), LOG_CAP);
        assert_eq!(log[0].request, "PATCH pods/5", "the oldest five went");
    }
}
