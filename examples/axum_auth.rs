//! `HttpAuthLayer` of `ld-tower-layers` guarding an axum `Router`: no
//! `HandleErrorLayer`, no downcast. The layer answers a refused request
//! itself, `401 Unauthorized` with a `WWW-Authenticate: Bearer` challenge,
//! and its error type is the router's own (`Infallible`), so
//! `Router::layer` takes it as is.
//!
//! Run it with an optional port (default 0: the OS picks one) and the token
//! (argv[2], or the `EXAMPLE_TOKEN` environment variable, which keeps it out
//! of the process list):
//!
//! ```text
//! EXAMPLE_TOKEN=s3cret cargo run --example axum_auth -- 8080
//! curl -i http://127.0.0.1:8080/                                    # 401
//! curl -i -H 'Authorization: Bearer s3cret' http://127.0.0.1:8080/  # 200 hello
//! ```
//!
//! It prints `Listening on 127.0.0.1:PORT` once bound, logs each refusal to
//! stderr with the client's address (from axum's `ConnectInfo`), and serves
//! until Ctrl-C.

use std::error::Error;
use std::io::IsTerminal;
use std::net::SocketAddr;

use axum::{routing::get, Router};
use ld_tower_layers::{HttpAuthLayer, Tokens};
use tokio::net::TcpListener;

/// Where the token comes from when argv[2] does not give it.
const TOKEN_ENV: &str = "EXAMPLE_TOKEN";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Refusals: a missing token at DEBUG, a wrong one at WARN.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter("ld_tower_layers=debug")
        .init();
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(0), |port| port.parse())?;
    let token = match args.next() {
        Some(token) => token,
        None => std::env::var(TOKEN_ENV)
            .map_err(|_| format!("give the token as argv[2] or in ${TOKEN_ENV}"))?,
    };

    // The guard: ten lines.
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .layer(HttpAuthLayer::new(Tokens::single(token)?).realm("axum_auth example")?);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("Listening on 127.0.0.1:{}", listener.local_addr()?.port());
    // With ConnectInfo, a refusal is logged with the peer's address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
