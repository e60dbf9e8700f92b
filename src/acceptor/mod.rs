//! Acceptors: what turns an accepted TCP stream into the byte stream the
//! codec reads. One trait, a plain and a TLS implementation; the server runs
//! `accept` inside the connection's own task, under the handshake timeout,
//! so a silent client never holds up the accept loop.

mod client_certs;
mod plain;
mod tls;

pub use client_certs::ClientCerts;
pub use plain::PlainAcceptor;
pub use tls::{TlsAcceptor, TlsSetupError};

use std::future::Future;
use std::io;

use ld_tower_layers::Principal;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Turns an accepted TCP stream into a connection's byte stream.
pub trait Acceptor: Send + Sync + 'static {
    /// The stream the codec runs over.
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;

    /// Whether a stream whose client has already closed still needs an
    /// explicit shutdown before it is dropped (TLS: to send `close_notify`).
    /// Plain TCP does not: dropping the socket sends the FIN, and skipping
    /// the shutdown saves the server a system call per connection.
    const SHUTDOWN_AFTER_CLIENT_CLOSE: bool = true;

    /// Completes whatever handshake the stream needs.
    fn accept(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Io>> + Send;

    /// Whether the handshake authenticates the client (a TLS client
    /// certificate): a failed handshake is then a failed authentication,
    /// audited as one.
    fn verifies_clients(&self) -> bool {
        false
    }

    /// Checks the client the handshake proved and finds its principal, if
    /// any (its commands then need no token); an error refuses the
    /// connection (say a certificate name not allowed).
    fn identify(&self, io: &Self::Io) -> io::Result<Option<Principal>> {
        let _ = io;
        Ok(None)
    }
}
