//! Bad values as apimachinery's `field.Error` prints them: Go's `%#v` of
//! the internal type (`map[string]string{"app":"web"}`,
//! `v1.LabelSelector{...}`, `intstr.IntOrString{...}`), so a 422 reads as
//! kube-apiserver's byte for byte.

use serde_json::Value;

/// `map[string]string{"a":"b"}` with sorted keys; `(nil)` when absent.
pub(crate) fn string_map(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let mut pairs: Vec<(&String, &str)> = m
                .iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or("")))
                .collect();
            pairs.sort();
            let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
            format!("map[string]string{{{}}}", inner.join(", "))
        }
    }
}

fn string_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".into(),
        Some(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|i| format!("{:?}", i.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", inner.join(", "))
        }
    }
}

/// A `metav1.LabelSelector` by value.
pub(crate) fn label_selector(sel: &Value) -> String {
    let expressions = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{}}}",
                        e.get("key").and_then(Value::as_str).unwrap_or(""),
                        e.get("operator").and_then(Value::as_str).unwrap_or(""),
                        string_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", inner.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        string_map(sel.get("matchLabels"))
    )
}

/// An `intstr.IntOrString` by value.
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!("intstr.IntOrString{{Type:1, IntVal:0, StrVal:{s:?}}}"),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    }
}

/// A `metav1.ObjectMeta` by value, as a review's "must be empty" error
/// prints it after apiserver wiped the system fields (uid, creation time).
/// Not byte for byte: owner references print as a count, and upstream's
/// field manager has already filled `ManagedFields` (printed here as nil).
pub(crate) fn object_meta(m: &Value) -> String {
    let s = |k: &str| format!("{:?}", m.get(k).and_then(Value::as_str).unwrap_or(""));
    let owners = match m.get("ownerReferences").and_then(Value::as_array) {
        None => "[]v1.OwnerReference(nil)".to_string(),
        Some(refs) => format!("[]v1.OwnerReference{{/* {} */}}", refs.len()),
    };
    format!(
        "v1.ObjectMeta{{Name:{}, GenerateName:{}, Namespace:{}, SelfLink:\"\", UID:\"\", \
         ResourceVersion:{}, Generation:{}, \
         CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), \
         DeletionTimestamp:<nil>, DeletionGracePeriodSeconds:(*int64)(nil), Labels:{}, \
         Annotations:{}, OwnerReferences:{owners}, Finalizers:{}, \
         ManagedFields:[]v1.ManagedFieldsEntry(nil)}}",
        s("name"),
        s("generateName"),
        s("namespace"),
        s("resourceVersion"),
        m.get("generation").and_then(Value::as_i64).unwrap_or(0),
        string_map(m.get("labels")),
        string_map(m.get("annotations")),
        string_slice(m.get("finalizers")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_go_sharp_v() {
        assert_eq!(
            string_map(Some(&json!({"tier": "fe", "app": "web"}))),
            r#"map[string]string{"app":"web", "tier":"fe"}"#
        );
        assert_eq!(
            label_selector(&json!({"matchLabels": {"app": "web"}})),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert_eq!(
            int_or_string(&json!(0)),
            r#"intstr.IntOrString{Type:0, IntVal:0, StrVal:""}"#
        );
        assert_eq!(
            int_or_string(&json!("0%")),
            r#"intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}"#
        );
        assert_eq!(
            object_meta(&json!({"name": "x", "labels": {"a": "b"}})),
            r#"v1.ObjectMeta{Name:"x", GenerateName:"", Namespace:"", SelfLink:"", UID:"", ResourceVersion:"", Generation:0, CreationTimestamp:time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC), DeletionTimestamp:<nil>, DeletionGracePeriodSeconds:(*int64)(nil), Labels:map[string]string{"a":"b"}, Annotations:map[string]string(nil), OwnerReferences:[]v1.OwnerReference(nil), Finalizers:[]string(nil), ManagedFields:[]v1.ManagedFieldsEntry(nil)}"#
        );
    }
}
