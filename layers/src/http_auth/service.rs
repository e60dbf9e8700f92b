use super::{
    future::ResponseFuture, guard::Guard, peer::DefaultPeer, peer::PeerLookup, source::Bearer,
    source::CredentialSource,
};
use crate::PresentsToken;
use http::{Request, Response};
use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};
use tower_service::Service;

/// Hands on only the requests that present an accepted token, with their
/// [`Principal`](crate::Principal) in their extensions, and answers the
/// others `401 Unauthorized` itself; see the [module docs](super).
///
/// Its error is the inner service's: with an infallible inner service (an
/// axum `Router`'s routes) it is infallible too. Readiness is that of the
/// inner service; a refused request is never handed to it. Cheap to clone
/// when the inner service is (the rest is shared).
pub struct HttpAuth<S, Src = Bearer, P = DefaultPeer> {
    inner: S,
    guard: Arc<Guard<Src, P>>,
}

impl<S, Src, P> HttpAuth<S, Src, P> {
    pub(super) fn new(inner: S, guard: Arc<Guard<Src, P>>) -> Self {
        HttpAuth { inner, guard }
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

impl<S: Clone, Src, P> Clone for HttpAuth<S, Src, P> {
    fn clone(&self) -> Self {
        HttpAuth {
            inner: self.inner.clone(),
            guard: Arc::clone(&self.guard),
        }
    }
}

/// Redacted like [`HttpAuthLayer`](super::HttpAuthLayer).
impl<S: fmt::Debug, Src: fmt::Debug, P: fmt::Debug> fmt::Debug for HttpAuth<S, Src, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAuth")
            .field("inner", &self.inner)
            .field("guard", &self.guard)
            .finish()
    }
}

impl<S, B, ResBody, Src, P> Service<Request<B>> for HttpAuth<S, Src, P>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default,
    Src: CredentialSource<B>,
    P: PeerLookup,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match self.guard.check(&request) {
            Ok(principal) => {
                // Into the extensions, as TokenAuth does.
                request.authenticated(principal);
                ResponseFuture::inner(self.inner.call(request))
            }
            Err(reason) => ResponseFuture::refused(self.guard.refuse(reason, &request)),
        }
    }
}
