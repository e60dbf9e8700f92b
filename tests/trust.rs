//! Trust: scoped principals from a token file (reloaded on SIGHUP), mutual
//! TLS with certificate principals, and the audit trail, all through a real
//! `ld-tower serve`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::mtls::Ca;
use common::target::Target;
use common::{run_cli, serve_in, tls_files, ServeProcess};
use ld_tower::client::{Client, ClientConfig, ClientTls, Response};
use ld_tower::codec::Framing;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(20);

const READER_TOKEN: &str = "reader-7f3a9c1e5b2d4680-token";
const RUNNER_TOKEN: &str = "runner-0c4e8a2f6b1d9357-token";

/// `ld-tower token-hash`'s line for `token`, as an operator makes it.
fn token_hash(token: &str) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(common::bin())
        .arg("token-hash")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("token-hash");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{token}\n").as_bytes())
        .expect("write token");
    let out = child.wait_with_output().expect("token-hash output");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim_end()
        .to_owned()
}

fn principal(name: &str, token: &str, scopes: &[&str]) -> String {
    format!(
        "[[principal]]\nname = \"{name}\"\n{}\nscopes = {}\n\n",
        token_hash(token),
        json!(scopes)
    )
}

fn client(server: &ServeProcess, token: Option<&str>) -> Client {
    let config = ClientConfig {
        framing: Framing::Framed,
        token: token.map(str::to_owned),
        timeout: DEADLINE,
        ..ClientConfig::default()
    };
    Client::new(server.addr().to_string(), config)
}

async fn send(client: &Client, request: &Value) -> Vec<String> {
    client
        .send(&request.to_string())
        .await
        .expect("a reply")
        .lines
}

/// Waits until the audit log holds a record for which `wanted` holds.
fn await_record(audit: &Path, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
    let until = Instant::now() + DEADLINE;
    loop {
        let records = records(audit);
        if records.iter().any(&wanted) {
            return records;
        }
        assert!(Instant::now() < until, "no such record in {records:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn records(audit: &Path) -> Vec<Value> {
    std::fs::read_to_string(audit)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn test_of(target: &Target) -> Value {
    json!(["LD_start_test", {
        "user_detail_dict": {"host": target.url()},
        "user_count": 1, "spawn_rate": 100, "iterations": 3, "wait_time": 0,
        "tasks": [{"name": "home", "method": "get", "request_url": "/home"}],
    }])
}

#[test]
fn token_hash_prints_the_line_and_refuses_an_empty_token() {
    assert_eq!(
        token_hash("test"),
        r#"token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08""#
    );
    let (status, stdout, stderr) = run_cli(&["token-hash"], &[]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "ld-tower: no token on stdin (an empty token is refused)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_principal_cannot_run_a_test_or_write_a_file_and_reloads_take_effect() {
    let target = Target::start().await;
    let work = tempfile::tempdir().expect("work dir");
    let tokens = work.path().join("principals.toml");
    let audit = work.path().join("audit.log");
    std::fs::write(
        &tokens,
        principal("reader", READER_TOKEN, &["read"])
            + &principal("runner", RUNNER_TOKEN, &["read", "run"]),
    )
    .expect("token file");
    let server = serve_in(
        work.path(),
        &[
            "--framed",
            "--token-file",
            tokens.to_str().expect("path"),
            "--audit-log",
            audit.to_str().expect("path"),
        ],
        &[],
    );
    let reader = client(&server, Some(READER_TOKEN));
    let runner = client(&server, Some(RUNNER_TOKEN));

    // The read-only principal: its read runs, the rest is forbidden, and
    // the command goes on after each refusal.
    let lines = send(
        &reader,
        &json!([
            test_of(&target),
            ["LD_generate_json_report", {"json_file_name": "report"}],
            ["LD_test_status"],
            ["LD_register_variable", {"name": "x", "value": 1}],
        ]),
    )
    .await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0], "Error: LD_start_test: forbidden for reader");
    assert_eq!(
        lines[1],
        "Error: LD_generate_json_report: forbidden for reader"
    );
    assert!(!lines[2].starts_with("Error"), "{lines:?}");
    assert_eq!(
        lines[3],
        "Error: LD_register_variable: forbidden for reader"
    );
    assert_eq!(target.total(), 0, "a forbidden test ran");
    assert!(
        !work.path().join("report.json").exists(),
        "a forbidden report was written"
    );
    assert_eq!(
        send(
            &reader,
            &json!([["LD_execute_action", {"action_list": [test_of(&target)]}]])
        )
        .await,
        [
            r#"Error: LD_execute_action: 1 of 1 nested actions failed: ["Error: LD_start_test: forbidden for reader"]"#
        ]
    );
    // quit needs admin.
    let quit = reader.send("quit_server").await.expect("a reply");
    assert_eq!(quit.lines, ["Error: quit_server: forbidden for reader"]);

    // The runner runs the test; a wrong token is refused.
    let lines = send(&runner, &json!([test_of(&target)])).await;
    assert!(!lines[0].starts_with("Error"), "{lines:?}");
    assert_eq!(target.count("/home"), 3);
    let wrong = client(&server, Some("not-a-token"));
    assert_eq!(
        send(&wrong, &json!([["LD_summary"]])).await,
        ["Error: unauthorised"]
    );

    // SIGHUP: the reader gains write; connections and other principals stay.
    let mut held = reader.connect().await.expect("a connection");
    let report = json!([["LD_generate_json_report", {"json_file_name": "report"}]]).to_string();
    let before = held
        .request(&reader.body(&report).expect("body"))
        .await
        .expect("reply");
    assert_eq!(
        before.lines,
        ["Error: LD_generate_json_report: forbidden for reader"]
    );
    std::fs::write(
        &tokens,
        principal("reader", READER_TOKEN, &["read", "write"])
            + &principal("runner", RUNNER_TOKEN, &["read", "run"]),
    )
    .expect("token file");
    server.signal("HUP");
    await_record(&audit, |r| {
        r["event"] == "token_file_reload" && r["outcome"] == "ok"
    });
    // The connection opened before the reload is still served, as the new reader.
    let after = held
        .request(&reader.body(&report).expect("body"))
        .await
        .expect("reply");
    assert!(!after.lines[0].starts_with("Error"), "{:?}", after.lines);
    assert!(work.path().join("report.json").exists());

    // A bad file at reload keeps the principals already loaded.
    std::fs::write(&tokens, "[[principal]]\nname = \"reader\"\n").expect("token file");
    server.signal("HUP");
    await_record(&audit, |r| {
        r["event"] == "token_file_reload" && r["outcome"] == "error"
    });
    assert!(!send(&runner, &json!([["LD_summary"]])).await[0].starts_with("Error"));
    assert!(
        server.stderr().contains("token file not reloaded"),
        "{}",
        server.stderr()
    );

    // The counts: 3, 1 nested, quit, the report before the reload; one wrong token.
    let status = send(&runner, &json!([["LD_agent_status"]])).await;
    let status: Value = serde_json::from_str(&status[0]).expect("JSON");
    assert_eq!(status["security"]["forbidden_actions"], 6, "{status}");
    assert_eq!(status["security"]["auth_failures"], 1, "{status}");

    // The audit trail: who asked what, and how it ended; never a token.
    let records = records(&audit);
    let first = records
        .iter()
        .find(|r| r["event"] == "command")
        .expect("a command record");
    assert_eq!(first["principal"], "reader");
    assert_eq!(first["via"], "token");
    assert_eq!(
        first["actions"],
        json!([
            {"name": "LD_start_test", "outcome": "forbidden"},
            {"name": "LD_generate_json_report", "outcome": "forbidden"},
            {"name": "LD_test_status", "outcome": "ok"},
            {"name": "LD_register_variable", "outcome": "forbidden"},
        ])
    );
    let reports: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["actions"] == json!([{"name": "LD_generate_json_report", "outcome": "forbidden"}])
                || r["actions"] == json!([{"name": "LD_generate_json_report", "outcome": "ok"}])
        })
        .collect();
    assert_eq!(reports.len(), 2, "{reports:#?}");
    assert_eq!(reports[0]["peer"], reports[1]["peer"], "not one connection");
    assert!(first["peer"]
        .as_str()
        .is_some_and(|p| p.starts_with("127.0.0.1:")));
    assert!(records.iter().any(|r| r["event"] == "quit"
        && r["principal"] == "reader"
        && r["outcome"] == "forbidden"));
    assert!(records
        .iter()
        .any(|r| r["event"] == "auth_failed" && r["reason"] == "wrong or malformed token"));
    assert!(records.iter().any(|r| r["event"] == "command"
        && r["principal"] == "runner"
        && r["actions"] == json!([{"name": "LD_start_test", "outcome": "ok"}])));
    let text = std::fs::read_to_string(&audit).expect("audit log");
    for secret in [READER_TOKEN, RUNNER_TOKEN, "not-a-token"] {
        assert!(!text.contains(secret), "the audit log holds a token");
    }
}

/// A client certificate for `names`, signed by `ca`, valid now (or expired
/// a year ago), written as PEM files in `dir`.
fn client_cert(
    ca: &Ca,
    dir: &Path,
    file: &str,
    names: &[&str],
    expired: bool,
) -> (PathBuf, PathBuf) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("params");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &ca.cert, &ca.key).expect("cert");
    let (cert_path, key_path) = (
        dir.join(format!("{file}.pem")),
        dir.join(format!("{file}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).expect("cert file");
    std::fs::write(&key_path, key.serialize_pem()).expect("key file");
    (cert_path, key_path)
}

fn tls_client(server: &ServeProcess, ca: &Path, identity: Option<&(PathBuf, PathBuf)>) -> Client {
    let tls = match identity {
        Some((cert, key)) => ClientTls::with_client_cert_files(ca, "localhost", cert, key),
        None => ClientTls::from_ca_file(ca, "localhost"),
    }
    .expect("client tls");
    let config = ClientConfig {
        framing: Framing::Framed,
        tls: Some(tls),
        timeout: DEADLINE,
        ..ClientConfig::default()
    };
    Client::new(format!("localhost:{}", server.port), config)
}

/// No reply: the server ended the connection (in TLS 1.3 the client sees
/// its refusal only when it reads).
fn refused(result: Result<Response, ld_tower::client::ClientError>) -> String {
    match result {
        Err(error) => error.to_string(),
        Ok(response) => {
            assert!(
                response.lines.is_empty() && !response.terminated,
                "served: {response:?}"
            );
            "closed".into()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_good_client_certificate_is_served_and_it_is_a_principal() {
    let target = Target::start().await;
    let server_tls = tls_files();
    let work = tempfile::tempdir().expect("work dir");
    let dir = work.path();
    let clients_ca = Ca::new("fleet CA");
    let ca_file = dir.join("clients-ca.pem");
    std::fs::write(&ca_file, clients_ca.cert.pem()).expect("ca file");
    let good = client_cert(&clients_ca, dir, "good", &["agent-1.fleet"], false);
    let reader = client_cert(&clients_ca, dir, "reader", &["agent-2.fleet"], false);
    let expired = client_cert(&clients_ca, dir, "expired", &["agent-1.fleet"], true);
    let other_name = client_cert(&clients_ca, dir, "other", &["intruder.fleet"], false);
    let stranger = client_cert(
        &Ca::new("another CA"),
        dir,
        "stranger",
        &["agent-1.fleet"],
        false,
    );
    let tokens = dir.join("principals.toml");
    std::fs::write(
        &tokens,
        "[[principal]]\nname = \"fleet-agent\"\nsan = \"agent-1.fleet\"\nscopes = [\"read\", \"run\"]\n\n\
         [[principal]]\nname = \"fleet-reader\"\nsan = \"agent-2.fleet\"\nscopes = [\"read\"]\n",
    )
    .expect("token file");
    let audit = dir.join("audit.log");
    let server = serve_in(
        dir,
        &[
            "--framed",
            "--tls-cert",
            server_tls.cert.to_str().expect("path"),
            "--tls-key",
            server_tls.key.to_str().expect("path"),
            "--tls-client-ca",
            ca_file.to_str().expect("path"),
            "--tls-client-san",
            "agent-1.fleet",
            "--tls-client-san",
            "AGENT-2.fleet",
            "--token-file",
            tokens.to_str().expect("path"),
            "--audit-log",
            audit.to_str().expect("path"),
        ],
        &[],
    );
    let ca = &server_tls.ca;
    let request = json!([test_of(&target)]).to_string();

    // Refused: no certificate, an unknown CA, expired, a name not on the list.
    for (case, identity) in [
        ("no certificate", None),
        ("unknown CA", Some(&stranger)),
        ("expired", Some(&expired)),
        ("name not allowed", Some(&other_name)),
    ] {
        let outcome = refused(tls_client(&server, ca, identity).send(&request).await);
        eprintln!("{case}: {outcome}");
    }
    assert_eq!(target.total(), 0, "a refused client ran a test");
    // Under TLS 1.3 a client has finished its handshake before the server
    // checks its certificate: the next case may start (and be audited)
    // before the last one's record is written, so wait for all four and
    // find each by its reason, in any order.
    let handshake_refused = |records: &[Value]| {
        records
            .iter()
            .filter(|r| r["event"] == "handshake_refused")
            .count()
    };
    let until = Instant::now() + DEADLINE;
    let records = loop {
        let records = records(&audit);
        if handshake_refused(&records) >= 4 {
            break records;
        }
        assert!(
            Instant::now() < until,
            "not 4 handshake refusals: {records:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let refusals: Vec<&str> = records
        .iter()
        .filter(|r| r["event"] == "handshake_refused")
        .filter_map(|r| r["reason"].as_str())
        .collect();
    assert_eq!(refusals.len(), 4, "{refusals:#?}");
    for wanted in [
        "peer sent no certificates",
        "UnknownIssuer",
        "certificate expired",
        r#"["intruder.fleet"]"#,
    ] {
        assert_eq!(
            refusals.iter().filter(|r| r.contains(wanted)).count(),
            1,
            "{wanted}: {refusals:#?}"
        );
    }

    // The good certificate runs a test with no token: it is "fleet-agent".
    let lines = tls_client(&server, ca, Some(&good))
        .send(&request)
        .await
        .expect("served")
        .lines;
    assert!(!lines[0].starts_with("Error"), "{lines:?}");
    assert_eq!(target.count("/home"), 3);
    // Another listed certificate holds only its own scopes.
    let lines = tls_client(&server, ca, Some(&reader))
        .send(&request)
        .await
        .expect("served")
        .lines;
    assert_eq!(lines, ["Error: LD_start_test: forbidden for fleet-reader"]);
    let records = await_record(&audit, |r| r["principal"] == "fleet-reader");
    assert!(records.iter().any(|r| r["event"] == "command"
        && r["principal"] == "fleet-agent"
        && r["via"] == "certificate"));

    let status = tls_client(&server, ca, Some(&reader))
        .send(r#"[["LD_agent_status"]]"#)
        .await
        .expect("served")
        .lines;
    let status: Value = serde_json::from_str(&status[0]).expect("JSON");
    assert_eq!(status["security"]["certificates_refused"], 4, "{status}");
    assert_eq!(status["security"]["forbidden_actions"], 1, "{status}");

    // `send` presents a certificate too.
    let port = server.port.to_string();
    let (status, stdout, stderr) = run_cli(
        &[
            "send",
            "--framed",
            "--port",
            &port,
            "--tls-ca",
            ca.to_str().expect("path"),
            "--tls-cert",
            good.0.to_str().expect("path"),
            "--tls-key",
            good.1.to_str().expect("path"),
            r#"[["LD_test_status"]]"#,
        ],
        &[],
    );
    assert!(status.success(), "{stdout}{stderr}");
}
