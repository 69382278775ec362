//! Root package: the scenarios that the suites in `tests/suites/` assert and
//! that `cargo xtask demo` tells as a story.

pub mod rollout;
