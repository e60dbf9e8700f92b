use super::{error::TooLarge, future::ResponseFuture, WireSize};
use crate::BoxError;
use std::task::{Context, Poll};
use tower_service::Service;

/// Refuses requests of more than `limit` bytes without calling the inner
/// service; see the [module docs](super).
///
/// Readiness is that of the inner service. A refused request was made after
/// the inner service said it was ready, but is never handed to it.
#[derive(Clone, Debug)]
pub struct SizeLimit<S> {
    inner: S,
    limit: usize,
}

impl<S> SizeLimit<S> {
    /// Wraps `inner`, letting requests of at most `limit` bytes through.
    pub fn new(inner: S, limit: usize) -> Self {
        SizeLimit { inner, limit }
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

impl<S, R> Service<R> for SizeLimit<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
    R: WireSize,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let size = request.wire_size();
        if size > self.limit {
            ResponseFuture::rejected(TooLarge::new(size, self.limit))
        } else {
            ResponseFuture::inner(self.inner.call(request))
        }
    }
}
