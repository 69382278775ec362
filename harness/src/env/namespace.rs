//! A namespace per test: a name a human can map back to the test, and a guard
//! that deletes it when the test ends, panics included.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams};

use super::error::EnvError;
use crate::matchers::eq;
use crate::wait::eventually;

/// How to make a fresh client, on any runtime. The guard needs this because a
/// `kube::Client` is bound to the runtime that built it, and the test's
/// runtime may be blocked (in `Drop`) or gone (after a panic).
#[derive(Clone)]
pub(crate) enum Connector {
    /// The embedded server (cheap, in-process).
    #[cfg(feature = "embedded")]
    Embedded(kube_harness_apiserver::ApiServer),
    /// A real cluster.
    Config(Box<kube::Config>),
}

impl Connector {
    /// A new client whose default namespace is `ns`.
    pub(crate) fn client(&self, ns: &str) -> Result<Client, EnvError> {
        self.client_as(ns, None)
    }

    /// A new client that also names itself with a `User-Agent` (an
    /// operator's own, so fault rules and managedFields can tell its
    /// requests from the test's).
    pub(crate) fn client_as(&self, ns: &str, agent: Option<&str>) -> Result<Client, EnvError> {
        // A name that is not a header value is made one, not dropped, so a
        // `user_agent(name)` rule still matches what is sent.
        let agent = agent.map(|a| {
            let visible: String = a
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() || c == ' ' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            http::HeaderValue::from_str(&visible).expect("visible ASCII is a header value")
        });
        match self {
            #[cfg(feature = "embedded")]
            Connector::Embedded(server) => {
                let mut headers = http::HeaderMap::new();
                if let Some(agent) = agent {
                    headers.insert(http::header::USER_AGENT, agent);
                }
                Ok(server.client_with(ns, headers))
            }
            Connector::Config(cfg) => {
                let mut cfg = (**cfg).clone();
                cfg.default_namespace = ns.to_owned();
                if let Some(agent) = agent {
                    cfg.headers.push((http::header::USER_AGENT, agent));
                }
                Client::try_from(cfg).map_err(|e| EnvError::BadKubeconfig {
                    path: PathBuf::from("(client config)"),
                    message: e.to_string(),
                })
            }
        }
    }
}

/// A DNS-1123 label from the test name plus a time stamp and a random tail:
/// `stuck-rollout-holds-1123-104501-k3x9`.
pub(super) fn unique_name(test_name: &str) -> String {
    let last = test_name.rsplit("::").next().unwrap_or(test_name);
    let mut prefix: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while prefix.contains("--") {
        prefix = prefix.replace("--", "-");
    }
    let mut prefix = prefix.trim_matches('-').to_owned();
    prefix.truncate(40);
    let prefix = prefix.trim_end_matches('-');
    let prefix = if prefix.is_empty() || !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        format!("t-{prefix}")
    } else {
        prefix.to_owned()
    };
    // Wall clock on purpose: the stamp is for humans matching a namespace to a
    // CI log line, not for timing.
    let stamp = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .strftime("%m%d-%H%M%S")
        .to_string();
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz23456789";
    let tail: String = (0..4)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{stamp}-{tail}", prefix.trim_end_matches('-'))
}

/// The name of the running test, from the thread name libtest gives it.
pub(super) fn current_test_name() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main" && !n.starts_with("tokio-runtime"))
        .unwrap_or("test")
        .to_owned()
}

/// Deletes the namespace when dropped, unless kept.
pub(super) struct NamespaceGuard {
    pub(crate) namespace: String,
    pub(crate) connector: Connector,
    pub(crate) keep: bool,
    pub(crate) armed: bool,
    pub(crate) wait_gone: bool,
    pub(crate) how_to_look: String,
}

impl NamespaceGuard {
    /// Delete now (async), waiting until it is gone if the backend is fast.
    pub(super) async fn delete(
        connector: &Connector,
        ns: &str,
        wait_gone: bool,
    ) -> Result<(), EnvError> {
        let client = connector.client(ns)?;
        if wait_gone {
            // Nobody runs the kubelet during cleanup: without this, namespace
            // termination would wait out every pod's grace period.
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            };
            pods.delete_collection(&dp, &ListParams::default())
                .await
                .map_err(EnvError::api(format!("delete pods in namespace {ns}")))?;
        }
        let api: Api<Namespace> = Api::all(client);
        match api.delete(ns, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
            Err(e) => return Err(EnvError::api(format!("delete namespace {ns}"))(e)),
        }
        if !wait_gone {
            return Ok(());
        }
        // Waited on with the harness's own `eventually`: a namespace stuck
        // terminating is reported with what is left in it.
        eventually(|| async { api.get_opt(ns).await.map(|n| n.is_some()) })
            .describe(format!("namespace {ns} (deletion)"))
            .within(Duration::from_secs(10))
            .every(Duration::from_millis(20))
            .timeout_scale(1.0)
            .should(eq(false))
            .await
            .map(|_| ())
            .map_err(|f| EnvError::Operator(format!("namespace {ns} still terminating: {f}")))
    }

    /// Delete now, synchronously (for `Drop`), unless disarmed or kept.
    pub(crate) fn delete_blocking(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        if self.keep {
            eprintln!("{}", self.how_to_look);
            return;
        }
        let connector = self.connector.clone();
        let ns = self.namespace.clone();
        let wait_gone = self.wait_gone;
        // A thread with its own (unpaused) runtime: the test's runtime may be
        // the one blocked in this drop, or unwinding from a panic.
        let outcome = std::thread::Builder::new()
            .name(format!("harness-cleanup-{ns}"))
            .spawn(move || -> Result<(), String> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                rt.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(30),
                        NamespaceGuard::delete(&connector, &ns, wait_gone),
                    )
                    .await
                    .map_err(|_| format!("deleting namespace {ns} took over 30s"))?
                    .map_err(|e| e.to_string())
                })
            })
            .map_err(|e| e.to_string())
            .and_then(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("cleanup thread panicked".into()))
            });
        if let Err(e) = outcome {
            eprintln!(
                "kube-harness: could not delete test namespace {}: {e}",
                self.namespace
            );
        }
    }
}

impl Drop for NamespaceGuard {
    fn drop(&mut self) {
        self.delete_blocking();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_readable_unique_dns_labels() {
        let a = unique_name("suite::stuck::Stuck_Rollout_holds__its_shape");
        let b = unique_name("suite::stuck::Stuck_Rollout_holds__its_shape");
        assert!(a.starts_with("stuck-rollout-holds-its-shape-"), "{a}");
        assert_ne!(a, b);
        for n in [
            &a,
            &b,
            &unique_name(&"x".repeat(100)),
            &unique_name("9lives"),
            &unique_name(""),
        ] {
            assert!(n.len() <= 63, "{n}");
            assert!(n.starts_with(|c: char| c.is_ascii_lowercase()), "{n}");
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
            assert!(!n.contains("--"), "{n}");
        }
    }
}
