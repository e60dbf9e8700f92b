//! Control-plane benchmark: ld-tower's control socket against the original
//! Python `je_load_density` server, as real processes.
//!
//! ```text
//! cargo bench --bench control_plane [-- --quick] [-- --clients N --seconds S --no-peer]
//! ```
//!
//! The server under test runs pinned to core 0 (`taskset -c 0`); this
//! process re-executes itself under `taskset -c 1` and drives it from a
//! current-thread tokio runtime with N concurrent clients (default 50) for S
//! seconds (default 5) per scenario, after a short warm-up. Every scenario
//! sends the framed, token-wrapped `LD_summary` command:
//!
//! - one command per connection: connect, [TLS handshake], one request,
//!   read frames up to the terminator, close;
//! - kept connections: each client reuses its connection command after
//!   command (a server that closes after every reply, as the original does,
//!   is detected by a probe and measured reconnecting, labelled so).
//!
//! Measured: commands/s, p50/p99 latency, and the server's CPU time per
//! command (utime + stime of its PID from `/proc/PID/stat` over the timed
//! window, divided by the commands completed in it).
//!
//! The original is found as: env `LD_TOWER_PEER_PYTHON`, else
//! `.peer/bin/python` under the workspace root, else `python3`; whichever
//! can `import je_load_density`. Without it only ld-tower's figures print.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

mod support;
use support::{clock_ticks_per_second, core_ticks, cpu_ticks, free_port, pin_self, Placement};

/// The ld-tower binary under test (the release build under `cargo bench`).
const LD_TOWER: &str = env!("CARGO_BIN_EXE_ld-tower");
/// The workspace root (`.peer/` lives there).
const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");
/// Set in the re-executed, pinned child so it does not re-execute again.
const PINNED_ENV: &str = "LD_TOWER_BENCH_PINNED";
/// The terminator frame's body.
const END: &[u8] = b"Return_Data_Over_JE\n";
/// A reply frame larger than this is a broken server.
const MAX_REPLY_FRAME: usize = 16 * 1024 * 1024;
/// One command (connect, handshake, request, every reply frame) at most.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to print `Server started on`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Client-side kernel cost of one new loopback TCP connection caps this.
const LOOPBACK_CONNECT_CAP: &str = "~14,000/s";
/// Other processes busy on a core more than this share disturb a scenario.
const NOISE_LIMIT: f64 = 0.10;

// ------------------------------------------------------------------ options

#[derive(Clone, Debug)]
struct Options {
    clients: usize,
    seconds: f64,
    warmup: f64,
    peer: bool,
    /// Runs of a scenario at most, while other processes disturb it.
    attempts: u32,
}

fn usage() -> &'static str {
    "usage: cargo bench --bench control_plane -- [--quick] [--clients N] [--seconds S] [--no-peer]\n\
     \x20 --quick        short run (2 s per scenario, 0.5 s warm-up)\n\
     \x20 --clients N    concurrent clients (default 50)\n\
     \x20 --seconds S    timed window per scenario (default 5)\n\
     \x20 --no-peer      skip the original Python server\n\
     env LD_TOWER_PEER_PYTHON: the python that has je_load_density installed"
}

fn parse_options() -> Result<Options> {
    let mut options = Options {
        clients: 50,
        seconds: 5.0,
        warmup: 1.0,
        peer: true,
        attempts: 3,
    };
    let mut seconds_given = false;
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo bench passes --bench to every harness = false bench.
            "--bench" => {}
            "--quick" => quick = true,
            "--no-peer" => options.peer = false,
            "--clients" => {
                let value = args.next().ok_or("--clients needs a number")?;
                options.clients = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=4000).contains(n))
                    .ok_or_else(|| format!("--clients {value:?}: give 1 to 4000"))?;
            }
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                options.seconds = value
                    .parse()
                    .ok()
                    .filter(|s: &f64| (0.2..=600.0).contains(s))
                    .ok_or_else(|| format!("--seconds {value:?}: give 0.2 to 600"))?;
                seconds_given = true;
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{}", usage()).into()),
        }
    }
    if quick {
        options.warmup = 0.5;
        options.attempts = 2;
        if !seconds_given {
            options.seconds = 2.0;
        }
    }
    Ok(options)
}

/// Busy (non-idle) clock ticks of cores 0 and 1 (`support::core_ticks`).
fn core_busy_ticks() -> Option<[u64; 2]> {
    core_ticks().map(|[core0, core1]| [core0[0], core1[0]])
}

// ------------------------------------------------------------------ servers

/// Which server a process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    LdTower,
    /// A bare tokio server that reads a frame and writes a fixed reply: the
    /// least any tokio server pays on this machine (kernel, runtime).
    Floor,
    Original,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::LdTower => "ld-tower",
            Kind::Floor => "bare tokio",
            Kind::Original => "original",
        }
    }
}

/// The argument that makes this bench binary the bare tokio server.
const FLOOR_SERVER: &str = "--floor-server";

/// The bare tokio server ([`Kind::Floor`]): the same runtime, listener and
/// framing as ld-tower, no parsing, no stack, a fixed reply.
fn floor_server() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = ld_tower::server::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        println!("Server started on localhost:{}", listener.local_addr()?.port());
        let summary: &[u8] = br#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}
"#;
        let mut reply = Vec::new();
        for piece in [summary, ld_tower::protocol::END] {
            reply.extend_from_slice(&u32::try_from(piece.len())?.to_be_bytes());
            reply.extend_from_slice(piece);
        }
        let reply: Arc<[u8]> = reply.into();
        loop {
            let (mut tcp, _) = listener.accept().await?;
            let reply = Arc::clone(&reply);
            tokio::spawn(async move {
                let mut body = Vec::new();
                loop {
                    let mut header = [0u8; 4];
                    if tcp.read_exact(&mut header).await.is_err() {
                        return;
                    }
                    body.resize(u32::from_be_bytes(header) as usize, 0);
                    if tcp.read_exact(&mut body).await.is_err()
                        || tcp.write_all(&reply).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    })
}

/// A running server process; killed when dropped.
#[derive(Debug)]
struct ServerProcess {
    child: Child,
    port: u16,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Starts `program args` (under `taskset -c 0` if asked) and waits for
    /// its `Server started on HOST:PORT` line.
    fn start(program: &Path, args: &[String], pin: bool, what: &str) -> Result<Self> {
        let mut command = if pin {
            let mut command = Command::new("taskset");
            command.arg("-c").arg("0").arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("PYTHONUNBUFFERED", "1");
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {what} ({}): {e}", program.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let process = ServerProcess {
            child,
            port: 0,
            stderr_tail: Arc::clone(&stderr_tail),
        };
        // Drain stderr for ever, keeping its last lines for error messages.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stderr);
            let mut line = Vec::new();
            while lines.read_until(b'\n', &mut line).map_or(0, |n| n) > 0 {
                if let Ok(mut tail) = stderr_tail.lock() {
                    if tail.len() == 8 {
                        tail.pop_front();
                    }
                    tail.push_back(String::from_utf8_lossy(&line).trim_end().to_owned());
                }
                line.clear();
            }
        });
        // Report the announced port, then drain stdout for ever (the
        // original prints several lines per command).
        let (tx, rx) = mpsc::sync_channel::<u16>(1);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut tx = Some(tx);
            while tx.is_some() {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if let Some(rest) = line.trim().strip_prefix("Server started on ") {
                    if let Some(port) = rest.rsplit(':').next().and_then(|p| p.parse().ok()) {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(port);
                        }
                    }
                }
            }
            let mut sink = [0u8; 64 * 1024];
            while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
        });
        let mut process = process;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(port) => {
                    process.port = port;
                    return Ok(process);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = process.child.wait();
                    return Err(process.failure(what, "exited before announcing its port"));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Ok(Some(status)) = process.child.try_wait() {
                return Err(process.failure(what, &format!("exited ({status}) before starting")));
            }
            if Instant::now() > deadline {
                return Err(process.failure(
                    what,
                    &format!("printed no `Server started on` line within {START_TIMEOUT:?}"),
                ));
            }
        }
    }

    fn failure(&self, what: &str, why: &str) -> BoxError {
        // Give the stderr thread a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(100));
        let tail = self
            .stderr_tail
            .lock()
            .map(|tail| tail.iter().cloned().collect::<Vec<_>>().join("\n    "))
            .unwrap_or_default();
        format!("{what} {why}; its stderr:\n    {tail}").into()
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The python that can import `je_load_density`, and its version.
fn find_peer_python() -> (Option<(PathBuf, String)>, Vec<String>) {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(python) = std::env::var_os("LD_TOWER_PEER_PYTHON") {
        candidates.push(PathBuf::from(python));
    }
    candidates.push(Path::new(WORKSPACE).join(".peer/bin/python"));
    candidates.push(PathBuf::from("python3"));
    let script = "import je_load_density\n\
                  try:\n    import importlib.metadata as m; print(m.version('je_load_density'))\n\
                  except Exception:\n    print('unknown version')";
    let mut tried = Vec::new();
    for python in candidates {
        match run_with_timeout(&python, &["-c", script], Duration::from_secs(60)) {
            Ok(version) => return (Some((python, version.trim().to_owned())), tried),
            Err(why) => tried.push(format!("{}: {why}", python.display())),
        }
    }
    (None, tried)
}

/// Runs a short command; its stdout if it succeeds in time.
fn run_with_timeout(program: &Path, args: &[&str], limit: Duration) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => {
                let mut out = String::new();
                if let Some(mut stdout) = child.stdout.take() {
                    let _ = stdout.read_to_string(&mut out);
                }
                return Ok(out);
            }
            Ok(Some(status)) => return Err(format!("cannot import je_load_density ({status})")),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

// ------------------------------------------------------------------ TLS

/// A CA and a leaf for localhost / 127.0.0.1, as PEM files in a tempdir.
struct TlsMaterial {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    connector: TlsConnector,
}

fn tls_material() -> Result<TlsMaterial> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "ld-tower bench CA");
    let ca = ca_params.self_signed(&ca_key)?;
    let leaf_key = KeyPair::generate()?;
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()])?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key)?;
    let dir = tempfile::tempdir()?;
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, leaf.pem())?;
    std::fs::write(&key, leaf_key.serialize_pem())?;

    let mut roots = RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsMaterial {
        _dir: dir,
        cert,
        key,
        connector: TlsConnector::from(Arc::new(config)),
    })
}

// ------------------------------------------------------------------ clients

/// Where and how the clients connect.
struct Target {
    addr: SocketAddr,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The whole request: 4-byte length, then the envelope.
    frame: Vec<u8>,
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Target {
    async fn connect(&self) -> Result<Conn, String> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        tcp.set_nodelay(true)
            .map_err(|e| format!("nodelay: {}", e.kind()))?;
        match &self.tls {
            None => Ok(Conn::Plain(tcp)),
            Some((connector, name)) => connector
                .connect(name.clone(), tcp)
                .await
                .map(|tls| Conn::Tls(Box::new(tls)))
                .map_err(|e| format!("TLS handshake: {e}")),
        }
    }
}

impl Conn {
    async fn command(&mut self, frame: &[u8], buf: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Conn::Plain(stream) => exchange(stream, frame, buf).await,
            Conn::Tls(stream) => exchange(&mut **stream, frame, buf).await,
        }
    }

    /// Closes: plain, FIN (drop); TLS, `close_notify` then FIN. A server
    /// that already closed makes this fail, which is fine.
    async fn close(self) {
        if let Conn::Tls(mut stream) = self {
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        }
    }
}

/// Sends one request frame and reads reply frames up to the terminator;
/// a reply with no result line or an `Error: ` line is an error.
async fn exchange<S>(stream: &mut S, frame: &[u8], buf: &mut Vec<u8>) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(frame)
        .await
        .map_err(|e| format!("write: {}", e.kind()))?;
    stream
        .flush()
        .await
        .map_err(|e| format!("flush: {}", e.kind()))?;
    buf.clear();
    let mut start = 0;
    let mut lines = 0usize;
    loop {
        while let Some(header) = buf.get(start..start + 4) {
            let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
            if len > MAX_REPLY_FRAME {
                return Err(format!("reply frame of {len} bytes"));
            }
            let Some(body) = buf.get(start + 4..start + 4 + len) else {
                break;
            };
            start += 4 + len;
            if body == END {
                if start != buf.len() {
                    return Err("bytes after the terminator".into());
                }
                if lines == 0 {
                    return Err("terminator with no result line".into());
                }
                return Ok(());
            }
            if body.starts_with(b"Error: ") {
                let text = String::from_utf8_lossy(body);
                return Err(format!("server replied {:?}", text.trim_end()));
            }
            lines += 1;
        }
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        match stream.read_buf(buf).await {
            Ok(0) => return Err("closed before the terminator".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read: {}", e.kind())),
        }
    }
}

/// One command per connection, or connections kept for many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    PerConnection,
    Kept,
}

/// When completions count.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    end: Instant,
}

/// What one client saw.
struct ClientStats {
    latency_us: Histogram<u64>,
    commands: u64,
    errors: BTreeMap<String, u64>,
}

fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 120_000_000, 3)?)
}

async fn client(target: Arc<Target>, mode: Mode, window: Window) -> Result<ClientStats> {
    let mut stats = ClientStats {
        latency_us: histogram()?,
        commands: 0,
        errors: BTreeMap::new(),
    };
    let mut kept: Option<Conn> = None;
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let began = Instant::now();
        if began >= window.end {
            break;
        }
        let attempt = tokio::time::timeout(COMMAND_TIMEOUT, async {
            match mode {
                Mode::PerConnection => {
                    let mut conn = target.connect().await?;
                    let result = conn.command(&target.frame, &mut buf).await;
                    let done = Instant::now();
                    conn.close().await;
                    result.map(|()| done)
                }
                Mode::Kept => {
                    if kept.is_none() {
                        kept = Some(target.connect().await?);
                    }
                    let conn = kept.as_mut().ok_or("no connection")?;
                    conn.command(&target.frame, &mut buf).await?;
                    Ok(Instant::now())
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("no complete reply within {COMMAND_TIMEOUT:?}")));
        match attempt {
            Ok(done) => {
                if done >= window.start && done < window.end {
                    let micros = u64::try_from(done.duration_since(began).as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    stats.latency_us.saturating_record(micros);
                    stats.commands += 1;
                }
            }
            Err(why) => {
                kept = None;
                *stats.errors.entry(why).or_insert(0) += 1;
                // An error is often immediate (refused, reset): do not spin.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    if let Some(conn) = kept {
        conn.close().await;
    }
    Ok(stats)
}

/// Whether the server keeps a framed connection open after a reply.
async fn keeps_connections(target: &Target) -> Result<bool> {
    tokio::time::timeout(COMMAND_TIMEOUT, async {
        let mut conn = target.connect().await?;
        let mut buf = Vec::with_capacity(16 * 1024);
        conn.command(&target.frame, &mut buf).await?;
        let mut byte = [0u8; 1];
        let next = tokio::time::timeout(Duration::from_millis(300), async {
            match &mut conn {
                Conn::Plain(stream) => stream.read(&mut byte).await,
                Conn::Tls(stream) => stream.read(&mut byte).await,
            }
        })
        .await;
        conn.close().await;
        // Timed out waiting: still open. End of stream or an error: closed.
        Ok::<bool, String>(next.is_err())
    })
    .await
    .map_err(|_| "probe timed out")?
    .map_err(|why| format!("probe command failed: {why}").into())
}

// ------------------------------------------------------------------ scenarios

/// One row of the table.
#[derive(Debug)]
struct Row {
    server: Kind,
    tls: bool,
    mode: Mode,
    /// The server closes after every reply: "kept" reconnected.
    reconnects: bool,
    commands: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_s: Option<f64>,
    client_cpu_s: Option<f64>,
    /// Busy time of cores 0 and 1 over the window, in seconds.
    core_busy_s: Option<[f64; 2]>,
    errors: BTreeMap<String, u64>,
    /// Runs made (more than one when other processes disturbed it).
    runs: u32,
}

impl Row {
    fn rate(&self) -> f64 {
        self.commands as f64 / self.seconds
    }

    fn cpu_us_per_command(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.commands > 0).then(|| cpu * 1e6 / self.commands as f64)
    }

    /// Share of the window cores 0 and 1 spent on other processes (core 0
    /// minus the server, core 1 minus this client).
    fn other_load(&self) -> Option<[f64; 2]> {
        let [c0, c1] = self.core_busy_s?;
        let server = (c0 - self.server_cpu_s?).max(0.0) / self.seconds;
        let client = (c1 - self.client_cpu_s?).max(0.0) / self.seconds;
        Some([server, client])
    }

    fn scenario(&self) -> String {
        let transport = if self.tls { "TLS" } else { "plain" };
        let mode = match (self.mode, self.reconnects) {
            (Mode::PerConnection, _) => "one per connection",
            (Mode::Kept, false) => "kept connections",
            (Mode::Kept, true) => "kept -> reconnects*",
        };
        format!("{transport}, {mode}")
    }
}

struct Bench {
    options: Options,
    ticks_per_s: f64,
}

impl Bench {
    async fn run_scenario(
        &self,
        server: &mut ServerProcess,
        kind: Kind,
        target: &Arc<Target>,
        mode: Mode,
        reconnects: bool,
    ) -> Result<Row> {
        let effective = if reconnects {
            Mode::PerConnection
        } else {
            mode
        };
        let now = Instant::now();
        let window = Window {
            start: now + Duration::from_secs_f64(self.options.warmup),
            end: now + Duration::from_secs_f64(self.options.warmup + self.options.seconds),
        };
        let tasks: Vec<_> = (0..self.options.clients)
            .map(|_| tokio::spawn(client(Arc::clone(target), effective, window)))
            .collect();
        let pid = server.pid();
        tokio::time::sleep_until(window.start.into()).await;
        let server_before = cpu_ticks(&pid);
        let client_before = cpu_ticks("self");
        let cores_before = core_busy_ticks();
        let measured_from = Instant::now();
        tokio::time::sleep_until(window.end.into()).await;
        let server_after = cpu_ticks(&pid);
        let client_after = cpu_ticks("self");
        let cores_after = core_busy_ticks();
        let measured = measured_from.elapsed().as_secs_f64();

        let mut latency = histogram()?;
        let mut commands = 0;
        let mut errors = BTreeMap::new();
        let deadline = tokio::time::Instant::from(window.end) + COMMAND_TIMEOUT * 2;
        for task in tasks {
            let abort = task.abort_handle();
            match tokio::time::timeout_at(deadline, task).await {
                Ok(Ok(Ok(stats))) => {
                    latency.add(&stats.latency_us)?;
                    commands += stats.commands;
                    for (why, n) in stats.errors {
                        *errors.entry(why).or_insert(0) += n;
                    }
                }
                Ok(Ok(Err(e))) => *errors.entry(format!("client failed: {e}")).or_insert(0) += 1,
                Ok(Err(e)) => *errors.entry(format!("client task: {e}")).or_insert(0) += 1,
                Err(_) => {
                    abort.abort();
                    *errors
                        .entry("client stuck past the deadline".into())
                        .or_insert(0) += 1;
                }
            }
        }
        if !server.alive() {
            *errors.entry("server process died".into()).or_insert(0) += 1;
        }
        let ticks = |before: Option<u64>, after: Option<u64>| {
            Some(after?.checked_sub(before?)? as f64 / self.ticks_per_s)
        };
        let quantile_ms = |q: f64| {
            if latency.is_empty() {
                f64::NAN
            } else {
                latency.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Ok(Row {
            server: kind,
            tls: target.tls.is_some(),
            mode,
            reconnects,
            commands,
            seconds: measured,
            p50_ms: quantile_ms(0.50),
            p99_ms: quantile_ms(0.99),
            server_cpu_s: ticks(server_before, server_after),
            client_cpu_s: ticks(client_before, client_after),
            core_busy_s: cores_before.zip(cores_after).and_then(|(before, after)| {
                Some([
                    ticks(Some(before[0]), Some(after[0]))?,
                    ticks(Some(before[1]), Some(after[1]))?,
                ])
            }),
            errors,
            runs: 1,
        })
    }
}

// ------------------------------------------------------------------ output

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<27} {:<9} {:>10} {:>8} {:>8} {:>15} {:>8} {:>8} {:>12} {:>6} {:>4}",
        "scenario",
        "server",
        "commands/s",
        "p50 ms",
        "p99 ms",
        "srv CPU us/cmd",
        "srv CPU",
        "cli CPU",
        "other c0/c1",
        "errors",
        "runs"
    );
    println!("{}", "-".repeat(119));
    let mut noisy = false;
    for row in rows {
        let cpu = row
            .cpu_us_per_command()
            .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.1}"));
        let pct = |cpu: Option<f64>| {
            cpu.map_or_else(
                || "n/a".to_owned(),
                |s| format!("{:.0}%", 100.0 * s / row.seconds),
            )
        };
        let other = row.other_load().map_or_else(
            || "n/a".to_owned(),
            |[c0, c1]| {
                let mark = if c0.max(c1) > NOISE_LIMIT { "!" } else { "" };
                noisy |= !mark.is_empty();
                format!("{:.0}%/{:.0}%{mark}", 100.0 * c0, 100.0 * c1)
            },
        );
        let errors: u64 = row.errors.values().sum();
        println!(
            "{:<27} {:<9} {:>10.0} {:>8.2} {:>8.2} {:>15} {:>8} {:>8} {:>12} {:>6} {:>4}",
            row.scenario(),
            row.server.name(),
            row.rate(),
            row.p50_ms,
            row.p99_ms,
            cpu,
            pct(row.server_cpu_s),
            pct(row.client_cpu_s),
            other,
            errors,
            row.runs
        );
    }
    if noisy {
        println!(
            "! other processes kept core 0 or 1 more than 10% busy in every run of this scenario: \
             its figures are disturbed; rerun on a quiet machine"
        );
    }
    let mut any_errors = false;
    for row in rows.iter().filter(|row| !row.errors.is_empty()) {
        if !any_errors {
            println!("\nerrors:");
            any_errors = true;
        }
        for (why, n) in row.errors.iter().take(5) {
            println!("  {} / {}: {n} x {why}", row.scenario(), row.server.name());
        }
    }
}

fn find(rows: &[Row], server: Kind, tls: bool, mode: Mode) -> Option<&Row> {
    rows.iter()
        .find(|row| row.server == server && row.tls == tls && row.mode == mode)
}

fn verdict(ratio: f64, target: f64) -> &'static str {
    if ratio >= target {
        "met"
    } else {
        "MISSED"
    }
}

fn print_ratios(rows: &[Row], peer_version: &str) {
    println!("\nld-tower vs the original (je_load_density {peer_version}):");
    for tls in [false, true] {
        let transport = if tls { "TLS  " } else { "plain" };
        let target = if tls { 2.5 } else { 10.0 };
        let ours =
            find(rows, Kind::LdTower, tls, Mode::PerConnection).and_then(Row::cpu_us_per_command);
        let theirs =
            find(rows, Kind::Original, tls, Mode::PerConnection).and_then(Row::cpu_us_per_command);
        match (ours, theirs) {
            (Some(ours), Some(theirs)) if ours > 0.0 => {
                let ratio = theirs / ours;
                println!(
                    "  server CPU per command, one per connection, {transport}: \
                     {theirs:.1} us / {ours:.1} us = {ratio:.1}x lower (target >= {target}x: {})",
                    verdict(ratio, target)
                );
            }
            _ => println!(
                "  server CPU per command, one per connection, {transport}: n/a (no figure)"
            ),
        }
    }
    let cpu = |kind| find(rows, kind, false, Mode::PerConnection).and_then(Row::cpu_us_per_command);
    if let (Some(floor), Some(ours), Some(theirs)) =
        (cpu(Kind::Floor), cpu(Kind::LdTower), cpu(Kind::Original))
    {
        if floor > 0.0 {
            println!(
                "  the floor, plain, one per connection: a bare tokio server (fixed reply, no parsing) costs \
                 {floor:.1} us per command here, so no tokio server can be more than {:.1}x lower than the \
                 original on this machine; ld-tower costs {:.2}x the floor",
                theirs / floor,
                ours / floor
            );
        }
    }
    let best = rows
        .iter()
        .filter(|row| row.server == Kind::Original && row.commands > 0)
        .max_by(|a, b| a.rate().total_cmp(&b.rate()));
    match best {
        Some(best) => {
            for tls in [false, true] {
                let Some(ours) = find(rows, Kind::LdTower, tls, Mode::Kept) else {
                    continue;
                };
                let ratio = ours.rate() / best.rate();
                let transport = if tls { "TLS  " } else { "plain" };
                if tls {
                    println!(
                        "  commands/s, ld-tower kept connections, {transport}: {:.0}/s vs the original's best \
                         ({}: {:.0}/s) = {ratio:.1}x",
                        ours.rate(),
                        best.scenario(),
                        best.rate()
                    );
                } else {
                    println!(
                        "  commands/s, ld-tower kept connections, {transport}: {:.0}/s vs the original's best \
                         ({}: {:.0}/s) = {ratio:.1}x (target >= 15x: {})",
                        ours.rate(),
                        best.scenario(),
                        best.rate(),
                        verdict(ratio, 15.0)
                    );
                }
            }
        }
        None => println!("  commands/s vs the original: n/a (no original figure)"),
    }
}

fn print_notes(rows: &[Row]) {
    println!("\nnotes:");
    if rows.iter().any(|row| row.reconnects) {
        println!(
            "  * the original closes a framed connection after every reply, even in framed mode; its\n    \
             \"kept connections\" scenario is therefore one command per connection (clients reconnect)."
        );
    }
    println!(
        "  - with one new loopback TCP connection per command, the client's own kernel time (connect,\n    \
         accept, close on the client's single core) caps commands/s ({LOOPBACK_CONNECT_CAP} on one core),\n    \
         so server CPU per command is the fair comparison there; commands/s compares kept connections."
    );
    println!(
        "  - srv CPU / cli CPU: CPU time of the server process / of this client process over the\n    \
         timed window, as a share of one core (100% = the core is saturated); other c0/c1: time\n    \
         cores 0 and 1 spent on anything else (other processes, kernel threads); a scenario\n    \
         disturbed by more than 10% is run again (runs), and the quietest run is shown."
    );
    println!(
        "  - latency: connect (+ handshake) to terminator for one per connection; request to\n    \
         terminator for kept connections."
    );
}

// ------------------------------------------------------------------ main

fn main() -> ExitCode {
    match start() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("control_plane bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<ExitCode> {
    if std::env::args().any(|arg| arg == FLOOR_SERVER) {
        floor_server()?;
        return Ok(ExitCode::SUCCESS);
    }
    let options = parse_options()?;
    let (reexecuted, placement) = pin_self(
        PINNED_ENV,
        |cpus| format!("server on core 0 (taskset -c 0), clients on core(s) {cpus}"),
        "server and clients share cores",
    )?;
    if let Some(code) = reexecuted {
        return Ok(code);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(options, placement))?;
    Ok(ExitCode::SUCCESS)
}

async fn run(options: Options, placement: Placement) -> Result<()> {
    let ticks_per_s = clock_ticks_per_second();
    println!("ld-tower control-plane benchmark");
    println!("  ld-tower:  {LD_TOWER}");
    println!("  placement: {}", placement.description);
    println!(
        "  load:      {} concurrent clients, {:.1} s timed (+{:.1} s warm-up) per scenario, \
         framed LD_summary with a token",
        options.clients, options.seconds, options.warmup
    );
    let peer = if options.peer {
        let (found, tried) = find_peer_python();
        match &found {
            Some((python, version)) => println!(
                "  original:  je_load_density {version} via {}",
                python.display()
            ),
            None => {
                println!("  original:  NOT INSTALLED; printing ld-tower's figures only. Tried:");
                for line in &tried {
                    println!("               {line}");
                }
                println!(
                    "             install it with: python3 -m venv .peer && \
                     .peer/bin/pip install je-load-density==0.0.79"
                );
            }
        }
        found
    } else {
        println!("  original:  skipped (--no-peer)");
        None
    };

    let tls = tls_material()?;
    let token = format!(
        "bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let body = serde_json::json!({
        "token": token,
        "command": {"load_density": [["LD_summary", {}]]},
    })
    .to_string();
    let mut frame = u32::try_from(body.len())?.to_be_bytes().to_vec();
    frame.extend_from_slice(body.as_bytes());
    let server_name = ServerName::try_from("localhost")?;
    let bench = Bench {
        options: options.clone(),
        ticks_per_s,
    };

    let mut rows = Vec::new();
    let mut kinds = vec![Kind::LdTower, Kind::Floor];
    if peer.is_some() {
        kinds.push(Kind::Original);
    }
    for kind in kinds {
        for use_tls in [false, true] {
            if kind == Kind::Floor && use_tls {
                continue;
            }
            let mut args: Vec<String> = vec!["serve".into(), "--framed".into()];
            let (program, what) = match (kind, &peer) {
                (Kind::Floor, _) => {
                    args = vec![FLOOR_SERVER.into()];
                    (std::env::current_exe()?, "the bare tokio server")
                }
                (Kind::Original, Some((python, _))) => {
                    args.splice(0..0, ["-m".to_owned(), "je_load_density".to_owned()]);
                    args.extend([
                        "--host".into(),
                        "127.0.0.1".into(),
                        "--port".into(),
                        free_port()?.to_string(),
                    ]);
                    (python.clone(), "the original server")
                }
                _ => {
                    args.extend([
                        "--host".into(),
                        "127.0.0.1".into(),
                        "--port".into(),
                        "0".into(),
                        "--max-connections".into(),
                        "4096".into(),
                    ]);
                    (PathBuf::from(LD_TOWER), "ld-tower")
                }
            };
            if kind != Kind::Floor {
                args.extend(["--token".into(), token.clone()]);
            }
            if use_tls {
                args.extend([
                    "--tls-cert".into(),
                    tls.cert.display().to_string(),
                    "--tls-key".into(),
                    tls.key.display().to_string(),
                ]);
            }
            let transport = if use_tls { "TLS" } else { "plain" };
            eprintln!("[{}] starting {transport} server", kind.name());
            let mut server = match ServerProcess::start(&program, &args, placement.pin, what) {
                Ok(server) => server,
                Err(e) if kind == Kind::Original => {
                    println!("  original {transport} server failed to start: {e}");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let target = Arc::new(Target {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, server.port)),
                tls: use_tls.then(|| (tls.connector.clone(), server_name.clone())),
                frame: frame.clone(),
            });
            let keeps = match keeps_connections(&target).await {
                Ok(keeps) => keeps,
                Err(e) if kind == Kind::Original => {
                    println!("  original {transport} server does not answer: {e}");
                    continue;
                }
                Err(e) => return Err(format!("ld-tower {transport}: {e}").into()),
            };
            for mode in [Mode::PerConnection, Mode::Kept] {
                let reconnects = mode == Mode::Kept && !keeps;
                // Another process busy on our cores disturbs the figures:
                // run again, keep the quietest run.
                let mut best: Option<Row> = None;
                for attempt in 1..=options.attempts {
                    eprintln!("[{}] {transport} {mode:?} (run {attempt})", kind.name());
                    let mut row = bench
                        .run_scenario(&mut server, kind, &target, mode, reconnects)
                        .await?;
                    row.runs = attempt;
                    let noise = |row: &Row| row.other_load().map_or(0.0, |[a, b]| a.max(b));
                    let quiet = noise(&row) <= NOISE_LIMIT;
                    if best.as_ref().is_none_or(|best| noise(&row) < noise(best)) {
                        best = Some(row);
                    }
                    if quiet {
                        break;
                    }
                }
                rows.extend(best);
            }
            drop(server);
        }
    }

    print_table(&rows);
    match &peer {
        Some((_, version)) => print_ratios(&rows, version),
        None => println!("\n(the original is not installed: no ratios)"),
    }
    print_notes(&rows);
    Ok(())
}
