//! Response future of [`HttpAuth`](super::HttpAuth).

use super::guard::unauthorized;
use http::{HeaderValue, Response};
use pin_project_lite::pin_project;
use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

pin_project! {
    /// The inner service's future, or, for a refused request, a ready
    /// `401 Unauthorized` with its `WWW-Authenticate` challenge and an
    /// empty body.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] fut: F },
        Refused { challenge: HeaderValue },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn inner(fut: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner { fut },
        }
    }

    pub(super) fn refused(challenge: HeaderValue) -> Self {
        ResponseFuture {
            kind: Kind::Refused { challenge },
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("ResponseFuture::Inner"),
            Kind::Refused { .. } => f.write_str("ResponseFuture::Refused"),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut.poll(cx),
            // Polled again after completion, it answers the same 401 again
            // (nothing to panic about, nothing that could let a request in).
            KindProj::Refused { challenge } => Poll::Ready(Ok(unauthorized(challenge.clone()))),
        }
    }
}
