//! Objects from JSON literals: a test states the fields it cares about, as
//! it would in YAML, and gets a typed object (or a message naming the field
//! that does not fit) instead of spelling out k8s-openapi's nested structs.

use serde::de::DeserializeOwned;

/// The field manager of writes the env makes for the test (apply, patch).
pub const FIELD_MANAGER: &str = "kube-harness";

/// A typed object from a JSON value; for the literal form see
/// [`object!`](crate::object).
///
/// # Panics
/// When the JSON does not fit `K`, naming the field and the type (a test's
/// literal is wrong, which no retry fixes).
pub fn from_json<K: DeserializeOwned>(value: serde_json::Value) -> K {
    let text = value.to_string();
    let de = &mut serde_json::Deserializer::from_str(&text);
    match serde_path_to_error::deserialize::<_, K>(de) {
        Ok(obj) => obj,
        Err(e) => panic!(
            "object literal is not a valid {}: at `{}`: {}",
            std::any::type_name::<K>(),
            e.path(),
            e.inner()
        ),
    }
}

/// A typed Kubernetes object from a JSON literal, with `apiVersion` and
/// `kind` filled in from the type:
///
/// ```
/// use k8s_openapi::api::core::v1::ConfigMap;
/// let cm = kube_harness::object!(ConfigMap, {
///     "metadata": {"name": "settings", "labels": {"app": "web"}},
///     "data": {"mode": "fast"},
/// });
/// assert_eq!(cm.metadata.name.as_deref(), Some("settings"));
/// assert_eq!(cm.data.unwrap()["mode"], "fast");
/// ```
///
/// # Panics
/// When the literal does not fit the type, naming the field.
#[macro_export]
macro_rules! object {
    ($kind:ty, $($json:tt)+) => {{
        let mut value = $crate::__private::serde_json::json!($($json)+);
        if let Some(map) = value.as_object_mut() {
            map.entry("apiVersion").or_insert_with(|| {
                <$kind as $crate::__private::kube::Resource>::api_version(&()).into()
            });
            map.entry("kind").or_insert_with(|| {
                <$kind as $crate::__private::kube::Resource>::kind(&()).into()
            });
        }
        $crate::env::from_json::<$kind>(value)
    }};
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn literals_become_typed_objects() {
        let pod = crate::object!(Pod, {
            "metadata": {"name": "web-0"},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
        });
        assert_eq!(
            pod.spec.unwrap().containers[0].image.as_deref(),
            Some("nginx:1.27")
        );
    }

    #[test]
    #[should_panic(
        expected = "at `spec.containers[0].name`: invalid type: integer `7`, expected a string"
    )]
    fn a_wrong_field_is_named() {
        let _ = crate::object!(Pod, {
            "metadata": {"name": "web-0"},
            "spec": {"containers": [{"name": 7}]},
        });
    }
}
