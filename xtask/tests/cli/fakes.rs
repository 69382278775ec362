//! Fake `kind`, `kubectl`, `helm` and `docker` executables for driving the
//! real xtask binary without a cluster.
//!
//! Each fake is a small POSIX sh script (builtins only, so PATH can hold
//! nothing but the fakes) that appends its argument vector to a log and
//! answers according to rules: a glob matched against its arguments joined
//! by spaces, first match wins. A test states what the world looks like
//! (which clusters exist, what a probe prints) and then asserts exactly
//! which commands xtask ran, in order.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// What a fake prints and returns for arguments matching a glob.
#[derive(Clone)]
struct Rule {
    glob: String,
    stdout: String,
    stderr: String,
    code: i32,
    /// Raw sh run instead of the canned answer (it sees "$@").
    script: Option<String>,
}

pub(crate) struct Fakes {
    dir: tempfile::TempDir,
    rules: BTreeMap<&'static str, Vec<Rule>>,
    absent: Vec<&'static str>,
}

/// One run of the xtask binary.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Every fake invocation, in order, as argument vectors.
    pub calls: Vec<Vec<String>>,
}

pub(crate) const TOOLS: [&str; 4] = ["docker", "kind", "kubectl", "helm"];

impl Fakes {
    /// Fakes that answer the version and daemon checks like healthy, recent
    /// tools and succeed silently at everything else.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        std::fs::create_dir_all(dir.path().join("state")).unwrap();
        let mut fakes = Self {
            dir,
            rules: BTreeMap::new(),
            absent: Vec::new(),
        };
        fakes.defaults();
        fakes
    }

    fn defaults(&mut self) {
        self.reply("docker", "version --format*", "27.5.1\n");
        self.reply("docker", "info --format*", "27.5.1\n");
        self.reply("kind", "version", "kind v0.29.0 go1.24.2 linux/amd64\n");
        self.reply(
            "kubectl",
            "version --client",
            "Client Version: v1.33.1\nKustomize Version: v5.6.0\n",
        );
        self.reply("helm", "version --short", "v3.17.3+ge4da497\n");
    }

    /// Answer arguments matching `glob` with `stdout` and exit 0. Rules
    /// added later win over earlier ones, so a test can override defaults.
    pub(crate) fn reply(&mut self, tool: &'static str, glob: &str, stdout: &str) -> &mut Self {
        self.rule(tool, glob, stdout, "", 0)
    }

    /// Answer arguments matching `glob` with `stderr` and a non-zero exit.
    pub(crate) fn fail(
        &mut self,
        tool: &'static str,
        glob: &str,
        stderr: &str,
        code: i32,
    ) -> &mut Self {
        self.rule(tool, glob, "", stderr, code)
    }

    pub(crate) fn rule(
        &mut self,
        tool: &'static str,
        glob: &str,
        stdout: &str,
        stderr: &str,
        code: i32,
    ) -> &mut Self {
        self.rules.entry(tool).or_default().insert(
            0,
            Rule {
                glob: glob.to_owned(),
                stdout: stdout.to_owned(),
                stderr: stderr.to_owned(),
                code,
                script: None,
            },
        );
        self
    }

    /// Answer arguments matching `glob` by running `body` (POSIX sh,
    /// builtins only; `$STATE` is a directory kept across calls), for
    /// answers that depend on the arguments, like a probe's marker token.
    pub(crate) fn script(&mut self, tool: &'static str, glob: &str, body: &str) -> &mut Self {
        self.rules.entry(tool).or_default().insert(
            0,
            Rule {
                glob: glob.to_owned(),
                stdout: String::new(),
                stderr: String::new(),
                code: 0,
                script: Some(body.to_owned()),
            },
        );
        self
    }

    /// Leave `tool` off PATH entirely.
    pub(crate) fn remove(&mut self, tool: &'static str) -> &mut Self {
        self.absent.push(tool);
        self
    }

    pub(crate) fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls.log")
    }

    fn install(&self) {
        use std::os::unix::fs::PermissionsExt;
        for tool in TOOLS {
            let file = self.dir.path().join("bin").join(tool);
            let _ = std::fs::remove_file(&file);
            if self.absent.contains(&tool) {
                continue;
            }
            let mut script = format!(
                "#!/bin/sh\n{{ printf '%s\\037' {tool} \"$@\"; printf '\\036\\n'; }} >> {}\ncase \"$*\" in\n",
                quote(&self.log().display().to_string())
            );
            for rule in self.rules.get(tool).into_iter().flatten() {
                if let Some(body) = &rule.script {
                    script.push_str(&format!(
                        "  {})\n    STATE={}\n{body}\n    exit 0\n    ;;\n",
                        glob_pattern(&rule.glob),
                        quote(&self.dir.path().join("state").display().to_string()),
                    ));
                    continue;
                }
                script.push_str(&format!(
                    "  {})\n    printf '%s' {}\n    printf '%s' {} >&2\n    exit {}\n    ;;\n",
                    glob_pattern(&rule.glob),
                    quote(&rule.stdout),
                    quote(&rule.stderr),
                    rule.code
                ));
            }
            script.push_str("esac\nexit 0\n");
            std::fs::write(&file, script).unwrap();
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// Runs the xtask binary with only the fakes on PATH and a clean
    /// environment (no KUBECONFIG or UPGRADE_TEST_* from the developer's
    /// shell), plus `envs`.
    pub(crate) fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        self.install();
        let _ = std::fs::remove_file(self.log());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.args(args)
            .env_clear()
            .env("PATH", self.dir.path().join("bin"))
            .env("XTASK_OUT_DIR", self.out_dir())
            .env("HOME", self.dir.path())
            .current_dir(self.dir.path());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("running xtask");
        let log = std::fs::read_to_string(self.log()).unwrap_or_default();
        let calls = log
            .split("\u{1e}\n")
            .filter(|r| !r.is_empty())
            .map(|r| {
                r.trim_end_matches('\u{1f}')
                    .split('\u{1f}')
                    .map(str::to_owned)
                    .collect()
            })
            .collect();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            calls,
        }
    }
}

impl Run {
    /// The calls as space-joined strings, skipping the prerequisite
    /// version probes, for compact sequence assertions.
    pub(crate) fn steps(&self) -> Vec<String> {
        self.calls
            .iter()
            .map(|c| c.join(" "))
            .filter(|c| !is_prereq_probe(c))
            .collect()
    }

    /// Every call including the prerequisite probes.
    pub(crate) fn all_steps(&self) -> Vec<String> {
        self.calls.iter().map(|c| c.join(" ")).collect()
    }

    pub(crate) fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "xtask failed:\n{}", self.transcript());
        self
    }

    pub(crate) fn transcript(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}\n--- calls\n{}",
            self.stdout,
            self.stderr,
            self.all_steps().join("\n")
        )
    }
}

fn is_prereq_probe(call: &str) -> bool {
    matches!(
        call,
        "kind version" | "kubectl version --client" | "helm version --short"
    ) || call.starts_with("docker version --format")
        || call.starts_with("docker info --format")
}

/// Single-quotes a string for sh.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A case pattern: the glob's metacharacters stay live, everything else is
/// quoted (spaces, braces, quotes in kubectl jsonpath arguments).
fn glob_pattern(glob: &str) -> String {
    let mut out = String::new();
    let mut literal = String::new();
    for c in glob.chars() {
        if c == '*' || c == '?' {
            if !literal.is_empty() {
                out.push_str(&quote(&literal));
                literal.clear();
            }
            out.push(c);
        } else {
            literal.push(c);
        }
    }
    if !literal.is_empty() {
        out.push_str(&quote(&literal));
    }
    out
}
