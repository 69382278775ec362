//! The harness crate's integration tests: one binary (link time on 2 cores),
//! one module per area.

mod env;
mod faker;
