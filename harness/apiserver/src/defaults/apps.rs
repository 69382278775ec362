//! apps/v1 defaults (`pkg/apis/apps/v1/defaults.go`).

use serde_json::{Value, json};

use super::core::pod_template;
use super::{at, fill, fill_zero, items, object};
use crate::go_types::is_zero;

/// `SetDefaults_Deployment`: the rolling-update bounds only when the
/// strategy is (or defaults to) RollingUpdate.
pub(super) fn deployment(obj: &mut Value) {
    if let Some(spec) = object(obj, "spec") {
        fill(spec, "replicas", 1);
        if let Some(strategy) = object(spec, "strategy") {
            rolling_update(strategy, "25%", "25%");
        }
        fill(spec, "revisionHistoryLimit", 10);
        fill(spec, "progressDeadlineSeconds", 600);
    }
    pod_template(obj, "spec/template");
}

/// `SetDefaults_DaemonSet`.
pub(super) fn daemon_set(obj: &mut Value) {
    if let Some(spec) = object(obj, "spec") {
        if let Some(strategy) = object(spec, "updateStrategy") {
            rolling_update(strategy, 1, 0);
        }
        fill(spec, "revisionHistoryLimit", 10);
    }
    pod_template(obj, "spec/template");
}

fn rolling_update(
    strategy: &mut Value,
    max_unavailable: impl Into<Value>,
    max_surge: impl Into<Value>,
) {
    fill_zero(strategy, "type", "RollingUpdate");
    if strategy["type"] == "RollingUpdate"
        && let Some(rolling) = object(strategy, "rollingUpdate")
    {
        fill(rolling, "maxUnavailable", max_unavailable);
        fill(rolling, "maxSurge", max_surge);
    }
}

/// `SetDefaults_ReplicaSet`.
pub(super) fn replica_set(obj: &mut Value) {
    if let Some(spec) = object(obj, "spec") {
        fill(spec, "replicas", 1);
    }
    pod_template(obj, "spec/template");
}

/// `SetDefaults_StatefulSet`: a RollingUpdate strategy named without its
/// block gets no partition (only a defaulted type brings the block), and
/// the claim templates get the claim defaults.
pub(super) fn stateful_set(obj: &mut Value) {
    if let Some(spec) = object(obj, "spec") {
        fill_zero(spec, "podManagementPolicy", "OrderedReady");
        if let Some(strategy) = object(spec, "updateStrategy") {
            let typed = strategy
                .get("type")
                .is_some_and(|t| !t.is_null() && !is_zero(t));
            if !typed {
                strategy["type"] = "RollingUpdate".into();
                fill(strategy, "rollingUpdate", json!({}));
            }
            if strategy["type"] == "RollingUpdate"
                && let Some(rolling) = at(strategy, "/rollingUpdate")
            {
                fill(rolling, "partition", 0);
            }
        }
        if let Some(policy) = object(spec, "persistentVolumeClaimRetentionPolicy") {
            fill_zero(policy, "whenDeleted", "Retain");
            fill_zero(policy, "whenScaled", "Retain");
        }
        fill(spec, "replicas", 1);
        fill(spec, "revisionHistoryLimit", 10);
        for claim in items(spec, "volumeClaimTemplates") {
            super::core::pvc(claim);
            if let Some(status) = object(claim, "status") {
                fill_zero(status, "phase", "Pending");
            }
        }
    }
    pod_template(obj, "spec/template");
}
