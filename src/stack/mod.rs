//! The protocol's tower stack, outermost first:
//!
//! ```text
//! errors→replies ─▶ size limit ─▶ parse ─▶ log ─▶ token auth ─▶ [your layers] ─▶ timeout ─▶ Service<Command>
//! ```
//!
//! - errors→replies ([`RepliesLayer`]) is outermost, so no layer's error ever
//!   reaches the transport (tokio-tower would drop the connection on one);
//! - the size limit judges the raw request; parsing ([`ParseLayer`]) comes
//!   before auth, so a malformed request is told what is wrong with it, not
//!   that it is unauthorised;
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
//!     .layer(RateLimitLayer::new(100, Duration::from_secs(1)));
//! # let _ = stack; Ok(()) }
//! ```

mod parse;
mod replies;

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

    /// Requires one of `tokens` on every command (`None`: no auth).
    pub fn tokens(mut self, tokens: Option<Tokens>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Cancels a command running longer than `timeout` (`None`: never).
    pub fn command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Adds your layer between auth and the timeout; the first added is the
    /// outermost of yours. It serves [`Command`](crate::protocol::Command)s.
    pub fn layer<L>(self, layer: L) -> ControlStack<Stack<L, U>> {
        ControlStack {
            max_request_bytes: self.max_request_bytes,
            tokens: self.tokens,
            command_timeout: self.command_timeout,
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
                    TokenAuth<<U as Layer<Either<Timeout<S>, S>>>::Service>,
                    <U as Layer<Either<Timeout<S>, S>>>::Service,
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
        let inner = self.user.layer(inner);
        let inner = match &self.tokens {
            Some(tokens) => Either::Left(TokenAuthLayer::new(tokens.clone()).layer(inner)),
            None => Either::Right(inner),
        };
        let inner = LogLayer::new().layer(inner);
        let inner = ParseLayer::new().layer(inner);
        let inner = SizeLimitLayer::new(self.max_request_bytes).layer(inner);
        RepliesLayer::new().layer(inner)
    }
}
