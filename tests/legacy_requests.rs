//! Legacy framing against a real `ld-tower serve` process, with a raw TCP
//! client, byte for byte: bytes that can no longer become a request are
//! answered at once (as the original answered its single read); a valid
//! prefix waits for the rest, and is answered with its parse error at the
//! read timeout if the rest never comes; others are served meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{CLEARED, DEADLINE, END};

/// A raw connection to the server, reads bounded by `DEADLINE`.
fn connect(port: u16) -> TcpStream {
    let tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    tcp.set_nodelay(true).expect("nodelay");
    tcp
}

/// Everything the server sends until it closes (within `DEADLINE`).
fn read_to_close(tcp: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tcp.read_to_end(&mut out)
        .expect("the server replies and closes in time");
    out
}

/// Whether the server has sent nothing (and not closed) for `wait`.
fn silent_for(tcp: &mut TcpStream, wait: Duration) -> bool {
    tcp.set_read_timeout(Some(wait)).expect("timeout");
    let mut byte = [0u8; 1];
    let silent = matches!(
        tcp.read(&mut byte),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
    );
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    silent
}

fn reply(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = lines.concat();
    out.extend_from_slice(END);
    out
}

#[test]
fn bytes_that_cannot_become_json_are_answered_at_once() {
    // A read timeout far longer than the deadline: a reply that waited for
    // it would fail the test.
    let server = common::serve(&["--read-timeout", "60s"]);
    let cases: [(&[u8], &[u8]); 5] = [
        (
            b"{bad",
            b"Error: request is not JSON: key must be a string at line 1 column 2\n",
        ),
        (
            b"]",
            b"Error: request is not JSON: expected value at line 1 column 1\n",
        ),
        (
            b"{\"a\":1}}",
            b"Error: request is not JSON: trailing characters at line 1 column 8\n",
        ),
        (
            b"[[\"LD_summary\"] x",
            b"Error: request is not JSON: expected `,` or `]` at line 1 column 17\n",
        ),
        (
            b"[\"caf\xc3",
            b"Error: request is not UTF-8 text (invalid byte at offset 5)\n",
        ),
    ];
    for (request, error) in cases {
        let began = Instant::now();
        let mut tcp = connect(server.port);
        // The client keeps its side open: only the server can end this.
        tcp.write_all(request).expect("write");
        if request.ends_with(b"\xc3") {
            // The rest of a multi-byte character waits; a byte that cannot
            // continue it does not.
            assert!(silent_for(&mut tcp, Duration::from_millis(200)));
            tcp.write_all(b"(").expect("write");
        }
        assert_eq!(
            read_to_close(&mut tcp),
            reply(&[error]),
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert!(began.elapsed() < DEADLINE);
    }
}

#[test]
fn a_valid_prefix_split_over_several_writes_is_answered_once_complete() {
    let server = common::serve(&["--read-timeout", "60s"]);
    let mut tcp = connect(server.port);
    // Braces and brackets inside strings, an escaped quote, and "é" split
    // between its two bytes.
    let parts: [&[u8]; 5] = [
        b"  [[\"LD_clear_records\"], [\"LD_summary\", {\"success\": [{\"name\": \"{[\\\"",
        b"caf\xc3",
        b"\xa9]}\", \"response_time_ms\": 1",
        b"2}], \"failures\": []}]",
        b"]",
    ];
    for part in parts {
        assert!(
            silent_for(&mut tcp, Duration::from_millis(150)),
            "answered early"
        );
        tcp.write_all(part).expect("write");
    }
    let summary = concat!(
        r#"{"totals":{"requests":1,"successes":1,"failures":0,"failure_rate":0.0},"#,
        r#""latency_overall":{"count":1,"p50_ms":12.0,"p90_ms":12.0,"p95_ms":12.0,"p99_ms":12.0,"max_ms":12.0},"#,
        r#""per_name":{"{[\"café]}":{"count":1,"successes":1,"failures":0,"min_ms":12.0,"max_ms":12.0,"mean_ms":12.0,"p50_ms":12.0,"p90_ms":12.0,"p95_ms":12.0,"p99_ms":12.0}}}"#,
        "\n"
    );
    assert_eq!(
        read_to_close(&mut tcp),
        reply(&[CLEARED, summary.as_bytes()])
    );
}

#[test]
fn a_prefix_never_completed_is_answered_at_the_read_timeout_and_others_are_served_meanwhile() {
    let read_timeout = Duration::from_secs(2);
    let server = common::serve(&["--read-timeout", "2s"]);
    let began = Instant::now();
    let mut slow = connect(server.port);
    slow.write_all(br#"{"load_density": [["LD_sum"#)
        .expect("write");
    let mut blank = connect(server.port);
    blank.write_all(b" \r\n\t").expect("write");
    // Meanwhile a well-behaved client is served at once, in both halves of
    // a split request.
    let mut good = connect(server.port);
    good.write_all(br#"[["LD_clear"#).expect("write");
    assert!(silent_for(&mut good, Duration::from_millis(100)));
    good.write_all(br#"_records"]]"#).expect("write");
    assert_eq!(read_to_close(&mut good), reply(&[CLEARED]));
    assert!(
        began.elapsed() < read_timeout,
        "the good client waited for the timeout"
    );
    assert!(silent_for(&mut slow, Duration::from_millis(100)));
    // At the read timeout: the parse error of what was sent, then the close.
    assert_eq!(
        read_to_close(&mut slow),
        reply(&[b"Error: request is not JSON: EOF while parsing a string at line 1 column 26\n"])
    );
    assert!(began.elapsed() >= read_timeout);
    // Whitespace alone is nothing: closed without a reply.
    assert_eq!(read_to_close(&mut blank), b"");
}
