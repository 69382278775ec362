//! The server as another language's test suite meets it: the standalone
//! binary with a fault file and a bearer token, on loopback unless told
//! otherwise, and the 401 kube-apiserver gives a request without the token
//! (apiserver `pkg/endpoints/filters/authentication.go` `Unauthorized`:
//! `apierrors.NewUnauthorized("Unauthorized")`, no details, no
//! `WWW-Authenticate` header).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_harness_apiserver::ApiServer;
use serde_json::json;

async fn client_from(kubeconfig: &std::path::Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn get(url: &str, authorization: Option<&str>) -> (u16, Option<String>, serde_json::Value) {
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let mut req = http::Request::get("/api/v1/namespaces/default/configmaps");
    if let Some(a) = authorization {
        req = req.header(http::header::AUTHORIZATION, a);
    }
    let resp = client
        .send(req.body(kube::client::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, www, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn with_a_bearer_token_every_request_without_it_gets_401() {
    let server = ApiServer::builder()
        .bearer_token("s3cret-token")
        .start()
        .await
        .unwrap();
    let endpoint = server.serve_http().await.unwrap();
    let unauthorized = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401
    });
    for presented in [None, Some("Bearer wrong"), Some("Basic czNjcmV0")] {
        let (status, www, body) = get(&endpoint.url, presented).await;
        assert_eq!((status, www, body), (401, None, unauthorized.clone()));
    }
    // The scheme in any case, as apiserver's bearertoken authenticator.
    let (status, _, body) = get(&endpoint.url, Some("bearer s3cret-token")).await;
    assert_eq!(
        (status, body["kind"].as_str()),
        (200, Some("ConfigMapList"))
    );

    // The kubeconfig carries the token (and stays private); the in-process
    // client adds it too.
    let mode = std::fs::metadata(&endpoint.kubeconfig)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let over_http: Api<ConfigMap> =
        Api::default_namespaced(client_from(&endpoint.kubeconfig).await);
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).unwrap();
    over_http.create(&PostParams::default(), &cm).await.unwrap();
    let in_process: Api<ConfigMap> = Api::default_namespaced(server.client());
    assert!(in_process.get("a").await.is_ok());
}

/// Kills the binary when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kube-harness-apiserver"))
}

#[tokio::test]
async fn the_standalone_binary_injects_the_faults_of_its_file_behind_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.yaml");
    std::fs::write(
        &faults,
        "seed: 42
rules:
- effect: status
  code: 403
  reason: Forbidden
  message: injected for the test
  verbs: [list]
  resource: configmaps
  times: 1
",
    )
    .unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n").unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Running(
        binary()
            .arg("--faults")
            .arg(&faults)
            .arg("--token-file")
            .arg(&token)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("serving on ").unwrap().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "loopback by default: {url}"
    );
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let (status, _, _) = get(&url, None).await;
    assert_eq!(status, 401, "the token file is enforced");
    let api: Api<ConfigMap> = Api::default_namespaced(client_from(&kubeconfig).await);
    let e = api.list(&Default::default()).await.unwrap_err();
    match e {
        kube::Error::Api(s) => {
            assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
            assert_eq!(s.message, "injected for the test");
        }
        other => panic!("expected the injected 403, got {other:?}"),
    }
    api.list(&Default::default())
        .await
        .expect("times: 1 is spent");

    // A plain `kill` (SIGTERM) shuts it down cleanly.
    let term = Command::new("kill")
        .arg(child.0.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.0.wait().unwrap().success(), "SIGTERM is a clean exit");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains(&format!(
            "injecting 1 fault rule(s) from {} (seed 42; replay with HARNESS_FAULT_SEED=42)",
            faults.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("GET configmaps in ns default → 403 Forbidden injected"),
        "{stderr}"
    );
    assert!(stderr.ends_with("shutting down\n"), "{stderr}");
}

#[test]
fn a_wrong_fault_file_stops_the_binary_with_the_rule_named() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.yaml");
    std::fs::write(&faults, "rules:\n- effect: conflict\n- effect: lag\n").unwrap();
    let out = binary().arg("--faults").arg(&faults).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "fault rules {}: rule 2: unknown effect \"lag\"",
            faults.display()
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_token_that_cannot_be_sent_is_refused_at_start() {
    for (token, why) in [
        ("", "bearer token: it is empty"),
        (
            "two words",
            "bearer token: it holds whitespace or control characters",
        ),
        (
            "line\n",
            "bearer token: it holds whitespace or control characters",
        ),
    ] {
        let e = ApiServer::builder()
            .bearer_token(token)
            .start()
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), why, "{token:?}");
    }
}
