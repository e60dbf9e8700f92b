//! The token-auth layer of `ld-tower-layers` guarding a plain hyper 1 HTTP
//! service: the same middleware that guards the control socket, on a
//! different protocol.
//!
//! [`TokenAuthLayer`] knows nothing of HTTP; the crate's `http` feature
//! implements [`PresentsToken`](ld_tower_layers::PresentsToken) for
//! `http::Request`, reading `Authorization: Bearer <token>`. The stack,
//! built with [`tower::ServiceBuilder`], is, outermost first:
//!
//! ```text
//! errors → HTTP responses ─▶ token auth ─▶ hello service
//! ```
//!
//! A refused request never reaches the hello service: the layer fails it
//! with `MissingToken` or `InvalidToken` (a [`BoxError`]), which the outer
//! `map_result` finds by downcasting and turns into `401 Unauthorized` with
//! `WWW-Authenticate: Bearer`. A valid token gets `200` and `hello\n`.
//!
//! Run it with an optional port (default 0: the OS picks one) and the token
//! (argv[2], or the `EXAMPLE_TOKEN` environment variable, which keeps it out
//! of the process list):
//!
//! ```text
//! EXAMPLE_TOKEN=s3cret cargo run --example http_auth -- 8080
//! curl -i http://127.0.0.1:8080/                                # 401
//! curl -i -H 'Authorization: Bearer s3cret' http://127.0.0.1:8080/  # 200 hello
//! ```
//!
//! It prints `Listening on 127.0.0.1:PORT` once bound, and serves until
//! Ctrl-C.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use ld_tower_layers::token_auth::error::{InvalidToken, MissingToken};
use ld_tower_layers::{BoxError, TokenAuthLayer, Tokens};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};

/// Where the token comes from when argv[2] does not give it.
const TOKEN_ENV: &str = "EXAMPLE_TOKEN";

type Body = Full<Bytes>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: one readable line.
            eprintln!("http_auth: {error}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = match args.next() {
        Some(port) => port
            .parse()
            .map_err(|e| format!("bad port {port:?} (argv[1]): {e}"))?,
        None => 0,
    };
    let token = match args.next() {
        Some(token) => token,
        None => std::env::var(TOKEN_ENV)
            .map_err(|_| format!("give the token as argv[2] or in ${TOKEN_ENV}"))?,
    };
    // Refuses an empty token: it would let anyone in.
    let tokens = Tokens::single(token)?;

    let service = ServiceBuilder::new()
        .map_result(to_http)
        .layer(TokenAuthLayer::new(tokens))
        .service_fn(hello);

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let local = listener.local_addr()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "Listening on 127.0.0.1:{}", local.port())?;
        out.flush()?;
    }

    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // A passing fault (out of descriptors, say): keep serving.
                    eprintln!("accept failed: {error}");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        let service = service.clone();
        tokio::spawn(async move {
            // hyper calls a `hyper::service::Service` (`&self`); bridge to the
            // tower service by driving a clone of it per request.
            let bridge = hyper::service::service_fn(move |request: Request<Incoming>| {
                service.clone().oneshot(request)
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), bridge)
                .await
            {
                eprintln!("connection from {peer}: {error}");
            }
        });
    }
    Ok(())
}

/// The guarded service: only reached with an accepted token.
async fn hello(_request: Request<Incoming>) -> Result<Response<Body>, BoxError> {
    Ok(Response::new(Body::from("hello\n")))
}

/// Turns the stack's errors into HTTP responses: the auth layer's refusals
/// into 401 with a Bearer challenge, anything else into 500. (The error type
/// stays `BoxError` because `map_result` also maps `poll_ready` errors with
/// `From`; this function itself never fails.)
fn to_http(result: Result<Response<Body>, BoxError>) -> Result<Response<Body>, BoxError> {
    let error = match result {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    let (status, body) = if error.downcast_ref::<MissingToken>().is_some()
        || error.downcast_ref::<InvalidToken>().is_some()
    {
        // The error's own text says which; it never contains the token.
        (StatusCode::UNAUTHORIZED, format!("{error}\n"))
    } else {
        eprintln!("request failed: {error}");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error\n".to_owned(),
        )
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    Ok(response)
}
