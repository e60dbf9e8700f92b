//! The protocol's tower stack, outermost first:
//!
//! ```text
//! errors→replies ─▶ size limit ─▶ parse ─▶ log ─▶ token auth ─▶ admit ─▶ [your layers] ─▶ timeout ─▶ Service<Command>
//! ```
//!
//! - errors→replies ([`RepliesLayer`]) is outermost, so no layer's error ever
//!   reaches the transport (tokio-tower would drop the connection on one);
//! - the size limit judges the raw request; parsing ([`ParseLayer`]) comes
//!   before auth, so a malformed request is told what is wrong with it, not
//!   that it is unauthorised;
//! - admit ([`AdmitLayer`]) marks the connection of a command that passed
//!   auth as admitted, so the server knows its strangers from its clients;
//! - your layers (rate limits, your own checks) run on authenticated
//!   [`Command`](crate::protocol::Command)s; the first added is outermost;
//! - the timeout is innermost, so its clock covers the command alone.
//!
//! ```
//! use std::time::Duration;
//! use ld_tower::stack::ControlStack;
//! use ld_tower_layers::Tokens;
//! use tower::limit::RateLimitLayer;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stack = ControlStack::new()
//!     .tokens(Some(Tokens::single("ROTATE_ME")?))
//!     .command_timeout(Some(Duration::from_secs(60)))
//!     .with_layer(RateLimitLayer::new(100, Duration::from_secs(1)));
//! # let _ = stack; Ok(()) }
//! ```

mod admit;
mod parse;
mod replies;

pub use admit::{Admit, AdmitLayer};
pub use parse::{Parse, ParseLayer};
pub use replies::{reply_for, Replies, RepliesLayer};

use std::time::Duration;

use ld_tower_layers::{
    Log, LogLayer, SizeLimit, SizeLimitLayer, Timeout, TimeoutLayer, TokenAuth, TokenAuthLayer,
    Tokens,
};
use tower::layer::util::{Identity, Stack};
use tower::util::Either;
use tower::Layer;

use crate::audit::Audit;
use crate::protocol::MAX_REQUEST_BYTES;

/// The protocol's layers, configured; a [`Layer`] over the command service.
#[derive(Clone, Debug)]
pub struct ControlStack<U = Identity> {
    /// Requests over this size get an error reply (the framing's own cap,
    /// 1 MiB, closes the connection instead).
    max_request_bytes: usize,
    /// The accepted tokens; `None` serves without auth.
    tokens: Option<Tokens>,
    /// How long one command may run; `None` for no limit.
    command_timeout: Option<Duration>,
    /// Where refused requests are recorded.
    audit: Option<Audit>,
    /// The user's layers, between auth and the timeout.
    user: U,
}

impl ControlStack {
    /// The stack with no auth, no command timeout and a 1 MiB request limit.
    pub fn new() -> Self {
        ControlStack {
            max_request_bytes: MAX_REQUEST_BYTES,
            tokens: None,
            command_timeout: None,
            audit: None,
            user: Identity::new(),
        }
    }
}

impl Default for ControlStack {
    fn default() -> Self {
        Self::new()
    }
}

impl<U> ControlStack<U> {
    /// Requests larger than `bytes` are answered with an error.
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Requires one of `tokens` on every command, or a principal proved by
    /// the connection's client certificate (`None`: no auth). Each token
    /// stands for a principal whose scopes the actions check; see
    /// [`Principals::tokens`](crate::auth::Principals::tokens) for tokens
    /// that reload.
    pub fn tokens(mut self, tokens: Option<Tokens>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Records every refused request (failed authentications, requests
    /// that are no command, commands that failed in a layer) in `audit`.
    /// Commands that run are recorded by the command service
    /// ([`Control::audit`](crate::control::Control::audit)).
    pub fn audit(mut self, audit: Option<Audit>) -> Self {
        self.audit = audit;
        self
    }

    /// Cancels a command running longer than `timeout` (`None`: never).
    pub fn command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Adds your layer between auth and the timeout; the first added is the
    /// outermost of yours. It serves [`Command`](crate::protocol::Command)s.
    pub fn with_layer<L>(self, layer: L) -> ControlStack<Stack<L, U>> {
        ControlStack {
            max_request_bytes: self.max_request_bytes,
            tokens: self.tokens,
            command_timeout: self.command_timeout,
            audit: self.audit,
            user: Stack::new(layer, self.user),
        }
    }
}

/// The service a [`ControlStack`] makes of `S` with user layers `U`.
pub type ControlService<S, U> = Replies<
    SizeLimit<
        Parse<
            Log<
                Either<
                    TokenAuth<Admit<<U as Layer<Either<Timeout<S>, S>>>::Service>>,
                    Admit<<U as Layer<Either<Timeout<S>, S>>>::Service>,
                >,
            >,
        >,
    >,
>;

impl<S, U> Layer<S> for ControlStack<U>
where
    U: Layer<Either<Timeout<S>, S>>,
{
    type Service = ControlService<S, U>;

    fn layer(&self, inner: S) -> Self::Service {
        let inner = match self.command_timeout {
            Some(after) => Either::Left(TimeoutLayer::new(after).layer(inner)),
            None => Either::Right(inner),
        };
        let inner = AdmitLayer::new().layer(self.user.layer(inner));
        let inner = match &self.tokens {
            Some(tokens) => Either::Left(TokenAuthLayer::new(tokens.clone()).layer(inner)),
            None => Either::Right(inner),
        };
        let inner = LogLayer::new().layer(inner);
        let inner = ParseLayer::new().layer(inner);
        let inner = SizeLimitLayer::new(self.max_request_bytes).layer(inner);
        RepliesLayer::new().audit(self.audit.clone()).layer(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Command, Op, Reply, Request};
    use std::task::Poll;
    use tower_test::mock;

    fn request(body: &str) -> Request {
        Request::new(None, body.to_owned())
    }

    #[tokio::test]
    async fn readiness_follows_the_inner_service() {
        let (inner, mut handle) = mock::pair::<Command, Reply>();
        let mut stack = mock::Spawn::new(Layer::layer(&ControlStack::new(), inner));
        handle.allow(0);
        assert!(stack.poll_ready().is_pending());
        handle.allow(1);
        assert!(matches!(stack.poll_ready(), Poll::Ready(Ok(()))));
    }

    #[tokio::test]
    async fn errors_become_replies_and_the_inner_service_is_not_called() {
        let tokens = Tokens::single("s3cret").ok();
        let (inner, mut handle) = mock::pair::<Command, Reply>();
        let mut stack = mock::Spawn::new(
            ControlStack::new()
                .tokens(tokens)
                .max_request_bytes(64)
                .layer(inner),
        );
        handle.allow(10);
        for (body, reply) in [
            (
                "not json",
                Reply::rejection("request is not JSON: expected ident at line 1 column 2"),
            ),
            (
                "[1]",
                Reply::refusal_because("token required", &"no token presented"),
            ),
            (
                r#"{"token": "nope", "command": [1]}"#,
                Reply::refusal_because("unauthorised", &"wrong or malformed token"),
            ),
            (
                &" ".repeat(65),
                Reply::rejection("request of 65 bytes is over the limit of 64 bytes"),
            ),
        ] {
            assert!(matches!(stack.poll_ready(), Poll::Ready(Ok(()))));
            let got = stack.call(request(body)).await.ok();
            assert_eq!(got, Some(reply), "{body:?}");
        }
        assert!(
            handle.poll_request().is_pending(),
            "the inner service was called"
        );
        // An authenticated command reaches it.
        assert!(matches!(stack.poll_ready(), Poll::Ready(Ok(()))));
        let call = stack.call(request(r#"{"token": "s3cret", "op": "quit"}"#));
        let (command, respond) = handle.next_request().await.expect("the command");
        assert_eq!(command.op, Op::Quit);
        respond.send_response(Reply::shutting_down());
        assert_eq!(call.await.ok(), Some(Reply::shutting_down()));
    }
}
