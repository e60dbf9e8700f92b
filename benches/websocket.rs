//! WebSocket benchmark: `ld-tower run` with N `websocket_user` users doing
//! `sendrecv` against a local echo server, and a minimal tokio-tungstenite
//! echo client (the peer: the same connections, payload and time), in the
//! same run; prints messages/s of both and their ratio.
//!
//! ```text
//! cargo bench --bench websocket -- [--seconds S] [--users N] [--payload BYTES] [--rounds R]
//! ```
//!
//! - The echo server is this bench binary re-run as a child
//!   (`--echo-server`), a tokio-tungstenite server sending every message
//!   back; with `taskset` on PATH it is pinned to core 0 and each
//!   generator to core 1.
//! - Each generator runs S seconds (default 5) with N connections (default
//!   50) sending a P-byte text payload (default 32) and waiting for its
//!   echo before the next: ld-tower as `ld-tower run` of one
//!   `LD_start_test` (`wait_time` 0, one `sendrecv` step), the peer as this
//!   binary re-run with `--peer`.
//! - messages/s: ld-tower's recorded `sendrecv` steps over its elapsed
//!   time; the peer's echoes over its time. The two alternate R rounds
//!   (default 2); the ratio is of the best round of each, so that a burst
//!   of other work on the machine weighs on neither alone.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

#[path = "../tests/common/child.rs"]
mod child;
mod support;

use child::Child;

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");

/// `cargo bench --bench websocket -- [OPTIONS]`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "websocket",
    bin_name = "cargo bench --bench websocket --",
    about = "websocket_user's sendrecv messages/s against a minimal tokio-tungstenite client",
    long_about = "ld-tower's websocket_user (`ld-tower run`, N users doing sendrecv) and a \
                  minimal tokio-tungstenite echo client (the same connections, payload and \
                  time), alternately against one echo server pinned to core 0, each generator \
                  pinned to core 1; prints messages/s of each and the ratio of their best rounds."
)]
struct Options {
    /// Seconds each generator runs (1 to 3600).
    #[arg(long, value_name = "S", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    seconds: u64,
    /// Connections of each generator, one user each (1 to 10000).
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    users: u64,
    /// Bytes of the text payload (0 to 1048576).
    #[arg(long, value_name = "BYTES", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(0..=1_048_576))]
    payload: u64,
    /// Rounds of both generators; the best of each is compared (1 to 10).
    #[arg(long, value_name = "R", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=10))]
    rounds: u64,
    /// Passed by `cargo bench` to every `harness = false` bench; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Internal: be the echo server (prints its address).
    #[arg(long, hide = true)]
    echo_server: bool,
    /// Internal: be the peer client against this echo server.
    #[arg(long, hide = true, value_name = "ADDR")]
    peer: Option<SocketAddr>,
}

fn main() -> ExitCode {
    let options = Options::parse();
    let result = if options.echo_server {
        echo_server()
    } else if let Some(addr) = options.peer {
        peer(&options, addr)
    } else {
        orchestrate(&options)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("websocket bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `program` pinned to `core` when `taskset` is there.
fn on_core(core: u8, pin: bool, program: &str) -> Command {
    if pin {
        let mut command = Command::new("taskset");
        command.args(["-c", &core.to_string(), program]);
        command
    } else {
        Command::new(program)
    }
}

/// Starts the echo server (stopped when its guard drops), then measures.
fn orchestrate(options: &Options) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let me = me.to_str().ok_or("non-UTF-8 path")?.to_owned();
    let pin = support::have("taskset", "-V");
    let mut server = Child::spawn("the echo server", on_core(0, pin, &me).arg("--echo-server"))?;
    let addr = server.wait_for_line(Duration::from_secs(20), "address line", |line| {
        line.trim().parse::<SocketAddr>().ok()
    })?;
    measure(options, pin, &me, addr)
}

fn measure(options: &Options, pin: bool, me: &str, addr: SocketAddr) -> Result<(), String> {
    println!(
        "WebSocket echo at {addr}: {} connections, {} s, {}-byte payload{}",
        options.users,
        options.seconds,
        options.payload,
        if pin {
            " (server on core 0, generators on core 1)"
        } else {
            " (no taskset: unpinned)"
        }
    );

    let (mut best_ours, mut best_theirs) = (0.0f64, 0.0f64);
    for round in 1..=options.rounds {
        println!("round {round} of {}:", options.rounds);
        best_ours = best_ours.max(ld_tower(options, pin, addr)?);
        best_theirs = best_theirs.max(peer_run(options, pin, me, addr)?);
    }
    println!(
        "best of {}: ld-tower {best_ours:.0}, peer {best_theirs:.0} messages/s; ratio ld-tower / peer: {:.2}x",
        options.rounds,
        best_ours / best_theirs
    );
    Ok(())
}

/// One `ld-tower run`: its messages/s.
fn ld_tower(options: &Options, pin: bool, addr: SocketAddr) -> Result<f64, String> {
    let dir = std::env::temp_dir().join(format!("ld-tower-ws-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file = dir.join("bench.json");
    let actions = json!({"load_density": [["LD_start_test", {
        "user_detail_dict": {"user": "websocket_user"},
        "user_count": options.users, "spawn_rate": 100000,
        "test_time": options.seconds, "wait_time": 0,
        "host": format!("ws://{addr}/"),
        "tasks": [{"method": "sendrecv", "name": "echo", "payload": "x".repeat(options.payload as usize)}]
    }]]});
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(actions.to_string().as_bytes()))
        .map_err(|e| e.to_string())?;
    let output = on_core(1, pin, LD_TOWER)
        .args(["run", file.to_str().ok_or("path")?, "--no-progress"])
        .output()
        .map_err(|e| format!("cannot run ld-tower: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&output.stdout);
    let result: Value = serde_json::from_str(text.lines().next().unwrap_or(""))
        .map_err(|e| format!("ld-tower said {text:?} ({e})"))?;
    let echo = &result["summary"]["per_name"]["echo"];
    let (count, failures) = (
        echo["count"].as_u64().unwrap_or(0),
        echo["failures"].as_u64().unwrap_or(0),
    );
    let elapsed = result["elapsed_s"].as_f64().unwrap_or(f64::NAN);
    let ours = count as f64 / elapsed;
    println!(
        "  ld-tower run: {ours:>10.0} messages/s ({count} in {elapsed:.2} s, {failures} failed, p50 {} ms, p99 {} ms)",
        echo["p50_ms"], echo["p99_ms"]
    );
    Ok(ours)
}

/// One run of the peer: its messages/s.
fn peer_run(options: &Options, pin: bool, me: &str, addr: SocketAddr) -> Result<f64, String> {
    let output = on_core(1, pin, me)
        .args([
            "--peer",
            &addr.to_string(),
            "--users",
            &options.users.to_string(),
            "--seconds",
            &options.seconds.to_string(),
            "--payload",
            &options.payload.to_string(),
        ])
        .output()
        .map_err(|e| format!("cannot run the peer: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let peer_count: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let peer_elapsed: f64 = fields
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    let theirs = peer_count as f64 / peer_elapsed;
    println!(
        "  peer client:  {theirs:>10.0} messages/s ({peer_count} in {peer_elapsed:.2} s; tokio-tungstenite, no figures)"
    );
    Ok(theirs)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// The echo server: prints its address, then echoes until killed.
fn echo_server() -> Result<(), String> {
    runtime()?.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("{addr}");
        let _ = std::io::stdout().flush();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    })
}

/// The peer against `addr` with the options' users, seconds and payload;
/// prints `echoes seconds`.
fn peer(options: &Options, addr: SocketAddr) -> Result<(), String> {
    let (users, seconds) = (options.users, options.seconds);
    let payload = "x".repeat(options.payload as usize);
    runtime()?.block_on(async move {
        let start = Instant::now();
        let end = start + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for _ in 0..users {
            let payload = payload.clone();
            tasks.push(tokio::spawn(async move {
                let Ok(tcp) = TcpStream::connect(addr).await else {
                    return 0;
                };
                let _ = tcp.set_nodelay(true);
                let url = format!("ws://{addr}/");
                let Ok((mut ws, _)) = tokio_tungstenite::client_async(url, tcp).await else {
                    return 0;
                };
                let mut echoes = 0u64;
                while Instant::now() < end {
                    if ws.send(Message::text(payload.clone())).await.is_err() {
                        break;
                    }
                    match ws.next().await {
                        Some(Ok(_)) => echoes += 1,
                        _ => break,
                    }
                }
                echoes
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap_or(0);
        }
        println!("{total} {}", start.elapsed().as_secs_f64());
        Ok(())
    })
}
