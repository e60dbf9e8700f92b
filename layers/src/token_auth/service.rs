use super::{
    error::{InvalidToken, MissingToken},
    future::ResponseFuture,
    Credential, PresentsToken, Tokens,
};
use crate::BoxError;
use std::task::{Context, Poll};
use tower_service::Service;

/// Hands on only the requests that present an accepted token; see the
/// [module docs](super).
///
/// Readiness is that of the inner service. A refused request was made after
/// the inner service said it was ready, but is never handed to it.
#[derive(Clone, Debug)]
pub struct TokenAuth<S> {
    inner: S,
    tokens: Tokens,
}

impl<S> TokenAuth<S> {
    /// Wraps `inner`, accepting `tokens`.
    pub fn new(inner: S, tokens: Tokens) -> Self {
        TokenAuth { inner, tokens }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, R> Service<R> for TokenAuth<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
    R: PresentsToken,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: R) -> Self::Future {
        let principal = match request.credential() {
            Credential::Missing => return ResponseFuture::rejected(MissingToken),
            Credential::Malformed => None,
            Credential::Token(token) => self.tokens.identify(token),
            Credential::Verified(principal) => Some(principal.clone()),
        };
        match principal {
            Some(principal) => {
                request.authenticated(principal);
                ResponseFuture::inner(self.inner.call(request))
            }
            None => ResponseFuture::rejected(InvalidToken),
        }
    }
}
