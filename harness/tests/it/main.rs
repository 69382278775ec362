//! The harness crate's integration tests: one binary (link time on 2 cores),
//! one module per area.

mod env;
mod faker;
mod first_operator;

/// The facade's README shows `first_operator.rs` as it is, so the guide's
/// example is the one CI compiles and runs.
#[test]
fn readme_shows_this_file() {
    let readme = include_str!("../../README.md");
    let file = include_str!("first_operator.rs");
    assert!(
        readme.contains(&format!("```rust\n{}```", file)),
        "harness/README.md's first operator test differs from harness/tests/it/first_operator.rs: copy the file into the README"
    );
}
