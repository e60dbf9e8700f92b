//! [`Rejectable`]: the response future shared by the layers that either
//! call their inner service or refuse the request at once.

use crate::BoxError;
use pin_project_lite::pin_project;
use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

pin_project! {
    /// The inner service's future, or an immediate error: what
    /// [`SizeLimit`](crate::SizeLimit) and [`TokenAuth`](crate::TokenAuth)
    /// return, and what any layer of yours that refuses requests can return.
    pub struct Rejectable<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] fut: F },
        Rejected { error: Option<BoxError> },
    }
}

impl<F> Rejectable<F> {
    /// The inner service's response future.
    pub fn inner(fut: F) -> Self {
        Rejectable {
            kind: Kind::Inner { fut },
        }
    }

    /// A future that resolves at once to `error`.
    pub fn rejected(error: impl Into<BoxError>) -> Self {
        Rejectable {
            kind: Kind::Rejected {
                error: Some(error.into()),
            },
        }
    }
}

impl<F> fmt::Debug for Rejectable<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("Rejectable::Inner"),
            Kind::Rejected { error } => f.debug_tuple("Rejectable::Rejected").field(error).finish(),
        }
    }
}

impl<F, T, E> Future for Rejectable<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut.poll(cx).map_err(Into::into),
            KindProj::Rejected { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| "response future polled after completion".into()))),
        }
    }
}
