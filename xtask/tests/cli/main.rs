//! Drives the built `xtask` binary with fake kind/kubectl/helm/docker on
//! PATH and asserts the exact commands it runs. One test binary for the
//! crate keeps link time down; one module per command.

mod cluster;
mod csi;
mod fakes;
mod upgrade;
mod workflows;
