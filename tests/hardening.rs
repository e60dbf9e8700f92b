//! Framing edge cases, limits, timeouts, shutdown with commands in flight,
//! and hostile input, against real server tasks on loopback ports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    assert_clears, exchange, frame, read_all, read_exact, start, start_with, wire, Options,
    CLEARED, DEADLINE, END,
};
use ld_tower::actions::{ActionError, Args, Registry};
use ld_tower::codec::Framing;
use ld_tower::control::Control;
use ld_tower::server::Limits;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

fn limits(f: impl FnOnce(&mut Limits)) -> Option<Limits> {
    let mut limits = Limits::default();
    f(&mut limits);
    Some(limits)
}

/// A control service with `TEST_wait`: it signals `started`, then waits for
/// `release` and returns "done".
fn control_with_wait(started: Arc<Notify>, release: Arc<Notify>) -> Control {
    let mut registry = Registry::with_builtins();
    registry.register("TEST_wait", move |_ctx, _args: Args| {
        let (started, release) = (started.clone(), release.clone());
        async move {
            started.notify_one();
            release.notified().await;
            Ok::<Value, ActionError>(json!("done"))
        }
    });
    Control::new(registry)
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    let mut io = server.connect().await;
    let requests: [&[u8]; 4] = [
        br#"[["LD_clear_records"]]"#,
        b"not json",
        br#"[["LD_nope"]]"#,
        br#"{"token": "x"}"#,
    ];
    let bytes: Vec<u8> = requests.iter().flat_map(|r| frame(r)).collect();
    let got = exchange(&mut io, &bytes).await;
    let want = [
        wire(Framing::Framed, &[CLEARED, END]),
        wire(
            Framing::Framed,
            &[
                b"Error: request is not JSON: expected ident at line 1 column 2\n",
                END,
            ],
        ),
        wire(Framing::Framed, &[b"Error: LD_nope: unknown action\n", END]),
        wire(Framing::Framed, &[END]),
    ]
    .concat();
    assert_eq!(got, want);
}

#[tokio::test]
async fn legacy_request_split_across_segments() {
    let server = start(Options::default()).await;
    let mut io = server.connect().await;
    for part in [
        &b"{\"load_density\": [[\"LD_cle"[..],
        b"ar_records\"",
        b"]]}",
    ] {
        io.write_all(part).await.expect("write");
        io.flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(read_all(&mut io).await, [CLEARED, END].concat());
    let mut io = server.connect().await;
    io.write_all(b"quit_").await.expect("write");
    io.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(30)).await;
    io.write_all(b"server").await.expect("write");
    assert_eq!(read_all(&mut io).await, b"Server shutting down\n");
}

#[tokio::test]
async fn half_a_header_then_silence_is_dropped_after_the_read_timeout() {
    let read_timeout = Duration::from_millis(600);
    let server = start(Options {
        framing: Framing::Framed,
        limits: limits(|l| l.read_timeout = read_timeout),
        ..Options::default()
    })
    .await;
    let began = Instant::now();
    let mut slow = server.connect().await;
    slow.write_all(&[0, 0]).await.expect("write");
    // Meanwhile others are served.
    for _ in 0..5 {
        let mut io = server.connect().await;
        assert_clears(&mut io).await;
    }
    assert_eq!(read_all(&mut slow).await, b"");
    assert!(
        began.elapsed() >= read_timeout,
        "closed before the read timeout"
    );
}

#[tokio::test]
async fn an_idle_framed_connection_is_closed_after_the_read_timeout_but_not_while_a_command_runs() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let read_timeout = Duration::from_millis(300);
    let server = start_with(
        Options {
            framing: Framing::Framed,
            limits: limits(|l| l.read_timeout = read_timeout),
            ..Options::default()
        },
        control_with_wait(started.clone(), release.clone()),
    )
    .await;
    let mut io = server.connect().await;
    io.write_all(&frame(br#"[["TEST_wait"]]"#))
        .await
        .expect("write");
    started.notified().await;
    // Longer than the read timeout with the command in flight: the connection stays.
    tokio::time::sleep(read_timeout * 3).await;
    release.notify_one();
    let want = wire(Framing::Framed, &[b"done\n", END]);
    assert_eq!(read_exact(&mut io, want.len()).await, want);
    // Idle now: closed after the read timeout.
    assert_eq!(read_all(&mut io).await, b"");
}

#[tokio::test]
async fn at_the_cap_a_newcomer_takes_the_place_of_the_longest_idle_connection() {
    let server = start(Options {
        framing: Framing::Framed,
        limits: limits(|l| l.max_connections = 2),
        ..Options::default()
    })
    .await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    assert_clears(&mut a).await;
    assert_clears(&mut b).await;
    // Full, both idle: the newcomer is served, and `a`, idle the longest, closed.
    let mut c = server.connect().await;
    assert_clears(&mut c).await;
    assert_eq!(
        read_all(&mut a).await,
        b"",
        "the longest idle connection is closed"
    );
    assert_clears(&mut b).await;
    assert_clears(&mut c).await;
}

#[tokio::test]
async fn at_the_cap_connections_running_commands_are_never_closed_for_a_newcomer() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let server = start_with(
        Options {
            framing: Framing::Framed,
            limits: limits(|l| {
                l.max_connections = 2;
                l.max_in_flight = 1;
            }),
            ..Options::default()
        },
        control_with_wait(started.clone(), release.clone()),
    )
    .await;
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut io = server.connect().await;
        io.write_all(&frame(br#"[["TEST_wait"]]"#))
            .await
            .expect("write");
        started.notified().await;
        busy.push(io);
    }
    let mut c = server.connect().await;
    let _ = c.write_all(&frame(br#"[["LD_clear_records"]]"#)).await;
    assert_eq!(
        read_all(&mut c).await,
        b"",
        "with every place running a command, the newcomer is closed without a reply"
    );
    release.notify_waiters();
    release.notify_one();
    let want = wire(Framing::Framed, &[b"done\n", END]);
    for io in &mut busy {
        assert_eq!(read_exact(io, want.len()).await, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_clients_are_all_answered() {
    let server = start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    let addr = server.addr;
    let mut tasks = Vec::new();
    for i in 0..1000u32 {
        tasks.push(tokio::spawn(async move {
            let mut io = common::connect(addr, None).await;
            let body = format!(r#"[["LD_execute_action", {{"action_list": [["LD_clear_records"]]}}], ["LD_nope{i}"]]"#);
            exchange(&mut io, &frame(body.as_bytes())).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let got = task.await.expect("client task");
        let nope = format!("Error: LD_nope{i}: unknown action\n");
        let want = wire(
            Framing::Framed,
            &[b"[{\"status\":\"cleared\"}]\n", nope.as_bytes(), END],
        );
        assert_eq!(got, want, "client {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_and_resets_never_crash_it() {
    for framing in [Framing::Framed, Framing::Legacy] {
        let server = start(Options {
            framing,
            limits: limits(|l| l.read_timeout = Duration::from_millis(500)),
            ..Options::default()
        })
        .await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let len = rng.gen_range(0..70_000);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if i % 4 == 0 && bytes.len() >= 4 {
                // A plausible header announcing a big frame, then garbage.
                bytes[..4].copy_from_slice(&(1024u32 * 1024).to_be_bytes());
            }
            let reset = i % 3 == 0;
            let addr = server.addr;
            tasks.push(tokio::spawn(async move {
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let mut tcp = tcp;
                let _ = tcp.write_all(&bytes).await;
                if reset {
                    common::reset(tcp);
                } else {
                    let _ = tcp.shutdown().await;
                    let mut sink = Vec::new();
                    let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut sink)).await;
                }
            }));
        }
        for task in tasks {
            task.await.expect("client task");
        }
        assert!(
            !server.handle.is_finished(),
            "{framing:?}: the server stopped"
        );
        let mut io = server.connect().await;
        let request = match framing {
            Framing::Framed => frame(br#"[["LD_clear_records"]]"#),
            Framing::Legacy => br#"[["LD_clear_records"]]"#.to_vec(),
        };
        io.write_all(&request).await.expect("write");
        let want = wire(framing, &[CLEARED, END]);
        assert_eq!(read_exact(&mut io, want.len()).await, want, "{framing:?}");
    }
}

#[tokio::test]
async fn a_reset_in_the_middle_of_a_large_reply_harms_nobody() {
    let server = start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    // 2,000 actions make a reply of about 80 KB; reset without reading it.
    let actions: Vec<Value> = (0..2000).map(|_| json!(["LD_summary"])).collect();
    let body = Value::Array(actions).to_string();
    for _ in 0..20 {
        let tcp = TcpStream::connect(server.addr).await.expect("connect");
        let mut tcp = tcp;
        tcp.write_all(&frame(body.as_bytes())).await.expect("write");
        let mut first = [0u8; 4];
        tcp.read_exact(&mut first).await.expect("reply starts");
        common::reset(tcp);
    }
    let mut io = server.connect().await;
    assert_clears(&mut io).await;
}

#[tokio::test]
async fn requests_over_the_configured_size_get_an_error_and_the_connection_stays() {
    let server = start(Options {
        framing: Framing::Framed,
        max_request_bytes: Some(64),
        ..Options::default()
    })
    .await;
    let mut io = server.connect().await;
    let big = format!(r#"[["LD_clear_records"]{}]"#, " ".repeat(100));
    io.write_all(&frame(big.as_bytes())).await.expect("write");
    let want = wire(
        Framing::Framed,
        &[
            b"Error: request of 122 bytes is over the limit of 64 bytes\n",
            END,
        ],
    );
    assert_eq!(read_exact(&mut io, want.len()).await, want);
    assert_clears(&mut io).await;
}

#[tokio::test]
async fn a_command_over_the_timeout_is_answered_with_an_error() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let server = start_with(
        Options {
            framing: Framing::Framed,
            command_timeout: Some(Duration::from_millis(200)),
            ..Options::default()
        },
        control_with_wait(started, release),
    )
    .await;
    let mut io = server.connect().await;
    io.write_all(&frame(br#"[["TEST_wait"]]"#))
        .await
        .expect("write");
    let want = wire(Framing::Framed, &[b"Error: timed out after 200ms\n", END]);
    assert_eq!(read_exact(&mut io, want.len()).await, want);
    // The connection still serves.
    assert_clears(&mut io).await;
}

#[tokio::test]
async fn the_command_timeout_cuts_a_long_list_of_busy_actions_between_two_of_them() {
    // Each TEST_busy keeps its thread for 5 ms without yielding, as a costly
    // action would: 2,000 of them are 10 s of work in one command.
    let mut registry = Registry::with_builtins();
    registry.register("TEST_busy", |_ctx, _args: Args| async {
        std::thread::sleep(Duration::from_millis(5));
        Ok::<Value, ActionError>(json!("busy"))
    });
    let server = start_with(
        Options {
            framing: Framing::Framed,
            command_timeout: Some(Duration::from_millis(200)),
            ..Options::default()
        },
        Control::new(registry),
    )
    .await;
    let mut io = server.connect().await;
    let actions = json!(vec![json!(["TEST_busy"]); 2_000]).to_string();
    io.write_all(&frame(actions.as_bytes()))
        .await
        .expect("write");
    // Without a yield between actions, the timer could never fire: the
    // reply would be 2,000 lines of `busy`, 10 s later.
    let want = wire(Framing::Framed, &[b"Error: timed out after 200ms\n", END]);
    assert_eq!(read_exact(&mut io, want.len()).await, want);
    assert_clears(&mut io).await;
}

#[tokio::test]
async fn shutdown_lets_a_command_in_flight_finish_and_closes_idle_clients_at_once() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let server = start_with(
        Options {
            framing: Framing::Framed,
            ..Options::default()
        },
        control_with_wait(started.clone(), release.clone()),
    )
    .await;
    let mut idle = server.connect().await;
    let mut busy = server.connect().await;
    busy.write_all(&frame(br#"[["TEST_wait"]]"#))
        .await
        .expect("write");
    started.notified().await;
    server.shutdown();
    // The idle client is closed while the command still runs.
    assert_eq!(read_all(&mut idle).await, b"");
    assert!(!server.handle.is_finished());
    // New connections are refused.
    assert!(
        TcpStream::connect(server.addr).await.is_err() || {
            let mut late = common::connect(server.addr, None).await;
            read_all(&mut late).await.is_empty()
        }
    );
    release.notify_one();
    assert_eq!(
        read_all(&mut busy).await,
        wire(Framing::Framed, &[b"done\n", END])
    );
    tokio::time::timeout(DEADLINE, server.handle)
        .await
        .expect("stopped in time")
        .expect("task")
        .expect("result");
}

#[tokio::test]
async fn after_the_grace_period_commands_are_cancelled() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let grace = Duration::from_millis(300);
    let server = start_with(
        Options {
            framing: Framing::Framed,
            limits: limits(|l| l.grace_period = grace),
            ..Options::default()
        },
        control_with_wait(started.clone(), release),
    )
    .await;
    let mut busy = server.connect().await;
    busy.write_all(&frame(br#"[["TEST_wait"]]"#))
        .await
        .expect("write");
    started.notified().await;
    let began = Instant::now();
    server.shutdown();
    tokio::time::timeout(DEADLINE, server.handle)
        .await
        .expect("stopped in time")
        .expect("task")
        .expect("result");
    assert!(began.elapsed() >= grace, "stopped before the grace period");
    assert_eq!(read_all(&mut busy).await, b"");
}

#[tokio::test]
async fn a_thousand_idle_connections_never_delay_a_working_one() {
    let server = start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..1000 {
        idle.push(
            TcpStream::connect(server.addr)
                .await
                .expect("idle connection"),
        );
    }
    let mut io = server.connect().await;
    for _ in 0..3 {
        assert_clears(&mut io).await;
    }
}

#[tokio::test]
async fn a_quit_request_lets_a_command_in_flight_finish() {
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let server = start_with(
        Options {
            framing: Framing::Framed,
            tokens: vec!["s3cret"],
            ..Options::default()
        },
        control_with_wait(started.clone(), release.clone()),
    )
    .await;
    let mut busy = server.connect().await;
    busy.write_all(&frame(
        br#"{"token": "s3cret", "command": [["TEST_wait"]]}"#,
    ))
    .await
    .expect("write");
    started.notified().await;
    let mut quitter = server.connect().await;
    let got = exchange(
        &mut quitter,
        &frame(br#"{"token": "s3cret", "op": "quit"}"#),
    )
    .await;
    assert_eq!(got, wire(Framing::Framed, &[b"Server shutting down\n"]));
    assert!(
        !server.handle.is_finished(),
        "the server did not wait for the command"
    );
    release.notify_one();
    assert_eq!(
        read_all(&mut busy).await,
        wire(Framing::Framed, &[b"done\n", END])
    );
    tokio::time::timeout(DEADLINE, server.handle)
        .await
        .expect("stopped in time")
        .expect("task")
        .expect("result");
}

/// A control service with `TEST_big`: a result of `bytes` bytes, made at
/// once (no parsing, no work), so replies pile up as fast as requests come.
fn control_with_big(bytes: usize) -> Control {
    let text: Arc<str> = Arc::from("x".repeat(bytes));
    let mut registry = Registry::with_builtins();
    registry.register("TEST_big", move |_ctx, _args: Args| {
        let text = text.clone();
        async move { Ok::<Value, ActionError>(Value::String(text.to_string())) }
    });
    Control::new(registry).max_reply_bytes(bytes + 1024)
}

/// A connection that never reads: a tiny receive window, so what it is
/// sent stays in the server.
async fn non_reader(addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    socket.connect(addr).await.expect("connect")
}

/// Whether the server closed `io`. Draining what a closed connection still
/// holds through a 4 KiB window would take long: a byte is written first,
/// which a closed socket answers with a reset, and then the read fails at
/// once; an open one keeps sending and never ends.
async fn closed_by_server(io: &mut TcpStream) -> bool {
    // Part of a frame header: an open connection just waits for the rest.
    if io.write_all(&[0]).await.is_err() {
        return true;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut buf = vec![0u8; 1 << 16];
    let read = async {
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_millis(500), read)
        .await
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_takes_no_reply_byte_for_the_read_timeout_is_cut_off() {
    let read_timeout = Duration::from_millis(300);
    let (size, count) = (2 << 20, 8);
    let server = start_with(
        Options {
            framing: Framing::Framed,
            limits: limits(|l| l.read_timeout = read_timeout),
            ..Options::default()
        },
        control_with_big(size),
    )
    .await;
    let mut io = non_reader(server.addr).await;
    io.write_all(&frame(br#"[["TEST_big"]]"#).repeat(count))
        .await
        .expect("write");
    // Not reading: the replies cannot all be sent (the kernels' buffers take
    // about 3 MiB, and then no more). Then the peer reads, and finds the
    // connection was closed before the 16 MiB were all there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let eof = tokio::time::timeout(DEADLINE, async {
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(eof.is_ok(), "the connection was never closed");
    assert!(got < size * count, "every reply arrived: {got} bytes");
    // Others are served.
    let mut other = server.connect().await;
    assert_clears(&mut other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_replies_past_the_servers_budget_close_the_stalled_connections() {
    let server = start_with(
        Options {
            framing: Framing::Framed,
            limits: limits(|l| l.max_unsent_bytes = 4 << 20),
            ..Options::default()
        },
        control_with_big(2 << 20),
    )
    .await;
    // 10 connections that each ask for replies of 2 MiB and never read:
    // past what the kernel takes (a send buffer of 256 KiB, doubled), about
    // 1.5 MiB each stays in the server (the next request is not even read),
    // 15 MiB against a budget of 4 MiB.
    let request = frame(br#"[["TEST_big"]]"#).repeat(2);
    let mut attackers = Vec::new();
    for _ in 0..10 {
        let mut io = non_reader(server.addr).await;
        io.write_all(&request).await.expect("write");
        attackers.push(io);
    }
    // A reading client is served all along.
    let mut client = server.connect().await;
    assert_clears(&mut client).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_clears(&mut client).await;
    // Most attackers were closed, the biggest first, until the rest fit.
    let checks = attackers.iter_mut().map(closed_by_server);
    let closed = futures_util::future::join_all(checks)
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count();
    // Closing the biggest until 4 MiB are left: at least 6 of them.
    assert!(
        closed >= 6,
        "only {closed} of 10 stalled connections were closed"
    );
}
