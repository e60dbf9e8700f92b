//! The server: an accept loop over a bound listener, one task per
//! connection running `tokio_tower::pipeline::Server` over a tokio-util
//! `Framed`, and graceful shutdown with a hard deadline.
//!
//! ```no_run
//! use ld_tower::acceptor::PlainAcceptor;
//! use ld_tower::control::Control;
//! use ld_tower::server::Server;
//! use ld_tower::stack::ControlStack;
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let control = Control::default();
//! let quit = control.quit_signal();
//! Server::new(listener, PlainAcceptor)
//!     .serve(ControlStack::new(), control, quit.cancelled_owned())
//!     .await
//! # }
//! ```

mod connection;
mod limits;
mod peers;
mod table;
mod transport;

pub use limits::{Limits, DEFAULT_MAX_PARTIAL_BYTES, DEFAULT_MAX_UNSENT_BYTES};
pub use peers::{AuthBackoff, FORGET_AFTER, MAX_WAIT};
pub use transport::{MAX_STRIKES, MAX_UNSENT};

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ld_tower_layers::BoxError;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::{Layer, Service};

use crate::acceptor::Acceptor;
use crate::audit::Audit;
use crate::auth::SecurityCounters;
use crate::codec::Framing;
use crate::metrics::AgentCounters;
use crate::protocol::{Reply, Request};
use connection::Connection;
use peers::Peers;
use table::Table;

/// The listen backlog [`bind`] asks for (the kernel caps it at
/// `net.core.somaxconn`). A burst of a thousand clients connecting at once
/// overflows the usual 1024 (SYN and accept queues are each held to it), and
/// an overflow ends in resets.
pub const LISTEN_BACKLOG: u32 = 4096;

/// The kernel send buffer of each connection ([`bind`]). Left to itself,
/// Linux grows it to 4 MiB for a peer that does not read: a thousand such
/// peers would pin gigabytes of kernel memory. A control socket's replies
/// need far less to flow at full speed on a LAN.
pub const SEND_BUFFER: u32 = 256 * 1024;

/// Binds a listener for [`Server::new`] with address reuse (the port can be
/// bound again at once after a shutdown), and, inherited by the connections
/// it accepts, `TCP_NODELAY` (a reply is written in one go and must not wait
/// for an ACK) and a bounded send buffer ([`SEND_BUFFER`]); and a deep
/// backlog ([`LISTEN_BACKLOG`]).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.set_send_buffer_size(SEND_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// After the grace period, how long cancelled connections get to close.
const HARD_STOP_WAIT: Duration = Duration::from_secs(2);

/// A control-socket server over a bound listener.
#[derive(Debug)]
pub struct Server<A> {
    listener: TcpListener,
    acceptor: Arc<A>,
    framing: Framing,
    limits: Limits,
    audit: Option<Audit>,
    counters: Arc<SecurityCounters>,
    /// Where connections are counted (`serve --metrics`).
    agent: Option<Arc<AgentCounters>>,
}

impl<A: Acceptor> Server<A> {
    /// A server accepting on `listener` through `acceptor`, in legacy framing
    /// with default limits.
    pub fn new(listener: TcpListener, acceptor: A) -> Self {
        Server {
            listener,
            acceptor: Arc::new(acceptor),
            framing: Framing::default(),
            limits: Limits::default(),
            audit: None,
            counters: Arc::default(),
            agent: None,
        }
    }

    /// Counts connections (open, accepted, refused at the cap) in
    /// `counters` (say the state's
    /// [`Outputs::agent`](crate::metrics::Outputs::agent), which
    /// `serve --metrics` shows).
    pub fn agent_counters(mut self, counters: Arc<AgentCounters>) -> Self {
        self.agent = Some(counters);
        self
    }

    /// Counts failed authentications, slowed and closed attempts and
    /// refused client certificates in `counters` (say the state's
    /// [`State::security`](crate::state::State::security), which
    /// `LD_agent_status` reports).
    pub fn security_counters(mut self, counters: Arc<SecurityCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// Records refused client certificates in `audit` (commands are
    /// recorded by the stack and the command service).
    pub fn audit(mut self, audit: Option<Audit>) -> Self {
        self.audit = audit;
        self
    }

    /// Sets the framing.
    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// Sets the limits and timeouts.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, closes idle
    /// connections, lets commands in flight finish within the grace period,
    /// cancels what is left, and returns once every connection is closed.
    ///
    /// Each connection gets its own service, `layer` applied to a clone of
    /// `service`.
    pub async fn serve<L, S, F>(self, layer: L, service: S, shutdown: F) -> io::Result<()>
    where
        S: Clone + Send + 'static,
        L: Layer<S>,
        L::Service: Service<Request, Response = Reply> + Send + 'static,
        <L::Service as Service<Request>>::Error: Into<BoxError> + Send,
        <L::Service as Service<Request>>::Future: Send,
        F: Future<Output = ()> + Send,
    {
        let Server {
            listener,
            acceptor,
            framing,
            limits,
            audit,
            counters,
            agent,
        } = self;
        let stopping = CancellationToken::new();
        let hard_stop = CancellationToken::new();
        let tracker = TaskTracker::new();
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        let table = Table::new(limits.max_unsent_bytes, limits.max_partial_bytes);
        let peers = Arc::new(Peers::new(limits.auth_backoff, counters));
        let mut backoff = Duration::from_millis(5);
        // Connections refused at the cap so far.
        let mut refused: u64 = 0;
        let mut relief = tokio::time::interval(table::STALLED_AFTER / 2);
        relief.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            let (tcp, peer) = tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = relief.tick() => {
                    table.relieve();
                    table.relieve_partial();
                    continue;
                }
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => {
                        backoff = Duration::from_millis(5);
                        accepted
                    }
                    Err(error) => {
                        // Out of descriptors or a passing fault: back off, never exit.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(1));
                        continue;
                    }
                },
            };
            let permit = match permits.clone().try_acquire_owned() {
                Ok(permit) => permit,
                // Full: close a connection doing nothing useful, if there is
                // one, and take its place.
                Err(_) if table.evict_one() => match permits.clone().try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => {
                        refused += 1;
                        if let Some(agent) = &agent {
                            agent.refused_at_limit();
                        }
                        continue;
                    }
                },
                Err(_) => {
                    // A flood is refused by the thousand: the first, then
                    // every power of two, with the count.
                    refused += 1;
                    if let Some(agent) = &agent {
                        agent.refused_at_limit();
                    }
                    if refused.is_power_of_two() {
                        tracing::warn!(%peer, max = limits.max_connections, refused, "connection limit reached and no connection can make room (all running commands, or many still closing); refusing");
                    }
                    drop(tcp);
                    continue;
                }
            };
            let connection = Connection {
                peer,
                framing,
                limits,
                service: layer.layer(service.clone()),
                shutdown: stopping.clone(),
                hard_stop: hard_stop.clone(),
                member: table.join(Some(permit)),
                peers: Arc::clone(&peers),
                audit: audit.clone(),
            };
            let acceptor = acceptor.clone();
            let open = agent.as_ref().map(AgentCounters::accepted);
            tracker.spawn(async move {
                let _open = open;
                connection.run(&*acceptor, tcp).await
            });
        }
        drop(listener);
        stopping.cancel();
        tracker.close();
        tracing::info!(connections = tracker.len(), "shutting down");
        if tokio::time::timeout(limits.grace_period, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                connections = tracker.len(),
                "grace period over; cancelling commands still running"
            );
            hard_stop.cancel();
            let _ = tokio::time::timeout(HARD_STOP_WAIT, tracker.wait()).await;
        }
        Ok(())
    }
}
