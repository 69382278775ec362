//! An in-memory Kubernetes API server, so harness tests run hermetically and
//! real clients (kube-rs, kube-runtime, kubectl) see what kube-apiserver shows.

pub mod patch;
