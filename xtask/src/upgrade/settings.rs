//! The options of the upgrade tests, read from the environment variables
//! users already set for `mage setupUpgradeTests` (UPGRADE_TEST_*), or from
//! flags. Each is validated here so a typo fails before anything runs, with
//! a message that names the variable.

use std::path::PathBuf;
use std::time::Duration;

use crate::csi::{Driver, Dynamic};
use crate::{paths, process};

#[derive(clap::Args, Debug)]
pub(super) struct Settings {
    /// Namespace of the test pods (a DNS-1123 label).
    #[arg(long, env = "UPGRADE_TEST_NAMESPACE", default_value = "upgrade-test", value_parser = parse_namespace)]
    pub namespace: String,
    /// Which scenarios: static (pre-provisioned PV + PVC), dynamic
    /// (StorageClass) or all (every scenario the driver supports).
    #[arg(long = "type", env = "UPGRADE_TEST_TYPE", default_value = "all", value_parser = parse_type)]
    pub test_type: TestType,
    /// Timeout of each cluster operation (pods Ready, deletion), e.g. 120s or 2m.
    #[arg(long, env = "UPGRADE_TEST_TIMEOUT", default_value = "120s", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// S3 bucket of the static scenario (Mountpoint S3), created on the
    /// in-cluster MinIO if missing.
    #[arg(long, env = "UPGRADE_TEST_BUCKET", default_value = "upgrade-test-static-bucket", value_parser = parse_bucket)]
    pub bucket: String,
    /// CSI driver under test: mountpoint-s3 (FUSE; static scenario only) or
    /// hostpath (static and dynamic).
    #[arg(
        long,
        env = "UPGRADE_TEST_DRIVER",
        default_value = "mountpoint-s3",
        value_enum
    )]
    pub driver: Driver,
    /// kubeconfig for kubectl (default: kubectl's own).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TestType {
    Static,
    Dynamic,
    All,
}

/// One test scenario: how the volume under test is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scenario {
    Static,
    Dynamic,
}

impl Scenario {
    pub(super) fn name(self) -> &'static str {
        match self {
            Scenario::Static => "static",
            Scenario::Dynamic => "dynamic",
        }
    }

    /// The pod and PVC name.
    pub(super) fn object_name(self) -> String {
        format!("continuity-{}", self.name())
    }
}

/// Why a driver cannot run a scenario, or `None` if it can.
pub(super) fn unsupported(driver: Driver, scenario: Scenario) -> Option<&'static str> {
    match (scenario, &driver.upgrade_traits().dynamic) {
        (Scenario::Dynamic, Dynamic::Unsupported(why)) => Some(why),
        _ => None,
    }
}

impl Settings {
    /// The scenarios to run. An explicitly requested scenario the driver
    /// cannot run is an error; with `all` it is skipped with the reason.
    pub(super) fn scenarios(&self) -> anyhow::Result<Vec<Scenario>> {
        let wanted: &[Scenario] = match self.test_type {
            TestType::Static => &[Scenario::Static],
            TestType::Dynamic => &[Scenario::Dynamic],
            TestType::All => &[Scenario::Static, Scenario::Dynamic],
        };
        let mut run = Vec::new();
        for &s in wanted {
            match unsupported(self.driver, s) {
                None => run.push(s),
                Some(why) if self.test_type == TestType::All => {
                    println!(
                        "➖ {} scenario skipped for {}: {why}",
                        s.name(),
                        self.driver.dir()
                    );
                }
                Some(why) => anyhow::bail!(
                    "UPGRADE_TEST_TYPE={} cannot run with driver {}: {why}",
                    s.name(),
                    self.driver.dir()
                ),
            }
        }
        Ok(run)
    }

    /// Where this namespace's records and reports are kept.
    pub(super) fn record_dir(&self) -> PathBuf {
        paths::out_dir().join("upgrade-tests").join(&self.namespace)
    }

    pub(super) fn kube_args(&self) -> Vec<String> {
        match &self.kubeconfig {
            Some(p) => vec!["--kubeconfig".into(), p.display().to_string()],
            None => Vec::new(),
        }
    }

    pub(super) fn timeout_arg(&self) -> String {
        format!("--timeout={}s", self.timeout.as_secs())
    }
}

fn parse_namespace(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "UPGRADE_TEST_NAMESPACE / --namespace: {s:?} is not a valid namespace name \
             (1-63 lower-case letters, digits or '-', not starting or ending with '-')"
        ))
    }
}

fn parse_type(s: &str) -> Result<TestType, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "static" => Ok(TestType::Static),
        "dynamic" => Ok(TestType::Dynamic),
        "all" | "" => Ok(TestType::All),
        _ => Err(format!(
            "UPGRADE_TEST_TYPE / --type: {s:?} is not a test type; use static, dynamic or all"
        )),
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    process::parse_duration(s).map_err(|e| format!("UPGRADE_TEST_TIMEOUT / --timeout: {e}"))
}

pub(super) fn parse_max_gap(s: &str) -> Result<Duration, String> {
    process::parse_duration(s).map_err(|e| format!("UPGRADE_TEST_MAX_GAP / --max-gap: {e}"))
}

/// S3 bucket naming rules (the subset that matters for a test bucket).
fn parse_bucket(s: &str) -> Result<String, String> {
    let chars_ok = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&s.len()) && chars_ok && ends_ok && !s.contains("..") {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "UPGRADE_TEST_BUCKET / --bucket: {s:?} is not a valid S3 bucket name \
             (3-63 lower-case letters, digits, '-' or '.', starting and ending with a letter or digit)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_validated_with_the_variable_named() {
        assert_eq!(parse_type("Static"), Ok(TestType::Static));
        assert_eq!(parse_type("all"), Ok(TestType::All));
        assert!(
            parse_type("both")
                .unwrap_err()
                .contains("UPGRADE_TEST_TYPE")
        );
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert!(
            parse_timeout("2 minutes")
                .unwrap_err()
                .starts_with("UPGRADE_TEST_TIMEOUT")
        );
        assert!(parse_namespace("upgrade-test").is_ok());
        assert!(
            parse_namespace("Upgrade_Test")
                .unwrap_err()
                .contains("UPGRADE_TEST_NAMESPACE")
        );
        assert!(parse_namespace("-x").is_err());
        assert!(parse_bucket("upgrade-test-static-bucket").is_ok());
        for bad in ["ab", "Bucket", "a..b", "-abc", "abc-", "under_score"] {
            assert!(parse_bucket(bad).is_err(), "{bad} accepted");
        }
    }
}
