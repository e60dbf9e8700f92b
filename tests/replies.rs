//! Every row of PROTOCOL.md's reply table, byte for byte, in both framings,
//! plain and TLS, against a real server task on a loopback port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{exchange, read_all, start, wire, Options, END};
use ld_tower::codec::Framing;
use ld_tower::server::Limits;
use tokio::io::AsyncWriteExt;

const SUMMARY: &[u8] = br#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}
"#;
const CLEARED: &[u8] = b"{\"status\":\"cleared\"}\n";

/// One row: the request body and the reply pieces; every case reads until
/// the server closes (legacy always closes; framed rows here send one
/// request and then close their side, so the server closes after replying).
struct Row {
    what: &'static str,
    request: &'static [u8],
    reply: Vec<&'static [u8]>,
}

fn open_rows() -> Vec<Row> {
    vec![
        Row {
            what: "actions, each succeeding",
            request: br#"{"load_density": [["LD_summary", {}], ["LD_clear_records"]]}"#,
            reply: vec![SUMMARY, CLEARED, END],
        },
        Row {
            what: "bare list, identical actions each get a line",
            request: br#"[["LD_clear_records"], ["LD_clear_records"]]"#,
            reply: vec![CLEARED, CLEARED, END],
        },
        Row {
            what: "an action fails, the rest still run",
            request: br#"[["LD_nope", {}], ["LD_clear_records", {"x": 1}], 7, ["LD_clear_records"]]"#,
            reply: vec![
                b"Error: LD_nope: unknown action\n",
                b"Error: LD_clear_records: takes no arguments\n",
                b"Error: action 3: an action is [\"NAME\"], [\"NAME\", {keyword args}] or [\"NAME\", [positional args]]\n",
                CLEARED,
                END,
            ],
        },
        Row {
            what: "not JSON",
            request: b"not json",
            reply: vec![b"Error: request is not JSON: expected ident at line 1 column 2\n", END],
        },
        Row {
            what: "not UTF-8",
            request: b"[\"\xff\"]",
            reply: vec![b"Error: request is not UTF-8 text (invalid byte at offset 2)\n", END],
        },
        Row {
            what: "JSON that is no action list ({\"op\": \"quit\"} is no envelope)",
            request: br#"{"op": "quit"}"#,
            reply: vec![
                b"Error: not an action list: expected {\"load_density\": [[\"NAME\", {...}], ...]} or [[\"NAME\", {...}], ...]\n",
                END,
            ],
        },
        Row {
            what: "an empty action list",
            request: br#"{"load_density": []}"#,
            reply: vec![b"Error: the action list is empty\n", END],
        },
        Row {
            what: "envelope without command, no token configured",
            request: br#"{"token": "anything"}"#,
            reply: vec![END],
        },
        Row {
            what: "envelope with command, no token configured (token ignored)",
            request: br#"{"token": 5, "command": [["LD_clear_records"]]}"#,
            reply: vec![CLEARED, END],
        },
    ]
}

fn token_rows() -> Vec<Row> {
    vec![
        Row {
            what: "token configured, quit_server",
            request: b"quit_server",
            reply: vec![b"Error: token required\n"],
        },
        Row {
            what: "token configured, bare actions",
            request: br#"{"load_density": [["LD_summary", {}]]}"#,
            reply: vec![b"Error: token required\n"],
        },
        Row {
            what: "envelope with a wrong token",
            request: br#"{"token": "wrong", "command": [["LD_summary"]]}"#,
            reply: vec![b"Error: unauthorised\n"],
        },
        Row {
            what: "envelope with a longer token sharing the prefix",
            request: br#"{"token": "s3cret-and-more", "command": [["LD_summary"]]}"#,
            reply: vec![b"Error: unauthorised\n"],
        },
        Row {
            what: "envelope without a token",
            request: br#"{"command": [["LD_summary"]]}"#,
            reply: vec![b"Error: unauthorised\n"],
        },
        Row {
            what: "envelope with a non-string token",
            request: br#"{"token": ["s3cret"], "op": "quit"}"#,
            reply: vec![b"Error: unauthorised\n"],
        },
        Row {
            what: "wrong token asking to quit",
            request: br#"{"token": "nope", "op": "quit"}"#,
            reply: vec![b"Error: unauthorised\n"],
        },
        Row {
            what: "right token",
            request: br#"{"token": "s3cret", "command": {"load_density": [["LD_summary", {}]]}}"#,
            reply: vec![SUMMARY, END],
        },
        Row {
            what: "second accepted token (rotation)",
            request: br#"{"token": "n3xt", "command": [["LD_clear_records"]]}"#,
            reply: vec![CLEARED, END],
        },
        Row {
            what: "right token, envelope without command",
            request: br#"{"token": "s3cret"}"#,
            reply: vec![END],
        },
        Row {
            what: "right token, not JSON is still a JSON error",
            request: b"{\"token\": \"s3cret\", }",
            reply: vec![
                b"Error: request is not JSON: trailing comma at line 1 column 21\n",
                END,
            ],
        },
    ]
}

async fn check_rows(framing: Framing, tls: bool, tokens: Vec<&'static str>, rows: Vec<Row>) {
    // The refusals below come one after the other from one address: not
    // slowed here (tests/attacks.rs shows the slowing).
    let mut limits = Limits::default();
    limits.auth_backoff.free_failures = u32::MAX;
    let server = start(Options {
        framing,
        tls,
        tokens: tokens.clone(),
        limits: Some(limits),
        ..Options::default()
    })
    .await;
    for row in rows {
        let mut io = server.connect().await;
        let request = match framing {
            Framing::Framed => common::frame(row.request),
            Framing::Legacy => row.request.to_vec(),
        };
        io.write_all(&request).await.expect("write");
        // Framed connections stay open: close our side so the server closes after replying.
        if framing == Framing::Framed {
            io.shutdown().await.expect("shutdown");
        }
        let got = read_all(&mut io).await;
        let want = wire(framing, &row.reply);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{framing:?} tls={tls}: {}",
            row.what
        );
    }
    // The server is still serving after all of it, and keeps a framed connection open.
    let body = match tokens.first() {
        Some(token) => format!(r#"{{"token":"{token}","command":[["LD_clear_records"]]}}"#),
        None => r#"[["LD_clear_records"]]"#.to_owned(),
    };
    let request = match framing {
        Framing::Framed => common::frame(body.as_bytes()),
        Framing::Legacy => body.into_bytes(),
    };
    let mut io = server.connect().await;
    let want = wire(framing, &[CLEARED, END]);
    for _ in 0..if framing == Framing::Framed { 2 } else { 1 } {
        io.write_all(&request).await.expect("write");
        assert_eq!(common::read_exact(&mut io, want.len()).await, want);
    }
}

macro_rules! table_tests {
    ($($name:ident: $framing:expr, $tls:expr;)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "current_thread")]
            async fn without_token() {
                check_rows($framing, $tls, vec![], open_rows()).await;
            }

            #[tokio::test(flavor = "current_thread")]
            async fn with_token() {
                check_rows($framing, $tls, vec!["s3cret", "n3xt"], token_rows()).await;
            }

            #[tokio::test(flavor = "current_thread")]
            async fn empty_request_gets_nothing() {
                let server = start(Options { framing: $framing, tls: $tls, ..Options::default() }).await;
                let mut io = server.connect().await;
                io.shutdown().await.expect("shutdown");
                assert_eq!(read_all(&mut io).await, b"");
            }
        }
    )*};
}

table_tests! {
    legacy_plain: Framing::Legacy, false;
    legacy_tls: Framing::Legacy, true;
    framed_plain: Framing::Framed, false;
    framed_tls: Framing::Framed, true;
}

#[tokio::test]
async fn legacy_whitespace_only_gets_nothing() {
    let server = start(Options::default()).await;
    let mut io = server.connect().await;
    io.write_all(b" \n\t").await.expect("write");
    io.shutdown().await.expect("shutdown");
    assert_eq!(read_all(&mut io).await, b"");
}

#[tokio::test]
async fn framed_zero_and_oversized_lengths_close_without_reply() {
    let server = start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    for header in [[0u8, 0, 0, 0], [0, 0x10, 0, 1], [0xff, 0xff, 0xff, 0xff]] {
        let mut io = server.connect().await;
        // A valid request first: its reply still comes before the close.
        let mut bytes = common::frame(br#"[["LD_clear_records"]]"#);
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(b"body that must never be read");
        let got = exchange(&mut io, &bytes).await;
        assert_eq!(
            got,
            wire(Framing::Framed, &[CLEARED, END]),
            "header {header:?}"
        );
    }
    // Exactly 1 MiB is accepted (and answered as not JSON).
    let mut io = server.connect().await;
    let mut bytes = common::frame(&vec![b'x'; 1024 * 1024]);
    io.write_all(&bytes[..4]).await.expect("write");
    bytes.drain(..4);
    io.write_all(&bytes).await.expect("write");
    let want = wire(
        Framing::Framed,
        &[
            b"Error: request is not JSON: expected value at line 1 column 1\n",
            END,
        ],
    );
    assert_eq!(common::read_exact(&mut io, want.len()).await, want);
}

#[tokio::test]
async fn quit_over_framed_envelope_replies_then_shuts_down() {
    let server = start(Options {
        framing: Framing::Framed,
        tokens: vec!["s3cret"],
        ..Options::default()
    })
    .await;
    let mut idle = server.connect().await;
    let mut io = server.connect().await;
    let got = exchange(
        &mut io,
        &common::frame(br#"{"token": "s3cret", "op": "quit"}"#),
    )
    .await;
    assert_eq!(got, wire(Framing::Framed, &[b"Server shutting down\n"]));
    tokio::time::timeout(common::DEADLINE, server.handle)
        .await
        .expect("server stopped in time")
        .expect("server task")
        .expect("server result");
    // The idle client was closed, not waited for.
    assert_eq!(read_all(&mut idle).await, b"");
}

#[tokio::test]
async fn quit_server_word_without_token_replies_then_shuts_down() {
    let server = start(Options::default()).await;
    let mut io = server.connect().await;
    let got = exchange(&mut io, b"quit_server").await;
    assert_eq!(got, b"Server shutting down\n");
    tokio::time::timeout(common::DEADLINE, server.handle)
        .await
        .expect("server stopped in time")
        .expect("server task")
        .expect("server result");
}
