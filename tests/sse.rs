//! `sse_user` against a real hyper event-stream server started here on
//! 127.0.0.1 port 0, through `ld-tower run` and `ld-tower serve`: numbered
//! events with IDs, a stream dropped after K events and reopened with
//! `Last-Event-ID`, an `expect` never met (a timeout), `https://`; what
//! the summary counts is what the server sent and received.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::through::{counts, reasons, through, Via};
use common::{tls_files, TlsFiles};
use futures_util::stream::{self, Stream, StreamExt};
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

type Body = StreamBody<Pin<Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send>>>;

/// What the server saw and sent.
#[derive(Default)]
struct Seen {
    /// Streams opened (requests answered).
    streams: AtomicU64,
    /// Events sent.
    events: AtomicU64,
    /// The `Last-Event-ID` of each request, in order (`None`: absent).
    last_ids: Mutex<Vec<Option<String>>>,
}

/// `/events`: events 1 to 5 (`id: N`, `data: event N`), then the stream
/// stays open. `/drop`: `retry: 50`, then the two events after the
/// request's `Last-Event-ID` (from 1), then the stream ends. `/once`:
/// `retry: 10` and event 1, then the end; with a `Last-Event-ID`, 204 (no
/// more events: do not reconnect).
fn answer(request: &Request<hyper::body::Incoming>, seen: &Seen) -> Response<Body> {
    seen.streams.fetch_add(1, Ordering::SeqCst);
    let last = request
        .headers()
        .get("last-event-id")
        .map(|v| v.to_str().unwrap().to_owned());
    seen.last_ids.lock().unwrap().push(last.clone());
    let event = |i: u64| {
        Ok(Frame::data(Bytes::from(format!(
            "id: {i}\ndata: event {i}\n\n"
        ))))
    };
    if request.uri().path() == "/once" && last.is_some() {
        return Response::builder()
            .status(204)
            .body(StreamBody::new(Box::pin(stream::empty()) as Pin<Box<_>>))
            .unwrap();
    }
    let body: Pin<Box<dyn Stream<Item = _> + Send>> = match request.uri().path() {
        "/events" => {
            seen.events.fetch_add(5, Ordering::SeqCst);
            Box::pin(
                stream::iter((1..=5).map(event))
                    .chain(stream::once(async {
                        Ok(Frame::data(Bytes::from(": sent\n")))
                    }))
                    .chain(stream::pending()),
            )
        }
        "/once" => {
            seen.events.fetch_add(1, Ordering::SeqCst);
            let retry = stream::once(async { Ok(Frame::data(Bytes::from("retry: 10\n"))) });
            Box::pin(retry.chain(stream::iter([event(1)])))
        }
        _ => {
            let from = last.map_or(0, |id| id.parse::<u64>().unwrap());
            seen.events.fetch_add(2, Ordering::SeqCst);
            let retry = stream::once(async { Ok(Frame::data(Bytes::from("retry: 50\n"))) });
            Box::pin(retry.chain(stream::iter((from + 1..=from + 2).map(event))))
        }
    };
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(StreamBody::new(body))
        .unwrap()
}

struct Events {
    addr: SocketAddr,
    seen: Arc<Seen>,
}

async fn server(tls: Option<&TlsFiles>) -> Events {
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
                    None => serve_http(tcp, seen).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve_http(tls, seen).await;
                        }
                    }
                }
            });
        }
    });
    Events { addr, seen }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: S, seen: Arc<Seen>) {
    let service = service_fn(move |request| {
        let response = answer(&request, &seen);
        async move { Ok::<_, Infallible>(response) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

fn actions(host: &str, users: u64, iterations: u64, tasks: Value) -> Value {
    json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "sse_user"},
            "user_count": users, "spawn_rate": 1000, "test_time": 60,
            "iterations": iterations, "wait_time": 0,
            "host": host, "tasks": tasks
        }],
        ["LD_summary", {}],
        ["LD_generate_json", {}]
    ]})
}

/// Numbered events: an `expect` met on the third, a bare `wait` on the
/// fourth, one never met (the fifth read, then a timeout).
async fn numbered(via: Via) {
    let server = server(None).await;
    let dir = tempfile::tempdir().unwrap();
    let tasks = json!([
        {"method": "open", "name": "stream", "request_url": "/events", "headers": {"X-Who": "ld"}},
        {"method": "wait", "name": "three", "expect": "event 3"},
        {"name": "next"},
        {"method": "wait", "name": "never", "expect": "event 9", "timeout": 0.3},
        {"method": "close", "name": "bye"}
    ]);
    let host = format!("http://{}", server.addr);
    let lines = through(via, dir.path(), &[], actions(&host, 2, 2, tasks)).await;
    let (test, summary, report) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(test["summary"], *summary);
    for name in ["stream", "stream (first event)", "three", "next", "bye"] {
        assert_eq!(counts(summary, name), (4, 4, 0), "{name}: {summary}");
    }
    assert_eq!(counts(summary, "never"), (4, 0, 4), "{summary}");
    assert_eq!(
        reasons(report, "never"),
        [("timed out after 300ms".to_owned(), 4)]
    );
    assert_eq!(summary["totals"]["requests"], 24);
    assert_eq!(server.seen.streams.load(Ordering::SeqCst), 4);
    assert_eq!(server.seen.events.load(Ordering::SeqCst), 20);
    assert_eq!(*server.seen.last_ids.lock().unwrap(), vec![None; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbered_events_through_run() {
    numbered(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbered_events_through_serve() {
    numbered(Via::Serve).await;
}

/// The stream ends after two events; the user reopens it after the
/// server's 50 ms `retry` with the last ID, twice, to reach event 5.
async fn dropped(via: Via) {
    let server = server(None).await;
    let dir = tempfile::tempdir().unwrap();
    let tasks = json!([
        {"method": "open", "name": "feed", "url": "/drop"},
        {"method": "wait", "name": "five", "expect": "event 5", "timeout": 10}
    ]);
    let host = format!("http://{}", server.addr);
    let lines = through(via, dir.path(), &[], actions(&host, 1, 2, tasks)).await;
    let summary = &lines[1];
    assert_eq!(counts(summary, "feed"), (2, 2, 0), "{summary}");
    assert_eq!(counts(summary, "feed (first event)"), (2, 2, 0));
    assert_eq!(counts(summary, "feed (reconnect)"), (4, 4, 0));
    assert_eq!(counts(summary, "five"), (2, 2, 0));
    let reconnect = &summary["per_name"]["five"];
    assert!(
        reconnect["min_ms"].as_f64().unwrap() >= 100.0,
        "{reconnect}"
    );
    assert_eq!(server.seen.streams.load(Ordering::SeqCst), 6);
    assert_eq!(server.seen.events.load(Ordering::SeqCst), 12);
    let some = |id: &str| Some(id.to_owned());
    assert_eq!(
        *server.seen.last_ids.lock().unwrap(),
        [None, some("2"), some("4"), None, some("2"), some("4")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_streams_through_run() {
    dropped(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_streams_through_serve() {
    dropped(Via::Serve).await;
}

/// `https://`: trusted through `--ca-file` (run) or the step's `verify`
/// (serve); untrusted, the open fails and says why.
async fn secure(via: Via) {
    let files = tls_files();
    let server = server(Some(&files)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&files.ca, dir.path().join("ca.pem")).unwrap();
    let mut open = json!({"method": "open", "name": "secure", "url": "/events"});
    let args: Vec<&str> = match via {
        Via::Run => vec!["--ca-file", files.ca.to_str().unwrap()],
        Via::Serve => {
            open["verify"] = json!("ca.pem");
            vec![]
        }
    };
    let tasks = json!([open, {"name": "first", "expect": "event 1"}]);
    let host = format!("https://127.0.0.1:{}", server.addr.port());
    let lines = through(via, dir.path(), &args, actions(&host, 2, 1, tasks)).await;
    assert_eq!(counts(&lines[1], "secure"), (2, 2, 0), "{}", lines[1]);
    assert_eq!(counts(&lines[1], "first"), (2, 2, 0), "{}", lines[1]);
    assert_eq!(server.seen.streams.load(Ordering::SeqCst), 2);

    let tasks = json!([{"method": "open", "name": "untrusted", "url": "/events"}, {"name": "w"}]);
    let lines = through(via, dir.path(), &[], actions(&host, 1, 1, tasks)).await;
    assert_eq!(counts(&lines[1], "untrusted"), (1, 0, 1));
    let why = reasons(&lines[2], "untrusted");
    assert!(
        why[0].0.starts_with("TLS handshake with 127.0.0.1 failed"),
        "{why:?}"
    );
    assert_eq!(
        reasons(&lines[2], "w"),
        [("no stream open (an open step comes first)".to_owned(), 1)]
    );
    assert_eq!(server.seen.streams.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_through_run() {
    secure(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_through_serve() {
    secure(Via::Serve).await;
}

/// A reconnection refused (204): the `wait` under way fails and says so;
/// the next one has no stream to read.
async fn refused(via: Via) {
    let server = server(None).await;
    let dir = tempfile::tempdir().unwrap();
    let tasks = json!([
        {"method": "open", "name": "once", "url": "/once"},
        {"method": "wait", "name": "second", "expect": "event 2", "timeout": 10},
        {"method": "wait", "name": "after"}
    ]);
    let host = format!("http://{}", server.addr);
    let lines = through(via, dir.path(), &[], actions(&host, 1, 1, tasks)).await;
    let (summary, report) = (&lines[1], &lines[2]);
    assert_eq!(counts(summary, "once"), (1, 1, 0), "{summary}");
    assert_eq!(counts(summary, "once (first event)"), (1, 1, 0));
    assert_eq!(counts(summary, "once (reconnect)"), (1, 0, 1));
    let url = format!("http://{}/once", server.addr);
    let refusal = format!("{url}: HTTP 204 No Content, not an event stream");
    assert_eq!(reasons(report, "once (reconnect)"), [(refusal.clone(), 1)]);
    assert_eq!(
        reasons(report, "second"),
        [(
            format!("stream ended and its reconnection was refused: {refusal}"),
            1
        )]
    );
    assert_eq!(
        reasons(report, "after"),
        [("no stream open (an open step comes first)".to_owned(), 1)]
    );
    assert_eq!(server.seen.streams.load(Ordering::SeqCst), 2);
    assert_eq!(
        *server.seen.last_ids.lock().unwrap(),
        [None, Some("1".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reconnection_through_run() {
    refused(Via::Run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reconnection_through_serve() {
    refused(Via::Serve).await;
}
