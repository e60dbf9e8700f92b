use super::future::ResponseFuture;
use crate::BoxError;
use std::{
    task::{Context, Poll},
    time::Duration,
};
use tower_service::Service;

/// Fails requests not answered in time; see the [module docs](super).
///
/// Readiness is that of the inner service, and waiting for it does not count
/// against the time.
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    after: Duration,
}

impl<S> Timeout<S> {
    /// Wraps `inner`, giving each request `after` to complete.
    pub fn new(inner: S, after: Duration) -> Self {
        Timeout { inner, after }
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

impl<S, R> Service<R> for Timeout<S>
where
    S: Service<R>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let sleep = tokio::time::sleep(self.after);
        ResponseFuture::new(self.inner.call(request), sleep, self.after)
    }
}
