//! [`Parse`]: a raw [`Request`] becomes a [`Command`], or a
//! [`ParseError`] that the replies layer answers.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ld_tower_layers::BoxError;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::protocol::{Command, ParseError, Request};

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
    type Future = ParseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match Command::parse(&request) {
            Ok(command) => ParseFuture::Inner {
                future: self.inner.call(command),
            },
            Err(error) => ParseFuture::Failed { error: Some(error) },
        }
    }
}

pin_project! {
    /// The response future of [`Parse`].
    #[project = ParseFutureProj]
    #[derive(Debug)]
    pub enum ParseFuture<F> {
        /// The command is being served.
        Inner { #[pin] future: F },
        /// The request did not parse.
        Failed { error: Option<ParseError> },
    }
}

impl<F, T, E> Future for ParseFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ParseFutureProj::Inner { future } => future.poll(cx).map_err(Into::into),
            ParseFutureProj::Failed { error } => Poll::Ready(Err(match error.take() {
                Some(error) => error.into(),
                None => "parse future polled after completion".into(),
            })),
        }
    }
}
