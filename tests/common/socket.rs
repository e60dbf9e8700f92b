//! Raw socket servers for `socket_user` tests, on 127.0.0.1 port 0,
//! counting what they receive: a TCP echo (plain or TLS, optionally
//! closing each connection after some bytes) and a UDP echo (silent to
//! datagrams starting with `silent`).
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_rustls::rustls::pki_types::PrivateKeyDer;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::common::TlsFiles;

/// What a server counted.
#[derive(Debug, Default)]
pub struct Counts {
    /// Connections accepted (TLS: handshakes completed).
    pub connections: AtomicU64,
    /// Bytes received and echoed back (TCP), datagrams received (UDP).
    pub received: AtomicU64,
    /// UDP: datagrams answered.
    pub answered: AtomicU64,
}

impl Counts {
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TLS acceptor for the leaf of `files` (localhost, 127.0.0.1).
pub fn acceptor(files: &TlsFiles) -> TlsAcceptor {
    let key = PrivateKeyDer::try_from(files.key_der.clone()).expect("key");
    let provider = ld_tower::tls::provider();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![files.cert_der.clone()], key)
        .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// A TCP echo server: each connection's bytes are sent back as they come;
/// with `close_after`, a connection is closed (its write side, then once
/// the client closes) after echoing that many bytes, and what comes after
/// is read but neither counted nor answered.
pub async fn tcp_echo(tls: Option<TlsAcceptor>, close_after: Option<u64>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let counts = Arc::new(Counts::default());
    let kept = Arc::clone(&counts);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let counts = Arc::clone(&kept);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => {
                        counts.connections.fetch_add(1, Ordering::SeqCst);
                        echo(tcp, &counts, close_after).await;
                    }
                    Some(tls) => {
                        if let Ok(stream) = tls.accept(tcp).await {
                            counts.connections.fetch_add(1, Ordering::SeqCst);
                            echo(stream, &counts, close_after).await;
                        }
                    }
                }
            });
        }
    });
    Server { addr, counts, task }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    counts: &Counts,
    close_after: Option<u64>,
) {
    let mut buffer = [0u8; 4096];
    let mut seen = 0u64;
    loop {
        let n = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n as u64,
        };
        let take = close_after.map_or(n, |limit| n.min(limit - seen));
        seen += take;
        counts.received.fetch_add(take, Ordering::SeqCst);
        if stream.write_all(&buffer[..take as usize]).await.is_err() {
            return;
        }
        if close_after == Some(seen) {
            let _ = stream.shutdown().await;
            // Drained until the client closes: nothing unread makes a reset.
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
            }
            return;
        }
    }
}

/// A TCP server that answers anything with an endless stream of `a`s.
pub async fn tcp_streamer() -> Server {
    tcp_server(|mut tcp| async move {
        let mut buffer = [0u8; 1024];
        if matches!(tcp.read(&mut buffer).await, Ok(n) if n > 0) {
            let chunk = [b'a'; 16 * 1024];
            while tcp.write_all(&chunk).await.is_ok() {}
        }
    })
    .await
}

/// A TCP server that reads and never answers.
pub async fn tcp_mute() -> Server {
    tcp_server(|mut tcp| async move {
        let mut buffer = [0u8; 1024];
        while matches!(tcp.read(&mut buffer).await, Ok(n) if n > 0) {}
    })
    .await
}

/// A TCP server running `handle` on each connection (counted).
async fn tcp_server<F, R>(handle: F) -> Server
where
    F: Fn(tokio::net::TcpStream) -> R + Send + Sync + 'static,
    R: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let counts = Arc::new(Counts::default());
    let kept = Arc::clone(&counts);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            kept.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(handle(tcp));
        }
    });
    Server { addr, counts, task }
}

/// A port nothing listens on (TCP and UDP), for now.
pub fn closed_port() -> u16 {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    tcp.local_addr().expect("addr").port()
}

/// A UDP echo server: each datagram is sent back, except those starting
/// with `silent`.
pub async fn udp_echo() -> Server {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let counts = Arc::new(Counts::default());
    let kept = Arc::clone(&counts);
    let task = tokio::spawn(async move {
        let mut buffer = [0u8; 65536];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buffer).await else {
                continue;
            };
            kept.received.fetch_add(1, Ordering::SeqCst);
            if buffer[..n].starts_with(b"silent") {
                continue;
            }
            if socket.send_to(&buffer[..n], from).await.is_ok() {
                kept.answered.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    Server { addr, counts, task }
}
