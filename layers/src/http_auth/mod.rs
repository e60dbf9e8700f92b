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
//! An accepted request reaches it with its [`Principal`](crate::Principal)
//! (the one its token stands for, or the one a source presents as
//! [`Credential::Verified`](crate::Credential::Verified)) in its
//! extensions, as [`TokenAuth`](crate::TokenAuth) hands it on.
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

#[cfg(test)]
mod tests {
    use super::source::{from_fn, Bearer, Cookie, CredentialSource, Header};
    use super::*;
    use crate::test_support::{received, settle};
    use crate::{BoxError, Credential, Principal, Tokens};
    use http::header::{HeaderName, AUTHORIZATION, WWW_AUTHENTICATE};
    use http::{HeaderValue, Request, Response, StatusCode};
    use std::convert::Infallible;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use tower::{Layer, Service, ServiceBuilder, ServiceExt};
    use tower_test::mock;

    /// A request with the given headers (raw bytes allowed).
    fn request(headers: &[(&str, &[u8])]) -> Result<Request<()>, BoxError> {
        let mut builder = Request::builder().uri("/guarded?token=not-logged");
        for (name, value) in headers {
            builder = builder.header(*name, HeaderValue::from_bytes(value)?);
        }
        Ok(builder.body(())?)
    }

    /// What `source` reads from a request with `headers`, as text.
    fn read(
        source: &impl CredentialSource<()>,
        headers: &[(&str, &[u8])],
    ) -> Result<String, BoxError> {
        Ok(match source.credential(&request(headers)?) {
            Credential::Missing => "missing".to_owned(),
            Credential::Malformed => "malformed".to_owned(),
            Credential::Token(token) => format!("token {}", String::from_utf8_lossy(token)),
            Credential::Verified(principal) => format!("verified {}", principal.name()),
        })
    }

    #[test]
    fn bearer_source_reads_the_authorization_header() -> Result<(), BoxError> {
        assert_eq!(read(&Bearer, &[])?, "missing");
        assert_eq!(
            read(&Bearer, &[("authorization", b"Bearer abc.def")])?,
            "token abc.def"
        );
        assert_eq!(
            read(&Bearer, &[("authorization", b"bearer abc")])?,
            "token abc"
        );
        for malformed in [
            &b"Basic dXNlcjpwYXNz"[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer \xff",
        ] {
            assert_eq!(read(&Bearer, &[("authorization", malformed)])?, "malformed");
        }
        // Another header is not the credential.
        assert_eq!(read(&Bearer, &[("x-api-key", b"abc")])?, "missing");
        Ok(())
    }

    #[test]
    fn header_source_reads_its_header_once() -> Result<(), BoxError> {
        let key = Header::new(HeaderName::from_static("x-api-key"));
        assert_eq!(read(&key, &[])?, "missing");
        assert_eq!(read(&key, &[("authorization", b"Bearer abc")])?, "missing");
        assert_eq!(read(&key, &[("X-Api-Key", b"abc def")])?, "token abc def");
        assert_eq!(read(&key, &[("x-api-key", b"")])?, "malformed");
        assert_eq!(read(&key, &[("x-api-key", b"\xffabc")])?, "malformed");
        assert_eq!(
            read(&key, &[("x-api-key", b"abc"), ("x-api-key", b"abc")])?,
            "malformed",
            "given twice"
        );
        Ok(())
    }

    #[test]
    fn cookie_source_finds_its_cookie_among_others() -> Result<(), BoxError> {
        let session = Cookie::named("session");
        assert_eq!(read(&session, &[])?, "missing");
        assert_eq!(read(&session, &[("cookie", b"session=abc")])?, "token abc");
        assert_eq!(
            read(&session, &[("cookie", b"theme=dark; session=abc; lang=en")])?,
            "token abc"
        );
        // Lenient whitespace, quotes, separators without a space, pairs
        // without `=`, a `=` inside the value.
        assert_eq!(
            read(
                &session,
                &[("cookie", b" theme=dark ;\tsession = \"abc\" ")]
            )?,
            "token abc"
        );
        assert_eq!(
            read(&session, &[("cookie", b"flag;session=abc;x=1")])?,
            "token abc"
        );
        assert_eq!(read(&session, &[("cookie", b"session=a=b")])?, "token a=b");
        // A name is matched whole and with its case.
        for other in [
            &b"xsession=abc"[..],
            b"sessions=abc",
            b"Session=abc",
            b"theme=session=abc",
        ] {
            assert_eq!(
                read(&session, &[("cookie", other)])?,
                "missing",
                "{other:?}"
            );
        }
        // Several headers (as HTTP/2 sends them); the first cookie counts.
        assert_eq!(
            read(
                &session,
                &[("cookie", b"theme=dark"), ("cookie", b"session=abc")]
            )?,
            "token abc"
        );
        assert_eq!(
            read(&session, &[("cookie", b"session=abc; session=def")])?,
            "token abc"
        );
        assert_eq!(
            read(
                &session,
                &[("cookie", b"session=abc"), ("cookie", b"session=def")]
            )?,
            "token abc"
        );
        // Empty values and unreadable headers.
        assert_eq!(read(&session, &[("cookie", b"session=")])?, "malformed");
        assert_eq!(read(&session, &[("cookie", b"session=\"\"")])?, "malformed");
        assert_eq!(read(&session, &[("cookie", b"theme=\xff")])?, "malformed");
        assert_eq!(
            read(
                &session,
                &[("cookie", b"theme=\xff"), ("cookie", b"session=abc")]
            )?,
            "token abc"
        );
        Ok(())
    }

    #[test]
    fn closure_source_reads_what_it_says() -> Result<(), BoxError> {
        let query = from_fn(|request: &Request<()>| {
            let Some(query) = request.uri().query() else {
                return Credential::Missing;
            };
            match query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
            {
                Some(token) => Credential::Token(token.as_bytes()),
                None => Credential::Malformed,
            }
        });
        assert_eq!(read(&query, &[])?, "token not-logged");
        let bare = Request::get("/guarded").body(())?;
        assert!(matches!(query.credential(&bare), Credential::Missing));
        assert_eq!(format!("{query:?}"), "FromFn(..)");
        Ok(())
    }

    fn tokens() -> Result<Tokens, BoxError> {
        Ok(Tokens::new(["alpha-token", "bravo-token"])?)
    }

    type Mock = mock::Mock<Request<()>, Response<&'static str>>;
    type MockHandle = mock::Handle<Request<()>, Response<&'static str>>;

    /// The layer over a mock inner service ready for one call.
    fn mocked<Src, P>(
        layer: HttpAuthLayer<Src, P>,
    ) -> (mock::Spawn<HttpAuth<Mock, Src, P>>, MockHandle)
    where
        Src: Clone,
        P: Clone,
    {
        let (svc, mut handle) = mock::spawn_layer(layer);
        handle.allow(1);
        (svc, handle)
    }

    /// Calls the layer over a mock; the response, which must come from the
    /// layer itself (the inner service not called).
    async fn refused<Src, P>(
        layer: HttpAuthLayer<Src, P>,
        request: Request<()>,
    ) -> Result<Response<&'static str>, BoxError>
    where
        Src: CredentialSource<()> + Clone,
        P: peer::PeerLookup + Clone,
    {
        let (mut svc, mut handle) = mocked(layer);
        assert!(svc.poll_ready().is_ready());
        let response = settle(svc.call(request)).await??;
        assert!(handle.poll_request().is_pending(), "inner was called");
        Ok(response)
    }

    fn challenge<'r>(response: &'r Response<&'static str>) -> Result<&'r str, BoxError> {
        let value = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .ok_or("no challenge")?;
        Ok(value.to_str()?)
    }

    #[tokio::test]
    async fn no_credential_gets_401_with_a_bare_bearer_challenge() -> Result<(), BoxError> {
        let response = refused(HttpAuthLayer::new(tokens()?), request(&[])?).await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&response)?, "Bearer");
        assert_eq!(*response.body(), "", "the body is the default one");
        assert_eq!(response.headers().len(), 1, "{:?}", response.headers());
        Ok(())
    }

    #[tokio::test]
    async fn wrong_or_malformed_credential_gets_invalid_token() -> Result<(), BoxError> {
        for authorization in [
            &b"Bearer charlie-token"[..],
            b"Bearer alpha-token2",
            b"Basic alpha-token",
            b"Bearer",
        ] {
            let response = refused(
                HttpAuthLayer::new(tokens()?),
                request(&[("authorization", authorization)])?,
            )
            .await?;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(challenge(&response)?, "Bearer error=\"invalid_token\"");
            assert_eq!(*response.body(), "");
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_realm_is_quoted_in_both_challenges() -> Result<(), BoxError> {
        let layer = HttpAuthLayer::new(tokens()?).realm(r#"ld "tower" \ api"#)?;
        let response = refused(layer.clone(), request(&[])?).await?;
        assert_eq!(
            challenge(&response)?,
            r#"Bearer realm="ld \"tower\" \\ api""#
        );
        let response = refused(layer, request(&[("authorization", b"Bearer nope")])?).await?;
        assert_eq!(
            challenge(&response)?,
            r#"Bearer realm="ld \"tower\" \\ api", error="invalid_token""#
        );
        for bad in ["line\nbreak", "café", "nul\0"] {
            let err = HttpAuthLayer::new(tokens()?).realm(bad).err();
            assert_eq!(err, Some(error::InvalidRealm), "{bad:?}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_accepted_token_reaches_the_inner_service() -> Result<(), BoxError> {
        let (mut svc, mut handle) = mocked(HttpAuthLayer::new(tokens()?));
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(request(&[("authorization", b"Bearer bravo-token")])?);
        let (seen, send) = received(&mut handle)?;
        assert_eq!(seen.uri().path(), "/guarded");
        assert_eq!(seen.headers()[AUTHORIZATION], "Bearer bravo-token");
        send.send_response(Response::new("served"));
        let response = settle(fut).await??;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(*response.body(), "served");
        Ok(())
    }

    #[tokio::test]
    async fn the_principal_goes_into_the_extensions() -> Result<(), BoxError> {
        let reader = Principal::new("dashboard", ["read"]);
        let tokens = Tokens::from_digests([(crate::token_digest(b"dash-token"), reader.clone())]);
        let (mut svc, mut handle) = mocked(HttpAuthLayer::new(tokens));
        assert!(svc.poll_ready().is_ready());
        let fut = svc.call(request(&[("authorization", b"Bearer dash-token")])?);
        let (seen, send) = received(&mut handle)?;
        assert_eq!(seen.extensions().get::<Principal>(), Some(&reader));
        send.send_response(Response::new("served"));
        assert_eq!(*settle(fut).await??.body(), "served");
        Ok(())
    }

    #[tokio::test]
    async fn a_transport_verified_principal_needs_no_token() -> Result<(), BoxError> {
        /// What a TLS acceptor of yours put in the extensions.
        #[derive(Clone)]
        struct ClientCert(Principal);
        let source =
            from_fn(
                |request: &Request<()>| match request.extensions().get::<ClientCert>() {
                    Some(ClientCert(principal)) => Credential::Verified(principal),
                    None => Credential::Missing,
                },
            );
        let layer = HttpAuthLayer::new(tokens()?).source(source);
        let (mut svc, mut handle) = mocked(layer.clone());
        assert!(svc.poll_ready().is_ready());
        let operator = Principal::unrestricted("operator");
        let mut req = request(&[])?;
        req.extensions_mut().insert(ClientCert(operator.clone()));
        let fut = svc.call(req);
        let (seen, send) = received(&mut handle)?;
        assert_eq!(seen.extensions().get::<Principal>(), Some(&operator));
        send.send_response(Response::new("served"));
        assert_eq!(*settle(fut).await??.body(), "served");

        let response =
            refused(layer, request(&[("authorization", b"Bearer alpha-token")])?).await?;
        assert_eq!(challenge(&response)?, "Bearer");
        Ok(())
    }

    /// Sends `request` through `layer` over an infallible inner service
    /// answering `served`.
    async fn answer<Src, P>(
        layer: HttpAuthLayer<Src, P>,
        request: Request<()>,
    ) -> Result<Response<&'static str>, Infallible>
    where
        Src: CredentialSource<()> + Clone,
        P: peer::PeerLookup + Clone,
    {
        ServiceBuilder::new()
            .layer(layer)
            .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new("served")) })
            .oneshot(request)
            .await
    }

    /// `layer` serves `ok`, refuses `wrong` as invalid and a bearer token
    /// (not its source) as missing.
    async fn guards_with<Src>(
        layer: HttpAuthLayer<Src>,
        ok: (&str, &[u8]),
        wrong: (&str, &[u8]),
    ) -> Result<(), BoxError>
    where
        Src: CredentialSource<()> + Clone + std::fmt::Debug,
    {
        let response = answer(layer.clone(), request(&[ok])?).await?;
        assert_eq!(
            (response.status(), *response.body()),
            (StatusCode::OK, "served"),
            "{layer:?}"
        );
        let response = answer(layer.clone(), request(&[wrong])?).await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{layer:?}");
        assert_eq!(challenge(&response)?, "Bearer error=\"invalid_token\"");
        let bearer = request(&[("authorization", b"Bearer alpha-token")])?;
        let response = answer(layer.clone(), bearer).await?;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{layer:?}");
        assert_eq!(challenge(&response)?, "Bearer");
        Ok(())
    }

    #[tokio::test]
    async fn each_source_lets_its_token_through_and_refuses_the_rest() -> Result<(), BoxError> {
        let key = Header::new(HeaderName::from_static("x-api-key"));
        guards_with(
            HttpAuthLayer::new(tokens()?).source(key),
            ("x-api-key", b"alpha-token"),
            ("x-api-key", b"alpha"),
        )
        .await?;
        guards_with(
            HttpAuthLayer::new(tokens()?).source(Cookie::named("session")),
            ("cookie", b"a=1; session=bravo-token"),
            ("cookie", b"session=bravo"),
        )
        .await?;
        Ok(())
    }

    #[tokio::test]
    async fn readiness_is_the_inner_services() -> Result<(), BoxError> {
        crate::test_support::forwards_readiness::<_, Request<()>, Response<&'static str>>(
            HttpAuthLayer::new(tokens()?),
        );
        Ok(())
    }

    #[tokio::test]
    async fn the_error_type_is_the_inner_services() -> Result<(), BoxError> {
        fn infallible<S: Service<Request<()>, Error = Infallible>>(_: &S) {}
        let svc = ServiceBuilder::new()
            .layer(HttpAuthLayer::new(tokens()?))
            .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new("")) });
        infallible(&svc);
        Ok(())
    }

    /// A refusal hook that keeps what it is told.
    fn recorder() -> (
        Arc<Mutex<Vec<Refusal>>>,
        impl Fn(&Refusal) + Send + Sync + 'static,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        (seen, move |refusal: &Refusal| {
            if let Ok(mut seen) = sink.lock() {
                seen.push(*refusal);
            }
        })
    }

    /// What the recorder was told so far.
    fn told(seen: &Mutex<Vec<Refusal>>) -> Result<Vec<Refusal>, BoxError> {
        Ok(seen.lock().map_err(|_| "poisoned")?.clone())
    }

    fn refusal(reason: Reason, peer: Option<SocketAddr>) -> Refusal {
        Refusal { reason, peer }
    }

    #[tokio::test]
    async fn the_hook_hears_each_refusal_with_its_reason_and_peer() -> Result<(), BoxError> {
        let (seen, hook) = recorder();
        let layer = HttpAuthLayer::new(tokens()?).on_refusal(hook);
        let peer: SocketAddr = "192.0.2.7:40000".parse()?;

        let mut missing = request(&[])?;
        missing.extensions_mut().insert(peer);
        answer(layer.clone(), missing).await?;
        answer(
            layer.clone(),
            request(&[("authorization", b"Bearer guess")])?,
        )
        .await?;
        answer(layer, request(&[("authorization", b"Bearer alpha-token")])?).await?;

        assert_eq!(
            told(&seen)?,
            [
                refusal(Reason::Missing, Some(peer)),
                refusal(Reason::Invalid, None)
            ]
        );
        assert_eq!(Reason::Missing.to_string(), "no token presented");
        assert_eq!(Reason::Invalid.to_string(), "wrong or malformed token");
        Ok(())
    }

    #[tokio::test]
    async fn a_closure_can_find_the_peer() -> Result<(), BoxError> {
        #[derive(Clone)]
        struct Via(SocketAddr);
        let (seen, hook) = recorder();
        let layer = HttpAuthLayer::new(tokens()?)
            .peer(|extensions: &http::Extensions| extensions.get::<Via>().map(|via| via.0))
            .on_refusal(hook);
        let peer: SocketAddr = "[2001:db8::1]:443".parse()?;
        let mut req = request(&[])?;
        req.extensions_mut().insert(Via(peer));
        answer(layer, req).await?;
        assert_eq!(told(&seen)?, [refusal(Reason::Missing, Some(peer))]);
        Ok(())
    }

    #[test]
    fn debug_never_shows_a_token() -> Result<(), BoxError> {
        let layer = HttpAuthLayer::new(Tokens::single("hunter2-secret")?)
            .source(Cookie::named("session"))
            .on_refusal(|_| {});
        let svc = layer.layer(());
        for printed in [
            format!("{layer:?}"),
            format!("{layer:#?}"),
            format!("{svc:?}"),
        ] {
            assert!(!printed.contains("hunter2"), "leaked in {printed}");
            assert!(printed.contains("accepted: 1"), "{printed}");
        }
        Ok(())
    }

    #[test]
    fn accessors_reach_the_inner_service() -> Result<(), BoxError> {
        let mut svc = HttpAuthLayer::new(tokens()?).layer(1u8);
        assert_eq!(*svc.get_ref(), 1);
        *svc.get_mut() = 2;
        assert_eq!(svc.into_inner(), 2);
        Ok(())
    }

    #[cfg(feature = "axum")]
    mod axum_router {
        use super::*;
        use axum::{body::Body, extract::ConnectInfo, routing::get, Router};

        fn get_with(path: &str, authorization: Option<&str>) -> Result<Request<Body>, BoxError> {
            let mut builder = Request::get(path);
            if let Some(value) = authorization {
                builder = builder.header(AUTHORIZATION, value);
            }
            Ok(builder.body(Body::empty())?)
        }

        #[tokio::test]
        async fn guards_a_router_with_layer_and_route_layer() -> Result<(), BoxError> {
            let layer = HttpAuthLayer::new(tokens()?).realm("api")?;
            let whole = Router::new()
                .route("/", get(|| async { "hello" }))
                .layer(layer.clone());
            let some = Router::new()
                .route("/private", get(|| async { "private" }))
                .route_layer(layer)
                .route("/public", get(|| async { "public" }));

            let refused = whole.clone().oneshot(get_with("/", None)?).await?;
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(refused.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
            let served = whole
                .oneshot(get_with("/", Some("Bearer alpha-token"))?)
                .await?;
            assert_eq!(served.status(), StatusCode::OK);

            let refused = some
                .clone()
                .oneshot(get_with("/private", Some("Bearer x"))?)
                .await?;
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            let served = some
                .clone()
                .oneshot(get_with("/private", Some("Bearer bravo-token"))?)
                .await?;
            assert_eq!(served.status(), StatusCode::OK);
            let open = some.clone().oneshot(get_with("/public", None)?).await?;
            assert_eq!(open.status(), StatusCode::OK);
            // route_layer: an unknown path is still 404, not 401.
            let unknown = some.oneshot(get_with("/nowhere", None)?).await?;
            assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
            Ok(())
        }

        #[tokio::test]
        async fn the_default_peer_is_axums_connect_info() -> Result<(), BoxError> {
            let (seen, hook) = recorder();
            let router = Router::new()
                .route("/", get(|| async { "hello" }))
                .layer(HttpAuthLayer::new(tokens()?).on_refusal(hook));
            let peer: SocketAddr = "198.51.100.3:5000".parse()?;
            let mut req = get_with("/", None)?;
            req.extensions_mut().insert(ConnectInfo(peer));
            router.oneshot(req).await?;
            assert_eq!(told(&seen)?, [refusal(Reason::Missing, Some(peer))]);
            Ok(())
        }
    }
}
