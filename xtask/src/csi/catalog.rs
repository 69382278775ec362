//! The supported versions of each CSI driver, read from
//! `manifests/csi/<driver>/versions.yaml` so that supporting a new version
//! is a one-line change in the manifests, not in Rust.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::paths::repo_root;

/// One driver's `versions.yaml`.
#[derive(Debug, Deserialize)]
pub(crate) struct Catalog {
    /// The CSI driver name (CSIDriver object, PV `csi.driver`).
    pub driver: String,
    /// Where the driver's pods run.
    pub namespace: String,
    #[serde(default)]
    pub release: Option<String>,
    #[serde(default)]
    pub chart: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
    /// Version → images (hostpath) or nothing (Helm charts pin their own).
    pub versions: BTreeMap<String, Images>,
}

/// Container images of one hostpath driver release.
#[derive(Debug, Default, Deserialize, Clone)]
pub(crate) struct Images {
    pub plugin: Option<String>,
    pub provisioner: Option<String>,
    pub registrar: Option<String>,
    pub livenessprobe: Option<String>,
    pub resizer: Option<String>,
}

impl Catalog {
    pub(crate) fn dir(driver_dir: &str) -> PathBuf {
        repo_root().join("manifests/csi").join(driver_dir)
    }

    pub(crate) fn load(driver_dir: &str) -> Result<Self> {
        let path = Self::dir(driver_dir).join("versions.yaml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The catalog's spelling of `requested`, accepting it with or without
    /// a leading `v`; an unsupported version lists the supported ones.
    pub(crate) fn resolve(&self, driver_dir: &str, requested: &str) -> Result<String> {
        let bare = requested.trim().trim_start_matches('v');
        let found = self
            .versions
            .keys()
            .find(|known| known.trim_start_matches('v') == bare);
        match found {
            Some(version) => Ok(version.clone()),
            None => bail!(
                "{driver_dir} version {requested:?} is not supported; supported versions: {} \
                 (listed in manifests/csi/{driver_dir}/versions.yaml)",
                self.versions.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_catalogs_parse_and_resolve_with_or_without_v() {
        let hostpath = Catalog::load("hostpath").unwrap();
        assert_eq!(hostpath.driver, "hostpath.csi.k8s.io");
        assert!(
            hostpath.versions.len() >= 2,
            "an upgrade needs two versions"
        );
        for images in hostpath.versions.values() {
            assert!(images.plugin.is_some() && images.provisioner.is_some());
            assert!(
                images.registrar.is_some()
                    && images.livenessprobe.is_some()
                    && images.resizer.is_some()
            );
        }
        let first = hostpath.versions.keys().next().unwrap().clone();
        assert_eq!(
            hostpath
                .resolve("hostpath", first.trim_start_matches('v'))
                .unwrap(),
            first
        );

        let s3 = Catalog::load("mountpoint-s3").unwrap();
        assert_eq!(s3.driver, "s3.csi.aws.com");
        assert!(s3.chart.is_some() && s3.repo.is_some() && s3.release.is_some());
        let err = s3
            .resolve("mountpoint-s3", "v0.0.1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("version \"v0.0.1\" is not supported; supported versions: "),
            "{err}"
        );
    }
}
