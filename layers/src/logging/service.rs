use super::{future::ResponseFuture, Escaped, Loggable, Outcome};
use crate::BoxError;
use std::{
    fmt,
    net::SocketAddr,
    task::{Context, Poll},
};
use tokio::time::Instant;
use tower_service::Service;

/// Logs each request in its own span; see the [module docs](super).
#[derive(Clone, Debug)]
pub struct Log<S> {
    inner: S,
}

impl<S> Log<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Log { inner }
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

/// The peer as the span shows it: the address, or nothing.
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(peer) => peer.fmt(f),
            None => Ok(()),
        }
    }
}

impl<S, R> Service<R> for Log<S>
where
    S: Service<R>,
    S::Response: Outcome,
    S::Error: Into<BoxError>,
    R: Loggable,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let start = Instant::now();
        let span = tracing::info_span!(
            "request",
            peer = %Peer(request.peer()),
            what = %Escaped(&request.what()),
            outcome = tracing::field::Empty,
            latency_us = tracing::field::Empty,
        );
        // With INFO filtered out the span is off, and a warning about this
        // request must then carry who asked and what itself.
        let who = span.is_disabled().then(|| {
            Box::new((
                Peer(request.peer()).to_string(),
                Escaped(&request.what()).to_string(),
            ))
        });
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        ResponseFuture::new(inner, span, start, who)
    }
}
