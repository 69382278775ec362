//! Prerequisite checks: which external tools a command needs, whether they
//! are there, and how to get the ones that are not.
//!
//! Every command checks first and reports ALL missing tools at once, so a
//! user fixes their machine in one go rather than one error per run. In
//! dry-run mode only the PATH is searched: nothing is executed.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::process::{Cmd, capture};

/// An external tool a command depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// The docker CLI and a reachable daemon (kind nodes are containers).
    Docker,
    Kind,
    Kubectl,
    Helm,
}

impl Tool {
    pub(crate) fn program(self) -> &'static str {
        match self {
            Tool::Docker => "docker",
            Tool::Kind => "kind",
            Tool::Kubectl => "kubectl",
            Tool::Helm => "helm",
        }
    }

    /// The oldest version known to work with the commands and flags used here.
    fn minimum(self) -> (u64, u64) {
        match self {
            Tool::Docker => (20, 10),
            Tool::Kind => (0, 20),
            Tool::Kubectl => (1, 27),
            Tool::Helm => (3, 8),
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::Docker => {
                "install Docker Engine (Debian/Ubuntu: `apt-get install docker.io`; \
                 see https://docs.docker.com/engine/install/)"
            }
            Tool::Kind => {
                "install kind (`go install sigs.k8s.io/kind@v0.29.0`, or a release binary \
                 from https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
            }
            Tool::Kubectl => {
                "install kubectl (https://kubernetes.io/docs/tasks/tools/#kubectl; \
                 Debian/Ubuntu: `apt-get install kubectl` from the Kubernetes apt repository)"
            }
            Tool::Helm => {
                "install helm 3 (https://helm.sh/docs/intro/install/; \
                 e.g. `snap install helm --classic`)"
            }
        }
    }

    fn version_cmd(self) -> Cmd {
        match self {
            Tool::Docker => Cmd::new("docker", ["version", "--format", "{{.Client.Version}}"]),
            Tool::Kind => Cmd::new("kind", ["version"]),
            Tool::Kubectl => Cmd::new("kubectl", ["version", "--client"]),
            Tool::Helm => Cmd::new("helm", ["version", "--short"]),
        }
    }
}

/// Finds a program on PATH the way a shell would.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The first `major.minor[.patch]` in a tool's version output.
pub(crate) fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let bytes = text.as_bytes();
    for start in 0..bytes.len() {
        if !bytes[start].is_ascii_digit() || (start > 0 && bytes[start - 1].is_ascii_digit()) {
            continue;
        }
        let rest = &text[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let mut parts = rest[..end].split('.').filter(|p| !p.is_empty());
        let major = parts.next().and_then(|p| p.parse().ok());
        let minor = parts.next().and_then(|p| p.parse().ok());
        if let (Some(major), Some(minor)) = (major, minor) {
            let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            return Some((major, minor, patch));
        }
    }
    None
}

/// Checks that every tool is installed, recent enough and (for docker) that
/// its daemon answers. Prints one line per tool with its version.
pub(crate) fn check(tools: &[Tool], dry_run: bool) -> Result<()> {
    let mut problems = Vec::new();
    for &tool in tools {
        let program = tool.program();
        let Some(path) = which(program) else {
            problems.push(format!(
                "`{program}` not found on PATH: {}",
                tool.install_hint()
            ));
            continue;
        };
        if dry_run {
            println!(
                "prerequisite {program}: {} (not run in dry run)",
                path.display()
            );
            continue;
        }
        let cmd = tool.version_cmd();
        let version = match capture(&cmd) {
            Ok(out) if out.success => out.stdout,
            Ok(out) => {
                let said = out.stderr.trim();
                problems.push(format!(
                    "`{program}` is installed at {} but {} failed: {said}",
                    path.display(),
                    cmd.argv()
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{e:#}"));
                continue;
            }
        };
        let line = version.lines().next().unwrap_or("").trim().to_owned();
        match parse_version(&version) {
            Some((major, minor, _)) if (major, minor) < tool.minimum() => {
                let (min_major, min_minor) = tool.minimum();
                problems.push(format!(
                    "`{program}` is too old ({line}); need {min_major}.{min_minor} or newer: {}",
                    tool.install_hint()
                ));
                continue;
            }
            Some(_) => {}
            None => {
                problems.push(format!(
                    "could not read a version from {} (it printed {line:?})",
                    cmd.argv()
                ));
                continue;
            }
        }
        if tool == Tool::Docker {
            let info = Cmd::new("docker", ["info", "--format", "{{.ServerVersion}}"]);
            match capture(&info) {
                Ok(out) if out.success => {
                    println!(
                        "prerequisite docker: client {line}, daemon {}",
                        out.stdout.trim()
                    );
                }
                Ok(out) => problems.push(format!(
                    "the Docker daemon is not reachable ({}): start it (`systemctl start docker`) \
                     or point DOCKER_HOST at a running one",
                    first_line(&out.stderr, &out.stdout)
                )),
                Err(e) => problems.push(format!("{e:#}")),
            }
        } else {
            println!("prerequisite {program}: {line}");
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    bail!("missing prerequisites:\n{}", list.join("\n"))
}

fn first_line<'a>(a: &'a str, b: &'a str) -> &'a str {
    let text = if a.trim().is_empty() { b } else { a };
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_each_tools_own_format() {
        assert_eq!(
            parse_version("kind v0.29.0 go1.24.2 linux/amd64"),
            Some((0, 29, 0))
        );
        assert_eq!(
            parse_version("Client Version: v1.33.1\nKustomize Version: v5.6.0"),
            Some((1, 33, 1))
        );
        assert_eq!(parse_version("v3.17.3+ge4da497"), Some((3, 17, 3)));
        assert_eq!(parse_version("27.5.1"), Some((27, 5, 1)));
        assert_eq!(parse_version("no digits here"), None);
        assert_eq!(parse_version("build 7"), None);
    }
}
