//! [`HttpClient`]: one virtual user's HTTP/1.1 client. It keeps one
//! connection per origin (a user usually talks to one), made again when the
//! server closes it; https goes through rustls with the ring provider,
//! trusting what its [`Network`] trusts, and connections go where its
//! `connect_to` overrides say.
//!
//! This is the engine's inner loop, so it is ours and lean, as wrk's is:
//! a request is encoded into one reused buffer and written with one call
//! ([`request`]); the response head is parsed in place by `httparse`, the
//! parser hyper uses, and the body framed as RFC 9112 says ([`response`]).
//! No channel and no other task stand between a user and its socket, and
//! response headers are copied into a header map only when a task reads
//! them. A cookie jar ([`cookies`]) sends back what responses set, redirects
//! are followed ([`redirect`]) unless a request says not to, and a request
//! may bring its own TLS configuration ([`Network::tls_for`]): connections
//! are kept per origin and TLS configuration. [`multipart`] encodes
//! `multipart/form-data` bodies. A request whose options say `http2`
//! goes over HTTP/2 instead ([`http2`]: h2c with prior knowledge, or ALPN
//! `h2` over TLS), on connections the test's users share. hyper 1 was the first client here: with it the engine cost
//! 9.3 to 10 µs of CPU per request against wrk's 7.2, about 2 µs of it
//! hyper's dispatch (its request channel, response oneshot, body channel
//! and header maps), which kept requests/s at 0.75-0.78x wrk's; the same
//! loop without them costs what wrk does.

mod cookies;
mod http2;
pub mod multipart;
mod redirect;
mod request;
mod response;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{HeaderValue, AUTHORIZATION, COOKIE};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;
use tokio_util::either::Either;

use self::cookies::Jar;
use self::http2::Http2User;
pub use self::http2::{Http2Pool, Http2Settings, MAX_SLOTS as MAX_H2_CONNECTIONS};
pub use self::redirect::{Redirects, MAX_REDIRECTS};
use self::response::Reader;
pub use self::response::{MAX_HEAD, MAX_KEPT_BODY};
use super::descriptors::{Descriptors, Permit};
use super::dial::{self, DialError};
use super::memory::{Lease, Pool};
use super::network::Network;

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
    /// Writing the request failed.
    #[error("cannot send the request: {0}")]
    Write(std::io::Error),
    /// Reading the response failed.
    #[error("cannot read the response: {0}")]
    Read(std::io::Error),
    /// The server closed the connection before the response was complete.
    #[error("connection closed before the response was complete")]
    Closed,
    /// The response is not valid HTTP/1.1.
    #[error("invalid response: {0}")]
    Invalid(String),
    /// The engine may open no more connections (its descriptor budget).
    #[error("cannot connect to {0}: {1}")]
    Descriptors(String, String),
    /// The response needs more memory than the test's budget leaves.
    #[error("response not read: {0}")]
    Memory(String),
    /// More redirects than a request follows ([`MAX_REDIRECTS`]).
    #[error("too many redirects ({0})")]
    TooManyRedirects(usize),
    /// A redirect that cannot be followed (its `Location` is not an http or
    /// https URL).
    #[error("cannot follow the redirect: {0}")]
    Redirect(String),
    /// Connecting failed (the message names the target and why).
    #[error("{0}")]
    Dial(String),
    /// The agent's policy refuses the target's addresses (`--allow-target`,
    /// `--deny-target`, the built-in deny): not retried.
    #[error("{0}")]
    Refused(String),
    /// An HTTP/2 connection or stream failed (the message says which and why).
    #[error("{0}")]
    Http2(String),
}

impl HttpError {
    /// Whether the request got no response for a reason of the network or
    /// the server's connection (refused, reset, closed, unreadable), which
    /// a retry may not meet again: LoadDensity's transient errors.
    pub fn is_transport(&self) -> bool {
        matches!(
            self,
            HttpError::Connect(..)
                | HttpError::Tls(..)
                | HttpError::Write(_)
                | HttpError::Read(_)
                | HttpError::Closed
                | HttpError::Invalid(_)
                | HttpError::Descriptors(..)
                | HttpError::Dial(_)
                | HttpError::Http2(_)
        )
    }
}

/// What a client's connections and responses count against.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    /// The connections the engine may hold open (for the whole process).
    pub connections: Arc<Descriptors>,
    /// The bytes the test's responses may hold beyond each user's buffers.
    pub responses: Arc<Pool>,
}

/// What of a response to keep: reading the rest costs no copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retain {
    /// Retain the body (up to [`MAX_KEPT_BODY`] bytes).
    pub body: bool,
    /// Retain the headers.
    pub headers: bool,
}

/// How to send a request: built once per task (at plan time), so that
/// sending costs no allocation for it.
#[derive(Clone, Debug, Default)]
pub struct SendOptions {
    /// What of the (final) response to keep.
    pub retain: Retain,
    /// Whether redirects are followed (by default they are).
    pub redirects: Redirects,
    /// The TLS configuration of https connections, from
    /// [`Network::tls_for`]; `None`: the network's own
    /// ([`Network::tls`]). Connections are only reused for requests with
    /// the same configuration (the same `Arc`).
    pub tls: Option<Arc<ClientConfig>>,
    /// Over HTTP/2 (the `http2` key): h2c with prior knowledge for http,
    /// ALPN `h2` for https (HTTP/1.1 when the server picks it), on the
    /// test's shared connections ([`HttpClient::with_http2`]).
    pub http2: bool,
}

impl From<Retain> for SendOptions {
    /// Keeping `keep`, following redirects, with the network's TLS.
    fn from(retain: Retain) -> Self {
        SendOptions {
            retain,
            ..SendOptions::default()
        }
    }
}

/// A response, its body read.
#[derive(Debug)]
pub struct Response {
    /// The status.
    pub status: StatusCode,
    /// The headers, when kept (else empty).
    pub headers: HeaderMap,
    /// The body, when kept.
    pub body: Option<Bytes>,
    /// The body's length as received (kept or not; after any chunked
    /// framing is removed).
    pub body_bytes: u64,
    /// The kept body's and headers' bytes in the test's budget, until the
    /// response is dropped.
    memory: Option<Lease>,
}

impl Response {
    /// Holds `bytes` more of the test's response pool (for what is built
    /// from this response, its parsed JSON), for as long as the lease
    /// lives; `None` when the response kept nothing.
    pub(crate) fn hold_more(&self, bytes: usize) -> Result<Option<Lease>, String> {
        let Some(memory) = &self.memory else {
            return Ok(None);
        };
        let mut more = Lease::new(memory.pool());
        more.hold(bytes)?;
        Ok(Some(more))
    }
}

/// Where a connection goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Origin {
    https: bool,
    authority: Authority,
}

/// A connection's byte stream: plain, or TLS (boxed: it is large, and
/// connections move in and out of the pool for each request).
type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// One kept connection.
struct Connection {
    origin: Origin,
    /// The TLS configuration it was made with (https only): a request with
    /// another one gets another connection.
    tls: Option<Arc<ClientConfig>>,
    /// The `Host` header for it.
    host: HeaderValue,
    /// Basic credentials from the URL's `user:password@`, if it has them.
    authorization: Option<HeaderValue>,
    stream: Stream,
    /// Its place in the engine's descriptor budget.
    _permit: Permit,
}

impl Connection {
    /// Whether the server has closed (or written to) this idle connection:
    /// one read that never waits, answered from what the reactor already
    /// knows (no system call, unless the last read filled the buffer).
    fn closed(&mut self) -> bool {
        let mut probe = [0u8; 1];
        // Ready at all means closed, broken, or bytes nobody asked for.
        self.stream.read(&mut probe).now_or_never().is_some()
    }
}

/// A user's connections.
pub struct HttpClient {
    network: Arc<Network>,
    /// The descriptors it may open.
    connections: Arc<Descriptors>,
    /// Its open connections, idle. Boxed: a connection moves out of here
    /// for each request and back, which is then 8 bytes, not three copies
    /// of ~200 (callgrind: ~190 instructions a request).
    #[allow(clippy::vec_box, reason = "moved in and out for each request")]
    kept: Vec<Box<Connection>>,
    /// The request being sent, encoded.
    write: Vec<u8>,
    /// The response being read.
    reader: Reader,
    /// The cookies responses set.
    jar: Jar,
    /// Its share of the test's HTTP/2 connections, when it has one.
    http2: Option<Http2User>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("connections", &self.kept.len())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with no connection yet, reaching its targets by `network`,
    /// with no budget.
    pub fn new(network: Arc<Network>) -> Self {
        HttpClient::with_budget(network, Budget::default())
    }

    /// A client with no connection yet, reaching its targets by `network`,
    /// its connections and response bytes counted against `budget`.
    pub fn with_budget(network: Arc<Network>, budget: Budget) -> Self {
        HttpClient {
            network,
            connections: budget.connections,
            kept: Vec::new(),
            write: Vec::with_capacity(512),
            reader: Reader::new(budget.responses),
            jar: Jar::default(),
            http2: None,
        }
    }

    /// The same client, sending the requests whose options say `http2`
    /// on `pool`'s connections (without one, they fail).
    pub fn with_http2(mut self, pool: Arc<Http2Pool>) -> Self {
        self.http2 = Some(Http2User::new(pool));
        self
    }

    /// Sends `request` (its URI absolute), with the cookies earlier
    /// responses set, and reads the response, keeping what `options.retain`
    /// says. Redirects are followed unless `options.redirects` says not
    /// to: each is read to its end (for its connection) and dropped, its
    /// cookies stored; the response is the last one. A kept connection the
    /// server has closed is noticed before sending and replaced; one closed
    /// while the request is under way fails that request (as in Locust),
    /// not the next. The connection is out of the pool while the request is
    /// under way: if this future is dropped (a timeout, a stop), the
    /// connection closes with it.
    pub async fn send(
        &mut self,
        request: Request<Bytes>,
        options: &SendOptions,
    ) -> Result<Response, HttpError> {
        if options.http2 {
            // Boxed: the HTTP/1.1 future stays the size it was (it is
            // moved into the timeout race for each request).
            return Box::pin(self.send_http2(request, options)).await;
        }
        self.send_http1(request, options).await
    }

    /// [`send`](Self::send) over HTTP/1.1.
    async fn send_http1(
        &mut self,
        mut request: Request<Bytes>,
        options: &SendOptions,
    ) -> Result<Response, HttpError> {
        let follow = options.redirects == Redirects::Follow;
        let mut redirects = 0;
        // One state machine for the whole chain (no future nested per hop):
        // a request that is not redirected pays only for the loop's test.
        loop {
            let own_cookies = self.jar.add_to(&mut request);
            let (https, authority) = scheme_and_authority(request.uri())?;
            let tls = https.then(|| options.tls.as_ref().unwrap_or(&self.network.tls));
            let mut connection = match take_kept(&mut self.kept, https, authority, tls) {
                Some(connection) => connection,
                None => {
                    let origin = Origin {
                        https,
                        authority: authority.clone(),
                    };
                    self.connect(origin, tls).await?
                }
            };
            if let Some(authorization) = &connection.authorization {
                // The task's own `auth` or header wins, as in requests and Locust.
                let headers = request.headers_mut();
                if !headers.contains_key(AUTHORIZATION) {
                    headers.insert(AUTHORIZATION, authorization.clone());
                }
            }
            request::encode(&request, connection.host.as_bytes(), &mut self.write);
            connection
                .stream
                .write_all(&self.write)
                .await
                .map_err(HttpError::Write)?;
            connection.stream.flush().await.map_err(HttpError::Write)?;
            let head_request = request.method() == Method::HEAD;
            let received = self
                .reader
                .response(&mut connection.stream, head_request, options.retain, follow)
                .await?;
            if !received.set_cookies.is_empty() {
                self.jar.store(request.uri(), received.set_cookies);
            }
            if received.reusable {
                self.kept.push(connection);
            }
            let Some(location) = received.location else {
                return Ok(received.response);
            };
            if redirects == MAX_REDIRECTS {
                return Err(HttpError::TooManyRedirects(MAX_REDIRECTS));
            }
            redirects += 1;
            // The next hop gets the jar's cookies for its own URL.
            if let Some(own) = own_cookies {
                match own {
                    Some(own) => request.headers_mut().insert(COOKIE, own),
                    None => request.headers_mut().remove(COOKIE),
                };
            }
            redirect::follow(&mut request, received.response.status, &location)?;
        }
    }

    /// [`send`](Self::send) over HTTP/2 (whatever `options.http2` says):
    /// the same chain of redirects and cookies, each hop on the shared
    /// connection of its origin (or over HTTP/1.1 from the hop whose
    /// origin chose it in ALPN).
    pub async fn send_http2(
        &mut self,
        mut request: Request<Bytes>,
        options: &SendOptions,
    ) -> Result<Response, HttpError> {
        let follow = options.redirects == Redirects::Follow;
        let mut redirects = 0;
        loop {
            let own_cookies = self.jar.add_to(&mut request);
            let Some(http2) = self.http2.as_mut() else {
                return Err(HttpError::Http2(
                    "HTTP/2 is not set up for this client".into(),
                ));
            };
            let (https, authority) = scheme_and_authority(request.uri())?;
            let tls = https.then(|| options.tls.as_ref().unwrap_or(&self.network.tls));
            let index = http2
                .connection(&self.network, &self.connections, https, authority, tls)
                .await?;
            let Some(index) = index else {
                // The server chose HTTP/1.1: the rest of the chain goes so.
                restore_cookies(&mut request, own_cookies);
                return Box::pin(self.send_http1(request, options)).await;
            };
            let received = http2
                .exchange(index, &request, options.retain, follow, self.reader.lease())
                .await?;
            if !received.set_cookies.is_empty() {
                self.jar.store(request.uri(), received.set_cookies);
            }
            let Some(location) = received.location else {
                return Ok(received.response);
            };
            if redirects == MAX_REDIRECTS {
                return Err(HttpError::TooManyRedirects(MAX_REDIRECTS));
            }
            redirects += 1;
            restore_cookies(&mut request, own_cookies);
            redirect::follow(&mut request, received.response.status, &location)?;
        }
    }

    async fn connect(
        &self,
        origin: Origin,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Box<Connection>, HttpError> {
        // The URL's `user:password@` become Basic credentials; they stay
        // out of the Host header and of every message.
        let authority = origin.authority.as_str();
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let target = host_port.to_owned();
        let host = origin
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = origin
            .authority
            .port_u16()
            .unwrap_or(if origin.https { 443 } else { 80 });
        let destination = self.network.destination(host, port);
        let permit = self
            .connections
            .try_open()
            .ok_or_else(|| HttpError::Descriptors(target.clone(), self.connections.exhausted()))?;
        let tcp = dial::connect(&self.network, host, port)
            .await
            .map_err(|e| match e {
                DialError::Refused(refused) => HttpError::Refused(refused.to_string()),
                DialError::Io(e) => {
                    let (to_host, to_port) = destination;
                    let via = if destination == (host, port) {
                        String::new()
                    } else {
                        format!(" (connecting to {to_host}:{to_port})")
                    };
                    HttpError::Connect(format!("{target}{via}"), e)
                }
            })?;
        let stream = match tls {
            Some(config) => {
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|e| HttpError::Url(target.clone(), e.to_string()))?;
                let tls = TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| HttpError::Tls(target.clone(), e))?;
                Either::Right(Box::new(tls))
            }
            None => Either::Left(tcp),
        };
        let host = HeaderValue::from_str(host_port)
            .map_err(|e| HttpError::Url(target.clone(), e.to_string()))?;
        let authorization = userinfo
            .map(basic_authorization)
            .transpose()
            .map_err(|e| HttpError::Url(target, e))?;
        Ok(Box::new(Connection {
            origin,
            tls: tls.cloned(),
            host,
            authorization,
            stream,
            _permit: permit,
        }))
    }
}

/// Puts back the request's own `Cookie` header (see [`Jar::add_to`])
/// before it goes elsewhere.
fn restore_cookies(request: &mut Request<Bytes>, own_cookies: Option<Option<HeaderValue>>) {
    if let Some(own) = own_cookies {
        match own {
            Some(own) => request.headers_mut().insert(COOKIE, own),
            None => request.headers_mut().remove(COOKIE),
        };
    }
}

/// `Basic` credentials from a URL's (percent-encoded) `user:password`.
fn basic_authorization(userinfo: &str) -> Result<HeaderValue, String> {
    let decoded = percent_encoding::percent_decode_str(userinfo).collect::<Vec<u8>>();
    let encoded = base64::engine::general_purpose::STANDARD.encode(decoded);
    HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|e| e.to_string())
}

/// A kept connection to `authority` (https or not; made with `tls`) that
/// is still open, out of the pool.
#[allow(clippy::vec_box, reason = "see HttpClient::kept")]
fn take_kept(
    kept: &mut Vec<Box<Connection>>,
    https: bool,
    authority: &Authority,
    tls: Option<&Arc<ClientConfig>>,
) -> Option<Box<Connection>> {
    loop {
        let index = kept.iter().position(|c| {
            c.origin.https == https
                // The same bytes (a task's URL each time) before the
                // comparison that ignores case, which goes byte by byte.
                && (c.origin.authority.as_str() == authority.as_str()
                    || c.origin.authority == *authority)
                && match (&c.tls, tls) {
                    (Some(made), Some(wanted)) => Arc::ptr_eq(made, wanted),
                    (made, wanted) => made.is_none() && wanted.is_none(),
                }
        })?;
        let mut connection = kept.swap_remove(index);
        if !connection.closed() {
            return Some(connection);
        }
    }
}

/// Whether `uri` is https, and its authority; an error unless it is an
/// absolute http or https URL.
fn scheme_and_authority(uri: &Uri) -> Result<(bool, &Authority), HttpError> {
    let bad = |why: &str| HttpError::Url(uri.to_string(), why.to_owned());
    let https = match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => true,
        Some(s) if *s == Scheme::HTTP => false,
        _ => return Err(bad("not an http:// or https:// URL")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    Ok((https, authority))
}

/// The default timeout of a request: LoadDensity's `FastHttpUser` network timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
