//! [`Target`]: the demo's HTTP target on a loopback port: a small API whose
//! endpoints are fast, slow, or flaky, so a short test has something to show.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A running demo target; it stops when dropped.
#[derive(Debug)]
pub(crate) struct Target {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Target {
    /// Starts the target on 127.0.0.1 and a free port.
    pub(crate) async fn start() -> std::io::Result<Target> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let tcp = tokio::select! {
                    () = stopped.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((tcp, _)) => tcp,
                        Err(_) => continue,
                    },
                };
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let connection = http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service_fn(answer));
                    tokio::select! {
                        _ = connection => {}
                        () = stopped.cancelled() => {}
                    }
                });
            }
        });
        Ok(Target { addr, stop })
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, value);
    }
    response
}

/// Sleeps a random time between `min` and `max` milliseconds.
async fn latency(min: u64, max: u64) {
    tokio::time::sleep(Duration::from_millis(fastrand::u64(min..=max))).await;
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let json = "application/json";
    Ok(match (parts.method, parts.uri.path()) {
        (Method::GET, "/") => reply(StatusCode::OK, "text/plain", "ld-tower demo target\n"),
        (Method::GET, "/api/items") => {
            latency(1, 8).await;
            reply(
                StatusCode::OK,
                json,
                r#"{"items":[{"id":1,"name":"tower"},{"id":2,"name":"layer"}]}"#,
            )
        }
        (Method::GET, "/api/search") => {
            latency(20, 120).await;
            reply(StatusCode::OK, json, r#"{"results":[]}"#)
        }
        (Method::GET, "/api/flaky") => {
            latency(2, 15).await;
            if fastrand::u8(0..100) < 8 {
                reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    "flaky failure\n",
                )
            } else {
                reply(StatusCode::OK, json, r#"{"ok":true}"#)
            }
        }
        (Method::POST, "/api/login") => {
            latency(3, 10).await;
            let user = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("user").and_then(|u| u.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "guest".into());
            reply(
                StatusCode::OK,
                json,
                format!(r#"{{"data":{{"token":"tok-{user}"}}}}"#),
            )
        }
        (Method::GET, "/api/profile") => {
            latency(2, 6).await;
            let authorized = parts
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer tok-"));
            if authorized {
                reply(StatusCode::OK, json, r#"{"user":"demo"}"#)
            } else {
                reply(StatusCode::UNAUTHORIZED, "text/plain", "token required\n")
            }
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    })
}
