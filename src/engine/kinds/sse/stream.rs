//! Opening an event stream: a GET over HTTP/1.1 (hyper's client
//! connection) on a TCP (and TLS for `https://`) connection opened by
//! [`dial`] (the descriptor budget, `--connect-to`, the agent's or the
//! step's rustls configuration), `Accept: text/event-stream`, the step's
//! headers and the last event ID; the response must be a 200 of type
//! `text/event-stream`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HOST};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls::ClientConfig;

use crate::engine::dial;
use crate::engine::dial::Stream as Io;
use crate::engine::kinds::steps::Failure;
use crate::engine::network::Network;
use crate::engine::Descriptors;

/// The header that carries the last event ID on a reconnection.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// `url`, or, when it names no scheme, `url` relative to the test's host.
pub(super) fn absolute(url: String, base: Option<&str>) -> Result<String, String> {
    if url.contains("://") {
        Ok(url)
    } else {
        crate::engine::task::absolute(url, base)
    }
}

/// Where an `http://` or `https://` URL connects, and what it asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Target {
    secure: bool,
    host: String,
    port: u16,
    /// `Host`: the host, and the port when it is not the scheme's.
    authority: String,
    /// The path and query.
    path: String,
}

impl Target {
    /// `url`'s target; the error says what is wrong with it.
    pub(super) fn parse(url: &str) -> Result<Target, String> {
        let (endpoint, parsed) = dial::Endpoint::of_url(url, "http", "https")?;
        let dial::Endpoint { secure, host, port } = endpoint;
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let path = &parsed[url::Position::BeforePath..url::Position::AfterQuery];
        Ok(Target {
            secure,
            host,
            port,
            authority,
            path: if path.is_empty() { "/" } else { path }.to_owned(),
        })
    }
}

/// An open stream: its body, and the connection's sender (dropped with it,
/// which ends the connection).
pub(super) struct Stream {
    /// The response body: the events.
    pub(super) body: Incoming,
    _sender: SendRequest<Empty<Bytes>>,
}

impl Stream {
    /// The next bytes of the stream; `None` when it ended.
    pub(super) async fn next(&mut self) -> Option<Result<Bytes, String>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => match frame.into_data() {
                    Ok(data) if data.is_empty() => {}
                    Ok(data) => return Some(Ok(data)),
                    Err(_) => {} // trailers
                },
                Err(e) => return Some(Err(format!("stream lost: {e}"))),
            }
        }
    }
}

/// Opens the stream at `url` with `headers` (and `Last-Event-ID: last_id`
/// when there is one), TLS with `tls` for `https://`.
pub(super) async fn open(
    url: &str,
    headers: &[(HeaderName, String)],
    last_id: &str,
    network: &Network,
    connections: &Arc<Descriptors>,
    tls: &Arc<ClientConfig>,
) -> Result<Stream, Failure> {
    let target = Target::parse(url)?;
    let tcp = dial::tcp(network, connections, &target.host, target.port).await?;
    let io = if target.secure {
        Io::Tls(Box::new(dial::tls(tls, &target.host, tcp).await?))
    } else {
        Io::Plain(tcp)
    };
    let (mut sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    // The connection is driven by its own task; it ends when the stream
    // (its body and sender) is dropped, or the server closes it.
    tokio::spawn(connection);
    let mut request = http::Request::get(target.path.as_str())
        .header(HOST, target.authority.as_str())
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    for (name, value) in headers {
        request = request.header(name, value.as_str());
    }
    if !last_id.is_empty() {
        request = request.header(LAST_EVENT_ID, last_id);
    }
    let request = request
        .body(Empty::new())
        .map_err(|e| format!("{url}: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    if status != http::StatusCode::OK {
        return Err(Failure {
            status: Some(status.as_u16()),
            reason: format!("{url}: HTTP {status}, not an event stream"),
        });
    }
    let kind = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = kind.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("text/event-stream") {
        return Err(Failure {
            status: Some(status.as_u16()),
            reason: format!("{url}: Content-Type {kind:?}, not text/event-stream"),
        });
    }
    Ok(Stream {
        body: response.into_body(),
        _sender: sender,
    })
}
