//! Which cluster a test runs against, chosen by environment variables:
//! `HARNESS_CLUSTER` = `embedded` (default) | `existing` | `k3s`, `KUBECONFIG`
//! for `existing`, `HARNESS_KEEP=1` to keep the namespace, `HARNESS_FAKER=all`
//! when the existing cluster is a bare API server with no controllers.

use std::path::PathBuf;
use std::time::Duration;

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::error::EnvError;

/// The cluster backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The in-process API server (no binaries, no Docker; paused time works).
    Embedded,
    /// Whatever `KUBECONFIG` (or `~/.kube/config`) points to.
    Existing,
    /// A K3s container through testcontainers (feature `k3s`, needs Docker).
    K3s,
}

impl BackendKind {
    /// Parse a `HARNESS_CLUSTER` value; empty means the default.
    pub fn parse(value: &str) -> Result<Self, EnvError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "embedded" => Ok(BackendKind::Embedded),
            "existing" => Ok(BackendKind::Existing),
            "k3s" => Ok(BackendKind::K3s),
            _ => Err(EnvError::UnknownBackend {
                value: value.to_owned(),
            }),
        }
    }

    /// True for backends where the real controllers and kubelet run.
    pub fn is_real(self) -> bool {
        !matches!(self, BackendKind::Embedded)
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Embedded => "embedded",
            BackendKind::Existing => "existing",
            BackendKind::K3s => "k3s",
        })
    }
}

/// What the environment asks for, read once per env.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The backend.
    pub backend: BackendKind,
    /// `HARNESS_KEEP` set: keep the namespace and print how to look at it.
    pub keep: bool,
    /// `KUBECONFIG` (first path of the list).
    pub kubeconfig: Option<PathBuf>,
    /// `HOME`, for `~/.kube/config`.
    pub home: Option<PathBuf>,
    /// `HARNESS_FAKER=all`: the existing cluster runs no controllers and no
    /// kubelets (a bare API server, as envtest starts, or the standalone
    /// `kube-harness-apiserver`), so the StatusFaker plays them there as it
    /// does on the embedded backend. This is how the suites run out of
    /// process, over HTTP in real time, with nothing in-process to lean on.
    pub faker_plays_all: bool,
}

impl Settings {
    /// Read the process environment.
    pub fn from_env() -> Result<Self, EnvError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read from any lookup (tests use a map, so they never touch the process env).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let backend = BackendKind::parse(&get("HARNESS_CLUSTER").unwrap_or_default())?;
        let keep = get("HARNESS_KEEP").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        let kubeconfig =
            get("KUBECONFIG").and_then(|v| v.split(':').find(|p| !p.is_empty()).map(PathBuf::from));
        let home = get("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let faker = get("HARNESS_FAKER").unwrap_or_default();
        let faker_plays_all = match faker.trim().to_ascii_lowercase().as_str() {
            "" | "off" => false,
            "all" => true,
            _ => return Err(EnvError::UnknownFaker { value: faker }),
        };
        Ok(Settings {
            backend,
            keep,
            kubeconfig,
            home,
            faker_plays_all,
        })
    }

    /// The settings for a test that needs the StatusFaker to play every
    /// controller: the real backend when it has none of its own
    /// (`HARNESS_FAKER=all`), otherwise the embedded server whatever
    /// `HARNESS_CLUSTER` says (a cluster whose real controllers run could not
    /// be wedged or paused by the faker).
    pub fn simulated(mut self) -> Self {
        if !self.faker_plays_controllers() {
            self.backend = BackendKind::Embedded;
        }
        self
    }

    /// True when the faker plays the controllers and kubelets on this
    /// backend: always on the embedded server, on an existing cluster with
    /// `HARNESS_FAKER=all`, never on K3s (its own controllers run).
    pub fn faker_plays_controllers(&self) -> bool {
        match self.backend {
            BackendKind::Embedded => true,
            BackendKind::Existing => self.faker_plays_all,
            BackendKind::K3s => false,
        }
    }

    /// The kubeconfig file the existing backend uses, or why there is none.
    pub fn kubeconfig_path(&self) -> Result<PathBuf, EnvError> {
        if let Some(p) = &self.kubeconfig {
            if p.is_file() {
                return Ok(p.clone());
            }
            return Err(EnvError::NoKubeconfig {
                looked: format!("KUBECONFIG={} does not exist", p.display()),
            });
        }
        let default = self.home.as_ref().map(|h| h.join(".kube").join("config"));
        match default {
            Some(p) if p.is_file() => Ok(p),
            Some(p) => Err(EnvError::NoKubeconfig {
                looked: format!("KUBECONFIG is unset and {} does not exist", p.display()),
            }),
            None => Err(EnvError::NoKubeconfig {
                looked: "KUBECONFIG and HOME are unset".into(),
            }),
        }
    }
}

/// Load a kubeconfig file into a client config.
pub async fn load_kubeconfig(path: &std::path::Path) -> Result<kube::Config, EnvError> {
    let bad = |message: String| EnvError::BadKubeconfig {
        path: path.to_owned(),
        message,
    };
    let kc = Kubeconfig::read_from(path).map_err(|e| bad(e.to_string()))?;
    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| bad(e.to_string()))
}

/// True when the running test's tokio clock is paused
/// (`#[tokio::test(start_paused = true)]`): the paused clock stands still
/// while the thread sleeps. Costs 2 ms; asked only before talking to a real
/// server over sockets, where paused time makes every timeout fire at once.
pub fn time_is_paused() -> bool {
    let before = tokio::time::Instant::now();
    std::thread::sleep(Duration::from_millis(2));
    tokio::time::Instant::now() == before
}

/// Ask the server for `/version`, within 10 s. Real time: the env refuses
/// a real backend under paused time before it gets here.
pub async fn check_reachable(config: &kube::Config) -> Result<(), EnvError> {
    let server = config.cluster_url.to_string();
    let mut config = config.clone();
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(10));
    let result = async {
        let client = Client::try_from(config).map_err(|e| e.to_string())?;
        tokio::time::timeout(Duration::from_secs(10), client.apiserver_version())
            .await
            .map_err(|_| "no answer within 10s".to_string())?
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    result
        .await
        .map_err(|message| EnvError::Unreachable { server, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, EnvError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn backend_defaults_to_embedded_and_parses_names() {
        assert_eq!(settings(&[]).unwrap().backend, BackendKind::Embedded);
        assert_eq!(
            settings(&[("HARNESS_CLUSTER", "Existing")])
                .unwrap()
                .backend,
            BackendKind::Existing
        );
        assert_eq!(
            settings(&[("HARNESS_CLUSTER", "k3s")]).unwrap().backend,
            BackendKind::K3s
        );
        assert!(!settings(&[]).unwrap().keep);
        assert!(settings(&[("HARNESS_KEEP", "1")]).unwrap().keep);
    }

    #[test]
    fn faker_mode_picks_where_simulated_tests_run() {
        let s = settings(&[("HARNESS_CLUSTER", "existing"), ("HARNESS_FAKER", "All")]).unwrap();
        assert!(s.faker_plays_controllers());
        assert_eq!(s.simulated().backend, BackendKind::Existing);
        // A real cluster's own controllers run: simulated tests stay in-process.
        let s = settings(&[("HARNESS_CLUSTER", "existing")]).unwrap();
        assert!(!s.faker_plays_controllers());
        assert_eq!(s.simulated().backend, BackendKind::Embedded);
        let s = settings(&[("HARNESS_FAKER", "all")]).unwrap();
        assert_eq!(s.clone().simulated().backend, BackendKind::Embedded);
        assert!(s.faker_plays_controllers());
        // K3s runs its own controllers: HARNESS_FAKER does not apply.
        let s = settings(&[("HARNESS_CLUSTER", "k3s"), ("HARNESS_FAKER", "all")]).unwrap();
        assert!(!s.faker_plays_controllers());
        assert_eq!(s.simulated().backend, BackendKind::Embedded);
        let e = settings(&[("HARNESS_FAKER", "some")]).unwrap_err();
        assert!(matches!(e, EnvError::UnknownFaker { .. }));
        assert!(e.to_string().contains("\"some\""), "{e}");
    }

    #[tokio::test(start_paused = true)]
    async fn paused_time_is_detected() {
        assert!(time_is_paused());
    }

    #[tokio::test]
    async fn running_time_is_not_paused() {
        assert!(!time_is_paused());
    }

    #[test]
    fn unknown_backend_names_the_choices() {
        let e = settings(&[("HARNESS_CLUSTER", "kind")]).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, EnvError::UnknownBackend { .. }));
        assert!(msg.contains("\"kind\"") && msg.contains("embedded") && msg.contains("existing"));
    }

    #[test]
    fn missing_kubeconfig_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let s = settings(&[("HARNESS_CLUSTER", "existing"), ("HOME", home)]).unwrap();
        let msg = s.kubeconfig_path().unwrap_err().to_string();
        assert!(msg.contains(".kube/config does not exist"), "{msg}");
        assert!(msg.contains("KUBECONFIG"), "{msg}");

        let s = settings(&[("KUBECONFIG", "/nonexistent/kc")]).unwrap();
        let msg = s.kubeconfig_path().unwrap_err().to_string();
        assert!(
            msg.contains("KUBECONFIG=/nonexistent/kc does not exist"),
            "{msg}"
        );

        std::fs::create_dir_all(dir.path().join(".kube")).unwrap();
        std::fs::write(dir.path().join(".kube/config"), "x").unwrap();
        let s = settings(&[("HOME", home)]).unwrap();
        assert_eq!(
            s.kubeconfig_path().unwrap(),
            dir.path().join(".kube/config")
        );
    }

    #[tokio::test]
    async fn garbage_kubeconfig_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc");
        std::fs::write(&path, "clusters: [ {").unwrap();
        let e = load_kubeconfig(&path).await.unwrap_err();
        assert!(matches!(e, EnvError::BadKubeconfig { .. }));
        assert!(e.to_string().contains(path.to_str().unwrap()));
    }

    #[tokio::test]
    async fn unreachable_server_is_named() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kc");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {}\n",
        )
        .unwrap();
        let config = load_kubeconfig(&path).await.unwrap();
        let e = check_reachable(&config).await.unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, EnvError::Unreachable { .. }));
        assert!(
            msg.contains("127.0.0.1:1") && msg.contains("kubectl cluster-info"),
            "{msg}"
        );
    }
}
