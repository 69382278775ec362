//! What can go wrong while giving a test its cluster, and what to do about it.

use std::path::PathBuf;

/// Errors of [`crate::env::TestEnv`]. Every message names the problem and the fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// `HARNESS_CLUSTER` holds a value that is not a backend.
    #[error(
        "HARNESS_CLUSTER={value:?} is not a cluster backend; use `embedded` (default, in-process), `existing` (the cluster KUBECONFIG points to) or `k3s` (a K3s container; needs `--features kube-harness/k3s` and Docker)"
    )]
    UnknownBackend {
        /// The value found.
        value: String,
    },
    /// `HARNESS_FAKER` holds a value that is not a faker mode.
    #[error(
        "HARNESS_FAKER={value:?} is not a faker mode; use `all` (the existing cluster is a bare API server: the StatusFaker plays its controllers and kubelets) or leave it unset"
    )]
    UnknownFaker {
        /// The value found.
        value: String,
    },
    /// A test with paused tokio time asked for a cluster reached over sockets.
    #[error(
        "time is paused (#[tokio::test(start_paused = true)]) but HARNESS_CLUSTER={backend} is reached over sockets, where paused time makes every timeout fire at once; call tokio::time::resume() before asking for the env on a real backend (Settings::from_env()?.backend.is_real() says when; for TestEnv::simulated, Settings::from_env()?.simulated().backend.is_real()), or run on the embedded backend"
    )]
    PausedTime {
        /// The backend asked for.
        backend: super::BackendKind,
    },
    /// The existing backend found no kubeconfig to use.
    #[error(
        "HARNESS_CLUSTER=existing needs a kubeconfig, but {looked}; create a cluster (`cargo xtask kind create`) or set KUBECONFIG to a kubeconfig file"
    )]
    NoKubeconfig {
        /// Where it looked.
        looked: String,
    },
    /// A kubeconfig was found but could not be used.
    #[error(
        "kubeconfig {path} is unusable: {message}; check the file (`kubectl --kubeconfig {path} config view`)"
    )]
    BadKubeconfig {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The API server of the chosen cluster did not answer.
    #[error(
        "cannot reach the Kubernetes API server at {server}: {message}; is the cluster running? (`kubectl cluster-info`), or run on the embedded backend (unset HARNESS_CLUSTER)"
    )]
    Unreachable {
        /// The server URL from the kubeconfig.
        server: String,
        /// The client error.
        message: String,
    },
    /// `HARNESS_CLUSTER=k3s` in a build without the `k3s` feature.
    #[error(
        "HARNESS_CLUSTER=k3s needs the kube-harness `k3s` cargo feature: run `cargo test --features kube-harness/k3s`, or use HARNESS_CLUSTER=embedded"
    )]
    K3sNotBuilt,
    /// The k3s backend could not start a container.
    #[error(
        "HARNESS_CLUSTER=k3s could not start a K3s container ({message}); is Docker running and reachable (`docker info`)? Otherwise use HARNESS_CLUSTER=embedded"
    )]
    NoDocker {
        /// The container runtime error.
        message: String,
    },
    /// The embedded API server failed to start or to load something.
    #[error("embedded API server: {0}")]
    Embedded(String),
    /// A manifest file or document could not be read or parsed.
    #[error("manifest {source_name}: {message}")]
    Manifest {
        /// File (and document number) the problem is in.
        source_name: String,
        /// What is wrong with it.
        message: String,
    },
    /// A request to the cluster failed.
    #[error("{action}: {source}")]
    Api {
        /// What the env was doing (`create namespace x`, `apply Pod/web-0`).
        action: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The operator under test could not be started or stopped as asked.
    #[error("operator: {0}")]
    Operator(String),
    /// The env's timeline could not start watching the namespace's Events.
    #[error("timeline: {0}")]
    Timeline(String),
    /// Something only the embedded server can do was asked of a real cluster.
    #[error(
        "{what} needs the embedded API server (HARNESS_CLUSTER=embedded); skip the test on other backends with skip!(..)"
    )]
    NeedsEmbedded {
        /// What was asked.
        what: &'static str,
    },
    /// `HARNESS_CLUSTER=embedded` in a build without the `embedded` feature.
    #[error(
        "HARNESS_CLUSTER=embedded (the default) needs the kube-harness `embedded` cargo feature (on by default; was `default-features = false` set?); enable it, or set HARNESS_CLUSTER=existing"
    )]
    EmbeddedNotBuilt,
}

impl EnvError {
    /// Wrap a client error with what the env was doing.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> EnvError {
        let action = action.into();
        move |source| EnvError::Api { action, source }
    }
}
