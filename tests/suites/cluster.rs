//! Where a scenario runs. The suites need the StatusFaker to play every
//! controller (to wedge a rollout, pause the kubelet, fake a drain), so they
//! ask for a simulated env: the embedded server by default, or a bare API
//! server over HTTP when `HARNESS_CLUSTER=existing HARNESS_FAKER=all` says so
//! (CI starts the standalone `kube-harness-apiserver` for that run, so nothing
//! in the suites leans on the in-process shortcut).

use anyhow::Result;
use kube_harness::env::{Settings, TestEnv, time_is_paused};

/// A simulated env for the running test. The suites are written in paused
/// time; over sockets paused time makes every timeout fire at once, so there
/// the clock is resumed first and the scenario runs in real time.
pub(crate) async fn simulated() -> Result<TestEnv> {
    if Settings::from_env()?.simulated().backend.is_real() && time_is_paused() {
        tokio::time::resume();
    }
    Ok(TestEnv::simulated().await?)
}
