//! The servers under test: ld-tower, the bare tokio floor and the Python
//! original, each a real process on core 0 behind the shared child guard.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::child::Child;
use crate::support::{free_port, Placement};
use crate::{Result, LD_TOWER, START_TIMEOUT, WORKSPACE};

/// Which server a process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `ld-tower serve --framed`.
    LdTower,
    /// A bare tokio server that reads a frame and writes a fixed reply: the
    /// least any tokio server pays on this machine (kernel, runtime).
    Floor,
    /// `python -m je_load_density serve --framed`.
    Original,
}

impl Kind {
    /// Its name in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::LdTower => "ld-tower",
            Kind::Floor => "bare tokio",
            Kind::Original => "original",
        }
    }
}

/// The bare tokio server ([`Kind::Floor`]): the same runtime, listener and
/// framing as ld-tower, no parsing, no stack, a fixed reply.
pub(crate) fn floor_server() -> Result<()> {
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

/// The program, arguments and description of a `kind` server (the
/// original run by `python`), with its `--token`, and TLS from `tls`'s
/// certificate and key files when given.
pub(crate) fn server_command(
    kind: Kind,
    python: Option<&Path>,
    tls: Option<(&Path, &Path)>,
    token: &str,
) -> Result<(PathBuf, Vec<String>, &'static str)> {
    let mut args: Vec<String> = vec!["serve".into(), "--framed".into()];
    let (program, what) = match kind {
        Kind::Floor => {
            return Ok((
                std::env::current_exe()?,
                vec!["--floor-server".into()],
                "the bare tokio server",
            ))
        }
        Kind::Original => {
            let python = python.ok_or("the original is not installed")?;
            args.splice(0..0, ["-m".to_owned(), "je_load_density".to_owned()]);
            args.extend([
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                free_port()?.to_string(),
            ]);
            (python.to_owned(), "the original server")
        }
        Kind::LdTower => {
            args.extend(
                [
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--max-connections",
                    "4096",
                ]
                .map(String::from),
            );
            (PathBuf::from(LD_TOWER), "ld-tower")
        }
    };
    args.extend(["--token".into(), token.to_owned()]);
    if let Some((cert, key)) = tls {
        args.extend([
            "--tls-cert".into(),
            cert.display().to_string(),
            "--tls-key".into(),
            key.display().to_string(),
        ]);
    }
    Ok((program, args, what))
}

/// A running server process and the port it announced; killed when
/// dropped.
#[derive(Debug)]
pub(crate) struct Server {
    /// The process.
    pub(crate) proc: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Server {
    /// Starts `program args` (on core 0 when pinning) and waits for its
    /// `Server started on HOST:PORT` line; `what` names it in errors.
    pub(crate) fn start(
        program: &Path,
        args: &[String],
        placement: &Placement,
        what: &str,
    ) -> Result<Self> {
        let mut command = placement.command(0, program);
        command.args(args).env("PYTHONUNBUFFERED", "1");
        let mut proc = Child::spawn(what, &mut command)?;
        let port = proc.announced_port(START_TIMEOUT)?;
        Ok(Server { proc, port })
    }
}

/// The python that can import `je_load_density`, and its version.
pub(crate) fn find_peer_python() -> (Option<(PathBuf, String)>, Vec<String>) {
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
    let mut command = std::process::Command::new(program);
    command.args(args);
    let mut child = Child::spawn("python", &mut command)?;
    let status = child
        .wait_until(Instant::now() + limit, Duration::from_millis(20), |_| {})
        .map_err(|_| format!("no answer within {limit:?}"))?;
    if !status.success() {
        return Err(format!("cannot import je_load_density ({status})"));
    }
    Ok(child.rest_of_stdout(Duration::from_secs(2)).join("\n"))
}
