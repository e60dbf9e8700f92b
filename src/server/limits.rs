//! [`Limits`]: everything a peer could otherwise make unbounded.

use std::time::Duration;

use super::AuthBackoff;

/// The default of [`Limits::max_unsent_bytes`]: 256 MiB.
pub const DEFAULT_MAX_UNSENT_BYTES: usize = 256 * 1024 * 1024;

/// The default of [`Limits::max_partial_bytes`]: 64 MiB.
pub const DEFAULT_MAX_PARTIAL_BYTES: usize = 64 * 1024 * 1024;

/// The server's bounds and timeouts. `Default` gives `PROTOCOL.md`'s defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; past it new ones are closed at once.
    pub max_connections: usize,
    /// Requests of one connection being run at once. Past it the connection
    /// is not read until one finishes; `1` runs a connection's pipelined
    /// requests one after the other, in order.
    pub max_in_flight: usize,
    /// A connection idle (nothing in flight) this long, or holding only part
    /// of a request, is closed.
    pub read_timeout: Duration,
    /// A TLS handshake not done in this time closes that connection.
    pub handshake_timeout: Duration,
    /// On shutdown, how long commands in flight may still run.
    pub grace_period: Duration,
    /// Bytes held for replies not yet taken by their peers, across all
    /// connections (a request being answered counts as its size until its
    /// reply is made); past it, connections whose peers stopped reading are
    /// closed, those holding the most first.
    pub max_unsent_bytes: usize,
    /// Bytes of requests received and not yet handed on, across all
    /// connections; past it, the connections never admitted holding the
    /// oldest partial requests are closed, then those whose peers stopped
    /// reading.
    pub max_partial_bytes: usize,
    /// How failed authentications slow their address's next attempts.
    pub auth_backoff: AuthBackoff,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_in_flight: 1,
            read_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
            grace_period: Duration::from_secs(10),
            max_unsent_bytes: DEFAULT_MAX_UNSENT_BYTES,
            max_partial_bytes: DEFAULT_MAX_PARTIAL_BYTES,
            auth_backoff: AuthBackoff::default(),
        }
    }
}
