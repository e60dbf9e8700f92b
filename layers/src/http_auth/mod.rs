//! Token authentication for hyper and axum services, answering `401` itself.
//!
//! [`TokenAuthLayer`](crate::TokenAuthLayer) fails a refused request with a
//! [`BoxError`](crate::BoxError), which an HTTP stack must turn into a
//! response itself (axum: `HandleErrorLayer` and a downcast).
//! [`HttpAuthLayer`] wraps a `Service<http::Request<B>>` in [`HttpAuth`],
//! which checks the same constant-time [`Tokens`](crate::Tokens) and
//! answers a refused request on its own:
//!
//! * no credential: `401 Unauthorized` with `WWW-Authenticate: Bearer` (and
//!   ` realm="..."` when [`HttpAuthLayer::realm`] names one);
//! * a malformed credential or a token that is not accepted: the same, the
//!   challenge carrying `error="invalid_token"` (RFC 6750 §3.1);
//!
//! always with an empty body (`ResBody: Default`). The inner service is
//! never called for a refused request, and `poll_ready` is forwarded to it.
//! The service's error is the inner service's, so it goes straight into
//! axum's `Router::layer` and `Router::route_layer`.
//!
//! Where the credential is read is a strategy, a
//! [`CredentialSource`](source::CredentialSource): the bearer
//! `Authorization` header by default ([`source::Bearer`]), any named header
//! ([`source::Header`]), a cookie ([`source::Cookie`]), or a closure
//! ([`source::from_fn`]).
//!
//! A refusal is logged with `tracing` (no credential at `DEBUG`, a wrong one
//! at `WARN`) with the peer's address, found in the request's extensions by
//! a [`PeerLookup`](peer::PeerLookup): by default ([`peer::DefaultPeer`])
//! axum's `ConnectInfo<SocketAddr>` (with this crate's `axum` feature) or a
//! plain `SocketAddr`. [`HttpAuthLayer::on_refusal`] adds a hook, to count
//! refusals for instance. Neither the tokens nor a presented token are ever
//! logged or printed.
//!
//! # Example
//!
//! ```
//! use http::{header, Request, Response, StatusCode};
//! use ld_tower_layers::{http_auth::source::Cookie, BoxError, HttpAuthLayer, Tokens};
//! use std::convert::Infallible;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let svc = ServiceBuilder::new()
//!     .layer(HttpAuthLayer::new(Tokens::single("s3cret")?).realm("api")?)
//!     .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new("hello")) });
//!
//! let bearer = Request::get("/").header(header::AUTHORIZATION, "Bearer s3cret").body(())?;
//! assert_eq!(*svc.clone().oneshot(bearer).await?.body(), "hello");
//!
//! let none = svc.clone().oneshot(Request::get("/").body(())?).await?;
//! assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(none.headers()[header::WWW_AUTHENTICATE], r#"Bearer realm="api""#);
//! assert_eq!(*none.body(), ""); // `Default` of the response body
//!
//! let wrong = Request::get("/").header(header::AUTHORIZATION, "Bearer guess").body(())?;
//! let wrong = svc.oneshot(wrong).await?;
//! assert_eq!(
//!     wrong.headers()[header::WWW_AUTHENTICATE],
//!     r#"Bearer realm="api", error="invalid_token""#
//! );
//!
//! // The same check, the token in a cookie.
//! let svc = ServiceBuilder::new()
//!     .layer(HttpAuthLayer::new(Tokens::single("s3cret")?).source(Cookie::named("session")))
//!     .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new("hello")) });
//! let cookie = Request::get("/").header(header::COOKIE, "theme=dark; session=s3cret").body(())?;
//! assert_eq!(svc.oneshot(cookie).await?.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod future;
mod guard;
mod layer;
pub mod peer;
mod service;
pub mod source;

pub use self::guard::{Reason, Refusal};
pub use self::layer::HttpAuthLayer;
pub use self::service::HttpAuth;
