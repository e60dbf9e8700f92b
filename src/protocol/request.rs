//! [`Request`]: one request as the codec delivered it, before parsing.

use std::borrow::Cow;
use std::net::SocketAddr;

use bytes::Bytes;
use ld_tower_layers::{Loggable, WireSize};

/// One request body, as framing delivered it, with the peer it came from.
#[derive(Clone, Debug)]
pub struct Request {
    /// The remote address, for logs.
    pub peer: Option<SocketAddr>,
    /// The request body: the frame's bytes (framed) or what was read (legacy).
    pub body: Bytes,
}

impl Request {
    /// A request from `peer` with `body`.
    pub fn new(peer: Option<SocketAddr>, body: impl Into<Bytes>) -> Self {
        Request {
            peer,
            body: body.into(),
        }
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
