//! [`HttpClient`]: one virtual user's HTTP/1.1 client on hyper 1: one
//! keep-alive connection per origin (a user usually talks to one), made
//! again when the server closes it, its driver polled in the user's own task;
//! https through rustls with the ring provider and the Mozilla roots
//! (webpki-roots).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{HeaderValue, HOST};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// The most of a response body kept for assertions and extractors; the
/// rest is read and dropped.
const MAX_KEPT_BODY: usize = 16 * 1024 * 1024;

/// Why a request got no response. Its `Display` is the failure message.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL cannot be requested.
    #[error("bad URL {0:?}: {1}")]
    Url(String, String),
    /// Connecting failed (refused, unreachable, name not resolved).
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake with {0} failed: {1}")]
    Tls(String, std::io::Error),
    /// The HTTP exchange failed.
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    /// The request was built wrong.
    #[error("bad request: {0}")]
    Request(#[from] http::Error),
}

/// A response, its body read (kept only when asked for).
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, when kept.
    pub body: Option<Bytes>,
}

/// Where a connection goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    https: bool,
    authority: Authority,
}

/// A connection's driver: polled inside the user's own task while a request
/// is under way (no hand-off to another task and back for each request).
type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// One kept connection.
struct Connection {
    origin: Origin,
    /// The `Host` header for it, made once.
    host: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
}

/// A user's connections.
pub struct HttpClient {
    tls: TlsConnector,
    connections: Vec<Connection>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

/// The TLS configuration every user shares.
pub fn tls_config() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    tls_config_with(roots)
}

/// A TLS configuration trusting `roots`.
pub fn tls_config_with(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
            // The ring provider supports the default versions; this arm is not reached.
            Err(_) => {
                return Arc::new(
                    ClientConfig::builder()
                        .with_root_certificates(RootCertStore::empty())
                        .with_no_client_auth(),
                )
            }
        };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

impl HttpClient {
    /// A client with no connection yet.
    pub fn new(tls: Arc<ClientConfig>) -> Self {
        HttpClient {
            tls: TlsConnector::from(tls),
            connections: Vec::new(),
        }
    }

    /// Sends `request` (its URI absolute) and reads the response, keeping
    /// the body when `keep_body`. A kept connection the server has closed is
    /// noticed before sending and replaced; one closed while the request is
    /// under way fails that request (as in Locust), not the next.
    pub async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Response, HttpError> {
        let (mut parts, body) = request.into_parts();
        let origin = origin_of(&parts.uri)?;
        let index = match self.kept(&origin) {
            Some(index) => index,
            None => self.connect(origin).await?,
        };
        let connection = &mut self.connections[index];
        // Origin-form on the wire: the path and query, and a Host header.
        let mut uri = std::mem::take(&mut parts.uri).into_parts();
        uri.scheme = None;
        uri.authority = None;
        if uri.path_and_query.is_none() {
            uri.path_and_query = Some(PathAndQuery::from_static("/"));
        }
        parts.uri =
            Uri::from_parts(uri).map_err(|e| HttpError::Url(String::new(), e.to_string()))?;
        parts
            .headers
            .entry(HOST)
            .or_insert_with(|| connection.host.clone());
        let mut driver_ended = false;
        let result = {
            let exchange = async {
                let response = connection
                    .sender
                    .send_request(Request::from_parts(parts, body))
                    .await?;
                read(response, keep_body).await
            };
            tokio::pin!(exchange);
            loop {
                tokio::select! {
                    biased;
                    result = &mut exchange => break result,
                    _ = &mut connection.driver, if !driver_ended => driver_ended = true,
                }
            }
        };
        if result.is_err() || driver_ended {
            // Whatever broke, this connection is not used again.
            self.connections.swap_remove(index);
        }
        result
    }

    /// The index of a kept connection to `origin` that is still open: its
    /// driver is polled once, so a close the server sent meanwhile is seen.
    fn kept(&mut self, origin: &Origin) -> Option<usize> {
        let index = self.connections.iter().position(|c| c.origin == *origin)?;
        let connection = &mut self.connections[index];
        let ended = (&mut connection.driver).now_or_never().is_some();
        if ended || !connection.sender.is_ready() {
            self.connections.swap_remove(index);
            return None;
        }
        Some(index)
    }

    async fn connect(&mut self, origin: Origin) -> Result<usize, HttpError> {
        let target = origin.authority.to_string();
        let host = origin
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = origin
            .authority
            .port_u16()
            .unwrap_or(if origin.https { 443 } else { 80 });
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| HttpError::Connect(target.clone(), e))?;
        let _ = tcp.set_nodelay(true);
        let (sender, driver) = if origin.https {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| HttpError::Url(target.clone(), e.to_string()))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::Tls(target.clone(), e))?;
            handshake(TokioIo::new(tls)).await?
        } else {
            handshake(TokioIo::new(tcp)).await?
        };
        let host = HeaderValue::from_str(origin.authority.as_str())
            .map_err(|e| HttpError::Url(target, e.to_string()))?;
        self.connections.push(Connection {
            origin,
            host,
            sender,
            driver,
        });
        Ok(self.connections.len() - 1)
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<(SendRequest<Full<Bytes>>, Driver), HttpError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    // A request head is small: one flat write beats a writev of its pieces.
    let (sender, connection) = http1::Builder::new().writev(false).handshake(io).await?;
    Ok((sender, Box::pin(connection)))
}

fn origin_of(uri: &Uri) -> Result<Origin, HttpError> {
    let bad = |why: &str| HttpError::Url(uri.to_string(), why.to_owned());
    let https = match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => true,
        Some(s) if *s == Scheme::HTTP => false,
        _ => return Err(bad("not an http:// or https:// URL")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?.clone();
    Ok(Origin { https, authority })
}

async fn read(response: hyper::Response<Incoming>, keep_body: bool) -> Result<Response, HttpError> {
    let (parts, mut body) = response.into_parts();
    let mut kept = keep_body.then(Vec::new);
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let (Some(kept), Ok(data)) = (kept.as_mut(), frame.into_data()) {
            let room = MAX_KEPT_BODY.saturating_sub(kept.len());
            kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body: kept.map(Bytes::from),
    })
}

/// The default timeout of a request: LoadDensity's `FastHttpUser` network timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
