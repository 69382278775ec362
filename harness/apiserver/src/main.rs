//! Runs the embedded API server standalone until Ctrl-C, so kubectl and
//! operators in any language can be pointed at it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// An in-memory Kubernetes API server for tests.
#[derive(Debug, Parser)]
#[command(name = "kube-harness-apiserver", version)]
struct Args {
    /// Also write the kubeconfig here (the temporary one is removed on exit;
    /// this copy is kept).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Install every CRD found in this directory before serving.
    #[arg(long, value_name = "DIR")]
    crds: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server = kube_harness_apiserver::ApiServer::start().await?;
    if let Some(dir) = &args.crds {
        let names = server
            .install_crds(dir)
            .await
            .with_context(|| format!("installing CRDs from {}", dir.display()))?;
        eprintln!("installed {} CRD(s): {}", names.len(), names.join(", "));
    }
    let endpoint = server.serve_http().await?;
    let path = match &args.kubeconfig {
        Some(p) => {
            write_private(p, &kube_harness_apiserver::kubeconfig_yaml(&endpoint.url))
                .with_context(|| format!("writing kubeconfig {}", p.display()))?;
            p.clone()
        }
        None => endpoint.kubeconfig.clone(),
    };
    println!("serving on {}", endpoint.url);
    println!("kubeconfig: {}", path.display());
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("shutting down");
    Ok(())
}

/// Writes a file only its owner can read (it names a cluster endpoint).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}
