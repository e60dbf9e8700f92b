//! [`Request`]: one request as the codec delivered it, before parsing.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ld_tower_layers::{Loggable, WireSize};

/// One request body, as framing delivered it, with the peer it came from.
#[derive(Clone, Debug)]
pub struct Request {
    /// The remote address, for logs.
    pub peer: Option<SocketAddr>,
    /// The request body: the frame's bytes (framed) or what was read (legacy).
    pub body: Bytes,
    /// Whether the connection it came on has been admitted (shared by all of
    /// that connection's requests).
    pub admission: Admission,
}

impl Request {
    /// A request from `peer` with `body`, on a connection of its own.
    pub fn new(peer: Option<SocketAddr>, body: impl Into<Bytes>) -> Self {
        Request::on(peer, body, Admission::default())
    }

    /// A request from `peer` with `body` on the connection whose admission
    /// is `admission`.
    pub fn on(peer: Option<SocketAddr>, body: impl Into<Bytes>, admission: Admission) -> Self {
        Request {
            peer,
            body: body.into(),
            admission,
        }
    }
}

/// Whether a connection has had a request pass authentication (with no
/// token configured: a request that parsed as a command). The server treats
/// a connection that never did as a stranger's: a few protocol errors close
/// it, and it is the first to go when room is needed.
///
/// Clones share the flag: the connection keeps one, each of its requests
/// (and the command parsed from it) another; the stack's admission layer
/// sets it.
#[derive(Clone, Debug, Default)]
pub struct Admission(Arc<AtomicBool>);

impl Admission {
    /// Marks the connection admitted.
    pub fn admit(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the connection was admitted.
    pub fn is_admitted(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl WireSize for Request {
    fn wire_size(&self) -> usize {
        self.body.len()
    }
}

impl Loggable for Request {
    fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn what(&self) -> Cow<'_, str> {
        // The body may hold a token: only its size is ever logged.
        Cow::Owned(format!("{} bytes", self.body.len()))
    }
}
