//! Warnings a request earns (ratcheted CEL rules today), sent back as
//! `Warning: 299 - "text"` headers the way apiserver's warning recorder
//! does (`endpoints/filters/warning.go`, `util/net.NewWarningHeader`):
//! each distinct text once, in the order they were added.
//!
//! The sink is task-local, so code deep in a write adds to it without every
//! layer passing it along.

use std::sync::{Arc, Mutex};

tokio::task_local! {
    static SINK: Arc<Mutex<Vec<String>>>;
}

/// Records `text` for the current request; outside one (the server's own
/// writes), it is dropped.
pub(crate) fn add(text: String) {
    let _ = SINK.try_with(|sink| {
        let mut w = sink.lock().unwrap_or_else(|p| p.into_inner());
        if !w.contains(&text) {
            w.push(text);
        }
    });
}

/// Runs `fut` collecting its warnings, and returns them with its output.
pub(crate) async fn collect<F: Future>(fut: F) -> (F::Output, Vec<String>) {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let out = SINK.scope(sink.clone(), fut).await;
    let texts = std::mem::take(&mut *sink.lock().unwrap_or_else(|p| p.into_inner()));
    (out, texts)
}

/// A `Warning` header value: code 299, agent `-`, the text Go-quoted.
pub(crate) fn header(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                quoted.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    format!("299 - {quoted}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_text_once_in_order() {
        let ((), texts) = collect(async {
            add("b".into());
            add("a \"q\"".into());
            add("b".into());
        })
        .await;
        assert_eq!(texts, ["b", "a \"q\""]);
        assert_eq!(header(&texts[1]), r#"299 - "a \"q\"""#);
        add("outside a request is dropped".into());
    }
}
