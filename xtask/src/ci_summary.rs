//! `cargo xtask ci-summary [--rewrite] [--out FILE] [--reports DIR] JUNIT…`:
//! the Markdown job summary of a CI test run.
//!
//! Reads the JUnit XML files cargo-nextest wrote (the `ci` profile of
//! `.config/nextest.toml`; with `--partition` each CI shard writes its own),
//! merges them, and writes Markdown: the totals, one section per failed
//! test with the start of its failure output, the skipped tests with their
//! reasons, and the suites' own reports (`--reports target/reports`).
//!
//! A test skipped at run time (`kube_harness::skip!`) passes as far as
//! libtest knows; it prints `kube-harness: SKIPPED: <test>: <reason>` on its
//! stdout, which nextest keeps in the JUnit file
//! (`store-success-output = true`). Such a test counts as skipped here, and
//! `--rewrite` gives its testcase a `<skipped message="reason"/>` so the
//! uploaded JUnit shows it as skipped too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use quick_xml::events::{BytesRef, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer, XmlVersion};

/// Starts the line a skipped test prints; the same text as
/// `kube_harness::skip::SKIP_MARKER` (harness/src/skip.rs), which xtask
/// cannot import without compiling kube.
pub(crate) const SKIP_MARKER: &str = "kube-harness: SKIPPED:";

/// How many lines of a failure's output the summary shows.
const FAILURE_LINES: usize = 15;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// JUnit XML files written by cargo-nextest, e.g. target/nextest/ci/junit.xml
    /// or one per CI shard (junit-*/junit.xml).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Append the Markdown to this file (in CI: "$GITHUB_STEP_SUMMARY")
    /// instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also show every `*.md` report in this folder (e.g. target/reports).
    #[arg(long)]
    reports: Option<PathBuf>,
    /// Rewrite the JUnit files so that tests skipped at run time carry
    /// `<skipped message="reason"/>`.
    #[arg(long)]
    rewrite: bool,
    /// The summary's heading.
    #[arg(long, default_value = "Test results")]
    title: String,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let mut reports = Vec::new();
    let mut unreadable = Vec::new();
    for path in &args.files {
        match read_file(path) {
            Ok(report) => reports.push(report),
            Err(e) => unreadable.push(format!("{}: {e:#}", path.display())),
        }
    }
    let mut markdown = summary(&args.title, &reports, &unreadable);
    if let Some(dir) = &args.reports {
        markdown.push_str(&extra_reports(dir)?);
    }
    match &args.out {
        Some(out) => {
            append(out, &markdown)?;
            eprintln!("ci-summary: appended the summary to {}", out.display());
        }
        None => print!("{markdown}"),
    }
    if args.rewrite {
        for report in &reports {
            let skips = report.skips_at_run_time();
            if skips == 0 {
                continue;
            }
            let text = std::fs::read_to_string(&report.path)
                .with_context(|| format!("reading {}", report.path.display()))?;
            let rewritten = rewrite(&text, report)
                .with_context(|| format!("rewriting {}", report.path.display()))?;
            replace_file(&report.path, &rewritten)?;
            eprintln!(
                "ci-summary: {}: {skips} test(s) skipped at run time now carry <skipped>",
                report.path.display()
            );
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "could not read every JUnit report (the summary says so too):\n  {}",
            unreadable.join("\n  ")
        );
    }
    Ok(())
}

/// One JUnit file.
#[derive(Debug, Default, PartialEq)]
struct Report {
    path: PathBuf,
    /// `<testsuites time>`: the run's wall time, when given.
    time: Option<f64>,
    suites: Vec<Suite>,
}

#[derive(Debug, Default, PartialEq)]
struct Suite {
    name: String,
    cases: Vec<Case>,
}

#[derive(Debug, Default, PartialEq)]
struct Case {
    /// nextest: the binary, e.g. `kube-harness-suites::suites`.
    classname: String,
    /// nextest: the test's path in the binary, e.g. `rollout_stuck::holds`.
    name: String,
    time: f64,
    outcome: Outcome,
    /// Failed an earlier attempt, then passed on a retry.
    flaky: bool,
    stdout: String,
    stderr: String,
}

#[derive(Debug, Default, PartialEq)]
enum Outcome {
    #[default]
    Passed,
    Failed {
        message: String,
        output: String,
    },
    Skipped {
        reason: String,
        /// Skipped by the test itself (its `SKIPPED:` line), not by nextest.
        at_run_time: bool,
    },
}

impl Case {
    fn title(&self) -> String {
        if self.classname.is_empty() {
            format!("`{}`", self.name)
        } else {
            format!("`{} {}`", self.classname, self.name)
        }
    }

    /// What the failure printed: the failure element's text (nextest puts
    /// the panic there), else its message, else the test's stderr, else its
    /// stdout.
    fn failure_output(&self) -> &str {
        let Outcome::Failed { message, output } = &self.outcome else {
            return "";
        };
        [
            output.as_str(),
            message.as_str(),
            self.stderr.as_str(),
            self.stdout.as_str(),
        ]
        .into_iter()
        .find(|text| !text.trim().is_empty())
        .unwrap_or("(the report holds no output for this failure)")
    }
}

impl Report {
    fn cases(&self) -> impl Iterator<Item = &Case> {
        self.suites.iter().flat_map(|s| s.cases.iter())
    }

    fn skips_at_run_time(&self) -> usize {
        self.cases()
            .filter(|c| {
                matches!(
                    c.outcome,
                    Outcome::Skipped {
                        at_run_time: true,
                        ..
                    }
                )
            })
            .count()
    }

    /// The run's time: `<testsuites time>`, else the sum of its tests'.
    fn time(&self) -> f64 {
        self.time
            .unwrap_or_else(|| self.cases().map(|c| c.time).sum())
    }
}

fn read_file(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).context("cannot read it")?;
    let mut report = parse(&text)?;
    report.path = path.to_path_buf();
    Ok(report)
}

/// Where the text inside a testcase's child element goes.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Failure,
    Skipped,
    Stdout,
    Stderr,
}

/// Reads a JUnit document: `testsuites > testsuite > testcase`, each
/// testcase with optional `failure`/`error`/`skipped`, `system-out`,
/// `system-err` (only direct children count: nextest nests output inside
/// `flakyFailure`/`rerunFailure` too). Then marks the passing tests whose
/// stdout has a [`SKIP_MARKER`] line as skipped.
fn parse(text: &str) -> Result<Report> {
    let mut reader = Reader::from_str(text);
    let mut report = Report::default();
    let mut stack: Vec<String> = Vec::new();
    let mut case: Option<Case> = None;
    let mut field: Option<Field> = None;
    let mut buf = String::new();
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("invalid XML at byte {}", reader.error_position()))?;
        match event {
            Event::Start(e) => {
                let name = local_name(&e);
                open(&e, &name, &stack, &mut report, &mut case, &mut field)?;
                stack.push(name);
            }
            Event::Empty(e) => {
                let name = local_name(&e);
                open(&e, &name, &stack, &mut report, &mut case, &mut field)?;
                close(&name, &mut report, &mut case, &mut field, &mut buf);
            }
            Event::End(_) => {
                if let Some(name) = stack.pop() {
                    close(&name, &mut report, &mut case, &mut field, &mut buf);
                }
            }
            Event::Text(t) if field.is_some() => buf.push_str(&t.xml10_content()),
            Event::CData(t) if field.is_some() => buf.push_str(&t.xml10_content()),
            Event::GeneralRef(r) if field.is_some() => buf.push_str(&resolve(&r)?),
            Event::Eof => break,
            _ => {}
        }
    }
    for case in report.suites.iter_mut().flat_map(|s| s.cases.iter_mut()) {
        if case.outcome == Outcome::Passed
            && let Some(reason) = skip_reason(&case.stdout)
        {
            case.outcome = Outcome::Skipped {
                reason,
                at_run_time: true,
            };
        }
    }
    Ok(report)
}

fn local_name(e: &BytesStart) -> String {
    e.local_name().as_ref().to_owned()
}

fn attr(e: &BytesStart, key: &str) -> Result<Option<String>> {
    for a in e.attributes() {
        let a = a.context("invalid attribute")?;
        if a.key.as_ref() == key {
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .with_context(|| format!("invalid value of attribute {key}"))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// An element starts (or is empty).
fn open(
    e: &BytesStart,
    name: &str,
    stack: &[String],
    report: &mut Report,
    case: &mut Option<Case>,
    field: &mut Option<Field>,
) -> Result<()> {
    let parent = stack.last().map(String::as_str);
    match name {
        "testsuites" => report.time = attr(e, "time")?.and_then(|t| t.parse().ok()),
        "testsuite" => report.suites.push(Suite {
            name: attr(e, "name")?.unwrap_or_default(),
            cases: Vec::new(),
        }),
        "testcase" => {
            if report.suites.is_empty() {
                report.suites.push(Suite::default());
            }
            *case = Some(Case {
                classname: attr(e, "classname")?.unwrap_or_default(),
                name: attr(e, "name")?.unwrap_or_default(),
                time: attr(e, "time")?
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default(),
                ..Case::default()
            });
        }
        _ if parent == Some("testcase") => {
            let Some(case) = case.as_mut() else {
                return Ok(());
            };
            match name {
                "failure" | "error" if !matches!(case.outcome, Outcome::Failed { .. }) => {
                    case.outcome = Outcome::Failed {
                        message: attr(e, "message")?.unwrap_or_default(),
                        output: String::new(),
                    };
                    *field = Some(Field::Failure);
                }
                "skipped" if case.outcome == Outcome::Passed => {
                    case.outcome = Outcome::Skipped {
                        reason: attr(e, "message")?.unwrap_or_default(),
                        at_run_time: false,
                    };
                    *field = Some(Field::Skipped);
                }
                "system-out" => *field = Some(Field::Stdout),
                "system-err" => *field = Some(Field::Stderr),
                "flakyFailure" | "flakyError" => case.flaky = true,
                _ => {}
            }
        }
        _ => {}
    }
    Ok(())
}

/// An element ends: the text collected for it goes to its place.
fn close(
    name: &str,
    report: &mut Report,
    case: &mut Option<Case>,
    field: &mut Option<Field>,
    buf: &mut String,
) {
    let ends_field = matches!(
        (name, *field),
        ("failure" | "error", Some(Field::Failure))
            | ("skipped", Some(Field::Skipped))
            | ("system-out", Some(Field::Stdout))
            | ("system-err", Some(Field::Stderr))
    );
    if ends_field {
        let text = std::mem::take(buf);
        if let Some(case) = case.as_mut() {
            match (field.take(), &mut case.outcome) {
                (Some(Field::Failure), Outcome::Failed { output, .. }) => *output = text,
                (Some(Field::Skipped), Outcome::Skipped { reason, .. }) if reason.is_empty() => {
                    *reason = text.trim().to_owned()
                }
                (Some(Field::Stdout), _) => case.stdout = text,
                (Some(Field::Stderr), _) => case.stderr = text,
                _ => {}
            }
        }
        *field = None;
    } else if name == "testcase"
        && let (Some(case), Some(suite)) = (case.take(), report.suites.last_mut())
    {
        suite.cases.push(case);
    }
}

/// `&lt;` and friends, and character references.
fn resolve(r: &BytesRef) -> Result<String> {
    if let Some(c) = r
        .resolve_char_ref()
        .context("invalid character reference")?
    {
        return Ok(c.to_string());
    }
    let name: &str = r;
    quick_xml::escape::resolve_predefined_entity(name)
        .map(str::to_owned)
        .with_context(|| format!("unknown entity &{name};"))
}

/// The reason on a test's `kube-harness: SKIPPED: <test>: <reason>` line.
fn skip_reason(stdout: &str) -> Option<String> {
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(SKIP_MARKER))?;
    let rest = line[SKIP_MARKER.len()..].trim();
    let reason = rest.split_once(": ").map_or(rest, |(_test, reason)| reason);
    Some(reason.trim().to_owned())
}

/// The Markdown summary of the merged reports.
fn summary(title: &str, reports: &[Report], unreadable: &[String]) -> String {
    let cases: Vec<&Case> = reports.iter().flat_map(Report::cases).collect();
    let failed: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| matches!(c.outcome, Outcome::Failed { .. }))
        .collect();
    let skipped: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| matches!(c.outcome, Outcome::Skipped { .. }))
        .collect();
    let flaky: Vec<&Case> = cases
        .iter()
        .copied()
        .filter(|c| c.flaky && c.outcome == Outcome::Passed)
        .collect();
    let passed = cases.len() - failed.len() - skipped.len();
    let time: f64 = reports.iter().map(Report::time).sum();
    let verdict = if !failed.is_empty() || !unreadable.is_empty() {
        "❌"
    } else {
        "✅"
    };

    let mut md = String::new();
    let _ = writeln!(md, "## {verdict} {title}\n");
    md.push_str("| passed | failed | skipped | time |\n|---:|---:|---:|---:|\n");
    let _ = writeln!(
        md,
        "| {passed} | {} | {} | {time:.1} s |\n",
        failed.len(),
        skipped.len()
    );
    if reports.len() > 1 {
        let parts: Vec<String> = reports
            .iter()
            .map(|r| {
                let n = r.cases().count();
                format!(
                    "`{}` ({n} {}, {:.1} s)",
                    r.path.display(),
                    if n == 1 { "test" } else { "tests" },
                    r.time()
                )
            })
            .collect();
        let _ = writeln!(
            md,
            "Merged from {} JUnit reports (time is their sum): {}.\n",
            reports.len(),
            parts.join(", ")
        );
    }
    for problem in unreadable {
        let _ = writeln!(
            md,
            "⚠️ No results from {problem} (did that job's build or run fail? see its log)\n"
        );
    }
    if !failed.is_empty() {
        md.push_str("### Failed\n\n");
        for case in &failed {
            let output = strip_ansi(case.failure_output());
            let output = output.as_str();
            let lines: Vec<&str> = output.trim_matches('\n').lines().collect();
            let shown = &lines[..lines.len().min(FAILURE_LINES)];
            let fence = fence_for(output);
            let _ = writeln!(md, "#### ❌ {}\n", case.title());
            let _ = writeln!(md, "{fence}text\n{}\n{fence}", shown.join("\n"));
            if lines.len() > shown.len() {
                let _ = writeln!(
                    md,
                    "\n_{} more lines in the JUnit report._",
                    lines.len() - shown.len()
                );
            }
            md.push('\n');
        }
    }
    if !skipped.is_empty() {
        md.push_str("### Skipped\n\n");
        for case in &skipped {
            let Outcome::Skipped { reason, .. } = &case.outcome else {
                continue;
            };
            let reason = if reason.is_empty() {
                "(no reason given)"
            } else {
                reason
            };
            let _ = writeln!(md, "- {}: {reason}", case.title());
        }
        md.push('\n');
    }
    if !flaky.is_empty() {
        md.push_str("### Flaky (passed on a retry)\n\n");
        for case in &flaky {
            let _ = writeln!(md, "- {}", case.title());
        }
        md.push('\n');
    }
    md
}

/// `text` without terminal colour codes (`ESC [ … m`), which a Markdown
/// page would show as garbage.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

/// Every `*.md` in `dir`, by name, under one heading.
fn extra_reports(dir: &Path) -> Result<String> {
    let mut md = String::from("## Reports\n\n");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    files.sort();
    if files.is_empty() {
        let _ = writeln!(md, "_No reports in `{}`._\n", dir.display());
    }
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(md, "### {name}\n\n{}\n", text.trim_end());
    }
    Ok(md)
}

/// The JUnit text again, with `<skipped message="reason"/>` first in each
/// testcase skipped at run time and the `skipped` counts of its testsuite
/// and of testsuites raised to match; everything else as it was.
fn rewrite(text: &str, report: &Report) -> Result<String> {
    let reasons: Vec<Vec<Option<&str>>> = report
        .suites
        .iter()
        .map(|s| {
            s.cases
                .iter()
                .map(|c| match &c.outcome {
                    Outcome::Skipped {
                        reason,
                        at_run_time: true,
                    } => Some(reason.as_str()),
                    _ => None,
                })
                .collect()
        })
        .collect();
    let added = |suite: &[Option<&str>]| suite.iter().flatten().count();
    let total: usize = reasons.iter().map(|s| added(s)).sum();

    let mut reader = Reader::from_str(text);
    let mut writer = Writer::new(Vec::new());
    let mut suite: Option<usize> = None;
    let mut case = 0;
    let mut indent = String::new();
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("invalid XML at byte {}", reader.error_position()))?;
        match event {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_start = matches!(event, Event::Start(_));
                let name = local_name(e);
                match name.as_str() {
                    "testsuites" if total > 0 => {
                        let e = add_to_count(e, "skipped", total)?;
                        writer.write_event(if is_start {
                            Event::Start(e)
                        } else {
                            Event::Empty(e)
                        })?;
                        continue;
                    }
                    "testsuite" => {
                        let index = suite.map_or(0, |i| i + 1);
                        suite = Some(index);
                        case = 0;
                        let n = reasons.get(index).map_or(0, |s| added(s));
                        if n > 0 {
                            let e = add_to_count(e, "skipped", n)?;
                            writer.write_event(if is_start {
                                Event::Start(e)
                            } else {
                                Event::Empty(e)
                            })?;
                            continue;
                        }
                    }
                    "testcase" => {
                        let reason = reasons
                            .get(suite.unwrap_or(0))
                            .and_then(|s| s.get(case).copied().flatten());
                        case += 1;
                        if let (true, Some(reason)) = (is_start, reason) {
                            writer.write_event(event.clone())?;
                            let pad = format!("\n{indent}    ");
                            writer.write_event(Event::Text(BytesText::from_escaped(pad)))?;
                            let mut skipped = BytesStart::new("skipped");
                            skipped.push_attribute(("message", reason));
                            writer.write_event(Event::Empty(skipped))?;
                            continue;
                        }
                    }
                    _ => {}
                }
                writer.write_event(event)?;
            }
            Event::Text(ref t) => {
                let raw: &str = t;
                if raw.trim().is_empty() {
                    indent = raw.rsplit('\n').next().unwrap_or_default().to_owned();
                }
                writer.write_event(event)?;
            }
            event => writer.write_event(event)?,
        }
    }
    String::from_utf8(writer.into_inner()).context("the rewritten XML is not UTF-8")
}

/// `e` with the numeric attribute `key` raised by `n` (added if missing);
/// the other attributes as they were.
fn add_to_count(e: &BytesStart, key: &str, n: usize) -> Result<BytesStart<'static>> {
    let mut out = BytesStart::new(e.name().as_ref().to_owned());
    let mut found = false;
    for a in e.attributes() {
        let a = a.context("invalid attribute")?;
        if a.key.as_ref() == key {
            found = true;
            let old: usize = a.value.trim().parse().unwrap_or(0);
            out.push_attribute((key, (old + n).to_string().as_str()));
        } else {
            out.push_attribute(a);
        }
    }
    if !found {
        out.push_attribute((key, n.to_string().as_str()));
    }
    Ok(out)
}

fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Replaces a file's contents through a temporary file beside it, so a
/// failure leaves the original intact.
fn replace_file(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
