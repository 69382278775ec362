//! Scenario suites: one test binary, one module per suite.

mod pod_restart;
mod rollout_disruption;
mod rollout_paused;
mod rollout_restart;
mod rollout_stuck;
