//! How values appear in failure messages: compact JSON on one line for
//! mismatches (cut at a readable length), pretty JSON for the last value.

use serde_json::Value;

/// Longest one-line rendering before it is cut with `…`.
const MAX_INLINE: usize = 160;

/// One-line JSON of a value, `absent` for a missing field or `null`.
pub fn render(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "absent".to_string(),
        Some(v) => {
            let s = v.to_string();
            if s.chars().count() > MAX_INLINE {
                let cut: String = s.chars().take(MAX_INLINE).collect();
                format!("{cut}…")
            } else {
                s
            }
        }
    }
}

/// Multi-line JSON of a value, for the "last value" part of a failure.
pub fn render_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_absent_null_and_long_values() {
        assert_eq!(render(None), "absent");
        assert_eq!(render(Some(&Value::Null)), "absent");
        assert_eq!(render(Some(&json!("Ready"))), "\"Ready\"");
        let long = json!("x".repeat(500));
        let r = render(Some(&long));
        assert!(r.ends_with('…'));
        assert_eq!(r.chars().count(), MAX_INLINE + 1);
    }
}
