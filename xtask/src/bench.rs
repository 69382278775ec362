//! `cargo xtask bench [NAME]`: runs benchmarks in release mode and keeps
//! each one's Markdown table in `<target>/bench/<name>.md`.
//!
//! A benchmark is a `harness = false` bench target that prints a Markdown
//! table on stdout (progress on stderr). Adding one is one row in [`BENCHES`].

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A benchmark the command knows: `cargo bench -p <package> --bench <target>`.
pub struct Bench {
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
}

/// Every benchmark `cargo xtask bench` can run.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "assertions",
        package: "harness",
        target: "assertions",
        about: "cost of one probe + matcher attempt; triggered vs 500 ms polling detection latency",
        features: &[],
    },
    Bench {
        name: "apiserver",
        package: "apiserver",
        target: "apiserver",
        about: "embedded API server vs kube-fake-client: start, creates/s, watch latency, memory",
        features: &["bench-kube-fake-client"],
    },
];

#[derive(clap::Args)]
pub struct Args {
    /// Benchmark to run (all of them when omitted).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(BENCHES.iter().map(|b| b.name)))]
    pub name: Option<String>,
    /// List the benchmarks and exit.
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: Args) -> Result<()> {
    if args.list {
        for b in BENCHES {
            println!("{:<12} {}", b.name, b.about);
        }
        return Ok(());
    }
    let selected: Vec<&Bench> = BENCHES
        .iter()
        .filter(|b| args.name.as_deref().is_none_or(|n| n == b.name))
        .collect();
    let out_dir = target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for b in selected {
        let table = run_one(b)?;
        let path = out_dir.join(format!("{}.md", b.name));
        let doc = format!("## bench: {}\n\n{}\n\n{table}", b.name, b.about);
        std::fs::write(&path, &doc).with_context(|| format!("writing {}", path.display()))?;
        println!("{doc}");
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn run_one(b: &Bench) -> Result<String> {
    eprintln!(
        "running bench `{}` (cargo bench -p {} --bench {})…",
        b.name, b.package, b.target
    );
    let mut args = vec!["bench", "-p", b.package, "--bench", b.target];
    let features = b.features.join(",");
    if !features.is_empty() {
        args.extend(["--features", &features]);
    }
    let out = duct::cmd(cargo(), args)
        .dir(workspace_root())
        .stdout_capture()
        .unchecked()
        .run()
        .with_context(|| format!("starting cargo bench for `{}`", b.name))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!(
            "bench `{}` failed ({}); its output:\n{stdout}",
            b.name,
            out.status
        );
    }
    report_of(&stdout).with_context(|| {
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

/// The cargo that runs xtask (so toolchain overrides carry over).
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// The workspace root: xtask lives one level below it.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` or `<root>/target`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
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

    #[test]
    fn bench_table_rows_are_unique_and_point_at_real_targets() {
        let mut names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), BENCHES.len(), "duplicate bench names");
        for b in BENCHES {
            let manifest =
                std::fs::read_to_string(workspace_root().join(b.package).join("Cargo.toml"))
                    .unwrap_or_else(|e| {
                        panic!(
                            "bench `{}`: package `{}` has no Cargo.toml: {e}",
                            b.name, b.package
                        )
                    });
            assert!(
                manifest.contains(&format!("name = \"{}\"", b.target)),
                "bench `{}`: no [[bench]] `{}` in {}/Cargo.toml",
                b.name,
                b.target,
                b.package
            );
        }
    }
}
