//! [`Request`]: one request as the codec delivered it, before parsing.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ld_tower_layers::{Loggable, Principal, WireSize};

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
/// token configured: a request that parsed as a command), and the
/// principal its TLS client certificate proved, if any. The server treats
/// a connection that was never admitted as a stranger's: a few protocol
/// errors close it, and it is the first to go when room is needed.
///
/// Clones share the state: the connection keeps one, each of its requests
/// (and the command parsed from it) another; the stack's admission layer
/// admits, the connection certifies after its handshake.
#[derive(Clone, Debug, Default)]
pub struct Admission(Arc<AdmissionState>);

#[derive(Debug, Default)]
struct AdmissionState {
    admitted: AtomicBool,
    certified: OnceLock<Principal>,
}

impl Admission {
    /// Marks the connection admitted.
    pub fn admit(&self) {
        self.0.admitted.store(true, Ordering::Relaxed);
    }

    /// Whether the connection was admitted.
    pub fn is_admitted(&self) -> bool {
        self.0.admitted.load(Ordering::Relaxed)
    }

    /// Records the principal the connection's client certificate proved
    /// (once; a later call is ignored).
    pub fn certify(&self, principal: Principal) {
        let _ = self.0.certified.set(principal);
    }

    /// The principal the connection's client certificate proved.
    pub fn certified(&self) -> Option<&Principal> {
        self.0.certified.get()
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
