//! A control-socket server with your own tower layers in its stack: a
//! per-connection rate limit and a server-wide cap on commands in flight.
//!
//! The stack is [`ControlStack::new()`] (replies, size limit, parse, log,
//! auth) with two of tower's own layers composed in through
//! [`ControlStack::with_layer`]; they sit between auth and the command service,
//! so they only ever see well-formed, authenticated commands:
//!
//! - [`RateLimitLayer`]: each connection may run `RATE` commands per second;
//!   past that its next command waits (the connection is not read meanwhile)
//!   instead of being refused. The server builds the stack's service once per
//!   connection, so every connection gets its own budget.
//!   A quit request is a command too, so it waits its turn like any other.
//! - [`GlobalConcurrencyLimitLayer`]: one semaphore shared by every
//!   connection, so at most `MAX_IN_FLIGHT` commands run at once server-wide.
//!   It comes after (inside) the rate limit, so a connection waiting for its
//!   rate budget does not hold a permit others could use.
//!
//! It serves framed (4-byte big-endian length prefix) on plain TCP at
//! `127.0.0.1`, without a token (loopback only), until a client sends
//! `quit_server` or you press Ctrl-C.
//!
//! Run it, with an optional port (default 0: the OS picks one) and rate
//! (commands per second per connection, default 5):
//!
//! ```text
//! cargo run --example rate_limited_server -- 9940 5
//! ```
//!
//! It prints `Server started on 127.0.0.1:PORT` once listening and
//! `Server shutdown complete` when it has stopped. Talk to it with the
//! client example:
//!
//! ```text
//! cargo run --example client -- 127.0.0.1:9940 --framed
//! ```

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use ld_tower::acceptor::PlainAcceptor;
use ld_tower::codec::Framing;
use ld_tower::control::Control;
use ld_tower::server::Server;
use ld_tower::stack::ControlStack;
use tokio::net::TcpListener;
use tower::limit::{GlobalConcurrencyLimitLayer, RateLimitLayer};

/// Commands per second per connection when argv[2] is not given.
const DEFAULT_RATE: u64 = 5;
/// Commands running at once across all connections.
const MAX_IN_FLIGHT: usize = 64;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Display, not Debug: one readable line.
            eprintln!("rate_limited_server: {error}");
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
    let rate: u64 = match args.next() {
        Some(rate) => rate.parse().ok().filter(|rate| *rate > 0).ok_or_else(|| {
            format!(
                "bad rate {rate:?} (argv[2]): a whole number of commands per second, at least 1"
            )
        })?,
        None => DEFAULT_RATE,
    };

    let stack = ControlStack::new()
        // Outer of the two: each connection's own budget.
        .with_layer(RateLimitLayer::new(rate, Duration::from_secs(1)))
        // Inner: one semaphore, cloned into every connection's service.
        .with_layer(GlobalConcurrencyLimitLayer::new(MAX_IN_FLIGHT));

    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let local = listener.local_addr()?;
    let control = Control::default();
    let quit = control.quit_signal();
    let shutdown = async move {
        tokio::select! {
            () = quit.cancelled() => {}
            result = tokio::signal::ctrl_c() => {
                if let Err(error) = result {
                    // Without a Ctrl-C handler only a quit request stops us.
                    eprintln!("cannot watch Ctrl-C ({error}); send quit_server to stop");
                    quit.cancelled().await;
                }
            }
        }
    };

    announce(&format!("Server started on 127.0.0.1:{}", local.port()))?;
    Server::new(listener, PlainAcceptor)
        .framing(Framing::Framed)
        .serve(stack, control, shutdown)
        .await?;
    announce("Server shutdown complete")?;
    Ok(())
}

/// One line on stdout, flushed at once: scripts and tests wait for it.
fn announce(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
