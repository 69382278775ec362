//! Runs the embedded API server standalone until Ctrl-C, so kubectl and
//! operators in any language can be pointed at it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use kube_harness_apiserver::cli::{StopSignal, write_kubeconfig};

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
    /// Inject the faults of this YAML file (see the crate README) into the
    /// requests they match; HARNESS_FAULT_SEED fixes the seed of
    /// probabilistic rules unless the file names one.
    #[arg(long, value_name = "FILE")]
    faults: Option<PathBuf>,
    /// The address to listen on. Loopback unless told otherwise: anything
    /// else should come with --token-file.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    bind_address: std::net::IpAddr,
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Require the bearer token in this file on every request (401 without
    /// it, as kube-apiserver with --anonymous-auth=false); the kubeconfig
    /// carries it.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // Ctrl-C or a plain `kill`: either way the temporary kubeconfig goes.
    let stop = StopSignal::listen().context("listening for SIGTERM and Ctrl-C")?;
    if !args.bind_address.is_loopback() && args.token_file.is_none() {
        eprintln!(
            "warning: serving on {} without --token-file: anyone who reaches it can read \
             and write every object",
            args.bind_address
        );
    }
    let mut builder = kube_harness_apiserver::ApiServer::builder();
    let token = match &args.token_file {
        Some(path) => {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?
                .trim()
                .to_string();
            anyhow::ensure!(
                !token.is_empty(),
                "the token file {} is empty",
                path.display()
            );
            builder = builder.bearer_token(token.clone());
            Some(token)
        }
        None => None,
    };
    let server = builder.start().await?;
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the fault file {}", path.display()))?;
        let faults = server.faults();
        let n = faults.load_yaml(&path.display().to_string(), &text)?;
        let seed = faults.current_seed();
        eprintln!(
            "injecting {n} fault rule(s) from {} (seed {seed}; replay with {}={seed})",
            path.display(),
            kube_harness_apiserver::FAULT_SEED_VAR
        );
        faults.on_inject(|injected| eprintln!("{injected}"));
    }
    if let Some(dir) = &args.crds {
        let names = server
            .install_crds(dir)
            .await
            .with_context(|| format!("installing CRDs from {}", dir.display()))?;
        eprintln!("installed {} CRD(s): {}", names.len(), names.join(", "));
    }
    let endpoint = server
        .serve_http_on(std::net::SocketAddr::new(args.bind_address, args.port))
        .await?;
    let path = match &args.kubeconfig {
        Some(p) => {
            write_kubeconfig(p, &endpoint.url, token.as_deref())
                .with_context(|| format!("writing kubeconfig {}", p.display()))?;
            p.clone()
        }
        None => endpoint.kubeconfig.clone(),
    };
    println!("serving on {}", endpoint.url);
    println!("kubeconfig: {}", path.display());
    stop.wait().await;
    eprintln!("shutting down");
    drop(endpoint);
    Ok(())
}
