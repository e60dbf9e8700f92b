//! One connection's life: handshake under a timeout, the pipeline server
//! over the framed transport, then a clean close (TLS `close_notify`, TCP
//! FIN) so the client reads every reply byte.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use futures_util::SinkExt;
use ld_tower_layers::BoxError;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tower::pipeline;
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;
use tower::limit::ConcurrencyLimit;
use tower::{Service, ServiceExt};

use super::peers::Peers;
use super::table::Member;
use super::transport::{Rules, Transport};
use super::Limits;
use crate::acceptor::Acceptor;
use crate::audit::Audit;
use crate::codec::{Decoded, FramedCodec, Framing, LegacyCodec};
use crate::protocol::{Reply, Request};

/// How long a close may take before the connection is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// After replying, unread bytes from the client are drained for at most this
/// long (and this much), so closing does not reset the connection before the
/// client has read the reply.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

/// What a connection task needs from the server.
pub(super) struct Connection<S> {
    pub(super) peer: SocketAddr,
    pub(super) framing: Framing,
    pub(super) limits: Limits,
    pub(super) service: S,
    /// Shutdown has begun: stop reading.
    pub(super) shutdown: CancellationToken,
    /// The grace period is over: stop everything.
    pub(super) hard_stop: CancellationToken,
    /// Its place in the server's table (which may close it to make room).
    pub(super) member: Member,
    /// What the server remembers of client addresses.
    pub(super) peers: std::sync::Arc<Peers>,
    /// Where refused client certificates are recorded.
    pub(super) audit: Option<Audit>,
}

impl<S> Connection<S>
where
    S: Service<Request, Response = Reply> + Send + 'static,
    S::Error: Into<BoxError> + Send,
    S::Future: Send,
{
    /// Serves the connection to its end. Errors are logged, never returned.
    pub(super) async fn run<A: Acceptor>(self, acceptor: &A, tcp: TcpStream) {
        let io = tokio::select! {
            io = tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp)) => io,
            _ = self.hard_stop.cancelled() => return,
            _ = self.member.close.cancelled() => return,
        };
        let accepted = match io {
            Ok(accepted) => accepted.and_then(|io| Ok((acceptor.identify(&io)?, io))),
            Err(_) => {
                tracing::debug!(peer = %self.peer, "handshake timed out");
                return;
            }
        };
        let io = match accepted {
            Ok((principal, io)) => {
                if let Some(principal) = principal {
                    self.member.slot.admission.certify(principal);
                }
                io
            }
            Err(error) => {
                if acceptor.verifies_clients() {
                    self.peers.counters().certificate_refused();
                    tracing::info!(peer = %self.peer, %error, "handshake refused");
                    if let Some(audit) = &self.audit {
                        audit.handshake_refused(self.peer, &error.to_string());
                    }
                } else {
                    tracing::debug!(peer = %self.peer, %error, "handshake failed");
                }
                return;
            }
        };
        let shutdown = A::SHUTDOWN_AFTER_CLIENT_CLOSE;
        match self.framing {
            Framing::Framed => self.serve(io, FramedCodec::new(), false, shutdown).await,
            Framing::Legacy => self.serve(io, LegacyCodec::new(), true, shutdown).await,
        }
    }

    /// Serves the connection, then closes it: flushed always; shut down
    /// (TLS `close_notify`, FIN) unless the client already closed and the
    /// stream needs no goodbye; and, if the client may still be sending,
    /// drained a little so the close does not reset the reply away.
    async fn serve<IO, C>(self, io: IO, codec: C, one_shot: bool, shutdown_after_client_close: bool)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
        C: Decoder<Item = Decoded, Error = io::Error>
            + Encoder<Reply, Error = io::Error>
            + Send
            + Unpin,
    {
        let evicted = self.member.close.clone();
        let ledger = self.member.ledger.clone();
        let mut transport = Box::pin(Transport::new(
            io,
            codec,
            Rules {
                peer: Some(self.peer),
                read_timeout: self.limits.read_timeout,
                max_in_flight: self.limits.max_in_flight,
                one_shot,
                shutdown: self.shutdown.clone(),
                member: self.member,
                peers: self.peers,
            },
        ));
        // Replies count against the server's budget from the moment they
        // are made (one waiting for the peer to take the one before it too).
        let service = ConcurrencyLimit::new(self.service, self.limits.max_in_flight.max(1))
            .map_response(move |reply: Reply| {
                ledger.queued(reply.size());
                reply
            });
        let served = tokio::select! {
            served = pipeline::Server::new(&mut transport, service) => Some(served),
            _ = self.hard_stop.cancelled() => None,
            _ = evicted.cancelled() => {
                tracing::debug!(peer = %self.peer, "closed to make room");
                return;
            }
        };
        match served {
            Some(Ok(())) => {}
            Some(Err(pipeline::server::Error::BrokenTransportSend(error))) => {
                tracing::debug!(peer = %self.peer, %error, "write failed");
                return;
            }
            Some(Err(pipeline::server::Error::BrokenTransportRecv(error))) => {
                tracing::debug!(peer = %self.peer, %error, "read failed");
            }
            Some(Err(pipeline::server::Error::Service(error))) => {
                let error: BoxError = error.into();
                tracing::warn!(peer = %self.peer, %error, "service failed; closing connection");
            }
            None => tracing::debug!(peer = %self.peer, "grace period over; closing connection"),
        }
        let client_closed = transport.client_closed();
        let closed = if client_closed && !shutdown_after_client_close {
            tokio::time::timeout(CLOSE_TIMEOUT, transport.flush()).await
        } else {
            tokio::time::timeout(CLOSE_TIMEOUT, transport.close()).await
        };
        if closed.is_ok() && !client_closed && !self.shutdown.is_cancelled() {
            linger(transport.as_mut().io()).await;
        }
    }
}

/// Reads and discards what the client still sends, until it closes, for a
/// bounded time and size.
async fn linger<IO: AsyncRead + Unpin>(io: Pin<&mut IO>) {
    let io = io.get_mut();
    let mut scratch = [0u8; 4096];
    let mut total = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while total < LINGER_BYTES {
            match io.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}
