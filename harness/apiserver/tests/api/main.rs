//! Acceptance tests: real kube-rs clients (typed `Api<T>`, kube-runtime
//! watchers, reflectors and controllers) against the embedded server.

mod abuse;
mod cel;
mod claims;
mod common;
mod concurrency;
mod connect;
mod crd;
mod crud;
mod defaults;
mod deletion;
mod errors;
mod eviction;
mod faults;
mod feed;
mod fields;
mod groups;
mod health;
mod http;
mod kubectl;
mod listing;
mod managed_fields;
mod patch;
mod policies;
mod printing;
mod runtime;
mod services;
mod standalone;
mod subresource_admission;
mod subresources;
mod tables;
mod watch;
mod watch_delivery;
mod webhook_server;
mod webhooks;
mod workloads;
