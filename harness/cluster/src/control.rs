//! The control API: what a test in another language does to the faker that
//! a Rust test does with `StatusFaker::pause`/`resume`, as plain HTTP
//! (`curl -X POST 'http://127.0.0.1:PORT/pause?kind=Pod&selector=app%3Dweb'`).
//!
//! - `POST /pause`: hold everything; `?kind=K` holds one kind, `?selector=S`
//!   objects whose labels match (with or without a kind).
//! - `POST /resume`: lift every pause; `?kind=K` lifts that kind's.
//! - `POST /faults/<rule>?…`: one of the faker's fault rules (see
//!   [`crate::faults`]), e.g. `/faults/crash-loop?image=nginx:*`.
//! - `GET /nodes`: the fake nodes' names, as JSON.
//!
//! Kinds are the faker's (`Pod`, `Deployment`, `StatefulSet`, …).

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use kube_harness::faker::{Kind, StatusFaker};

/// Listens on `addr` and answers until the process exits; returns the
/// address bound (the port printed when 0 was asked).
pub(crate) async fn serve(faker: StatusFaker, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let faker = faker.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let answer = answer(&faker, req.method(), req.uri());
                    async move { Ok::<_, Infallible>(answer) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                // A client hanging up mid-request is its business.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body + "\n")));
    *r.status_mut() = status;
    r
}

fn parse_kind(name: &str) -> Result<Kind, String> {
    Kind::ALL
        .into_iter()
        .find(|k| format!("{k:?}").eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<String> = Kind::ALL.iter().map(|k| format!("{k:?}")).collect();
            format!(
                "unknown kind {name:?}; the faker plays {}",
                known.join(", ")
            )
        })
}

fn answer(faker: &StatusFaker, method: &Method, uri: &hyper::Uri) -> Response<Full<Bytes>> {
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let kind = match param("kind").map(parse_kind).transpose() {
        Ok(k) => k,
        Err(e) => return reply(StatusCode::BAD_REQUEST, e),
    };
    let selector = param("selector");
    match (method, uri.path()) {
        (&Method::POST, "/pause") => {
            match (kind, selector) {
                (None, None) => faker.pause(),
                (Some(k), None) => faker.pause_kind(k),
                (k, Some(s)) => faker.pause_selected(k, s),
            }
            reply(StatusCode::OK, "paused".into())
        }
        (&Method::POST, "/resume") => {
            match kind {
                Some(k) => faker.resume_kind(k),
                None => faker.resume(),
            }
            reply(StatusCode::OK, "resumed".into())
        }
        (&Method::POST, path) if path.starts_with("/faults/") => {
            let rule = &path["/faults/".len()..];
            match crate::faults::apply(faker, rule, param) {
                Ok(()) => reply(StatusCode::OK, format!("{rule} set")),
                Err((true, why)) => reply(StatusCode::BAD_REQUEST, why),
                Err((false, why)) => reply(StatusCode::NOT_FOUND, why),
            }
        }
        (&Method::GET, "/nodes") => reply(
            StatusCode::OK,
            serde_json::json!(faker.node_names()).to_string(),
        ),
        (_, "/pause" | "/resume" | "/nodes") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not served on {}", uri.path()),
        ),
        (_, path) => reply(
            StatusCode::NOT_FOUND,
            format!(
                "no {path}: the control API serves POST /pause, POST /resume, POST /faults/<rule> and GET /nodes"
            ),
        ),
    }
}
