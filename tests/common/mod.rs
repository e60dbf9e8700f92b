//! What the integration tests share: a real `ld-tower serve` process or an
//! in-process server task on port 0, TLS material from an rcgen CA, raw
//! clients that see the exact bytes.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

pub mod browser;
pub mod child;
pub mod figures;
pub mod framed;
pub mod mtls;
pub mod target;
pub mod through;
pub mod tokens;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use child::Child;
use ld_tower::acceptor::{PlainAcceptor, TlsAcceptor};
use ld_tower::actions::Registry;
use ld_tower::codec::Framing;
use ld_tower::control::Control;
use ld_tower::paths::Paths;
use ld_tower::server::{Limits, Server};
use ld_tower::stack::ControlStack;
use ld_tower::state::State;
use ld_tower_layers::Tokens;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// The terminator.
pub const END: &[u8] = b"Return_Data_Over_JE\n";

/// How long any wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- actions in process

/// A control whose actions' file paths are confined to `root`, as a served
/// server's are to its working directory.
pub fn confined(root: &Path) -> Control {
    Control::with_state(Registry::with_builtins(), State::new(Paths::confined(root)))
}

/// Runs `actions`; the reply's result lines (the terminator checked and removed).
pub async fn run_lines(control: &Control, actions: &Value) -> Vec<String> {
    let reply = control.run(actions).await;
    let pieces = reply.pieces();
    assert_eq!(
        pieces.last().map(|p| &p[..]),
        Some(END),
        "reply ends with the terminator"
    );
    pieces[..pieces.len() - 1]
        .iter()
        .map(|p| {
            let line = std::str::from_utf8(p).expect("utf-8 line");
            line.strip_suffix('\n').expect("one line").to_owned()
        })
        .collect()
}

/// A result line as JSON; fails, showing the line, when it is an error.
pub fn parse(line: &str) -> Value {
    assert!(!line.starts_with("Error:"), "action failed: {line}");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Runs one action; its result line.
pub async fn run_one(control: &Control, action: Value) -> String {
    let lines = run_lines(control, &json!([action])).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.into_iter().next().expect("one line")
}

// ---------------------------------------------------------------- processes

/// A running `ld-tower serve` process; killed when dropped.
pub struct ServeProcess {
    child: Child,
    pub port: u16,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ld-tower")
}

/// Starts `ld-tower serve ARGS --port 0` (unless ARGS name a port) and
/// waits for its `Server started on` line.
pub fn serve(args: &[&str]) -> ServeProcess {
    serve_with_env(args, &[])
}

pub fn serve_with_env(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
    serve_command(Command::new(bin()), None, args, env)
}

/// Starts `ld-tower serve ARGS --port 0` with `work` as its working
/// directory (where a confined server's paths start), `env` added to its
/// environment.
pub fn serve_in(work: &Path, args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
    serve_command(Command::new(bin()), Some(work), args, env)
}

/// Starts `ld-tower serve ARGS --port 0` with its open-file limit, soft and
/// hard, set to `open_files` (by the shell's `ulimit -n`, then `exec`: the
/// process keeps its pid).
pub fn serve_with_open_files(open_files: u64, args: &[&str]) -> ServeProcess {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n {open_files} && exec \"$0\" \"$@\""))
        .arg(bin());
    serve_command(cmd, None, args, &[])
}

/// Runs `cmd serve ARGS --port 0` (in `work` if given, else in the tests'
/// own working directory) and waits for its `Server started on` line.
fn serve_command(
    mut cmd: Command,
    work: Option<&Path>,
    args: &[&str],
    env: &[(&str, &str)],
) -> ServeProcess {
    if let Some(work) = work {
        cmd.current_dir(work);
    }
    cmd.arg("serve").args(args);
    if !args.contains(&"--port") {
        cmd.args(["--port", "0"]);
    }
    cmd.env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Child::spawn("ld-tower serve", &mut cmd).unwrap_or_else(|e| panic!("{e}"));
    let port = child
        .announced_port(DEADLINE)
        .unwrap_or_else(|e| panic!("{e}"));
    ServeProcess { child, port }
}

impl ServeProcess {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Waits for the process to exit (within `within`), returning its status
    /// and the rest of its stdout.
    pub fn wait_exit(&mut self, within: Duration) -> (ExitStatus, Vec<String>) {
        let status = self
            .child
            .wait_until(Instant::now() + within, Duration::from_millis(10), |_| {})
            .unwrap_or_else(|e| panic!("server still running after {within:?}: {e}"));
        (status, self.child.rest_of_stdout(Duration::from_secs(2)))
    }

    /// A `/proc/PID/status` figure of the server, in KiB (`VmRSS`: now;
    /// `VmHWM`: its peak so far).
    pub fn status_kib(&self, key: &str) -> u64 {
        proc_status_kib(self.pid(), key)
            .unwrap_or_else(|| panic!("no {key} in /proc/{}/status", self.pid()))
    }

    /// One legacy request: all the server sends back before it closes.
    pub fn legacy(&self, request: &str) -> String {
        String::from_utf8(legacy(self.port, request.as_bytes())).expect("utf-8 reply")
    }

    /// One legacy request's result lines, its terminator checked and
    /// removed.
    #[allow(dead_code)]
    pub fn legacy_lines(&self, request: &str) -> Result<Vec<String>, String> {
        let reply = self.legacy(request);
        let mut lines: Vec<String> = reply.lines().map(str::to_owned).collect();
        if lines.pop().as_deref() != Some("Return_Data_Over_JE") {
            return Err(format!("no terminator: {reply}"));
        }
        Ok(lines)
    }

    pub fn stderr(&self) -> String {
        self.child.stderr()
    }

    /// Waits for a stdout line after `Server started on` that `matches`
    /// accepts (lines before it are consumed), within the tests' deadline.
    pub fn line<T>(&mut self, what: &str, matches: impl FnMut(&str) -> Option<T>) -> T {
        self.child
            .wait_for_line(DEADLINE, what, matches)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Descriptors the process holds open now.
    pub fn open_descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|entries| entries.count())
            .unwrap_or(0)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }
}

/// One legacy request over a std socket: all the server sends back.
pub fn legacy(port: u16, request: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    tcp.write_all(request).expect("write");
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).expect("read");
    out
}

/// Runs `ld-tower ARGS` to completion: (status, stdout, stderr).
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String, String) {
    cli(None, args, env)
}

/// Runs `ld-tower ARGS` to completion in `dir`: (status, stdout, stderr).
pub fn run_cli_in<S: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[S],
) -> (ExitStatus, String, String) {
    cli(Some(dir), args, &[])
}

fn cli<S: AsRef<std::ffi::OsStr>>(
    dir: Option<&Path>,
    args: &[S],
    env: &[(&str, &str)],
) -> (ExitStatus, String, String) {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().expect("run ld-tower");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `actions` (written to `DIR/actions.json`) by `ld-tower run --json
/// --no-progress ARGS` in `dir`: its exit code and its stdout lines, one
/// per action.
pub fn run_actions_in(dir: &Path, actions: &[Value], args: &[&str]) -> (Option<i32>, Vec<String>) {
    let file = dir.join("actions.json");
    std::fs::write(&file, json!({"load_density": actions}).to_string()).expect("writes");
    let out = Command::new(bin())
        .current_dir(dir)
        .args(["run", "--json", "--no-progress"])
        .args(args)
        .arg(&file)
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run ld-tower");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines.len(),
        actions.len(),
        "one line per action: {lines:#?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), lines)
}

pub(crate) use child::proc_status_kib;

// ---------------------------------------------------------------- TLS material

/// A CA, and a leaf for `localhost` and 127.0.0.1 signed by it, as PEM files.
pub struct TlsFiles {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_der: CertificateDer<'static>,
    pub cert_der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

pub fn tls_files() -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ld-tower test CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    // httpbin.org: the host of LoadDensity's project template, which the
    // engine tests serve locally (`--connect-to`) to run it unchanged.
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_owned(), "httpbin.org".to_owned()])
            .expect("leaf params");
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf cert");
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write pem");
        path
    };
    TlsFiles {
        ca: write("ca.pem", ca.pem()),
        cert: write("cert.pem", leaf.pem()),
        key: write("key.pem", leaf_key.serialize_pem()),
        ca_der: ca.der().clone(),
        cert_der: leaf.der().clone(),
        key_der: leaf_key.serialize_der(),
        dir,
    }
}

impl TlsFiles {
    pub fn acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::try_from(self.key_der.clone()).expect("key der");
        TlsAcceptor::from_der(vec![self.cert_der.clone()], key).expect("tls acceptor")
    }

    /// A rustls server configuration presenting the leaf: TLS 1.2 and 1.3,
    /// no client certificate, no ALPN.
    pub fn server_config(&self) -> rustls::ServerConfig {
        let key = PrivateKeyDer::try_from(self.key_der.clone()).expect("key der");
        rustls::ServerConfig::builder_with_provider(ld_tower::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .expect("server config")
    }

    pub fn connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("root");
        let provider = ld_tower::tls::provider();
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

// ---------------------------------------------------------------- in-process servers

/// Options of an in-process server.
#[derive(Clone, Default)]
pub struct Options {
    pub framing: Framing,
    pub tokens: Vec<&'static str>,
    pub limits: Option<Limits>,
    pub command_timeout: Option<Duration>,
    pub max_request_bytes: Option<usize>,
    pub tls: bool,
}

/// A server task on 127.0.0.1:0.
pub struct InProcess {
    pub addr: SocketAddr,
    pub control: Control,
    pub handle: JoinHandle<std::io::Result<()>>,
    pub tls: Option<Arc<TlsFiles>>,
    stop: tokio_util::sync::CancellationToken,
}

impl InProcess {
    /// Begins shutdown (as SIGTERM would).
    pub fn shutdown(&self) {
        self.stop.cancel();
    }

    /// A raw connection, through TLS when the server serves it.
    pub async fn connect(&self) -> Box<dyn Io> {
        connect(self.addr, self.tls.as_deref()).await
    }
}

pub async fn start(options: Options) -> InProcess {
    start_with(options, Control::default()).await
}

pub async fn start_with(options: Options, control: Control) -> InProcess {
    let listener = ld_tower::server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tokens =
        (!options.tokens.is_empty()).then(|| Tokens::new(&options.tokens).expect("tokens"));
    let stack = ControlStack::new()
        .tokens(tokens)
        .command_timeout(options.command_timeout)
        .max_request_bytes(
            options
                .max_request_bytes
                .unwrap_or(ld_tower::protocol::MAX_REQUEST_BYTES),
        );
    let stop = tokio_util::sync::CancellationToken::new();
    let quit = control.quit_signal();
    let stop2 = stop.clone();
    let state = control.state().clone();
    let shutdown = async move {
        tokio::select! {
            () = quit.cancelled() => {}
            () = stop2.cancelled() => {}
        }
        state.begin_shutdown();
    };
    let limits = options.limits.unwrap_or_default();
    let tls = options.tls.then(|| Arc::new(tls_files()));
    let handle = match &tls {
        Some(files) => {
            let server = Server::new(listener, files.acceptor())
                .framing(options.framing)
                .limits(limits);
            tokio::spawn(server.serve(stack, control.clone(), shutdown))
        }
        None => {
            let server = Server::new(listener, PlainAcceptor)
                .framing(options.framing)
                .limits(limits);
            tokio::spawn(server.serve(stack, control.clone(), shutdown))
        }
    };
    InProcess {
        addr,
        control,
        handle,
        tls,
        stop,
    }
}

// ---------------------------------------------------------------- raw clients

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub async fn connect(addr: SocketAddr, tls: Option<&TlsFiles>) -> Box<dyn Io> {
    let tcp = tokio::time::timeout(DEADLINE, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    match tls {
        None => Box::new(tcp),
        Some(files) => {
            let name = ServerName::try_from("localhost").expect("name");
            Box::new(
                tokio::time::timeout(DEADLINE, files.connector().connect(name, tcp))
                    .await
                    .expect("handshake in time")
                    .expect("handshake"),
            )
        }
    }
}

/// `body` as a frame.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Pieces as the server writes them in a framing.
pub fn wire(framing: Framing, pieces: &[&[u8]]) -> Vec<u8> {
    match framing {
        Framing::Framed => pieces.iter().flat_map(|p| frame(p)).collect(),
        Framing::Legacy => pieces.concat(),
    }
}

/// Everything until the server closes, within the deadline.
pub async fn read_all(io: &mut (impl AsyncRead + Unpin + ?Sized)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let read = async {
        loop {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .expect("server closed in time");
    out
}

/// Exactly `n` bytes, within the deadline.
pub async fn read_exact(io: &mut (impl AsyncRead + Unpin + ?Sized), n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    tokio::time::timeout(DEADLINE, io.read_exact(&mut out))
        .await
        .expect("reply in time")
        .expect("reply bytes");
    out
}

/// Sends `bytes`, closes our side (a framed connection stays open until
/// the client closes) and returns all the server sends before it closes.
pub async fn exchange(
    io: &mut (impl AsyncRead + AsyncWrite + Unpin + ?Sized),
    bytes: &[u8],
) -> Vec<u8> {
    io.write_all(bytes).await.expect("write");
    io.shutdown().await.expect("shutdown");
    read_all(io).await
}

/// The reply line of `LD_clear_records`.
pub const CLEARED: &[u8] = b"{\"status\":\"cleared\"}\n";

/// Sends a framed `[["LD_clear_records"]]` on `io` and asserts its exact
/// reply: the connection is still served.
pub async fn assert_clears(io: &mut (impl AsyncRead + AsyncWrite + Unpin + ?Sized)) {
    io.write_all(&frame(br#"[["LD_clear_records"]]"#))
        .await
        .expect("write");
    let want = wire(Framing::Framed, &[CLEARED, END]);
    assert_eq!(read_exact(io, want.len()).await, want);
}

/// Closes the connection with a reset (SO_LINGER 0) instead of a FIN.
#[allow(deprecated)] // tokio warns that a lingering close blocks; a zero linger does not.
pub fn reset(tcp: TcpStream) {
    let _ = tcp.set_linger(Some(Duration::ZERO));
    drop(tcp);
}

/// A threshold verdict, as a test writes one down.
pub fn verdict(
    scope: &str,
    metric: &str,
    limit: f64,
    actual: f64,
    passed: bool,
) -> ld_tower::thresholds::Verdict {
    ld_tower::thresholds::Verdict {
        scope: scope.into(),
        metric: metric.into(),
        limit,
        actual,
        passed,
    }
}
