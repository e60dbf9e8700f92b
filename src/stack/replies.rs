//! [`Replies`]: the one place where every layer's error becomes the reply
//! `PROTOCOL.md` prescribes, so the transport never sees an `Err`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use ld_tower_layers::size_limit::error::TooLarge;
use ld_tower_layers::token_auth::error::{InvalidToken, MissingToken};
use ld_tower_layers::{BoxError, Loggable};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::audit::Audit;
use crate::protocol::{ParseError, Reply};

/// Applies [`Replies`].
#[derive(Clone, Debug, Default)]
pub struct RepliesLayer {
    audit: Option<Audit>,
}

impl RepliesLayer {
    /// The layer.
    pub fn new() -> Self {
        RepliesLayer::default()
    }

    /// Records each refused request (failed authentications, requests that
    /// are no command) in `audit`.
    pub fn audit(mut self, audit: Option<Audit>) -> Self {
        self.audit = audit;
        self
    }
}

impl<S> Layer<S> for RepliesLayer {
    type Service = Replies<S>;

    fn layer(&self, inner: S) -> Replies<S> {
        Replies {
            inner,
            audit: self.audit.clone(),
        }
    }
}

/// Turns the errors of the service it wraps into [`Reply`]s.
#[derive(Clone, Debug)]
pub struct Replies<S> {
    inner: S,
    audit: Option<Audit>,
}

/// The reply for a layer's error: an auth refusal is its one line and the
/// connection closes; anything else (a [`ParseError`], a request over the
/// size limit, a command timeout, a user layer's error) is `Error: ` + its
/// message, then the terminator, and the connection stays open. The first
/// two are [rejections](Reply::rejection): the request was no command.
pub fn reply_for(error: &BoxError) -> Reply {
    if error.is::<MissingToken>() {
        Reply::refusal_because("token required", error)
    } else if error.is::<InvalidToken>() {
        Reply::refusal_because("unauthorised", error)
    } else if error.is::<ParseError>() || error.is::<TooLarge>() {
        Reply::rejection(&error.to_string())
    } else {
        Reply::error(&error.to_string())
    }
}

impl<S, R> Service<R> for Replies<S>
where
    S: Service<R, Response = Reply>,
    S::Error: Into<BoxError>,
    R: Loggable,
{
    type Response = Reply;
    type Error = BoxError;
    type Future = RepliesFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let audit = self.audit.clone().map(|audit| (audit, request.peer()));
        RepliesFuture {
            future: self.inner.call(request),
            audit,
        }
    }
}

pin_project! {
    /// The response future of [`Replies`]: never an error.
    #[derive(Debug)]
    pub struct RepliesFuture<F> {
        #[pin]
        future: F,
        // Where to record a refusal, and whose.
        audit: Option<(Audit, Option<SocketAddr>)>,
    }
}

impl<F, E> Future for RepliesFuture<F>
where
    F: Future<Output = Result<Reply, E>>,
    E: Into<BoxError>,
{
    type Output = Result<Reply, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let audit = this.audit;
        this.future.poll(cx).map(|result| {
            Ok(result.unwrap_or_else(|error| {
                let error = error.into();
                if let Some((audit, peer)) = audit.take() {
                    let event = if error.is::<MissingToken>() || error.is::<InvalidToken>() {
                        "auth_failed"
                    } else if error.is::<ParseError>() || error.is::<TooLarge>() {
                        "refused"
                    } else {
                        "failed"
                    };
                    audit.refused(event, peer, &error.to_string());
                }
                reply_for(&error)
            }))
        })
    }
}
