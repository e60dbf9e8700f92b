//! TLS: old protocol versions refused, plain clients and silent handshakes
//! harmless, untrusted certificates refused, everyone else served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{assert_clears, exchange, frame, read_all, start, wire, Options, CLEARED, END};
use ld_tower::codec::Framing;
use ld_tower::server::Limits;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;

async fn tls_server(limits: Limits) -> common::InProcess {
    start(Options {
        framing: Framing::Framed,
        tls: true,
        limits: Some(limits),
        ..Options::default()
    })
    .await
}

async fn assert_served(server: &common::InProcess) {
    let mut io = server.connect().await;
    assert_clears(&mut io).await;
}

/// A ClientHello offering only `version` (0x0301 TLS 1.0, 0x0302 TLS 1.1,
/// 0x0303 TLS 1.2), with no supported_versions extension, as an old client
/// sends it; otherwise acceptable to a TLS 1.2 server (GCM suites, groups,
/// signature algorithms), so that the version alone decides.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
        out.extend_from_slice(&kind.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id
    let suites: [u8; 4] = [0xc0, 0x2b, 0xc0, 0x2f]; // ECDHE-ECDSA/RSA-AES128-GCM-SHA256
    body.extend_from_slice(&(suites.len() as u16).to_be_bytes());
    body.extend_from_slice(&suites);
    body.extend_from_slice(&[1, 0]); // null compression
    let mut extensions = Vec::new();
    extension(&mut extensions, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]); // groups: x25519, P-256
    extension(&mut extensions, 0x000b, &[1, 0]); // point formats: uncompressed
    extension(
        &mut extensions,
        0x000d,
        &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    ); // signature algorithms
    extension(&mut extensions, 0xff01, &[0]); // renegotiation_info
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![1u8]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn tls_1_0_and_1_1_are_refused() {
    let server = tls_server(Limits::default()).await;
    // The same hello offering TLS 1.2 is answered with a ServerHello: the version alone decides.
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    let got = exchange(&mut tcp, &client_hello([3, 3])).await;
    assert_eq!(
        got.first(),
        Some(&0x16),
        "the TLS 1.2 control hello was refused: {got:?}"
    );
    for version in [[3u8, 1], [3, 2]] {
        let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
        let got = exchange(&mut tcp, &client_hello(version)).await;
        // Never a ServerHello (a handshake record); at most an alert, then the close.
        assert!(
            got.first() != Some(&0x16),
            "{version:?}: the server answered the handshake: {got:?}"
        );
        if !got.is_empty() {
            assert_eq!(
                got[0], 0x15,
                "{version:?}: expected an alert record, got {got:?}"
            );
            assert_eq!(
                got.last(),
                Some(&70),
                "{version:?}: expected protocol_version (70), got {got:?}"
            );
        }
    }
    assert_served(&server).await;
}

#[tokio::test]
async fn a_plain_client_on_the_tls_port_does_no_harm() {
    let server = tls_server(Limits::default()).await;
    for request in [
        frame(br#"[["LD_clear_records"]]"#),
        b"quit_server".to_vec(),
        vec![0u8; 5000],
    ] {
        let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
        let got = exchange(&mut tcp, &request).await;
        assert!(
            !got.windows(END.len()).any(|w| w == END),
            "a plain client got a reply: {got:?}"
        );
    }
    assert!(!server.handle.is_finished());
    assert_served(&server).await;
}

#[tokio::test]
async fn a_silent_handshake_times_out_without_delaying_others() {
    let handshake_timeout = Duration::from_millis(500);
    let server = tls_server(Limits {
        handshake_timeout,
        ..Limits::default()
    })
    .await;
    let began = Instant::now();
    let mut silent: Vec<TcpStream> = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    // Others are served while 50 handshakes hang.
    for _ in 0..5 {
        assert_served(&server).await;
    }
    for tcp in &mut silent {
        assert_eq!(read_all(tcp).await, b"");
    }
    assert!(
        began.elapsed() >= handshake_timeout,
        "closed before the handshake timeout"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake_only() {
    let server = tls_server(Limits::default()).await;
    let stranger = common::tls_files();
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    assert!(stranger.connector().connect(name, tcp).await.is_err());
    assert_served(&server).await;
}

#[tokio::test]
async fn tls_replies_end_with_close_notify() {
    // Reading to the end through rustls succeeds only on a clean close_notify:
    // an unclean TCP close would be an UnexpectedEof error in read_all's loop,
    // which it treats as the end; so read with read_to_end and check the result.
    use tokio::io::AsyncReadExt;
    let server = tls_server(Limits::default()).await;
    let mut io = server.connect().await;
    io.write_all(&frame(br#"[["LD_clear_records"]]"#))
        .await
        .expect("write");
    io.shutdown().await.expect("shutdown");
    let mut got = Vec::new();
    let read = tokio::time::timeout(common::DEADLINE, io.read_to_end(&mut got))
        .await
        .expect("in time");
    assert!(read.is_ok(), "unclean TLS close: {read:?}");
    assert_eq!(got, wire(Framing::Framed, &[CLEARED, END]));
}
