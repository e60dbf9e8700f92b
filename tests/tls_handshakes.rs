//! The control socket's TLS handshakes, through a real `serve`: a client
//! that keeps its configuration resumes its next connections, over TLS 1.3
//! (stateless tickets) and TLS 1.2 (session ids and tickets); a client that
//! forgets its sessions, or a server that never issued them, gets a full
//! handshake; the server picks its own suite (AES-128-GCM) whatever the
//! client prefers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{frame, serve, tls_files, ServeProcess, TlsFiles, DEADLINE, END};
use ld_tower::client::{Client, ClientConfig, ClientTls};
use ld_tower::codec::Framing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::client::{Resumption, Tls12Resumption};
use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, CipherSuite, HandshakeKind, ProtocolVersion, RootCertStore};
use tokio_rustls::TlsConnector;

const TOKEN: &str = "resume-s3cret";
const SUMMARY: &str = r#"{"load_density": [["LD_summary", {}]]}"#;

fn tls_serve(files: &TlsFiles) -> ServeProcess {
    serve(&[
        "--framed",
        "--token",
        TOKEN,
        "--tls-cert",
        files.cert.to_str().unwrap(),
        "--tls-key",
        files.key.to_str().unwrap(),
    ])
}

/// A rustls client of `version` trusting the test CA; `resumption` as given.
fn connector(
    files: &TlsFiles,
    version: &'static rustls::SupportedProtocolVersion,
    resumption: Resumption,
) -> TlsConnector {
    connector_with(files, version, resumption, ld_tower::tls::provider())
}

/// [`connector`] with a provider of the test's choosing.
fn connector_with(
    files: &TlsFiles,
    version: &'static rustls::SupportedProtocolVersion,
    resumption: Resumption,
    provider: Arc<CryptoProvider>,
) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(files.ca_der.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = resumption;
    TlsConnector::from(Arc::new(config))
}

/// One connection: handshake, one framed `LD_summary` answered up to the
/// terminator (TLS 1.3 tickets arrive before the reply), close. Returns
/// the version and whether the handshake resumed.
async fn one_command(server: &ServeProcess, tls: &TlsConnector) -> (ProtocolVersion, bool) {
    let (version, resumed, _) = handshake_and_command(server, tls).await;
    (version, resumed)
}

/// [`one_command`], also returning the suite the server chose.
async fn handshake_and_command(
    server: &ServeProcess,
    tls: &TlsConnector,
) -> (ProtocolVersion, bool, CipherSuite) {
    let run = async {
        let tcp = TcpStream::connect(server.addr()).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut stream = tls.connect(name, tcp).await.expect("handshake");
        let (_, session) = stream.get_ref();
        let version = session.protocol_version().expect("a version");
        let resumed = session.handshake_kind() == Some(HandshakeKind::Resumed);
        let suite = session.negotiated_cipher_suite().expect("a suite").suite();
        let body = serde_json::json!({
            "token": TOKEN,
            "command": serde_json::from_str::<serde_json::Value>(SUMMARY).unwrap(),
        });
        stream
            .write_all(&frame(body.to_string().as_bytes()))
            .await
            .unwrap();
        let mut reply = Vec::new();
        while !reply.ends_with(END) {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed before the terminator: {reply:?}");
            reply.extend_from_slice(&chunk[..n]);
        }
        assert!(
            String::from_utf8_lossy(&reply).contains("totals"),
            "not a summary: {}",
            String::from_utf8_lossy(&reply)
        );
        stream.shutdown().await.unwrap();
        (version, resumed, suite)
    };
    tokio::time::timeout(DEADLINE, run).await.expect("in time")
}

/// The first connection of a client is a full handshake, the next ones resume.
async fn assert_resumes(server: &ServeProcess, tls: &TlsConnector, version: ProtocolVersion) {
    assert_eq!(one_command(server, tls).await, (version, false));
    for _ in 0..3 {
        assert_eq!(one_command(server, tls).await, (version, true));
    }
}

#[tokio::test]
async fn tls_1_3_clients_resume_from_tickets() {
    let files = tls_files();
    let server = tls_serve(&files);
    let tls = connector(&files, &rustls::version::TLS13, Resumption::default());
    assert_resumes(&server, &tls, ProtocolVersion::TLSv1_3).await;
}

#[tokio::test]
async fn tls_1_2_clients_resume_by_session_id_and_by_ticket() {
    let files = tls_files();
    let server = tls_serve(&files);
    for how in [
        Tls12Resumption::SessionIdOnly,
        Tls12Resumption::SessionIdOrTickets,
    ] {
        let resumption = Resumption::in_memory_sessions(64).tls12_resumption(how);
        let tls = connector(&files, &rustls::version::TLS12, resumption);
        assert_resumes(&server, &tls, ProtocolVersion::TLSv1_2).await;
    }
}

#[tokio::test]
async fn without_a_session_store_every_handshake_is_full() {
    let files = tls_files();
    let server = tls_serve(&files);
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let tls = connector(&files, version, Resumption::disabled());
        for _ in 0..2 {
            assert!(!one_command(&server, &tls).await.1);
        }
    }
}

#[tokio::test]
async fn another_server_process_refuses_the_first_ones_sessions() {
    // Same certificate, same name, another process: its ticket keys and
    // session cache are its own, so the sessions of the first do not resume.
    let files = tls_files();
    let first = tls_serve(&files);
    let second = tls_serve(&files);
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let tls = connector(&files, version, Resumption::default());
        assert!(!one_command(&first, &tls).await.1);
        assert!(one_command(&first, &tls).await.1);
        assert!(!one_command(&second, &tls).await.1);
    }
}

#[tokio::test]
async fn the_client_library_resumes_its_next_connections() {
    let files = tls_files();
    let server = tls_serve(&files);
    let config = ClientConfig {
        framing: Framing::Framed,
        tls: Some(ClientTls::from_ca_file(&files.ca, "localhost").unwrap()),
        token: Some(TOKEN.into()),
        ..ClientConfig::default()
    };
    let client = Client::new(server.addr().to_string(), config);
    let body = client.body(SUMMARY).unwrap();
    for expected in [false, true, true] {
        let mut session = client.connect().await.unwrap();
        assert_eq!(session.resumed(), expected);
        let response = session.request(&body).await.unwrap();
        assert!(
            response.terminated && !response.has_errors(),
            "{response:?}"
        );
        session.close().await.unwrap();
    }
    // A clone shares the sessions.
    let mut session = client.clone().connect().await.unwrap();
    assert!(session.resumed());
    session.request(&body).await.unwrap();
}

#[tokio::test]
async fn the_server_picks_aes_128_gcm_whatever_the_client_prefers() {
    let files = tls_files();
    let server = tls_serve(&files);
    // rustls's own order puts AES-256-GCM first.
    let default = aws_lc_rs::default_provider();
    let first = default.cipher_suites.first().map(|suite| suite.suite());
    assert_eq!(first, Some(CipherSuite::TLS13_AES_256_GCM_SHA384));
    let cases = [
        (
            &rustls::version::TLS13,
            CipherSuite::TLS13_AES_128_GCM_SHA256,
        ),
        (
            &rustls::version::TLS12,
            CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
    ];
    for (version, want) in cases {
        let tls = connector_with(
            &files,
            version,
            Resumption::disabled(),
            Arc::new(default.clone()),
        );
        let (_, _, suite) = handshake_and_command(&server, &tls).await;
        assert_eq!(suite, want);
    }
}
