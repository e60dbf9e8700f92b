//! Opening a connection for any user kind: the destination after the
//! operator's `--connect-to` overrides, a place in the engine's descriptor
//! budget (held as long as the connection), TCP with no delay, and TLS
//! through the agent's rustls setup (its trusted roots, a task's own
//! configuration, the ALPN protocols the kind speaks).

use std::io;
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

/// A TCP connection to `host`:`port` (after `--connect-to`), with no
/// delay, counted in `connections`; the error names the target.
pub async fn tcp(
    network: &Network,
    connections: &Arc<Descriptors>,
    host: &str,
    port: u16,
) -> Result<Held<TcpStream>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let target = described(network, host, port);
    let permit = permit(connections, &target)?;
    let socket = TcpStream::connect(network.destination(host, port))
        .await
        .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let _ = socket.set_nodelay(true);
    Ok(Held {
        socket,
        _permit: permit,
    })
}

/// A UDP socket connected to `host`:`port` (after `--connect-to`), bound
/// to an ephemeral port of the same family, counted in `connections`.
pub async fn udp(
    network: &Network,
    connections: &Arc<Descriptors>,
    host: &str,
    port: u16,
) -> Result<Held<UdpSocket>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let target = described(network, host, port);
    let permit = permit(connections, &target)?;
    let destination = network.destination(host, port);
    let address = tokio::net::lookup_host(destination)
        .await
        .map_err(|e| format!("cannot resolve {target}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve {target}: no address"))?;
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
