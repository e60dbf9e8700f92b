//! Constant-time bearer-token authentication.
//!
//! The request shows its [`Credential`] through [`PresentsToken`];
//! [`TokenAuthLayer`] wraps a service in [`TokenAuth`], which hands the
//! request on only if the token is one of the accepted [`Tokens`]:
//!
//! * no credential at all: [`error::MissingToken`] ("no token presented");
//! * a malformed credential, or a token that is not accepted:
//!   [`error::InvalidToken`] ("wrong or malformed token").
//!
//! The inner service is never called for a refused request. Tokens are kept
//! only as SHA-256 digests and compared in constant time against every
//! accepted token, so neither the length of a token nor which one matched
//! leaks through timing. Accepting several tokens at once lets a deployment
//! rotate its token without downtime: add the new one, move the clients,
//! drop the old one.
//!
//! Each accepted token stands for a [`Principal`] (a name and its scopes;
//! [`Tokens::new`] makes every token the unrestricted principal `token`,
//! [`Tokens::from_digests`] takes SHA-256 digests with a principal each, so
//! no token is ever held in clear). An accepted request is handed
//! [`PresentsToken::authenticated`] with its principal before it goes on
//! (an `http::Request` keeps it in its extensions), so the service behind
//! can check scopes. A request already authenticated by its transport (a
//! verified TLS client certificate) presents [`Credential::Verified`] and is
//! let through as that principal. [`Tokens::replace`] swaps the accepted
//! set for every clone at once: a reload without dropping connections.
//!
//! Neither the tokens nor a presented token are ever printed: the `Debug`
//! output of [`Tokens`], [`TokenAuthLayer`] and [`Credential`] is redacted.
//!
//! # Example
//!
//! ```
//! use ld_tower_layers::{
//!     token_auth::error::{InvalidToken, MissingToken},
//!     BoxError, Credential, PresentsToken, TokenAuthLayer, Tokens,
//! };
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//!
//! /// A request that may carry a token.
//! struct Hello {
//!     token: Option<String>,
//! }
//!
//! impl PresentsToken for Hello {
//!     fn credential(&self) -> Credential<'_> {
//!         match &self.token {
//!             None => Credential::Missing,
//!             Some(t) => Credential::Token(t.as_bytes()),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! // The old and the new token, during a rotation.
//! let tokens = Tokens::new(["old-token", "new-token"])?;
//! let mut svc = ServiceBuilder::new()
//!     .layer(TokenAuthLayer::new(tokens))
//!     .service(service_fn(|_: Hello| async { Ok::<_, BoxError>("hello") }));
//!
//! for token in ["old-token", "new-token"] {
//!     let hello = Hello { token: Some(token.into()) };
//!     assert_eq!(svc.ready().await?.call(hello).await?, "hello");
//! }
//!
//! let wrong = Hello { token: Some("guess".into()) };
//! let err = svc.ready().await?.call(wrong).await.err().ok_or("accepted a guess")?;
//! assert!(err.downcast_ref::<InvalidToken>().is_some());
//!
//! let none = Hello { token: None };
//! let err = svc.ready().await?.call(none).await.err().ok_or("accepted no token")?;
//! assert!(err.downcast_ref::<MissingToken>().is_some());
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod future;
mod layer;
mod principal;
mod service;
mod tokens;

pub use self::layer::TokenAuthLayer;
pub use self::principal::Principal;
pub use self::service::TokenAuth;
pub use self::tokens::{token_digest, Tokens};

use std::fmt;

/// What a request presents to authenticate itself.
#[derive(Clone, Copy)]
pub enum Credential<'a> {
    /// The request presents no credential at all ("token required").
    Missing,
    /// The request tries to present one (say an envelope whose token is not a
    /// string, or an `Authorization` header of another scheme than `Bearer`)
    /// but carries no usable token.
    Malformed,
    /// The token presented.
    Token(&'a [u8]),
    /// The request was already authenticated by its transport (say a
    /// verified TLS client certificate) as this principal: it is let
    /// through as that principal without a token.
    Verified(&'a Principal),
}

/// Redacted: a token prints as `Token(<redacted>)`.
impl fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Missing => f.write_str("Missing"),
            Credential::Malformed => f.write_str("Malformed"),
            Credential::Token(_) => f.write_str("Token(<redacted>)"),
            Credential::Verified(principal) => write!(f, "Verified({})", principal.name()),
        }
    }
}

/// A request that can present a credential to [`TokenAuth`].
pub trait PresentsToken {
    /// The credential the request presents.
    fn credential(&self) -> Credential<'_>;

    /// Called by [`TokenAuth`] on an accepted request, with the principal
    /// it authenticated as, before it is handed on. The default keeps
    /// nothing; `http::Request` keeps it in its extensions.
    fn authenticated(&mut self, principal: Principal) {
        let _ = principal;
    }
}

/// The `Authorization: Bearer <token>` header.
///
/// No `Authorization` header is [`Credential::Missing`]; a header of another
/// scheme, one that is not visible ASCII, or an empty token is
/// [`Credential::Malformed`]. The scheme is matched without regard to case,
/// as RFC 9110 asks.
#[cfg(feature = "http")]
impl<B> PresentsToken for http::Request<B> {
    fn credential(&self) -> Credential<'_> {
        let Some(value) = self.headers().get(http::header::AUTHORIZATION) else {
            return Credential::Missing;
        };
        let Ok(text) = value.to_str() else {
            return Credential::Malformed;
        };
        let Some((scheme, token)) = text.split_once(' ') else {
            return Credential::Malformed;
        };
        let token = token.trim_matches(' ');
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Credential::Malformed;
        }
        Credential::Token(token.as_bytes())
    }

    /// Inserts the principal into the request's extensions.
    fn authenticated(&mut self, principal: Principal) {
        self.extensions_mut().insert(principal);
    }
}

#[cfg(test)]
mod tests {
    use super::error::{EmptyToken, InvalidToken, MissingToken};
    use super::*;
    use crate::test_support::{received, settle};
    use crate::BoxError;
    use std::time::Duration;
    use tower::{Service, ServiceBuilder, ServiceExt};
    use tower_test::mock;

    /// A test request whose credential is whatever the test says.
    #[derive(Debug, PartialEq)]
    enum Req {
        NoToken,
        Garbled,
        Token(String),
    }

    impl PresentsToken for Req {
        fn credential(&self) -> Credential<'_> {
            match self {
                Req::NoToken => Credential::Missing,
                Req::Garbled => Credential::Malformed,
                Req::Token(t) => Credential::Token(t.as_bytes()),
            }
        }
    }

    fn tokens() -> Result<Tokens, EmptyToken> {
        Tokens::new(["alpha-token-1", "bravo-token-22", "c"])
    }

    #[test]
    fn each_accepted_token_verifies() -> Result<(), BoxError> {
        let tokens = tokens()?;
        assert_eq!(tokens.len(), 3);
        assert!(!tokens.is_empty());
        assert!(tokens.verify(b"alpha-token-1"));
        assert!(tokens.verify(b"bravo-token-22"));
        assert!(tokens.verify(b"c"));
        Ok(())
    }

    #[test]
    fn wrong_longer_shorter_and_empty_tokens_are_refused() -> Result<(), BoxError> {
        let tokens = tokens()?;
        for presented in [
            &b"alpha-token-2"[..],
            b"alpha-token-1 ",
            b"alpha-token-11",
            b"alpha-token-",
            b"ALPHA-TOKEN-1",
            b"cc",
            b"",
            b"bravo-token-22alpha-token-1",
        ] {
            assert!(!tokens.verify(presented), "accepted {presented:?}");
        }
        Ok(())
    }

    #[test]
    fn single_accepts_only_its_token() -> Result<(), BoxError> {
        let tokens = Tokens::single(b"only")?;
        assert_eq!(tokens.len(), 1);
        assert!(tokens.verify(b"only"));
        assert!(!tokens.verify(b"onl"));
        assert!(!tokens.verify(b"only!"));
        Ok(())
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(Tokens::new(Vec::<String>::new()).err(), Some(EmptyToken));
        assert_eq!(Tokens::new(["ok", ""]).err(), Some(EmptyToken));
        assert_eq!(Tokens::single("").err(), Some(EmptyToken));
        assert_eq!(
            EmptyToken.to_string(),
            "an accepted token must not be empty (and at least one is needed)"
        );
    }

    #[test]
    fn debug_never_shows_a_token() -> Result<(), BoxError> {
        let tokens = Tokens::new(["hunter2-secret", "swordfish-secret"])?;
        let printed = format!("{tokens:?}");
        assert_eq!(printed, "Tokens { accepted: 2, .. }");
        let layer = TokenAuthLayer::new(tokens.clone());
        let service = TokenAuth::new((), tokens);
        let credential = Credential::Token(b"hunter2-secret");
        for printed in [
            format!("{layer:?}"),
            format!("{layer:#?}"),
            format!("{service:?}"),
            format!("{credential:?}"),
            format!("{credential:#?}"),
        ] {
            assert!(!printed.contains("hunter2"), "leaked in {printed}");
            assert!(!printed.contains("swordfish"), "leaked in {printed}");
            assert!(!printed.contains("secret"), "leaked in {printed}");
        }
        assert_eq!(format!("{credential:?}"), "Token(<redacted>)");
        assert_eq!(format!("{:?}", Credential::Missing), "Missing");
        Ok(())
    }

    #[test]
    fn each_token_identifies_its_principal() -> Result<(), BoxError> {
        let ci = Principal::new("ci", ["read", "run"]);
        let ops = Principal::new("ops", ["admin"]);
        let tokens = Tokens::from_digests([
            (token_digest(b"ci-token"), ci.clone()),
            (token_digest(b"ops-token"), ops.clone()),
        ]);
        assert_eq!(tokens.identify(b"ci-token"), Some(ci.clone()));
        assert_eq!(tokens.identify(b"ops-token"), Some(ops));
        assert_eq!(tokens.identify(b"ci-token "), None);
        assert_eq!(tokens.identify(b""), None);
        // A replacement reaches every clone at once.
        let clone = tokens.clone();
        tokens.replace(&Tokens::from_digests([(token_digest(b"new"), ci.clone())]));
        assert_eq!(clone.identify(b"ops-token"), None);
        assert_eq!(clone.identify(b"new"), Some(ci));
        assert_eq!(clone.len(), 1);
        assert!(Tokens::from_digests([]).is_empty());
        // A shared token's principal holds every scope.
        let shared = Tokens::single("s")?
            .identify(b"s")
            .ok_or("not identified")?;
        assert!(shared.is_unrestricted() && shared.name() == "token");
        Ok(())
    }

    #[tokio::test]
    async fn the_principal_reaches_the_request_and_a_verified_one_passes() -> Result<(), BoxError> {
        #[derive(Debug)]
        struct Who {
            token: Option<&'static str>,
            verified: Option<Principal>,
            principal: Option<Principal>,
        }
        impl PresentsToken for Who {
            fn credential(&self) -> Credential<'_> {
                match (&self.token, &self.verified) {
                    (Some(token), _) => Credential::Token(token.as_bytes()),
                    (None, Some(principal)) => Credential::Verified(principal),
                    (None, None) => Credential::Missing,
                }
            }
            fn authenticated(&mut self, principal: Principal) {
                self.principal = Some(principal);
            }
        }
        let ci = Principal::new("ci", ["read"]);
        let fleet = Principal::new("fleet", ["run"]);
        let mut svc = ServiceBuilder::new()
            .layer(TokenAuthLayer::new(Tokens::from_digests([(
                token_digest(b"ci-token"),
                ci.clone(),
            )])))
            .service_fn(|who: Who| async move { Ok::<_, BoxError>(who.principal) });
        let by_token = Who {
            token: Some("ci-token"),
            verified: None,
            principal: None,
        };
        assert_eq!(svc.ready().await?.call(by_token).await?, Some(ci));
        let by_cert = Who {
            token: None,
            verified: Some(fleet.clone()),
            principal: None,
        };
        assert_eq!(svc.ready().await?.call(by_cert).await?, Some(fleet.clone()));
        // A token, when presented, decides, even beside a verified principal.
        let wrong = Who {
            token: Some("nope"),
            verified: Some(fleet),
            principal: None,
        };
        let err = svc
            .ready()
            .await?
            .call(wrong)
            .await
            .err()
            .ok_or("accepted")?;
        assert!(err.downcast_ref::<InvalidToken>().is_some());
        Ok(())
    }

    #[test]
    fn error_messages() {
        assert_eq!(MissingToken.to_string(), "no token presented");
        assert_eq!(InvalidToken.to_string(), "wrong or malformed token");
    }

    #[tokio::test]
    async fn forwards_readiness() -> Result<(), BoxError> {
        crate::test_support::forwards_readiness::<_, Req, &'static str>(TokenAuthLayer::new(
            tokens()?,
        ));
        Ok(())
    }

    #[tokio::test]
    async fn accepted_token_reaches_inner() -> Result<(), BoxError> {
        let (mut svc, mut handle) =
            mock::spawn_layer::<Req, &'static str, _>(TokenAuthLayer::new(tokens()?));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(Req::Token("bravo-token-22".into()));
        let (req, send) = received(&mut handle)?;
        assert_eq!(req, Req::Token("bravo-token-22".into()));
        send.send_response("served");
        assert_eq!(settle(fut).await??, "served");
        Ok(())
    }

    async fn refused(req: Req) -> Result<BoxError, BoxError> {
        let (mut svc, mut handle) =
            mock::spawn_layer::<Req, &'static str, _>(TokenAuthLayer::new(tokens()?));
        handle.allow(1);
        assert!(svc.poll_ready().is_ready());
        let err = settle(svc.call(req))
            .await?
            .err()
            .ok_or("request accepted")?;
        assert!(handle.poll_request().is_pending(), "inner was called");
        Ok(err)
    }

    #[tokio::test]
    async fn missing_token_is_refused_without_calling_inner() -> Result<(), BoxError> {
        let err = refused(Req::NoToken).await?;
        assert!(err.downcast_ref::<MissingToken>().is_some(), "got {err}");
        Ok(())
    }

    #[tokio::test]
    async fn malformed_credential_is_refused_without_calling_inner() -> Result<(), BoxError> {
        let err = refused(Req::Garbled).await?;
        assert!(err.downcast_ref::<InvalidToken>().is_some(), "got {err}");
        Ok(())
    }

    #[tokio::test]
    async fn wrong_token_is_refused_without_calling_inner() -> Result<(), BoxError> {
        for wrong in ["alpha-token-2", "", "bravo-token-222"] {
            let err = refused(Req::Token(wrong.into())).await?;
            assert!(err.downcast_ref::<InvalidToken>().is_some(), "got {err}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn errors_downcast_through_another_layer() -> Result<(), BoxError> {
        let mut svc = ServiceBuilder::new()
            .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(1)))
            .layer(TokenAuthLayer::new(tokens()?))
            .service_fn(|_: Req| async { Ok::<_, BoxError>("served") });
        let err = svc.ready().await?.call(Req::NoToken).await.err();
        let err = err.ok_or("accepted no token")?;
        assert!(err.downcast_ref::<MissingToken>().is_some(), "got {err}");
        let err = svc.ready().await?.call(Req::Token("x".into())).await.err();
        let err = err.ok_or("accepted a wrong token")?;
        assert!(err.downcast_ref::<InvalidToken>().is_some(), "got {err}");
        let ok = svc.ready().await?.call(Req::Token("c".into())).await?;
        assert_eq!(ok, "served");
        Ok(())
    }

    #[test]
    fn direct_constructor_and_accessors() -> Result<(), BoxError> {
        let mut svc = TokenAuth::new(1u8, tokens()?);
        assert_eq!(*svc.get_ref(), 1);
        *svc.get_mut() = 2;
        assert_eq!(svc.into_inner(), 2);
        Ok(())
    }

    #[cfg(feature = "http")]
    mod http_requests {
        use super::*;

        fn request(authorization: Option<&[u8]>) -> Result<http::Request<()>, BoxError> {
            let mut builder = http::Request::builder().uri("/status");
            if let Some(value) = authorization {
                builder = builder.header(
                    http::header::AUTHORIZATION,
                    http::HeaderValue::from_bytes(value)?,
                );
            }
            Ok(builder.body(())?)
        }

        #[test]
        fn credential_of_http_requests() -> Result<(), BoxError> {
            assert!(matches!(request(None)?.credential(), Credential::Missing));
            let bearer = request(Some(b"Bearer abc.def"))?;
            assert!(matches!(bearer.credential(), Credential::Token(b"abc.def")));
            let lower = request(Some(b"bearer abc"))?;
            assert!(matches!(lower.credential(), Credential::Token(b"abc")));
            for malformed in [
                &b"Basic dXNlcjpwYXNz"[..],
                b"Bearer",
                b"Bearer ",
                b"abc",
                b"Bearer \xff\xfe",
            ] {
                let req = request(Some(malformed))?;
                assert!(
                    matches!(req.credential(), Credential::Malformed),
                    "{:?} gave {:?}",
                    String::from_utf8_lossy(malformed),
                    req.credential()
                );
            }
            Ok(())
        }

        #[tokio::test]
        async fn guards_an_http_service() -> Result<(), BoxError> {
            let mut svc = ServiceBuilder::new()
                .layer(TokenAuthLayer::new(Tokens::single("let-me-in")?))
                .service_fn(|req: http::Request<()>| async move {
                    Ok::<_, BoxError>(http::Response::new(req.uri().path().to_owned()))
                });

            let ok = svc
                .ready()
                .await?
                .call(request(Some(b"Bearer let-me-in"))?)
                .await?;
            assert_eq!(ok.body(), "/status");

            let err = svc.ready().await?.call(request(None)?).await.err();
            let err = err.ok_or("served without a header")?;
            assert!(err.downcast_ref::<MissingToken>().is_some(), "got {err}");

            for wrong in [&b"Bearer let-me-out"[..], b"Basic let-me-in"] {
                let err = svc.ready().await?.call(request(Some(wrong))?).await.err();
                let err = err.ok_or("served with a wrong header")?;
                assert!(err.downcast_ref::<InvalidToken>().is_some(), "got {err}");
            }
            Ok(())
        }
    }
}
