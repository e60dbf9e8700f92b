//! The decision of [`HttpAuth`](super::HttpAuth), apart from the service
//! plumbing: read the credential, verify it, and for a refusal log it, tell
//! the hook and build the 401.

use super::{error::InvalidRealm, peer::PeerLookup, source::CredentialSource};
use crate::logging::Escaped;
use crate::token_auth::error::{InvalidToken, MissingToken};
use crate::{Credential, Loggable, Principal, Tokens};
use http::{header::WWW_AUTHENTICATE, HeaderValue, Request, Response, StatusCode};
use std::{fmt, net::SocketAddr, sync::Arc};

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// It presented no credential at all.
    Missing,
    /// It presented a malformed credential or a token that is not accepted
    /// (not told apart, to tell a prober nothing).
    Invalid,
}

/// The same words as [`MissingToken`] and [`InvalidToken`].
impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing => MissingToken.fmt(f),
            Reason::Invalid => InvalidToken.fmt(f),
        }
    }
}

/// A refused request, as the hook of
/// [`HttpAuthLayer::on_refusal`](super::HttpAuthLayer::on_refusal) sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// Why it was refused.
    pub reason: Reason,
    /// Who sent it, if the [`PeerLookup`] found out.
    pub peer: Option<SocketAddr>,
}

/// What the hook of [`HttpAuthLayer::on_refusal`](super::HttpAuthLayer::on_refusal) is.
pub(super) type Hook = Arc<dyn Fn(&Refusal) + Send + Sync>;

/// The two `WWW-Authenticate` values (RFC 6750 §3): without an error code
/// when no credential came, `error="invalid_token"` for a wrong one.
#[derive(Clone, Debug)]
pub(super) struct Challenge {
    missing: HeaderValue,
    invalid: HeaderValue,
}

impl Challenge {
    /// The challenges without a realm parameter.
    pub(super) fn without_realm() -> Self {
        Challenge {
            missing: HeaderValue::from_static("Bearer"),
            invalid: HeaderValue::from_static("Bearer error=\"invalid_token\""),
        }
    }

    /// The challenges naming `realm`.
    pub(super) fn with_realm(realm: &str) -> Result<Self, InvalidRealm> {
        let realm = quoted(realm)?;
        let value = |text: String| HeaderValue::try_from(text).map_err(|_| InvalidRealm);
        Ok(Challenge {
            missing: value(format!("Bearer realm=\"{realm}\""))?,
            invalid: value(format!("Bearer realm=\"{realm}\", error=\"invalid_token\""))?,
        })
    }

    fn get(&self, reason: Reason) -> HeaderValue {
        match reason {
            Reason::Missing => self.missing.clone(),
            Reason::Invalid => self.invalid.clone(),
        }
    }
}

/// `text` as the inside of an RFC 9110 quoted-string: `"` and `\` escaped,
/// anything but tab, space and visible ASCII refused.
fn quoted(text: &str) -> Result<String, InvalidRealm> {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' | ' '..='~' => out.push(c),
            _ => return Err(InvalidRealm),
        }
    }
    Ok(out)
}

/// A `401 Unauthorized` with `challenge` and an empty body.
pub(super) fn unauthorized<B: Default>(challenge: HeaderValue) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    response
}

/// Everything [`HttpAuth`](super::HttpAuth) decides with; shared by the
/// clones of one service.
#[derive(Clone)]
pub(super) struct Guard<Src, P> {
    pub(super) tokens: Tokens,
    pub(super) source: Src,
    pub(super) peer: P,
    pub(super) challenge: Challenge,
    pub(super) on_refusal: Option<Hook>,
}

impl<Src, P> Guard<Src, P> {
    /// The same guard with its source and peer lookup replaced by `with`.
    pub(super) fn swap<Src2, P2>(self, with: impl FnOnce(Src, P) -> (Src2, P2)) -> Guard<Src2, P2> {
        let Guard {
            tokens,
            source,
            peer,
            challenge,
            on_refusal,
        } = self;
        let (source, peer) = with(source, peer);
        Guard {
            tokens,
            source,
            peer,
            challenge,
            on_refusal,
        }
    }

    /// The principal `request` authenticates as: the one its accepted token
    /// stands for, or the one its transport verified.
    pub(super) fn check<B>(&self, request: &Request<B>) -> Result<Principal, Reason>
    where
        Src: CredentialSource<B>,
    {
        match self.source.credential(request) {
            Credential::Missing => Err(Reason::Missing),
            Credential::Malformed => Err(Reason::Invalid),
            Credential::Token(token) => self.tokens.identify(token).ok_or(Reason::Invalid),
            Credential::Verified(principal) => Ok(principal.clone()),
        }
    }

    /// Logs the refusal of `request` (no credential at `DEBUG`, since
    /// clients try without one first; a wrong one at `WARN`), tells the
    /// hook, and returns the challenge to answer with.
    pub(super) fn refuse<B>(&self, reason: Reason, request: &Request<B>) -> HeaderValue
    where
        P: PeerLookup,
    {
        let peer = self.peer.peer(request.extensions());
        match reason {
            Reason::Missing => tracing::debug!(
                peer = peer.map(tracing::field::display),
                what = %Escaped(&request.what()),
                %reason,
                "request refused"
            ),
            Reason::Invalid => tracing::warn!(
                peer = peer.map(tracing::field::display),
                what = %Escaped(&request.what()),
                %reason,
                "request refused"
            ),
        }
        if let Some(hook) = &self.on_refusal {
            hook(&Refusal { reason, peer });
        }
        self.challenge.get(reason)
    }
}

/// Redacted: the tokens print as `Tokens { accepted: N, .. }`.
impl<Src: fmt::Debug, P: fmt::Debug> fmt::Debug for Guard<Src, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAuth")
            .field("tokens", &self.tokens)
            .field("source", &self.source)
            .field("peer", &self.peer)
            .field("challenge", &self.challenge.missing)
            .field("on_refusal", &self.on_refusal.is_some())
            .finish()
    }
}
