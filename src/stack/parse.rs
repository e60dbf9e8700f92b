//! [`Parse`]: a raw [`Request`] becomes a [`Command`], or a
//! [`ParseError`](crate::protocol::ParseError) that the replies layer answers.

use std::task::{Context, Poll};

use ld_tower_layers::future::Rejectable;
use ld_tower_layers::BoxError;
use tower::{Layer, Service};

use crate::protocol::{Command, Request};

/// Applies [`Parse`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseLayer;

impl ParseLayer {
    /// The layer.
    pub fn new() -> Self {
        ParseLayer
    }
}

impl<S> Layer<S> for ParseLayer {
    type Service = Parse<S>;

    fn layer(&self, inner: S) -> Parse<S> {
        Parse { inner }
    }
}

/// Parses requests for a `Service<Command>`.
#[derive(Clone, Debug)]
pub struct Parse<S> {
    inner: S,
}

impl<S> Service<Request> for Parse<S>
where
    S: Service<Command>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Rejectable<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match Command::parse(&request) {
            Ok(command) => Rejectable::inner(self.inner.call(command)),
            Err(error) => Rejectable::rejected(error),
        }
    }
}
