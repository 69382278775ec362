//! Contrast matrices: named shapes of an object's status as rows of field
//! expectations, e.g. a rollout that is *Stuck* versus one that is *Paused*.
//!
//! The matrix is the contract between two states an on-call must tell
//! apart. The same value is checked by the test (`check`, or `shape(..)` as
//! a matcher inside `consistently`) and rendered by `to_markdown` into the
//! design doc, so the document cannot drift from what is tested (pin the
//! rendering with `insta::assert_snapshot!(matrix.to_markdown())`).

use crate::matchers::{BoxMatcher, FieldPath, Matcher, Mismatch, render, to_json};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// One shape's expectation on one row.
pub enum Cell {
    /// The value at the row must match this.
    Expect(BoxMatcher),
    /// The row says nothing about this shape (`n/a` in the table).
    NotApplicable,
}

impl Cell {
    fn describe(&self) -> String {
        match self {
            Cell::Expect(m) => m.describe(),
            Cell::NotApplicable => "n/a".to_string(),
        }
    }
}

/// A cell expecting `m`.
pub fn cell(m: impl Matcher + 'static) -> Cell {
    Cell::Expect(Box::new(m))
}

/// A cell with no expectation (`n/a`).
pub fn na() -> Cell {
    Cell::NotApplicable
}

struct Row {
    label: String,
    /// `Some`: cells see the value at this path. `None`: the whole snapshot.
    path: Option<FieldPath>,
    cells: Vec<Cell>,
}

impl Row {
    fn target<'v>(&self, v: &'v Value) -> Option<&'v Value> {
        match &self.path {
            Some(p) => p.resolve(Some(v)),
            None => Some(v),
        }
    }
    fn at(&self) -> &str {
        self.path.as_ref().map_or("", |p| p.as_str())
    }
}

/// Shapes as columns, field expectations as rows; `N` is the number of
/// shapes, so every row is checked at compile time to have one cell per shape.
#[derive(Clone)]
pub struct ContrastMatrix<const N: usize> {
    shapes: Arc<[String; N]>,
    rows: Vec<Arc<Row>>,
}

impl<const N: usize> ContrastMatrix<N> {
    /// A matrix of the named shapes, in column order.
    pub fn new(shapes: [&str; N]) -> Self {
        Self {
            shapes: Arc::new(shapes.map(str::to_string)),
            rows: Vec::new(),
        }
    }

    /// A row on the field at `path` (`status.phase`); each cell's matcher
    /// sees that field.
    ///
    /// # Panics
    /// When `path` does not parse.
    pub fn field(mut self, path: &str, cells: [Cell; N]) -> Self {
        let parsed = FieldPath::parse(path).unwrap_or_else(|e| panic!("contrast matrix row: {e}"));
        self.rows.push(Arc::new(Row {
            label: format!("`{path}`"),
            path: Some(parsed),
            cells: cells.into(),
        }));
        self
    }

    /// A row whose cells see the whole snapshot (conditions, cross-field
    /// checks), labelled `label` in the table.
    pub fn row(mut self, label: &str, cells: [Cell; N]) -> Self {
        self.rows.push(Arc::new(Row {
            label: label.to_string(),
            path: None,
            cells: cells.into(),
        }));
        self
    }

    /// The shape names, in column order.
    pub fn shapes(&self) -> &[String] {
        &self.shapes[..]
    }

    /// A matcher for "is `shape` and can be told from every other shape",
    /// usable in `consistently(..).should(..)`.
    ///
    /// # Panics
    /// When `shape` is not one of the matrix's shapes.
    pub fn shape(&self, shape: &str) -> ShapeMatcher {
        let index = self
            .shapes
            .iter()
            .position(|s| s == shape)
            .unwrap_or_else(|| {
                panic!(
                    "contrast matrix has no shape `{shape}` (shapes: {})",
                    self.shapes.join(", ")
                )
            });
        ShapeMatcher {
            shapes: self.shapes.to_vec(),
            rows: self.rows.clone(),
            index,
        }
    }

    /// Checks `snapshot` against `shape` once; see [`ContrastMatrix::shape`].
    pub fn check<T: Serialize + ?Sized>(
        &self,
        shape: &str,
        snapshot: &T,
    ) -> Result<(), ContrastFailure> {
        let m = self.shape(shape);
        m.reset();
        let mismatches = match to_json(snapshot) {
            Ok(v) => m.mismatches(Some(&v), ""),
            Err(e) => vec![e],
        };
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(ContrastFailure {
                shape: shape.to_string(),
                mismatches,
            })
        }
    }

    /// The matrix as a Markdown table: one column per shape, one row per
    /// expectation, cells as the matchers describe themselves.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = String::from("| field |");
        for s in self.shapes.iter() {
            out.push_str(&format!(" {} |", esc(s)));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(N));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |", esc(&row.label)));
            for c in &row.cells {
                out.push_str(&format!(" {} |", esc(&c.describe())));
            }
            out.push('\n');
        }
        out
    }
}

impl<const N: usize> fmt::Display for ContrastMatrix<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_markdown())
    }
}

/// "Matches this shape and no other", as a [`Matcher`].
#[derive(Clone)]
pub struct ShapeMatcher {
    shapes: Vec<String>,
    rows: Vec<Arc<Row>>,
    index: usize,
}

impl Matcher for ShapeMatcher {
    fn mismatches(&self, actual: Option<&Value>, at: &str) -> Vec<Mismatch> {
        let me = &self.shapes[self.index];
        let root = actual.unwrap_or(&Value::Null);
        let mut out = Vec::new();
        // 1. Every expectation of this shape holds.
        for row in &self.rows {
            if let Cell::Expect(m) = &row.cells[self.index] {
                out.extend(
                    m.mismatches(row.target(root), &crate::matchers::join_path(at, row.at())),
                );
            }
        }
        // 2. On every row where another shape expects something different,
        //    the value must fail that other expectation; else the row does
        //    not tell the shapes apart.
        for (other, name) in self
            .shapes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.index)
        {
            let mut differing = 0;
            for row in &self.rows {
                let (Cell::Expect(mine), Cell::Expect(theirs)) =
                    (&row.cells[self.index], &row.cells[other])
                else {
                    continue;
                };
                if mine.describe() == theirs.describe() {
                    continue;
                }
                differing += 1;
                let target = row.target(root);
                if theirs.mismatches(target, "").is_empty() {
                    let path = crate::matchers::join_path(at, row.at());
                    // A whole-snapshot row: naming the row says more than dumping the value.
                    let (label, got) = if path.is_empty() {
                        (row.label.clone(), "a match".to_string())
                    } else {
                        (path, render(target))
                    };
                    out.push(Mismatch::new(
                        &label,
                        format!(
                            "not {name}'s {} (to tell {me} from {name})",
                            theirs.describe()
                        ),
                        got,
                    ));
                }
            }
            if differing == 0 {
                out.push(Mismatch::new(
                    at,
                    format!("a row where {me} and {name} expect different things"),
                    "none: the matrix cannot tell them apart",
                ));
            }
        }
        out
    }

    fn describe(&self) -> String {
        format!("shape {}", self.shapes[self.index])
    }

    fn reset(&self) {
        for row in &self.rows {
            for c in &row.cells {
                if let Cell::Expect(m) = c {
                    m.reset();
                }
            }
        }
    }
}

/// A snapshot that is not (only) the shape it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContrastFailure {
    /// The shape it should have had.
    pub shape: String,
    /// Failed expectations of that shape, and rows that did not tell it from another.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for ContrastFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "snapshot is not distinctly {}:", self.shape)?;
        for m in &self.mismatches {
            writeln!(f, "  {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ContrastFailure {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matchers::*;
    use serde_json::json;

    /// Seed 003's matrix, trimmed: the Paused feature must stay observably
    /// different from a stuck rollout.
    fn matrix() -> ContrastMatrix<2> {
        ContrastMatrix::new(["Stuck", "Paused"])
            .field(
                "phase",
                [
                    cell(eq("Upgrading")),
                    cell(crate::any_of![eq("Paused"), eq("Ready")]),
                ],
            )
            .field("rollout", [cell(present()), cell(absent())])
            .field("rollout.startedAt", [cell(stable()), na()])
            .row(
                "RolloutInProgress condition",
                [
                    cell(condition("RolloutInProgress", "True")),
                    cell(crate::any_of![
                        condition("RolloutInProgress", "False"),
                        no_condition("RolloutInProgress")
                    ]),
                ],
            )
            .row(
                "Paused condition",
                [
                    cell(no_condition("Paused")),
                    cell(condition("Paused", "True")),
                ],
            )
            .field("readyReplicas", [cell(eq(3)), cell(eq(3))])
    }

    fn stuck() -> Value {
        json!({
            "phase": "Upgrading",
            "rollout": {"startedAt": "2026-11-23T10:00:00Z"},
            "readyReplicas": 3,
            "conditions": [{"type": "RolloutInProgress", "status": "True"}],
        })
    }

    fn paused() -> Value {
        json!({
            "phase": "Paused",
            "readyReplicas": 3,
            "conditions": [{"type": "Paused", "status": "True"}],
        })
    }

    #[test]
    fn each_shape_matches_its_own_snapshot_only() {
        let m = matrix();
        assert_eq!(m.check("Stuck", &stuck()), Ok(()));
        assert_eq!(m.check("Paused", &paused()), Ok(()));
        let err = m.check("Stuck", &paused()).unwrap_err();
        // Stuck's own 4 failing rows (the stable row passes on a first
        // observation), plus the 4 differing rows where it is Paused instead.
        assert_eq!(err.mismatches.len(), 8, "{err}");
        assert!(m.check("Paused", &stuck()).is_err());
    }

    #[test]
    fn a_snapshot_that_also_fits_the_other_shape_on_a_differing_row_fails() {
        // A stuck rollout that also carries Paused=True is ambiguous for an
        // on-call: it meets Stuck's fields but the Paused row cannot tell.
        let m = ContrastMatrix::new(["Stuck", "Paused"])
            .field("phase", [cell(eq("Upgrading")), cell(eq("Paused"))])
            .row(
                "Paused condition",
                [
                    cell(crate::any_of![
                        no_condition("Paused"),
                        condition("Paused", "True")
                    ]),
                    cell(condition("Paused", "True")),
                ],
            );
        let mut v = stuck();
        v["conditions"] = json!([{"type": "Paused", "status": "True"}]);
        let err = m.check("Stuck", &v).unwrap_err();
        assert_eq!(
            err.to_string(),
            "snapshot is not distinctly Stuck:\n  Paused condition: expected not Paused's Paused=True (to tell Stuck from Paused), got a match\n"
        );
    }

    #[test]
    fn shapes_without_a_differing_row_are_reported() {
        let m = ContrastMatrix::new(["A", "B"])
            .field("x", [cell(eq(1)), cell(eq(1))])
            .field("y", [cell(eq(2)), na()]);
        let err = m.check("A", &json!({"x": 1, "y": 2})).unwrap_err();
        assert_eq!(
            err.mismatches,
            vec![Mismatch::new(
                "",
                "a row where A and B expect different things",
                "none: the matrix cannot tell them apart"
            )]
        );
    }

    #[test]
    fn shape_works_as_a_matcher_with_stable_rows() {
        let m = matrix().shape("Stuck");
        m.reset();
        let v = stuck();
        assert!(m.mismatches(Some(&v), "").is_empty());
        let mut later = stuck();
        later["rollout"]["startedAt"] = json!("2026-11-23T10:00:04Z");
        assert_eq!(
            m.mismatches(Some(&later), ""),
            vec![Mismatch::new(
                "rollout.startedAt",
                "\"2026-11-23T10:00:00Z\" (first observed)",
                "\"2026-11-23T10:00:04Z\""
            )]
        );
        assert_eq!(m.describe(), "shape Stuck");
    }

    #[test]
    #[should_panic(expected = "contrast matrix has no shape `Stuk` (shapes: Stuck, Paused)")]
    fn unknown_shapes_are_named() {
        let _ = matrix().shape("Stuk");
    }

    #[test]
    fn renders_the_contract_as_markdown() {
        insta::assert_snapshot!(matrix().to_markdown());
    }
}
