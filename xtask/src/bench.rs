//! `cargo xtask bench [NAME]`: runs benchmarks in release mode and keeps
//! each one's Markdown table in `<target>/bench/<name>.md`.
//!
//! A benchmark is a `harness = false` bench target that prints a Markdown
//! table on stdout (progress on stderr). Adding one is one row in [`BENCHES`].

use anyhow::{Context, Result};

use crate::paths::{repo_root, target_dir};
use crate::process::{BUILD_LIMIT, Cmd, Runner};

/// A benchmark the command knows: `cargo bench -p <package> --bench <target>`.
pub(crate) struct Bench {
    /// Name on the command line and of the output file.
    pub name: &'static str,
    /// Cargo package holding the bench target.
    pub package: &'static str,
    /// The `[[bench]]` target name.
    pub target: &'static str,
    /// One line for `--list`.
    pub about: &'static str,
    /// Cargo features the bench needs (passed as `--features a,b`).
    pub features: &'static [&'static str],
    /// The bench's own arguments for `--quick` (empty: it has no quick
    /// run and `--quick` skips it).
    pub quick: &'static [&'static str],
}

/// Every benchmark `cargo xtask bench` can run.
pub(crate) const BENCHES: &[Bench] = &[
    Bench {
        name: "assertions",
        package: "kube-harness-assert",
        target: "assertions",
        about: "cost of one probe + matcher attempt; triggered vs 500 ms polling detection latency",
        features: &[],
        quick: &[],
    },
    Bench {
        name: "apiserver",
        package: "kube-harness-apiserver",
        target: "apiserver",
        about: "embedded API server vs kube-fake-client: start, creates/s, watch latency, memory",
        features: &["bench-kube-fake-client"],
        quick: &[],
    },
    Bench {
        name: "faker",
        package: "kube-harness",
        target: "faker",
        about: "StatusFaker on a 1,000-pod StatefulSet over 100 nodes: change feed vs relisting, kwok's figure",
        features: &[],
        // CI's regression guard: 100 pods; the feed must stay well ahead of
        // relisting, measured in the same run.
        quick: &["--quick", "--min-ratio", "3"],
    },
];

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Benchmark to run (all of them when omitted).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(BENCHES.iter().map(|b| b.name)))]
    pub name: Option<String>,
    /// List the benchmarks and exit.
    #[arg(long)]
    pub list: bool,
    /// A short run in the profile the tests build (no release build), for
    /// CI's regression guard: only benches with a quick mode run, and they
    /// fail when their ratio against the peer of the same run regresses.
    #[arg(long)]
    pub quick: bool,
    /// Print the command plan (argument vectors) without running anything.
    #[arg(long)]
    pub dry_run: bool,
}

pub(crate) fn run(args: Args) -> Result<()> {
    if args.list {
        for b in BENCHES {
            println!("{:<12} {}", b.name, b.about);
        }
        return Ok(());
    }
    let selected: Vec<&Bench> = BENCHES
        .iter()
        .filter(|b| args.name.as_deref().is_none_or(|n| n == b.name))
        .filter(|b| !args.quick || !b.quick.is_empty())
        .collect();
    let runner = Runner::new(args.dry_run);
    let out_dir = target_dir().join("bench");
    for b in selected {
        let suffix = if args.quick { "-quick" } else { "" };
        let path = out_dir.join(format!("{}{suffix}.md", b.name));
        let Some(table) = run_one(&runner, b, args.quick)? else {
            println!("    (dry run: would write {})", path.display());
            continue;
        };
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("creating {}", out_dir.display()))?;
        let doc = format!("## bench: {}\n\n{}\n\n{table}", b.name, b.about);
        std::fs::write(&path, &doc).with_context(|| format!("writing {}", path.display()))?;
        println!("{doc}");
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// `cargo bench -p <package> --bench <target> [--features …]`, run from
/// the repository root. Quick: over the whole workspace (so features unify
/// as in `cargo test --workspace` and its build is reused), in the dev
/// profile, with the bench's quick arguments.
fn command(b: &Bench, quick: bool) -> Cmd {
    let scope = if quick {
        vec!["--workspace"]
    } else {
        vec!["-p", b.package]
    };
    let mut cmd = Cmd::cargo(["bench"])
        .args(scope)
        .args(["--bench", b.target]);
    if !b.features.is_empty() {
        let features: Vec<String> = b
            .features
            .iter()
            .map(|f| {
                if quick {
                    format!("{}/{f}", b.package)
                } else {
                    (*f).to_owned()
                }
            })
            .collect();
        cmd = cmd.args(["--features".to_owned(), features.join(",")]);
    }
    if quick {
        cmd = cmd
            .args(["--profile", "dev", "--"])
            .args(b.quick.iter().copied());
    }
    cmd.dir(repo_root())
}

/// Runs one bench; its report, or `None` in a dry run.
fn run_one(runner: &Runner, b: &Bench, quick: bool) -> Result<Option<String>> {
    let Some(stdout) = runner
        .stdout_of(&command(b, quick), BUILD_LIMIT)
        .with_context(|| format!("bench `{}` failed", b.name))?
    else {
        return Ok(None);
    };
    report_of(&stdout).map(Some).with_context(|| {
        format!(
            "bench `{}` printed no Markdown table; its output:\n{stdout}",
            b.name
        )
    })
}

/// The report a bench printed: its table and what follows it (the notes
/// that say why a cell is n/a and what the rows measured), without any
/// chatter before the table.
fn report_of(stdout: &str) -> Option<String> {
    let lines: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with('|')).collect();
    let end = lines.iter().rposition(|l| !l.trim().is_empty())?;
    Some(lines[..=end].join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_the_table_and_its_notes() {
        let out = "warming up\n| a | b |\n|---|---|\n| 1 | 2 |\n\nNotes: b is n/a.\n\n";
        assert_eq!(
            report_of(out).as_deref(),
            Some("| a | b |\n|---|---|\n| 1 | 2 |\n\nNotes: b is n/a.\n")
        );
        assert_eq!(report_of("no table here\n"), None);
    }

    /// Each workspace member's folder and manifest text.
    fn workspace_manifests() -> Vec<(String, String)> {
        let root = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
        let list = root
            .split_once("members = [")
            .and_then(|(_, rest)| rest.split_once(']'))
            .expect("the workspace manifest lists its members")
            .0;
        list.split(',')
            .filter_map(|entry| {
                let entry = entry.trim();
                (entry.len() > 2).then(|| entry.trim_matches('"').to_owned())
            })
            .map(|dir| {
                let text = std::fs::read_to_string(repo_root().join(&dir).join("Cargo.toml"))
                    .unwrap_or_else(|e| panic!("workspace member {dir} has no Cargo.toml: {e}"));
                (dir, text)
            })
            .collect()
    }

    #[test]
    fn quick_runs_use_the_test_profile_and_pass_the_bench_its_guard() {
        let faker = BENCHES.iter().find(|b| b.name == "faker").unwrap();
        let quick = command(faker, true);
        assert_eq!(
            quick.args,
            [
                "bench",
                "--workspace",
                "--bench",
                "faker",
                "--profile",
                "dev",
                "--",
                "--quick",
                "--min-ratio",
                "3"
            ]
        );
        assert!(!command(faker, false).args.iter().any(|a| a == "--profile"));
    }

    #[test]
    fn bench_table_rows_are_unique_and_point_at_real_targets() {
        let mut names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), BENCHES.len(), "duplicate bench names");
        let members = workspace_manifests();
        for b in BENCHES {
            let (dir, manifest) = members
                .iter()
                .find(|(_, text)| text.starts_with(&format!("[package]\nname = \"{}\"", b.package)))
                .unwrap_or_else(|| {
                    panic!(
                        "bench `{}`: no workspace member is the package `{}`",
                        b.name, b.package
                    )
                });
            assert!(
                manifest.contains(&format!("[[bench]]\nname = \"{}\"", b.target)),
                "bench `{}`: no [[bench]] `{}` in {dir}/Cargo.toml",
                b.name,
                b.target,
            );
        }
    }
}
