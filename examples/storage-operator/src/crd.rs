//! The `Database` and `Backup` custom resources: what a user asks for and
//! what an on-call reads with `kubectl get databases` and `kubectl describe`.
//!
//! Invalid storage policies are refused at admission by the CRD's schema
//! (ranges) and its CEL rules (quantities, limit vs size, the cron grammar),
//! so a typo never reaches the operator; every message names its field.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the operator's resources.
pub const GROUP: &str = "storage.kube-harness.dev";
/// Label on every pod and claim of a database; maps them back to it.
pub const DATABASE_LABEL: &str = "storage.kube-harness.dev/database";
/// Label the operator keeps on each pod: `primary` or `replica`.
pub const ROLE_LABEL: &str = "storage.kube-harness.dev/role";
/// The database container, and the claim template its data lives on.
pub const CONTAINER: &str = "db";
/// Name of the volume claim template (claims are `data-<database>-<n>`).
pub const DATA: &str = "data";

/// Condition types the operator maintains.
pub mod condition {
    /// Every instance is ready and a primary serves.
    pub const READY: &str = "Ready";
    /// The last reconcile read every instance's disk usage.
    pub const DISK_STATUS_COLLECTED: &str = "DiskStatusCollected";
    /// A growth is wanted but waits (window, budget or limit); see `pendingAction`.
    pub const GROWTH_PENDING: &str = "GrowthPending";
    /// Claims are being expanded to the effective size.
    pub const RESIZING: &str = "Resizing";
}

/// Event reasons the operator emits.
pub mod reason {
    /// A growth was requested on every claim.
    pub const GROWTH_STARTED: &str = "GrowthStarted";
    /// Every claim reports the effective size.
    pub const GROWTH_COMPLETED: &str = "GrowthCompleted";
    /// A planned growth waits for the maintenance window.
    pub const GROWTH_QUEUED: &str = "GrowthQueued";
    /// A growth is wanted but a daily budget is spent (Warning).
    pub const BUDGET_EXHAUSTED: &str = "BudgetExhausted";
    /// A growth is wanted but the claims are at `limit` (Warning).
    pub const LIMIT_REACHED: &str = "LimitReached";
    /// Disk usage could not be read (Warning).
    pub const DISK_STATUS_UNAVAILABLE: &str = "DiskStatusUnavailable";
    /// The primary is gone or not ready; a replica will be promoted.
    pub const FAILOVER_STARTED: &str = "FailoverStarted";
    /// A replica was promoted to primary.
    pub const FAILOVER_COMPLETED: &str = "FailoverCompleted";
}

/// A replicated database: `instances` pods (one primary, the rest
/// replicas) each with a data volume that grows by the storage policy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "storage.kube-harness.dev",
    version = "v1alpha1",
    kind = "Database",
    namespaced,
    status = "DatabaseStatus",
    derive = "PartialEq",
    shortname = "db",
    doc = "A replicated database whose data volumes grow by a storage policy.",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Primary",
        type_ = "string",
        json_path = ".status.currentPrimary"
    ),
    printcolumn(name = "Size", type_ = "string", json_path = ".status.effectiveSize"),
    printcolumn(
        name = "Pending",
        type_ = "string",
        json_path = ".status.pendingAction.kind"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// Pods: one primary and `instances - 1` replicas.
    #[schemars(range(min = 1))]
    pub instances: i32,
    /// The database image; changing it rolls the pods one at a time.
    pub image: String,
    /// The data volumes and how they grow.
    pub storage: StorageSpec,
    /// How long the primary may be gone or not ready before a replica is
    /// promoted (seconds; default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub failover_delay_seconds: Option<i32>,
}

/// The storage policy.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {"rule": "isQuantity(self.size)", "message": "must be a quantity such as 5Gi", "fieldPath": ".size"},
    {"rule": "isQuantity(self.limit)", "message": "must be a quantity such as 50Gi", "fieldPath": ".limit"},
    {"rule": "!isQuantity(self.size) || !isQuantity(self.limit) || quantity(self.limit).compareTo(quantity(self.size)) >= 0",
     "message": "must not be below size", "fieldPath": ".limit"},
    {"rule": "!has(self.step) || self.step.matches('^[1-9][0-9]*%$') || (isQuantity(self.step) && quantity(self.step).isGreaterThan(quantity('0')))",
     "message": "must be a percentage such as 20% or a positive quantity such as 5Gi", "fieldPath": ".step"},
    {"rule": "self.criticalThreshold > 100 - self.targetBuffer",
     "message": "must be above 100 - targetBuffer, or every planned growth would be an emergency", "fieldPath": ".criticalThreshold"}
]))]
pub struct StorageSpec {
    /// Size of a new database's volumes.
    #[schemars(length(max = 32))]
    pub size: String,
    /// The volumes never grow beyond this.
    #[schemars(length(max = 32))]
    pub limit: String,
    /// Free space to keep, percent of the volume: usage above
    /// `100 - targetBuffer` percent plans a growth.
    #[serde(default = "default_target_buffer")]
    #[schemars(range(min = 1, max = 90))]
    pub target_buffer: i32,
    /// Usage (percent) at which growth is an emergency and happens at once,
    /// inside the window or not.
    #[serde(default = "default_critical_threshold")]
    #[schemars(range(min = 1, max = 100))]
    pub critical_threshold: i32,
    /// The least a growth adds: a percentage of the current size (`20%`) or a
    /// quantity (`5Gi`); sizes are rounded up to whole Gi. Default 20%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub step: Option<String>,
    /// When planned growth may run; absent: at any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<MaintenanceWindow>,
    /// At most this many growths per day (UTC), planned and emergency
    /// together; at most 20, the growths the status keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 20))]
    pub max_actions_per_day: Option<i32>,
    /// Separate daily budgets for planned and emergency growth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budgets: Option<Budgets>,
    /// The StorageClass of the volumes (absent: the cluster's default
    /// class). Growth needs one with `allowVolumeExpansion`; a claim's
    /// class cannot change, so neither can this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[schemars(extend("x-kubernetes-validations" = [
        {"rule": "self == oldSelf", "message": "is immutable: a claim's class cannot change"}
    ]))]
    pub storage_class_name: Option<String>,
}

impl StorageSpec {
    /// Volumes of `size` that may grow to `limit`, with the defaults the API
    /// server fills in (keep 20% free, emergency at 95%, 20% steps) and no
    /// window or budgets.
    pub fn new(size: impl Into<String>, limit: impl Into<String>) -> Self {
        Self {
            size: size.into(),
            limit: limit.into(),
            target_buffer: default_target_buffer(),
            critical_threshold: default_critical_threshold(),
            step: None,
            maintenance_window: None,
            max_actions_per_day: None,
            budgets: None,
            storage_class_name: None,
        }
    }
}

fn default_target_buffer() -> i32 {
    20
}

fn default_critical_threshold() -> i32 {
    95
}

/// A recurring window: it opens at each time `schedule` matches and stays
/// open for `duration`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::window::schema_rules)]
pub struct MaintenanceWindow {
    /// A cron schedule, 5 fields (`0 4 * * 6`) or 6 with seconds first
    /// (`0 0 4 * * 6`), numbers only, in UTC.
    #[schemars(length(max = 128))]
    pub schedule: String,
    /// How long the window stays open (`2h`, `90m`).
    #[schemars(length(max = 32))]
    pub duration: String,
}

/// Daily growth budgets (UTC days); absent: unlimited.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Budgets {
    /// Planned growths per day (at most 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 20))]
    pub planned: Option<i32>,
    /// Emergency growths per day (at most 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 20))]
    pub emergency: Option<i32>,
}

/// Lifecycle phase; the first column an on-call reads.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema, Default)]
pub enum Phase {
    /// Instances are being created or are not all ready yet.
    #[default]
    Provisioning,
    /// Every instance is ready and the claims have the effective size.
    Healthy,
    /// Claims are being expanded to the effective size.
    Resizing,
    /// The primary is gone or not ready; a replica is about to be promoted.
    FailingOver,
}

/// Why a growth happens.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum ActionKind {
    /// Free space fell below `targetBuffer`: grows inside the window.
    Planned,
    /// Usage reached `criticalThreshold`: grows at once.
    Emergency,
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Observed state, replaced whole on every write.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// Lifecycle phase.
    #[serde(default)]
    pub phase: Phase,
    /// Ready pods.
    #[serde(default)]
    pub ready_instances: i32,
    /// The pod serving as primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_primary: Option<String>,
    /// Since when the primary has been gone or not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_unready_since: Option<Time>,
    /// The size every claim has or is growing to; never shrinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_size: Option<String>,
    /// A growth that is wanted but waits, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_action: Option<PendingAction>,
    /// Growths carried out, oldest first (the last 20).
    #[serde(default)]
    pub history: Vec<StorageAction>,
    /// Today's budget use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetStatus>,
    /// Each instance's volume usage, as last read from its kubelet.
    #[serde(default)]
    pub disks: Vec<InstanceDisk>,
    /// Ready, DiskStatusCollected, GrowthPending, Resizing.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// `metadata.generation` of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A growth that waits.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingAction {
    /// Planned or Emergency.
    pub kind: ActionKind,
    /// The size it would grow to.
    pub size: String,
    /// Why it waits (window, budget, limit), in words.
    pub reason: String,
    /// When it was first wanted; stable while it waits.
    pub since: Time,
}

/// A growth carried out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageAction {
    /// When it was requested.
    pub at: Time,
    /// Planned or Emergency.
    pub kind: ActionKind,
    /// Size before.
    pub from: String,
    /// Size after.
    pub to: String,
    /// Why, in words (usage and threshold).
    pub reason: String,
}

/// Budget use on one UTC day.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct BudgetStatus {
    /// The day (`2026-11-30`).
    pub day: String,
    /// Growths so far that day.
    pub actions: i32,
    /// Planned growths left (absent: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_left: Option<i32>,
    /// Emergency growths left (absent: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency_left: Option<i32>,
}

/// One instance's data volume as its kubelet reports it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDisk {
    /// The pod.
    pub instance: String,
    /// Its claim.
    pub claim: String,
    /// Bytes used.
    pub used_bytes: u64,
    /// Filesystem size in bytes.
    pub capacity_bytes: u64,
}

impl DatabaseStatus {
    /// The condition of `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }
}

/// A one-off backup of a database, run as a Job.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[kube(
    group = "storage.kube-harness.dev",
    version = "v1alpha1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    derive = "PartialEq",
    doc = "A backup of a Database, taken by a Job.",
    printcolumn(name = "Database", type_ = "string", json_path = ".spec.database"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// The Database to back up (same namespace).
    pub database: String,
}

/// A backup's progress.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// `Running`, `Completed` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The Job that takes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}
