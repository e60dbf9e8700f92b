//! The live dashboard (`LD_start_dashboard`, `serve --dashboard`) of a real
//! `ld-tower serve` process testing a real local target: `/snapshot` shows
//! `LD_summary`'s figures, `/events` streams, the bounds hold, the port
//! closes when told, and in headless Chromium the page shows the engine's
//! numbers while a test runs and after it ended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::browser::{chromium, Browser};
use common::target::Target;
use common::{serve, ServeProcess, DEADLINE};
use serde_json::{json, Value};

/// The actions' reply lines (the terminator checked and removed).
fn send(server: &ServeProcess, actions: &Value) -> Vec<String> {
    let reply = server.legacy(&actions.to_string());
    let mut lines: Vec<String> = reply.lines().map(str::to_owned).collect();
    assert_eq!(
        lines.pop().as_deref(),
        Some("Return_Data_Over_JE"),
        "{reply}"
    );
    lines
}

/// One action's result, which must not be an error.
fn act(server: &ServeProcess, name: &str, args: Value) -> Value {
    let lines = send(server, &json!([[name, args]]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        !lines[0].starts_with("Error:"),
        "{name} failed: {}",
        lines[0]
    );
    serde_json::from_str(&lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]))
}

/// One action's error line.
fn refused(server: &ServeProcess, name: &str, args: Value) -> String {
    let lines = send(server, &json!([[name, args]]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("Error:"),
        "{name} succeeded: {}",
        lines[0]
    );
    lines[0].clone()
}

/// Starts a dashboard on a free loopback port; its address.
fn start_dashboard(server: &ServeProcess) -> SocketAddr {
    let started = act(server, "LD_start_dashboard", json!({"port": 0}));
    format!("127.0.0.1:{}", started["port"]).parse().unwrap()
}

/// Three names against `target`: two that answer, one that fails (500).
fn tasks() -> Value {
    json!([
        {"method": "get", "name": "home", "request_url": "/"},
        {"method": "get", "name": "slow", "request_url": "/slow?ms=3"},
        {"method": "get", "name": "broken", "request_url": "/status/500"}
    ])
}

fn test_args(target: &Target, users: u64, seconds: f64) -> Value {
    json!({
        "user_count": users, "spawn_rate": 1000, "test_time": seconds,
        "wait_time": [0.02, 0.05], "request_timeout": 5,
        "host": target.url(), "tasks": tasks()
    })
}

/// Sends `LD_start_test` with `args` from a thread of its own: its reply
/// comes when the test ends (stopped, or after at most two minutes).
fn test_in_background(server: &ServeProcess, args: Value) -> std::thread::JoinHandle<String> {
    let mut tcp = TcpStream::connect(server.addr()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    std::thread::spawn(move || {
        let request = json!([["LD_start_test", args]]).to_string();
        tcp.write_all(request.as_bytes()).expect("send");
        let mut reply = String::new();
        tcp.read_to_string(&mut reply).expect("the test's reply");
        reply
    })
}

/// A GET over real TCP: (status, head, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    tcp.read_to_end(&mut reply).expect("read the reply");
    let reply = String::from_utf8(reply).expect("utf-8");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
    let status = head[9..12].parse().expect("a status");
    (status, head.to_owned(), body.to_owned())
}

fn snapshot(addr: SocketAddr) -> Value {
    let (status, _, body) = get(addr, "/snapshot");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("/snapshot is JSON")
}

/// An open `/events` stream.
struct Events {
    tcp: TcpStream,
    buffer: Vec<u8>,
}

impl Events {
    /// Opens `/events`; its status line.
    fn open(addr: SocketAddr) -> (Events, String) {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(DEADLINE)).unwrap();
        write!(tcp, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut events = Events {
            tcp,
            buffer: Vec::new(),
        };
        let head = events.until(b"\r\n\r\n").expect("a response head");
        let status = head.lines().next().unwrap_or_default().to_owned();
        (events, status)
    }

    /// The text up to `marker` (consumed), or `None` at the end of the
    /// stream; a read past the deadline fails.
    fn until(&mut self, marker: &[u8]) -> Option<String> {
        loop {
            if let Some(at) = self.buffer.windows(marker.len()).position(|w| w == marker) {
                let text: Vec<u8> = self.buffer.drain(..at + marker.len()).collect();
                return Some(String::from_utf8_lossy(&text[..at]).into_owned());
            }
            let mut chunk = [0; 64 * 1024];
            let n = self.tcp.read(&mut chunk).expect("read within the deadline");
            if n == 0 {
                return None;
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next event's JSON (the stream is chunked: a chunk's size line
    /// comes before each event).
    fn next(&mut self) -> Option<Value> {
        self.until(b"data: ")?;
        let json = self.until(b"\n\n")?;
        Some(serde_json::from_str(&json).expect("an event is JSON"))
    }

    /// Reads until the server ends the stream.
    fn ends(mut self) {
        while self.next().is_some() {}
    }
}

/// Waits until nothing listens on `addr`.
fn closed(addr: SocketAddr) {
    let deadline = Instant::now() + DEADLINE;
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "{addr} still listens");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn snapshot_shows_the_summary_and_events_stream_it() {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&[]);
    let addr = start_dashboard(&server);
    // Nothing ran yet: zeros, and no status.
    let idle = snapshot(addr);
    assert_eq!(idle["totals"]["requests"], 0);
    assert_eq!(idle["status"], Value::Null);
    assert_eq!(idle["running"], false);

    act(&server, "LD_start_test", test_args(&target, 3, 1.5));
    let summary = act(&server, "LD_summary", json!({}));
    let status = act(&server, "LD_test_status", json!({}));
    assert!(summary["per_name"]["broken"]["failures"].as_u64() > Some(0));
    assert!(summary["per_name"]["home"]["successes"].as_u64() > Some(0));

    let shown = snapshot(addr);
    for key in ["totals", "latency_overall", "per_name"] {
        assert_eq!(shown[key], summary[key], "{key}");
    }
    assert_eq!(shown["status"], status);
    assert_eq!(shown["running"], false);
    assert_eq!(shown["rps"], 0.0);
    // What the target served, per status, is what the dashboard counts.
    assert_eq!(
        shown["statuses"]["broken"]["500"].as_u64(),
        Some(target.count_status("/status/500", 500))
    );
    assert_eq!(
        shown["statuses"]["home"]["200"].as_u64(),
        Some(target.count("/"))
    );
    let reasons = shown["failure_reasons"].as_array().unwrap();
    assert!(!reasons.is_empty());
    assert!(reasons.iter().all(|r| r["name"] == "broken"), "{reasons:?}");
    let failed: u64 = reasons.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(
        failed,
        summary["per_name"]["broken"]["failures"].as_u64().unwrap()
    );
    let seconds = shown["series"].as_array().unwrap();
    let in_series: u64 = seconds
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert!(!seconds.is_empty() && in_series <= summary["totals"]["requests"].as_u64().unwrap());

    // Two events within the deadline, each the figures.
    let (mut events, head) = Events::open(addr);
    assert_eq!(head, "HTTP/1.1 200 OK");
    for _ in 0..2 {
        let event = events.next().expect("an event");
        assert_eq!(event["totals"], summary["totals"]);
        assert_eq!(event["per_name"], summary["per_name"]);
    }
    drop(events);

    // The page, and what is not served.
    let (status, head, page) = get(addr, "/");
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    assert!(page.contains("EventSource('/events')"));
    assert_eq!(get(addr, "/nothing").0, 404);
    assert_eq!(get(addr, "/snapshot/../etc").0, 404);
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        tcp,
        "POST /snapshot HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 405"), "{reply}");
}

#[test]
fn a_client_listens_on_loopback_unless_the_operator_allows_more() {
    let server = serve(&[]);
    let line = refused(
        &server,
        "LD_start_dashboard",
        json!({"host": "0.0.0.0", "port": 0}),
    );
    assert!(line.contains("--allow-observer-addr"), "{line}");
    // Keywords are checked as other actions' are.
    let line = refused(
        &server,
        "LD_start_dashboard",
        json!({"port": 0, "refresh": 1}),
    );
    assert!(line.contains("refresh"), "{line}");
    for bad in [0.0, 0.01, 1e9] {
        let line = refused(
            &server,
            "LD_start_dashboard",
            json!({"port": 0, "refresh_seconds": bad}),
        );
        assert!(line.contains("refresh_seconds"), "{line}");
    }
    let line = refused(
        &server,
        "LD_start_dashboard",
        json!({"port": 0, "window_seconds": -1}),
    );
    assert!(line.contains("window_seconds"), "{line}");
    assert_eq!(
        act(&server, "LD_stop_dashboard", json!({}))["stopped"],
        Value::Null
    );

    let open = serve(&["--allow-observer-addr", "0.0.0.0/0"]);
    let started = act(
        &open,
        "LD_start_dashboard",
        json!({"host": "0.0.0.0", "port": 0}),
    );
    assert_eq!(started["host"], "0.0.0.0");
    let port = started["port"].as_u64().unwrap() as u16;
    assert_eq!(get(SocketAddr::from(([127, 0, 0, 1], port)), "/").0, 200);
}

#[test]
fn event_streams_past_the_cap_get_503_while_snapshots_are_served() {
    let server = serve(&[]);
    let addr = start_dashboard(&server);
    let cap = ld_tower::dashboard::MAX_EVENT_STREAMS;
    let mut streams = Vec::new();
    for _ in 0..cap {
        let (mut events, head) = Events::open(addr);
        assert_eq!(head, "HTTP/1.1 200 OK");
        events.next().expect("a first event");
        streams.push(events);
    }
    let (_, head) = Events::open(addr);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    // A well-behaved client is still served, while the streams (none of
    // them reading any more) stay open.
    assert_eq!(snapshot(addr)["totals"]["requests"], 0);
    assert_eq!(get(addr, "/").0, 200);
    // A stream that ends frees its place.
    drop(streams.pop());
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (mut events, head) = Events::open(addr);
        if head == "HTTP/1.1 200 OK" {
            assert!(events.next().is_some());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the place was never freed: {head}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stop_closes_the_port_and_a_start_restarts_it() {
    let server = serve(&[]);
    let addr = start_dashboard(&server);
    // Again on the same port: the running one is restarted there.
    let again = act(
        &server,
        "LD_start_dashboard",
        json!({"port": addr.port(), "refresh_seconds": 0.2, "window_seconds": 5}),
    );
    assert_eq!(again["restarted_from"], addr.to_string());
    assert_eq!(again["port"], addr.port());
    assert_eq!(again["refresh_seconds"], 0.2);
    let (mut events, _) = Events::open(addr);
    assert_eq!(events.next().expect("an event")["refresh_seconds"], 0.2);
    // Stopped: the stream ends and the port closes.
    let stopped = act(&server, "LD_stop_dashboard", json!({}));
    assert_eq!(stopped["stopped"], addr.to_string());
    events.ends();
    closed(addr);
    assert_eq!(
        act(&server, "LD_stop_dashboard", json!({}))["stopped"],
        Value::Null
    );
}

#[test]
fn serve_dashboard_starts_with_the_server_and_ends_with_it() {
    let mut server = serve(&["--dashboard", "127.0.0.1:0"]);
    let addr: SocketAddr = server.line("`Dashboard on` line", |line| {
        line.strip_prefix("Dashboard on http://")?
            .trim_end_matches('/')
            .parse()
            .ok()
    });
    assert_eq!(get(addr, "/").0, 200);
    let (mut events, _) = Events::open(addr);
    assert!(events.next().is_some());
    // A client's LD_stop_dashboard does not stop the operator's.
    assert_eq!(
        act(&server, "LD_stop_dashboard", json!({}))["stopped"],
        Value::Null
    );
    assert_eq!(get(addr, "/snapshot").0, 200);
    server.signal("TERM");
    events.ends();
    let (status, _) = server.wait_exit(DEADLINE);
    assert!(status.success(), "{status}");
    closed(addr);
}

/// What the page shows, read from its DOM.
const READ_PAGE: &str = r#"(() => {
  const text = id => document.getElementById(id).textContent;
  const names = {};
  for (const row of document.querySelectorAll('#names-body tr')) {
    const field = f => row.querySelector(`[data-field="${f}"]`).textContent;
    names[row.dataset.name] = {count: field('count'), failures: field('failures'),
      p50_ms: field('p50_ms'), p95_ms: field('p95_ms'), p99_ms: field('p99_ms')};
  }
  const statuses = {};
  for (const row of document.querySelectorAll('#statuses-body tr')) {
    statuses[row.dataset.status] = row.querySelector('[data-field="count"]').textContent;
  }
  return {updates: Number(document.body.dataset.updates), source: document.body.dataset.source,
    state: document.getElementById('state').dataset.state, users: text('users'),
    requests: text('requests'), failures: text('failures'), names, statuses,
    reasons: document.querySelectorAll('#reasons-body tr').length,
    lines: document.querySelectorAll('#chart-rate polyline').length};
})()"#;

/// A latency as the page writes it (`toFixed(3)`: the figures are whole
/// microseconds, so this is exact).
fn ms(value: &Value) -> String {
    format!("{:.3}", value.as_f64().expect("a number"))
}

#[test]
fn the_page_shows_the_engines_numbers_in_chromium() {
    let Some(binary) = chromium("the dashboard") else {
        return;
    };
    let (runtime, target) = Target::in_runtime();
    let server = serve(&[]);
    let addr = start_dashboard(&server);
    let users = 4;

    // A longer test, stopped below; its reply comes when it ends.
    let test = test_in_background(&server, test_args(&target, users, 60.0));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = act(&server, "LD_test_status", json!({}));
        if status["running"] == true && status["users"] == users {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the test never ran {users} users: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let browser = Browser::launch(binary, 1280, 900);
    runtime.block_on(async {
        let mut page = browser.page().await;
        page.navigate(&format!("http://{addr}/")).await;
        // While it runs: the users the engine runs, the requests growing.
        let live = page
            .wait_for(
                &format!(
                    "document.getElementById('state').dataset.state === 'running' && \
                     document.getElementById('users').textContent === '{users}' && \
                     Number(document.getElementById('requests').textContent) > 0 && \
                     document.body.dataset.source === 'events'"
                ),
                READ_PAGE,
            )
            .await;
        let status = act(&server, "LD_test_status", json!({}));
        assert_eq!(live["users"], status["users"].to_string(), "{live}");
        let seen = live["updates"].as_u64().unwrap();
        page.wait_for(
            &format!("Number(document.body.dataset.updates) > {seen}"),
            READ_PAGE,
        )
        .await;

        // Ended: the final figures, as LD_summary and LD_test_status give them.
        act(&server, "LD_stop_test", json!({}));
        let reply = test.join().expect("the test's thread");
        assert!(reply.starts_with('{'), "{reply}");
        let summary = act(&server, "LD_summary", json!({}));
        let status = act(&server, "LD_test_status", json!({}));
        let requests = summary["totals"]["requests"].to_string();
        let ended = page
            .wait_for(
                &format!(
                    "document.getElementById('state').dataset.state === 'ended' && \
                     document.getElementById('requests').textContent === '{requests}'"
                ),
                READ_PAGE,
            )
            .await;
        assert_eq!(ended["failures"], summary["totals"]["failures"].to_string());
        assert_eq!(ended["users"], status["users"].to_string());
        for name in ["home", "slow", "broken"] {
            let figures = &summary["per_name"][name];
            let shown = &ended["names"][name];
            assert_eq!(shown["count"], figures["count"].to_string(), "{name}");
            assert_eq!(shown["failures"], figures["failures"].to_string(), "{name}");
            for q in ["p50_ms", "p95_ms", "p99_ms"] {
                assert_eq!(shown[q], ms(&figures[q]), "{name} {q}");
            }
        }
        assert_eq!(
            ended["statuses"]["500"],
            summary["per_name"]["broken"]["failures"].to_string()
        );
        assert!(ended["reasons"].as_u64() > Some(0), "{ended}");
        assert_eq!(ended["lines"], 2, "{ended}");
    });
    drop(browser);
}

#[test]
fn the_page_polls_when_every_event_stream_is_taken() {
    let Some(binary) = chromium("the dashboard") else {
        return;
    };
    let (runtime, target) = Target::in_runtime();
    let server = serve(&[]);
    let addr = start_dashboard(&server);
    act(&server, "LD_start_test", test_args(&target, 2, 1.0));
    let summary = act(&server, "LD_summary", json!({}));
    let streams: Vec<Events> = (0..ld_tower::dashboard::MAX_EVENT_STREAMS)
        .map(|_| Events::open(addr).0)
        .collect();
    let browser = Browser::launch(binary, 1280, 900);
    runtime.block_on(async {
        let mut page = browser.page().await;
        page.navigate(&format!("http://{addr}/")).await;
        let shown = page
            .wait_for(
                "document.body.dataset.source === 'poll' && Number(document.body.dataset.updates) >= 2",
                READ_PAGE,
            )
            .await;
        assert_eq!(shown["requests"], summary["totals"]["requests"].to_string());
        assert_eq!(shown["failures"], summary["totals"]["failures"].to_string());
    });
    drop(streams);
}

/// Makes `docs/dashboard.png`: a 40-second test of five names, some
/// failing, watched in headless Chromium. Run it with
/// `cargo test --test dashboard -- --ignored --exact dashboard_screenshot`.
#[test]
#[ignore = "writes docs/dashboard.png; run by hand"]
fn dashboard_screenshot() {
    let binary = chromium("the dashboard").expect("chromium, to take the screenshot");
    let (runtime, target) = Target::in_runtime();
    let server = serve(&[]);
    let addr = start_dashboard(&server);
    let args = json!({
        "user_count": 20, "spawn_rate": 1, "test_time": 40,
        "wait_time": [0.05, 0.3], "request_timeout": 5, "host": target.url(),
        "tasks": [
            {"method": "get", "name": "home", "request_url": "/"},
            {"method": "get", "name": "search", "request_url": "/slow?ms=12"},
            {"method": "get", "name": "item", "request_url": "/slow?ms=4"},
            {"method": "get", "name": "checkout", "request_url": "/flaky?key=c&fail=150&status=503"},
            {"method": "get", "name": "admin", "request_url": "/status/403"}
        ]
    });
    let test = test_in_background(&server, args);
    let browser = Browser::launch(binary, 1280, 900);
    let png = runtime.block_on(async {
        let mut page = browser.page().await;
        page.navigate(&format!("http://{addr}/")).await;
        // Thirty seconds in: users still ramping, a chart's worth of seconds.
        page.wait_for_within(
            "document.getElementById('state').dataset.state === 'running' && \
             Number(document.getElementById('elapsed').textContent) >= 30",
            READ_PAGE,
            Duration::from_secs(60),
        )
        .await;
        page.screenshot().await
    });
    act(&server, "LD_stop_test", json!({}));
    test.join().expect("the test's thread");
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/dashboard.png");
    std::fs::write(out, &png).expect("write docs/dashboard.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
