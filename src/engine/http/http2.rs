//! HTTP/2 for HTTP users (`"http2": true` on the test or the task), on the
//! `h2` crate (hyper's own HTTP/2: framing, HPACK, flow control), driven
//! directly.
//!
//! Over `http://` it is h2c with prior knowledge (the connection preface
//! straight away, as `h2load` and `curl --http2-prior-knowledge` do); over
//! `https://` the TLS handshake offers ALPN `h2` and `http/1.1`, and when
//! the server picks `http/1.1` (or nothing) that origin is spoken to in
//! HTTP/1.1 for the rest of the test (the user's own HTTP/1.1 connection,
//! [`HttpClient::send`](super::HttpClient::send)'s usual path).
//!
//! Many streams per connection: a user runs one request at a time, so
//! users share connections. Each test has one [`Http2Pool`]; by default it
//! keeps one connection per origin (and TLS configuration) per worker
//! thread, shared by that thread's users (so `user_count` is the number of
//! concurrent streams, spread over one connection per core). With the
//! test's `h2_connections: C` it keeps `C` connections per origin instead,
//! user `n` (in the order users start) using connection `n % C`, as
//! `h2load -c C -m M` does with `user_count = C * M`. A connection the
//! server closes (GOAWAY, reset, a broken socket) fails the requests under
//! way on it and is made again for the next; a reset stream fails its own
//! request only. Connections count against the engine's descriptor budget
//! ([`dial::tcp`]) like any other.
//!
//! Bounds on what a server sends: a response's header list is at most
//! [`MAX_HEAD`] (64 KiB), a kept body at most [`MAX_KEPT_BODY`] (16 MiB,
//! the rest read and dropped), and unread data at most the flow-control
//! windows ([`STREAM_WINDOW`] per stream, [`CONNECTION_WINDOW`] per
//! connection); server push is refused. The test's pool keeps at most
//! [`MAX_SLOTS`] connections (redirects to ever new origins fail past it).

use std::future::poll_fn;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::ThreadId;

use bytes::Bytes;
use h2::client::SendRequest;
use h2::RecvStream;
use http::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, HOST, LOCATION, SET_COOKIE,
    TE, TRANSFER_ENCODING, UPGRADE,
};
use http::uri::Authority;
use http::{Method, Request, Uri, Version};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::ClientConfig;

use super::redirect::is_redirect;
use super::response::Received;
use super::{
    basic_authorization, HttpError, Lease, Origin, Response, Retain, MAX_HEAD, MAX_KEPT_BODY,
};
use crate::engine::descriptors::Descriptors;
use crate::engine::dial::{self, Held};
use crate::engine::network::Network;

/// Each stream's flow-control window: what a server may send on one
/// stream before the client has read it.
pub(super) const STREAM_WINDOW: u32 = 1024 * 1024;
/// The connection's flow-control window (all its streams).
pub(super) const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;
/// The most connections a test's pool keeps.
pub const MAX_SLOTS: usize = 1024;

/// How a test's HTTP/2 connections are shared (the test's keys).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Http2Settings {
    /// `h2_connections`: that many connections per origin, shared by
    /// every user; `None`: one per origin per worker thread.
    pub connections: Option<NonZeroUsize>,
}

/// A test's HTTP/2 connections, shared by its users.
#[derive(Debug, Default)]
pub struct Http2Pool {
    settings: Http2Settings,
    /// Users that took a lane so far.
    users: AtomicUsize,
    slots: Mutex<Vec<Arc<Slot>>>,
    /// TLS configurations with ALPN `h2` offered, by the one they were made from.
    alpn: Mutex<Vec<(Arc<ClientConfig>, Arc<ClientConfig>)>>,
}

impl Http2Pool {
    /// An empty pool (no I/O until a user asks for a connection).
    pub fn new(settings: Http2Settings) -> Http2Pool {
        Http2Pool {
            settings,
            ..Http2Pool::default()
        }
    }

    /// `config` offering `h2` then `http/1.1`, made once per configuration.
    fn alpn(&self, config: &Arc<ClientConfig>) -> Arc<ClientConfig> {
        let mut made = self.alpn.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, with)) = made.iter().find(|(from, _)| Arc::ptr_eq(from, config)) {
            return Arc::clone(with);
        }
        let with = dial::with_alpn(config, &[b"h2", b"http/1.1"]);
        made.push((Arc::clone(config), Arc::clone(&with)));
        with
    }

    /// The slot of `lane` for `origin` and `tls`, made when new.
    fn slot(
        &self,
        origin: &Origin,
        tls: Option<&Arc<ClientConfig>>,
        lane: &Lane,
    ) -> Result<Arc<Slot>, HttpError> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots
            .iter()
            .find(|slot| slot.lane == *lane && slot.origin == *origin && same_tls(&slot.tls, tls))
        {
            return Ok(Arc::clone(slot));
        }
        if slots.len() >= MAX_SLOTS {
            return Err(HttpError::Http2(format!(
                "more than {MAX_SLOTS} HTTP/2 connections in one test"
            )));
        }
        let slot = Arc::new(Slot {
            origin: origin.clone(),
            tls: tls.cloned(),
            lane: lane.clone(),
            state: tokio::sync::Mutex::new(State::Empty),
        });
        slots.push(Arc::clone(&slot));
        Ok(slot)
    }
}

fn same_tls(made: &Option<Arc<ClientConfig>>, wanted: Option<&Arc<ClientConfig>>) -> bool {
    match (made, wanted) {
        (Some(made), Some(wanted)) => Arc::ptr_eq(made, wanted),
        (made, wanted) => made.is_none() && wanted.is_none(),
    }
}

/// Which of an origin's connections a user uses.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Lane {
    /// The one of its worker thread.
    Thread(ThreadId),
    /// The `n`th (`h2_connections`).
    Index(usize),
}

/// One shared connection's place in the pool.
#[derive(Debug)]
struct Slot {
    origin: Origin,
    tls: Option<Arc<ClientConfig>>,
    lane: Lane,
    /// Locked while it is being made: the users waiting for it get it.
    state: tokio::sync::Mutex<State>,
}

/// What a slot holds.
#[derive(Debug)]
enum State {
    /// Nothing yet (or never made).
    Empty,
    /// An HTTP/2 connection.
    Live(Live),
    /// The server chose HTTP/1.1 in ALPN: the origin is spoken to in HTTP/1.1.
    Http1,
}

/// A handle on an HTTP/2 connection.
#[derive(Clone, Debug)]
struct Live {
    send: SendRequest<Bytes>,
    /// Set when the connection is over (its driver returned).
    closed: Arc<AtomicBool>,
    /// Basic credentials from the URL's `user:password@`.
    authorization: Option<HeaderValue>,
}

impl Live {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

/// One user's side of the pool: the connections it took, by origin.
#[derive(Debug)]
pub(super) struct Http2User {
    pool: Arc<Http2Pool>,
    /// Its lane when `h2_connections` is given.
    index: Option<usize>,
    held: Vec<HeldLive>,
}

#[derive(Debug)]
struct HeldLive {
    origin: Origin,
    tls: Option<Arc<ClientConfig>>,
    /// `None`: the origin speaks HTTP/1.1.
    live: Option<Live>,
}

impl Http2User {
    /// A user of `pool`, given its lane now (users take them in order).
    pub(super) fn new(pool: Arc<Http2Pool>) -> Http2User {
        let index = pool
            .settings
            .connections
            .map(|c| pool.users.fetch_add(1, Ordering::Relaxed) % c.get());
        Http2User {
            pool,
            index,
            held: Vec::new(),
        }
    }

    /// The index in `held` of a connection to `https`/`authority` made
    /// with `tls`, open; `None` when that origin speaks HTTP/1.1.
    pub(super) async fn connection(
        &mut self,
        network: &Network,
        connections: &Arc<Descriptors>,
        https: bool,
        authority: &Authority,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Option<usize>, HttpError> {
        let found = self.held.iter().position(|held| {
            held.origin.https == https
                && (held.origin.authority.as_str() == authority.as_str()
                    || held.origin.authority == *authority)
                && same_tls(&held.tls, tls)
        });
        if let Some(index) = found {
            match &self.held[index].live {
                None => return Ok(None),
                Some(live) if !live.is_closed() => return Ok(Some(index)),
                Some(_) => {}
            }
        }
        // The slow path (the pool, maybe a handshake) in its own boxed
        // future: the request's future stays small.
        Box::pin(self.renew(network, connections, https, authority, tls, found)).await
    }

    /// Takes the pool's connection to the origin (making it when there is
    /// none, or it is closed) into `held` (at `found`, or as a new entry).
    async fn renew(
        &mut self,
        network: &Network,
        connections: &Arc<Descriptors>,
        https: bool,
        authority: &Authority,
        tls: Option<&Arc<ClientConfig>>,
        found: Option<usize>,
    ) -> Result<Option<usize>, HttpError> {
        let origin = Origin {
            https,
            authority: authority.clone(),
        };
        let lane = match self.index {
            Some(index) => Lane::Index(index),
            None => Lane::Thread(std::thread::current().id()),
        };
        let slot = self.pool.slot(&origin, tls, &lane)?;
        let live = {
            let mut state = slot.state.lock().await;
            match &*state {
                State::Live(live) if !live.is_closed() => Some(live.clone()),
                State::Http1 => None,
                State::Empty | State::Live(_) => {
                    let alpn = tls.map(|config| self.pool.alpn(config));
                    let made = connect(network, connections, &origin, alpn.as_ref()).await?;
                    let live = match &made {
                        State::Live(live) => Some(live.clone()),
                        _ => None,
                    };
                    *state = made;
                    live
                }
            }
        };
        let held = HeldLive {
            origin,
            tls: tls.cloned(),
            live,
        };
        let index = match found {
            Some(index) => {
                self.held[index] = held;
                index
            }
            None => {
                self.held.push(held);
                self.held.len() - 1
            }
        };
        Ok(self.held[index].live.is_some().then_some(index))
    }

    /// Sends `request` on held connection `index` and reads its response
    /// as [`Received`] (as the HTTP/1.1 reader does: `follow` takes a
    /// redirect's `Location`, and keeps nothing of it). A failure of the
    /// connection (not of the stream alone) marks it closed.
    pub(super) async fn exchange(
        &mut self,
        index: usize,
        request: &Request<Bytes>,
        retain: Retain,
        follow: bool,
        lease: &Lease,
    ) -> Result<Received, HttpError> {
        let Some(live) = self.held.get_mut(index).and_then(|h| h.live.as_mut()) else {
            return Err(HttpError::Http2("no connection".into()));
        };
        let result = exchange(live, request, retain, follow, lease).await;
        if let Err(Failure::Connection(_)) = &result {
            live.closed.store(true, Ordering::Release);
        }
        result.map_err(Failure::into_error)
    }
}

/// Why an exchange failed: its stream alone, or its connection.
enum Failure {
    Stream(HttpError),
    Connection(HttpError),
}

impl Failure {
    fn into_error(self) -> HttpError {
        match self {
            Failure::Stream(e) | Failure::Connection(e) => e,
        }
    }
}

impl From<h2::Error> for Failure {
    fn from(e: h2::Error) -> Self {
        let message = if e.is_go_away() {
            format!(
                "HTTP/2 connection closed by the server (GOAWAY {})",
                e.reason().map_or_else(|| "?".into(), |r| r.to_string())
            )
        } else if e.is_reset() {
            format!(
                "HTTP/2 stream reset by the server ({})",
                e.reason().map_or_else(|| "?".into(), |r| r.to_string())
            )
        } else {
            format!("HTTP/2: {e}")
        };
        let error = HttpError::Http2(message);
        if e.is_reset() && !e.is_go_away() && !e.is_io() {
            Failure::Stream(error)
        } else {
            Failure::Connection(error)
        }
    }
}

/// Connection-specific headers HTTP/2 forbids (RFC 9113 section 8.2.2):
/// dropped from a request.
const HOP_BY_HOP: [HeaderName; 4] = [CONNECTION, TRANSFER_ENCODING, UPGRADE, HOST];

async fn exchange(
    live: &mut Live,
    request: &Request<Bytes>,
    retain: Retain,
    follow: bool,
    grown: &Lease,
) -> Result<Received, Failure> {
    let mut head = Request::new(());
    *head.method_mut() = request.method().clone();
    *head.version_mut() = Version::HTTP_2;
    *head.uri_mut() = without_userinfo(request.uri());
    let headers = head.headers_mut();
    *headers = request.headers().clone();
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    if headers.get(TE).is_some_and(|te| te != "trailers") {
        headers.remove(TE);
    }
    if let Some(authorization) = &live.authorization {
        if !headers.contains_key(AUTHORIZATION) {
            headers.insert(AUTHORIZATION, authorization.clone());
        }
    }
    let body = request.body();
    let carries_body = !body.is_empty()
        || matches!(
            *request.method(),
            Method::POST | Method::PUT | Method::PATCH
        );
    if carries_body && !headers.contains_key(CONTENT_LENGTH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    poll_fn(|cx| live.send.poll_ready(cx))
        .await
        .map_err(Failure::from)?;
    let (response, mut stream) = live
        .send
        .send_request(head, body.is_empty())
        .map_err(Failure::from)?;
    if !body.is_empty() {
        stream
            .send_data(body.clone(), true)
            .map_err(Failure::from)?;
    }
    let response = response.await.map_err(Failure::from)?;
    let (parts, mut data) = response.into_parts();
    let status = parts.status;
    let mut headers = parts.headers;
    let set_cookies: Vec<String> = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    let location = (follow && is_redirect(status))
        .then(|| headers.get(LOCATION))
        .flatten()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let retain = if location.is_some() {
        Retain::default()
    } else {
        retain
    };
    let mut memory = None;
    // The kept headers' bytes (about their HTTP/1.1 length).
    let headers_size = if retain.headers {
        headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum()
    } else {
        0
    };
    if retain.body || retain.headers {
        let mut lease = Lease::new(grown.pool());
        lease
            .hold(headers_size)
            .map_err(|e| Failure::Stream(HttpError::Memory(e)))?;
        memory = Some(lease);
    }
    if !retain.headers {
        headers = http::HeaderMap::new();
    }
    let (body, bytes) = read_body(&mut data, retain.body, memory.as_mut(), headers_size).await?;
    Ok(Received {
        response: Response {
            status,
            headers,
            body: body.map(Bytes::from),
            body_bytes: bytes,
            memory,
        },
        set_cookies,
        location,
        reusable: true,
    })
}

/// Reads a response's body to its end, giving its bytes back to the
/// flow-control windows as they are read; keeps it (up to
/// [`MAX_KEPT_BODY`], its room taken from `lease`, which holds
/// `headers_held` already) when `keep`. The body's length, kept or not.
async fn read_body(
    data: &mut RecvStream,
    keep: bool,
    mut lease: Option<&mut Lease>,
    headers_held: usize,
) -> Result<(Option<Vec<u8>>, u64), Failure> {
    let mut kept = keep.then(Vec::new);
    let mut bytes = 0u64;
    while let Some(chunk) = data.data().await {
        let chunk = chunk.map_err(Failure::from)?;
        let n = chunk.len();
        bytes += n as u64;
        let _ = data.flow_control().release_capacity(n);
        if let Some(body) = &mut kept {
            let room = MAX_KEPT_BODY.saturating_sub(body.len());
            let take = &chunk[..n.min(room)];
            let needed = body.len() + take.len();
            if needed > body.capacity() {
                let capacity = needed.max(body.capacity() * 2).min(MAX_KEPT_BODY);
                if let Some(lease) = lease.as_deref_mut() {
                    lease
                        .hold(headers_held + capacity)
                        .map_err(|e| Failure::Stream(HttpError::Memory(e)))?;
                }
                body.reserve_exact(capacity - body.len());
            }
            body.extend_from_slice(take);
        }
        if data.is_end_stream() {
            // The last frame: no need to ask for the end.
            break;
        }
    }
    Ok((kept, bytes))
}

/// `uri` without `user:password@` (HTTP/2's `:authority` may not carry it).
fn without_userinfo(uri: &Uri) -> Uri {
    let Some(authority) = uri.authority() else {
        return uri.clone();
    };
    let Some((_, host_port)) = authority.as_str().rsplit_once('@') else {
        return uri.clone();
    };
    let mut parts = uri.clone().into_parts();
    match host_port.parse::<Authority>() {
        Ok(authority) => parts.authority = Some(authority),
        Err(_) => return uri.clone(),
    }
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// Opens a connection to `origin`: TCP (through the budget and
/// `--connect-to`), TLS with `alpn` for https, then the HTTP/2 handshake,
/// its driver spawned on this thread's runtime. [`State::Http1`] when the
/// server did not choose `h2`.
async fn connect(
    network: &Network,
    connections: &Arc<Descriptors>,
    origin: &Origin,
    alpn: Option<&Arc<ClientConfig>>,
) -> Result<State, HttpError> {
    let authority = origin.authority.as_str();
    let userinfo = authority.rsplit_once('@').map(|(userinfo, _)| userinfo);
    let host = origin.authority.host();
    let port = origin
        .authority
        .port_u16()
        .unwrap_or(if origin.https { 443 } else { 80 });
    let authorization = userinfo
        .map(basic_authorization)
        .transpose()
        .map_err(|e| HttpError::Url(authority.to_owned(), e))?;
    let tcp = dial::tcp_or_failure(network, connections, host, port)
        .await
        .map_err(|failure| {
            if failure.is_refused() {
                HttpError::Refused(failure.to_string())
            } else {
                HttpError::Dial(failure.to_string())
            }
        })?;
    match alpn {
        None => handshake(Io(tcp), authorization).await,
        Some(config) => {
            let tls = dial::tls(config, host, tcp)
                .await
                .map_err(HttpError::Dial)?;
            if tls.socket.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Ok(State::Http1);
            }
            handshake(Io(tls), authorization).await
        }
    }
}

async fn handshake<S>(io: Io<S>, authorization: Option<HeaderValue>) -> Result<State, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_header_list_size(MAX_HEAD as u32)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| HttpError::Http2(format!("HTTP/2 handshake failed: {e}")))?;
    let closed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&closed);
    tokio::spawn(async move {
        let _ = connection.await;
        flag.store(true, Ordering::Release);
    });
    Ok(State::Live(Live {
        send,
        closed,
        authorization,
    }))
}

/// A held socket as a byte stream (its budget permit lives as long).
struct Io<S>(Held<S>);

impl<S: AsyncRead + Unpin> AsyncRead for Io<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0.socket).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Io<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0.socket).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0.socket).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0.socket).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.socket.is_write_vectored()
    }
}
