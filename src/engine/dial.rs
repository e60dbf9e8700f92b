//! Opening a connection for any user kind: the destination after the
//! operator's `--connect-to` overrides, resolved here and each address
//! judged by the agent's [`TargetPolicy`](crate::policy::TargetPolicy)
//! before it is connected to (the address checked is the address used: a
//! name resolving elsewhere later changes nothing), a place in the
//! engine's descriptor budget (held as long as the connection), TCP with
//! no delay, and TLS through the agent's rustls setup (its trusted roots, a
//! task's own configuration, the ALPN protocols the kind speaks). Every
//! kind's connections, each redirect's included, open through here.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::TlsConnector;

use super::descriptors::{Descriptors, Permit};
use super::network::Network;
use crate::policy::Refused;

/// A socket with its place in the descriptor budget: the place is given
/// back when it is dropped.
#[derive(Debug)]
pub struct Held<S> {
    /// The socket.
    pub socket: S,
    _permit: Permit,
}

/// `host:port` where a connection to it goes (an override's
/// destination, or the same), for messages: `"host:port"`, or
/// `"host:port (connecting to other:port)"`.
fn described(network: &Network, host: &str, port: u16) -> String {
    let (to_host, to_port) = network.destination(host, port);
    if (to_host, to_port) == (host, port) {
        format!("{host}:{port}")
    } else {
        format!("{host}:{port} (connecting to {to_host}:{to_port})")
    }
}

fn permit(connections: &Arc<Descriptors>, target: &str) -> Result<Permit, String> {
    connections
        .try_open()
        .ok_or_else(|| format!("{target}: {}", connections.exhausted()))
}

/// Why no connection was opened.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The agent's policy refuses every address the target has.
    #[error(transparent)]
    Refused(#[from] Refused),
    /// Resolving or connecting failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl DialError {
    /// The message for a connection to `target` (see [`described`]).
    fn message(self, target: &str) -> String {
        match self {
            DialError::Refused(refused) => refused.to_string(),
            DialError::Io(e) => format!("cannot connect to {target}: {e}"),
        }
    }
}

/// The addresses a connection to `host`:`port` may go to: its
/// `--connect-to` destination, resolved, those the network's policy
/// refuses left out (all refused: the first refusal).
pub async fn addresses(
    network: &Network,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, DialError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let (to_host, to_port) = network.destination(host, port);
    let resolved = tokio::net::lookup_host((to_host, to_port)).await?;
    let policy = network.policy();
    let names = [host, to_host];
    let names = if to_host == host {
        &names[..1]
    } else {
        &names[..]
    };
    let mut refused = None;
    let allowed: Vec<SocketAddr> = resolved
        .filter(|address| match policy.check(names, *address) {
            Ok(()) => true,
            Err(e) => {
                refused.get_or_insert(e);
                false
            }
        })
        .collect();
    match refused {
        Some(refused) if allowed.is_empty() => Err(DialError::Refused(refused)),
        _ if allowed.is_empty() => Err(io::Error::other("the name resolved to no address").into()),
        _ => Ok(allowed),
    }
}

/// A TCP connection to `host`:`port` through [`addresses`], each address
/// tried in turn (as `TcpStream::connect` does), with no delay.
pub(super) async fn connect(
    network: &Network,
    host: &str,
    port: u16,
) -> Result<TcpStream, DialError> {
    let mut last = None;
    for address in addresses(network, host, port).await? {
        match TcpStream::connect(address).await {
            Ok(socket) => {
                let _ = socket.set_nodelay(true);
                return Ok(socket);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::other("the name resolved to no address"))
        .into())
}

/// Why [`tcp`] opened no connection; its message names the target.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DialFailure {
    message: String,
    /// The agent's policy refused the target: trying again cannot help.
    refused: bool,
}

impl DialFailure {
    /// Whether the agent's policy refused the target (not worth a retry).
    pub fn is_refused(&self) -> bool {
        self.refused
    }
}

/// The message, for callers whose errors are text.
impl From<DialFailure> for String {
    fn from(failure: DialFailure) -> String {
        failure.message
    }
}

/// A TCP connection to `host`:`port` (after `--connect-to`, within the
/// agent's policy), with no delay, counted in `connections`; the error
/// names the target.
pub async fn tcp(
    network: &Network,
    connections: &Arc<Descriptors>,
    host: &str,
    port: u16,
) -> Result<Held<TcpStream>, String> {
    tcp_or_failure(network, connections, host, port)
        .await
        .map_err(String::from)
}

/// [`tcp`], telling a refusal by the agent's policy from other failures
/// (for a caller that retries only the latter).
pub async fn tcp_or_failure(
    network: &Network,
    connections: &Arc<Descriptors>,
    host: &str,
    port: u16,
) -> Result<Held<TcpStream>, DialFailure> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let target = described(network, host, port);
    let permit = permit(connections, &target).map_err(|message| DialFailure {
        message,
        refused: false,
    })?;
    let socket = connect(network, host, port)
        .await
        .map_err(|e| DialFailure {
            refused: matches!(e, DialError::Refused(_)),
            message: e.message(&target),
        })?;
    Ok(Held {
        socket,
        _permit: permit,
    })
}

/// A UDP socket connected to `host`:`port` (after `--connect-to`, within
/// the agent's policy), bound to an ephemeral port of the same family,
/// counted in `connections`.
pub async fn udp(
    network: &Network,
    connections: &Arc<Descriptors>,
    host: &str,
    port: u16,
) -> Result<Held<UdpSocket>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let target = described(network, host, port);
    let permit = permit(connections, &target)?;
    let address = match addresses(network, host, port).await {
        Ok(addresses) => addresses
            .first()
            .copied()
            .ok_or_else(|| format!("cannot resolve {target}: no address"))?,
        Err(DialError::Io(e)) => return Err(format!("cannot resolve {target}: {e}")),
        Err(refused) => return Err(refused.message(&target)),
    };
    let local = if address.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot open a UDP socket for {target}: {e}"))?;
    socket
        .connect(address)
        .await
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    Ok(Held {
        socket,
        _permit: permit,
    })
}

/// TLS over `tcp` to `host` (the name the certificate must carry), with
/// `config`; the permit moves with it.
pub async fn tls(
    config: &Arc<ClientConfig>,
    host: &str,
    tcp: Held<TcpStream>,
) -> Result<Held<TlsStream<TcpStream>>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host}: not a server name for TLS: {e}"))?;
    let socket = TlsConnector::from(Arc::clone(config))
        .connect(name, tcp.socket)
        .await
        .map_err(|e| format!("TLS handshake with {host} failed: {e}"))?;
    Ok(Held {
        socket,
        _permit: tcp._permit,
    })
}

pub use super::network::with_alpn;

/// A connection's transport: TCP, or TLS over it; its place in the
/// descriptor budget held with it.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Plain(Held<TcpStream>),
    /// TLS over TCP (boxed: its buffers are large).
    Tls(Box<Held<TlsStream<TcpStream>>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(held) => Pin::new(&mut held.socket).poll_read(cx, buf),
            Stream::Tls(held) => Pin::new(&mut held.socket).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(held) => Pin::new(&mut held.socket).poll_write(cx, buf),
            Stream::Tls(held) => Pin::new(&mut held.socket).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(held) => Pin::new(&mut held.socket).poll_flush(cx),
            Stream::Tls(held) => Pin::new(&mut held.socket).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(held) => Pin::new(&mut held.socket).poll_shutdown(cx),
            Stream::Tls(held) => Pin::new(&mut held.socket).poll_shutdown(cx),
        }
    }
}

/// Where a URL connects: its host and port, and whether over TLS.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Its scheme is the secure one (`https`, `wss`).
    pub secure: bool,
    /// The host, as the URL names it.
    pub host: String,
    /// The port, or the scheme's.
    pub port: u16,
}

impl Endpoint {
    /// Where `url` connects, its scheme `plain` or `secure` (`"ws"`,
    /// `"wss"`), with the URL parsed; the error says what is wrong with it.
    pub fn of_url(url: &str, plain: &str, secure: &str) -> Result<(Endpoint, url::Url), String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let is_secure = match parsed.scheme() {
            s if s == plain => false,
            s if s == secure => true,
            other => {
                return Err(format!(
                    "{url:?}: scheme {other:?} is not {plain:?} or {secure:?}"
                ))
            }
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{url:?} names no host"))?
            .to_owned();
        let port = parsed
            .port_or_known_default()
            .unwrap_or(if is_secure { 443 } else { 80 });
        Ok((
            Endpoint {
                secure: is_secure,
                host,
                port,
            },
            parsed,
        ))
    }
}
