//! The engine's HTTP/1.1 client against scripted servers on loopback:
//! every way a response can be framed, when a connection is kept and when
//! it is not, and what a broken response fails with. The server answers
//! each request it reads with the next reply of its script, byte for byte,
//! and records the requests and connections it saw.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use ld_tower::acceptor::{Acceptor, PlainAcceptor, TlsAcceptor};
use ld_tower::engine::{
    kept_descriptors, Budget, Descriptors, HttpClient, HttpError, Network, Pool, Retain,
    MAX_KEPT_BODY,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use common::DEADLINE;

/// One scripted answer.
#[derive(Clone)]
enum Reply {
    /// These bytes, written piece by piece (each flushed), then the next request.
    Send(Vec<Vec<u8>>),
    /// These bytes, then the server closes the connection.
    SendClose(Vec<Vec<u8>>),
    /// No answer: the connection stays open and silent.
    Silent,
}

fn send(text: &str) -> Reply {
    Reply::Send(vec![text.as_bytes().to_vec()])
}

fn send_close(text: &str) -> Reply {
    Reply::SendClose(vec![text.as_bytes().to_vec()])
}

/// What the scripted server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    /// Connections the server has closed (its end dropped).
    closed: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

struct Server {
    port: u16,
    seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    fn connections(&self) -> usize {
        self.seen.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.requests.lock().unwrap().clone()
    }
}

async fn serve(script: Vec<Reply>) -> Server {
    serve_with(PlainAcceptor, script).await
}

async fn serve_with<A: Acceptor>(acceptor: A, script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let script = Arc::new(Mutex::new(script.into_iter()));
    let acceptor = Arc::new(acceptor);
    let task = {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                seen.connections.fetch_add(1, Ordering::SeqCst);
                let (seen, script, acceptor) = (
                    Arc::clone(&seen),
                    Arc::clone(&script),
                    Arc::clone(&acceptor),
                );
                tokio::spawn(async move {
                    if let Ok(io) = acceptor.accept(tcp).await {
                        answer(io, &seen, &script).await;
                    }
                    seen.closed.fetch_add(1, Ordering::SeqCst);
                });
            }
        })
    };
    Server { port, seen, task }
}

/// Answers each request read on `io` with the script's next reply.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    seen: &Seen,
    script: &Mutex<std::vec::IntoIter<Reply>>,
) {
    let mut buf = Vec::new();
    loop {
        let Some(request) = read_request(&mut io, &mut buf).await else {
            return;
        };
        seen.requests.lock().unwrap().push(request);
        let reply = script.lock().unwrap().next();
        let (pieces, close) = match reply {
            None => return,
            Some(Reply::Silent) => {
                // Hold the connection until the client gives up.
                let mut rest = [0u8; 64];
                while matches!(io.read(&mut rest).await, Ok(n) if n > 0) {}
                return;
            }
            Some(Reply::Send(pieces)) => (pieces, false),
            Some(Reply::SendClose(pieces)) => (pieces, true),
        };
        for piece in pieces {
            if io.write_all(&piece).await.is_err() || io.flush().await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        if close {
            let _ = io.shutdown().await;
            return;
        }
    }
}

/// One request off `io` (head and Content-Length body), as text.
async fn read_request<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |n| n.trim().parse::<usize>().unwrap());
            if buf.len() >= end + 4 + length {
                let request: Vec<u8> = buf.drain(..end + 4 + length).collect();
                return Some(String::from_utf8_lossy(&request).into_owned());
            }
        }
        let mut chunk = [0u8; 4096];
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A client as the engine makes one by default: the Mozilla roots, no override.
fn default_client() -> HttpClient {
    HttpClient::new(Arc::new(Network::default()))
}

fn get(url: &str) -> Request<Bytes> {
    Request::get(url).body(Bytes::new()).unwrap()
}

const ALL: Retain = Retain {
    body: true,
    headers: true,
};

async fn exchange(
    client: &mut HttpClient,
    request: Request<Bytes>,
    keep: Retain,
) -> Result<ld_tower::engine::Response, HttpError> {
    tokio::time::timeout(DEADLINE, client.send(request, &keep.into()))
        .await
        .expect("the client answered within the deadline")
}

/// `GET /` on `server`, keeping everything; it must succeed.
async fn fetch_root(client: &mut HttpClient, server: &Server) -> ld_tower::engine::Response {
    exchange(client, get(&server.url("http", "/")), ALL)
        .await
        .expect("GET / succeeds")
}

fn body(response: &ld_tower::engine::Response) -> &[u8] {
    response.body.as_deref().expect("kept body")
}

#[tokio::test]
async fn request_bytes_and_a_content_length_body_on_one_kept_connection() {
    let server = serve(vec![
        Reply::Send(vec![
            b"HTTP/1.1 200 OK\r\nContent-Le".to_vec(),
            b"ngth: 11\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello".to_vec(),
            b" world".to_vec(),
        ]),
        send("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
        send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ])
    .await;
    let mut client = default_client();
    let response = exchange(&mut client, get(&server.url("http", "/a?b=1")), ALL)
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(body(&response), b"hello world");
    let values: Vec<_> = response.headers.get_all("x-a").iter().collect();
    assert_eq!(values, ["1", "2"]);
    let post = Request::post(server.url("http", "/login"))
        .header("content-type", "application/json")
        .body(Bytes::from_static(b"{\"user\":\"u\"}"))
        .unwrap();
    let response = exchange(&mut client, post, Retain::default())
        .await
        .unwrap();
    assert_eq!(response.status, 201);
    assert!(response.body.is_none(), "body not asked for");
    assert!(response.headers.is_empty(), "headers not asked for");
    // Credentials in the URL stay out of the Host header: they are sent as
    // Basic credentials (percent-decoded: "user:p w").
    let url = format!("http://user:p%20w@127.0.0.1:{}/c", server.port);
    exchange(&mut client, get(&url), ALL).await.unwrap();
    assert_eq!(
        server.connections(),
        2,
        "the connection was kept (the credentials' origin is another)"
    );
    let host = format!("127.0.0.1:{}", server.port);
    assert_eq!(
        server.requests(),
        [
            format!("GET /a?b=1 HTTP/1.1\r\nhost: {host}\r\n\r\n"),
            format!(
                "POST /login HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
                 content-length: 12\r\n\r\n{{\"user\":\"u\"}}"
            ),
            format!("GET /c HTTP/1.1\r\nhost: {host}\r\nauthorization: Basic dXNlcjpwIHc=\r\n\r\n"),
        ]
    );
}

#[tokio::test]
async fn chunked_bodies_with_extensions_and_trailers() {
    let server = serve(vec![
        Reply::Send(vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhel".to_vec(),
            b"lo\r\n".to_vec(),
            b"6\r\n world\r".to_vec(),
            b"\n0\r\nX-Trailer: t\r\n\r\n".to_vec(),
        ]),
        send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ])
    .await;
    let mut client = default_client();
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"hello world");
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"");
    assert_eq!(
        server.connections(),
        1,
        "a chunked body keeps the connection"
    );
}

#[tokio::test]
async fn a_body_until_close_and_connection_close_take_a_new_connection() {
    let server = serve(vec![
        send_close("HTTP/1.1 200 OK\r\n\r\nuntil the end"),
        send("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
        send("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n10"),
        send("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nka"),
        send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast"),
    ])
    .await;
    let mut client = default_client();
    let mut bodies = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..5 {
        let response = fetch_root(&mut client, &server).await;
        bodies.push(String::from_utf8(body(&response).to_vec()).unwrap());
        connections.push(server.connections());
    }
    assert_eq!(bodies, ["until the end", "ok", "10", "ka", "last"]);
    // A new connection after the close-delimited body, after `Connection:
    // close`, and after HTTP/1.0 without keep-alive; not after 1.0 with it.
    assert_eq!(connections, [1, 2, 3, 4, 4]);
}

#[tokio::test]
async fn responses_without_a_body() {
    let server = serve(vec![
        send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
        send("HTTP/1.1 204 No Content\r\n\r\n"),
        send("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
    ])
    .await;
    let mut client = default_client();
    let head = Request::head(server.url("http", "/"))
        .body(Bytes::new())
        .unwrap();
    let response = exchange(&mut client, head, ALL).await.unwrap();
    assert_eq!((response.status.as_u16(), body(&response)), (200, &b""[..]));
    for status in [204, 304] {
        let response = fetch_root(&mut client, &server).await;
        assert_eq!(
            (response.status.as_u16(), body(&response)),
            (status, &b""[..])
        );
    }
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(
        (response.status.as_u16(), body(&response)),
        (200, &b"done"[..])
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_kept_connection_the_server_closed_is_replaced_before_sending() {
    let server = serve(vec![
        send_close("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"),
        send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"),
    ])
    .await;
    let mut client = default_client();
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"first");
    // The server closed after answering without saying so: wait until the
    // close has reached the client's socket, then send again.
    wait_closed_seen(&server).await;
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"second");
    assert_eq!(server.connections(), 2);
}

/// Waits until the server has closed the first connection, then lets the
/// client's reactor take a turn: the FIN is in the client's socket as soon
/// as the server's close returned (loopback delivers it then), and a
/// `yield_now` resumes this task only after the reactor has been polled.
async fn wait_closed_seen(server: &Server) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while server.seen.closed.load(Ordering::SeqCst) < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never closed"
        );
        tokio::task::yield_now().await;
    }
    tokio::task::yield_now().await;
}

#[tokio::test]
async fn broken_responses_fail_with_their_reason() {
    let cases: Vec<(Reply, &str)> = vec![
        (
            send_close("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"),
            "connection closed before the response was complete",
        ),
        (
            send_close("HTTP/1.1 200 OK\r\nContent-"),
            "connection closed before the response was complete",
        ),
        (
            send_close("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
            "connection closed before the response was complete",
        ),
        (
            send("NOT HTTP\r\n\r\n"),
            "invalid response: response head: ",
        ),
        (
            send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
            "invalid response: conflicting Content-Length",
        ),
        (
            send("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            "invalid response: invalid Content-Length",
        ),
        (
            send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            "invalid response: invalid chunk size line",
        ),
        (
            send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"),
            "invalid response: chunk data longer than its size",
        ),
        (
            Reply::Send(vec![
                b"HTTP/1.1 200 OK\r\n".to_vec(),
                format!("X-Big: {}\r\n", "a".repeat(70 * 1024)).into_bytes(),
            ]),
            "invalid response: response head larger than 64 KiB",
        ),
    ];
    for (reply, want) in cases {
        let server = serve(vec![reply]).await;
        let mut client = default_client();
        let error = exchange(&mut client, get(&server.url("http", "/")), ALL)
            .await
            .expect_err(want)
            .to_string();
        assert!(
            error.starts_with(want),
            "{error:?} should start with {want:?}"
        );
    }
}

#[tokio::test]
async fn a_large_body_is_kept_up_to_the_bound_and_the_rest_read() {
    let size = MAX_KEPT_BODY + 100_000;
    let mut head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n").into_bytes();
    head.resize(head.len() + size, b'x');
    let server = serve(vec![
        Reply::Send(vec![head]),
        send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"),
    ])
    .await;
    let mut client = default_client();
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response).len(), MAX_KEPT_BODY);
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"next", "the rest was read, not left");
    assert_eq!(server.connections(), 1);
}

/// A client whose kept bodies, copied headers and long heads come out of
/// `pool`.
fn budgeted(pool: &Arc<Pool>) -> HttpClient {
    let budget = Budget {
        responses: Arc::clone(pool),
        ..Budget::default()
    };
    HttpClient::with_budget(Arc::new(Network::default()), budget)
}

#[tokio::test]
async fn kept_bodies_and_long_heads_come_out_of_the_tests_pool() {
    let large = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n{}",
        "x".repeat(300_000)
    );
    let long_head = format!(
        "HTTP/1.1 200 OK\r\nX-Long: {}\r\nContent-Length: 2\r\n\r\nok",
        "h".repeat(40_000)
    );
    let server = serve(vec![
        send(&large),
        send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall"),
        send(&long_head),
        send(&large),
    ])
    .await;
    let pool = Arc::new(Pool::new(200_000));
    let mut client = budgeted(&pool);
    // 300,000 bytes to keep: more than the pool has.
    let error = exchange(&mut client, get(&server.url("http", "/")), ALL)
        .await
        .expect_err("over the pool");
    assert!(matches!(error, HttpError::Memory(_)), "{error:?}");
    assert!(error.to_string().contains("--max-memory"), "{error}");
    assert_eq!(pool.used(), 0, "a failed response gives its bytes back");
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"small");
    assert!(pool.used() > 0, "held while the response lives");
    drop(response);
    assert_eq!(pool.used(), 0);
    // A 40 KB head grows the read buffer out of the pool, and gives it back.
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"ok");
    assert_eq!(response.headers["x-long"].len(), 40_000);
    drop(response);
    assert_eq!(pool.used(), 0, "the buffer shrank back");
    // Nothing kept: the same large body is read and dropped, costing nothing.
    let keep_nothing = Retain::default();
    let response = exchange(&mut client, get(&server.url("http", "/")), keep_nothing)
        .await
        .expect("a body not kept needs no pool");
    assert!(response.body.is_none());
    assert_eq!(pool.used(), 0);
}

#[tokio::test]
async fn a_connection_past_the_descriptor_budget_fails_at_once() {
    let server = serve(vec![send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]).await;
    let descriptors = Arc::new(Descriptors::under_limit(Some(kept_descriptors(8) + 1), 8));
    let budget = Budget {
        connections: Arc::clone(&descriptors),
        ..Budget::default()
    };
    let mut first = HttpClient::with_budget(Arc::new(Network::default()), budget.clone());
    let mut second = HttpClient::with_budget(Arc::new(Network::default()), budget);
    let response = fetch_root(&mut first, &server).await;
    assert_eq!(body(&response), b"ok");
    assert_eq!(descriptors.open(), 1, "the kept connection holds its place");
    let error = exchange(&mut second, get(&server.url("http", "/")), ALL)
        .await
        .expect_err("no place left");
    assert!(matches!(error, HttpError::Descriptors(..)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("no descriptor left") && message.contains("--max-connections"),
        "{message}"
    );
    assert_eq!(server.connections(), 1, "the second never connected");
    drop(first);
    assert_eq!(
        descriptors.open(),
        0,
        "a dropped client's connection gives it back"
    );
}

#[tokio::test]
async fn an_abandoned_request_does_not_leave_its_connection_behind() {
    let server = serve(vec![
        Reply::Silent,
        send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlater"),
    ])
    .await;
    let mut client = default_client();
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        client.send(get(&server.url("http", "/")), &ALL.into()),
    )
    .await;
    assert!(abandoned.is_err(), "the silent server did not answer");
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"later");
    assert_eq!(
        server.connections(),
        2,
        "the abandoned connection was not reused"
    );
}

#[tokio::test]
async fn https_with_a_trusted_certificate_keeps_its_connection() {
    let files = common::tls_files();
    let acceptor: TlsAcceptor = files.acceptor();
    let server = serve_with(
        acceptor,
        vec![
            send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure"),
            send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmore\r\n0\r\n\r\n"),
        ],
    )
    .await;
    let network = Network::new(std::slice::from_ref(&files.ca), Vec::new()).unwrap();
    let mut client = HttpClient::new(Arc::new(network));
    for want in [&b"secure"[..], b"more"] {
        let response = exchange(&mut client, get(&server.url("https", "/")), ALL)
            .await
            .unwrap();
        assert_eq!(body(&response), want);
    }
    assert_eq!(server.connections(), 1);

    // Without the test CA, the handshake fails and says so.
    let mut untrusting = default_client();
    let error = exchange(&mut untrusting, get(&server.url("https", "/")), ALL)
        .await
        .unwrap_err()
        .to_string();
    let want = format!("TLS handshake with 127.0.0.1:{} failed: ", server.port);
    assert!(error.starts_with(&want), "{error}");
}

#[tokio::test]
async fn bytes_after_a_response_are_never_read_as_the_next_one() {
    let server = serve(vec![
        send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"),
        send("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"),
    ])
    .await;
    let mut client = default_client();
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"ok");
    let response = fetch_root(&mut client, &server).await;
    assert_eq!(body(&response), b"fresh");
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn connect_to_sends_the_connection_elsewhere_and_keeps_host_and_tls_name() {
    let files = common::tls_files();
    let server = serve_with(
        files.acceptor(),
        vec![send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
    )
    .await;
    // The certificate names localhost: the TLS name must stay the URL's
    // host, not the 127.0.0.1 connected to.
    let to = format!("localhost:443:127.0.0.1:{}", server.port)
        .parse()
        .unwrap();
    let network = Network::new(std::slice::from_ref(&files.ca), vec![to]).unwrap();
    let mut client = HttpClient::new(Arc::new(network));
    let response = exchange(&mut client, get("https://localhost/x"), ALL)
        .await
        .unwrap();
    assert_eq!(body(&response), b"ok");
    assert_eq!(
        server.requests(),
        ["GET /x HTTP/1.1\r\nhost: localhost\r\n\r\n"]
    );

    // A refused override names both the URL's host and where it connected.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let to = format!("example.test::127.0.0.1:{port}").parse().unwrap();
    let mut client = HttpClient::new(Arc::new(Network::new(&[], vec![to]).unwrap()));
    // (Credentials in the URL are never in a message.)
    let error = exchange(&mut client, get("http://u:secret@example.test:8080/"), ALL)
        .await
        .unwrap_err()
        .to_string();
    assert!(!error.contains("secret"), "{error}");
    let want = format!("cannot connect to example.test:8080 (connecting to 127.0.0.1:{port}): ");
    assert!(error.starts_with(&want), "{error}");
}

/// The `cookie` header of a recorded request, its cookies sorted (the
/// jar's order across paths is its own).
fn cookies_of(request: &str) -> Vec<String> {
    let mut cookies: Vec<String> = request
        .lines()
        .filter_map(|line| line.strip_prefix("cookie: "))
        .flat_map(|value| value.split("; ").map(str::to_owned))
        .collect();
    cookies.sort();
    cookies
}

#[tokio::test]
async fn cookies_set_by_responses_are_sent_back_where_they_apply() {
    let server = serve(vec![
        send(
            "HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc; Path=/\r\n\
             Set-Cookie: admin=1; Path=/admin\r\nSet-Cookie: broken\r\n\
             Content-Length: 0\r\n\r\n",
        ),
        send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        send("HTTP/1.1 200 OK\r\nSet-Cookie: sid=gone; Path=/; Max-Age=0\r\nContent-Length: 0\r\n\r\n"),
        send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ])
    .await;
    let mut client = default_client();
    for path in ["/login", "/", "/admin/x", "/"] {
        let request = Request::get(server.url("http", path))
            .header("cookie", "own=1")
            .body(Bytes::new())
            .unwrap();
        exchange(&mut client, request, ALL).await.unwrap();
    }
    let requests = server.requests();
    let sent: Vec<Vec<String>> = requests.iter().map(|r| cookies_of(r)).collect();
    assert_eq!(
        sent,
        [
            vec!["own=1"],
            // Not the Path=/admin one; not the one that did not parse.
            vec!["own=1", "sid=abc"],
            vec!["admin=1", "own=1", "sid=abc"],
            // Max-Age=0 removed it.
            vec!["own=1"],
        ]
    );
    // Another user's client has its own jar.
    let server = serve(vec![send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]).await;
    fetch_root(&mut default_client(), &server).await;
    assert_eq!(cookies_of(&server.requests()[0]), Vec::<String>::new());
}

#[tokio::test]
async fn a_full_jar_takes_no_new_cookie_but_refreshes_one_it_holds() {
    // 60 cookies set at once: the jar keeps 50 (MAX_COOKIES).
    let many: String = (0..60)
        .map(|i| format!("Set-Cookie: c{i:02}={i}; Path=/\r\n"))
        .collect();
    let server = serve(vec![
        send(&format!(
            "HTTP/1.1 200 OK\r\nSet-Cookie: sid=old; Path=/\r\n{many}Content-Length: 0\r\n\r\n"
        )),
        send(
            "HTTP/1.1 200 OK\r\nSet-Cookie: sid=new; Path=/\r\n\
             Set-Cookie: late=1; Path=/\r\nContent-Length: 0\r\n\r\n",
        ),
        send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ])
    .await;
    let mut client = default_client();
    for _ in 0..3 {
        fetch_root(&mut client, &server).await;
    }
    let last = cookies_of(&server.requests()[2]);
    assert_eq!(last.len(), 50, "{last:?}");
    assert!(
        last.contains(&"sid=new".to_owned()),
        "the held cookie was refreshed: {last:?}"
    );
    assert!(
        !last.contains(&"late=1".to_owned()),
        "a new cookie got into a full jar: {last:?}"
    );
}
