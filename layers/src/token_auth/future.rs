//! Future types of [`TokenAuth`](super::TokenAuth).

use super::error::{InvalidToken, MissingToken};
use crate::BoxError;
use pin_project_lite::pin_project;
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// Why a request was refused.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rejection {
    Missing,
    Invalid,
}

pin_project! {
    /// Response future of [`TokenAuth`](super::TokenAuth): the inner
    /// service's future, or an immediate [`MissingToken`] or
    /// [`InvalidToken`] error.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F> {
        Inner { #[pin] fut: F },
        Rejected { rejection: Option<Rejection> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(fut: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner { fut },
        }
    }

    pub(crate) fn rejected(rejection: Rejection) -> Self {
        ResponseFuture {
            kind: Kind::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut.poll(cx).map_err(Into::into),
            KindProj::Rejected { rejection } => match rejection.take() {
                Some(Rejection::Missing) => Poll::Ready(Err(Box::new(MissingToken))),
                Some(Rejection::Invalid) => Poll::Ready(Err(Box::new(InvalidToken))),
                None => panic!("token_auth::ResponseFuture polled after completion"),
            },
        }
    }
}
