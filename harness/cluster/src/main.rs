//! `kube-harness-cluster`: the embedded API server and a StatusFaker playing
//! `--nodes` nodes and the built-in controllers, as one process a Go, Python
//! or Java suite points at the way it points at envtest plus kwok: pods are
//! scheduled and run, Deployments and StatefulSets roll out, PVCs bind and
//! Jobs complete, in real time over HTTP.

mod control;
mod faults;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use kube_harness::faker::StatusFaker;
use kube_harness_apiserver::cli::{StopSignal, write_kubeconfig};

/// A fake Kubernetes cluster for tests: API server, nodes and controllers.
#[derive(Debug, Parser)]
#[command(name = "kube-harness-cluster", version)]
struct Args {
    /// How many fake nodes to register and schedule pods onto.
    #[arg(long, default_value_t = 3)]
    nodes: u32,
    /// The API server's port on 127.0.0.1 (0: any free port, printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The control API's port on 127.0.0.1 (0: any free port, printed).
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// Also write the kubeconfig here (the temporary one is removed on
    /// exit; this copy is kept).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Install every CRD found in this directory before serving.
    #[arg(long, value_name = "DIR")]
    crds: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stop = StopSignal::listen().context("listening for SIGTERM and Ctrl-C")?;

    let server = kube_harness_apiserver::ApiServer::start().await?;
    if let Some(dir) = &args.crds {
        let names = server
            .install_crds(dir)
            .await
            .with_context(|| format!("installing CRDs from {}", dir.display()))?;
        eprintln!("installed {} CRD(s): {}", names.len(), names.join(", "));
    }
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let endpoint = server
        .serve_http_on(SocketAddr::new(loopback, args.port))
        .await?;
    let kubeconfig = match &args.kubeconfig {
        Some(p) => {
            write_kubeconfig(p, &endpoint.url, None)
                .with_context(|| format!("writing kubeconfig {}", p.display()))?;
            p.clone()
        }
        None => endpoint.kubeconfig.clone(),
    };

    let faker = StatusFaker::new(server.client(), None, Arc::new(jiff::Timestamp::now));
    faker.nodes(args.nodes);
    faker.serve_on(&server);
    faker.start();
    let control = control::serve(faker.clone(), SocketAddr::new(loopback, args.control_port))
        .await
        .context("serving the control API")?;

    println!("serving on {}", endpoint.url);
    println!("kubeconfig: {}", kubeconfig.display());
    println!("control: http://{control}");
    println!("nodes: {}", faker.node_names().join(" "));
    stop.wait().await;
    eprintln!("shutting down");
    faker.stop();
    drop(endpoint);
    Ok(())
}
