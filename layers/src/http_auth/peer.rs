//! Who sent a refused request, for the log and the refusal hook:
//! [`PeerLookup`] and [`DefaultPeer`].

use http::Extensions;
use std::net::SocketAddr;

/// Finds the remote peer in a request's extensions, where the server put it:
/// the strategy of [`HttpAuthLayer::peer`](super::HttpAuthLayer::peer).
///
/// Implemented by [`DefaultPeer`] and by any
/// `Fn(&http::Extensions) -> Option<SocketAddr>`.
pub trait PeerLookup {
    /// The peer's address, if the server recorded one.
    fn peer(&self, extensions: &Extensions) -> Option<SocketAddr>;
}

/// The default lookup: axum's `ConnectInfo<SocketAddr>` (with this crate's
/// `axum` feature; axum puts it there when served with
/// `into_make_service_with_connect_info::<SocketAddr>()`), else a plain
/// `SocketAddr` extension (what a hyper server of yours can insert, and what
/// [`LogLayer`](crate::LogLayer) reads too).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPeer;

impl PeerLookup for DefaultPeer {
    fn peer(&self, extensions: &Extensions) -> Option<SocketAddr> {
        #[cfg(feature = "axum")]
        if let Some(axum::extract::ConnectInfo(peer)) =
            extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
        {
            return Some(*peer);
        }
        extensions.get::<SocketAddr>().copied()
    }
}

impl<F> PeerLookup for F
where
    F: Fn(&Extensions) -> Option<SocketAddr>,
{
    fn peer(&self, extensions: &Extensions) -> Option<SocketAddr> {
        self(extensions)
    }
}
