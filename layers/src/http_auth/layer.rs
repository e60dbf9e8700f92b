use super::guard::{Challenge, Guard, Refusal};
use super::{
    error::InvalidRealm,
    peer::{DefaultPeer, PeerLookup},
    source::Bearer,
    HttpAuth,
};
use crate::Tokens;
use std::{fmt, sync::Arc};
use tower_layer::Layer;

/// Wraps a service in [`HttpAuth`]: see the [module docs](super).
///
/// Built with [`new`](HttpAuthLayer::new), then optionally a
/// [`realm`](HttpAuthLayer::realm), another credential
/// [`source`](HttpAuthLayer::source), another [`peer`](HttpAuthLayer::peer)
/// lookup and a hook [`on_refusal`](HttpAuthLayer::on_refusal). Its `Debug`
/// output is redacted (the [`Tokens`] print as `Tokens { accepted: N, .. }`).
#[derive(Clone)]
pub struct HttpAuthLayer<Src = Bearer, P = DefaultPeer> {
    guard: Guard<Src, P>,
}

impl HttpAuthLayer {
    /// A layer that lets through the requests presenting one of `tokens` as
    /// `Authorization: Bearer <token>`, and answers the others `401` with
    /// `WWW-Authenticate: Bearer` (no realm).
    pub fn new(tokens: Tokens) -> Self {
        HttpAuthLayer {
            guard: Guard {
                tokens,
                source: Bearer,
                peer: DefaultPeer,
                challenge: Challenge::without_realm(),
                on_refusal: None,
            },
        }
    }
}

impl<Src, P> HttpAuthLayer<Src, P> {
    /// Names the protection space in the challenge:
    /// `WWW-Authenticate: Bearer realm="<realm>"`.
    ///
    /// # Errors
    ///
    /// [`InvalidRealm`] if `realm` holds a control character other than tab
    /// or a character outside ASCII (`"` and `\` are escaped).
    pub fn realm(mut self, realm: &str) -> Result<Self, InvalidRealm> {
        self.guard.challenge = Challenge::with_realm(realm)?;
        Ok(self)
    }

    /// Reads the credential from `source` instead: a
    /// [`Header`](super::source::Header), a [`Cookie`](super::source::Cookie),
    /// a closure ([`from_fn`](super::source::from_fn)), or your own
    /// [`CredentialSource`](super::source::CredentialSource).
    pub fn source<Src2>(self, source: Src2) -> HttpAuthLayer<Src2, P> {
        HttpAuthLayer {
            guard: self.guard.swap(|_, peer| (source, peer)),
        }
    }

    /// Finds the peer of a refused request with `peer` instead of
    /// [`DefaultPeer`]: any [`PeerLookup`], such as a closure
    /// `|extensions: &http::Extensions| -> Option<SocketAddr>`.
    pub fn peer<P2: PeerLookup>(self, peer: P2) -> HttpAuthLayer<Src, P2> {
        HttpAuthLayer {
            guard: self.guard.swap(|source, _| (source, peer)),
        }
    }

    /// Calls `hook` for every refused request, after logging it: to count
    /// refusals, say. It runs inside `call`, so it should be quick.
    pub fn on_refusal(mut self, hook: impl Fn(&Refusal) + Send + Sync + 'static) -> Self {
        self.guard.on_refusal = Some(Arc::new(hook));
        self
    }
}

impl<Src: fmt::Debug, P: fmt::Debug> fmt::Debug for HttpAuthLayer<Src, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HttpAuthLayer").field(&self.guard).finish()
    }
}

impl<S, Src: Clone, P: Clone> Layer<S> for HttpAuthLayer<Src, P> {
    type Service = HttpAuth<S, Src, P>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpAuth::new(inner, Arc::new(self.guard.clone()))
    }
}
