//! What a standalone binary around the server needs besides the server:
//! stopping cleanly on a signal, and keeping a copy of the kubeconfig
//! (`kube-harness-apiserver` and `kube-harness-cluster` share it).

use std::path::Path;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM or Ctrl-C, listened for from the moment it is made: make it
/// before printing the URL, so a supervisor that stops the process as
/// soon as it reads the URL still gets a clean exit (and the temporary
/// kubeconfig is removed).
#[derive(Debug)]
pub struct StopSignal {
    term: Signal,
    interrupt: Signal,
}

impl StopSignal {
    /// Starts listening.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for either signal.
    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Writes a kubeconfig for `url` (with `token`, if any) to `path`, readable
/// only by its owner: it names a cluster endpoint and maybe a credential.
pub fn write_kubeconfig(path: &Path, url: &str, token: Option<&str>) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = crate::http::kubeconfig_yaml_with_token(url, token);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}
