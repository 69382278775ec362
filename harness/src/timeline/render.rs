//! Timelines as text a human reads after a failure: aligned columns for a
//! terminal or a failure message, a Markdown table for a CI step summary.

use super::log::Timeline;
use std::fmt::Write as _;
use std::time::Duration;

/// `+1.234s`: millisecond precision is enough to order what a human reads,
/// and stable under paused time.
pub fn offset(at: Duration) -> String {
    format!("+{}.{:03}s", at.as_secs(), at.subsec_millis())
}

impl Timeline {
    /// Aligned plain text, one line per entry, headed by the namespace; what a
    /// failure message attaches.
    pub fn render(&self) -> String {
        let mut out = format!("{}:", self.title());
        if self.entries.is_empty() {
            out.push_str(" nothing recorded");
            return out;
        }
        for line in self.rows().lines() {
            out.push_str("\n  ");
            out.push_str(line);
        }
        out
    }

    /// `timeline (ns x)`: the heading of [`Timeline::render`].
    pub fn title(&self) -> String {
        format!("timeline (ns {})", self.namespace)
    }

    /// The aligned entries of [`Timeline::render`] without heading or indent
    /// (`nothing recorded` when empty): a failure report's section body.
    pub fn rows(&self) -> String {
        if self.entries.is_empty() {
            return "nothing recorded".to_string();
        }
        let mut out = String::new();
        let rows: Vec<[String; 4]> = self
            .entries
            .iter()
            .map(|e| {
                [
                    offset(e.at),
                    e.object.clone(),
                    e.label().to_string(),
                    e.detail(),
                ]
            })
            .collect();
        let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
        let (w0, w1, w2) = (width(0), width(1), width(2));
        for [at, object, label, detail] in &rows {
            let line = format!("{at:>w0$}  {object:<w1$}  {label:<w2$}  {detail}");
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(line.trim_end());
        }
        out
    }

    /// A Markdown table (for `$GITHUB_STEP_SUMMARY`, docs, reports).
    pub fn to_markdown(&self) -> String {
        let mut out = format!("**Timeline** (namespace `{}`)\n\n", self.namespace);
        if self.entries.is_empty() {
            out.push_str("_nothing recorded_\n");
            return out;
        }
        out.push_str("| at | object | what | detail |\n|---:|---|---|---|\n");
        let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
        for e in &self.entries {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                offset(e.at),
                cell(&e.object),
                cell(e.label()),
                cell(&e.detail())
            );
        }
        out
    }
}

impl std::fmt::Display for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::What;

    fn sample() -> Timeline {
        let mut tl = Timeline::new("stuck-rollout-7f3k");
        tl.push(
            Duration::ZERO,
            "NodeDeployment/seid",
            What::Event {
                reason: "RolloutStarted".into(),
                message: "image sei:v1 → sei:v2".into(),
                type_: "Normal".into(),
                source: "rollout-operator".into(),
            },
        );
        tl.push(
            Duration::from_millis(10),
            "StatefulSet/seid",
            What::Changed {
                label: "spec.image".into(),
                from: Some("sei:v1".into()),
                to: Some("sei:v2".into()),
                note: None,
            },
        );
        tl.push(Duration::from_millis(12_500), "Pod/seid-2", What::Deleted);
        tl
    }

    #[test]
    fn renders_aligned_columns() {
        assert_eq!(
            sample().render(),
            "timeline (ns stuck-rollout-7f3k):\n\
             \x20  +0.000s  NodeDeployment/seid  RolloutStarted  image sei:v1 → sei:v2\n\
             \x20  +0.010s  StatefulSet/seid     spec.image      sei:v1 → sei:v2\n\
             \x20 +12.500s  Pod/seid-2           deleted"
        );
    }

    #[test]
    fn renders_markdown_with_escaped_cells() {
        let mut tl = sample();
        tl.push(
            Duration::from_secs(13),
            "NodeDeployment/seid",
            What::Event {
                reason: "Odd".into(),
                message: "a | b\nc".into(),
                type_: "Warning".into(),
                source: String::new(),
            },
        );
        let md = tl.to_markdown();
        assert!(md.starts_with("**Timeline** (namespace `stuck-rollout-7f3k`)\n\n| at | object | what | detail |\n|---:|---|---|---|\n"));
        assert!(md.contains(
            "| +0.000s | NodeDeployment/seid | RolloutStarted | image sei:v1 → sei:v2 |\n"
        ));
        assert!(md.contains("| +13.000s | NodeDeployment/seid | Odd | [Warning] a \\| b c |\n"));
    }

    #[test]
    fn empty_timeline_says_so() {
        assert_eq!(
            Timeline::new("ns").render(),
            "timeline (ns ns): nothing recorded"
        );
        assert!(
            Timeline::new("ns")
                .to_markdown()
                .contains("_nothing recorded_")
        );
    }
}
