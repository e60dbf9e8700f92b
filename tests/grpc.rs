//! `grpc_user` against real gRPC servers started here (tonic's server side
//! on hyper's HTTP/2, prost messages written by hand, tonic's reflection
//! service over descriptors protox compiles from the same .proto): unary
//! and the three streaming kinds, metadata, a deadline, a non-OK status, a
//! server that drops the connection mid-stream, TLS and server reflection;
//! through `ld-tower run` and `ld-tower serve`, with the counts in the
//! summaries equal to what the servers saw.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;
use tokio_rustls::rustls::ServerConfig;
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;
use tower::ServiceExt;

const PROTO: &str = "tests/fixtures/grpc/demo.proto";

#[derive(Clone, PartialEq, prost::Message)]
struct HelloRequest {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(int32, tag = "2")]
    count: i32,
    #[prost(int32, tag = "3")]
    delay_ms: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HelloReply {
    #[prost(string, tag = "1")]
    message: String,
}

fn reply(message: impl Into<String>) -> HelloReply {
    HelloReply {
        message: message.into(),
    }
}

/// What a server saw.
#[derive(Default)]
struct Seen {
    /// Calls by method.
    calls: Mutex<BTreeMap<String, u64>>,
    /// Requests (messages) received by client-streaming and bidi calls.
    streamed_in: AtomicU64,
    /// Calls whose `x-token` metadata was `abc`.
    tokens: AtomicU64,
    /// Calls that carried a `grpc-timeout`.
    deadlines: AtomicU64,
    /// TCP connections accepted.
    connections: AtomicU64,
    /// Reflection calls.
    reflections: AtomicU64,
}

impl Seen {
    fn calls(&self, method: &str) -> u64 {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }
}

struct GrpcServer {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

type Reflection = tower::util::BoxCloneSyncService<
    http::Request<hyper::body::Incoming>,
    http::Response<tonic::body::Body>,
    Infallible,
>;

fn reflection() -> Reflection {
    let mut compiled = protox::Compiler::new(["tests/fixtures/grpc"]).unwrap();
    compiled.include_imports(true);
    compiled.open_file("demo.proto").unwrap();
    let service = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(&compiled.encode_file_descriptor_set())
        .build_v1()
        .unwrap();
    tower::util::BoxCloneSyncService::new(service)
}

/// Starts a gRPC server on 127.0.0.1, port 0 (TLS when `tls` is given).
async fn start(tls: Option<Arc<ServerConfig>>) -> GrpcServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let reflection = reflection();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let served = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            served.connections.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&served);
            let reflection = reflection.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    None => connection(tcp, seen, reflection).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            connection(tls, seen, reflection).await;
                        }
                    }
                }
            });
        }
    });
    GrpcServer { addr, seen }
}

/// Serves one connection until it ends, or a `Crash` call drops it.
async fn connection<S>(io: S, seen: Arc<Seen>, reflection: Reflection)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let kill = Arc::new(Notify::new());
    let dropper = Arc::clone(&kill);
    let service = hyper::service::service_fn(move |request| {
        route(
            Arc::clone(&seen),
            Arc::clone(&dropper),
            reflection.clone(),
            request,
        )
    });
    let serving = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = serving => {}
        () = kill.notified() => {}
    }
}

type Replies = BoxStream<'static, Result<HelloReply, Status>>;

async fn route(
    seen: Arc<Seen>,
    kill: Arc<Notify>,
    reflection: Reflection,
    request: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<tonic::body::Body>, Infallible> {
    let path = request.uri().path().to_owned();
    if path.starts_with("/grpc.reflection.") {
        seen.reflections.fetch_add(1, Ordering::SeqCst);
        return reflection.oneshot(request).await;
    }
    let method = path.rsplit('/').next().unwrap_or_default().to_owned();
    *seen
        .calls
        .lock()
        .unwrap()
        .entry(method.clone())
        .or_default() += 1;
    if request
        .headers()
        .get("x-token")
        .is_some_and(|v| v.as_bytes() == b"abc")
    {
        seen.tokens.fetch_add(1, Ordering::SeqCst);
    }
    if request.headers().contains_key("grpc-timeout") {
        seen.deadlines.fetch_add(1, Ordering::SeqCst);
    }
    let mut grpc = tonic::server::Grpc::new(ProstCodec::<HelloReply, HelloRequest>::default());
    let response = match method.as_str() {
        "SayHello" => {
            grpc.unary(
                tower::service_fn(|r: Request<HelloRequest>| async move {
                    Ok::<_, Status>(Response::new(reply(format!(
                        "hello {}",
                        r.into_inner().name
                    ))))
                }),
                request,
            )
            .await
        }
        "Fail" => {
            grpc.unary(
                tower::service_fn(|_: Request<HelloRequest>| async {
                    Err::<Response<HelloReply>, _>(Status::not_found("no such greeting"))
                }),
                request,
            )
            .await
        }
        "Slow" => {
            grpc.unary(
                tower::service_fn(|r: Request<HelloRequest>| async move {
                    let delay = r.into_inner().delay_ms.max(0) as u64;
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    Ok::<_, Status>(Response::new(reply("late")))
                }),
                request,
            )
            .await
        }
        "Countdown" => {
            grpc.server_streaming(
                tower::service_fn(|r: Request<HelloRequest>| async move {
                    let count = r.into_inner().count.max(0);
                    let replies: Replies =
                        stream::iter((0..count).map(move |i| Ok(reply(format!("{}", count - i)))))
                            .boxed();
                    Ok::<_, Status>(Response::new(replies))
                }),
                request,
            )
            .await
        }
        "Collect" => {
            let seen = Arc::clone(&seen);
            grpc.client_streaming(
                tower::service_fn(move |r: Request<Streaming<HelloRequest>>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let mut names = Vec::new();
                        let mut requests = r.into_inner();
                        while let Some(one) = requests.message().await? {
                            seen.streamed_in.fetch_add(1, Ordering::SeqCst);
                            names.push(one.name);
                        }
                        Ok::<_, Status>(Response::new(reply(names.join(","))))
                    }
                }),
                request,
            )
            .await
        }
        "Chat" => {
            let seen = Arc::clone(&seen);
            grpc.streaming(
                tower::service_fn(move |r: Request<Streaming<HelloRequest>>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let replies: Replies = r
                            .into_inner()
                            .map(move |one| {
                                seen.streamed_in.fetch_add(1, Ordering::SeqCst);
                                one.map(|one| reply(format!("echo {}", one.name)))
                            })
                            .boxed();
                        Ok::<_, Status>(Response::new(replies))
                    }
                }),
                request,
            )
            .await
        }
        "Crash" => {
            grpc.server_streaming(
                tower::service_fn(move |_: Request<HelloRequest>| {
                    let kill = Arc::clone(&kill);
                    async move {
                        let replies: Replies = stream::iter([Ok(reply("one")), Ok(reply("two"))])
                            .chain(stream::once(async move {
                                // The two replies go out; then the
                                // connection is dropped, mid-stream.
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                kill.notify_one();
                                std::future::pending::<Result<HelloReply, Status>>().await
                            }))
                            .boxed();
                        Ok::<_, Status>(Response::new(replies))
                    }
                }),
                request,
            )
            .await
        }
        _ => Status::unimplemented(format!("no method {method}")).into_http(),
    };
    Ok(response)
}

/// A TLS server configuration for `files`' leaf, offering `h2`.
fn server_tls(files: &common::TlsFiles) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::try_from(files.key_der.clone()).unwrap();
    let provider = ld_tower::tls::provider();
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![files.cert_der.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

const USERS: u64 = 2;
const ITERATIONS: u64 = 3;
const CALLS: u64 = USERS * ITERATIONS;

/// The test: every task once per iteration, in order; `proto` and `ca`
/// as the agent is to read them.
fn actions(plain: SocketAddr, tls: SocketAddr, proto: &str, ca: &str) -> Value {
    let at = |addr: SocketAddr| format!("127.0.0.1:{}", addr.port());
    let tls_target = format!("localhost:{}", tls.port());
    json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "grpc_user"},
            "user_count": USERS, "spawn_rate": 100, "test_time": 60,
            "iterations": ITERATIONS, "wait_time": 0,
            "variables": {"who": "world"},
            "host": at(plain),
            "tasks": [
                {"proto": proto, "service": "demo.Greeter", "method": "SayHello",
                 "payload": {"name": "${var.who}"}, "metadata": {"x-token": "abc"}},
                {"name": "countdown", "proto": proto, "service": "demo.Greeter",
                 "method": "Countdown", "rpc": "server_stream", "payload": {"count": 3}},
                {"name": "collect", "proto": proto, "service": "demo.Greeter",
                 "method": "Collect", "rpc": "client_stream",
                 "payload": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
                {"name": "chat", "proto": proto, "service": "demo.Greeter",
                 "method": "Chat", "rpc": "bidi",
                 "payload": [{"name": "x"}, {"name": "y"}]},
                {"name": "fail", "proto": proto, "service": "demo.Greeter", "method": "Fail"},
                {"name": "slow", "proto": proto, "service": "demo.Greeter", "method": "Slow",
                 "payload": {"delay_ms": 5000}, "timeout": 0.2},
                {"name": "reflected", "target": "grpc.test:50051", "service": "demo.Greeter",
                 "method": "SayHello", "payload": {"name": "mirror"}},
                {"name": "tls", "target": tls_target, "proto": proto, "service": "demo.Greeter",
                 "method": "SayHello", "tls": {"verify": ca}},
                {"name": "crash", "proto": proto, "service": "demo.Greeter", "method": "Crash",
                 "rpc": "server_stream"}
            ]
        }],
        ["LD_summary", {}],
        ["LD_generate_json", {}]
    ]})
}

fn entry<'a>(summary: &'a Value, name: &str) -> &'a Value {
    let entry = &summary["per_name"][name];
    assert!(entry.is_object(), "no {name:?} in {summary}");
    entry
}

/// (count, failures) of `name` in a summary.
fn counts(summary: &Value, name: &str) -> (u64, u64) {
    let entry = entry(summary, name);
    (
        entry["count"].as_u64().unwrap(),
        entry["failures"].as_u64().unwrap(),
    )
}

/// Checks a summary (LD_start_test's, or LD_summary's) against what the
/// servers saw.
fn check(summary: &Value, plain: &Seen, tls: &Seen) {
    assert_eq!(
        counts(summary, "demo.Greeter.SayHello"),
        (CALLS, 0),
        "{summary}"
    );
    for name in ["countdown", "collect", "chat", "reflected", "tls"] {
        assert_eq!(counts(summary, name), (CALLS, 0), "{name}: {summary}");
    }
    for name in ["fail", "slow", "crash"] {
        assert_eq!(counts(summary, name), (CALLS, CALLS), "{name}: {summary}");
    }
    // Every call reached its server, once.
    assert_eq!(plain.calls("SayHello"), 2 * CALLS);
    for method in ["Countdown", "Collect", "Chat", "Fail", "Slow", "Crash"] {
        assert_eq!(plain.calls(method), CALLS, "{method}");
    }
    assert_eq!(tls.calls("SayHello"), CALLS);
    assert_eq!(plain.streamed_in.load(Ordering::SeqCst), 5 * CALLS);
    assert_eq!(plain.tokens.load(Ordering::SeqCst), CALLS);
    // Every call carries its deadline (the test's default, or `timeout`).
    assert_eq!(plain.deadlines.load(Ordering::SeqCst), 8 * CALLS);
    assert_eq!(tls.deadlines.load(Ordering::SeqCst), CALLS);
    // Reflection was asked (at least once, at most once per user).
    let reflections = plain.reflections.load(Ordering::SeqCst);
    assert!((1..=USERS).contains(&reflections), "{reflections}");
    // A channel per user and target, opened again after each crash: one
    // per iteration for the host, one per user for `grpc.test` (which
    // --connect-to sends to the same server).
    assert_eq!(plain.connections.load(Ordering::SeqCst), CALLS + USERS);
    assert_eq!(tls.connections.load(Ordering::SeqCst), USERS);
}

/// The statuses and failure reasons of `name` in a JSON report.
fn reasons_of(report: &Value, name: &str) -> (Value, BTreeMap<String, u64>) {
    let entry = report["per_name"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} in {report}"));
    let reasons = entry["failure_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["message"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    (entry["statuses"].clone(), reasons)
}

/// Checks the statuses and failure reasons of a JSON report.
fn check_reasons(report: &Value) {
    let (statuses, reasons) = reasons_of(report, "fail");
    assert_eq!(statuses, json!({"5": CALLS}));
    assert_eq!(
        reasons,
        BTreeMap::from([("gRPC status NotFound: no such greeting".to_owned(), CALLS)])
    );
    let (statuses, reasons) = reasons_of(report, "slow");
    assert_eq!(statuses, json!({"4": CALLS}));
    assert_eq!(
        reasons,
        BTreeMap::from([(
            "gRPC status DeadlineExceeded: timed out after 200ms".to_owned(),
            CALLS
        )])
    );
    let (_, reasons) = reasons_of(report, "crash");
    assert_eq!(reasons.values().sum::<u64>(), CALLS, "{reasons:?}");
    assert!(
        reasons.keys().all(|r| r.starts_with("gRPC status ")),
        "{reasons:?}"
    );
    let (statuses, _) = reasons_of(report, "countdown");
    assert_eq!(statuses, json!({"0": CALLS}));
}

/// `grpc.test:50051` to `addr`.
fn connect_to(addr: SocketAddr) -> String {
    format!("grpc.test:50051:127.0.0.1:{}", addr.port())
}

fn ld(args: &[&str], cwd: Option<&Path>) -> Output {
    let mut command = Command::new(common::bin());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    command
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ld-tower")
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_call_through_run() {
    let files = common::tls_files();
    let plain = start(None).await;
    let tls = start(Some(server_tls(&files))).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("grpc.json");
    let proto = std::fs::canonicalize(PROTO).unwrap();
    let test = actions(
        plain.addr,
        tls.addr,
        proto.to_str().unwrap(),
        files.ca.to_str().unwrap(),
    );
    std::fs::write(&file, test.to_string()).unwrap();
    let to = connect_to(plain.addr);
    let output = tokio::task::spawn_blocking(move || {
        ld(
            &[
                "run",
                "--exit-code-on-error",
                "0",
                "--connect-to",
                &to,
                file.to_str().unwrap(),
            ],
            None,
        )
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines = lines(&output);
    assert_eq!(lines.len(), 3, "{lines:?}");
    check(&lines[0]["summary"], &plain.seen, &tls.seen);
    check(&lines[1], &plain.seen, &tls.seen);
    check_reasons(&lines[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_call_through_serve_with_confined_files() {
    let files = common::tls_files();
    let plain = start(None).await;
    let tls = start(Some(server_tls(&files))).await;
    // The served agent reads only below its working directory: the proto
    // and the CA are given relative to it.
    let work = files.dir.path();
    std::fs::create_dir_all(work.join("protos")).unwrap();
    std::fs::copy(PROTO, work.join("protos/demo.proto")).unwrap();
    let server = common::serve_in(work, &["--connect-to", &connect_to(plain.addr)], &[]);
    let request = actions(plain.addr, tls.addr, "protos/demo.proto", "ca.pem").to_string();
    let reply = tokio::task::spawn_blocking(move || server.legacy(&request))
        .await
        .unwrap();
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.last(), Some(&"Return_Data_Over_JE"), "{reply}");
    assert_eq!(lines.len(), 4, "{reply}");
    let started: Value = serde_json::from_str(lines[0]).unwrap();
    let summary: Value = serde_json::from_str(lines[1]).unwrap();
    check(&started["summary"], &plain.seen, &tls.seen);
    check(&summary, &plain.seen, &tls.seen);
    check_reasons(&serde_json::from_str(lines[2]).unwrap());
}

/// With `proto`, a task that does not match its method is refused before
/// the test starts, at its JSON path; so is a path the served agent may
/// not read, LoadDensity's Python stub classes, and (strict) an unknown key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_are_refused_before_the_test_at_their_path() {
    let plain = start(None).await;
    let target = format!("127.0.0.1:{}", plain.addr.port());
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("protos")).unwrap();
    std::fs::copy(PROTO, work.path().join("protos/demo.proto")).unwrap();
    let cases = [
        (
            json!({"proto": "protos/demo.proto", "service": "demo.Greeter",
                   "method": "Countdown"}),
            "tasks[0].rpc: demo.Greeter.Countdown is a server_stream method, not unary",
        ),
        (
            json!({"proto": "protos/demo.proto", "service": "demo.Greeter",
                   "method": "SayHi"}),
            "tasks[0].method: demo.Greeter has no method \"SayHi\"",
        ),
        (
            json!({"proto": "protos/demo.proto", "service": "demo.Nope", "method": "SayHi"}),
            "tasks[0].service: no service \"demo.Nope\" (known: demo.Greeter)",
        ),
        (
            json!({"proto": "protos/demo.proto", "service": "demo.Greeter",
                   "method": "SayHello", "payload": {"nme": "x"}}),
            "tasks[0].payload: not a demo.HelloRequest",
        ),
        (
            json!({"proto": "../demo.proto", "service": "demo.Greeter", "method": "SayHello"}),
            "tasks[0].proto:",
        ),
        (
            json!({"stub_path": "pkg.greeter_pb2_grpc.GreeterStub",
                   "request_path": "pkg.greeter_pb2.HelloRequest", "method": "SayHello"}),
            "tasks[0].stub_path: Python stub classes cannot be loaded",
        ),
    ];
    let server = common::serve_in(work.path(), &[], &[]);
    let port = server.port;
    let strict = (
        json!({"proto": "protos/demo.proto", "service": "demo.Greeter",
               "method": "SayHello", "paylaod": {"name": "x"}}),
        "tasks[0].paylaod: unknown key, ignored (did you mean \"payload\"?)",
    );
    for (task, expected) in cases.into_iter().chain([strict]) {
        let mut task = task;
        task["target"] = json!(target);
        let request = json!([["LD_start_test", {
            "user_detail_dict": {"user": "grpc_user"}, "strict": true,
            "user_count": 1, "iterations": 1, "test_time": 10, "tasks": [task]
        }]])
        .to_string();
        let reply = tokio::task::spawn_blocking(move || common::legacy(port, request.as_bytes()))
            .await
            .unwrap();
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.contains(expected), "{expected}\n{reply}");
    }
    // Nothing reached the server.
    assert_eq!(plain.seen.connections.load(Ordering::SeqCst), 0);
}

/// A call's bytes are those of the messages it received; a stream's, all
/// of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_are_those_of_the_messages_received() {
    let plain = start(None).await;
    let work = tempfile::tempdir().unwrap();
    std::fs::copy(PROTO, work.path().join("demo.proto")).unwrap();
    let control = common::confined(work.path());
    let result = common::figures::start_test(
        &control,
        json!({
            "user_detail_dict": {"user": "grpc_user"},
            "user_count": 1, "iterations": 2, "test_time": 20, "wait_time": 0,
            "host": format!("grpc://127.0.0.1:{}", plain.addr.port()),
            "tasks": [
                {"proto": "demo.proto", "service": "demo.Greeter", "method": "SayHello",
                 "payload": {"name": "world"}},
                {"name": "countdown", "proto": "demo.proto", "service": "demo.Greeter",
                 "method": "Countdown", "rpc": "server_stream", "payload": {"count": 3}}
            ]
        }),
    )
    .await;
    assert_eq!(
        common::figures::count(&result, "demo.Greeter.SayHello"),
        (2, 2, 0)
    );
    assert_eq!(common::figures::count(&result, "countdown"), (2, 2, 0));
    let bytes = |name: &str| control.state().figures(|f| f.per_name()[name].bytes());
    // "hello world": a tag, a length, 11 bytes.
    assert_eq!(bytes("demo.Greeter.SayHello"), 2 * 13);
    // "3", "2", "1": three messages of 3 bytes.
    assert_eq!(bytes("countdown"), 2 * 9);
    assert_eq!(plain.seen.calls("SayHello"), 2);
    assert_eq!(plain.seen.calls("Countdown"), 2);
    assert_eq!(plain.seen.connections.load(Ordering::SeqCst), 1);
}
