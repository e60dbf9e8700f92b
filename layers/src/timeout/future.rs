//! Future types of [`Timeout`](super::Timeout).

use super::error::Elapsed;
use crate::BoxError;
use pin_project_lite::pin_project;
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::time::Sleep;

pin_project! {
    /// Response future of [`Timeout`](super::Timeout): the inner service's
    /// future, raced against a timer started at the call.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        sleep: Sleep,
        after: Duration,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, sleep: Sleep, after: Duration) -> Self {
        ResponseFuture {
            inner,
            sleep,
            after,
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
        let this = self.project();
        // The inner future first: an answer that is ready counts as in time.
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Box::new(Elapsed::new(*this.after)))),
            Poll::Pending => Poll::Pending,
        }
    }
}
