//! The binary as a user in another language runs it: started, driven with
//! kubectl and the control API over HTTP, stopped with SIGTERM.
//!
//! Skipped, with the reason printed, when no kubectl binary is found.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster process, killed if a test fails before stopping it.
struct Cluster {
    child: Child,
    kubeconfig: PathBuf,
    control: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

fn start(dir: &Path, nodes: u32) -> Cluster {
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-harness-cluster"))
        .arg("--nodes")
        .arg(nodes.to_string())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting kube-harness-cluster");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut control = String::new();
    for line in lines.by_ref() {
        let line = line.expect("reading the banner");
        if let Some(url) = line.strip_prefix("control: http://") {
            control = url.to_string();
        }
        if line.starts_with("nodes:") {
            break;
        }
    }
    assert!(!control.is_empty(), "the banner names the control API");
    Cluster {
        child,
        kubeconfig,
        control,
    }
}

impl Cluster {
    fn kubectl(&self, bin: &Path, args: &[&str]) -> String {
        let out = Command::new(bin)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("running kubectl");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// One request to the control API: its status code and body.
    fn control(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(&self.control).expect("control API");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let code = text[9..12].parse().unwrap();
        let body = text
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_string();
        (code, body)
    }
}

/// Polls `check` every 100 ms for up to 30 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn kubectl_and_the_control_api_drive_the_fake_cluster() {
    let Some(bin) = kubectl() else {
        eprintln!("skipping: no kubectl on PATH (set KUBECTL to use one elsewhere)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = start(dir.path(), 2);
    let k = |args: &[&str]| cluster.kubectl(&bin, args);

    let nodes = k(&["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"]);
    let (code, listed) = cluster.control("GET", "/nodes");
    assert_eq!(code, 200);
    let listed: Vec<String> = serde_json::from_str(&listed).unwrap();
    assert_eq!(nodes.split(' ').collect::<Vec<_>>(), listed);
    assert_eq!(listed.len(), 2);

    k(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
    ]);
    k(&["rollout", "status", "deployment/web", "--timeout=60s"]);

    assert_eq!(
        cluster.control("POST", "/pause?kind=Pod"),
        (200, "paused".into())
    );
    k(&["scale", "deployment/web", "--replicas=3"]);
    let phases = || k(&["get", "pods", "-o", "jsonpath={.items[*].status.phase}"]);
    eventually("the third pod", || phases().split(' ').count() == 3);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        phases().contains("Pending"),
        "a paused kubelet runs nothing: {}",
        phases()
    );

    assert_eq!(cluster.control("POST", "/resume"), (200, "resumed".into()));
    k(&["rollout", "status", "deployment/web", "--timeout=60s"]);

    let (code, body) = cluster.control("POST", "/pause?kind=Gadget");
    assert_eq!(code, 400);
    assert!(
        body.starts_with("unknown kind \"Gadget\"; the faker plays StatefulSet"),
        "{body}"
    );
    assert_eq!(cluster.control("GET", "/pause").0, 405);
    assert_eq!(cluster.control("GET", "/nope").0, 404);

    // A fault rule over HTTP: pulls of this image fail from now on.
    let (code, body) = cluster.control(
        "POST",
        "/faults/image-pull-failure?image=registry.example%2Fbroken%3A*",
    );
    assert_eq!((code, body.as_str()), (200, "image-pull-failure set"));
    k(&[
        "create",
        "deployment",
        "broken",
        "--image=registry.example/broken:1",
    ]);
    let reasons = || {
        k(&[
            "get",
            "pods",
            "-l",
            "app=broken",
            "-o",
            "jsonpath={..state.waiting.reason}",
        ])
    };
    eventually("a failed pull", || {
        let r = reasons();
        r.contains("ErrImagePull") || r.contains("ImagePullBackOff")
    });
    assert_eq!(
        cluster.control("POST", "/faults/crash-loop"),
        (400, "POST /faults/crash-loop needs ?image=…".into())
    );
    let (code, body) = cluster.control("POST", "/faults/meteor");
    assert_eq!(code, 404);
    assert!(
        body.starts_with("no fault rule \"meteor\"; the rules are image-pull-failure, crash-loop"),
        "{body}"
    );
    assert_eq!(
        cluster.control(
            "POST",
            "/faults/slow-readiness?selector=app%3Dweb&seconds=soon"
        ),
        (400, "?seconds=soon is not a whole number".into())
    );

    // SIGTERM stops it cleanly.
    let pid = cluster.child.id().to_string();
    assert!(Command::new("kill").arg(&pid).status().unwrap().success());
    let status = cluster.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        dir.path().join("kubeconfig").exists(),
        "the asked-for copy is kept"
    );
}
