//! Acceptance tests: real kube-rs clients (typed `Api<T>`, kube-runtime
//! watchers, reflectors and controllers) against the embedded server.

mod common;
mod crud;
mod http;
mod kubectl;
mod watch;
