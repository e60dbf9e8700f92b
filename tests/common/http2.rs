//! HTTP/2 targets for `tests/http2.rs`: a hyper HTTP/2 server (h2c, or
//! TLS with the ALPN protocols it is given) on 127.0.0.1:0 that counts what
//! it is sent, by path and by HTTP version, and can reset a stream, close
//! its connection mid-request, answer slowly, redirect and set cookies.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;

/// What the target saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Requests by path (with the query).
    pub paths: Mutex<BTreeMap<String, u64>>,
    /// Requests by version (`HTTP/2.0`, `HTTP/1.1`).
    pub versions: Mutex<BTreeMap<String, u64>>,
    /// Connections accepted.
    pub connections: AtomicUsize,
}

impl Seen {
    pub(crate) fn path(&self, path: &str) -> u64 {
        self.paths.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub(crate) fn version(&self, version: &str) -> u64 {
        self.versions
            .lock()
            .unwrap()
            .get(version)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn total(&self) -> u64 {
        self.paths.lock().unwrap().values().sum()
    }
}

/// A running target; stopped when dropped.
pub(crate) struct H2Target {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Drop for H2Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the target listens.
pub(crate) enum Listen {
    /// h2c, prior knowledge.
    Plain,
    /// TLS with this certificate and key, offering these ALPN protocols
    /// (an `http/1.1` pick is served in HTTP/1.1).
    Tls {
        cert: CertificateDer<'static>,
        key: Vec<u8>,
        alpn: Vec<Vec<u8>>,
    },
}

impl H2Target {
    pub(crate) async fn start(listen: Listen) -> H2Target {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Seen::default());
        let acceptor = match listen {
            Listen::Plain => None,
            Listen::Tls { cert, key, alpn } => {
                let provider = ld_tower::tls::provider();
                let mut config = ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(vec![cert], PrivateKeyDer::try_from(key).unwrap())
                    .unwrap();
                config.alpn_protocols = alpn;
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
            }
        };
        let counted = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                counted.connections.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&counted);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        None => serve(tcp, seen, true).await,
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(tcp).await else {
                                return;
                            };
                            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                            serve(tls, seen, h2).await;
                        }
                    }
                });
            }
        });
        H2Target { addr, seen, task }
    }
}

/// Serves one connection (HTTP/2, or HTTP/1.1 when not `h2`) until it
/// ends or a `/close` request kills it.
async fn serve<S>(io: S, seen: Arc<Seen>, h2: bool)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let killer = Arc::clone(&kill);
    let service = service_fn(move |request: Request<Incoming>| {
        let seen = Arc::clone(&seen);
        let kill = Arc::clone(&killer);
        async move { answer(request, &seen, &kill).await }
    });
    let io = TokioIo::new(io);
    if h2 {
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service);
        tokio::select! {
            _ = connection => {}
            _ = kill.notified() => {}
        }
    } else {
        let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
        tokio::select! {
            _ = connection => {}
            _ = kill.notified() => {}
        }
    }
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

async fn answer(
    request: Request<Incoming>,
    seen: &Seen,
    kill: &Notify,
) -> Result<Response<Full<Bytes>>, Refused> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
    let version = match request.version() {
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_11 => "HTTP/1.1",
        _ => "other",
    };
    *seen.paths.lock().unwrap().entry(path.clone()).or_default() += 1;
    *seen
        .versions
        .lock()
        .unwrap()
        .entry(version.to_owned())
        .or_default() += 1;
    let reply = |status: StatusCode, body: &'static str| {
        Response::builder()
            .status(status)
            .header("x-kind", "h2-target")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let route = path.split('?').next().unwrap_or("/").to_owned();
    match route.as_str() {
        // An error from the service: hyper resets the stream.
        "/reset" => Err(Refused),
        "/close" => {
            kill.notify_one();
            std::future::pending::<()>().await;
            unreachable!()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(reply(StatusCode::OK, "slow"))
        }
        "/redirect" => Ok(Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "/ok")
            .body(Full::new(Bytes::new()))
            .unwrap()),
        "/login" => Ok(Response::builder()
            .header("set-cookie", "sid=s3cret; Path=/")
            .body(Full::new(Bytes::from_static(b"in")))
            .unwrap()),
        "/me" => {
            let cookie = request
                .headers()
                .get("cookie")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if cookie.contains("sid=s3cret") {
                Ok(reply(StatusCode::OK, "you"))
            } else {
                Ok(reply(StatusCode::UNAUTHORIZED, "who"))
            }
        }
        _ => Ok(reply(
            StatusCode::OK,
            r#"{"token": "abc", "items": [1, 2, 3]}"#,
        )),
    }
}
