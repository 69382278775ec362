//! autoscaling/v2 defaults.

use serde_json::{Map, Value, json};

use super::unset;
use crate::store::meta;

/// `autoscaling/v2` `SetDefaults_HorizontalPodAutoscaler`: one replica at
/// least, 80 % CPU when no metric is given, and the scaling rules filled in
/// when a `behavior` is given (`GenerateHPAScaleUpRules`,
/// `GenerateHPAScaleDownRules`).
pub(super) fn hpa(obj: &mut Value) {
    if unset(meta::path(obj, ".spec.minReplicas")) {
        meta::set_path(obj, ".spec.minReplicas", 1.into());
    }
    let no_metrics = meta::path(obj, ".spec.metrics")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if no_metrics {
        meta::set_path(
            obj,
            ".spec.metrics",
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(behavior) = obj
        .pointer_mut("/spec/behavior")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for rules in ["scaleUp", "scaleDown"] {
        if unset(behavior.get(rules)) {
            behavior.insert(rules.into(), json!({}));
        }
    }
    let up = behavior.entry("scaleUp").or_insert_with(|| json!({}));
    fill_rules(
        up,
        Some(0),
        json!([
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ]),
    );
    let down = behavior.entry("scaleDown").or_insert_with(|| json!({}));
    // The stabilization window stays unset: the controller's flag applies.
    fill_rules(
        down,
        None,
        json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
    );
}

fn fill_rules(rules: &mut Value, window: Option<u32>, policies: Value) {
    let Some(rules) = rules.as_object_mut() else {
        return;
    };
    let set = |rules: &mut Map<String, Value>, key: &str, value: Value| {
        if unset(rules.get(key)) {
            rules.insert(key.into(), value);
        }
    };
    if let Some(w) = window {
        set(rules, "stabilizationWindowSeconds", w.into());
    }
    set(rules, "selectPolicy", "Max".into());
    set(rules, "policies", policies);
}
