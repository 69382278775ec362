//! Test-only breakages, each one of the seed's failures. A suite is only
//! worth something if it fails when the operator is wrong, and names why.
//! Production code leaves them all off (the `Default`).

/// Deliberate breakages; switch one on with its method.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The active-pod filter inverts its readiness test, so every running
    /// instance is filtered out before its disk status is read (seed 000's
    /// "No instances available for disk status collection").
    pub(crate) filter_out_ready_instances: bool,
    /// Storage is not reconciled while pods run an old image, so a growth
    /// wanted during a rolling upgrade never happens.
    pub(crate) skip_storage_while_upgrading: bool,
    /// Usage is measured against `storage.size` instead of the volume's
    /// real size, so every growth still looks full and the next follows.
    pub(crate) measure_against_initial_size: bool,
    /// A replica is never promoted: the database stays FailingOver.
    pub(crate) never_promote: bool,
}

impl Faults {
    /// Filter every ready instance out of disk status collection.
    pub fn filter_out_ready_instances(mut self) -> Self {
        self.filter_out_ready_instances = true;
        self
    }

    /// Skip storage while a rolling upgrade runs.
    pub fn skip_storage_while_upgrading(mut self) -> Self {
        self.skip_storage_while_upgrading = true;
        self
    }

    /// Measure usage against the initial size.
    pub fn measure_against_initial_size(mut self) -> Self {
        self.measure_against_initial_size = true;
        self
    }

    /// Never promote a replica.
    pub fn never_promote(mut self) -> Self {
        self.never_promote = true;
        self
    }

    /// Whether any switch is on (logged loudly at start).
    pub fn any(&self) -> bool {
        self.filter_out_ready_instances
            || self.skip_storage_while_upgrading
            || self.measure_against_initial_size
            || self.never_promote
    }
}
