//! Repository policy, checked as tests so plain `cargo test` enforces it
//! (as rust-analyzer's xtask does):
//!
//! - xtask never compiles kube: its dependency graph holds no Kubernetes
//!   client, HTTP server or async runtime (it drives kind, kubectl, helm
//!   and docker as processes).
//! - a library never chooses the user's Kubernetes version: no published
//!   library enables a `v1_*` feature of k8s-openapi, nor tokio's
//!   `test-util`, in its normal dependencies (those belong to applications
//!   and dev-dependencies).
//!
//! Both read `cargo metadata` for the host platform, run from the
//! repository root.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Packages xtask must not depend on, directly or through anything.
const NOT_IN_XTASK: &[&str] = &[
    "kube",
    "kube-client",
    "kube-core",
    "k8s-openapi",
    "axum",
    "hyper",
    "tokio",
];

/// The published libraries, whose normal dependencies users inherit.
const LIBRARIES: &[&str] = &[
    "kube-harness",
    "kube-harness-assert",
    "kube-harness-apiserver",
    "kube-harness-continuity",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tool(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The host's target triple, from `rustc -vV`.
fn host() -> String {
    let out = Command::new(tool("RUSTC", "rustc"))
        .arg("-vV")
        .output()
        .expect("running rustc -vV");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_else(|| panic!("rustc -vV printed no host line:\n{text}"))
        .trim()
        .to_owned()
}

/// `cargo metadata` of the workspace, for the host platform, read once.
fn metadata() -> &'static Value {
    static METADATA: OnceLock<Value> = OnceLock::new();
    METADATA.get_or_init(|| {
        let argv = [
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            &host(),
        ];
        let out = Command::new(tool("CARGO", "cargo"))
            .args(argv)
            .current_dir(repo())
            .output()
            .expect("running cargo metadata");
        assert!(
            out.status.success(),
            "cargo {} failed:\n{}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
    })
}

/// Package id → package name.
fn names(meta: &Value) -> BTreeMap<&str, &str> {
    meta["packages"]
        .as_array()
        .expect("metadata has packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect()
}

/// Every package `root` compiles with (normal and build dependencies,
/// followed transitively; dev-dependencies are not), each with the chain
/// of packages that pulled it in.
fn compiled_with<'m>(meta: &'m Value, root: &str) -> BTreeMap<&'m str, Vec<&'m str>> {
    let names = names(meta);
    let nodes: BTreeMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .expect("metadata has a resolve graph")
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root_id = *names
        .iter()
        .find(|(_, name)| **name == root)
        .unwrap_or_else(|| panic!("no package {root} in cargo metadata"))
        .0;
    let mut chains: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    chains.insert(root_id, vec![names[root_id]]);
    let mut queue = VecDeque::from([root_id]);
    while let Some(id) = queue.pop_front() {
        let chain = chains[id].clone();
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let compiled = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            let dep_id = dep["pkg"].as_str().unwrap();
            if compiled && !chains.contains_key(dep_id) {
                let mut longer = chain.clone();
                longer.push(names[dep_id]);
                chains.insert(dep_id, longer);
                queue.push_back(dep_id);
            }
        }
    }
    chains
        .into_iter()
        .map(|(id, chain)| (names[id], chain))
        .collect()
}

/// What of `forbidden` is in `root`'s graph: one line each, naming the
/// chain that pulled it in.
fn forbidden_in(meta: &Value, root: &str, forbidden: &[&str]) -> Vec<String> {
    let graph = compiled_with(meta, root);
    forbidden
        .iter()
        .filter_map(|name| {
            graph
                .get(name)
                .map(|chain| format!("{name}, pulled in by {}", chain.join(" → ")))
        })
        .collect()
}

/// The optional dependencies (by the name used in `[dependencies]`) that a
/// package's default features turn on.
fn on_by_default(package: &Value) -> BTreeSet<String> {
    let features = &package["features"];
    let mut on = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec!["default".to_owned()];
    while let Some(feature) = todo.pop() {
        if !seen.insert(feature.clone()) {
            continue;
        }
        let Some(items) = features[&feature].as_array() else {
            // Not a declared feature: the implicit feature of an optional
            // dependency.
            on.insert(feature);
            continue;
        };
        for item in items.iter().filter_map(Value::as_str) {
            if let Some(dep) = item.strip_prefix("dep:") {
                on.insert(dep.to_owned());
            } else if let Some((dep, _)) = item.split_once('/') {
                if !dep.ends_with('?') {
                    on.insert(dep.to_owned());
                }
            } else {
                todo.push(item.to_owned());
            }
        }
    }
    on
}

/// Each normal dependency of `libraries` that picks a Kubernetes version
/// (a `v1_*` feature of k8s-openapi) or turns on tokio's `test-util`.
/// An optional dependency counts when the default features turn it on; one
/// behind a feature nobody gets by default (a benchmark's comparison) is
/// the user's explicit choice.
fn version_choices(meta: &Value, libraries: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for &lib in libraries {
        let package = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == lib)
            .unwrap_or_else(|| panic!("no package {lib} in cargo metadata"));
        let defaults = on_by_default(package);
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if !dep["kind"].is_null() {
                continue;
            }
            let name = dep["name"].as_str().unwrap();
            let key = dep["rename"].as_str().unwrap_or(name);
            if dep["optional"] == true && !defaults.contains(key) {
                continue;
            }
            let features: Vec<&str> = dep["features"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let bad: Vec<&str> = match name {
                "k8s-openapi" => features
                    .iter()
                    .copied()
                    .filter(|f| f.starts_with("v1_") || *f == "latest" || *f == "earliest")
                    .collect(),
                "tokio" => features
                    .iter()
                    .copied()
                    .filter(|f| *f == "test-util")
                    .collect(),
                _ => continue,
            };
            if !bad.is_empty() {
                found.push(format!(
                    "{lib}: [dependencies] {key} enables {} (move it to [dev-dependencies], \
                     or let the application choose)",
                    bad.join(", ")
                ));
            }
        }
    }
    found
}

#[test]
fn xtask_never_compiles_kube_an_http_server_or_tokio() {
    let meta = metadata();
    let graph = compiled_with(meta, "xtask");
    // The walk itself works: what xtask does use is found.
    for expected in ["kube-harness-continuity", "clap", "serde"] {
        assert!(
            graph.contains_key(expected),
            "{expected} missing from xtask's graph: {graph:?}"
        );
    }
    let found = forbidden_in(meta, "xtask", NOT_IN_XTASK);
    assert!(
        found.is_empty(),
        "xtask must stay kube-free (it drives kind, kubectl, helm and docker as processes), \
         but its dependency graph has:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn no_library_chooses_the_kubernetes_version_or_tokio_test_util() {
    let found = version_choices(metadata(), LIBRARIES);
    assert!(
        found.is_empty(),
        "a library never chooses the user's Kubernetes version nor turns on tokio's test \
         clock for them:\n  {}",
        found.join("\n  ")
    );
}

/// The checks themselves, on a small metadata document shaped like cargo's.
#[test]
fn the_policy_checks_report_what_pulled_a_package_in() {
    let meta: Value = serde_json::from_str(
        r#"{
        "packages": [
            {"id": "x", "name": "xtask", "features": {}, "dependencies": []},
            {"id": "c", "name": "kube-harness-continuity", "features": {}, "dependencies": []},
            {"id": "n", "name": "nix", "features": {}, "dependencies": []},
            {"id": "t", "name": "tokio", "features": {}, "dependencies": []},
            {"id": "k", "name": "kube", "features": {}, "dependencies": []},
            {"id": "l", "name": "lib", "features": {"default": ["cli"], "cli": ["dep:clap", "tokio/rt"], "bench": ["dep:openapi-old"]},
             "dependencies": [
                {"name": "k8s-openapi", "rename": null, "kind": null, "optional": false, "features": ["std"]},
                {"name": "k8s-openapi", "rename": null, "kind": "dev", "optional": false, "features": ["v1_33"]},
                {"name": "k8s-openapi", "rename": "openapi-old", "kind": null, "optional": true, "features": ["v1_30"]},
                {"name": "tokio", "rename": null, "kind": null, "optional": true, "features": ["test-util"]}
             ]},
            {"id": "a", "name": "app", "features": {},
             "dependencies": [
                {"name": "k8s-openapi", "rename": null, "kind": null, "optional": false, "features": ["v1_33"]}
             ]}
        ],
        "resolve": {"nodes": [
            {"id": "x", "deps": [{"pkg": "c", "dep_kinds": [{"kind": null}]}, {"pkg": "k", "dep_kinds": [{"kind": "dev"}]}]},
            {"id": "c", "deps": [{"pkg": "n", "dep_kinds": [{"kind": null}]}]},
            {"id": "n", "deps": [{"pkg": "t", "dep_kinds": [{"kind": "build"}]}]},
            {"id": "t", "deps": []},
            {"id": "k", "deps": []},
            {"id": "l", "deps": []},
            {"id": "a", "deps": []}
        ]}
    }"#,
    )
    .unwrap();
    assert_eq!(
        forbidden_in(&meta, "xtask", &["kube", "tokio"]),
        ["tokio, pulled in by xtask → kube-harness-continuity → nix → tokio"],
        "a dev-dependency is not compiled into xtask; a build-dependency is"
    );
    assert_eq!(
        version_choices(&meta, &["lib", "app"]),
        [
            "lib: [dependencies] tokio enables test-util (move it to [dev-dependencies], or let the application choose)",
            "app: [dependencies] k8s-openapi enables v1_33 (move it to [dev-dependencies], or let the application choose)",
        ],
        "tokio is on by default (cli → tokio/rt); openapi-old only behind `bench`"
    );
}
