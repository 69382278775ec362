//! An in-memory Kubernetes API server, so harness tests run hermetically and
//! real clients (kube-rs, kube-runtime, kubectl) see what kube-apiserver shows.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_harness_apiserver::Error> {
//! let server = kube_harness_apiserver::ApiServer::start().await?;
//! let client = server.client(); // in-process, works under paused time
//! let http = server.serve_http().await?; // for kubectl: http.kubeconfig
//! # Ok(()) }
//! ```

mod admission;
mod aggregator;
mod authz;
mod cel_rules;
#[cfg(feature = "cli")]
pub mod cli;
pub mod clock;
mod crd;
mod crd_files;
mod defaults;
mod discovery;
mod error;
mod faults;
mod feed;
mod gc;
mod http;
mod metrics;
mod openapi;
// Public only for the fuzz targets (fuzz/): not part of the API.
mod go_types;
mod health;
#[doc(hidden)]
pub mod patch;
mod protobuf;
mod quantity;
mod registry;
mod rest;
mod schema;
pub mod selectors;
mod server;
mod services;
mod store;
mod strategy;
mod table;
mod tokens;
mod validation;
mod warnings;
mod watch;

pub use clock::{Clock, SystemClock, TokioClock};
pub use error::{ApiError, Error};
pub use faults::{FAULT_SEED_VAR, Fault, Faults, Injected};
pub use feed::{Change, ChangeFeed, Changes};
pub use http::{HttpEndpoint, kubeconfig_yaml, kubeconfig_yaml_with_token};
pub use server::{ApiServer, ApiServerBuilder, DEFAULT_BODY_LIMIT, DEFAULT_WATCH_HISTORY};
