//! Future types of [`Log`](super::Log).

use super::Outcome;
use crate::BoxError;
use pin_project_lite::pin_project;
use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};
use tokio::time::Instant;
use tracing::{field, Span};

pin_project! {
    /// Response future of [`Log`](super::Log): polls the inner future inside
    /// the request's span and logs the outcome when it completes, or
    /// `cancelled` if it is dropped before (a timeout outside, a shutdown).
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        done: bool,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.done {
                let _entered = this.span.enter();
                this.span.record("outcome", field::display("cancelled"));
                this.span.record("latency_us", elapsed_us(*this.start));
                tracing::warn!("request cancelled");
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, span: Span, start: Instant) -> Self {
        ResponseFuture {
            inner,
            span,
            start,
            done: false,
        }
    }
}

fn elapsed_us(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    T: Outcome,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let result = ready!(this.inner.poll(cx)).map_err(Into::into);
        *this.done = true;
        let latency_us = elapsed_us(*this.start);
        match &result {
            Ok(response) => {
                this.span
                    .record("outcome", field::display(response.outcome()));
                this.span.record("latency_us", latency_us);
                tracing::info!("request served");
            }
            Err(error) => {
                this.span
                    .record("outcome", field::display(format_args!("error: {error}")));
                this.span.record("latency_us", latency_us);
                tracing::warn!("request served");
            }
        }
        Poll::Ready(result)
    }
}
