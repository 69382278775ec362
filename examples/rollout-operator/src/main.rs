//! `rollout-operator`: run the operator against the current kubeconfig, or
//! print its CRD.

use clap::{Parser, Subcommand};
use rollout_operator::OperatorConfig;

#[derive(Parser)]
#[command(
    name = "rollout-operator",
    version,
    about = "NodeDeployment in-place rollout operator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the NodeDeployment CustomResourceDefinition as YAML.
    Crd,
    /// Run the controller against the cluster of the current kubeconfig.
    Run {
        /// Watch only this namespace (default: all namespaces).
        #[arg(long, short)]
        namespace: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd => {
            print!("{}", rollout_operator::crd_yaml());
            Ok(())
        }
        Command::Run { namespace } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .init();
            let client = kube::Client::try_default().await.map_err(|e| {
                anyhow::anyhow!("cannot reach a cluster ({e}); set KUBECONFIG or run inside a pod")
            })?;
            let config = OperatorConfig {
                namespace,
                ..OperatorConfig::default()
            };
            rollout_operator::run(client, config).await
        }
    }
}
