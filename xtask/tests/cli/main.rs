//! Drives the built `xtask` binary with fake kind/kubectl/helm/docker (and
//! cargo) on PATH and asserts the exact commands it runs. One test binary
//! for the crate keeps link time down; one module per command, plus the
//! repository's policy checks.

mod ci_summary;
mod cluster;
mod csi;
mod demo_bench_soak;
mod fakes;
mod policy;
mod upgrade;
mod workflows;
