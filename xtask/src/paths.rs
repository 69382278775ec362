//! Where things are: the repository, cargo's target directory, where
//! generated files go, which cargo to run, and where cargo put what it built.
//!
//! Every command asks here, so "where is target/" has one answer.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The repository root (the workspace root), so commands work from any
/// directory: xtask lives one level below it.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
        .to_path_buf()
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` (a relative value is
/// taken relative to the repository root, where xtask runs cargo), else
/// `<root>/target`.
pub(crate) fn target_dir() -> PathBuf {
    target_dir_from(std::env::var_os("CARGO_TARGET_DIR"), &repo_root())
}

fn target_dir_from(var: Option<OsString>, root: &Path) -> PathBuf {
    match var.filter(|v| !v.is_empty()).map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

/// Where generated files go (kind kubeconfigs, rendered manifests, upgrade
/// records): `XTASK_OUT_DIR` as given, else [`target_dir`].
pub(crate) fn out_dir() -> PathBuf {
    match std::env::var_os("XTASK_OUT_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => target_dir(),
    }
}

/// The cargo that runs xtask (`CARGO`, set by `cargo run`), so toolchain
/// overrides carry over; plain `cargo` otherwise.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "cargo".to_owned())
}

/// A path given on the command line: relative to the current directory if
/// it exists there, else relative to the repository root (so
/// `--config manifests/kind/x.yaml` works from any subdirectory).
pub(crate) fn resolve_input(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        path.to_path_buf()
    } else {
        repo_root().join(path)
    }
}

/// An executable cargo built, as its JSON messages
/// (`--message-format=json-render-diagnostics`) report it: cargo knows
/// its target directory and target triple better than any guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Built {
    /// The target's name (`suites`, `rollout_story`).
    pub name: String,
    /// Whether it was built as a test harness (`cargo test --no-run`).
    pub test: bool,
    pub executable: PathBuf,
    /// The folder of its package (where `cargo test` runs a test binary).
    pub package_dir: PathBuf,
}

/// Every executable among cargo's JSON messages; lines that are not JSON
/// (or not artifacts) are skipped.
pub(crate) fn built_executables(messages: &str) -> Vec<Built> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            Some(Built {
                name: m["target"]["name"].as_str()?.to_owned(),
                test: m["profile"]["test"] == true,
                executable: PathBuf::from(m["executable"].as_str()?),
                package_dir: Path::new(m["manifest_path"].as_str()?)
                    .parent()?
                    .to_path_buf(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_follows_cargo_target_dir_relative_to_the_root() {
        let root = Path::new("/repo");
        assert_eq!(target_dir_from(None, root), Path::new("/repo/target"));
        assert_eq!(
            target_dir_from(Some("".into()), root),
            Path::new("/repo/target"),
            "an empty CARGO_TARGET_DIR counts as unset"
        );
        assert_eq!(
            target_dir_from(Some("/elsewhere/t".into()), root),
            Path::new("/elsewhere/t")
        );
        assert_eq!(
            target_dir_from(Some("build/t".into()), root),
            Path::new("/repo/build/t"),
            "a relative value is relative to the repository root, not the current directory"
        );
    }

    #[test]
    fn the_repo_root_holds_the_workspace_manifest() {
        let root = repo_root();
        assert!(root.is_absolute());
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{}", root.display());
    }

    #[test]
    fn finds_executables_among_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"kube_harness","kind":["lib"]},"profile":{"test":false},"executable":null}
not json at all
   Compiling kube-harness-suites v0.1.0
{"reason":"compiler-artifact","target":{"name":"suites","kind":["test"]},"profile":{"test":true},"executable":"/t/debug/deps/suites-abc","manifest_path":"/r/tests/Cargo.toml"}
{"reason":"compiler-artifact","target":{"name":"rollout_story","kind":["example"]},"profile":{"test":false},"executable":"/t/debug/examples/rollout_story","manifest_path":"/r/tests/Cargo.toml"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            built_executables(messages),
            [
                Built {
                    name: "suites".into(),
                    test: true,
                    executable: "/t/debug/deps/suites-abc".into(),
                    package_dir: "/r/tests".into(),
                },
                Built {
                    name: "rollout_story".into(),
                    test: false,
                    executable: "/t/debug/examples/rollout_story".into(),
                    package_dir: "/r/tests".into(),
                },
            ]
        );
        assert!(built_executables("{\"reason\":\"build-finished\"}").is_empty());
    }
}
