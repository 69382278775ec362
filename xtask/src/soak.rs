//! `cargo xtask soak <suite>`: run a suite many times in a row and count
//! failures, to show a timing-sensitive suite is not flaky.
//!
//! The test binary is built once and then executed directly, so a run costs
//! the tests' own time, not cargo's. Every run must actually run tests (a
//! filter that matches nothing is an error, not 200 green runs), and the
//! output of failing runs is kept for reading afterwards.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::paths::{self, repo_root, target_dir};
use crate::process::{self, BUILD_LIMIT, Cmd, RUN_LIMIT, Runner};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// What to soak: `rollout` (the four rollout suites), `storage` (seed
    /// 000: the 22 scenarios and their catches) or any test-name
    /// filter of the `suites` test binary.
    suite: String,
    /// Number of runs.
    #[arg(long, default_value_t = 200)]
    runs: u32,
    /// Stop at the first failing run.
    #[arg(long)]
    fail_fast: bool,
    /// How many failing runs' output to keep (under target/soak/).
    #[arg(long, default_value_t = 5)]
    keep_logs: u32,
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    dry_run: bool,
}

/// The package and test target soaked.
const PACKAGE: &str = "kube-harness-suites";
const TEST_TARGET: &str = "suites";

/// Named suites and the test-name filter that selects them.
const SUITES: &[(&str, &str)] = &[("rollout", "rollout_"), ("storage", "storage_")];

fn filter_for(suite: &str) -> &str {
    SUITES
        .iter()
        .find(|(name, _)| *name == suite)
        .map_or(suite, |(_, filter)| filter)
}

/// The `suites` test executable and the folder of its package, where
/// `cargo test` would run it, from cargo's JSON messages.
fn test_executable(messages: &str) -> Option<(PathBuf, PathBuf)> {
    paths::built_executables(messages)
        .into_iter()
        .find(|b| b.name == TEST_TARGET && b.test)
        .map(|b| (b.executable, b.package_dir))
}

/// How many tests a libtest run reported as passed and failed.
fn counts(output: &str) -> Option<(u32, u32)> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))?;
    let number_before = |word: &str| -> Option<u32> {
        let idx = line.find(word)?;
        line[..idx].split_whitespace().last()?.parse().ok()
    };
    Some((number_before(" passed")?, number_before(" failed")?))
}

/// The outcome of every run.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    passed: u32,
    failed: Vec<u32>,
    durations: Vec<Duration>,
}

impl Tally {
    fn report(&self, suite: &str, filter: &str, tests: u32) -> String {
        let runs = self.passed + self.failed.len() as u32;
        let mean = if self.durations.is_empty() {
            Duration::ZERO
        } else {
            self.durations.iter().sum::<Duration>() / self.durations.len() as u32
        };
        let max = self.durations.iter().max().copied().unwrap_or_default();
        let mut out = format!(
            "soak {suite}: {runs} runs of `suites {filter}` ({tests} tests each)\n\
             passed {}, failed {}; wall time per run: mean {:.2}s, max {:.2}s",
            self.passed,
            self.failed.len(),
            mean.as_secs_f64(),
            max.as_secs_f64()
        );
        if !self.failed.is_empty() {
            let runs: Vec<String> = self.failed.iter().map(u32::to_string).collect();
            out.push_str(&format!("\nfailing runs: {}", runs.join(", ")));
        }
        out
    }
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let filter = filter_for(&args.suite).to_string();
    let runner = Runner::new(args.dry_run);
    let build = Cmd::cargo([
        "test",
        "--package",
        PACKAGE,
        "--test",
        TEST_TARGET,
        "--no-run",
        // Artifacts as JSON on stdout, compiler errors rendered on stderr.
        "--message-format=json-render-diagnostics",
    ])
    .dir(repo_root());
    let messages = runner
        .stdout_of(&build, BUILD_LIMIT)
        .context("building the suites test binary failed (compiler errors above)")?;
    let (exe, package_dir) = match &messages {
        Some(messages) => test_executable(messages).with_context(|| {
            format!(
                "cargo built no `{TEST_TARGET}` test executable (is tests/suites/main.rs declared?)"
            )
        })?,
        None => (
            PathBuf::from("SUITES_TEST_EXECUTABLE"),
            repo_root().join("tests"),
        ),
    };
    // Run as `cargo test` runs it: in its package's folder, with that
    // folder as CARGO_MANIFEST_DIR (TestEnv::crate_path reads it; xtask's
    // own, from `cargo run`, would otherwise leak through).
    let test_run = Cmd::new(&exe.display().to_string(), [filter.as_str()])
        .env("CARGO_MANIFEST_DIR", package_dir.display().to_string())
        .dir(package_dir);
    let logs = target_dir().join("soak");
    runner.plan_repeated(
        &test_run,
        &format!(
            "{} runs; up to {} failing runs' output kept in {}",
            args.runs,
            args.keep_logs,
            logs.display()
        ),
    );
    if args.dry_run {
        return Ok(());
    }

    let mut tally = Tally::default();
    let mut tests = 0;
    let mut kept = 0;
    for run in 1..=args.runs {
        let started = Instant::now();
        let out = process::capture_within(&test_run, RUN_LIMIT, None)?;
        tally.durations.push(started.elapsed());
        let text = if out.stderr.is_empty() {
            out.stdout
        } else {
            format!("{}\n--- stderr\n{}", out.stdout, out.stderr)
        };
        let (passed, failed) = counts(&text).unwrap_or((0, 0));
        if passed + failed == 0 {
            bail!(
                "run {run}: the filter `{filter}` selected no tests of {} (known suites: {})",
                exe.display(),
                SUITES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        tests = passed + failed;
        if out.success && failed == 0 {
            tally.passed += 1;
        } else {
            tally.failed.push(run);
            if kept < args.keep_logs {
                kept += 1;
                std::fs::create_dir_all(&logs)
                    .with_context(|| format!("creating {}", logs.display()))?;
                let path = logs.join(format!("{}-run-{run}.log", args.suite.replace('/', "_")));
                std::fs::write(&path, text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("run {run} failed; output kept in {}", path.display());
            }
            if args.fail_fast {
                break;
            }
        }
        if run % 10 == 0 {
            eprintln!("{run}/{} runs, {} failed", args.runs, tally.failed.len());
        }
    }

    let report = tally.report(&args.suite, &filter, tests);
    println!("{report}");
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        append(Path::new(&summary), &format!("```\n{report}\n```\n"))?;
    }
    if !tally.failed.is_empty() {
        bail!("{} of the runs failed", tally.failed.len());
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_suites_map_to_filters() {
        assert_eq!(filter_for("rollout"), "rollout_");
        assert_eq!(filter_for("rollout_stuck::holds"), "rollout_stuck::holds");
    }

    #[test]
    fn finds_the_suites_executable_among_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"harness"},"profile":{"test":false},"executable":null,"manifest_path":"/r/harness/Cargo.toml"}
not json at all
{"reason":"compiler-artifact","target":{"name":"suites","kind":["lib"]},"profile":{"test":false},"executable":"/t/debug/not-this","manifest_path":"/r/x/Cargo.toml"}
{"reason":"compiler-artifact","target":{"name":"suites","kind":["test"]},"profile":{"test":true},"executable":"/t/debug/deps/suites-abc","manifest_path":"/r/tests/Cargo.toml"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            test_executable(messages),
            Some((
                PathBuf::from("/t/debug/deps/suites-abc"),
                PathBuf::from("/r/tests")
            ))
        );
        assert_eq!(test_executable("{\"reason\":\"build-finished\"}"), None);
    }

    #[test]
    fn reads_libtest_counts() {
        let out = "running 4 tests\n...\ntest result: ok. 4 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out; finished in 0.81s\n";
        assert_eq!(counts(out), Some((4, 0)));
        let out = "test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(counts(out), Some((3, 1)));
        assert_eq!(counts("no summary"), None);
    }

    #[test]
    fn report_names_failing_runs() {
        let tally = Tally {
            passed: 2,
            failed: vec![3],
            durations: vec![
                Duration::from_millis(500),
                Duration::from_millis(700),
                Duration::from_millis(900),
            ],
        };
        assert_eq!(
            tally.report("rollout", "rollout_", 4),
            "soak rollout: 3 runs of `suites rollout_` (4 tests each)\n\
             passed 2, failed 1; wall time per run: mean 0.70s, max 0.90s\n\
             failing runs: 3"
        );
    }
}
