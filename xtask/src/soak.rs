//! `cargo xtask soak <suite>`: run a suite many times in a row and count
//! failures, to show a timing-sensitive suite is not flaky.
//!
//! The test binary is built once and then executed directly, so a run costs
//! the tests' own time, not cargo's. Every run must actually run tests (a
//! filter that matches nothing is an error, not 200 green runs), and the
//! output of failing runs is kept for reading afterwards.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// What to soak: `rollout` (the four rollout suites) or any test-name
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
}

/// Named suites and the test-name filter that selects them.
const SUITES: &[(&str, &str)] = &[("rollout", "rollout_")];

fn filter_for(suite: &str) -> &str {
    SUITES
        .iter()
        .find(|(name, _)| *name == suite)
        .map_or(suite, |(_, filter)| filter)
}

/// The path of the `suites` test executable, from cargo's JSON messages.
fn test_executable(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter(|m| m["target"]["name"] == "suites" && m["profile"]["test"] == true)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
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

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let filter = filter_for(&args.suite).to_string();
    eprintln!("building the suites test binary…");
    let messages = duct::cmd(
        "cargo",
        [
            "test",
            "--package",
            "suites",
            "--test",
            "suites",
            "--no-run",
            "--message-format=json",
        ],
    )
    .read()
    .context("`cargo test --package suites --test suites --no-run` failed (build errors above)")?;
    let exe = test_executable(&messages)
        .context("cargo built no `suites` test executable (is tests/suites/main.rs declared?)")?;

    let logs = target_dir().join("soak");
    let mut tally = Tally::default();
    let mut tests = 0;
    let mut kept = 0;
    for run in 1..=args.runs {
        let started = Instant::now();
        let out = duct::cmd(&exe, [filter.as_str()])
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .with_context(|| format!("cannot execute {}", exe.display()))?;
        tally.durations.push(started.elapsed());
        let text = String::from_utf8_lossy(&out.stdout);
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
        if out.status.success() && failed == 0 {
            tally.passed += 1;
        } else {
            tally.failed.push(run);
            if kept < args.keep_logs {
                kept += 1;
                std::fs::create_dir_all(&logs)?;
                let path = logs.join(format!("{}-run-{run}.log", args.suite.replace('/', "_")));
                std::fs::write(&path, text.as_bytes())?;
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

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
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
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"harness"},"profile":{"test":false},"executable":null}
not json at all
{"reason":"compiler-artifact","target":{"name":"suites"},"profile":{"test":true},"executable":"/t/debug/deps/suites-abc"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            test_executable(messages),
            Some(PathBuf::from("/t/debug/deps/suites-abc"))
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
