//! `HARNESS_CLUSTER=k3s`: one K3s container per env, through testcontainers.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use testcontainers_modules::k3s::{K3s, KUBE_SECURE_PORT};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

use super::error::EnvError;

/// A running K3s container and the kubeconfig that reaches it from the host.
pub(super) struct K3sCluster {
    /// Kept alive for the env's lifetime; dropping it removes the container.
    _container: ContainerAsync<K3s>,
    _dir: tempfile::TempDir,
    /// Kubeconfig rewritten to the mapped port on 127.0.0.1.
    pub(super) kubeconfig: PathBuf,
    /// Client config for that kubeconfig.
    pub(super) config: kube::Config,
}

/// Start K3s and wait for its kubeconfig.
pub(super) async fn start() -> Result<K3sCluster, EnvError> {
    let dir = tempfile::tempdir().map_err(|e| EnvError::NoDocker {
        message: format!("cannot make a temp dir for the kubeconfig: {e}"),
    })?;
    let container = K3s::default()
        .with_conf_mount(dir.path())
        .with_privileged(true)
        .with_userns_mode("host")
        .start()
        .await
        .map_err(|e| EnvError::NoDocker {
            message: e.to_string(),
        })?;
    let port = container
        .get_host_port_ipv4(KUBE_SECURE_PORT)
        .await
        .map_err(|e| EnvError::NoDocker {
            message: e.to_string(),
        })?;
    let yaml = container
        .image()
        .read_kube_config()
        .map_err(|e| EnvError::NoDocker {
            message: format!("K3s wrote no kubeconfig: {e}"),
        })?;
    let mut kc = Kubeconfig::from_yaml(&yaml).map_err(|e| EnvError::BadKubeconfig {
        path: dir.path().join("k3s.yaml"),
        message: e.to_string(),
    })?;
    for c in &mut kc.clusters {
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.server = Some(format!("https://127.0.0.1:{port}"));
        }
    }
    let kubeconfig = dir.path().join("kubeconfig");
    let text = serde_yaml::to_string(&kc).map_err(|e| EnvError::BadKubeconfig {
        path: kubeconfig.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&kubeconfig, text).map_err(|e| EnvError::BadKubeconfig {
        path: kubeconfig.clone(),
        message: e.to_string(),
    })?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| EnvError::BadKubeconfig {
            path: kubeconfig.clone(),
            message: e.to_string(),
        })?;
    Ok(K3sCluster {
        _container: container,
        _dir: dir,
        kubeconfig,
        config,
    })
}
