//! See the crate docs; this module is being built.
