//! `storage-operator`: run the operator against the current kubeconfig, or
//! print its CRDs.

use clap::{Parser, Subcommand};
use storage_operator::OperatorConfig;

#[derive(Parser)]
#[command(
    name = "storage-operator",
    version,
    about = "Database operator with dynamic storage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the Database and Backup CustomResourceDefinitions as YAML.
    Crd,
    /// Run the controllers against the cluster of the current kubeconfig.
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
            print!("{}", storage_operator::crd_yaml());
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
            storage_operator::run(client, config).await
        }
    }
}
