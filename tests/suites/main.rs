//! Scenario suites: one test binary, one module per suite.

mod rollout_common;
mod rollout_stuck;
