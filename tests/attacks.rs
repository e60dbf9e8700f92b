//! The control socket under attack, as issue 8 found it broken: each test
//! runs the attack against a real `ld-tower serve` process on a loopback
//! port, bounded in time and memory, and asserts that a well-behaved,
//! authenticated client is still served and that the server's memory stays
//! under a stated bound.
//!
//! The CI sizes are the issue's own where they are cheap (1,100 attacking
//! connections); `LD_TOWER_SOAK=1` runs the same tests longer and harder
//! (see the README's "Soak tests").
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{frame, read_exact, serve, wire, ServeProcess, DEADLINE, END};
use ld_tower::codec::Framing;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "attack-test-token";

/// Whether the soak sizes were asked for.
fn soak() -> bool {
    std::env::var_os("LD_TOWER_SOAK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `actions` as a framed request, in an envelope when `token` is given.
fn request(token: Option<&str>, actions: &Value) -> Vec<u8> {
    let body = match token {
        Some(token) => json!({"token": token, "command": actions}).to_string(),
        None => actions.to_string(),
    };
    frame(body.as_bytes())
}

/// Reads one framed reply (frames until `END`); the lines without framing.
async fn read_reply(io: &mut TcpStream) -> std::io::Result<Vec<Vec<u8>>> {
    let mut lines = Vec::new();
    loop {
        let mut header = [0u8; 4];
        io.read_exact(&mut header).await?;
        let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
        io.read_exact(&mut body).await?;
        if body == END {
            return Ok(lines);
        }
        lines.push(body);
    }
}

/// One authenticated `LD_test_status` on a new connection, answered within
/// `within`: true if it was.
async fn served_within(addr: SocketAddr, token: Option<&str>, within: Duration) -> bool {
    let attempt = async {
        let mut io = TcpStream::connect(addr).await.ok()?;
        io.write_all(&request(token, &json!([["LD_test_status"]])))
            .await
            .ok()?;
        let lines = read_reply(&mut io).await.ok()?;
        let line = lines.first()?;
        serde_json::from_slice::<Value>(line)
            .ok()
            .filter(|v| v.get("running").is_some())
    };
    matches!(tokio::time::timeout(within, attempt).await, Ok(Some(_)))
}

/// Resident memory now and at its peak, in KiB.
fn memory(server: &ServeProcess) -> (u64, u64) {
    (server.status_kib("VmRSS"), server.status_kib("VmHWM"))
}

/// Attacking connections that send one-byte bad frames and never read a
/// byte of what comes back. Each keeps writing a bad frame every `every`;
/// when the server has closed it (a write fails), it connects again. Some
/// send a single bad frame and then only hold the connection, some send
/// nothing at all: every way of holding a place without being a client.
fn start_attackers(
    addr: SocketAddr,
    count: usize,
    every: Duration,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|i| {
            let (stop, connections) = (stop.clone(), connections.clone());
            tokio::spawn(async move {
                let bad = frame(b"x");
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut io) = TcpStream::connect(addr).await else {
                        tokio::time::sleep(every).await;
                        continue;
                    };
                    connections.fetch_add(1, Ordering::Relaxed);
                    let burst = match i % 3 {
                        0 => bad.repeat(200), // a burst of bad frames
                        1 => bad.clone(),     // one, then hold
                        _ => Vec::new(),      // nothing, just hold
                    };
                    if io.write_all(&burst).await.is_err() {
                        continue;
                    }
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(every).await;
                        // Probing by writing, never by reading.
                        let probe = if i % 3 == 2 { &b""[..] } else { &bad[..] };
                        if io.write_all(probe).await.is_err() || io.flush().await.is_err() {
                            break;
                        }
                        if i % 3 == 2 {
                            // A silent connection learns it was closed from a
                            // zero-length peek: nothing of a reply is consumed.
                            let mut one = [0u8; 1];
                            match tokio::time::timeout(Duration::from_millis(1), io.peek(&mut one))
                                .await
                            {
                                Ok(Ok(0)) | Ok(Err(_)) => break,
                                _ => {}
                            }
                        }
                    }
                }
            })
        })
        .collect()
}

async fn lockout_attack(token: Option<&'static str>) {
    // The issue's attack: 1,100 connections against the default cap of
    // 1,024. The soak: 4,000 for a minute against a cap of 5,000 (a flood
    // much larger than the cap, from addresses that cannot be told from a
    // client's, crowds clients out: size the cap above the flood).
    let (attackers, cap, seconds) = if soak() {
        (4_000, "5000", 60)
    } else {
        (1_100, "1024", 6)
    };
    let mut args = vec!["--framed", "--log", "warn", "--max-connections", cap];
    if let Some(token) = token {
        args.extend(["--token", token]);
    }
    let server = serve(&args);
    let addr = server.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let connections = Arc::new(AtomicUsize::new(0));
    let tasks = start_attackers(
        addr,
        attackers,
        Duration::from_millis(200),
        stop.clone(),
        connections.clone(),
    );
    // The attack is on: wait until the attackers hold more connections than
    // the server's cap (1024).
    let deadline = Instant::now() + DEADLINE;
    while connections.load(Ordering::Relaxed) < 1_100 {
        assert!(Instant::now() < deadline, "the attack never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let (mut asked, mut answered) = (0u32, 0u32);
    while started.elapsed() < Duration::from_secs(seconds) || asked < 100 {
        asked += 1;
        if served_within(addr, token, Duration::from_secs(1)).await {
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (rss, peak) = memory(&server);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    let made = connections.load(Ordering::Relaxed);
    eprintln!(
        "token={}: {answered}/{asked} answered within 1 s during {made} attacking connections; server RSS {rss} KiB, peak {peak} KiB",
        token.is_some()
    );
    assert!(
        f64::from(answered) >= 0.95 * f64::from(asked),
        "only {answered} of {asked} requests answered within a second"
    );
    assert!(peak < 256 * 1024, "the server grew to {peak} KiB");
    // And it is still serving once the attack is over.
    assert!(served_within(addr, token, DEADLINE).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_who_never_read_cannot_lock_out_an_authenticated_client() {
    lockout_attack(Some(TOKEN)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_who_never_read_cannot_lock_out_a_client_without_a_token_either() {
    lockout_attack(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_large_replies_are_cut_off_and_memory_stays_bounded() {
    // Authenticated attackers pipeline requests whose replies are large and
    // never read them; the server's budget for unsent replies is 16 MiB.
    let server = serve(&[
        "--framed",
        "--token",
        TOKEN,
        "--max-unsent-bytes",
        "16MiB",
        "--log",
        "warn",
    ]);
    let addr = server.addr();
    // A cheap request with a large reply: an unknown action whose 900 KB
    // name its failure repeats.
    let big = request(Some(TOKEN), &json!([["x".repeat(900_000)]]));
    let (attackers, requests) = if soak() { (1_000, 40) } else { (100, 4) };
    let mut holders = Vec::new();
    for _ in 0..attackers {
        let big = big.clone();
        holders.push(tokio::spawn(async move {
            // A small receive window: the replies back up in the server
            // rather than in this process's kernel buffers.
            let socket = tokio::net::TcpSocket::new_v4().ok()?;
            socket.set_recv_buffer_size(4096).ok()?;
            let mut io = socket.connect(addr).await.ok()?;
            for _ in 0..requests {
                // The server stops reading while its replies wait: a write
                // that cannot finish is as far as this client gets.
                if tokio::time::timeout(Duration::from_secs(2), io.write_all(&big))
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    break;
                }
            }
            Some(io)
        }));
    }
    // Without any bound, this would queue attackers x requests x 900 KB
    // (360 MB in CI). Meanwhile a client that reads is served.
    let mut asked = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(if soak() { 60 } else { 5 }) {
        asked += 1;
        assert!(
            served_within(addr, Some(TOKEN), DEADLINE).await,
            "request {asked} during the attack was not answered"
        );
    }
    let (rss, peak) = memory(&server);
    eprintln!("large unread replies: server RSS {rss} KiB, peak {peak} KiB");
    // The budgets: 16 MiB of replies, 64 MiB of requests held. Beyond them:
    // buffers' slack (at most as much again), connections being closed,
    // commands being parsed and run.
    let bound = if soak() { 512 } else { 200 };
    assert!(
        peak < bound * 1024,
        "the server grew to {peak} KiB (bound {bound} MiB) with a 16 MiB budget for unsent replies"
    );
    let log = server.stderr();
    assert!(
        log.contains("unsent replies over the server's budget"),
        "no connection was closed for its unread replies: {log}"
    );
    for holder in holders {
        holder.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_trickling_megabyte_requests_are_closed_past_the_budget() {
    // Each stranger declares a 1 MiB frame, sends 900 KB of it and holds:
    // 300 of them would hold 270 MB. The budget is 32 MiB.
    let server = serve(&[
        "--framed",
        "--token",
        TOKEN,
        "--max-partial-bytes",
        "32MiB",
        "--log",
        "warn",
    ]);
    let addr = server.addr();
    let count = if soak() { 1_000 } else { 300 };
    let mut header = (1024 * 1024u32).to_be_bytes().to_vec();
    header.extend(std::iter::repeat_n(b' ', 900_000));
    let mut strangers = Vec::new();
    for _ in 0..count {
        let Ok(mut io) = TcpStream::connect(addr).await else {
            continue;
        };
        if io.write_all(&header).await.is_ok() {
            strangers.push(io);
        }
        // A client is answered all along.
        if strangers.len() % 50 == 0 {
            assert!(served_within(addr, Some(TOKEN), DEADLINE).await);
        }
    }
    assert!(served_within(addr, Some(TOKEN), DEADLINE).await);
    let (rss, peak) = memory(&server);
    eprintln!("{count} partial requests: server RSS {rss} KiB, peak {peak} KiB");
    assert!(
        peak < 128 * 1024,
        "the server grew to {peak} KiB with a 32 MiB budget for partial requests"
    );
    assert!(
        server
            .stderr()
            .contains("requests held over the server's budget"),
        "{}",
        server.stderr()
    );
}

/// 16 levels of `LD_execute_action` around an action whose name is `n`
/// double quotes: every level used to escape the level below again.
fn nested_quotes(n: usize) -> Value {
    let mut actions = json!([["\"".repeat(n)]]);
    for _ in 0..16 {
        actions = json!([["LD_execute_action", {"action_list": actions}]]);
    }
    actions
}

#[tokio::test]
async fn nested_failures_are_quoted_once_not_escaped_at_every_level() {
    let server = serve(&["--framed", "--token", TOKEN, "--log", "warn"]);
    // 80 KB of request (each quote is `\"` in JSON): it killed the server.
    let actions = nested_quotes(40_000);
    let body = request(Some(TOKEN), &actions);
    assert!(body.len() > 80_000 && body.len() < 90_000, "{}", body.len());
    let mut io = TcpStream::connect(server.addr()).await.expect("connect");
    io.write_all(&body).await.expect("write");
    let lines = tokio::time::timeout(DEADLINE, read_reply(&mut io))
        .await
        .expect("a reply in time")
        .expect("a reply");
    // The line, built independently: each level's failure holds the level
    // below as JSON, and the innermost message once.
    let mut detail = json!([format!("Error: {}: unknown action", "\"".repeat(40_000))]);
    for _ in 0..15 {
        detail = json!([{
            "error": "LD_execute_action: 1 of 1 nested actions failed:",
            "results": detail,
        }]);
    }
    let want = format!("Error: LD_execute_action: 1 of 1 nested actions failed: {detail}\n");
    assert_eq!(lines.len(), 1);
    assert_eq!(String::from_utf8_lossy(&lines[0]), want);
    assert!(lines[0].len() < 100_000, "{} bytes", lines[0].len());
    // Still serving, on the same connection.
    io.write_all(&request(Some(TOKEN), &json!([["LD_clear_records"]])))
        .await
        .expect("write");
    let want = wire(Framing::Framed, &[common::CLEARED, END]);
    assert_eq!(read_exact(&mut io, want.len()).await, want);
}

#[tokio::test]
async fn no_request_of_at_most_1_mib_gets_a_reply_past_the_limit() {
    let limit = 64 * 1024;
    let server = serve(&["--framed", "--max-reply-bytes", "64KiB", "--log", "warn"]);
    let mut io = TcpStream::connect(server.addr()).await.expect("connect");
    // A 1 MiB request of the cheapest actions with the largest replies
    // (~170 bytes of summary for 14 bytes of request: 12 MB unbounded).
    let one = json!(["LD_summary"]);
    let count = (1024 * 1024 - 64) / (one.to_string().len() + 1);
    let actions = json!(vec![one; count]);
    let body = frame(actions.to_string().as_bytes());
    assert!(body.len() <= 1024 * 1024, "{}", body.len());
    io.write_all(&body).await.expect("write");
    let lines = tokio::time::timeout(DEADLINE, read_reply(&mut io))
        .await
        .expect("a reply in time")
        .expect("a reply");
    let total: usize = lines.iter().map(Vec::len).sum();
    assert!(
        total <= limit,
        "{total} bytes of reply over a limit of {limit}"
    );
    let summaries = lines.iter().filter(|l| l.starts_with(b"{")).count();
    assert!(summaries > 100, "{summaries} summaries fit");
    let text = |l: &Vec<u8>| String::from_utf8_lossy(l).into_owned();
    let n = lines.len();
    assert_eq!(
        text(&lines[n - 2]),
        "Error: LD_summary: its result is over what is left of the reply's limit of 65536 bytes (--max-reply-bytes)\n"
    );
    assert_eq!(
        text(&lines[n - 1]),
        format!(
            "Error: the reply reached its limit of 65536 bytes (--max-reply-bytes): {} more actions not run\n",
            count - summaries - 1
        )
    );
}

#[tokio::test]
async fn a_strangers_connection_closes_with_its_third_rejected_request() {
    let server = serve(&["--framed", "--token", TOKEN, "--log", "warn"]);
    let rejected = b"Error: request is not JSON: expected value at line 1 column 1\n";
    let mut stranger = TcpStream::connect(server.addr()).await.expect("connect");
    stranger
        .write_all(&frame(b"x").repeat(10))
        .await
        .expect("write");
    let mut got = Vec::new();
    tokio::time::timeout(DEADLINE, stranger.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .ok();
    let three: Vec<&[u8]> = [rejected.as_slice(), END].repeat(3);
    assert_eq!(
        got,
        wire(Framing::Framed, &three),
        "three replies, then closed"
    );
    // An admitted connection is answered however many mistakes it makes.
    let mut client = TcpStream::connect(server.addr()).await.expect("connect");
    client
        .write_all(&request(Some(TOKEN), &json!([["LD_clear_records"]])))
        .await
        .expect("write");
    read_reply(&mut client).await.expect("admitted");
    for _ in 0..10 {
        client.write_all(&frame(b"x")).await.expect("write");
        let lines = read_reply(&mut client).await.expect("still open");
        assert_eq!(lines, [rejected.to_vec()]);
    }
}

#[tokio::test]
async fn failed_authentications_are_logged_with_peer_and_reason_counted_and_slowed() {
    let server = serve(&["--framed", "--token", TOKEN]);
    let addr = server.addr();
    // A client admitted before the attack.
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client
        .write_all(&request(Some(TOKEN), &json!([["LD_clear_records"]])))
        .await
        .expect("write");
    read_reply(&mut client).await.expect("admitted");
    let mut answered_at = Vec::new();
    let start = Instant::now();
    for guess in 0..7 {
        let mut io = TcpStream::connect(addr).await.expect("connect");
        let body = request(Some(&format!("guess-{guess}")), &json!([["LD_summary"]]));
        io.write_all(&body).await.expect("write");
        let mut got = Vec::new();
        tokio::time::timeout(DEADLINE, io.read_to_end(&mut got))
            .await
            .expect("answered in time")
            .ok();
        assert_eq!(got, frame(b"Error: unauthorised\n"));
        answered_at.push(start.elapsed());
    }
    // Three free failures, then 250 ms after the 4th, 500 ms after the 5th
    // and 1 s after the 6th before the next attempt is even looked at: at
    // least 1.75 s for the seven.
    assert!(
        answered_at[6] >= Duration::from_millis(1_750),
        "not slowed: {answered_at:?}"
    );
    assert!(
        answered_at[3] < Duration::from_millis(250),
        "{answered_at:?}"
    );
    // The admitted client is not slowed with them.
    let before = Instant::now();
    client
        .write_all(&request(Some(TOKEN), &json!([["LD_clear_records"]])))
        .await
        .expect("write");
    read_reply(&mut client).await.expect("served");
    assert!(before.elapsed() < Duration::from_millis(250));
    let log = server.stderr();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("authentication refused"))
        .collect();
    assert_eq!(refusals.len(), 7, "{log}");
    for (n, line) in refusals.iter().enumerate() {
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("peer=127.0.0.1:"), "{line}");
        assert!(
            line.contains("wrong or malformed token") || line.contains("unauthorised"),
            "{line}"
        );
        assert!(
            line.contains(&format!("failures_from_address={}", n + 1)),
            "{line}"
        );
    }
    assert!(
        !log.contains("guess-"),
        "a presented token was logged: {log}"
    );
}

#[tokio::test]
async fn log_lines_cannot_be_forged_by_what_a_client_sends() {
    let server = serve(&["--framed", "--log", "info,ld_tower_layers=info"]);
    let forged = "LD_x\n2026-11-27T00:00:00.000000Z  INFO forged: request served\u{1b}[1A\u{1b}[2K";
    let mut io = TcpStream::connect(server.addr()).await.expect("connect");
    io.write_all(&request(None, &json!([[forged]])))
        .await
        .expect("write");
    let lines = read_reply(&mut io).await.expect("reply");
    assert_eq!(lines.len(), 1);
    drop(io);
    // The log line is written when the reply is: wait for it.
    let deadline = Instant::now() + DEADLINE;
    let log = loop {
        let log = server.stderr();
        if log.contains("LD_x") {
            break log;
        }
        assert!(Instant::now() < deadline, "no log line: {log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        !log.lines().any(|l| l.starts_with("2026-11-27T00:00:00")),
        "a forged line: {log}"
    );
    assert!(!log.contains('\u{1b}'), "a raw escape sequence: {log:?}");
    assert!(
        log.contains(r"what=LD_x\n2026-11-27T00:00:00.000000Z  INFO forged: request served\u{1b}"),
        "{log}"
    );
}
