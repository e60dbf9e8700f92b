//! Future types of [`Log`](super::Log).

use super::{Escaped, Outcome};
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
        // The peer and what was asked, kept only when the span is off.
        who: Option<Box<(String, String)>>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.done {
                let _entered = this.span.enter();
                let latency_us = elapsed_us(*this.start);
                this.span.record("outcome", field::display("cancelled"));
                this.span.record("latency_us", latency_us);
                match this.who.as_deref() {
                    Some((peer, what)) => tracing::warn!(
                        peer = %peer, what = %what, outcome = "cancelled", latency_us,
                        "request cancelled"
                    ),
                    None => tracing::warn!("request cancelled"),
                }
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        span: Span,
        start: Instant,
        who: Option<Box<(String, String)>>,
    ) -> Self {
        ResponseFuture {
            inner,
            span,
            start,
            done: false,
            who,
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
                    .record("outcome", field::display(Escaped(&response.outcome())));
                this.span.record("latency_us", latency_us);
                tracing::info!("request served");
            }
            Err(error) => {
                let outcome = format!("error: {}", Escaped(&error.to_string()));
                this.span.record("outcome", field::display(&outcome));
                this.span.record("latency_us", latency_us);
                match this.who.as_deref() {
                    Some((peer, what)) => tracing::warn!(
                        peer = %peer, what = %what, outcome = %outcome, latency_us,
                        "request served"
                    ),
                    None => tracing::warn!("request served"),
                }
            }
        }
        Poll::Ready(result)
    }
}
