//! Reusable [tower] layers that know nothing of the protocol they guard.
//!
//! Each layer is generic over the request through a small trait, so the same
//! middleware guards a home-grown `Service<Command>` on a control socket and an
//! [`http::Request`](https://docs.rs/http) in a hyper or axum service (the
//! `http` feature, on by default, implements the traits for `http` types).
//!
//! | layer | request trait | rejects with |
//! | --- | --- | --- |
//! | [`SizeLimitLayer`]: refuses requests bigger than a limit, without calling the inner service | [`WireSize`] | [`size_limit::error::TooLarge`] |
//! | [`TokenAuthLayer`]: constant-time bearer-token check against one or several accepted [`Tokens`] | [`PresentsToken`] | [`token_auth::error::MissingToken`], [`token_auth::error::InvalidToken`] |
//! | [`HttpAuthLayer`] (`http` feature): the same token check for `http::Request` services (the principal into the request's extensions), answering `401` with `WWW-Authenticate: Bearer` itself (error type unchanged, so axum's `Router::layer` takes it as is); the credential from a bearer header, any header, a cookie or a closure; the peer of a refusal from axum's `ConnectInfo` (`axum` feature) | a [`http_auth::source::CredentialSource`] | `401 Unauthorized` (a response, not an error) |
//! | [`LogLayer`]: one `tracing` span and one event per request: peer, what, outcome, latency, nothing else | [`Loggable`] (and [`Outcome`] for the response) | never |
//! | [`TimeoutLayer`]: fails a request that takes too long and cancels the inner future | any | [`timeout::error::Elapsed`] |
//!
//! Like tower's own middleware, every service answers `Result<_, BoxError>`
//! and every rejection is a small error struct, so callers find it with
//! [`downcast_ref`](https://doc.rust-lang.org/std/error/trait.Error.html#method.downcast_ref) whatever the order of the
//! layers; the exception is [`HttpAuth`], made for HTTP stacks, which
//! answers a refusal with a `401` response and keeps its inner service's
//! error type. `poll_ready` is always forwarded to the inner service.
//!
//! # Example
//!
//! All four layers stacked over a toy request type:
//!
//! ```
//! use std::{borrow::Cow, net::SocketAddr, time::Duration};
//! use ld_tower_layers::{
//!     size_limit::error::TooLarge, token_auth::error::InvalidToken, BoxError, Credential,
//!     LogLayer, Loggable, Outcome, PresentsToken, SizeLimitLayer, TimeoutLayer,
//!     TokenAuthLayer, Tokens, WireSize,
//! };
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! struct Ask {
//!     token: Vec<u8>,
//!     body: String,
//! }
//!
//! impl WireSize for Ask {
//!     fn wire_size(&self) -> usize {
//!         self.token.len() + self.body.len()
//!     }
//! }
//! impl PresentsToken for Ask {
//!     fn credential(&self) -> Credential<'_> {
//!         Credential::Token(&self.token)
//!     }
//! }
//! impl Loggable for Ask {
//!     fn peer(&self) -> Option<SocketAddr> {
//!         None
//!     }
//!     fn what(&self) -> Cow<'_, str> {
//!         Cow::Borrowed("ask") // never the token
//!     }
//! }
//!
//! struct Answer(String);
//! impl Outcome for Answer {
//!     fn outcome(&self) -> Cow<'_, str> {
//!         Cow::Borrowed("answered")
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let mut svc = ServiceBuilder::new()
//!     .layer(LogLayer::new()) // outermost: sees every rejection below it
//!     .layer(SizeLimitLayer::new(64))
//!     .layer(TokenAuthLayer::new(Tokens::single("s3cret")?))
//!     .layer(TimeoutLayer::new(Duration::from_secs(5)))
//!     .service(service_fn(|ask: Ask| async move {
//!         Ok::<_, BoxError>(Answer(ask.body.to_uppercase()))
//!     }));
//!
//! let ok = svc
//!     .ready()
//!     .await?
//!     .call(Ask { token: b"s3cret".to_vec(), body: "hello".into() })
//!     .await?;
//! assert_eq!(ok.0, "HELLO");
//!
//! let err = svc
//!     .ready()
//!     .await?
//!     .call(Ask { token: b"guess".to_vec(), body: "hello".into() })
//!     .await
//!     .err()
//!     .ok_or("a wrong token must be refused")?;
//! assert!(err.downcast_ref::<InvalidToken>().is_some());
//!
//! let err = svc
//!     .ready()
//!     .await?
//!     .call(Ask { token: b"s3cret".to_vec(), body: "x".repeat(100) })
//!     .await
//!     .err()
//!     .ok_or("an oversized request must be refused")?;
//! let too_large = err.downcast_ref::<TooLarge>().ok_or("not TooLarge")?;
//! assert_eq!((too_large.size(), too_large.limit()), (106, 64));
//! # Ok(())
//! # }
//! ```
//!
//! [tower]: https://docs.rs/tower

#![forbid(unsafe_code)]

pub mod future;
#[cfg(feature = "http")]
pub mod http_auth;
pub mod logging;
pub mod size_limit;
pub mod timeout;
pub mod token_auth;

#[cfg(feature = "http")]
pub use http_auth::{HttpAuth, HttpAuthLayer};
pub use logging::{Log, LogLayer, Loggable, Outcome};
pub use size_limit::{SizeLimit, SizeLimitLayer, WireSize};
pub use timeout::{Timeout, TimeoutLayer};
pub use token_auth::{
    token_digest, Credential, PresentsToken, Principal, TokenAuth, TokenAuthLayer, Tokens,
};

/// The error type of every service in this crate, as in tower: a boxed error
/// that callers inspect with [`downcast_ref`](https://doc.rust-lang.org/std/error/trait.Error.html#method.downcast_ref).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod test_support {
    use crate::BoxError;
    use std::{future::Future, task::Poll, time::Duration};
    use tower_test::mock::{Handle, SendResponse};

    /// The request the mock inner service received, without waiting: the
    /// mock hands it over synchronously in `call`, so a test fails (rather
    /// than hangs) when the layer did not call the inner service.
    pub(crate) fn received<T, U>(
        handle: &mut Handle<T, U>,
    ) -> Result<(T, SendResponse<U>), BoxError> {
        match handle.poll_request() {
            Poll::Ready(Some(request)) => Ok(request),
            _ => Err("the inner service was not called".into()),
        }
    }

    /// Asserts that `layer` forwards the inner service's readiness: not
    /// ready while the mock inner service allows nothing, woken and ready
    /// once it allows a request.
    pub(crate) fn forwards_readiness<L, T, U>(layer: L)
    where
        L: tower_layer::Layer<tower_test::mock::Mock<T, U>>,
        L::Service: tower_service::Service<T>,
        <L::Service as tower_service::Service<T>>::Error: std::fmt::Debug,
    {
        let (mut svc, mut handle) = tower_test::mock::spawn_layer::<T, U, _>(layer);
        handle.allow(0);
        assert!(svc.poll_ready().is_pending());
        handle.allow(1);
        assert!(svc.is_woken());
        assert!(matches!(svc.poll_ready(), Poll::Ready(Ok(()))));
    }

    /// Awaits `future`, failing the test instead of hanging if it never
    /// completes (with paused time, as soon as the runtime is idle).
    pub(crate) async fn settle<F: Future>(future: F) -> Result<F::Output, BoxError> {
        tokio::time::timeout(Duration::from_secs(5), future)
            .await
            .map_err(|_| "the future never completed".into())
    }
}
