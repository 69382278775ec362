//! Root package; its tests/ hold the scenario suites.
