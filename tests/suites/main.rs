//! Scenario suites: one test binary, one module per suite.
