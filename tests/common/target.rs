//! An HTTP/1.1 target for the load engine's tests: a hyper 1 server on
//! 127.0.0.1:0 that counts what it actually served, per path and per path
//! and status.
//!
//! Routes:
//! - `/` → 200 `ok`;
//! - `/status/{code}` → that status (body `status {code}`);
//! - `/slow?ms=N` → sleeps N ms, then 200 `slow`;
//! - `/login` (POST, JSON `{"user", "password"}`) → 200
//!   `{"data": {"token": "tok-<user>"}}` when the password is `secret`, else 401;
//! - `/profile` → 200 `{"user": <user>}` with `Authorization: Bearer tok-<user>`, else 401;
//! - `/echo` → 200, the request as JSON: `method`, `path`, `query` (raw),
//!   `params` (decoded), `headers` (lowercased names), `body` (text); each
//!   echo is also kept, in order, for [`Target::echoes`];
//! - `/session` → 200 `session`, with `Set-Cookie: sid=N; Path=/` (a new
//!   N each time) unless the request sends a `sid` cookie;
//! - `/flaky?key=K&fail=N&status=S` → the first N requests of key K answer
//!   S (503 unless given), the rest 200 `ok`; each request's query is kept
//!   for [`Target::queries`];
//! - `/redirect?to=URL&status=S` → S (302 unless given) with `Location: URL`;
//! - `/limited?max=K&ms=N` → 503 `busy` at once when more than K requests
//!   (of any path, this one included) are in flight as it arrives, else
//!   sleeps N ms, then 200 `ok`: a target that breaks past K at once;
//! - `/crowded?per_ms=N` → sleeps N ms for each request in flight as it
//!   arrives (this one included), then 200 `ok`: latency grows with
//!   concurrency;
//! - anything else → 200 `ok`.
//!
//! The arrival times of the first [`MAX_ARRIVALS`] requests are kept, per
//! path, for [`Target::arrivals`] (a soak's millions are not).
//!
//! A request is counted when its handler starts, so a request the client
//! abandons after sending is still counted as served. [`Target::in_flight`]
//! is how many handlers are running now (the requests it holds, as for
//! `/slow`), [`Target::peak_in_flight`] the most at once so far.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ld_tower::acceptor::{Acceptor, PlainAcceptor};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

#[derive(Default)]
struct Counts {
    /// Requests by path (no query).
    by_path: Mutex<HashMap<String, Arc<AtomicU64>>>,
    /// Responses by "path status".
    by_status: Mutex<HashMap<String, Arc<AtomicU64>>>,
    /// Every request.
    total: AtomicU64,
    /// The echoed requests, in the order they were served.
    echoes: Mutex<Vec<Value>>,
    /// Sessions started by `/session`.
    sessions: AtomicU64,
    /// When each request arrived, with its path.
    arrivals: Mutex<Vec<(String, tokio::time::Instant)>>,
    /// `/flaky` requests so far, by key.
    flaky: Mutex<HashMap<String, u64>>,
    /// `/flaky` queries, in order.
    queries: Mutex<Vec<String>>,
    /// Requests being handled now.
    in_flight: AtomicU64,
    /// The most requests handled at once so far.
    peak_in_flight: AtomicU64,
}

/// Counts one request in flight while it lives (a handler dropped with its
/// connection counts out too).
struct InFlight(Arc<Counts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn bump(map: &Mutex<HashMap<String, Arc<AtomicU64>>>, key: &str) {
    let counter = {
        let mut map = map.lock().unwrap();
        match map.get(key) {
            Some(counter) => Arc::clone(counter),
            None => Arc::clone(map.entry(key.to_owned()).or_default()),
        }
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

fn read(map: &Mutex<HashMap<String, Arc<AtomicU64>>>, key: &str) -> u64 {
    map.lock()
        .unwrap()
        .get(key)
        .map_or(0, |c| c.load(Ordering::Relaxed))
}

/// How many requests' arrival times a target keeps.
pub const MAX_ARRIVALS: usize = 100_000;

/// A running target; stops (with its connections) when dropped.
pub struct Target {
    pub addr: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Target {
    /// Starts a target in the current runtime.
    pub async fn start() -> Target {
        Target::start_with(PlainAcceptor).await
    }

    /// Starts a target whose connections go through `acceptor` first
    /// (a `TlsAcceptor` serves https).
    pub async fn start_with<A: Acceptor>(acceptor: A) -> Target {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind target");
        let addr = listener.local_addr().expect("target addr");
        let counts = Arc::new(Counts::default());
        let shared = Arc::clone(&counts);
        let acceptor = Arc::new(acceptor);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let counts = Arc::clone(&shared);
                let acceptor = Arc::clone(&acceptor);
                connections.spawn(async move {
                    let Ok(io) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req| handle(Arc::clone(&counts), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(io), service)
                        .await;
                });
                // Reap finished connections so the set stays small.
                while connections.try_join_next().is_some() {}
            }
        });
        Target { addr, counts, task }
    }

    /// A target in a runtime of its own, for a test that drives other
    /// processes from its own thread: keep the runtime while the target is
    /// used.
    pub fn in_runtime() -> (tokio::runtime::Runtime, Target) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let target = runtime.block_on(Target::start());
        (runtime, target)
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests served for `path` (no query string).
    pub fn count(&self, path: &str) -> u64 {
        read(&self.counts.by_path, path)
    }

    /// Responses with `status` served for `path`.
    pub fn count_status(&self, path: &str, status: u16) -> u64 {
        read(&self.counts.by_status, &format!("{path} {status}"))
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> u64 {
        self.counts.in_flight.load(Ordering::Relaxed)
    }

    /// The most requests handled at once so far.
    pub fn peak_in_flight(&self) -> u64 {
        self.counts.peak_in_flight.load(Ordering::Relaxed)
    }

    /// Every request served.
    pub fn total(&self) -> u64 {
        self.counts.total.load(Ordering::Relaxed)
    }

    /// Requests by path, sorted.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .by_path
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .collect()
    }

    /// When the requests for `path` arrived, in order.
    pub fn arrivals(&self, path: &str) -> Vec<tokio::time::Instant> {
        self.counts
            .arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, at)| *at)
            .collect()
    }

    /// The `/flaky` requests' query strings, in order.
    pub fn queries(&self) -> Vec<String> {
        self.counts.queries.lock().unwrap().clone()
    }

    /// The `/echo` requests served so far, in order.
    pub fn echoes(&self) -> Vec<Value> {
        self.counts.echoes.lock().unwrap().clone()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn respond(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .expect("response")
}

fn json_response(status: u16, value: &Value) -> Response<Full<Bytes>> {
    respond(status, "application/json", value.to_string())
}

async fn handle(
    counts: Arc<Counts>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let now = counts.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    counts.peak_in_flight.fetch_max(now, Ordering::Relaxed);
    let _in_flight = InFlight(Arc::clone(&counts));
    counts.total.fetch_add(1, Ordering::Relaxed);
    {
        let mut arrivals = counts.arrivals.lock().unwrap();
        if arrivals.len() < MAX_ARRIVALS {
            arrivals.push((path.clone(), tokio::time::Instant::now()));
        }
    }
    bump(&counts.by_path, &path);
    let response = route(&counts, &path, req, now).await;
    bump(
        &counts.by_status,
        &format!("{path} {}", response.status().as_u16()),
    );
    Ok(response)
}

/// The query parameter `key` as a `T`, `default` when absent or not one.
fn param<T: std::str::FromStr>(params: &BTreeMap<String, String>, key: &str, default: T) -> T {
    params
        .get(key)
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// The response to `req`, `in_flight` requests in flight as it arrived
/// (itself included).
async fn route(
    counts: &Counts,
    path: &str,
    req: Request<Incoming>,
    in_flight: u64,
) -> Response<Full<Bytes>> {
    let query = req.uri().query().unwrap_or("").to_owned();
    let params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(400);
        return respond(code, "text/plain", format!("status {code}"));
    }
    match path {
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(param(&params, "ms", 0))).await;
            respond(200, "text/plain", "slow")
        }
        "/limited" => {
            if in_flight > param(&params, "max", 0) {
                return respond(503, "text/plain", "busy");
            }
            tokio::time::sleep(Duration::from_millis(param(&params, "ms", 0))).await;
            respond(200, "text/plain", "ok")
        }
        "/crowded" => {
            let per: u64 = param(&params, "per_ms", 0);
            tokio::time::sleep(Duration::from_millis(per * in_flight)).await;
            respond(200, "text/plain", "ok")
        }
        "/redirect" => {
            let status: u16 = param(&params, "status", 302);
            let mut response = respond(status, "text/plain", "moved");
            if let Some(Ok(to)) = params.get("to").map(|to| http::HeaderValue::from_str(to)) {
                response.headers_mut().insert(http::header::LOCATION, to);
            }
            response
        }
        "/flaky" => {
            counts.queries.lock().unwrap().push(query.clone());
            let key = params.get("key").cloned().unwrap_or_default();
            let fail: u64 = param(&params, "fail", 0);
            let status: u16 = param(&params, "status", 503);
            let seen = {
                let mut flaky = counts.flaky.lock().unwrap();
                let seen = flaky.entry(key).or_default();
                *seen += 1;
                *seen
            };
            if seen <= fail {
                respond(status, "text/plain", format!("failing {seen}"))
            } else {
                respond(200, "text/plain", "ok")
            }
        }
        "/login" => {
            if req.method() != Method::POST {
                return respond(405, "text/plain", "POST only");
            }
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let login: Value = body
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            match (login["user"].as_str(), login["password"].as_str()) {
                (Some(user), Some("secret")) => {
                    json_response(200, &json!({"data": {"token": format!("tok-{user}")}}))
                }
                _ => json_response(401, &json!({"error": "bad credentials"})),
            }
        }
        "/profile" => {
            let user = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer tok-"))
                .filter(|user| !user.is_empty())
                .map(str::to_owned);
            match user {
                Some(user) => json_response(200, &json!({"user": user})),
                None => json_response(401, &json!({"error": "unauthorized"})),
            }
        }
        "/session" => {
            // A new session for a client that does not send one.
            let has = req
                .headers()
                .get(http::header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("sid="));
            let mut response = respond(200, "text/plain", "session");
            if !has {
                let sid = counts.sessions.fetch_add(1, Ordering::Relaxed);
                if let Ok(value) = http::HeaderValue::from_str(&format!("sid={sid}; Path=/")) {
                    response
                        .headers_mut()
                        .insert(http::header::SET_COOKIE, value);
                }
            }
            response
        }
        "/echo" => {
            let method = req.method().to_string();
            let mut headers = serde_json::Map::new();
            for (name, value) in req.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                match headers.get_mut(name.as_str()) {
                    Some(Value::String(previous)) => {
                        previous.push_str(", ");
                        previous.push_str(&value);
                    }
                    _ => {
                        headers.insert(name.as_str().to_owned(), Value::String(value));
                    }
                }
            }
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let echo = json!({
                "method": method,
                "path": path,
                "query": query,
                "params": params,
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            counts.echoes.lock().unwrap().push(echo.clone());
            json_response(200, &echo)
        }
        _ => respond(200, "text/plain", "ok"),
    }
}
