//! Metrics out, through a real `ld-tower serve` and a target started here
//! whose paths answer bodies of known sizes (one fails on purpose): the
//! Prometheus exporter is scraped over TCP, the StatsD and InfluxDB sinks
//! and the OTLP exporter send to receivers started here, and their numbers
//! are checked against `LD_summary`.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use common::{serve, ServeProcess, DEADLINE};
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// A target: `/bytes/N` answers 200 with N bytes, `/fail` 500 with 300.
struct SizedTarget {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

/// An HTTP/1.1 server on 127.0.0.1 (a port of its own) answering each
/// request with `answer`, on a runtime of its own (kept with it).
fn http_server<F, A>(answer: F) -> Result<(SocketAddr, tokio::runtime::Runtime)>
where
    F: Fn(http::Request<hyper::body::Incoming>) -> A + Clone + Send + Sync + 'static,
    A: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let answer = answer.clone();
                    async move { Ok::<_, Infallible>(answer(request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok((addr, runtime))
}

impl SizedTarget {
    fn start() -> Result<SizedTarget> {
        let (addr, runtime) = http_server(|request| {
            let path = request.uri().path().to_owned();
            let (status, size) = match path.strip_prefix("/bytes/") {
                Some(n) => (StatusCode::OK, n.parse().unwrap_or(0)),
                None => (StatusCode::INTERNAL_SERVER_ERROR, 300),
            };
            let mut response = Response::new(Full::new(Bytes::from(vec![b'x'; size])));
            *response.status_mut() = status;
            async move { response }
        })?;
        Ok(SizedTarget {
            addr,
            _runtime: runtime,
        })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Sends `actions` to `server`: its result lines, the terminator removed.
fn send(server: &ServeProcess, actions: &Value) -> Result<Vec<String>> {
    Ok(server.legacy_lines(&actions.to_string())?)
}

/// One action's result, as JSON (an `Error:` line is an error).
fn one(server: &ServeProcess, name: &str, args: Value) -> Result<Value> {
    let lines = send(server, &json!({"load_density": [[name, args]]}))?;
    match &lines[..] {
        [line] if !line.starts_with("Error:") => Ok(serde_json::from_str(line)?),
        _ => Err(format!("{name}: {lines:?}").into()),
    }
}

/// One action's `Error:` line.
fn refused(server: &ServeProcess, name: &str, args: Value) -> Result<String> {
    let lines = send(server, &json!({"load_density": [[name, args]]}))?;
    match &lines[..] {
        [line] if line.starts_with("Error:") => Ok(line.clone()),
        _ => Err(format!("{name} was not refused: {lines:?}").into()),
    }
}

/// The tasks: names of known sizes, one failing, one posting.
fn tasks() -> Value {
    json!([
        {"method": "get", "name": "small", "request_url": "/bytes/10"},
        {"method": "post", "name": "mid", "request_url": "/bytes/1000"},
        {"method": "get", "name": "big", "request_url": "/bytes/5000"},
        {"method": "get", "name": "fail", "request_url": "/fail"}
    ])
}

/// Runs a short test against `target`: `LD_summary` after it.
fn run_test(server: &ServeProcess, target: &SizedTarget) -> Result<Value> {
    let lines = send(
        server,
        &json!({"load_density": [
            ["LD_start_test", {
                "user_count": 4, "spawn_rate": 1000, "test_time": 30,
                "iterations": 5, "wait_time": 0, "request_timeout": 5,
                "host": target.url(), "tasks": tasks()
            }],
            ["LD_summary", {}]
        ]}),
    )?;
    match &lines[..] {
        [test, summary] if !test.starts_with("Error:") => Ok(serde_json::from_str(summary)?),
        _ => Err(format!("the test failed: {lines:?}").into()),
    }
}

/// `GET path` on `addr`: (status line, body).
fn get(addr: SocketAddr, path: &str) -> Result<(String, String)> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(DEADLINE))?;
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())?;
    let mut reply = String::new();
    tcp.read_to_string(&mut reply)?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no head: {reply}"))?;
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

/// A sample: its name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// The samples of a text exposition (label values unescaped).
fn samples(text: &str) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("bad line {line}"))?;
        let value: f64 = value.parse()?;
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let mut labels = BTreeMap::new();
                let mut chars = rest.trim_end_matches('}').chars().peekable();
                loop {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    if key.is_empty() {
                        break;
                    }
                    if chars.next() != Some('"') {
                        return Err(format!("bad labels in {line}").into());
                    }
                    let mut value = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some('n') => value.push('\n'),
                                Some(c) => value.push(c),
                                None => break,
                            },
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(key, value);
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                }
                (name.to_owned(), labels)
            }
        };
        out.push((name, labels, value));
    }
    Ok(out)
}

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}

/// `name`'s buckets of histogram `metric`, by bound, in order.
fn buckets(samples: &[Sample], metric: &str, name: &str) -> Vec<(String, f64)> {
    let bucket = format!("{metric}_bucket");
    samples
        .iter()
        .filter(|(n, l, _)| *n == bucket && l.get("name").map(String::as_str) == Some(name))
        .map(|(_, l, v)| (l.get("le").cloned().unwrap_or_default(), *v))
        .collect()
}

/// Waits (within the deadline) until nothing listens on `addr`.
fn wait_closed(addr: SocketAddr) -> Result {
    let until = Instant::now() + DEADLINE;
    while TcpStream::connect(addr).is_ok() {
        if Instant::now() > until {
            return Err(format!("{addr} still listens").into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(())
}

fn port_of(value: &Value) -> Result<u16> {
    Ok(u16::try_from(value.as_u64().ok_or("not a port")?)?)
}

#[test]
fn the_exporter_shows_what_ld_summary_counts() -> Result {
    let target = SizedTarget::start()?;
    let server = serve(&[]);
    let port = port_of(&one(
        &server,
        "LD_start_prometheus_exporter",
        json!({"port": 0}),
    )?)?;
    assert_ne!(port, 0);
    let exporter = SocketAddr::from(([127, 0, 0, 1], port));
    let summary = run_test(&server, &target)?;
    let (status, body) = get(exporter, "/metrics")?;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let scraped = samples(&body)?;
    let sizes = [
        ("small", 10.0),
        ("mid", 1000.0),
        ("big", 5000.0),
        ("fail", 300.0),
    ];
    for (name, size) in sizes {
        let per_name = &summary["per_name"][name];
        let count = per_name["count"].as_f64().ok_or("no count")?;
        assert!(count > 0.0, "{summary}");
        let method = if name == "mid" { "POST" } else { "GET" };
        let labels = |outcome| {
            [
                ("request_type", method),
                ("name", name),
                ("outcome", outcome),
            ]
        };
        assert_eq!(
            value(&scraped, "loaddensity_requests_total", &labels("success")),
            per_name["successes"].as_f64(),
            "{name}\n{body}"
        );
        assert_eq!(
            value(&scraped, "loaddensity_requests_total", &labels("failure")),
            per_name["failures"].as_f64(),
            "{name}\n{body}"
        );
        let named = [("request_type", method), ("name", name)];
        assert_eq!(
            value(&scraped, "loaddensity_request_latency_ms_count", &named),
            Some(count)
        );
        // Latency buckets: cumulative, ending at the count, holding every
        // request at the bounds at or above the slowest.
        let latency = buckets(&scraped, "loaddensity_request_latency_ms", name);
        let bounds: Vec<&str> = latency.iter().map(|(le, _)| le.as_str()).collect();
        assert_eq!(
            bounds,
            [
                "5.0", "10.0", "25.0", "50.0", "100.0", "250.0", "500.0", "1000.0", "2500.0",
                "5000.0", "10000.0", "+Inf"
            ]
        );
        assert!(latency.windows(2).all(|w| w[0].1 <= w[1].1), "{latency:?}");
        assert_eq!(latency.last().map(|b| b.1), Some(count));
        let max_ms = per_name["max_ms"].as_f64().ok_or("no max")?;
        for (le, n) in &latency {
            if le.parse::<f64>().is_ok_and(|bound| bound >= max_ms) {
                assert_eq!(*n, count, "{name}: le {le} below the max {max_ms}");
            }
        }
        // Response sizes: every request in the first bucket that holds its body.
        for (le, n) in buckets(&scraped, "loaddensity_response_bytes", name) {
            let holds = le == "+Inf" || le.parse::<f64>().is_ok_and(|bound| bound >= size);
            assert_eq!(n, if holds { count } else { 0.0 }, "{name} le {le}");
        }
        assert_eq!(
            value(&scraped, "loaddensity_response_bytes_sum", &named),
            Some(size * count)
        );
    }
    assert_eq!(summary["per_name"]["fail"]["successes"], 0);
    // Every path is served, as prometheus_client's server does.
    assert!(get(exporter, "/")?.1.contains("loaddensity_requests_total"));
    // Asked again: the running one; another port: refused, saying why.
    assert_eq!(
        port_of(&one(
            &server,
            "LD_start_prometheus_exporter",
            json!({"port": 0})
        )?)?,
        port
    );
    let moved = refused(
        &server,
        "LD_start_prometheus_exporter",
        json!({"port": port.wrapping_add(1)}),
    )?;
    assert!(
        moved.contains("LD_stop_prometheus_exporter first"),
        "{moved}"
    );
    // A typo is refused, naming it.
    let typo = refused(&server, "LD_start_prometheus_exporter", json!({"prot": 1}))?;
    assert!(typo.contains("prot"), "{typo}");
    // Records cleared: the exporter's counters do not go back.
    send(&server, &json!([["LD_clear_records", {}]]))?;
    let after = samples(&get(exporter, "/metrics")?.1)?;
    assert_eq!(
        value(
            &after,
            "loaddensity_request_latency_ms_count",
            &[("name", "big")]
        ),
        summary["per_name"]["big"]["count"].as_f64()
    );
    one(&server, "LD_stop_prometheus_exporter", json!({}))?;
    wait_closed(exporter)?;
    Ok(())
}

#[test]
fn a_public_address_needs_the_operators_flag() -> Result {
    let server = serve(&[]);
    let line = refused(
        &server,
        "LD_start_prometheus_exporter",
        json!({"port": 0, "addr": "0.0.0.0"}),
    )?;
    assert!(line.contains("--allow-observer-addr"), "{line}");
    let open = serve(&["--allow-observer-addr", "0.0.0.0/0"]);
    let port = port_of(&one(
        &open,
        "LD_start_prometheus_exporter",
        json!({"port": 0, "addr": "0.0.0.0"}),
    )?)?;
    let (status, body) = get(SocketAddr::from(([127, 0, 0, 1], port)), "/metrics")?;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    Ok(())
}

#[test]
fn idle_clients_holding_every_slot_do_not_stop_a_scrape() -> Result {
    let server = serve(&[]);
    let port = port_of(&one(
        &server,
        "LD_start_prometheus_exporter",
        json!({"port": 0}),
    )?)?;
    let exporter = SocketAddr::from(([127, 0, 0, 1], port));
    // 64 connections (every slot) that never send a request.
    let idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(exporter))
        .collect::<std::io::Result<_>>()?;
    // Served once the head deadline (5 s) frees the slots.
    let (status, _) = get(exporter, "/metrics")?;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    drop(idle);
    Ok(())
}

/// `ld-tower serve ARGS --port 0 --metrics 127.0.0.1:0`: the process and
/// its metrics address.
fn serve_with_metrics(args: &[&str]) -> Result<(common::child::Child, u16, SocketAddr)> {
    let mut command = std::process::Command::new(common::bin());
    command
        .arg("serve")
        .args(args)
        .args(["--port", "0", "--metrics", "127.0.0.1:0"])
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    let mut child = common::child::Child::spawn("ld-tower serve", &mut command)?;
    let metrics = child.wait_for_line(DEADLINE, "`Metrics on` line", |line| {
        line.strip_prefix("Metrics on ")?.parse::<SocketAddr>().ok()
    })?;
    let port = child.announced_port(DEADLINE)?;
    Ok((child, port, metrics))
}

/// Scrapes `addr` until `ready` holds of the samples (within the deadline).
fn scrape_until(addr: SocketAddr, ready: impl Fn(&[Sample]) -> bool) -> Result<Vec<Sample>> {
    let until = Instant::now() + DEADLINE;
    loop {
        let scraped = samples(&get(addr, "/metrics")?.1)?;
        if ready(&scraped) {
            return Ok(scraped);
        }
        if Instant::now() > until {
            return Err(format!("never ready: {scraped:?}").into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn with_token(actions: Value) -> String {
    json!({"token": "s3cret", "command": actions}).to_string()
}

#[test]
fn serve_metrics_counts_connections_commands_and_auth_failures() -> Result {
    let target = SizedTarget::start()?;
    let (_child, port, metrics) = serve_with_metrics(&["--token", "s3cret"])?;
    let legacy = |request: String| String::from_utf8(common::legacy(port, request.as_bytes()));
    let ok = legacy(with_token(json!({"load_density": [["LD_summary", {}]]})))?;
    assert!(!ok.starts_with("Error"), "{ok}");
    let unknown = legacy(with_token(json!({"load_density": [["LD_no_such", {}]]})))?;
    assert!(unknown.starts_with("Error"), "{unknown}");
    let bad = legacy(json!({"token": "wrong", "command": [["LD_summary", {}]]}).to_string())?;
    assert!(!bad.contains("\"count\""), "{bad}");
    let scraped = scrape_until(metrics, |s| {
        value(s, "ld_tower_connections_open", &[]) == Some(0.0)
    })?;
    assert_eq!(
        value(&scraped, "ld_tower_connections_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        value(
            &scraped,
            "ld_tower_commands_total",
            &[("action", "LD_summary"), ("outcome", "ok")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &scraped,
            "ld_tower_commands_total",
            &[("action", "(unknown)"), ("outcome", "error")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&scraped, "ld_tower_auth_failures_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&scraped, "ld_tower_command_duration_seconds_count", &[]),
        Some(2.0)
    );
    assert_eq!(
        value(
            &scraped,
            "ld_tower_connections_refused_total",
            &[("reason", "limit")]
        ),
        Some(0.0)
    );
    assert_eq!(value(&scraped, "ld_tower_test_running", &[]), Some(0.0));
    // A running test's users show while it runs; its requests after it.
    let start = with_token(json!({"load_density": [["LD_start_test", {
        "user_count": 3, "spawn_rate": 1000, "test_time": 60, "wait_time": 0.05,
        "host": target.url(), "tasks": [{"method": "get", "name": "small", "request_url": "/bytes/10"}]
    }]]}));
    let running = std::thread::spawn(move || common::legacy(port, start.as_bytes()));
    let during = scrape_until(metrics, |s| {
        value(s, "ld_tower_test_users", &[]) == Some(3.0)
            && value(s, "ld_tower_test_target_users", &[]) == Some(3.0)
    })?;
    assert_eq!(value(&during, "ld_tower_test_running", &[]), Some(1.0));
    assert!(value(&during, "ld_tower_connections_open", &[]) >= Some(1.0));
    let stop = legacy(with_token(json!([["LD_stop_test", {}]])))?;
    assert!(!stop.starts_with("Error"), "{stop}");
    let finished = String::from_utf8(running.join().map_err(|_| "the test's sender panicked")?)?;
    assert!(!finished.starts_with("Error"), "{finished}");
    let summary = legacy(with_token(json!([["LD_summary", {}]])))?;
    let summary: Value = serde_json::from_str(summary.lines().next().ok_or("no line")?)?;
    let after = scrape_until(metrics, |s| {
        value(s, "ld_tower_test_running", &[]) == Some(0.0)
    })?;
    assert_eq!(
        value(
            &after,
            "loaddensity_requests_total",
            &[("name", "small"), ("outcome", "success")]
        ),
        summary["per_name"]["small"]["successes"].as_f64()
    );
    Ok(())
}

/// Every datagram waiting on `socket` (the sender has finished).
fn drain(socket: &std::net::UdpSocket) -> Result<Vec<String>> {
    socket.set_nonblocking(true)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match socket.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8(buf[..n].to_vec())?),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(out),
            Err(e) => return Err(e.into()),
        }
    }
}

#[test]
fn statsd_counts_add_up_to_ld_summary() -> Result {
    let target = SizedTarget::start()?;
    let sink = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let sink_port = sink.local_addr()?.port();
    let server = serve(&[]);
    let at = send(
        &server,
        &json!([["LD_start_statsd_sink",
            {"host": "127.0.0.1", "port": sink_port, "prefix": "ld.", "flush_interval": 0.05}]]),
    )?;
    assert_eq!(at, [format!("127.0.0.1:{sink_port}")]);
    let summary = run_test(&server, &target)?;
    // Stopping sends the last changes before it answers.
    one(&server, "LD_stop_statsd_sink", json!({}))?;
    let datagrams = drain(&sink)?;
    assert!(datagrams.iter().all(|d| d.len() <= 1432));
    let mut requests: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut latencies: BTreeMap<String, f64> = BTreeMap::new();
    let mut sizes: BTreeMap<String, f64> = BTreeMap::new();
    for line in datagrams.iter().flat_map(|d| d.lines()) {
        let (metric, rest) = line.split_once(':').ok_or(line.to_owned())?;
        let parts: Vec<&str> = rest.split('|').collect();
        let tags: BTreeMap<&str, &str> = parts
            .last()
            .and_then(|t| t.strip_prefix('#'))
            .ok_or(line.to_owned())?
            .split(',')
            .filter_map(|t| t.split_once(':'))
            .collect();
        let name = tags.get("name").ok_or(line.to_owned())?.to_string();
        let rate = parts
            .iter()
            .find_map(|p| p.strip_prefix('@'))
            .map_or(Ok(1.0), str::parse::<f64>)?;
        let value: f64 = parts[0].parse()?;
        let method = if name == "mid" { "POST" } else { "GET" };
        assert_eq!(tags.get("method"), Some(&method), "{line}");
        match metric {
            "ld.requests" => {
                assert_eq!(parts[1], "c", "{line}");
                let outcome = tags.get("outcome").ok_or(line.to_owned())?.to_string();
                *requests.entry((name, outcome)).or_default() += value;
            }
            "ld.request.latency" => *latencies.entry(name).or_default() += (1.0 / rate).round(),
            "ld.response.size" => *sizes.entry(name).or_default() += value * (1.0 / rate).round(),
            _ => return Err(format!("unexpected metric: {line}").into()),
        }
    }
    for (name, size) in [
        ("small", 10.0),
        ("mid", 1000.0),
        ("big", 5000.0),
        ("fail", 300.0),
    ] {
        let per_name = &summary["per_name"][name];
        let field = |key: &str| per_name[key].as_f64().unwrap_or(-1.0);
        let sent = |outcome: &str| {
            requests
                .get(&(name.to_owned(), outcome.to_owned()))
                .copied()
                .unwrap_or(0.0)
        };
        assert_eq!(sent("success"), field("successes"), "{name}");
        assert_eq!(sent("failure"), field("failures"), "{name}");
        assert_eq!(latencies.get(name).copied(), Some(field("count")), "{name}");
        assert_eq!(
            sizes.get(name).copied(),
            Some(size * field("count")),
            "{name}"
        );
    }
    Ok(())
}

#[test]
fn a_sink_the_target_policy_denies_is_refused_before_sending() -> Result {
    let sink = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let rule = format!("127.0.0.1:{}", sink.local_addr()?.port());
    let server = serve(&["--deny-target", &rule]);
    let line = refused(
        &server,
        "LD_start_statsd_sink",
        json!({"host": "127.0.0.1", "port": sink.local_addr()?.port()}),
    )?;
    assert!(line.contains(&format!("(--deny-target {rule})")), "{line}");
    let too_fast = refused(
        &server,
        "LD_start_statsd_sink",
        json!({"flush_interval": 0.0}),
    )?;
    assert!(too_fast.contains("flush_interval"), "{too_fast}");
    one(&server, "LD_stop_statsd_sink", json!({}))?;
    assert!(drain(&sink)?.is_empty());
    Ok(())
}

/// A line-protocol point: measurement, tags, fields (as written).
struct Point {
    measurement: String,
    tags: BTreeMap<String, String>,
    fields: BTreeMap<String, String>,
}

/// Splits `text` at `sep` outside backslash escapes.
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(last), Some(next)) = (out.last_mut(), chars.next()) {
                    last.push(next);
                }
            }
            c if c == sep => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// One line of line protocol (no string fields: the sink writes none).
fn point(line: &str) -> Result<Point> {
    let parts = split_unescaped_keep(line, ' ');
    let [head, fields, at] = &parts[..] else {
        return Err(format!("not three parts: {line}").into());
    };
    let at: u128 = at.parse()?;
    assert!(at > 1_600_000_000_000_000_000, "a time in ns: {line}");
    let mut head = split_unescaped_keep(head, ',').into_iter();
    let measurement = split_unescaped(&head.next().ok_or(line.to_owned())?, ',').concat();
    let pairs = |items: Vec<String>| -> Result<BTreeMap<String, String>> {
        items
            .iter()
            .map(|item| match &split_unescaped(item, '=')[..] {
                [k, v] => Ok((k.clone(), v.clone())),
                _ => Err(format!("not key=value: {item} in {line}").into()),
            })
            .collect()
    };
    Ok(Point {
        measurement,
        tags: pairs(head.collect())?,
        fields: pairs(split_unescaped_keep(fields, ','))?,
    })
}

/// Splits `text` at `sep` outside backslash escapes, the escapes kept.
fn split_unescaped_keep(text: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        if c == sep && !escaped {
            out.push(String::new());
            continue;
        }
        escaped = c == '\\' && !escaped;
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// An integer field (`Ni`).
fn int_field(p: &Point, key: &str) -> Result<u64> {
    let raw = p.fields.get(key).ok_or(format!("no {key}"))?;
    Ok(raw
        .strip_suffix('i')
        .ok_or(format!("{key}={raw} not an integer"))?
        .parse()?)
}

/// Checks `points` against `summary`: requests and failures per name add
/// up, sizes exact, latencies floats in order.
fn points_add_up(points: &[Point], summary: &Value, measurement: &str) -> Result {
    let mut sums: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for p in points {
        assert_eq!(p.measurement, measurement);
        let name = p.tags.get("name").ok_or("no name tag")?.clone();
        let method = if name == "mid" { "POST" } else { "GET" };
        assert_eq!(p.tags.get("request_type").map(String::as_str), Some(method));
        let mut latencies = Vec::new();
        for key in ["p50", "p95", "p99", "max"] {
            let raw = &p.fields[&format!("latency_ms_{key}")];
            assert!(!raw.ends_with('i'), "a float: {raw}");
            latencies.push(raw.parse::<f64>()?);
        }
        assert!(latencies.windows(2).all(|w| w[0] <= w[1]), "{latencies:?}");
        assert!(p.fields["latency_ms_mean"].parse::<f64>()? > 0.0);
        let sum = sums.entry(name).or_default();
        sum.0 += int_field(p, "requests")?;
        sum.1 += int_field(p, "failures")?;
        sum.2 += int_field(p, "response_bytes")?;
    }
    for (name, size) in [("small", 10), ("mid", 1000), ("big", 5000), ("fail", 300)] {
        let per_name = &summary["per_name"][name];
        let count = per_name["count"].as_u64().ok_or("no count")?;
        let failures = per_name["failures"].as_u64().ok_or("no failures")?;
        assert_eq!(
            sums.get(name),
            Some(&(count, failures, size * count)),
            "{name}"
        );
    }
    Ok(())
}

#[test]
fn influxdb_udp_points_add_up_to_ld_summary() -> Result {
    let target = SizedTarget::start()?;
    let sink = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let sink_port = sink.local_addr()?.port();
    let server = serve(&[]);
    let at = send(
        &server,
        &json!([["LD_start_influxdb_sink",
            {"port": sink_port, "measurement": "ld req", "flush_interval": 0.05}]]),
    )?;
    assert_eq!(at, [format!("127.0.0.1:{sink_port}")]);
    let summary = run_test(&server, &target)?;
    // Stopping writes the last changes before it answers.
    one(&server, "LD_stop_influxdb_sink", json!({}))?;
    let datagrams = drain(&sink)?;
    assert!(!datagrams.is_empty());
    assert!(datagrams.iter().all(|d| d.len() <= 1432));
    assert!(datagrams.iter().all(|d| d.starts_with("ld\\ req,")));
    let points = datagrams
        .iter()
        .flat_map(|d| d.lines())
        .map(point)
        .collect::<Result<Vec<_>>>()?;
    points_add_up(&points, &summary, "ld req")
}

/// One request an HTTP receiver was sent.
#[derive(Clone, Debug)]
struct Post {
    /// Path and query.
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// What an HTTP receiver was sent, and a signal rung at each request.
type Posts = std::sync::Arc<(std::sync::Mutex<Vec<Post>>, std::sync::Condvar)>;

/// An HTTP receiver (an InfluxDB, an OTLP collector) keeping every
/// request; `/fail...` answers 500, `/slow...` nothing for 30 s (its
/// requests at once counted), the rest 204 (as InfluxDB's write does).
struct Receiver {
    addr: SocketAddr,
    posts: Posts,
    /// `/slow` requests waiting now, and the most at once.
    slow: std::sync::Arc<Slow>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Result<Receiver> {
        use http_body_util::BodyExt;
        let posts = Posts::default();
        let kept = posts.clone();
        let slow = std::sync::Arc::<Slow>::default();
        let waiting = slow.clone();
        let (addr, runtime) = http_server(move |request| {
            let kept = kept.clone();
            let waiting = waiting.clone();
            async move {
                let path = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let authorization = header("authorization");
                let content_type = header("content-type");
                let body = match request.into_body().collect().await {
                    Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
                    Err(e) => format!("(body failed: {e})"),
                };
                let status = if path.starts_with("/fail") {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                };
                let is_slow = path.starts_with("/slow");
                if let Ok(mut posts) = kept.0.lock() {
                    posts.push(Post {
                        path,
                        authorization,
                        content_type,
                        body,
                    });
                    kept.1.notify_all();
                }
                if is_slow {
                    // Dropped with the connection when the sink gives up.
                    let _left = waiting.arrived().await;
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                }
                let mut response = Response::new(Full::new(Bytes::new()));
                *response.status_mut() = status;
                response
            }
        })?;
        Ok(Receiver {
            addr,
            posts,
            slow,
            _runtime: runtime,
        })
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.0.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Waits (within the deadline), woken at each request, until `ready`
    /// holds of the requests so far: them.
    fn wait_until(&self, ready: impl Fn(&[Post]) -> bool) -> Result<Vec<Post>> {
        self.wait_within(DEADLINE, ready)
    }

    /// Waits at most `within`, woken at each request, until `ready` holds
    /// of the requests so far: them.
    fn wait_within(
        &self,
        within: std::time::Duration,
        ready: impl Fn(&[Post]) -> bool,
    ) -> Result<Vec<Post>> {
        let until = Instant::now() + within;
        let (posts, rung) = &*self.posts;
        let mut seen = posts.lock().map_err(|_| "poisoned")?;
        loop {
            if ready(&seen) {
                return Ok(seen.clone());
            }
            let left = until
                .checked_duration_since(Instant::now())
                .ok_or_else(|| format!("never ready: {seen:?}"))?;
            seen = rung.wait_timeout(seen, left).map_err(|_| "poisoned")?.0;
        }
    }
}

/// The `/slow` requests waiting now, the most at once, and a signal rung
/// when one leaves.
#[derive(Default)]
struct Slow {
    now: AtomicUsize,
    most: AtomicUsize,
    left: tokio::sync::Notify,
}

impl Slow {
    /// Counts a request in, until the guard is dropped. The receiver may
    /// see a new connection's request before it sees an older one closed
    /// by the client: a request waiting with it is given up to 100 ms (a
    /// signal, not a sleep; less than the test's 200 ms timeout, so a
    /// second POST made while the first still waits counts) to be counted
    /// out before both count as at once.
    async fn arrived(self: &std::sync::Arc<Self>) -> Decrement {
        self.now.fetch_add(1, Ordering::SeqCst);
        let guard = Decrement(self.clone());
        let others_leave = async {
            loop {
                let left = self.left.notified();
                if self.now.load(Ordering::SeqCst) <= 1 {
                    return;
                }
                left.await;
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_millis(100), others_leave).await;
        self.most
            .fetch_max(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
        guard
    }
}

/// Counts a waiting `/slow` request out when dropped.
struct Decrement(std::sync::Arc<Slow>);

impl Drop for Decrement {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
        self.0.left.notify_waiters();
    }
}

const TOKEN: &str = "influx-t0ken-never-shown";

#[test]
fn influxdb_http_posts_line_protocol_with_the_token_and_shows_it_nowhere() -> Result {
    let target = SizedTarget::start()?;
    let receiver = Receiver::start()?;
    let server = serve(&[]);
    let mut replies = Vec::new();
    let url = format!("http://{}/api/v2/write?org=o&bucket=b", receiver.addr);
    let start = json!([["LD_start_influxdb_sink",
        {"transport": "HTTP", "url": url, "token": TOKEN, "flush_interval": 0.05, "timeout": 5}]]);
    replies.push(send(&server, &start)?);
    assert_eq!(
        replies[0],
        [format!("http://{}/api/v2/write", receiver.addr)]
    );
    let summary = run_test(&server, &target)?;
    replies.push(send(&server, &json!([["LD_stop_influxdb_sink", {}]]))?);
    let posts = receiver.posts();
    assert!(!posts.is_empty());
    let mut points = Vec::new();
    for Post {
        path,
        authorization,
        content_type,
        body,
    } in &posts
    {
        assert_eq!(path, "/api/v2/write?org=o&bucket=b");
        assert_eq!(
            authorization.as_deref(),
            Some(format!("Token {TOKEN}").as_str())
        );
        assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
        assert!(body.ends_with('\n'), "{body}");
        for line in body.lines() {
            points.push(point(line)?);
        }
    }
    points_add_up(&points, &summary, "loaddensity_request")?;

    // A failing InfluxDB: logged (without the token), its points dropped.
    let failing = format!("http://{}/fail", receiver.addr);
    replies.push(send(
        &server,
        &json!([["LD_start_influxdb_sink",
            {"transport": "http", "url": failing, "token": TOKEN, "flush_interval": 0.05}]]),
    )?);
    run_test(&server, &target)?;
    replies.push(send(&server, &json!([["LD_stop_influxdb_sink", {}]]))?);
    let deadline = Instant::now() + DEADLINE;
    while !server.stderr().contains("InfluxDB sink: write failed") {
        assert!(
            Instant::now() < deadline,
            "no failure logged: {}",
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(receiver.posts().iter().any(|post| post.path == "/fail"));
    // A bad token value is refused without being quoted.
    replies.push(send(
        &server,
        &json!([["LD_start_influxdb_sink",
            {"transport": "http", "url": url, "token": format!("{TOKEN}\n")}]]),
    )?);
    assert!(replies[4][0].starts_with("Error:"), "{:?}", replies[4]);
    for reply in replies.iter().flatten() {
        assert!(!reply.contains(TOKEN), "{reply}");
    }
    assert!(!server.stderr().contains(TOKEN), "{}", server.stderr());
    Ok(())
}

#[test]
fn an_influxdb_sink_the_target_policy_denies_is_refused_before_sending() -> Result {
    let sink = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let receiver = Receiver::start()?;
    let udp_rule = format!("127.0.0.1:{}", sink.local_addr()?.port());
    let http_rule = receiver.addr.to_string();
    let server = serve(&["--deny-target", &udp_rule, "--deny-target", &http_rule]);
    let line = refused(
        &server,
        "LD_start_influxdb_sink",
        json!({"port": sink.local_addr()?.port(), "flush_interval": 0.05}),
    )?;
    assert!(
        line.contains(&format!("(--deny-target {udp_rule})")),
        "{line}"
    );
    let line = refused(
        &server,
        "LD_start_influxdb_sink",
        json!({"transport": "http", "url": format!("http://{http_rule}/write"),
               "token": TOKEN, "flush_interval": 0.05}),
    )?;
    assert!(
        line.contains(&format!("(--deny-target {http_rule})")),
        "{line}"
    );
    assert!(!line.contains(TOKEN), "{line}");
    one(&server, "LD_stop_influxdb_sink", json!({}))?;
    assert!(drain(&sink)?.is_empty());
    assert!(receiver.posts().is_empty());
    Ok(())
}

/// Each of `cases` refused by `action`, its error saying what it says.
fn all_refused(server: &ServeProcess, action: &str, cases: &[(Value, &str)]) -> Result {
    for (args, says) in cases {
        let line = refused(server, action, args.clone())?;
        assert!(line.contains(says), "{args}: {line}");
    }
    Ok(())
}

#[test]
fn bad_influxdb_keywords_are_refused() -> Result {
    let server = serve(&[]);
    all_refused(
        &server,
        "LD_start_influxdb_sink",
        &[
            (json!({"transport": "tcp"}), "unsupported transport"),
            (
                json!({"transport": "http"}),
                "url required when transport=http",
            ),
            (
                json!({"transport": "http", "url": "file:///x"}),
                "http:// or https://",
            ),
            (
                json!({"transport": "http", "url": "http://u:p@127.0.0.1/w"}),
                "user or password",
            ),
            (
                json!({"transport": "http", "url": "http://127.0.0.1/w", "timeout": 0}),
                "timeout",
            ),
            (json!({"flush_interval": 0}), "flush_interval"),
            (json!({"measurement": ""}), "measurement"),
            (json!({"bucket": "b"}), "bucket"),
        ],
    )
}

#[test]
fn a_slow_influxdb_never_has_more_than_one_body_waiting() -> Result {
    let target = SizedTarget::start()?;
    let receiver = Receiver::start()?;
    let server = serve(&[]);
    let url = format!("http://{}/slow", receiver.addr);
    send(
        &server,
        &json!([["LD_start_influxdb_sink",
            {"transport": "http", "url": url, "timeout": 0.2, "flush_interval": 0.05}]]),
    )?;
    // Two tests, the second once the first's write is waiting: two writes,
    // the second after the first gave up (its connection closed).
    run_test(&server, &target)?;
    receiver.wait_until(|posts| !posts.is_empty())?;
    run_test(&server, &target)?;
    let stopping = Instant::now();
    one(&server, "LD_stop_influxdb_sink", json!({}))?;
    assert_eq!(receiver.posts().len(), 2);
    // The last write waits its timeout at most.
    assert!(stopping.elapsed() < std::time::Duration::from_secs(5));
    let deadline = Instant::now() + DEADLINE;
    while !server.stderr().contains("no answer within 200ms") {
        assert!(
            Instant::now() < deadline,
            "no timeout logged: {}",
            server.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!receiver.posts().is_empty());
    assert_eq!(receiver.slow.most.load(Ordering::SeqCst), 1);
    Ok(())
}

/// The data points of OTLP metric `metric` in an export request, and the
/// kind (`sum`, `histogram`) holding them.
fn otlp_points<'a>(request: &'a Value, metric: &str) -> Result<(&'a str, &'a [Value])> {
    let scope = &request["resourceMetrics"][0]["scopeMetrics"][0];
    let found = scope["metrics"]
        .as_array()
        .ok_or("no metrics")?
        .iter()
        .find(|m| m["name"] == metric)
        .ok_or_else(|| format!("no {metric} in {request}"))?;
    for kind in ["sum", "histogram"] {
        if let Some(points) = found[kind]["dataPoints"].as_array() {
            assert_eq!(found[kind]["aggregationTemporality"], 2, "cumulative");
            return Ok((kind, points));
        }
    }
    Err(format!("{metric} has no data points: {found}").into())
}

/// A point's string attribute.
fn otlp_attribute<'a>(point: &'a Value, key: &str) -> Option<&'a str> {
    point["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

/// A 64-bit integer field: a decimal string, as the JSON encoding has it.
fn otlp_u64(value: &Value) -> Result<u64> {
    Ok(value
        .as_str()
        .ok_or_else(|| format!("{value} not a string"))?
        .parse()?)
}

/// Whether the `loaddensity.requests` points of `request` are
/// `LD_summary`'s, per name and outcome.
fn otlp_requests_match(request: &Value, summary: &Value) -> Result<bool> {
    let (kind, points) = otlp_points(request, "loaddensity.requests")?;
    assert_eq!(kind, "sum");
    let mut sent: BTreeMap<(String, String), u64> = BTreeMap::new();
    for point in points {
        let name = otlp_attribute(point, "name").ok_or("no name")?;
        let outcome = otlp_attribute(point, "outcome").ok_or("no outcome")?;
        *sent.entry((name.into(), outcome.into())).or_default() += otlp_u64(&point["asInt"])?;
    }
    let per_name = summary["per_name"].as_object().ok_or("no per_name")?;
    let mut wanted = BTreeMap::new();
    for (name, figures) in per_name {
        for (outcome, key) in [("success", "successes"), ("failure", "failures")] {
            let n = figures[key].as_u64().ok_or("no count")?;
            wanted.insert((name.clone(), outcome.to_owned()), n);
        }
    }
    Ok(sent == wanted)
}

/// Checks an export's request line and the rest of its body against
/// `summary`: the resource, the scope, the histograms' counts and buckets.
fn otlp_export_checks(post: &Post, summary: &Value, path: &str) -> Result {
    assert_eq!(post.path, path);
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    let request: Value = serde_json::from_str(&post.body)?;
    assert!(otlp_requests_match(&request, summary)?, "{request}");
    let resource = &request["resourceMetrics"][0];
    assert_eq!(
        resource["resource"]["attributes"],
        json!([{"key": "service.name", "value": {"stringValue": "svc"}}])
    );
    assert_eq!(resource["scopeMetrics"][0]["scope"]["name"], "loaddensity");
    for (metric, unit, bounds) in [
        (
            "loaddensity.request.latency",
            "ms",
            json!([5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0]),
        ),
        (
            "loaddensity.response.size",
            "By",
            json!([64, 256, 1024, 4096, 16384, 65536, 262144, 1048576]),
        ),
    ] {
        let metrics = resource["scopeMetrics"][0]["metrics"]
            .as_array()
            .ok_or("no metrics")?;
        assert!(metrics
            .iter()
            .any(|m| m["name"] == metric && m["unit"] == unit));
        let (kind, points) = otlp_points(&request, metric)?;
        assert_eq!(kind, "histogram");
        assert_eq!(points.len(), 4, "{metric}: {points:?}");
        for point in points {
            let name = otlp_attribute(point, "name").ok_or("no name")?;
            let method = if name == "mid" { "POST" } else { "GET" };
            assert_eq!(otlp_attribute(point, "request_type"), Some(method));
            assert_eq!(otlp_attribute(point, "outcome"), None);
            let count = otlp_u64(&point["count"])?;
            assert_eq!(Some(count), summary["per_name"][name]["count"].as_u64());
            assert_eq!(
                point["explicitBounds"].as_array().map(Vec::len),
                bounds.as_array().map(Vec::len)
            );
            for (got, want) in point["explicitBounds"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(bounds.as_array().into_iter().flatten())
            {
                assert_eq!(got.as_f64(), want.as_f64(), "{metric}");
            }
            let buckets = point["bucketCounts"].as_array().ok_or("no buckets")?;
            assert_eq!(buckets.len(), bounds.as_array().map_or(0, Vec::len) + 1);
            let in_buckets = buckets.iter().map(otlp_u64).sum::<Result<u64>>()?;
            assert_eq!(in_buckets, count, "{metric} {name}");
            let start = otlp_u64(&point["startTimeUnixNano"])?;
            let at = otlp_u64(&point["timeUnixNano"])?;
            assert!(start > 1_600_000_000_000_000_000 && start <= at, "{point}");
        }
    }
    let (_, sizes) = otlp_points(&request, "loaddensity.response.size")?;
    for point in sizes {
        let name = otlp_attribute(point, "name").ok_or("no name")?;
        let size = [("small", 10), ("mid", 1000), ("big", 5000), ("fail", 300)]
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, size)| *size)
            .ok_or("unknown name")?;
        let count = otlp_u64(&point["count"])?;
        assert_eq!(point["sum"].as_f64(), Some((size * count) as f64), "{name}");
    }
    let (_, latencies) = otlp_points(&request, "loaddensity.request.latency")?;
    for point in latencies {
        let (min, max) = (point["min"].as_f64(), point["max"].as_f64());
        assert!(min.is_some() && min <= max, "{point}");
    }
    Ok(())
}

#[test]
fn otlp_exports_add_up_to_ld_summary() -> Result {
    let target = SizedTarget::start()?;
    let receiver = Receiver::start()?;
    let server = serve(&[]);
    let at = send(
        &server,
        &json!([["LD_start_opentelemetry_exporter",
            {"endpoint": format!("http://{}/otel/", receiver.addr),
             "service_name": "svc", "export_interval_ms": 200}]]),
    )?;
    assert_eq!(at, [format!("http://{}/otel/v1/metrics", receiver.addr)]);
    let summary = run_test(&server, &target)?;
    // Cumulative: an export after the test carries all of it.
    let adds_up = |post: &Post| {
        serde_json::from_str(&post.body)
            .map_err(Into::into)
            .and_then(|request| otlp_requests_match(&request, &summary))
            .unwrap_or(false)
    };
    let posts = receiver.wait_until(|posts| posts.iter().any(adds_up))?;
    let export = posts.iter().find(|post| adds_up(post)).ok_or("no export")?;
    otlp_export_checks(export, &summary, "/otel/v1/metrics")?;
    one(&server, "LD_stop_opentelemetry_exporter", json!({}))?;
    // Stopped: nothing comes after the stop's own export (five intervals).
    let stopped = receiver.posts().len();
    let later = receiver.wait_within(std::time::Duration::from_secs(1), |posts| {
        posts.len() > stopped
    });
    assert!(later.is_err(), "an export after the stop: {later:?}");
    Ok(())
}

#[test]
fn otlp_stop_a_second_start_and_shutdown_send_the_last_export() -> Result {
    let target = SizedTarget::start()?;
    let receiver = Receiver::start()?;
    let server = serve(&[]);
    // An hour's interval: no export but the last ones.
    let start = json!({"endpoint": format!("http://{}", receiver.addr),
                       "service_name": "svc", "export_interval_ms": 3_600_000});
    let started = json!([["LD_start_opentelemetry_exporter", start]]);
    assert_eq!(
        send(&server, &started)?,
        [format!("http://{}/v1/metrics", receiver.addr)]
    );
    let summary = run_test(&server, &target)?;
    assert!(receiver.posts().is_empty());
    // A second start stops the first, which sends its last export first.
    send(&server, &started)?;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 1, "{posts:?}");
    otlp_export_checks(&posts[0], &summary, "/v1/metrics")?;
    // The stop answers once its last export is sent.
    one(&server, "LD_stop_opentelemetry_exporter", json!({}))?;
    let posts = receiver.posts();
    assert_eq!(posts.len(), 2, "{posts:?}");
    otlp_export_checks(&posts[1], &summary, "/v1/metrics")?;
    // None running: the stop does nothing.
    one(&server, "LD_stop_opentelemetry_exporter", json!({}))?;
    assert_eq!(receiver.posts().len(), 2);
    // Shutdown (SIGTERM) sends the last export before the process ends.
    send(&server, &started)?;
    server.signal("TERM");
    let posts = receiver.wait_until(|posts| posts.len() == 3)?;
    otlp_export_checks(&posts[2], &summary, "/v1/metrics")?;
    Ok(())
}

#[test]
fn an_otlp_collector_the_target_policy_denies_is_refused_before_sending() -> Result {
    let target = SizedTarget::start()?;
    let receiver = Receiver::start()?;
    let rule = receiver.addr.to_string();
    let server = serve(&["--deny-target", &rule]);
    let line = refused(
        &server,
        "LD_start_opentelemetry_exporter",
        json!({"endpoint": format!("http://{rule}"), "export_interval_ms": 100}),
    )?;
    assert!(line.contains(&format!("(--deny-target {rule})")), "{line}");
    run_test(&server, &target)?;
    one(&server, "LD_stop_opentelemetry_exporter", json!({}))?;
    assert!(receiver.posts().is_empty());
    Ok(())
}

#[test]
fn bad_otlp_keywords_are_refused() -> Result {
    let server = serve(&[]);
    all_refused(
        &server,
        "LD_start_opentelemetry_exporter",
        &[
            (json!({"endpoint": "file:///x"}), "http:// or https://"),
            (
                json!({"endpoint": "grpc://127.0.0.1:4317"}),
                "http:// or https://",
            ),
            (
                json!({"endpoint": "http://u:p@127.0.0.1:4318"}),
                "user or password",
            ),
            (json!({"export_interval_ms": 0}), "export_interval_ms"),
            (json!({"export_interval_ms": 99}), "export_interval_ms"),
            (
                json!({"export_interval_ms": 3_600_001}),
                "export_interval_ms",
            ),
            (json!({"export_interval_ms": -1}), "export_interval_ms"),
            (json!({"headers": {"a": "b"}}), "headers"),
        ],
    )?;
    let typo = refused(&server, "LD_stop_opentelemetry_exporter", json!({"x": 1}))?;
    assert!(typo.contains('x'), "{typo}");
    Ok(())
}
