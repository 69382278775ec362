//! One import for a test file: `use harness::prelude::*;`.
pub use crate::disruption::{self, DisruptionError};
pub use crate::env::{env, BackendKind, EnvError, OperatorHandle, TestEnv};
pub use crate::faker::volumes::{CAPACITY_BYTES_ANNOTATION, USED_BYTES_ANNOTATION};
pub use crate::faker::{Kind as FakerKind, StatusFaker};
