//! Runs the embedded API server standalone until Ctrl-C.
fn main() {}
