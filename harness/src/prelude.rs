//! One import for a test file: `use harness::prelude::*;`.
