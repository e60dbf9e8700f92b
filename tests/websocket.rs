//! `websocket_user` against a real tokio-tungstenite echo server started
//! here on 127.0.0.1 port 0, through `ld-tower run` and `ld-tower serve`:
//! what the summary counts is what the server received; a failed `expect`,
//! a `recv` that times out and a server that closes mid-test fail with
//! their reasons; `wss://` trusted by `--ca-file` or a step's `verify`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::through::{counts, reasons, through, Via};
use common::{tls_files, TlsFiles, DEADLINE};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// What the echo server saw.
#[derive(Default)]
struct Seen {
    /// Data messages received.
    messages: AtomicU64,
    /// Connections upgraded.
    connections: AtomicU64,
    /// Close frames received from clients.
    closes: AtomicU64,
    /// Pongs received (the server pings before each echo).
    pongs: AtomicU64,
}

/// An echo server: every data message sent back after a ping, except the
/// `close_after`th of a connection, answered by a close frame.
struct Echo {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

async fn echo(close_after: Option<u64>, tls: Option<&TlsFiles>) -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let acceptor =
        tls.map(|files| tokio_rustls::TlsAcceptor::from(Arc::new(files.server_config())));
    let counts = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&counts);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    None => serve_one(tcp, &seen, close_after).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve_one(tls, &seen, close_after).await;
                        }
                    }
                }
            });
        }
    });
    Echo { addr, seen }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    seen: &Seen,
    close_after: Option<u64>,
) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    seen.connections.fetch_add(1, Ordering::SeqCst);
    let mut here = 0;
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Text(_) | Message::Binary(_) => {
                seen.messages.fetch_add(1, Ordering::SeqCst);
                here += 1;
                if close_after == Some(here) {
                    let frame = CloseFrame {
                        code: CloseCode::Normal,
                        reason: "enough".into(),
                    };
                    let _ = ws.close(Some(frame)).await;
                    while let Some(Ok(_)) = ws.next().await {}
                    return;
                }
                let ping = Message::Ping(b"are you there".to_vec().into());
                if ws.send(ping).await.is_err() || ws.send(message).await.is_err() {
                    return;
                }
            }
            Message::Close(_) => {
                seen.closes.fetch_add(1, Ordering::SeqCst);
            }
            Message::Pong(_) => {
                seen.pongs.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
    }
}

/// Waits (within the deadline) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `LD_start_test` of `users` websocket users making `iterations` each,
/// then `LD_summary` and `LD_generate_json` (for the failure reasons).
fn actions(host: &str, users: u64, iterations: u64, tasks: Value) -> Value {
    json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "websocket_user"},
            "user_count": users, "spawn_rate": 1000, "test_time": 60,
            "iterations": iterations, "wait_time": 0,
            "host": host, "tasks": tasks
        }],
        ["LD_summary", {}],
        ["LD_generate_json", {}]
    ]})
}

async fn echo_steps(via: Via) {
    let server = echo(None, None).await;
    let dir = tempfile::tempdir().unwrap();
    let tasks = json!([
        {"method": "connect", "name": "open"},
        {"method": "sendrecv", "name": "ping", "payload": "ping", "expect": "ping"},
        {"method": "send", "name": "note", "payload": "note"},
        {"method": "recv", "name": "note echo", "expect": "note"},
        {"method": "sendrecv", "name": "bin", "payload": "AAEC", "binary": true, "expect": "\u{1}\u{2}"},
        {"method": "sendrecv", "name": "wrong", "payload": "abc", "expect": "zzz"},
        {"method": "close", "name": "bye"}
    ]);
    let host = format!("ws://{}/chat", server.addr);
    let lines = through(via, dir.path(), &[], actions(&host, 2, 3, tasks)).await;
    let (test, summary, report) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(test["summary"], *summary, "{test}");
    for name in ["open", "ping", "note", "note echo", "bin", "bye"] {
        assert_eq!(counts(summary, name), (6, 6, 0), "{name}: {summary}");
    }
    assert_eq!(counts(summary, "wrong"), (6, 0, 6), "{summary}");
    assert_eq!(
        reasons(report, "wrong"),
        [("expected \"zzz\" in the reply".to_owned(), 6)]
    );
    assert_eq!(summary["totals"]["requests"], 42);
    // Four messages per iteration reached the server: ping, note, bin, abc.
    assert_eq!(server.seen.messages.load(Ordering::SeqCst), 24);
    // One connection per iteration (closed by its last step, opened by its first).
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 6);
    eventually("every close frame arrived", || {
        server.seen.closes.load(Ordering::SeqCst) == 6
    })
    .await;
    // Each echo came after a ping, which the library answered.
    eventually("every ping answered", || {
        server.seen.pongs.load(Ordering::SeqCst) == 24
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_steps_through_run() {
    echo_steps(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_steps_through_serve() {
    echo_steps(Via::Serve).await;
}

/// The server closes each connection on its second message; a `recv` of
/// nothing times out. The next step reconnects.
async fn drops_and_timeouts(via: Via) {
    let server = echo(Some(2), None).await;
    let dir = tempfile::tempdir().unwrap();
    let tasks = json!([
        {"method": "sendrecv", "name": "one", "payload": "a", "expect": "a"},
        {"method": "sendrecv", "name": "two", "payload": "b"},
        {"method": "recv", "name": "silence", "timeout": 0.3}
    ]);
    let host = format!("ws://{}/", server.addr);
    let lines = through(via, dir.path(), &[], actions(&host, 1, 2, tasks)).await;
    let (summary, report) = (&lines[1], &lines[2]);
    assert_eq!(counts(summary, "one"), (2, 2, 0), "{summary}");
    assert_eq!(counts(summary, "two"), (2, 0, 2), "{summary}");
    assert_eq!(
        reasons(report, "two"),
        [(
            "connection closed by the server (code 1000: enough)".to_owned(),
            2
        )]
    );
    assert_eq!(counts(summary, "silence"), (2, 0, 2), "{summary}");
    assert_eq!(
        reasons(report, "silence"),
        [("timed out after 300ms".to_owned(), 2)]
    );
    // The first connection, then one per `silence` (each after a drop).
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 3);
    assert_eq!(server.seen.messages.load(Ordering::SeqCst), 4);
    // The wait's latency: the step's 300 ms less its reconnection.
    let silence = &summary["per_name"]["silence"];
    assert!(silence["min_ms"].as_f64().unwrap() >= 250.0, "{silence}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_and_timeouts_through_run() {
    drops_and_timeouts(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drops_and_timeouts_through_serve() {
    drops_and_timeouts(Via::Serve).await;
}

/// `wss://`: trusted through `--ca-file` (run) or the step's `verify`
/// path (serve, confined to its working directory); untrusted, the
/// handshake fails and says so.
async fn secure(via: Via) {
    let files = tls_files();
    let server = echo(None, Some(&files)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&files.ca, dir.path().join("ca.pem")).unwrap();
    let mut step = json!({"method": "sendrecv", "name": "secure", "payload": "hi", "expect": "hi"});
    let args: Vec<&str> = match via {
        Via::Run => vec!["--ca-file", files.ca.to_str().unwrap()],
        Via::Serve => {
            step["verify"] = json!("ca.pem");
            vec![]
        }
    };
    let host = format!("wss://127.0.0.1:{}/", server.addr.port());
    let lines = through(via, dir.path(), &args, actions(&host, 2, 2, json!([step]))).await;
    assert_eq!(counts(&lines[1], "secure"), (4, 4, 0), "{}", lines[1]);
    assert_eq!(server.seen.messages.load(Ordering::SeqCst), 4);
    assert_eq!(server.seen.connections.load(Ordering::SeqCst), 2);

    let step = json!({"method": "sendrecv", "name": "untrusted", "payload": "hi"});
    let lines = through(via, dir.path(), &[], actions(&host, 1, 1, json!([step]))).await;
    assert_eq!(counts(&lines[1], "untrusted"), (1, 0, 1));
    let why = reasons(&lines[2], "untrusted");
    assert!(
        why[0].0.starts_with("TLS handshake with 127.0.0.1 failed"),
        "{why:?}"
    );
    assert_eq!(server.seen.messages.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_through_run() {
    secure(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_through_serve() {
    secure(Via::Serve).await;
}
