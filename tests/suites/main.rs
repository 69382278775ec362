//! Scenario suites: one test binary, one module per suite. Each suite file
//! holds its scenarios and their assertions; `rollout` is what the four
//! rollout suites share. `cargo xtask demo` tells the same scenarios as a
//! story (tests/examples/rollout_story.rs includes these files).

mod cluster;
mod pod_restart;
mod rollout;
mod rollout_disruption;
mod rollout_faults;
mod rollout_paused;
mod rollout_restart;
mod rollout_stuck;
mod storage;
mod storage_backup;
mod storage_catches;
mod storage_disruption;
mod storage_policy;
mod storage_replicas;
mod storage_sizing;
