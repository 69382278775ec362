//! harness integration tests: one binary, a module per area (link time on 2 cores).

mod env;
mod faker;
